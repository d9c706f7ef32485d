//! A small blocking HTTP client over `wasi:http/outgoing-handler`, with JSON
//! and form bodies, the usual mapping of statuses to [`PluginError`]s, and
//! readers of what networks answer: rate-limit waits, `Link` pages, query values.
//!
//! The host allows only the manifest's hosts and attaches the account's
//! credential itself: never set `Authorization` for a host-managed credential.
//! To send a secret in a login call, write `{{secret.NAME}}` in a header or
//! body and name the secret with [`Request::fill_secrets`]: the host fills the
//! placeholders of the secrets a request names, in that request only.

mod link;

use std::time::UNIX_EPOCH;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use link::link;

use crate::time;
use crate::types::{PluginError, RateLimit};

/// How long to wait after a 429 that says nothing of when to come back.
pub const DEFAULT_RETRY_AFTER_MS: u64 = 60_000;
/// The shortest wait [`Response::rate_limit_wait_ms`] gives, whatever the
/// headers say: the network's clock and the host's differ.
pub const MIN_RETRY_AFTER_MS: u64 = 1_000;
/// How much of a body an error message quotes, in characters.
const EXCERPT_CHARS: usize = 300;

/// An HTTP request under construction.
#[derive(Clone, Debug)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// A response with its body read in full.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Why a request got no response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The host refused it: the host is not allowed, or the call made too many requests.
    Denied(String),
    /// The request could not be built (a bad URL or header).
    Invalid(String),
    /// Network, TLS or protocol failure on the way.
    Network(String),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Denied(m) => write!(f, "request refused by the host: {m}"),
            Error::Invalid(m) => write!(f, "invalid request: {m}"),
            Error::Network(m) => write!(f, "network error: {m}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for PluginError {
    fn from(e: Error) -> Self {
        match e {
            Error::Network(_) => PluginError::Transient(e.to_string()),
            Error::Denied(_) | Error::Invalid(_) => PluginError::Permanent(e.to_string()),
        }
    }
}

