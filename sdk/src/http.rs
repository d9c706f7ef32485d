//! A small blocking HTTP client over `wasi:http/outgoing-handler`, with JSON
//! and form bodies and the usual mapping of statuses to [`PluginError`]s.
//!
//! The host allows only the manifest's hosts and attaches the account's
//! credential itself: never set `Authorization` for a host-managed credential.
//! To send a secret in a login call, write `{{secret.NAME}}` in a header or
//! body and name the secret with [`Request::fill_secrets`]: the host fills the
//! placeholders of the secrets a request names, in that request only.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::types::{PluginError, RateLimit};

/// How long to wait after a 429 that says nothing of when to come back.
const DEFAULT_RETRY_AFTER_MS: u64 = 60_000;

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

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
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
        let detail = || {
            let mut text = self.text();
            text.truncate(300);
            format!("HTTP {}: {}", self.status, text.trim())
        };
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

    /// `Retry-After` in milliseconds, when given in seconds.
    pub fn retry_after_ms(&self) -> Option<u64> {
        self.header("retry-after")?
            .trim()
            .parse::<u64>()
            .ok()
            .map(|s| s.saturating_mul(1000))
    }
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
}
