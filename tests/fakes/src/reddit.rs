//! A fake Reddit OAuth API (<https://www.reddit.com/dev/api>: `/api/v1/me`,
//! `/message/inbox|mentions|comments|selfreply`, `/search`, `/r/SUB/search`,
//! `/api/comment`) with Reddit's listing pagination (`before`/`after`
//! fullnames, `limit` up to 100, newest first), its rate-limit headers
//! (`X-Ratelimit-Used`, `-Remaining`, `-Reset` in seconds) and its error
//! bodies, serving the real comments recorded in `tests/data/reddit_comments.jsonl`.
//!
//! The brand is `acme_support`. Its inbox starts with recorded comments as
//! mentions and replies; tests push more, and posts for the keyword search.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::anyhow;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

pub use super::server::RecordedRequest;
use super::server::Server;
use super::util::parse_form;

/// The only access token the fake accepts, as `Authorization: bearer TOKEN`.
pub const TOKEN: &str = "fake-reddit-token";
/// The account the token belongs to.
pub const BRAND: &str = "acme_support";
const BRAND_ID: &str = "t2_acme1";
/// Requests per window: Reddit's 100 per minute, counted over 10 minutes.
pub const RATE_LIMIT: u32 = 1_000;
const RATE_PERIOD: Duration = Duration::from_secs(600);
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;
/// Reddit's limit on a comment's text.
const MAX_COMMENT_CHARS: usize = 10_000;
const MAX_BODY_BYTES: usize = 1 << 20;
/// Recorded comments the inbox starts with (more than one page).
const INITIAL_INBOX: usize = 120;

const COMMENTS_JSONL: &str = include_str!("../../data/reddit_comments.jsonl");

/// A failure injected into the next request (one per request, in the order
/// queued). A faulted request has no side effects and spends no budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// That HTTP status with Reddit's error body; codes below 200 become 500.
    Status(u16),
    /// 200 with a JSON content type but a truncated, unparsable listing.
    Malformed,
    /// 429 with `X-Ratelimit-Remaining: 0` and a reset this far ahead.
    RateLimited { reset_in_secs: u64 },
    /// 401 as for a revoked token, even if the token is right.
    Unauthorized,
    /// 200 carrying Reddit's per-action limit, `RATELIMIT` "try again in N minutes".
    ActionRateLimit { minutes: u64 },
}

/// The real comments recorded from Reddit's API.
pub fn recorded_comments() -> anyhow::Result<Vec<Value>> {
    static DATA: OnceLock<Result<Vec<Value>, String>> = OnceLock::new();
    DATA.get_or_init(|| {
        COMMENTS_JSONL
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| serde_json::from_str(line).map_err(|e| format!("line {}: {e}", i + 1)))
            .collect()
    })
    .clone()
    .map_err(|e| anyhow!("loading the Reddit test data: {e}"))
}

/// A stable `t2_` id for a username, as Reddit gives every account one.
pub fn user_fullname(username: &str) -> String {
    // FNV-1a: stable across runs and platforms.
    let hash = username
        .to_ascii_lowercase()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    format!("t2_{}", base36(hash % 36u64.pow(8)))
}