impl Request {
    pub fn new(method: &str, url: impl Into<String>) -> Request {
        Request {
            method: method.to_ascii_uppercase(),
            url: url.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    pub fn get(url: impl Into<String>) -> Request {
        Request::new("GET", url)
    }

    pub fn post(url: impl Into<String>) -> Request {
        Request::new("POST", url)
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Lets the host fill the `{{secret.NAME}}` placeholders of these secrets in
    /// this request (a login call), in the places the manifest's `secret-fill`
    /// gives for its origin and path (any other request asking is refused).
    /// Requests that do not ask get nothing filled, so text the plugin relays
    /// can never draw a secret out.
    pub fn fill_secrets(self, names: &[&str]) -> Request {
        self.header("x-socialcrm-fill-secrets", names.join(","))
    }

    /// Appends `name=value` to the URL's query, percent-encoded.
    pub fn query(mut self, name: &str, value: &str) -> Request {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        self.url = format!("{}{sep}{}={}", self.url, encode(name), encode(value));
        self
    }

    /// A JSON body.
    pub fn json<T: Serialize + ?Sized>(self, body: &T) -> Result<Request, Error> {
        let bytes = serde_json::to_vec(body).map_err(|e| Error::Invalid(e.to_string()))?;
        Ok(self.header("content-type", "application/json").body(bytes))
    }

    /// An `application/x-www-form-urlencoded` body.
    pub fn form(self, pairs: &[(&str, &str)]) -> Request {
        let body = pairs
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        self.header("content-type", "application/x-www-form-urlencoded")
            .body(body.into_bytes())
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = body.into();
        self
    }

    pub fn method(&self) -> &str {
        &self.method
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Sends the request and reads the whole response.
    pub fn send(self) -> Result<Response, Error> {
        wasi_send(self)
    }
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The URL of the `Link` header's link with relation `rel` (RFC 8288),
    /// as written: a relative one is left to the caller to resolve.
    pub fn link(&self, rel: &str) -> Option<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("link"))
            .find_map(|(_, v)| link(v, rel))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The start of the body, trimmed, for an error message.
    pub fn excerpt(&self) -> String {
        self.text().trim().chars().take(EXCERPT_CHARS).collect()
    }

    /// The body as JSON; a malformed body is a `permanent` error naming what failed.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, PluginError> {
        serde_json::from_slice(&self.body)
            .map_err(|e| PluginError::Permanent(format!("malformed response body (HTTP {}): {e}", self.status)))
    }

    /// `Ok(self)` for a 2xx; otherwise the error the host should act on:
    /// 401/403 unauthorized, 429 rate-limited (after `Retry-After`), 5xx and
    /// 408 transient, other statuses permanent.
    pub fn error_for_status(self) -> Result<Response, PluginError> {
        let detail = || format!("HTTP {}: {}", self.status, self.excerpt());
        match self.status {
            200..=299 => Ok(self),
            401 | 403 => Err(PluginError::Unauthorized(detail())),
            429 => Err(PluginError::RateLimited(RateLimit {
                retry_after_ms: self.retry_after_ms().unwrap_or(DEFAULT_RETRY_AFTER_MS),
                message: detail(),
            })),
            408 | 500..=599 => Err(PluginError::Transient(detail())),
            _ => Err(PluginError::Permanent(detail())),
        }
    }

    /// `Retry-After` in milliseconds: seconds, or an HTTP-date counted from
    /// now (RFC 9110, section 10.2.3).
    pub fn retry_after_ms(&self) -> Option<u64> {
        self.retry_after_ms_at(time::now_millis())
    }

    fn retry_after_ms_at(&self, now_millis: i64) -> Option<u64> {
        let value = self.header("retry-after")?.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(seconds.saturating_mul(1000));
        }
        let date = httpdate::parse_http_date(value).ok()?;
        let millis = date.duration_since(UNIX_EPOCH).ok()?.as_millis();
        Some(time::wait_ms(i64::try_from(millis).ok()?, now_millis))
    }

    /// How long from `now_millis` until the time header `name` names, in Unix
    /// seconds (X's `x-rate-limit-reset`, Bluesky's `ratelimit-reset`) or ISO
    /// 8601 (Mastodon's `X-RateLimit-Reset`); 0 once it has passed.
    pub fn reset_wait_ms(&self, name: &str, now_millis: i64) -> Option<u64> {
        let value = self.header(name)?.trim();
        let reset = match value.parse::<u64>() {
            Ok(seconds) => i64::try_from(seconds).ok()?.checked_mul(1000)?,
            Err(_) => time::parse_iso8601(value)?,
        };
        Some(time::wait_ms(reset, now_millis))
    }

    /// How long to wait after a rate limit: `reset_ms` (what the network's
    /// own headers say) when known, else `Retry-After`, else
    /// [`DEFAULT_RETRY_AFTER_MS`]; never under [`MIN_RETRY_AFTER_MS`].
    pub fn rate_limit_wait_ms(&self, reset_ms: Option<u64>) -> u64 {
        reset_ms
            .or_else(|| self.retry_after_ms())
            .unwrap_or(DEFAULT_RETRY_AFTER_MS)
            .max(MIN_RETRY_AFTER_MS)
    }
}

/// The origin of `url`, `http(s)://host[:port]` with the scheme lower-cased;
/// `None` for another scheme, no host, or anything after the host but a `/`.
pub fn origin(url: &str) -> Option<String> {
    let (scheme, host) = url.trim_end_matches('/').split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let valid =
        (scheme == "https" || scheme == "http") && !host.is_empty() && !host.contains(['/', '?', '#', '@', ' ']);
    valid.then(|| format!("{scheme}://{host}"))
}

/// The first value of `name` in a query string (`a=1&b=2`, without the `?`),
/// percent-decoded as a form is (`+` is a space).
pub fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .find(|(k, _)| decode(k) == name)
        .map(|(_, v)| decode(v))
}

