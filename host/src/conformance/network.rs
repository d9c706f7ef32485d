//! The network side of a conformance run: a [`Transport`] that answers every
//! request the plugin makes from a script set before each call, and notes the
//! requests nothing in the script matched.

use std::sync::{Mutex, MutexGuard};

use http::HeaderMap;
use http::header::{CONTENT_TYPE, HeaderValue};

use crate::runtime::Transport;
use crate::runtime::http::{HttpRequest, HttpResponse, SendOptions, TransportFuture};

/// A recorded response and the requests it answers.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    /// The request's path, exactly.
    pub path: String,
    /// Text the request's raw query string must contain (e.g. `cursor=c2`).
    pub query: Option<String>,
    pub response: HttpResponse,
}

impl Recorded {
    fn matches(&self, method: &str, path: &str, query: &str) -> bool {
        self.method.eq_ignore_ascii_case(method)
            && self.path == path
            && self.query.as_deref().is_none_or(|q| query.contains(q))
    }
}

/// How the network answers until the next script.
#[derive(Clone, Debug)]
pub(crate) enum Script {
    /// The same response to every request.
    Every(HttpResponse),
    /// The first recorded response that matches; 404 for the rest.
    Recorded(Vec<Recorded>),
}

/// A response with a JSON content type unless `headers` name one.
pub(crate) fn response(status: u16, mut headers: HeaderMap, body: impl Into<bytes::Bytes>) -> HttpResponse {
    if !headers.contains_key(CONTENT_TYPE) {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    HttpResponse {
        status,
        headers,
        body: body.into(),
    }
}

pub(crate) struct Network {
    inner: Mutex<Inner>,
}

struct Inner {
    script: Script,
    unmatched: Vec<String>,
}

impl Default for Network {
    fn default() -> Self {
        Network {
            inner: Mutex::new(Inner {
                script: Script::Recorded(Vec::new()),
                unmatched: Vec::new(),
            }),
        }
    }
}

impl Network {
    /// Answers with `script` from now on, forgetting the unmatched requests so far.
    pub fn play(&self, script: Script) {
        let mut inner = self.lock();
        inner.script = script;
        inner.unmatched.clear();
    }

    /// Requests since the last [`Network::play`] that no recorded response matched.
    pub fn unmatched(&self) -> Vec<String> {
        self.lock().unmatched.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere leaves the data usable: it is replaced on every play.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Transport for Network {
    fn send(&self, request: HttpRequest, _options: SendOptions) -> TransportFuture {
        let method = request.method.as_str();
        let path = request.uri.path();
        let query = request.uri.query().unwrap_or_default();
        let mut inner = self.lock();
        let found = match &inner.script {
            Script::Every(response) => Some(response.clone()),
            Script::Recorded(recorded) => recorded
                .iter()
                .find(|r| r.matches(method, path, query))
                .map(|r| r.response.clone()),
        };
        let answer = found.unwrap_or_else(|| {
            let shown = if query.is_empty() {
                format!("{method} {path}")
            } else {
                format!("{method} {path}?{query}")
            };
            let body = serde_json::json!({ "error": format!("no recorded response for {shown}") }).to_string();
            inner.unmatched.push(shown);
            response(404, HeaderMap::new(), body)
        });
        Box::pin(async move { Ok(answer) })
    }
}
