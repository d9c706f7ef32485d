//! XRPC calls to the account's PDS with a session: signing in with the app
//! password (a placeholder the host fills), refreshing the session when the
//! access token expires, and XRPC errors mapped to what the host acts on.
//!
//! The session tokens are short-lived values the network hands back; they
//! live in the account's key-value store, so most calls sign in no more.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use socialcrm_sdk::http::{Request, Response};
use socialcrm_sdk::{PluginError, RateLimit, ResultExt, context, kv, log, time};

use crate::settings::Settings;

const SESSION_KEY: &str = "session";
/// XRPC error names that mean the token, not the request, is wrong.
const TOKEN_ERRORS: [&str; 4] = ["ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"];

/// What `createSession` and `refreshSession` answer, kept with the
/// settings it was made for so a changed account signs in afresh.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    access_jwt: String,
    refresh_jwt: String,
    pub did: String,
    pub handle: String,
    #[serde(default)]
    service: String,
    #[serde(default)]
    identifier: String,
}

/// An XRPC error body, `{"error": NAME, "message": TEXT}`.
#[derive(Debug, Default, Deserialize)]
struct XrpcError {
    error: Option<String>,
    message: Option<String>,
}

/// How a response went.
enum Outcome {
    Ok(Response),
    /// The token was refused: renewing the session may help.
    Token(String),
    Failed(PluginError),
}

pub struct Client<'a> {
    settings: &'a Settings,
    session: Option<Session>,
}