/// Undoes [`encode`], and a form's `+` for a space; a `%` not followed by two
/// hex digits stays as it is, bytes that are not UTF-8 become U+FFFD.
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match (bytes[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(hi), Some(lo)) => {
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Splits `scheme://authority/path?query`.
fn split_url(url: &str) -> Result<(&str, &str, &str), Error> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| Error::Invalid(format!("`{url}` has no scheme")))?;
    let path_at = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(path_at);
    if authority.is_empty() {
        return Err(Error::Invalid(format!("`{url}` has no host")));
    }
    Ok((scheme, authority, path))
}

#[cfg(target_arch = "wasm32")]
fn wasi_send(request: Request) -> Result<Response, Error> {
    use wasi::http::outgoing_handler;
    use wasi::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
    use wasi::io::streams::StreamError;

    let (scheme, authority, path) = split_url(&request.url)?;
    let entries: Vec<(String, Vec<u8>)> = request
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.as_bytes().to_vec()))
        .collect();
    let headers = Fields::from_list(&entries).map_err(|e| Error::Invalid(format!("headers: {e:?}")))?;
    let outgoing = OutgoingRequest::new(headers);
    let method = match request.method.as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "HEAD" => Method::Head,
        other => Method::Other(other.to_string()),
    };
    let scheme = match scheme {
        "https" => Scheme::Https,
        "http" => Scheme::Http,
        other => Scheme::Other(other.to_string()),
    };
    let invalid = |what: &str| Error::Invalid(format!("{what} of `{}`", request.url));
    outgoing.set_method(&method).map_err(|()| invalid("method"))?;
    outgoing.set_scheme(Some(&scheme)).map_err(|()| invalid("scheme"))?;
    outgoing
        .set_authority(Some(authority))
        .map_err(|()| invalid("authority"))?;
    outgoing
        .set_path_with_query(Some(if path.is_empty() { "/" } else { path }))
        .map_err(|()| invalid("path"))?;
    let body = outgoing.body().map_err(|()| invalid("body"))?;

    let denied_or_network = |e: ErrorCode| match e {
        ErrorCode::HttpRequestDenied | ErrorCode::DestinationIpProhibited => Error::Denied(format!("{e:?}")),
        other => Error::Network(format!("{other:?}")),
    };
    let pending = outgoing_handler::handle(outgoing, None).map_err(denied_or_network)?;
    {
        let stream = body.write().map_err(|()| invalid("body stream"))?;
        // wasi:io allows at most 4096 bytes per blocking write.
        for chunk in request.body.chunks(4096) {
            stream
                .blocking_write_and_flush(chunk)
                .map_err(|e| Error::Network(format!("writing body: {e:?}")))?;
        }
    }
    OutgoingBody::finish(body, None).map_err(denied_or_network)?;

    pending.subscribe().block();
    let incoming = match pending.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(e))) => return Err(denied_or_network(e)),
        Some(Err(())) | None => return Err(Error::Network("the response was lost".into())),
    };
    let status = incoming.status();
    let headers = incoming
        .headers()
        .entries()
        .into_iter()
        .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
        .collect();
    let body_handle = incoming
        .consume()
        .map_err(|()| Error::Network("response body taken".into()))?;
    let stream = body_handle
        .stream()
        .map_err(|()| Error::Network("response stream taken".into()))?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 << 10) {
            Ok(chunk) => bytes.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(Error::Network(format!("reading body: {}", e.to_debug_string())));
            }
        }
    }
    Ok(Response {
        status,
        headers,
        body: bytes,
    })
}