fn base36(mut n: u64) -> String {
    let mut digits = Vec::new();
    loop {
        digits.push(b"0123456789abcdefghijklmnopqrstuvwxyz"[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    String::from_utf8_lossy(&digits).into_owned()
}

/// A running fake Reddit; it stops when dropped.
pub struct FakeReddit {
    server: Server,
    state: Shared,
}

type Shared = Arc<Mutex<State>>;

impl FakeReddit {
    /// Binds 127.0.0.1 on a free port and serves on the current tokio runtime.
    pub async fn start() -> anyhow::Result<Self> {
        let (server, state) = Server::start("the fake Reddit server", |_| {
            let state: Shared = Arc::new(Mutex::new(State::new(recorded_comments()?)));
            Ok((Router::new().fallback(handle).with_state(Arc::clone(&state)), state))
        })
        .await?;
        Ok(Self { server, state })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Adds an inbox item of `kind` (`username_mention`, `comment_reply` or
    /// `post_reply`) with a new id, created now, and returns its fullname.
    /// Missing fields of `comment` (`author`, `body`, `link_id`, `parent_id`,
    /// `subreddit`) are filled in, so tests may pass `{}` or a recorded comment.
    pub fn push_inbox(&self, kind: &str, comment: Value) -> String {
        let mut st = self.lock();
        let now = unix_secs(SystemTime::now());
        let item = st.inbox_item(kind, comment, Some(now));
        let name = item.name.clone();
        st.inbox.push(item);
        name
    }

    /// [`FakeReddit::push_inbox`] of a username mention.
    pub fn push_mention(&self, comment: Value) -> String {
        self.push_inbox("username_mention", comment)
    }

    /// The next `count` recorded comments (after those the inbox started with,
    /// wrapping around) as new mentions, their fullnames oldest first.
    pub fn push_recorded_mentions(&self, count: usize) -> Vec<String> {
        (0..count)
            .map(|_| {
                let comment = {
                    let mut st = self.lock();
                    let i = st.next_recorded % st.recorded.len().max(1);
                    st.next_recorded += 1;
                    st.recorded.get(i).cloned().unwrap_or_else(|| json!({}))
                };
                self.push_mention(comment)
            })
            .collect()
    }

    /// Adds an inbox child exactly as given (for malformed things); returns nothing
    /// since it may have no name.
    pub fn push_inbox_raw(&self, child: Value) {
        let mut st = self.lock();
        let name = child["data"]["name"].as_str().unwrap_or_default().to_string();
        let created = child["data"]["created_utc"]
            .as_f64()
            .unwrap_or_else(|| unix_secs(SystemTime::now()));
        st.seq += 1;
        let seq = st.seq;
        st.inbox.push(Thing {
            name,
            created,
            seq,
            json: child,
        });
    }

    /// Adds a submission (`t3`) to `subreddit` created now, found by search;
    /// returns its fullname. `author` defaults to a customer.
    pub fn push_post(&self, subreddit: &str, title: &str, selftext: &str, author: Option<&str>) -> String {
        let mut st = self.lock();
        let now = unix_secs(SystemTime::now());
        st.seq += 1;
        let seq = st.seq;
        let id = format!("p{}", base36(seq));
        let author = author.unwrap_or("curious_customer").to_string();
        let slug: String = title
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .take(40)
            .collect();
        let permalink = format!("/r/{subreddit}/comments/{id}/{slug}/");
        let data = json!({
            "id": id,
            "name": format!("t3_{id}"),
            "title": title,
            "selftext": selftext,
            "author": author,
            "author_fullname": user_fullname(&author),
            "subreddit": subreddit,
            "subreddit_name_prefixed": format!("r/{subreddit}"),
            "created": now,
            "created_utc": now,
            "permalink": permalink,
            "url": format!("https://www.reddit.com{permalink}"),
            "is_self": true,
            "num_comments": 0,
            "score": 1,
            "over_18": false,
        });
        let name = format!("t3_{id}");
        st.posts.push(Thing {
            name: name.clone(),
            created: now,
            seq,
            json: json!({ "kind": "t3", "data": data }),
        });
        name
    }

    /// Deletes a thing from the inbox and the search index, as Reddit does
    /// with a removed comment or post: an anchor on it finds nothing.
    pub fn remove(&self, fullname: &str) {
        let mut st = self.lock();
        st.inbox.retain(|t| t.name != fullname);
        st.posts.retain(|t| t.name != fullname);
    }

    /// The inbox's fullnames, newest first.
    pub fn inbox_names(&self) -> Vec<String> {
        self.lock().inbox_sorted().iter().map(|t| t.name.clone()).collect()
    }

    /// Queues a fault for the next request not already claimed by an earlier one.
    pub fn fail_next(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    /// `remaining` more requests are served until the window resets
    /// `reset_in_secs` from now (then [`RATE_LIMIT`] again).
    pub fn set_rate_limit(&self, remaining: u32, reset_in_secs: u64) {
        let mut st = self.lock();
        st.rate_remaining = remaining;
        st.rate_reset_at = SystemTime::now() + Duration::from_secs(reset_in_secs);
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// The comments created through `POST /api/comment`, oldest first.
    pub fn posted(&self) -> Vec<Value> {
        self.lock().posted.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unix_secs(t: SystemTime) -> f64 {
    // Reddit's times are whole seconds sent as floats.
    t.duration_since(UNIX_EPOCH).map_or(0.0, |d| d.as_secs() as f64)
}

/// A listed thing: a `{"kind","data"}` child.
struct Thing {
    name: String,
    created: f64,
    /// Arrival order, breaking ties between things of the same second.
    seq: u64,
    json: Value,
}

struct State {
    recorded: Vec<Value>,
    next_recorded: usize,
    inbox: Vec<Thing>,
    posts: Vec<Thing>,
    posted: Vec<Value>,
    seq: u64,
    faults: VecDeque<Fault>,
    requests: Vec<RecordedRequest>,
    rate_remaining: u32,
    rate_reset_at: SystemTime,
}

impl State {
    fn new(recorded: Vec<Value>) -> Self {
        let mut state = State {
            recorded,
            next_recorded: INITIAL_INBOX,
            inbox: Vec::new(),
            posts: Vec::new(),
            posted: Vec::new(),
            seq: 0,
            faults: VecDeque::new(),
            requests: Vec::new(),
            rate_remaining: RATE_LIMIT,
            rate_reset_at: SystemTime::now() + RATE_PERIOD,
        };
        let initial: Vec<Value> = state.recorded.iter().take(INITIAL_INBOX).cloned().collect();
        for comment in initial {
            // Under a post of the brand's: a post reply; under a comment: a
            // reply, or a mention when the text names the brand elsewhere.
            let kind = match comment["parent_id"].as_str() {
                Some(p) if p.starts_with("t3_") => "post_reply",
                _ if state.seq.is_multiple_of(3) => "username_mention",
                _ => "comment_reply",
            };
            let item = state.inbox_item(kind, comment, None);
            state.inbox.push(item);
        }
        state
    }

    /// A comment as Reddit lists it in the inbox: the comment's fields plus
    /// `type`, `subject`, `context`, `was_comment`, `new`, `dest`.
    fn inbox_item(&mut self, kind: &str, comment: Value, created: Option<f64>) -> Thing {
        self.seq += 1;
        let seq = self.seq;
        let mut data = match comment {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        let id = data
            .get("id")
            .and_then(Value::as_str)
            .filter(|_| created.is_none())
            .map_or_else(|| format!("n{}", base36(seq)), str::to_string);
        let author = data
            .get("author")
            .and_then(Value::as_str)
            .unwrap_or("curious_customer")
            .to_string();
        let subreddit = data
            .get("subreddit")
            .and_then(Value::as_str)
            .unwrap_or("acme")
            .to_string();
        let link = data
            .get("link_id")
            .and_then(Value::as_str)
            .map_or_else(|| format!("t3_l{}", base36(seq)), str::to_string);
        let created = created
            .or_else(|| data.get("created_utc").and_then(Value::as_f64))
            .unwrap_or(0.0);
        let subject = match kind {
            "username_mention" => "username mention",
            "post_reply" => "post reply",
            _ => "comment reply",
        };
        let link_short = link.trim_start_matches("t3_").to_string();
        let mut set = |key: &str, value: Value| {
            data.insert(key.to_string(), value);
        };
        set("id", json!(id));
        set("name", json!(format!("t1_{id}")));
        set("author", json!(author));
        set("subreddit", json!(subreddit));
        set("subreddit_name_prefixed", json!(format!("r/{subreddit}")));
        set("created", json!(created));
        set("created_utc", json!(created));
        set("type", json!(kind));
        set("subject", json!(subject));
        set("was_comment", json!(true));
        set("new", json!(true));
        set("dest", json!(BRAND));
        set(
            "context",
            json!(format!("/r/{subreddit}/comments/{link_short}/_/{id}/?context=3")),
        );
        set("link_title", json!("A thread"));
        // Deleted accounts have no id.
        if author != "[deleted]" {
            set("author_fullname", json!(user_fullname(&author)));
        }
        data.entry("body")
            .or_insert_with(|| json!("Hey u/acme_support, any news?"));
        data.entry("link_id").or_insert_with(|| json!(link.clone()));
        data.entry("parent_id").or_insert_with(|| json!(link.clone()));
        Thing {
            name: format!("t1_{id}"),
            created,
            seq,
            json: json!({ "kind": "t1", "data": Value::Object(data) }),
        }
    }

    /// Newest first, as Reddit sorts the inbox.
    fn inbox_sorted(&self) -> Vec<&Thing> {
        sorted(&self.inbox)
    }

    fn refill_rate(&mut self, now: SystemTime) {
        if now >= self.rate_reset_at {
            self.rate_remaining = RATE_LIMIT;
            self.rate_reset_at = now + RATE_PERIOD;
        }
    }

    /// Every thing a comment may answer, by fullname.
    fn parent(&self, fullname: &str) -> Option<Value> {
        self.inbox
            .iter()
            .chain(&self.posts)
            .find(|t| t.name == fullname)
            .map(|t| t.json["data"].clone())
            .or_else(|| {
                self.posted
                    .iter()
                    .chain(&self.recorded)
                    .find(|c| c["name"] == fullname)
                    .cloned()
            })
    }
}

fn sorted(things: &[Thing]) -> Vec<&Thing> {
    let mut things: Vec<&Thing> = things.iter().collect();
    things.sort_by(|a, b| b.created.total_cmp(&a.created).then(b.seq.cmp(&a.seq)));
    things
}

/// A response before the rate-limit headers are added.
struct Reply {
    status: StatusCode,
    body: Vec<u8>,
    headers: Vec<(HeaderName, String)>,
}

impl Reply {
    fn ok(value: &Value) -> Self {
        Reply {
            status: StatusCode::OK,
            body: value.to_string().into_bytes(),
            headers: Vec::new(),
        }
    }

    /// Reddit's error body: `{"message": "Not Found", "error": 404}`.
    fn error(status: StatusCode) -> Self {
        let message = status.canonical_reason().unwrap_or("Error");
        Reply {
            status,
            body: json!({ "message": message, "error": status.as_u16() })
                .to_string()
                .into_bytes(),
            headers: Vec::new(),
        }
    }

    fn unauthorized() -> Self {
        let mut reply = Self::error(StatusCode::UNAUTHORIZED);
        reply.headers.push((
            header::WWW_AUTHENTICATE,
            "Bearer realm=\"reddit\", error=\"invalid_token\"".into(),
        ));
        reply
    }

    /// `{"json": {"errors": [[code, message, field]]}}` in a 200.
    fn api_error(code: &str, message: &str, field: Option<&str>) -> Self {
        Self::ok(&json!({ "json": { "errors": [[code, message, field]] } }))
    }

    fn finish(self, used: u32, remaining: u32, reset_at: SystemTime, now: SystemTime) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=UTF-8"),
        );
        let reset = reset_at.duration_since(now).unwrap_or(Duration::ZERO).as_secs();
        for (name, value) in [
            ("x-ratelimit-used", used.to_string()),
            ("x-ratelimit-remaining", format!("{remaining}.0")),
            ("x-ratelimit-reset", reset.to_string()),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
            }
        }
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.append(name, value);
            }
        }
        response
    }
}

async fn handle(AxumState(shared): AxumState<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES).await;
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let now = SystemTime::now();

    let mut st = lock(&shared);
    st.requests
        .push(RecordedRequest::of(&parts, body.as_deref().unwrap_or_default()));

    st.refill_rate(now);
    let used = |remaining: u32| RATE_LIMIT.saturating_sub(remaining);
    if let Some(fault) = st.faults.pop_front() {
        let (remaining, reset_at) = (st.rate_remaining, st.rate_reset_at);
        let reply = match fault {
            Fault::Status(code) => Reply::error(
                StatusCode::from_u16(code)
                    .ok()
                    .filter(|s| s.as_u16() >= 200)
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            ),
            Fault::Malformed => Reply {
                status: StatusCode::OK,
                body: br#"{"kind": "Listing", "data": {"after": null, "children": [{"kind": "t1", "data": {"id": "#
                    .to_vec(),
                headers: Vec::new(),
            },
            Fault::RateLimited { reset_in_secs } => {
                let reset_at = now + Duration::from_secs(reset_in_secs);
                return Reply::error(StatusCode::TOO_MANY_REQUESTS).finish(RATE_LIMIT, 0, reset_at, now);
            }
            Fault::Unauthorized => Reply::unauthorized(),
            Fault::ActionRateLimit { minutes } => Reply::api_error(
                "RATELIMIT",
                &format!("you are doing that too much. try again in {minutes} minutes."),
                Some("ratelimit"),
            ),
        };
        return reply.finish(used(remaining), remaining, reset_at, now);
    }

    let reset_at = st.rate_reset_at;
    if st.rate_remaining == 0 {
        return Reply::error(StatusCode::TOO_MANY_REQUESTS).finish(RATE_LIMIT, 0, reset_at, now);
    }
    st.rate_remaining -= 1;
    let remaining = st.rate_remaining;

    let reply = match body {
        Err(_) => Reply::error(StatusCode::PAYLOAD_TOO_LARGE),
        Ok(_) if !authorized(&parts.headers) => Reply::unauthorized(),
        Ok(body) => route(&mut st, parts.method.as_str(), &path, &query, &body, now),
    };
    reply.finish(used(remaining), remaining, reset_at, now)
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && token.trim() == TOKEN)
}

fn route(st: &mut State, method: &str, path: &str, query: &str, body: &[u8], now: SystemTime) -> Reply {
    let params: HashMap<String, String> = parse_form(query).into_iter().rev().collect();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["api", "v1", "me"]) => Reply::ok(&json!({
            "name": BRAND,
            "id": BRAND_ID.trim_start_matches("t2_"),
            "created_utc": 1_600_000_000.0,
            "link_karma": 1,
            "comment_karma": 12,
            "has_verified_email": true,
            "is_employee": false,
            "icon_img": "https://www.redditstatic.com/avatars/defaults/v2/avatar_default_1.png",
        })),
        ("GET", ["message", which]) => {
            let kind = match *which {
                "inbox" | "unread" => None,
                "mentions" => Some("username_mention"),
                "comments" => Some("comment_reply"),
                "selfreply" => Some("post_reply"),
                _ => return Reply::error(StatusCode::NOT_FOUND),
            };
            let things: Vec<&Thing> = st
                .inbox_sorted()
                .into_iter()
                .filter(|t| kind.is_none_or(|k| t.json["data"]["type"] == k))
                .collect();
            listing(&things, &params)
        }
        ("GET", ["search"]) => search(st, &params, None),
        ("GET", ["r", subreddits, "search"]) => {
            let restrict = params
                .get("restrict_sr")
                .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "on" | "yes"));
            let subs: Vec<String> = subreddits.split('+').map(str::to_ascii_lowercase).collect();
            search(st, &params, restrict.then_some(subs))
        }
        ("POST", ["api", "comment"]) => comment(st, body, now),
        _ => Reply::error(StatusCode::NOT_FOUND),
    }
}

