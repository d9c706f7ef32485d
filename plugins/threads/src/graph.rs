//! Sending a request to the Threads Graph API and turning its failures into
//! the errors the host acts on. Graph errors are
//! `{"error":{"message","type","code","error_subcode","fbtrace_id"}}`, and their
//! code says more than the status (an expired token comes in a 400).

use serde::Deserialize;
use socialcrm_sdk::http::{MIN_RETRY_AFTER_MS, Request, Response};
use socialcrm_sdk::{PluginError, RateLimit, ResultExt};

/// The wait after a throttle that names none. Threads counts calls over a
/// rolling 24 hours and documents no reset header, so a minute is too eager.
pub const DEFAULT_RETRY_MS: u64 = 10 * 60_000;

/// Whether a request reads or writes: a permission refused means another thing for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Read,
    Write,
}

/// A failed call: the error for the host, and Graph's code when it sent one.
#[derive(Debug)]
pub struct Failure {
    pub error: PluginError,
    pub code: Option<i64>,
}

impl Failure {
    /// A permission the token lacks (`(#10)`, or a `2xx`-range permission code).
    pub fn is_permission(&self) -> bool {
        self.code.is_some_and(is_permission)
    }

    /// The message, whatever the kind.
    pub fn message(&self) -> &str {
        match &self.error {
            PluginError::InvalidConfig(m)
            | PluginError::Unauthorized(m)
            | PluginError::Transient(m)
            | PluginError::Permanent(m) => m,
            PluginError::RateLimited(r) => &r.message,
        }
    }
}

impl From<Failure> for PluginError {
    fn from(f: Failure) -> Self {
        f.error
    }
}

fn is_permission(code: i64) -> bool {
    code == 10 || (200..=299).contains(&code)
}