#[cfg(not(target_arch = "wasm32"))]
fn wasi_send(request: Request) -> Result<Response, Error> {
    // Plugin code runs in the host; natively there is no wasi:http to call.
    // Test plugins with the `testkit` feature, which runs the built component.
    split_url(&request.url)?;
    Err(Error::Network(
        "HTTP is only available inside the socialcrm host (see socialcrm_sdk::testkit)".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_builds_queries() {
        assert_eq!(encode("types[]"), "types%5B%5D");
        assert_eq!(encode("a b&c=é"), "a%20b%26c%3D%C3%A9");
        let r = Request::get("https://x.org/api")
            .query("types[]", "mention")
            .query("limit", "40");
        assert_eq!(r.url(), "https://x.org/api?types%5B%5D=mention&limit=40");
    }

    #[test]
    fn splits_urls() {
        assert_eq!(
            split_url("https://x.org:8443/a?b=1").unwrap(),
            ("https", "x.org:8443", "/a?b=1")
        );
        assert_eq!(split_url("http://x.org").unwrap(), ("http", "x.org", ""));
        assert!(split_url("x.org/a").is_err());
        assert!(split_url("https:///a").is_err());
    }

    fn response(status: u16, headers: &[(&str, &str)]) -> Response {
        Response {
            status,
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: b"{\"error\":\"nope\"}".to_vec(),
        }
    }

    #[test]
    fn maps_statuses() {
        assert!(response(204, &[]).error_for_status().is_ok());
        assert!(
            matches!(response(401, &[]).error_for_status(), Err(PluginError::Unauthorized(m)) if m.contains("nope"))
        );
        assert!(matches!(
            response(429, &[("Retry-After", "7")]).error_for_status(),
            Err(PluginError::RateLimited(RateLimit {
                retry_after_ms: 7000,
                ..
            }))
        ));
        assert!(matches!(
            response(503, &[]).error_for_status(),
            Err(PluginError::Transient(_))
        ));
        assert!(matches!(
            response(404, &[]).error_for_status(),
            Err(PluginError::Permanent(_))
        ));
        assert!(
            matches!(response(200, &[]).json::<Vec<u8>>(), Err(PluginError::Permanent(m)) if m.contains("malformed"))
        );
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now = 1_795_428_000_000; // 2026-11-23T10:00:00Z, a Monday
        let wait = |value: &str| response(429, &[("Retry-After", value)]).retry_after_ms_at(now);
        assert_eq!(wait("120"), Some(120_000));
        assert_eq!(wait(" 0 "), Some(0));
        assert_eq!(wait("Mon, 23 Nov 2026 10:01:30 GMT"), Some(90_000));
        assert_eq!(
            wait("Monday, 23-Nov-26 10:01:30 GMT"),
            Some(90_000),
            "RFC 850, obsolete"
        );
        assert_eq!(wait("Mon Nov 23 10:01:30 2026"), Some(90_000), "asctime, obsolete");
        assert_eq!(wait("Mon, 23 Nov 2026 09:00:00 GMT"), Some(0), "a date passed");
        for bad in ["soon", "-5", "1.5", "2026-11-23T10:01:30Z", ""] {
            assert_eq!(wait(bad), None, "{bad}");
        }
        assert_eq!(response(429, &[]).retry_after_ms_at(now), None);
        let far = response(429, &[("Retry-After", "Fri, 01 Jan 2100 00:00:00 GMT")]);
        assert!(
            far.retry_after_ms().is_some_and(|ms| ms > 60_000),
            "counted from the clock"
        );
    }

    #[test]
    fn reset_headers_are_unix_seconds_or_iso_8601() {
        let now = 1_795_428_000_000;
        let wait = |value: &str| response(429, &[("X-RateLimit-Reset", value)]).reset_wait_ms("x-ratelimit-reset", now);
        assert_eq!(wait("1795428090"), Some(90_000));
        assert_eq!(wait("1795427000"), Some(0), "a reset passed");
        assert_eq!(wait("2026-11-23T10:01:30.000000Z"), Some(90_000));
        assert_eq!(wait("2026-11-23T09:58:30Z"), Some(0));
        for bad in ["soon", "-5", "99999999999999999999"] {
            assert_eq!(wait(bad), None, "{bad}");
        }
        assert_eq!(response(429, &[]).reset_wait_ms("x-ratelimit-reset", now), None);
    }

    #[test]
    fn rate_limit_waits_prefer_the_reset_and_never_go_under_a_second() {
        let limited = |headers: &[(&str, &str)], reset| response(429, headers).rate_limit_wait_ms(reset);
        assert_eq!(limited(&[("Retry-After", "5")], Some(90_000)), 90_000);
        assert_eq!(limited(&[("Retry-After", "5")], None), 5_000);
        assert_eq!(limited(&[("Retry-After", "0")], Some(0)), MIN_RETRY_AFTER_MS);
        assert_eq!(limited(&[], None), DEFAULT_RETRY_AFTER_MS);
    }

    #[test]
    fn reads_links_across_link_headers() {
        let r = response(
            200,
            &[
                ("Link", "<https://x.org/a?max_id=1>; rel=\"next\""),
                ("link", "<https://x.org/a?min_id=9>; rel=\"prev\""),
            ],
        );
        assert_eq!(r.link("next"), Some("https://x.org/a?max_id=1"));
        assert_eq!(r.link("prev"), Some("https://x.org/a?min_id=9"));
        assert_eq!(response(200, &[]).link("next"), None);
    }

    #[test]
    fn excerpts_keep_whole_characters() {
        let mut r = response(500, &[]);
        r.body = format!("  {}é{}", "a".repeat(299), "b".repeat(50)).into_bytes();
        assert_eq!(r.excerpt(), format!("{}é", "a".repeat(299)));
        assert!(
            matches!(r.error_for_status(), Err(PluginError::Transient(m)) if m == format!("HTTP 500: {}é", "a".repeat(299)))
        );
    }

    #[test]
    fn origins_are_a_scheme_and_a_host() {
        assert_eq!(
            origin("https://mastodon.social/").as_deref(),
            Some("https://mastodon.social")
        );
        assert_eq!(
            origin("HTTP://127.0.0.1:8080").as_deref(),
            Some("http://127.0.0.1:8080")
        );
        for bad in [
            "mastodon.social",
            "ftp://x.org",
            "https://",
            "https://x.org/api",
            "https://u@x.org",
            "https://x.org?a",
            "https://x.org#a",
            "https://x .org",
        ] {
            assert_eq!(origin(bad), None, "{bad}");
        }
    }

    #[test]
    fn decodes_query_params() {
        let query = "hub.mode=subscribe&hub.verify%5Ftoken=a%2Bb+c&crc_token=x%zz&empty";
        assert_eq!(query_param(query, "hub.mode").as_deref(), Some("subscribe"));
        assert_eq!(query_param(query, "hub.verify_token").as_deref(), Some("a+b c"));
        assert_eq!(query_param(query, "crc_token").as_deref(), Some("x%zz"));
        assert_eq!(query_param(query, "empty").as_deref(), Some(""));
        assert_eq!(query_param(query, "missing"), None);
        assert_eq!(
            query_param(
                "hub.challenge=1158201444&hub.verify_token=a%20b%2Bc",
                "hub.verify_token"
            )
            .as_deref(),
            Some("a b+c")
        );
        assert_eq!(
            query_param("hub%2Emode=subscribe", "hub.mode").as_deref(),
            Some("subscribe")
        );
        assert_eq!(
            query_param("nonce=1&crc_token=a%2Bb%3D+c", "crc_token").as_deref(),
            Some("a+b= c")
        );
        assert_eq!(query_param("crc_token", "crc_token").as_deref(), Some(""));
        assert_eq!(decode(&encode("a b&c=é/~")), "a b&c=é/~");
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("%FF"), "\u{FFFD}");
    }
}
