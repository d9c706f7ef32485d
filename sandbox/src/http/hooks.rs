//! The `wasi:http` hooks of one call: allowed hosts, the credential, secret
//! placeholders, caps, and the record of every request.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use http_body_util::{BodyExt, Full, Limited};
use serde::Serialize;
use wasmtime_wasi_http::{
    DEFAULT_FORBIDDEN_HEADERS, Error as HttpError, ForbiddenHeaderFilter, RequestOptions, WasiBody, WasiHttpHooks,
};

use super::credential::CredentialRoute;
use super::fill::FillRule;
#[cfg(test)]
use super::fill::SecretFill;
use super::origin::AllowedOrigin;
use super::transport::{HttpRequest, HttpResponse, SendOptions, Transport, TransportError};
use crate::Limits;

/// What one account's calls may reach, and with which credential.
#[derive(Clone, Debug, Default)]
pub struct HttpPolicy {
    pub origins: Vec<AllowedOrigin>,
    /// Which credential goes where (the manifest's rules, expanded).
    pub credentials: Vec<CredentialRoute>,
    pub secrets: BTreeMap<String, String>,
    /// Where the host may fill which secret (the manifest's `secret-fill`).
    pub fills: Vec<FillRule>,
    /// Admin setting: let requests reach loopback and private addresses.
    pub allow_private: bool,
}

/// One outgoing request of a plugin, as an admin sees it in the audit trail.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RequestRecord {
    pub method: String,
    pub scheme: String,
    pub host: String,
    pub port: u16,
    pub path: String,
    pub status: Option<u16>,
    pub request_bytes: usize,
    pub response_bytes: usize,
    pub duration: Duration,
    /// Set when the host refused the request (policy), with the reason.
    pub refused: Option<String>,
    /// Set when the request failed on the way (network, TLS, size cap).
    pub error: Option<String>,
}

pub(crate) struct OutgoingHooks {
    pub policy: Arc<HttpPolicy>,
    pub limits: Limits,
    pub transport: Arc<dyn Transport>,
    pub records: Arc<Mutex<Vec<RequestRecord>>>,
    pub sent: usize,
    /// Response bytes this call has received so far.
    pub received: Arc<AtomicUsize>,
}

type SendFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl OutgoingHooks {
    /// Adds `record`; returns its place, for [`Self::put`].
    fn push(records: &Mutex<Vec<RequestRecord>>, record: RequestRecord) -> usize {
        match records.lock() {
            Ok(mut records) => {
                records.push(record);
                records.len() - 1
            }
            Err(_) => usize::MAX,
        }
    }

    /// Replaces the record at `index` with the request's outcome.
    fn put(records: &Mutex<Vec<RequestRecord>>, index: usize, record: RequestRecord) {
        if let Ok(mut records) = records.lock()
            && let Some(slot) = records.get_mut(index)
        {
            *slot = record;
        }
    }

    fn refusal(&self, scheme: &str, host: &str, port: u16) -> Option<String> {
        if self.sent > self.limits.max_requests {
            return Some(format!("more than {} requests in one call", self.limits.max_requests));
        }
        if !self.policy.origins.iter().any(|o| o.matches(scheme, host, port)) {
            return Some(format!("{scheme}://{host}:{port} is not in the plugin's allowed hosts"));
        }
        None
    }
}

