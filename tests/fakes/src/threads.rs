//! A fake Threads API (<https://developers.facebook.com/docs/threads>) on
//! loopback: `GET /v1.0/me`, `/{user-id}/threads`, `/{user-id}/mentions`,
//! `/{media-id}/replies`, `/{media-id}/conversation`, `/keyword_search`,
//! `/{media-id}`; the two-step reply (`POST /{user-id}/threads` makes a
//! container, `POST /{user-id}/threads_publish?creation_id=` publishes it);
//! and `GET /refresh_access_token?grant_type=th_refresh_token`, which renews
//! an unexpired long-lived token for 60 days.
//!
//! Lists are newest first with Graph's cursor paging (`limit` up to 100,
//! `paging.cursors.{before,after}`, `paging.next` only when a page follows,
//! `since`/`until` in Unix seconds, inclusive). Errors are Graph's
//! `{"error":{"message","type","code","error_subcode","fbtrace_id"}}`: an
//! unknown or expired token is code 190, keyword search without
//! `threads_keyword_search` code 10, the publish of an unknown container
//! code 24 / subcode 4279009 ("Media Not Found"), a bad parameter code 100.
//!
//! The brand is `acme` (user id [`BRAND_ID`]); a mention is a post whose text
//! holds `@acme`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

pub use super::server::RecordedRequest;
use super::server::Server;
use super::tokens::{AccessTokens, bearer};
use super::util::parse_form;

/// The long-lived token a test account starts with.
pub const TOKEN: &str = "fake-threads-token";
pub const BRAND: &str = "acme";
pub const BRAND_ID: &str = "17841401234567890";
pub const REFRESH_PATH: &str = "/refresh_access_token";
/// What Threads answers a refresh with: about 60 days.
pub const LONG_LIVED_SECS: u64 = 5_183_944;
const VERSION: &str = "v1.0";
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;
const MAX_TEXT_CHARS: usize = 500;
const MAX_BODY_BYTES: usize = 1 << 20;
/// The earliest `since` or `until` Threads takes.
const EARLIEST: u64 = 1_688_540_400;
const FIRST_ID: u64 = 18_028_970_387_138_000;

/// A failure injected into the next API request (one per request, in the
/// order queued); the token endpoint is never faulted. A faulted request has
/// no side effects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// That status with Graph's body of an unexpected error (code 2, transient for a 5xx).
    Status(u16),
    /// 200 with a JSON content type but a truncated body.
    Malformed,
    /// A throttle: Graph `code` (4, 17, 32 or 613) in a 400, with `Retry-After` when given.
    Throttled { code: i64, retry_after_secs: Option<u64> },
    /// 429 without a Graph body.
    TooManyRequests,
}

/// A running fake Threads; it stops when dropped.
pub struct FakeThreads {
    server: Server,
    state: Shared,
}

type Shared = Arc<Mutex<State>>;

struct Media {
    id: u64,
    author: String,
    text: String,
    /// Unix seconds.
    at: u64,
    reply_to: Option<u64>,
    root: Option<u64>,
}

struct State {
    base_url: String,
    media: Vec<Media>,
    next_id: u64,
    /// Containers made and not yet published: id -> (text, reply_to).
    containers: HashMap<u64, (String, Option<u64>)>,
    published: Vec<Value>,
    tokens: AccessTokens,
    keyword_search: bool,
    faults: VecDeque<Fault>,
    requests: Vec<RecordedRequest>,
}