impl<'a> Client<'a> {
    /// A client with the stored session, when it was made for these settings.
    pub fn new(settings: &'a Settings) -> Client<'a> {
        let session = kv::get(SESSION_KEY)
            .and_then(|bytes| serde_json::from_slice::<Session>(&bytes).ok())
            .filter(|s| s.service == settings.service && s.identifier == settings.identifier);
        Client { settings, session }
    }

    /// The session, signing in when there is none.
    pub fn session(&mut self) -> Result<&Session, PluginError> {
        if self.session.is_none() {
            self.sign_in()?;
        }
        self.session
            .as_ref()
            .ok_or_else(|| PluginError::Transient("no session after signing in".into()))
    }

    /// `com.atproto.server.createSession` with the app password, which only the host sees.
    pub fn sign_in(&mut self) -> Result<(), PluginError> {
        const WHAT: &str = "signing in";
        // The password is a placeholder the host fills on the way out.
        let body = format!(
            r#"{{"identifier":{},"password":"{{{{secret.app-password}}}}"}}"#,
            json_string(&self.settings.identifier)
        );
        let request = Request::post(self.url("com.atproto.server.createSession"))
            .header("content-type", "application/json")
            .fill_secrets(&["app-password"])
            .body(body);
        let response = match outcome(request.send().context(WHAT)?) {
            Outcome::Ok(response) => response,
            Outcome::Token(detail) => return Err(PluginError::Unauthorized(format!("{WHAT}: {detail}"))),
            // A refused sign-in (wrong password, taken-down account) needs the admin.
            Outcome::Failed(PluginError::Permanent(detail)) => {
                return Err(PluginError::Unauthorized(format!("{WHAT}: {detail}")));
            }
            Outcome::Failed(e) => return Err(context(e, WHAT)),
        };
        self.keep(response.json().context(WHAT)?)?;
        log::info(&format!("signed in to {}", self.settings.service));
        Ok(())
    }

    /// `com.atproto.server.refreshSession`; `false` when the refresh token is refused too.
    fn refresh(&mut self) -> Result<bool, PluginError> {
        const WHAT: &str = "refreshing the session";
        let Some(session) = &self.session else {
            return Ok(false);
        };
        let request = Request::post(self.url("com.atproto.server.refreshSession"))
            .header("authorization", format!("Bearer {}", session.refresh_jwt));
        match outcome(request.send().context(WHAT)?) {
            Outcome::Ok(response) => {
                self.keep(response.json().context(WHAT)?)?;
                Ok(true)
            }
            Outcome::Token(detail) | Outcome::Failed(PluginError::Permanent(detail)) => {
                log::info(&format!("{WHAT}: {detail}; signing in again"));
                Ok(false)
            }
            Outcome::Failed(e) => Err(context(e, WHAT)),
        }
    }

    fn keep(&mut self, mut session: Session) -> Result<(), PluginError> {
        if session.access_jwt.is_empty() || session.did.is_empty() {
            return Err(PluginError::Permanent(
                "the server answered a session without a token or DID".into(),
            ));
        }
        session.service = self.settings.service.clone();
        session.identifier = self.settings.identifier.clone();
        let bytes = serde_json::to_vec(&session).map_err(|e| PluginError::Permanent(e.to_string()))?;
        kv::set(SESSION_KEY, &bytes).map_err(|e| PluginError::Permanent(format!("keeping the session: {e}")))?;
        self.session = Some(session);
        Ok(())
    }

    /// `GET /xrpc/NSID?query`, parsed.
    pub fn query<T: DeserializeOwned>(
        &mut self,
        nsid: &str,
        query: &[(&str, &str)],
        what: &str,
    ) -> Result<T, PluginError> {
        let url = query
            .iter()
            .fold(Request::get(self.url(nsid)), |r, (k, v)| r.query(k, v))
            .url()
            .to_string();
        self.authed(|| Request::get(url.clone()), what)?.json().context(what)
    }

    /// `POST /xrpc/NSID` with a JSON body, parsed.
    pub fn procedure<T: DeserializeOwned>(
        &mut self,
        nsid: &str,
        body: &serde_json::Value,
        what: &str,
    ) -> Result<T, PluginError> {
        let body = escape_placeholders(&body.to_string());
        let url = self.url(nsid);
        let response = self.authed(
            || {
                Request::post(url.clone())
                    .header("content-type", "application/json")
                    .body(body.clone())
            },
            what,
        )?;
        response.json().context(what)
    }

    /// Sends with the access token; when the token is refused, renews the
    /// session once (refresh, else sign in) and tries again.
    fn authed(&mut self, request: impl Fn() -> Request, what: &str) -> Result<Response, PluginError> {
        let mut renewed = self.session.is_none();
        loop {
            let token = self.session()?.access_jwt.clone();
            let response = request()
                .header("authorization", format!("Bearer {token}"))
                .send()
                .context(what)?;
            match outcome(response) {
                Outcome::Ok(response) => return Ok(response),
                Outcome::Token(detail) if renewed => {
                    return Err(PluginError::Unauthorized(format!("{what}: {detail}")));
                }
                Outcome::Token(detail) => {
                    log::debug(&format!("{what}: {detail}; renewing the session"));
                    if !self.refresh()? {
                        self.sign_in()?;
                    }
                    renewed = true;
                }
                Outcome::Failed(e) => return Err(context(e, what)),
            }
        }
    }

    fn url(&self, nsid: &str) -> String {
        format!("{}/xrpc/{nsid}", self.settings.service)
    }
}

/// Sorts a response into success, a refused token, or the error the host acts on.
fn outcome(response: Response) -> Outcome {
    if (200..300).contains(&response.status) {
        return Outcome::Ok(response);
    }
    let body: XrpcError = serde_json::from_slice(&response.body).unwrap_or_default();
    let detail = {
        let text = match (&body.error, &body.message) {
            (Some(e), Some(m)) => format!("{e}: {m}"),
            (Some(e), None) => e.clone(),
            (None, Some(m)) => m.clone(),
            (None, None) => response.excerpt(),
        };
        format!("HTTP {} {text}", response.status)
    };
    let token_error = body.error.as_deref().is_some_and(|e| TOKEN_ERRORS.contains(&e));
    match response.status {
        429 => Outcome::Failed(PluginError::RateLimited(RateLimit {
            retry_after_ms: retry_after_ms(&response, time::now_millis()),
            message: detail,
        })),
        401 => Outcome::Token(detail),
        400 if token_error => Outcome::Token(detail),
        403 => Outcome::Failed(PluginError::Unauthorized(detail)),
        408 | 500..=599 => Outcome::Failed(PluginError::Transient(detail)),
        _ => Outcome::Failed(PluginError::Permanent(detail)),
    }
}

/// How long to wait after a 429: until `ratelimit-reset` (Unix seconds), else
/// as [`Response::rate_limit_wait_ms`] says.
fn retry_after_ms(response: &Response, now_millis: i64) -> u64 {
    response.rate_limit_wait_ms(response.reset_wait_ms("ratelimit-reset", now_millis))
}

fn json_string(text: &str) -> String {
    escape_placeholders(&serde_json::Value::from(text).to_string())
}

/// JSON text in which no `{{secret.NAME}}` placeholder survives: the host fills
/// placeholders in every body, and a reply quoting one must not publish the
/// secret. `{` is escaped as `\u007b`, which only strings can hold: a JSON
/// object opens with `{"` or `{}`, never `{{`.
fn escape_placeholders(json: &str) -> String {
    json.replace("{{", "\\u007b\\u007b")
}

#[cfg(test)]
mod tests {
    use socialcrm_sdk::http::{DEFAULT_RETRY_AFTER_MS, MIN_RETRY_AFTER_MS};

    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn failed(r: Response) -> PluginError {
        match outcome(r) {
            Outcome::Failed(e) => e,
            Outcome::Ok(_) => panic!("ok"),
            Outcome::Token(d) => panic!("token: {d}"),
        }
    }