impl WasiHttpHooks for OutgoingHooks {
    fn forbidden_header_filter(&mut self) -> ForbiddenHeaderFilter {
        // The guest may not set a header that carries the credential.
        let credential: Vec<HeaderName> = self
            .policy
            .credentials
            .iter()
            .flat_map(|r| r.credential.header_names())
            .collect();
        Arc::new(move |name| DEFAULT_FORBIDDEN_HEADERS.contains(name) || credential.contains(name))
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> SendFuture {
        self.sent += 1;
        let (parts, body) = request.into_parts();
        let scheme = parts.uri.scheme_str().unwrap_or("https").to_ascii_lowercase();
        let host = parts.uri.host().unwrap_or_default().to_string();
        let port = parts.uri.port_u16().unwrap_or(if scheme == "http" { 80 } else { 443 });
        let mut record = RequestRecord {
            method: parts.method.to_string(),
            scheme: scheme.clone(),
            path: parts.uri.path().to_string(),
            host,
            port,
            status: None,
            request_bytes: 0,
            response_bytes: 0,
            duration: Duration::ZERO,
            refused: None,
            error: None,
        };
        if let Some(reason) = self.refusal(&scheme, &record.host, port) {
            tracing::warn!(host = %record.host, %reason, "plugin request refused");
            record.refused = Some(reason);
            Self::push(&self.records, record);
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        // Recorded now, so a request the call's deadline cuts off is on record
        // too; its outcome replaces this when it has one.
        let cut_off = RequestRecord {
            error: Some(CUT_OFF.into()),
            ..record.clone()
        };
        let index = Self::push(&self.records, cut_off);
        let policy = self.policy.clone();
        let transport = self.transport.clone();
        let records = self.records.clone();
        let limits = self.limits.clone();
        let received = self.received.clone();
        Box::new(async move {
            let start = Instant::now();
            let outcome = async {
                let body = Limited::new(body, limits.max_request_bytes)
                    .collect()
                    .await
                    .map_err(|_| Failure::Error(format!("request body over {} bytes", limits.max_request_bytes)))?
                    .to_bytes();
                let (request, filled) = prepare(parts, body, &policy).map_err(Failure::Refused)?;
                let sent_bytes = request.body.len();
                // One budget for every response the call holds.
                let left = limits
                    .max_call_response_bytes
                    .saturating_sub(received.load(Ordering::Relaxed));
                if left == 0 {
                    let cap = limits.max_call_response_bytes;
                    return Err(Failure::Error(format!(
                        "the responses of this call are over {cap} bytes"
                    )));
                }
                let options = SendOptions {
                    allow_private: policy.allow_private,
                    timeout: limits.request_timeout,
                    max_response_bytes: limits.max_response_bytes.min(left),
                };
                let mut response = transport.send(request, options).await.map_err(|e| match e {
                    TransportError::Refused(why) => Failure::Refused(why),
                    other => Failure::Transport(other),
                })?;
                received.fetch_add(response.body.len(), Ordering::Relaxed);
                scrub_response(&mut response, &filled);
                Ok::<_, Failure>((sent_bytes, response))
            }
            .await;
            record.duration = start.elapsed();
            let result = match outcome {
                Ok((sent_bytes, response)) => {
                    record.request_bytes = sent_bytes;
                    record.status = Some(response.status);
                    record.response_bytes = response.body.len();
                    let mut out = http::Response::new(Full::new(response.body).map_err(HttpError::from).boxed_unsync());
                    *out.status_mut() =
                        http::StatusCode::from_u16(response.status).unwrap_or(http::StatusCode::BAD_GATEWAY);
                    *out.headers_mut() = response.headers;
                    Ok((out, Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>))
                }
                Err(failure) => {
                    let error = failure.to_http_error();
                    match failure {
                        Failure::Refused(why) => record.refused = Some(why),
                        Failure::Error(why) => record.error = Some(why),
                        Failure::Transport(e) => record.error = Some(e.to_string()),
                    }
                    Err(error)
                }
            };
            Self::put(&records, index, record);
            result
        })
    }
}

/// The error of a request still in flight when its call ended.
const CUT_OFF: &str = "no answer before the call ended";

enum Failure {
    Refused(String),
    Error(String),
    Transport(TransportError),
}

impl Failure {
    fn to_http_error(&self) -> HttpError {
        match self {
            Failure::Refused(_) => HttpError::HttpRequestDenied,
            Failure::Error(_) => HttpError::HttpRequestBodySize(None),
            Failure::Transport(e) => match e {
                TransportError::Refused(_) => HttpError::DestinationIpProhibited,
                TransportError::NotFound(_) => HttpError::DestinationNotFound,
                TransportError::Timeout(_) => HttpError::ConnectionTimeout,
                TransportError::Connect(_) => HttpError::ConnectionRefused,
                TransportError::Tls(_) => HttpError::TlsProtocolError,
                TransportError::TooLarge(n) => HttpError::HttpResponseBodySize(Some(*n as u64)),
                TransportError::Protocol(_) => HttpError::HttpProtocolError,
            },
        }
    }
}

/// The request header by which a plugin names the secrets whose placeholders
/// the host fills in that one request (comma-separated). Without it nothing is
/// filled, so text a plugin relays (a reply quoting `{{secret.x}}`) can never
/// draw a secret out. The host removes the header before sending.
pub const FILL_SECRETS_HEADER: &str = "x-socialcrm-fill-secrets";

/// Fills the secret placeholders the request opted into and attaches the
/// credential; returns the request and the secrets it filled.
fn prepare(
    parts: http::request::Parts,
    body: Bytes,
    policy: &HttpPolicy,
) -> Result<(HttpRequest, BTreeMap<String, String>), String> {
    let mut headers = parts.headers;
    let mut body = body;
    let mut filled = BTreeMap::new();
    let scheme = parts.uri.scheme_str().unwrap_or("https");
    let host = parts.uri.host().unwrap_or_default();
    let port = parts.uri.port_u16().unwrap_or(if scheme == "http" { 80 } else { 443 });
    let path = parts.uri.path();
    if let Some(names) = headers.remove(FILL_SECRETS_HEADER) {
        for n in String::from_utf8_lossy(names.as_bytes()).split(',').map(str::trim) {
            if n.is_empty() {
                continue;
            }
            // The credential is attached by the host; filled, it could be
            // sent anywhere the plugin may reach, or echoed back to it.
            if policy.credentials.iter().any(|r| r.reads(n)) {
                return Err(format!("secret `{n}` is the account's credential and is never filled"));
            }
            let rules: Vec<&FillRule> = policy
                .fills
                .iter()
                .filter(|r| r.applies(n, scheme, host, port, path))
                .collect();
            if rules.is_empty() {
                return Err(format!(
                    "secret `{n}` may not be filled in a request to {scheme}://{host}:{port}{path} (no `secret-fill` of the manifest allows it)"
                ));
            }
            let secret = policy
                .secrets
                .get(n)
                .ok_or_else(|| format!("the account has no secret `{n}`"))?;
            for rule in rules {
                body = rule.fill(secret, &mut headers, body)?;
            }
            filled.insert(n.to_string(), secret.clone());
        }
    }
    if let Some(credential) = CredentialRoute::pick(&policy.credentials, scheme, host, port, path) {
        // `insert` replaces every value of the name: a header the plugin
        // managed to set under a credential's name never goes out.
        for (name, value) in credential.headers(&policy.secrets)? {
            headers.insert(name, value);
        }
    }
    if !body.is_empty() || headers.contains_key(http::header::CONTENT_LENGTH) {
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let request = HttpRequest {
        method: parts.method,
        uri: parts.uri,
        headers,
        body,
    };
    Ok((request, filled))
}

/// Puts the placeholder back wherever a filled secret comes back in the
/// response (a server that echoes what it was sent), so the plugin never
/// reads a value it had filled.
fn scrub_response(response: &mut HttpResponse, filled: &BTreeMap<String, String>) {
    for (name, secret) in filled.iter().filter(|(_, s)| !s.is_empty()) {
        let placeholder = format!("{{{{secret.{name}}}}}");
        if let Cow::Owned(body) = replace_all(&response.body, secret.as_bytes(), placeholder.as_bytes()) {
            response.body = Bytes::from(body);
        }
        for value in response.headers.values_mut() {
            if let Cow::Owned(scrubbed) = replace_all(value.as_bytes(), secret.as_bytes(), placeholder.as_bytes()) {
                *value = HeaderValue::from_bytes(&scrubbed).unwrap_or(HeaderValue::from_static(""));
            }
        }
    }
}

fn replace_all<'a>(input: &'a [u8], needle: &[u8], with: &[u8]) -> Cow<'a, [u8]> {
    let Some(first) = find(input, needle) else {
        return Cow::Borrowed(input);
    };
    let mut out = Vec::with_capacity(input.len());
    let (mut rest, mut at) = (input, Some(first));
    while let Some(i) = at {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(with);
        rest = &rest[i + needle.len()..];
        at = find(rest, needle);
    }
    out.extend_from_slice(rest);
    Cow::Owned(out)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Credential;

    fn secrets() -> BTreeMap<String, String> {
        [
            ("password".to_string(), "hunter2".to_string()),
            ("token".to_string(), "t0k".to_string()),
        ]
        .into()
    }

    /// A policy that lets `password` into the JSON field `password` and
    /// `token` into the header `x-token` of https://api.example/login.
    fn policy() -> HttpPolicy {
        let fill = |secret: &str, json: Option<&str>, header: Option<&str>| {
            let fill = SecretFill {
                secret: secret.into(),
                origin: "https://api.example".into(),
                path: "/login".into(),
                header: header.map(str::to_string),
                json: json.map(str::to_string),
                form: None,
            };
            FillRule::expand(&fill, &BTreeMap::new()).unwrap()
        };
        HttpPolicy {
            secrets: secrets(),
            fills: vec![
                fill("password", Some("password"), None),
                fill("token", None, Some("x-token")),
            ],
            ..HttpPolicy::default()
        }
    }

    fn prepare_to(uri: &str, headers: &[(&str, &str)], body: &str) -> Result<HttpRequest, String> {
        let mut request = http::Request::builder().method("POST").uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (parts, ()) = request.body(()).unwrap().into_parts();
        prepare(parts, Bytes::from(body.to_string()), &policy()).map(|(r, _)| r)
    }

    fn prepared(headers: &[(&str, &str)], body: &str) -> HttpRequest {
        prepare_to("https://api.example/login", headers, body).unwrap()
    }

    #[test]
    fn a_secret_goes_only_where_the_manifest_lets_it() {
        for uri in [
            "https://api.example/status",
            "https://other.example/login",
            "http://api.example/login",
        ] {
            let err = prepare_to(
                uri,
                &[(FILL_SECRETS_HEADER, "password")],
                r#"{"password":"{{secret.password}}"}"#,
            )
            .unwrap_err();
            assert!(
                err.starts_with("secret `password` may not be filled in a request to"),
                "{uri}: {err}"
            );
        }
    }

    #[test]
    fn fills_only_the_secrets_a_request_names() {
        // A reply that quotes a placeholder: nothing is filled.
        let reply = prepared(&[], "text={{secret.password}}");
        assert_eq!(&reply.body[..], b"text={{secret.password}}");

        let login = prepared(
            &[(FILL_SECRETS_HEADER, "password"), ("x-token", "{{secret.token}}")],
            r#"{"password":"{{secret.password}}","token":"{{secret.token}}","note":"{{secret.password}}"}"#,
        );
        let body: serde_json::Value = serde_json::from_slice(&login.body).unwrap();
        assert_eq!(body["password"], "hunter2");
        assert_eq!(body["token"], "{{secret.token}}", "not asked for");
        assert_eq!(body["note"], "{{secret.password}}", "not its place");
        assert_eq!(login.headers["x-token"], "{{secret.token}}");
        assert!(
            !login.headers.contains_key(FILL_SECRETS_HEADER),
            "the opt-in header stays in the host"
        );

        let both = prepared(
            &[
                (FILL_SECRETS_HEADER, "password, token"),
                ("x-token", "{{secret.token}}"),
            ],
            "",
        );
        assert_eq!(both.headers["x-token"], "t0k");
    }

    #[test]
    fn the_credential_is_never_filled() {
        let (parts, ()) = http::Request::builder()
            .uri("https://api.example/status")
            .header(FILL_SECRETS_HEADER, "token")
            .body(())
            .unwrap()
            .into_parts();
        let policy = HttpPolicy {
            credentials: vec![route(Credential::Bearer { secret: "token".into() })],
            ..policy()
        };
        let err = prepare(parts, Bytes::from_static(b"{{secret.token}}"), &policy).unwrap_err();
        assert_eq!(err, "secret `token` is the account's credential and is never filled");
    }

    #[test]
    fn a_refresh_secret_is_never_filled_either() {
        // `policy()` lets `password` into https://api.example/login; a
        // credential whose refresh reads it takes that back.
        let rule = crate::CredentialRule {
            origin: None,
            path: None,
            credential: Credential::Bearer { secret: "token".into() },
            refresh: serde_json::from_value(serde_json::json!({
                "flow": "oauth2",
                "token-url": "https://api.example/token",
                "refresh-token": "password",
                "client-id": "client",
            }))
            .unwrap(),
        };
        let policy = HttpPolicy {
            credentials: vec![CredentialRoute::expand(&rule, &BTreeMap::new()).unwrap()],
            ..policy()
        };
        let (parts, ()) = http::Request::builder()
            .method("POST")
            .uri("https://api.example/login")
            .header(FILL_SECRETS_HEADER, "password")
            .body(())
            .unwrap()
            .into_parts();
        let err = prepare(
            parts,
            Bytes::from_static(br#"{"password":"{{secret.password}}"}"#),
            &policy,
        )
        .unwrap_err();
        assert_eq!(err, "secret `password` is the account's credential and is never filled");
    }

    #[test]
    fn filled_secrets_are_scrubbed_from_the_response() {
        let mut response = HttpResponse {
            status: 200,
            headers: http::HeaderMap::from_iter([(
                HeaderName::from_static("x-echo"),
                HeaderValue::from_static("pw=hunter2"),
            )]),
            body: Bytes::from_static(b"{\"status\":\"hunter2 and hunter2\",\"t\":\"t0k\"}"),
        };
        let filled = BTreeMap::from([("password".to_string(), "hunter2".to_string())]);
        scrub_response(&mut response, &filled);
        assert_eq!(
            &response.body[..],
            b"{\"status\":\"{{secret.password}} and {{secret.password}}\",\"t\":\"t0k\"}",
            "only what was filled is scrubbed"
        );
        assert_eq!(response.headers["x-echo"], "pw={{secret.password}}");
    }

    /// `credential` for every allowed origin and path.
    fn route(credential: Credential) -> CredentialRoute {
        let rule = crate::CredentialRule {
            origin: None,
            path: None,
            credential,
            refresh: None,
        };
        CredentialRoute::expand(&rule, &BTreeMap::new()).unwrap()
    }

    fn two_headers() -> Credential {
        Credential::Headers {
            headers: [
                ("Api-Key".into(), "token".into()),
                ("Api-Username".into(), "password".into()),
            ]
            .into(),
        }
    }

    #[test]
    fn every_header_of_the_credential_is_attached_over_the_plugins_own() {
        let (parts, ()) = http::Request::builder()
            .uri("https://api.example/posts.json")
            .header("api-username", "system")
            .header("Api-Key", "guessed")
            .header("accept", "application/json")
            .body(())
            .unwrap()
            .into_parts();
        let policy = HttpPolicy {
            credentials: vec![route(two_headers())],
            ..policy()
        };
        let (sent, _) = prepare(parts, Bytes::new(), &policy).unwrap();
        let all =
            |name: &str| -> Vec<&str> { sent.headers.get_all(name).iter().map(|v| v.to_str().unwrap()).collect() };
        assert_eq!(all("api-key"), ["t0k"], "only the host's value goes out");
        assert_eq!(all("api-username"), ["hunter2"]);
        assert_eq!(all("accept"), ["application/json"]);
    }

    #[test]
    fn the_plugin_may_set_none_of_the_credential_headers() {
        let mut hooks = OutgoingHooks {
            policy: Arc::new(HttpPolicy {
                credentials: vec![route(two_headers())],
                ..HttpPolicy::default()
            }),
            limits: Limits::default(),
            transport: Arc::new(crate::NetworkTransport),
            records: Arc::default(),
            sent: 0,
            received: Arc::default(),
        };
        let forbidden = hooks.forbidden_header_filter();
        for name in ["api-key", "api-username", "host"] {
            assert!(forbidden(&HeaderName::from_static(name)), "{name}");
        }
        assert!(!forbidden(&HeaderName::from_static("accept")));
    }
}