impl FakeThreads {
    /// Binds 127.0.0.1 on a free port and serves on the current tokio runtime.
    pub async fn start() -> anyhow::Result<Self> {
        let (server, state) = Server::start("the fake Threads server", |base| {
            let state: Shared = Arc::new(Mutex::new(State::new(base)));
            Ok((Router::new().fallback(handle).with_state(Arc::clone(&state)), state))
        })
        .await?;
        Ok(Self { server, state })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// A thread of the brand's, posted now; returns its id.
    pub fn push_thread(&self, text: &str) -> String {
        self.lock().post(BRAND, text, None)
    }

    /// A top-level post by `username`, posted now.
    pub fn push_post(&self, username: &str, text: &str) -> String {
        self.lock().post(username, text, None)
    }

    /// A top-level post by `username` that mentions the brand.
    pub fn push_mention(&self, username: &str, text: &str) -> String {
        self.push_post(username, &format!("@{BRAND} {text}"))
    }

    /// A reply by `username` to post `parent`.
    pub fn push_reply(&self, username: &str, parent: &str, text: &str) -> String {
        let parent = parent.parse().ok();
        self.lock().post(username, text, parent)
    }

    /// Tokens stop working (they expired): API calls get code 190 and a refresh is refused.
    pub fn expire_tokens(&self) {
        self.lock().tokens.expire_all();
    }

    /// Whether the token carries `threads_keyword_search` (it does at first).
    pub fn set_keyword_search(&self, granted: bool) {
        self.lock().keyword_search = granted;
    }

    pub fn fail_next(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// The posts published through a container, oldest first:
    /// `{"id", "text", "reply_to_id"}`.
    pub fn published(&self) -> Vec<Value> {
        self.lock().published.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl State {
    fn new(base_url: &str) -> Self {
        let mut st = State {
            base_url: base_url.to_string(),
            media: Vec::new(),
            next_id: FIRST_ID,
            containers: HashMap::new(),
            published: Vec::new(),
            tokens: AccessTokens::new(TOKEN, "fake-threads-token-", Duration::from_secs(LONG_LIVED_SECS)),
            keyword_search: true,
            faults: VecDeque::new(),
            requests: Vec::new(),
        };
        // An hour of history: two threads of the brand's with replies, and mentions.
        let start = now_secs() - 3600;
        let first = st.post_at(BRAND, "Our spring release is out!", None, start);
        let second = st.post_at(BRAND, "Tell us what to build next.", None, start + 60);
        for i in 0..6u64 {
            let parent = if i % 2 == 0 { first } else { second };
            st.post_at(
                &format!("customer_{i}"),
                &format!("question {i}"),
                Some(parent),
                start + 120 + i * 30,
            );
        }
        for i in 0..30u64 {
            st.post_at(
                &format!("customer_{}", i % 7),
                &format!("@{BRAND} mention number {i}"),
                None,
                start + 600 + i * 20,
            );
        }
        st
    }

    fn post(&mut self, author: &str, text: &str, reply_to: Option<u64>) -> String {
        self.post_at(author, text, reply_to, now_secs()).to_string()
    }

    fn post_at(&mut self, author: &str, text: &str, reply_to: Option<u64>, at: u64) -> u64 {
        self.next_id += 1_000 + self.media.len() as u64 % 7;
        let id = self.next_id;
        let root = reply_to.map(|parent| {
            self.media
                .iter()
                .find(|m| m.id == parent)
                .map_or(parent, |m| m.root.unwrap_or(m.id))
        });
        self.media.push(Media {
            id,
            author: author.to_string(),
            text: text.to_string(),
            at,
            reply_to,
            root,
        });
        id
    }

    fn find(&self, id: &str) -> Option<&Media> {
        let id: u64 = id.parse().ok()?;
        self.media.iter().find(|m| m.id == id)
    }

    /// A media object with the fields asked for (`id` always).
    fn object(&self, m: &Media, fields: &[&str]) -> Value {
        let mut out = serde_json::Map::new();
        out.insert("id".into(), json!(m.id.to_string()));
        let shortcode = format!("C{:x}", m.id % 0xff_ffff);
        for field in fields {
            let value = match *field {
                "text" => json!(m.text),
                "username" => json!(m.author),
                "permalink" => json!(format!("https://www.threads.net/@{}/post/{shortcode}", m.author)),
                "timestamp" => json!(timestamp(m.at)),
                "media_type" => json!("TEXT_POST"),
                "media_product_type" => json!("THREADS"),
                "shortcode" => json!(shortcode),
                "is_quote_post" => json!(false),
                "has_replies" => json!(self.media.iter().any(|r| r.reply_to == Some(m.id))),
                "is_reply" => json!(m.reply_to.is_some()),
                "root_post" => match m.root {
                    Some(root) => json!({ "id": root.to_string() }),
                    None => continue,
                },
                "replied_to" => match m.reply_to {
                    Some(parent) => json!({ "id": parent.to_string() }),
                    None => continue,
                },
                "is_reply_owned_by_me" if m.reply_to.is_some() => json!(m.author == BRAND),
                "hide_status" if m.reply_to.is_some() => json!("NOT_HUSHED"),
                "owner" if m.author == BRAND && m.reply_to.is_none() => json!({ "id": BRAND_ID }),
                _ => continue,
            };
            out.insert((*field).to_string(), value);
        }
        Value::Object(out)
    }
}

/// `2024-01-01T18:20:00+0000`, as Threads writes `timestamp`.
fn timestamp(secs: u64) -> String {
    let iso = crate::util::iso8601_millis(UNIX_EPOCH + Duration::from_secs(secs));
    format!("{}+0000", &iso[..19])
}

/// A response before its headers are added.
struct Reply {
    status: StatusCode,
    body: Vec<u8>,
    retry_after: Option<u64>,
}

impl Reply {
    fn ok(value: &Value) -> Self {
        Self::with(StatusCode::OK, value)
    }

    fn with(status: StatusCode, value: &Value) -> Self {
        Reply {
            status,
            body: value.to_string().into_bytes(),
            retry_after: None,
        }
    }

    /// Graph's error body.
    fn graph(status: StatusCode, message: &str, kind: &str, code: i64, subcode: Option<i64>) -> Self {
        let mut error = json!({ "message": message, "type": kind, "code": code, "fbtrace_id": "AbCdEfGhIjK" });
        if let Some(subcode) = subcode {
            error["error_subcode"] = json!(subcode);
        }
        Self::with(status, &json!({ "error": error }))
    }

    fn invalid(message: &str) -> Self {
        Self::graph(StatusCode::BAD_REQUEST, message, "OAuthException", 100, None)
    }

    fn expired() -> Self {
        Self::graph(
            StatusCode::BAD_REQUEST,
            "Error validating access token: Session has expired.",
            "OAuthException",
            190,
            Some(463),
        )
    }

    fn unsupported(id: &str) -> Self {
        Self::graph(
            StatusCode::BAD_REQUEST,
            &format!(
                "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation"
            ),
            "GraphMethodException",
            100,
            Some(33),
        )
    }

    fn finish(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=UTF-8"),
        );
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

async fn handle(AxumState(shared): AxumState<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES).await.unwrap_or_default();
    let recorded = RecordedRequest::of(&parts, &body);
    let mut st = lock(&shared);
    st.requests.push(recorded.clone());
    // Query and form parameters alike, as Graph takes both.
    let mut params: HashMap<String, String> = parse_form(&recorded.query).into_iter().collect();
    if parts.method == axum::http::Method::POST {
        params.extend(parse_form(&recorded.body));
    }
    if recorded.path == REFRESH_PATH {
        return refresh(&mut st, &params).finish();
    }
    if let Some(fault) = st.faults.pop_front() {
        return fault_reply(fault).finish();
    }
    let token = bearer(&parts.headers)
        .map(str::to_string)
        .or_else(|| params.get("access_token").cloned());
    if !token.is_some_and(|t| st.tokens.accepts(&t)) {
        return Reply::expired().finish();
    }
    let Some(path) = recorded.path.strip_prefix(&format!("/{VERSION}/")) else {
        return Reply::invalid("Unknown path components").finish();
    };
    let segments: Vec<&str> = path.split('/').collect();
    route(&mut st, parts.method.as_str(), &segments, &params).finish()
}

fn fault_reply(fault: Fault) -> Reply {
    match fault {
        Fault::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut reply = Reply::graph(
                status,
                "An unexpected error has occurred. Please retry your request later.",
                "OAuthException",
                2,
                None,
            );
            if status.is_server_error() {
                reply.body =
                    json!({ "error": { "message": "An unexpected error has occurred. Please retry your request later.",
                    "type": "OAuthException", "is_transient": true, "code": 2, "fbtrace_id": "AbCdEfGhIjK" } })
                    .to_string()
                    .into_bytes();
            }
            reply
        }
        Fault::Malformed => Reply {
            status: StatusCode::OK,
            body: br#"{"data":[{"id":"18028970387139001","text":"@acme hel"#.to_vec(),
            retry_after: None,
        },
        Fault::Throttled { code, retry_after_secs } => {
            let message = match code {
                4 => "(#4) Application request limit reached",
                17 => "(#17) User request limit reached",
                _ => "(#613) Calls to this api have exceeded the rate limit.",
            };
            let mut reply = Reply::graph(StatusCode::BAD_REQUEST, message, "OAuthException", code, None);
            reply.retry_after = retry_after_secs;
            reply
        }
        Fault::TooManyRequests => Reply {
            status: StatusCode::TOO_MANY_REQUESTS,
            body: b"Too Many Requests".to_vec(),
            retry_after: None,
        },
    }
}

/// `GET /refresh_access_token?grant_type=th_refresh_token&access_token=T`:
/// an unexpired long-lived token is renewed for 60 days.
fn refresh(st: &mut State, params: &HashMap<String, String>) -> Reply {
    if params.get("grant_type").map(String::as_str) != Some("th_refresh_token") {
        return Reply::invalid("Unsupported grant_type");
    }
    if !params.get("access_token").is_some_and(|t| st.tokens.accepts(t)) {
        return Reply::expired();
    }
    let (token, lifetime) = st.tokens.issue();
    Reply::ok(&json!({ "access_token": token, "token_type": "bearer", "expires_in": lifetime.as_secs() }))
}

fn route(st: &mut State, method: &str, segments: &[&str], params: &HashMap<String, String>) -> Reply {
    let fields: Vec<&str> = params
        .get("fields")
        .map_or(vec![], |f| f.split(',').map(str::trim).collect());
    let path = format!("/{VERSION}/{}", segments.join("/"));
    let list = |st: &State, keep: &dyn Fn(&Media) -> bool| list(st, &path, params, &fields, keep);
    match (method, segments) {
        ("GET", ["me"]) => {
            let mut me = json!({ "id": BRAND_ID });
            if fields.contains(&"username") {
                me["username"] = json!(BRAND);
            }
            Reply::ok(&me)
        }
        ("GET", ["keyword_search"]) => {
            if !st.keyword_search {
                return Reply::graph(
                    StatusCode::FORBIDDEN,
                    "(#10) Application does not have permission for this action",
                    "OAuthException",
                    10,
                    None,
                );
            }
            let Some(q) = params
                .get("q")
                .map(|q| q.to_lowercase())
                .filter(|q| !q.trim().is_empty())
            else {
                return Reply::invalid("(#100) The parameter q is required");
            };
            list(st, &|m| m.text.to_lowercase().contains(&q))
        }
        ("GET", [user, "mentions"]) if *user == BRAND_ID || *user == "me" => list(st, &|m| {
            m.author != BRAND && m.text.to_lowercase().contains(&format!("@{BRAND}"))
        }),
        ("GET", [user, "threads"]) if *user == BRAND_ID || *user == "me" => {
            list(st, &|m| m.author == BRAND && m.reply_to.is_none())
        }
        ("GET", [id, edge @ ("replies" | "conversation")]) => {
            let Some(root) = st.find(id).map(|m| m.id) else {
                return Reply::unsupported(id);
            };
            let nested = *edge == "conversation";
            let reverse = params.get("reverse").is_none_or(|r| r != "false");
            let mut reply = list(st, &|m| {
                if nested {
                    m.root == Some(root)
                } else {
                    m.reply_to == Some(root)
                }
            });
            if !reverse {
                // Oldest first: the same page, the other way round.
                if let Ok(mut value) = serde_json::from_slice::<Value>(&reply.body)
                    && let Some(data) = value["data"].as_array_mut()
                {
                    data.reverse();
                    reply.body = value.to_string().into_bytes();
                }
            }
            reply
        }
        ("POST", [user, "threads"]) if *user == BRAND_ID || *user == "me" => create(st, params),
        ("POST", [user, "threads_publish"]) if *user == BRAND_ID || *user == "me" => publish(st, params),
        ("GET", [id]) => match st.find(id) {
            Some(m) => Reply::ok(&st.object(m, &fields)),
            None => Reply::unsupported(id),
        },
        _ => Reply::unsupported(&segments.join("/")),
    }
}

/// One page of the media `keep` selects, newest first, with Graph's paging.
fn list(
    st: &State,
    path: &str,
    params: &HashMap<String, String>,
    fields: &[&str],
    keep: &dyn Fn(&Media) -> bool,
) -> Reply {
    let limit = match params.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if n <= MAX_LIMIT => n.max(1),
        Some(_) => return Reply::invalid("(#100) The parameter limit must be between 0 and 100"),
    };
    let bound = |name: &str| -> Result<Option<u64>, Reply> {
        match params.get(name).map(|v| v.parse::<u64>()) {
            None => Ok(None),
            Some(Ok(v)) if v >= EARLIEST => Ok(Some(v)),
            Some(_) => Err(Reply::invalid(&format!(
                "(#100) The parameter {name} must be a Unix timestamp of at least {EARLIEST}"
            ))),
        }
    };
    let (since, until) = match (bound("since"), bound("until")) {
        (Ok(since), Ok(until)) => (since, until),
        (Err(reply), _) | (_, Err(reply)) => return reply,
    };
    if params.contains_key("before") && params.contains_key("after") {
        return Reply::invalid("(#100) Only one of before and after may be given");
    }
    let mut all: Vec<&Media> = st
        .media
        .iter()
        .filter(|m| keep(m))
        .filter(|m| since.is_none_or(|s| m.at >= s) && until.is_none_or(|u| m.at <= u))
        .collect();
    all.sort_by_key(|m| std::cmp::Reverse((m.at, m.id)));
    let from = match params.get("after") {
        None => 0,
        Some(cursor) => match decode_cursor(cursor).and_then(|id| all.iter().position(|m| m.id == id)) {
            Some(position) => position + 1,
            None => return Reply::invalid("(#100) The after cursor is not valid"),
        },
    };
    let page: Vec<&Media> = all.iter().skip(from).take(limit).copied().collect();
    let data: Vec<Value> = page.iter().map(|m| st.object(m, fields)).collect();
    let mut out = json!({ "data": data });
    if let (Some(first), Some(last)) = (page.first(), page.last()) {
        let after = encode_cursor(last.id);
        out["paging"] = json!({ "cursors": { "before": encode_cursor(first.id), "after": after } });
        if all.len() > from + page.len() {
            let mut next: Vec<(String, String)> = params
                .iter()
                .filter(|(k, _)| *k != "after")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            next.sort();
            next.push(("after".into(), after));
            let query: Vec<String> = next
                .iter()
                .map(|(k, v)| format!("{k}={}", crate::util::cgi_escape(v)))
                .collect();
            out["paging"]["next"] = json!(format!("{}{path}?{}", st.base_url, query.join("&")));
        }
    }
    Reply::ok(&out)
}

/// Opaque to clients: the id the page ends at.
fn encode_cursor(id: u64) -> String {
    format!("QVFIU{:x}", id ^ 0x5a5a_5a5a)
}

fn decode_cursor(cursor: &str) -> Option<u64> {
    let hex = cursor.strip_prefix("QVFIU")?;
    u64::from_str_radix(hex, 16).ok().map(|n| n ^ 0x5a5a_5a5a)
}

/// `POST /{user-id}/threads`: a container of `media_type=TEXT`.
fn create(st: &mut State, params: &HashMap<String, String>) -> Reply {
    if params.get("media_type").map(String::as_str) != Some("TEXT") {
        return Reply::invalid("(#100) The parameter media_type must be one of TEXT, IMAGE, VIDEO, CAROUSEL");
    }
    let text = params.get("text").cloned().unwrap_or_default();
    if text.trim().is_empty() {
        return Reply::invalid("(#100) The parameter text is required for a TEXT post");
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Reply::graph(
            StatusCode::BAD_REQUEST,
            "Param text must be at most 500 characters long.",
            "OAuthException",
            100,
            Some(2_207_038),
        );
    }
    let reply_to = match params.get("reply_to_id") {
        None => None,
        Some(id) => match st.find(id) {
            Some(m) => Some(m.id),
            None => return Reply::unsupported(id),
        },
    };
    st.next_id += 1_000;
    let id = st.next_id;
    st.containers.insert(id, (text, reply_to));
    Reply::ok(&json!({ "id": id.to_string() }))
}

/// `POST /{user-id}/threads_publish?creation_id=`: the container becomes a post.
fn publish(st: &mut State, params: &HashMap<String, String>) -> Reply {
    let container = params.get("creation_id").cloned().unwrap_or_default();
    let Some((text, reply_to)) = container.parse().ok().and_then(|id: u64| st.containers.remove(&id)) else {
        let mut reply = Reply::graph(
            StatusCode::BAD_REQUEST,
            "The requested resource does not exist",
            "OAuthException",
            24,
            Some(4_279_009),
        );
        let mut value: Value = serde_json::from_slice(&reply.body).unwrap_or_default();
        value["error"]["is_transient"] = json!(false);
        value["error"]["error_user_title"] = json!("Media Not Found");
        value["error"]["error_user_msg"] = json!(format!("The media with id {container} cannot be found."));
        reply.body = value.to_string().into_bytes();
        return reply;
    };
    let id = st.post(BRAND, &text, reply_to);
    st.published.push(json!({
        "id": id,
        "text": text,
        "reply_to_id": reply_to.map(|r| r.to_string()),
    }));
    Reply::ok(&json!({ "id": id }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_times_look_like_threads() {
        assert_eq!(decode_cursor(&encode_cursor(FIRST_ID)), Some(FIRST_ID));
        assert_eq!(decode_cursor("nope"), None);
        assert_eq!(timestamp(1_704_133_200), "2024-01-01T18:20:00+0000");
    }
}
