//! Stripe's REST API (<https://docs.stripe.com/api>), pinned to [`VERSION`]
//! by the `Stripe-Version` header, the secret key attached by the host as
//! `Authorization: Bearer`. A read that meets a 429 or a 5xx is retried with
//! exponential backoff as Stripe advises, while the call's budget of
//! requests and waiting lasts; then it fails as rate-limited or transient.
//! Other statuses map to the host's reactions (401 and 403 pause the account).

use serde::Deserialize;
use serde::de::DeserializeOwned;
use socialcrm_sdk::http::{MIN_RETRY_AFTER_MS, Request, Response};
use socialcrm_sdk::{PluginError, RateLimit, ResultExt};

/// The API version every request names; a new version is a new plugin release.
pub const VERSION: &str = "2024-06-20";

/// Stripe's API when `api-url` is not set.
pub const DEFAULT_BASE: &str = "https://api.stripe.com";

/// Requests one pull may send, retries included: the manifest's `max-requests`.
pub const MAX_REQUESTS: u32 = 20;

/// Retries of one read after a 429 or 5xx, waiting 250 ms, 500 ms, 1 s.
const RETRIES: u32 = 3;
const FIRST_BACKOFF_MS: u64 = 250;
/// Time one pull may spend waiting between retries (the call has 10 s).
const MAX_WAIT_MS: u64 = 4_000;
/// How long the host waits after 429s the retries did not outlast, when
/// Stripe sends no `Retry-After` (its limits are per second).
pub const RATE_LIMIT_WAIT_MS: u64 = 30_000;

/// A list (`object: "list"`): a page of `data`, and whether more follow.
#[derive(Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
}

/// The client of one pull: where to send, and what is left of its budget.
pub struct Client {
    base: String,
    requests_left: u32,
    wait_left_ms: u64,
}

impl Client {
    pub fn new(base: String) -> Client {
        Client {
            base,
            requests_left: MAX_REQUESTS,
            wait_left_ms: MAX_WAIT_MS,
        }
    }

    /// Requests this pull may still send.
    pub fn requests_left(&self) -> u32 {
        self.requests_left
    }

    /// `GET path?query` as JSON; `what` names the step in errors.
    pub fn get<T: DeserializeOwned>(
        &mut self,
        path: &str,
        query: &[(&str, String)],
        what: &str,
    ) -> Result<T, PluginError> {
        let response = self.read(path, query, what)?;
        finish(response).context(what)
    }

    /// Like [`Client::get`], `None` for a 404 (an object that is gone).
    pub fn find<T: DeserializeOwned>(&mut self, path: &str, what: &str) -> Result<Option<T>, PluginError> {
        let response = self.read(path, &[], what)?;
        if response.status == 404 {
            return Ok(None);
        }
        finish(response).context(what).map(Some)
    }

    /// The response to `GET path?query`, retried after a 429 or 5xx while
    /// the budget lasts.
    fn read(&mut self, path: &str, query: &[(&str, String)], what: &str) -> Result<Response, PluginError> {
        let mut attempt = 0;
        loop {
            let response = self.send(path, query).context(what)?;
            let backoff = FIRST_BACKOFF_MS << attempt;
            if !retryable(&response) || attempt == RETRIES || self.requests_left == 0 || backoff > self.wait_left_ms {
                return Ok(response);
            }
            self.wait_left_ms -= backoff;
            sleep_ms(backoff);
            attempt += 1;
        }
    }

    fn send(&mut self, path: &str, query: &[(&str, String)]) -> Result<Response, PluginError> {
        let Some(left) = self.requests_left.checked_sub(1) else {
            return Err(PluginError::Transient(
                "the pull used its requests up; the next pull goes on".into(),
            ));
        };
        self.requests_left = left;
        let mut request = Request::get(format!("{}{path}", self.base)).header("Stripe-Version", VERSION);
        for (name, value) in query {
            request = request.query(name, value);
        }
        Ok(request.send()?)
    }
}

/// A 429 or 5xx that Stripe does not say is final (`Stripe-Should-Retry: false`).
fn retryable(response: &Response) -> bool {
    let status = response.status == 429 || (500..=599).contains(&response.status);
    status && response.header("stripe-should-retry") != Some("false")
}

#[derive(Deserialize)]
struct ErrorBody {
    error: StripeError,
}

#[derive(Deserialize)]
struct StripeError {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}

/// The body of a 2xx as JSON; otherwise the host's reaction, with Stripe's
/// own error message (`{"error": {"type", "message"}}`) when it sent one.
fn finish<T: DeserializeOwned>(response: Response) -> Result<T, PluginError> {
    if (200..=299).contains(&response.status) {
        return response.json();
    }
    let message = match response.json::<ErrorBody>() {
        Ok(ErrorBody { error }) => format!(
            "HTTP {}: {} ({})",
            response.status,
            error.message.unwrap_or_default(),
            error.kind.unwrap_or_default()
        ),
        Err(_) => format!("HTTP {}: {}", response.status, response.excerpt()),
    };
    Err(match response.status {
        401 | 403 => PluginError::Unauthorized(message),
        429 => PluginError::RateLimited(RateLimit {
            retry_after_ms: response
                .retry_after_ms()
                .unwrap_or(RATE_LIMIT_WAIT_MS)
                .max(MIN_RETRY_AFTER_MS),
            message,
        }),
        408 | 409 | 500..=599 => PluginError::Transient(message),
        _ => PluginError::Permanent(message),
    })
}

#[cfg(target_arch = "wasm32")]
fn sleep_ms(ms: u64) {
    wasi::clocks::monotonic_clock::subscribe_duration(ms.saturating_mul(1_000_000)).block();
}

#[cfg(not(target_arch = "wasm32"))]
fn sleep_ms(ms: u64) {
    std::thread::sleep(std::time::Duration::from_millis(ms));
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

    #[test]
    fn statuses_map_to_the_hosts_reactions_with_stripes_message() {
        let body =
            r#"{"error": {"type": "invalid_request_error", "message": "Invalid API Key provided: sk_test_****"}}"#;
        let err = finish::<serde_json::Value>(response(401, &[], body)).err();
        assert!(
            matches!(&err, Some(PluginError::Unauthorized(m)) if m.contains("Invalid API Key")),
            "{err:?}"
        );
        let limited = finish::<serde_json::Value>(response(429, &[], "{}")).err();
        assert!(
            matches!(&limited, Some(PluginError::RateLimited(r)) if r.retry_after_ms == RATE_LIMIT_WAIT_MS),
            "{limited:?}"
        );
        let told = finish::<serde_json::Value>(response(429, &[("Retry-After", "3")], "{}")).err();
        assert!(matches!(&told, Some(PluginError::RateLimited(r)) if r.retry_after_ms == 3_000));
        assert!(matches!(
            finish::<serde_json::Value>(response(502, &[], "bad gateway")),
            Err(PluginError::Transient(_))
        ));
        assert!(matches!(
            finish::<serde_json::Value>(response(404, &[], body)),
            Err(PluginError::Permanent(_))
        ));
    }

    #[test]
    fn only_429_and_5xx_are_retried_unless_stripe_says_not_to() {
        assert!(retryable(&response(429, &[], "")));
        assert!(retryable(&response(503, &[], "")));
        assert!(!retryable(&response(500, &[("Stripe-Should-Retry", "false")], "")));
        assert!(!retryable(&response(400, &[], "")));
        assert!(!retryable(&response(401, &[], "")));
    }
}
