//! Sending a request to the Cloud API and turning its failures into the
//! errors the host acts on. Errors are Graph's
//! `{"error":{"message","type","code","error_data":{"details"},"error_subcode","fbtrace_id"}}`,
//! and WhatsApp's codes say more than the statuses
//! (<https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes>).

use serde::Deserialize;
use socialcrm_sdk::http::{MIN_RETRY_AFTER_MS, Request, Response};
use socialcrm_sdk::{PluginError, RateLimit, ResultExt};

/// More than 24 hours since the customer last wrote: free text is refused.
pub const REENGAGEMENT: i64 = 131_047;

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
    error_data: Option<ErrorData>,
    is_transient: Option<bool>,
    fbtrace_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorData {
    details: Option<String>,
}

/// Sends `request`; every failure becomes the error the host acts on, its
/// message saying `what` was being done.
pub fn call(request: Request, what: &str) -> Result<Response, PluginError> {
    let response = request.send().context(what)?;
    if (200..300).contains(&response.status) {
        return Ok(response);
    }
    Err(failure(&response, what))
}

pub fn failure(response: &Response, what: &str) -> PluginError {
    let Ok(GraphError { error }) = serde_json::from_slice::<GraphError>(&response.body) else {
        let message = format!("{what}: HTTP {}: {}", response.status, response.excerpt());
        return by_status(response, None, message);
    };
    let message = format!(
        "{what}: HTTP {}: {}{} (type {}, code {}{}, fbtrace_id {})",
        response.status,
        error.message.as_deref().unwrap_or("no message"),
        error
            .error_data
            .and_then(|d| d.details)
            .map(|d| format!(": {d}"))
            .unwrap_or_default(),
        error.kind.as_deref().unwrap_or("?"),
        error.code.map_or_else(|| "?".into(), |c| c.to_string()),
        error.error_subcode.map(|s| format!("/{s}")).unwrap_or_default(),
        error.fbtrace_id.as_deref().unwrap_or("?"),
    );
    match error.code {
        Some(REENGAGEMENT) => PluginError::Permanent(format!(
            "{message}; the 24-hour customer-service window is closed: WhatsApp takes only an approved \
             template message until the customer writes again"
        )),
        // Template errors: the name or language does not exist, the parameters do not fit, it is paused.
        Some(132_000..=132_999) => PluginError::Permanent(format!(
            "{message}; the template was refused: check its name, language and parameters against the \
             approved templates"
        )),
        // An invalid, expired or revoked token; an app user that cannot be authenticated.
        Some(0 | 190) => PluginError::Unauthorized(message),
        // A permission the token lacks holds for every message of the account.
        Some(code) if code == 10 || (200..=299).contains(&code) => PluginError::Unauthorized(format!(
            "{message}; the token lacks a permission: give the system user whatsapp_business_messaging and \
             whatsapp_business_management"
        )),
        Some(code @ (4 | 80_007 | 130_429 | 131_048 | 131_056)) => PluginError::RateLimited(RateLimit {
            retry_after_ms: wait_ms(response, Some(code)),
            message,
        }),
        Some(100) => PluginError::Permanent(message),
        _ if error.is_transient == Some(true) => PluginError::Transient(message),
        code => by_status(response, code, message),
    }
}

/// The error of a status alone. Other 4xx (a 403 among them: a number in a
/// country the account may not message, a blocked recipient) are about this
/// message, not the account.
fn by_status(response: &Response, code: Option<i64>, message: String) -> PluginError {
    match response.status {
        401 => PluginError::Unauthorized(message),
        429 => PluginError::RateLimited(RateLimit {
            retry_after_ms: wait_ms(response, code),
            message,
        }),
        408 | 500..=599 => PluginError::Transient(message),
        _ => PluginError::Permanent(message),
    }
}

/// How long to wait after a throttle: the usage header's time to regain
/// access, else `Retry-After`, else what the limit is counted over; at least
/// a second.
fn wait_ms(response: &Response, code: Option<i64>) -> u64 {
    let counted_over = match code {
        // Messages per second of the business number.
        Some(130_429) => 5_000,
        // Messages to one customer: about one every 6 seconds.
        Some(131_056) => 10_000,
        // Quality-based and account limits, counted per hour or day.
        Some(131_048 | 80_007) => 10 * 60_000,
        _ => socialcrm_sdk::http::DEFAULT_RETRY_AFTER_MS,
    };
    regain_ms(response)
        .or_else(|| response.retry_after_ms())
        .unwrap_or(counted_over)
        .max(MIN_RETRY_AFTER_MS)
}

