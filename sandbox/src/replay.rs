//! A network that answers from recorded responses: the [`Transport`] behind
//! the conformance runner (`socialcrm plugin test`) and the SDK's testkit, so
//! both replay one fixture format ([`crate::fixtures`]).

use std::sync::{Mutex, MutexGuard};

use http::HeaderMap;
use http::header::{CONTENT_TYPE, HeaderValue};

use crate::http::{HttpRequest, HttpResponse, SendOptions, Transport, TransportFuture};

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

/// A request the plugin made, as the network received it (credentials
/// attached, secret placeholders filled).
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// How the network answers until the next [`Replay::play`].
#[derive(Clone, Debug)]
pub enum Script {
    /// The same response to every request.
    Every(HttpResponse),
    /// The first recorded response that matches, used up when a later one
    /// matches too (so the last repeats); 404 when none does.
    Recorded(Vec<Recorded>),
}

/// A response with a JSON content type unless `headers` name one.
pub fn response(status: u16, mut headers: HeaderMap, body: impl Into<bytes::Bytes>) -> HttpResponse {
    if !headers.contains_key(CONTENT_TYPE) {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    HttpResponse {
        status,
        headers,
        body: body.into(),
    }
}

pub struct Replay {
    inner: Mutex<Inner>,
}

struct Inner {
    script: Script,
    unmatched: Vec<String>,
    seen: Vec<Seen>,
}

impl Default for Replay {
    fn default() -> Self {
        Replay {
            inner: Mutex::new(Inner {
                script: Script::Recorded(Vec::new()),
                unmatched: Vec::new(),
                seen: Vec::new(),
            }),
        }
    }
}

impl Replay {
    /// Answers with `script` from now on, forgetting the unmatched requests so far.
    pub fn play(&self, script: Script) {
        let mut inner = self.lock();
        inner.script = script;
        inner.unmatched.clear();
    }

    /// Adds `recorded` after the recorded responses playing now.
    pub fn add(&self, recorded: Recorded) {
        let mut inner = self.lock();
        match &mut inner.script {
            Script::Recorded(list) => list.push(recorded),
            Script::Every(_) => inner.script = Script::Recorded(vec![recorded]),
        }
    }

    /// Requests since the last [`Replay::play`] that no recorded response matched.
    pub fn unmatched(&self) -> Vec<String> {
        self.lock().unmatched.clone()
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.lock().seen.clone()
    }

    /// How many requests so far.
    pub fn seen_count(&self) -> usize {
        self.lock().seen.len()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere leaves the data usable: it is replaced on every play.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Transport for Replay {
    fn send(&self, request: HttpRequest, _options: SendOptions) -> TransportFuture {
        let method = request.method.as_str();
        let path = request.uri.path();
        let query = request.uri.query().unwrap_or_default();
        let mut inner = self.lock();
        inner.seen.push(Seen {
            method: method.to_string(),
            url: request.uri.to_string(),
            headers: request
                .headers
                .iter()
                .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
                .collect(),
            body: request.body.to_vec(),
        });
        let found = match &mut inner.script {
            Script::Every(response) => Some(response.clone()),
            Script::Recorded(recorded) => {
                let mut matching = recorded
                    .iter()
                    .enumerate()
                    .filter(|(_, r)| r.matches(method, path, query))
                    .map(|(i, _)| i);
                match (matching.next(), matching.next()) {
                    (Some(first), Some(_)) => Some(recorded.remove(first).response),
                    (Some(only), None) => Some(recorded[only].response.clone()),
                    (None, _) => None,
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(path: &str, query: Option<&str>, body: &'static str) -> Recorded {
        Recorded {
            method: "GET".into(),
            path: path.into(),
            query: query.map(Into::into),
            response: response(200, HeaderMap::new(), body),
        }
    }

    fn get(replay: &Replay, uri: &str) -> (u16, String) {
        let request = HttpRequest {
            method: http::Method::GET,
            uri: uri.parse().unwrap(),
            headers: HeaderMap::new(),
            body: bytes::Bytes::new(),
        };
        let options = SendOptions {
            allow_private: false,
            timeout: std::time::Duration::from_secs(1),
            max_response_bytes: 1 << 20,
        };
        let answer = block_on(replay.send(request, options)).unwrap();
        (answer.status, String::from_utf8_lossy(&answer.body).into_owned())
    }

    fn block_on(future: TransportFuture) -> Result<HttpResponse, crate::http::TransportError> {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn responses_to_one_request_are_used_in_order_and_the_last_repeats() {
        let replay = Replay::default();
        replay.play(Script::Recorded(vec![
            recorded("/a", None, "1"),
            recorded("/b", Some("page=2"), "b2"),
            recorded("/a", None, "2"),
        ]));
        assert_eq!(get(&replay, "https://n.example/a").1, "1");
        assert_eq!(get(&replay, "https://n.example/a").1, "2");
        assert_eq!(get(&replay, "https://n.example/a").1, "2");
        assert_eq!(get(&replay, "https://n.example/b?x=1&page=2").1, "b2");
        assert_eq!(get(&replay, "https://n.example/b?page=3").0, 404);
        assert_eq!(replay.unmatched(), ["GET /b?page=3"]);
        assert_eq!(replay.seen().len(), 5);
        replay.play(Script::Recorded(Vec::new()));
        assert!(replay.unmatched().is_empty());
    }
}