/// Reddit's listing pagination over `things` (newest first): the page after
/// or before an anchor fullname, empty when the anchor is not listed.
fn listing(things: &[&Thing], params: &HashMap<String, String>) -> Reply {
    let limit = params
        .get("limit")
        .and_then(|l| l.trim().parse::<usize>().ok())
        .map_or(DEFAULT_LIMIT, |l| l.clamp(1, MAX_LIMIT));
    let at = |name: &String| things.iter().position(|t| &t.name == name);
    let range = match (params.get("after"), params.get("before")) {
        (Some(after), _) => at(after).map(|i| i + 1..(i + 1 + limit).min(things.len())),
        (None, Some(before)) => at(before).map(|i| i.saturating_sub(limit)..i),
        (None, None) => Some(0..limit.min(things.len())),
    };
    let range = range.unwrap_or(0..0);
    let page = &things[range.clone()];
    let name_if = |more: bool, thing: Option<&&Thing>| match (more, thing) {
        (true, Some(t)) => Value::String(t.name.clone()),
        _ => Value::Null,
    };
    let more_below = !page.is_empty() && range.end < things.len();
    let more_above = !page.is_empty() && range.start > 0;
    Reply::ok(&json!({
        "kind": "Listing",
        "data": {
            "after": name_if(more_below, page.last()),
            "dist": page.len(),
            "modhash": null,
            "geo_filter": "",
            "children": page.iter().map(|t| t.json.clone()).collect::<Vec<_>>(),
            "before": name_if(more_above, page.first()),
        }
    }))
}