    #[test]
    fn maps_xrpc_errors() {
        assert!(matches!(outcome(response(200, &[], "{}")), Outcome::Ok(_)));
        assert!(matches!(
            outcome(response(400, &[], r#"{"error":"ExpiredToken","message":"Token has expired"}"#)),
            Outcome::Token(d) if d == "HTTP 400 ExpiredToken: Token has expired"
        ));
        assert!(matches!(
            outcome(response(401, &[], r#"{"error":"AuthenticationRequired"}"#)),
            Outcome::Token(_)
        ));
        assert!(matches!(
            failed(response(400, &[], r#"{"error":"InvalidRequest","message":"bad cursor"}"#)),
            PluginError::Permanent(m) if m == "HTTP 400 InvalidRequest: bad cursor"
        ));
        assert!(matches!(
            failed(response(403, &[], r#"{"error":"Forbidden"}"#)),
            PluginError::Unauthorized(_)
        ));
        assert!(matches!(
            failed(response(502, &[], "<html>Bad Gateway</html>")),
            PluginError::Transient(m) if m == "HTTP 502 <html>Bad Gateway</html>"
        ));
    }

    #[test]
    fn rate_limits_wait_for_the_reset() {
        let now = 1_795_428_000_000;
        let limited =
            |headers: &[(&str, &str)]| retry_after_ms(&response(429, headers, r#"{"error":"RateLimitExceeded"}"#), now);
        assert_eq!(
            limited(&[("ratelimit-reset", "1795428090"), ("retry-after", "5")]),
            90_000
        );
        assert_eq!(
            limited(&[("ratelimit-reset", "1795427000")]),
            MIN_RETRY_AFTER_MS,
            "a reset in the past"
        );
        assert_eq!(limited(&[("ratelimit-reset", "soon"), ("retry-after", "7")]), 7_000);
        assert_eq!(limited(&[]), DEFAULT_RETRY_AFTER_MS);
        assert!(matches!(
            failed(response(429, &[("RateLimit-Reset", "4102444800")], r#"{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}"#)),
            PluginError::RateLimited(r) if r.message.contains("RateLimitExceeded") && r.retry_after_ms > 60_000
        ));
    }

    #[test]
    fn no_placeholder_survives_in_a_body() {
        let body = serde_json::json!({"text": "leak {{secret.app-password}} {{{x}}}"}).to_string();
        let escaped = escape_placeholders(&body);
        assert!(!escaped.contains("{{"), "{escaped}");
        let back: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(back["text"], "leak {{secret.app-password}} {{{x}}}");
        assert_eq!(json_string("brand.bsky.social"), r#""brand.bsky.social""#);
    }
}
