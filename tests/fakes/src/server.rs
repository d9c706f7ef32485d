//! What every fake server shares: a router served on a free loopback port
//! until the fake is dropped, and the requests it received, as recorded.

use anyhow::Context as _;
use axum::Router;
use axum::http::request::Parts;
use tokio::sync::oneshot;

use super::util::parse_form;

/// A router served on loopback; it stops when dropped.
pub struct Server {
    base_url: String,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Server {
    /// Binds 127.0.0.1 on a free port and serves, on the current tokio
    /// runtime, the router `build` makes from the base URL (fakes that write
    /// links need it), with what else `build` returns.
    pub async fn start<T>(
        what: &str,
        build: impl FnOnce(&str) -> anyhow::Result<(Router, T)>,
    ) -> anyhow::Result<(Server, T)> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .with_context(|| format!("binding {what} to loopback"))?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let (app, built) = build(&base_url)?;
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            // A dropped sender also means "stop".
            let stopped = async {
                let _ = rx.await;
            };
            let _ = axum::serve(listener, app).with_graceful_shutdown(stopped).await;
        });
        let server = Server {
            base_url,
            shutdown: Some(tx),
        };
        Ok((server, built))
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// One request as a fake received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The raw query string, still percent-encoded; empty when absent.
    pub query: String,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body, lossily decoded as UTF-8.
    pub body: String,
}

impl RecordedRequest {
    /// The request of `parts` with `body` (empty when it could not be read).
    pub fn of(parts: &Parts, body: &[u8]) -> RecordedRequest {
        RecordedRequest {
            method: parts.method.as_str().to_owned(),
            path: parts.uri.path().to_owned(),
            query: parts.uri.query().unwrap_or_default().to_owned(),
            headers: parts
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: String::from_utf8_lossy(body).into_owned(),
        }
    }

    /// The first value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a query parameter, decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        first(parse_form(&self.query), name)
    }

    /// A field of a JSON or form body, decoded (a JSON value that is not a
    /// string as JSON text).
    pub fn field(&self, name: &str) -> Option<String> {
        if let Ok(value) = serde_json::from_str::<serde_json::Value>(&self.body) {
            return value
                .get(name)
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string));
        }
        first(parse_form(&self.body), name)
    }

    /// The query decoded into ordered pairs (repeated keys kept).
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        parse_form(&self.query)
    }

    /// An XRPC method's NSID: the path after `/xrpc/`.
    pub fn nsid(&self) -> &str {
        self.path.strip_prefix("/xrpc/").unwrap_or(&self.path)
    }
}

fn first(pairs: Vec<(String, String)>, name: &str) -> Option<String> {
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}