/// The longest `estimated_time_to_regain_access` (minutes) of the
/// `X-Business-Use-Case-Usage` header, in milliseconds, when above zero.
fn regain_ms(response: &Response) -> Option<u64> {
    #[derive(Deserialize)]
    struct Usage {
        estimated_time_to_regain_access: Option<u64>,
    }
    let header = response.header("x-business-use-case-usage")?;
    let usage: std::collections::HashMap<String, Vec<Usage>> = serde_json::from_str(header).ok()?;
    let minutes = usage
        .values()
        .flatten()
        .filter_map(|u| u.estimated_time_to_regain_access)
        .max()?;
    (minutes > 0).then(|| minutes.saturating_mul(60_000))
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

    fn graph(code: i64, message: &str, details: &str) -> String {
        serde_json::json!({"error": {"message": message, "type": "OAuthException", "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details}, "fbtrace_id": "AbC"}})
        .to_string()
    }

    fn rate(e: &PluginError) -> Option<u64> {
        match e {
            PluginError::RateLimited(r) => Some(r.retry_after_ms),
            _ => None,
        }
    }

    #[test]
    fn a_closed_window_says_a_template_is_needed() {
        let body = graph(
            131_047,
            "(#131047) Re-engagement message",
            "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
        );
        let e = failure(&response(400, &[], &body), "sending the message");
        assert!(
            matches!(&e, PluginError::Permanent(m) if m.starts_with("sending the message: HTTP 400: (#131047) Re-engagement message: Message failed")
                && m.contains("code 131047") && m.contains("window is closed") && m.contains("template")),
            "{e:?}"
        );
    }

    #[test]
    fn template_errors_name_the_template() {
        for (code, title) in [
            (132_000, "Number of parameters does not match"),
            (132_001, "Template name does not exist in the translation"),
        ] {
            let e = failure(
                &response(400, &[], &graph(code, title, "")),
                "sending the template `order_update` (en_US)",
            );
            assert!(
                matches!(&e, PluginError::Permanent(m) if m.contains("`order_update` (en_US)") && m.contains(title) && m.contains("template was refused")),
                "{e:?}"
            );
        }
    }

    #[test]
    fn throttles_wait_for_what_they_count() {
        let throttled =
            |code, headers: &[(&str, &str)]| rate(&failure(&response(400, headers, &graph(code, "m", "")), "x"));
        assert_eq!(throttled(130_429, &[]), Some(5_000));
        assert_eq!(throttled(131_056, &[]), Some(10_000));
        assert_eq!(throttled(131_048, &[]), Some(600_000));
        assert_eq!(throttled(80_007, &[]), Some(600_000));
        assert_eq!(throttled(4, &[]), Some(60_000));
        assert_eq!(throttled(130_429, &[("retry-after", "7")]), Some(7_000));
        let usage =
            r#"{"102290129340398":[{"type":"whatsapp_business_management","estimated_time_to_regain_access":3}]}"#;
        assert_eq!(
            throttled(80_007, &[("x-business-use-case-usage", usage)]),
            Some(180_000)
        );
        assert_eq!(throttled(130_429, &[("retry-after", "0")]), Some(MIN_RETRY_AFTER_MS));
        assert_eq!(rate(&failure(&response(429, &[], "slow down"), "x")), Some(60_000));
    }

    #[test]
    fn tokens_and_permissions_pause_the_account() {
        for code in [0, 190, 10, 200, 299] {
            let e = failure(&response(400, &[], &graph(code, "m", "")), "x");
            assert!(matches!(e, PluginError::Unauthorized(_)), "{code}: {e:?}");
        }
        assert!(matches!(
            failure(&response(401, &[], ""), "x"),
            PluginError::Unauthorized(_)
        ));
    }

    #[test]
    fn the_rest_by_code_then_status() {
        let e = failure(&response(400, &[], &graph(100, "(#100) Invalid parameter", "")), "x");
        assert!(matches!(e, PluginError::Permanent(_)));
        // A restriction on this recipient is not the account's.
        let e = failure(
            &response(403, &[], &graph(130_497, "Business account is restricted", "")),
            "x",
        );
        assert!(matches!(e, PluginError::Permanent(_)), "{e:?}");
        let e = failure(&response(500, &[], &graph(131_000, "Something went wrong", "")), "x");
        assert!(matches!(e, PluginError::Transient(_)));
        let transient = r#"{"error":{"message":"An unexpected error has occurred. Please retry your request later.","type":"OAuthException","is_transient":true,"code":2,"fbtrace_id":"A"}}"#;
        assert!(matches!(
            failure(&response(400, &[], transient), "x"),
            PluginError::Transient(_)
        ));
        assert!(matches!(
            failure(&response(503, &[], "<html>"), "x"),
            PluginError::Transient(_)
        ));
        assert!(
            matches!(failure(&response(404, &[], "<html>"), "x"), PluginError::Permanent(m) if m.contains("<html>"))
        );
    }
}