/// `q` as Reddit's search reads the plugin's queries: terms joined by `OR`,
/// phrases in quotes, matched in a post's title and text, case-insensitively.
fn search(st: &State, params: &HashMap<String, String>, subreddits: Option<Vec<String>>) -> Reply {
    let q = params.get("q").map(String::as_str).unwrap_or_default();
    let terms: Vec<String> = q
        .split(" OR ")
        .map(|t| t.trim().trim_matches('"').to_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    let hits: Vec<&Thing> = sorted(&st.posts)
        .into_iter()
        .filter(|t| {
            let data = &t.json["data"];
            let in_sub = subreddits
                .as_ref()
                .is_none_or(|subs| subs.contains(&data["subreddit"].as_str().unwrap_or_default().to_ascii_lowercase()));
            let text = format!(
                "{} {}",
                data["title"].as_str().unwrap_or_default(),
                data["selftext"].as_str().unwrap_or_default()
            )
            .to_lowercase();
            in_sub && terms.iter().any(|term| text.contains(term.as_str()))
        })
        .collect();
    listing(&hits, params)
}

/// `POST /api/comment` with `thing_id`, `text` and `api_type=json`.
fn comment(st: &mut State, body: &[u8], now: SystemTime) -> Reply {
    let form: HashMap<String, String> = parse_form(&String::from_utf8_lossy(body)).into_iter().rev().collect();
    if form.get("api_type").map(String::as_str) != Some("json") {
        return Reply::ok(&json!({ "jquery": [], "success": false }));
    }
    let text = form.get("text").cloned().unwrap_or_default();
    if text.trim().is_empty() {
        return Reply::api_error("NO_TEXT", "we need something here", Some("text"));
    }
    if text.chars().count() > MAX_COMMENT_CHARS {
        return Reply::api_error(
            "TOO_LONG",
            &format!("this is too long (max: {MAX_COMMENT_CHARS})"),
            Some("text"),
        );
    }
    let thing_id = form.get("thing_id").cloned().unwrap_or_default();
    let Some(parent) = st.parent(&thing_id) else {
        return Reply::api_error("DELETED_COMMENT", "that comment has been deleted", Some("parent"));
    };
    st.seq += 1;
    let id = format!("c{}", base36(st.seq));
    let subreddit = parent["subreddit"].as_str().unwrap_or("acme").to_string();
    let link_id = if thing_id.starts_with("t3_") {
        thing_id.clone()
    } else {
        parent["link_id"].as_str().unwrap_or_default().to_string()
    };
    let created = unix_secs(now);
    let comment = json!({
        "id": id,
        "name": format!("t1_{id}"),
        "author": BRAND,
        "author_fullname": BRAND_ID,
        "body": text,
        "parent_id": thing_id,
        "link_id": link_id,
        "subreddit": subreddit,
        "created": created,
        "created_utc": created,
        "permalink": format!("/r/{subreddit}/comments/{}/_/{id}/", link_id.trim_start_matches("t3_")),
        "score": 1,
        "replies": "",
    });
    st.posted.push(comment.clone());
    Reply::ok(&json!({ "json": { "errors": [], "data": { "things": [{ "kind": "t1", "data": comment }] } } }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_stable_and_distinct() {
        assert_eq!(user_fullname("spez"), user_fullname("SPEZ"));
        assert_ne!(user_fullname("spez"), user_fullname("kn0thing"));
        assert!(user_fullname("spez").starts_with("t2_"));
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
    }

    #[test]
    fn the_inbox_starts_with_recorded_comments() {
        let st = State::new(recorded_comments().unwrap());
        assert_eq!(st.inbox.len(), INITIAL_INBOX);
        let sorted = st.inbox_sorted();
        assert!(sorted.windows(2).all(|w| w[0].created >= w[1].created));
        let kinds: std::collections::HashSet<&str> = st
            .inbox
            .iter()
            .filter_map(|t| t.json["data"]["type"].as_str())
            .collect();
        assert_eq!(kinds.len(), 3, "{kinds:?}");
        let deleted = st.inbox.iter().filter(|t| t.json["data"]["author"] == "[deleted]");
        assert!(deleted.clone().count() > 0);
        assert!(
            deleted
                .into_iter()
                .all(|t| t.json["data"].get("author_fullname").is_none())
        );
    }
}