#[derive(Debug, Default, Deserialize)]
struct GraphError {
    error: ErrorDetail,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorDetail {
    message: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<i64>,
    error_subcode: Option<i64>,
    error_user_msg: Option<String>,
    is_transient: Option<bool>,
    fbtrace_id: Option<String>,
}

/// Sends `request`; every failure becomes the error the host acts on, its
/// message saying `what` was being done.
pub fn call(request: Request, what: &str, side: Side) -> Result<Response, Failure> {
    let response = request
        .send()
        .context(what)
        .map_err(|error| Failure { error, code: None })?;
    if (200..300).contains(&response.status) {
        return Ok(response);
    }
    Err(failure(&response, what, side))
}

fn failure(response: &Response, what: &str, side: Side) -> Failure {
    let Ok(GraphError { error }) = serde_json::from_slice::<GraphError>(&response.body) else {
        let message = format!("{what}: HTTP {}: {}", response.status, response.excerpt());
        return Failure {
            error: by_status(response, message),
            code: None,
        };
    };
    let message = format!(
        "{what}: HTTP {}: {}{} (type {}, code {}{}, fbtrace_id {})",
        response.status,
        error.message.as_deref().unwrap_or("no message"),
        error
            .error_user_msg
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default(),
        error.kind.as_deref().unwrap_or("?"),
        error.code.map_or_else(|| "?".into(), |c| c.to_string()),
        error.error_subcode.map(|s| format!("/{s}")).unwrap_or_default(),
        error.fbtrace_id.as_deref().unwrap_or("?"),
    );
    let error = match error.code {
        Some(190) => PluginError::Unauthorized(message),
        Some(4 | 17 | 32 | 613) => PluginError::RateLimited(RateLimit {
            retry_after_ms: wait_ms(response),
            message,
        }),
        Some(code) if is_permission(code) => match side {
            Side::Read => PluginError::Unauthorized(format!(
                "{message}; the token lacks a permission this needs: authorize the app again with it"
            )),
            // Writing, a refused permission is about this post (a reply the thread does not allow).
            Side::Write => PluginError::Permanent(message),
        },
        _ if error.is_transient == Some(true) => PluginError::Transient(message),
        _ => by_status(response, message),
    };
    Failure {
        error,
        code: error_code(response),
    }
}

fn error_code(response: &Response) -> Option<i64> {
    serde_json::from_slice::<GraphError>(&response.body).ok()?.error.code
}

/// The error of a status alone.
fn by_status(response: &Response, message: String) -> PluginError {
    match response.status {
        401 | 403 => PluginError::Unauthorized(message),
        429 => PluginError::RateLimited(RateLimit {
            retry_after_ms: wait_ms(response),
            message,
        }),
        408 | 500..=599 => PluginError::Transient(message),
        _ => PluginError::Permanent(message),
    }
}

/// `Retry-After` when the answer has one, else [`DEFAULT_RETRY_MS`]; at least a second.
fn wait_ms(response: &Response) -> u64 {
    response
        .retry_after_ms()
        .unwrap_or(DEFAULT_RETRY_MS)
        .max(MIN_RETRY_AFTER_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn graph(code: i64, subcode: Option<i64>) -> String {
        serde_json::json!({"error": {"message": "m", "type": "OAuthException", "code": code,
            "error_subcode": subcode, "fbtrace_id": "AbC"}})
        .to_string()
    }

    #[test]
    fn codes_come_before_statuses() {
        let f = failure(
            &response(400, &[], &graph(190, Some(463))),
            "listing mentions",
            Side::Read,
        );
        assert!(
            matches!(&f.error, PluginError::Unauthorized(m) if m == "listing mentions: HTTP 400: m (type OAuthException, code 190/463, fbtrace_id AbC)"),
            "{f:?}"
        );
        for code in [4, 17, 32, 613] {
            let f = failure(&response(400, &[], &graph(code, None)), "x", Side::Read);
            assert!(
                matches!(
                    f.error,
                    PluginError::RateLimited(RateLimit {
                        retry_after_ms: DEFAULT_RETRY_MS,
                        ..
                    })
                ),
                "{code}"
            );
        }
        let f = failure(
            &response(403, &[("retry-after", "7")], &graph(4, None)),
            "x",
            Side::Read,
        );
        assert!(matches!(
            f.error,
            PluginError::RateLimited(RateLimit {
                retry_after_ms: 7000,
                ..
            })
        ));
        let f = failure(&response(403, &[], &graph(10, None)), "searching", Side::Read);
        assert!(f.is_permission());
        assert!(matches!(&f.error, PluginError::Unauthorized(m) if m.contains("lacks a permission")));
        let f = failure(&response(400, &[], &graph(200, None)), "replying", Side::Write);
        assert!(f.is_permission() && matches!(f.error, PluginError::Permanent(_)));
        let f = failure(
            &response(400, &[], &graph(24, Some(4_279_009))),
            "publishing",
            Side::Write,
        );
        assert!(!f.is_permission() && matches!(f.error, PluginError::Permanent(_)));
    }

    #[test]
    fn statuses_without_a_graph_body() {
        let f = failure(&response(429, &[], "slow down"), "x", Side::Read);
        assert!(matches!(
            f.error,
            PluginError::RateLimited(RateLimit {
                retry_after_ms: DEFAULT_RETRY_MS,
                ..
            })
        ));
        assert!(matches!(
            failure(&response(503, &[], ""), "x", Side::Read).error,
            PluginError::Transient(_)
        ));
        assert!(matches!(
            failure(&response(401, &[], ""), "x", Side::Read).error,
            PluginError::Unauthorized(_)
        ));
        assert!(
            matches!(failure(&response(404, &[], "<html>"), "x", Side::Read).error, PluginError::Permanent(m) if m.contains("<html>"))
        );
        let transient = r#"{"error":{"message":"An unexpected error has occurred. Please retry your request later.","type":"OAuthException","is_transient":true,"code":2,"fbtrace_id":"A"}}"#;
        assert!(matches!(
            failure(&response(500, &[], transient), "x", Side::Read).error,
            PluginError::Transient(_)
        ));
    }
}
