//! A fake Bluesky PDS with its AppView behind it, speaking XRPC as the
//! lexicons document it (<https://docs.bsky.app/docs/category/http-reference>,
//! `lexicons/` of github.com/bluesky-social/atproto): sessions
//! (`com.atproto.server.createSession`, `refreshSession`), the repository
//! (`com.atproto.repo.listRecords`, `createRecord`), notifications
//! (`app.bsky.notification.listNotifications`) and posts
//! (`app.bsky.feed.searchPosts`, `getPosts`), with XRPC error bodies and the
//! `ratelimit-*` headers the PDS sends.
//!
//! One account lives here, the brand ([`HANDLE`], [`DID`], [`APP_PASSWORD`]).
//! Everyone else exists only as the author of posts pushed by a test.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

pub use super::server::RecordedRequest;
use super::server::Server;
use super::util::{iso8601_millis, parse_form};
use crate::tokens::bearer;

/// The brand's handle.
pub const HANDLE: &str = "brand.bsky.social";
/// The brand's DID.
pub const DID: &str = "did:plc:brand7nxzyoun6zhxrhs64oiz";
/// The brand's app password: the only password `createSession` accepts.
pub const APP_PASSWORD: &str = "abcd-efgh-ijkl-mnop";
/// `ratelimit-limit`, with the policy `3000;w=300` of the PDS's global limit.
pub const RATE_LIMIT: u32 = 3000;
const RATE_WINDOW: Duration = Duration::from_secs(300);
/// An access token lives two hours, as the PDS's do; tests expire them at will.
const ACCESS_TTL: Duration = Duration::from_secs(2 * 3600);
/// Posts may hold 300 graphemes (counted here as characters).
const MAX_GRAPHEMES: usize = 300;
const MAX_BODY_BYTES: usize = 1 << 20;
const POST: &str = "app.bsky.feed.post";

/// A failure injected into the next XRPC request (one per request, in the
/// order queued). A faulted request has no side effect and spends no budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// That HTTP status with an XRPC error body; codes below 400 become 500.
    Status(u16),
    /// 200 with a JSON content type but a truncated, unparsable body.
    Malformed,
    /// 429 `RateLimitExceeded` with `ratelimit-remaining: 0` and a reset this far ahead.
    RateLimited { reset_in_secs: u64 },
    /// 401 `AuthenticationRequired`, as for a token the server no longer accepts.
    Unauthorized,
    /// 400 `ExpiredToken`, as for an access token past its expiry.
    ExpiredToken,
}

/// A running fake server; it stops when dropped.
pub struct FakeBluesky {
    server: Server,
    state: Shared,
}

type Shared = Arc<Mutex<State>>;

impl FakeBluesky {
    /// Binds 127.0.0.1 on a free port and serves on the current tokio runtime.
    pub async fn start() -> anyhow::Result<Self> {
        let (server, state) = Server::start("the fake Bluesky server", |_| {
            let state: Shared = Arc::new(Mutex::new(State::new()));
            Ok((Router::new().fallback(handle).with_state(Arc::clone(&state)), state))
        })
        .await?;
        Ok(Self { server, state })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// A post by `author` (a handle; the account is made on first use) that
    /// mentions the brand, with its mention facet; notifies the brand. Returns its uri.
    pub fn push_mention(&self, author: &str, text: &str) -> String {
        let mut st = self.lock();
        let mut record = st.new_record(text, None);
        let mention = format!("@{HANDLE}");
        if let Some(start) = text.find(&mention) {
            record["facets"] = json!([{
                "index": { "byteStart": start, "byteEnd": start + mention.len() },
                "features": [{ "$type": "app.bsky.richtext.facet#mention", "did": DID }],
            }]);
        }
        let uri = st.publish(author, record);
        st.notify(&uri, "mention", None);
        uri
    }

    /// A reply by `author` to the post `parent` (root taken from the parent's
    /// own reply); notifies the brand when it wrote the parent or the thread's
    /// root, as the AppView notifies a thread's authors.
    pub fn push_reply(&self, author: &str, text: &str, parent: &str) -> String {
        let mut st = self.lock();
        let refs = st.reply_refs(parent);
        let root = refs
            .as_ref()
            .and_then(|r| r["root"]["uri"].as_str().map(str::to_string));
        let record = st.new_record(text, refs);
        let uri = st.publish(author, record);
        let brands = |uri: &str| uri.starts_with(&format!("at://{DID}/"));
        if brands(parent) || root.as_deref().is_some_and(brands) {
            st.notify(&uri, "reply", Some(parent.to_string()));
        }
        uri
    }

    /// A post by `author` quoting `quoted`; notifies the brand when `quoted` is the brand's.
    pub fn push_quote(&self, author: &str, text: &str, quoted: &str) -> String {
        let mut st = self.lock();
        let mut record = st.new_record(text, None);
        if let Some(post) = st.posts.get(quoted) {
            record["embed"] = json!({
                "$type": "app.bsky.embed.record",
                "record": { "uri": post.uri, "cid": post.cid },
            });
        }
        let uri = st.publish(author, record);
        if quoted.starts_with(&format!("at://{DID}/")) {
            st.notify(&uri, "quote", Some(quoted.to_string()));
        }
        uri
    }

    /// A post by `author` that notifies nobody: only search finds it.
    pub fn push_post(&self, author: &str, text: &str) -> String {
        let mut st = self.lock();
        let record = st.new_record(text, None);
        st.publish(author, record)
    }

    /// A post of the brand's own, in its repository.
    pub fn push_own_post(&self, text: &str) -> String {
        self.push_post(HANDLE, text)
    }

    /// The DID of the account with `handle` (made on first use).
    pub fn did_of(&self, handle: &str) -> String {
        self.lock().actor(handle)
    }

    /// Queues a fault for the next XRPC request not already claimed by an earlier one.
    pub fn fail_next(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    /// Every access token issued so far expires now (the next use gets `ExpiredToken`).
    pub fn expire_access_tokens(&self) {
        let now = SystemTime::now();
        for expiry in self.lock().access.values_mut() {
            *expiry = (*expiry).min(now);
        }
    }

    /// Revokes every session, as changing the app password does, and sets a new password.
    pub fn change_app_password(&self, password: &str) {
        let mut st = self.lock();
        st.password = password.to_string();
        st.access.clear();
        st.refresh.clear();
    }

    /// Sets the rate-limit budget: `remaining` more requests until the window
    /// resets `reset_in_secs` from now.
    pub fn set_rate_limit(&self, remaining: u32, reset_in_secs: u64) {
        let mut st = self.lock();
        st.rate_remaining = remaining;
        st.rate_reset_at = SystemTime::now() + Duration::from_secs(reset_in_secs);
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// The records created through `createRecord`, oldest first, as `{uri, cid, value}`.
    pub fn created(&self) -> Vec<Value> {
        self.lock().created.clone()
    }

    /// Deletes post `uri` as its author does (`com.atproto.repo.deleteRecord`):
    /// gone from every list and from `getPosts`.
    pub fn delete_post(&self, uri: &str) {
        let mut st = self.lock();
        st.posts.remove(uri);
        st.repo.retain(|(_, u)| u != uri);
        st.notifications.retain(|n| n.uri != uri);
    }

    /// Rewrites the text of post `uri` (`com.atproto.repo.putRecord`): a
    /// new record version, so a new cid.
    pub fn edit_post(&self, uri: &str, text: &str) {
        let mut st = self.lock();
        if let Some(post) = st.posts.get_mut(uri) {
            post.record["text"] = Value::String(text.to_string());
            post.cid = cid_of(&format!("{uri}{}", post.record));
        }
    }

    /// A post as `app.bsky.feed.getPosts` shows it.
    pub fn post_view(&self, uri: &str) -> Option<Value> {
        let st = self.lock();
        st.posts.get(uri).map(|p| st.post_view(p))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

// A panic while holding the lock must not turn every later request into a
// panic too; the state stays usable.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

struct PostEntry {
    uri: String,
    cid: String,
    author: String,
    record: Value,
    /// Milliseconds; the AppView's `sortAt`, shown as `indexedAt`.
    indexed_at: u64,
}

struct NotificationEntry {
    uri: String,
    reason: &'static str,
    reason_subject: Option<String>,
    sort_at: u64,
}

struct State {
    password: String,
    /// Profiles by DID, and DIDs by handle.
    profiles: HashMap<String, Value>,
    dids: HashMap<String, String>,
    posts: HashMap<String, PostEntry>,
    /// The brand's repository: (rkey, uri), in no particular order.
    repo: Vec<(String, String)>,
    notifications: Vec<NotificationEntry>,
    created: Vec<Value>,
    /// Access tokens and when they expire; refresh tokens still valid.
    access: HashMap<String, SystemTime>,
    refresh: HashSet<String>,
    tokens_issued: u64,
    /// The last time handed out, so that times (and TIDs) never repeat.
    last_micros: u64,
    faults: VecDeque<Fault>,
    requests: Vec<RecordedRequest>,
    rate_remaining: u32,
    rate_reset_at: SystemTime,
}

impl State {
    fn new() -> Self {
        let mut state = State {
            password: APP_PASSWORD.to_string(),
            profiles: HashMap::new(),
            dids: HashMap::new(),
            posts: HashMap::new(),
            repo: Vec::new(),
            notifications: Vec::new(),
            created: Vec::new(),
            access: HashMap::new(),
            refresh: HashSet::new(),
            tokens_issued: 0,
            last_micros: 0,
            faults: VecDeque::new(),
            requests: Vec::new(),
            rate_remaining: RATE_LIMIT,
            rate_reset_at: SystemTime::now() + RATE_WINDOW,
        };
        state.dids.insert(HANDLE.to_string(), DID.to_string());
        state.profiles.insert(DID.to_string(), profile(DID, HANDLE, "Brand"));
        state
    }

    /// The DID of `handle`, making the account on first use.
    fn actor(&mut self, handle: &str) -> String {
        if let Some(did) = self.dids.get(handle) {
            return did.clone();
        }
        let did = format!("did:plc:{}", &base32(handle.as_bytes())[..24]);
        let name = handle.split('.').next().unwrap_or(handle);
        let mut display = name.to_string();
        if let Some(first) = display.get_mut(..1) {
            first.make_ascii_uppercase();
        }
        self.dids.insert(handle.to_string(), did.clone());
        self.profiles.insert(did.clone(), profile(&did, handle, &display));
        did
    }

    /// A time in microseconds, later than every one before.
    fn tick(&mut self) -> u64 {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        // Whole milliseconds apart, so `indexedAt` (in ms) orders them too.
        self.last_micros = now.max(self.last_micros + 1_000) / 1_000 * 1_000;
        self.last_micros
    }

    fn new_record(&mut self, text: &str, reply: Option<Value>) -> Value {
        let micros = self.tick();
        let mut record = json!({
            "$type": POST,
            "text": text,
            "createdAt": iso8601_millis(UNIX_EPOCH + Duration::from_micros(micros)),
            "langs": ["en"],
        });
        if let Some(reply) = reply {
            record["reply"] = reply;
        }
        record
    }

    /// The `reply` of an answer to `parent`.
    fn reply_refs(&self, parent: &str) -> Option<Value> {
        let post = self.posts.get(parent)?;
        let parent_ref = json!({ "uri": post.uri, "cid": post.cid });
        let root = post.record["reply"]["root"].clone();
        Some(json!({ "root": if root.is_null() { parent_ref.clone() } else { root }, "parent": parent_ref }))
    }

    /// Writes `record` to `author`'s repository and indexes it; returns its uri.
    fn publish(&mut self, author: &str, record: Value) -> String {
        let did = self.actor(author);
        let micros = self.tick();
        let rkey = tid(micros);
        let uri = format!("at://{did}/{POST}/{rkey}");
        let cid = cid_of(&format!("{uri}{record}"));
        if did == DID {
            self.repo.push((rkey, uri.clone()));
        }
        self.posts.insert(
            uri.clone(),
            PostEntry {
                uri: uri.clone(),
                cid,
                author: did,
                record,
                indexed_at: micros / 1_000,
            },
        );
        uri
    }

    fn notify(&mut self, uri: &str, reason: &'static str, reason_subject: Option<String>) {
        let sort_at = self.posts.get(uri).map_or(0, |p| p.indexed_at);
        self.notifications.push(NotificationEntry {
            uri: uri.to_string(),
            reason,
            reason_subject,
            sort_at,
        });
    }

    fn issue_session(&mut self, now: SystemTime) -> Value {
        self.tokens_issued += 1;
        let n = self.tokens_issued;
        let access = format!("fake-access-jwt.{n}.{}", base32(format!("access{n}").as_bytes()));
        let refresh = format!("fake-refresh-jwt.{n}.{}", base32(format!("refresh{n}").as_bytes()));
        self.access.insert(access.clone(), now + ACCESS_TTL);
        self.refresh.insert(refresh.clone());
        json!({
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": HANDLE,
            "did": DID,
            "email": "social@brand.example",
            "emailConfirmed": true,
            "active": true,
        })
    }

    fn post_view(&self, post: &PostEntry) -> Value {
        let author = self.profiles.get(&post.author).cloned().unwrap_or(Value::Null);
        let replies = self
            .posts
            .values()
            .filter(|p| p.record["reply"]["parent"]["uri"] == post.uri.as_str())
            .count();
        json!({
            "uri": post.uri,
            "cid": post.cid,
            "author": basic(&author),
            "record": post.record,
            "replyCount": replies,
            "repostCount": 0,
            "likeCount": 0,
            "quoteCount": 0,
            "indexedAt": iso8601_millis(UNIX_EPOCH + Duration::from_millis(post.indexed_at)),
            "viewer": { "threadMuted": false, "embeddingDisabled": false },
            "labels": [],
        })
    }

    fn refill_rate(&mut self, now: SystemTime) {
        if now >= self.rate_reset_at {
            self.rate_remaining = RATE_LIMIT;
            self.rate_reset_at = now + RATE_WINDOW;
        }
    }
}

/// An `app.bsky.actor.defs#profileView`.
fn profile(did: &str, handle: &str, display_name: &str) -> Value {
    json!({
        "did": did,
        "handle": handle,
        "displayName": display_name,
        "avatar": format!("https://cdn.bsky.app/img/avatar/plain/{did}/bafkreiavatar@jpeg"),
        "description": format!("{display_name} on Bluesky"),
        "indexedAt": "2024-11-20T08:00:00.000Z",
        "createdAt": "2024-11-20T07:59:00.000Z",
        "labels": [],
        "viewer": { "muted": false, "blockedBy": false },
    })
}

/// The `profileViewBasic` a post view embeds.
fn basic(profile: &Value) -> Value {
    let mut basic = profile.clone();
    if let Value::Object(map) = &mut basic {
        map.remove("description");
        map.remove("indexedAt");
    }
    basic
}

/// RFC 4648 base32, lower case, without padding: the alphabet of CIDs and `did:plc`.
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    // Stretched with FNV-1a so short inputs still give long, distinct strings.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut out = String::new();
    for round in 0u8..8 {
        for &b in bytes.iter().chain([round].iter()) {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        for i in 0..12 {
            out.push(char::from(ALPHABET[(hash >> (i * 5) & 31) as usize]));
        }
    }
    out
}

/// A CIDv1 in the shape the PDS prints (`bafyrei` and 52 base32 characters).
fn cid_of(content: &str) -> String {
    format!("bafyrei{}", &base32(content.as_bytes())[..52])
}

/// A TID record key: 53 bits of microseconds and a 10-bit clock id, base32-sortable.
fn tid(micros: u64) -> String {
    const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
    let value = (micros & ((1 << 53) - 1)) << 10;
    (0..13)
        .rev()
        .map(|i| char::from(ALPHABET[(value >> (i * 5) & 31) as usize]))
        .collect()
}

/// A response before the headers every response shares are added.
struct Reply {
    status: StatusCode,
    body: Vec<u8>,
}

impl Reply {
    fn ok(value: &Value) -> Self {
        Reply {
            status: StatusCode::OK,
            body: value.to_string().into_bytes(),
        }
    }

    /// An XRPC error: `{"error": NAME, "message": TEXT}`.
    fn error(status: StatusCode, error: &str, message: &str) -> Self {
        Reply {
            status,
            body: json!({ "error": error, "message": message }).to_string().into_bytes(),
        }
    }

    fn invalid(message: &str) -> Self {
        Self::error(StatusCode::BAD_REQUEST, "InvalidRequest", message)
    }

    fn finish(self, remaining: u32, reset_at: SystemTime) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        let reset = reset_at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        for (name, value) in [
            ("ratelimit-limit", RATE_LIMIT.to_string()),
            ("ratelimit-remaining", remaining.to_string()),
            ("ratelimit-reset", reset.to_string()),
            ("ratelimit-policy", format!("{RATE_LIMIT};w={}", RATE_WINDOW.as_secs())),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(HeaderName::from_static(name), value);
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
    let Some(nsid) = path.strip_prefix("/xrpc/") else {
        return Reply::error(StatusCode::NOT_FOUND, "NotFound", "Not Found")
            .finish(st.rate_remaining, st.rate_reset_at);
    };
    if let Some(fault) = st.faults.pop_front() {
        return fault_reply(fault, now, st.rate_remaining, st.rate_reset_at);
    }
    let reset_at = st.rate_reset_at;
    if st.rate_remaining == 0 {
        return Reply::error(
            StatusCode::TOO_MANY_REQUESTS,
            "RateLimitExceeded",
            "Rate Limit Exceeded",
        )
        .finish(0, reset_at);
    }
    st.rate_remaining -= 1;
    let remaining = st.rate_remaining;
    let reply = match body {
        Err(_) => Reply::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PayloadTooLarge",
            "request entity too large",
        ),
        Ok(body) => route(&mut st, parts.method.as_str(), nsid, &query, &parts.headers, &body, now),
    };
    reply.finish(remaining, reset_at)
}

fn fault_reply(fault: Fault, now: SystemTime, remaining: u32, reset_at: SystemTime) -> Response {
    match fault {
        Fault::Status(code) => {
            let status = StatusCode::from_u16(code)
                .ok()
                .filter(|s| s.as_u16() >= 400)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let error = if status.is_server_error() {
                "InternalServerError"
            } else {
                "InvalidRequest"
            };
            Reply::error(status, error, status.canonical_reason().unwrap_or("Error")).finish(remaining, reset_at)
        }
        Fault::Malformed => Reply {
            status: StatusCode::OK,
            body: br#"{"cursor":"1732","notifications":[{"uri":"at://did:plc:x/app.bsky.feed.post/3l"#.to_vec(),
        }
        .finish(remaining, reset_at),
        Fault::RateLimited { reset_in_secs } => Reply::error(
            StatusCode::TOO_MANY_REQUESTS,
            "RateLimitExceeded",
            "Rate Limit Exceeded",
        )
        .finish(0, now + Duration::from_secs(reset_in_secs)),
        Fault::Unauthorized => Reply::error(
            StatusCode::UNAUTHORIZED,
            "AuthenticationRequired",
            "Token could not be verified",
        )
        .finish(remaining, reset_at),
        Fault::ExpiredToken => {
            Reply::error(StatusCode::BAD_REQUEST, "ExpiredToken", "Token has expired").finish(remaining, reset_at)
        }
    }
}

/// Whether the request carries a live access token; the XRPC error when not.
fn signed_in(st: &State, headers: &HeaderMap, now: SystemTime) -> Result<(), Reply> {
    let Some(token) = bearer(headers) else {
        return Err(Reply::error(
            StatusCode::UNAUTHORIZED,
            "AuthMissing",
            "Authentication Required",
        ));
    };
    match st.access.get(token) {
        Some(expiry) if *expiry > now => Ok(()),
        Some(_) => Err(Reply::error(
            StatusCode::BAD_REQUEST,
            "ExpiredToken",
            "Token has expired",
        )),
        None => Err(Reply::error(
            StatusCode::UNAUTHORIZED,
            "InvalidToken",
            "Token could not be verified",
        )),
    }
}

fn route(
    st: &mut State,
    method: &str,
    nsid: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Reply {
    let params = parse_form(query);
    match (method, nsid) {
        ("POST", "com.atproto.server.createSession") => create_session(st, body, now),
        ("POST", "com.atproto.server.refreshSession") => refresh_session(st, headers, now),
        ("GET", "app.bsky.notification.listNotifications")
        | ("GET", "com.atproto.repo.listRecords")
        | ("GET", "app.bsky.feed.searchPosts")
        | ("GET", "app.bsky.feed.getPosts")
        | ("POST", "com.atproto.repo.createRecord") => {
            if let Err(reply) = signed_in(st, headers, now) {
                return reply;
            }
            match nsid {
                "app.bsky.notification.listNotifications" => list_notifications(st, &params),
                "com.atproto.repo.listRecords" => list_records(st, &params),
                "app.bsky.feed.searchPosts" => search_posts(st, &params),
                "app.bsky.feed.getPosts" => get_posts(st, &params),
                _ => create_record(st, body),
            }
        }
        (_, nsid) if nsid.contains('.') => Reply::error(
            StatusCode::NOT_IMPLEMENTED,
            "MethodNotImplemented",
            "Method Not Implemented",
        ),
        _ => Reply::error(StatusCode::NOT_FOUND, "NotFound", "Not Found"),
    }
}

fn json_body(body: &[u8]) -> Result<serde_json::Map<String, Value>, Reply> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(Reply::invalid("Input must be a JSON object")),
    }
}

fn create_session(st: &mut State, body: &[u8], now: SystemTime) -> Reply {
    let input = match json_body(body) {
        Ok(input) => input,
        Err(reply) => return reply,
    };
    let field = |name: &str| input.get(name).and_then(Value::as_str);
    let (Some(identifier), Some(password)) = (field("identifier"), field("password")) else {
        return Reply::invalid("Input must have the properties \"identifier\" and \"password\"");
    };
    let identifier = identifier.trim_start_matches('@').to_ascii_lowercase();
    if (identifier != HANDLE && identifier != DID) || password != st.password {
        return Reply::error(
            StatusCode::UNAUTHORIZED,
            "AuthenticationRequired",
            "Invalid identifier or password",
        );
    }
    Reply::ok(&st.issue_session(now))
}

/// Refresh tokens are single-use: a refresh revokes the one it used.
fn refresh_session(st: &mut State, headers: &HeaderMap, now: SystemTime) -> Reply {
    let Some(token) = bearer(headers).map(str::to_string) else {
        return Reply::error(StatusCode::UNAUTHORIZED, "AuthMissing", "Authentication Required");
    };
    if st.access.contains_key(&token) {
        return Reply::error(StatusCode::BAD_REQUEST, "InvalidToken", "Invalid token type");
    }
    if !st.refresh.remove(&token) {
        return Reply::error(StatusCode::BAD_REQUEST, "ExpiredToken", "Token has been revoked");
    }
    let mut session = st.issue_session(now);
    if let Value::Object(map) = &mut session {
        map.remove("email");
        map.remove("emailConfirmed");
    }
    Reply::ok(&session)
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `limit`, checked against the lexicon's bounds.
fn limit(params: &[(String, String)], default: usize, max: usize) -> Result<usize, Reply> {
    match param(params, "limit") {
        None => Ok(default),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| Reply::invalid(&format!("limit must be an integer from 1 to {max}"))),
    }
}

/// Newest first by (sortAt, uri); the cursor is the last item's `sortAt::uri`,
/// as the AppView's keyset pagination does.
fn list_notifications(st: &State, params: &[(String, String)]) -> Reply {
    let limit = match limit(params, 50, 100) {
        Ok(limit) => limit,
        Err(reply) => return reply,
    };
    let reasons: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "reasons")
        .map(|(_, v)| v.as_str())
        .collect();
    let after = match param(params, "cursor").map(|c| c.split_once("::").map(|(t, u)| (t.parse::<u64>(), u))) {
        None => None,
        Some(Some((Ok(sort_at), uri))) => Some((sort_at, uri.to_string())),
        Some(_) => return Reply::invalid("Malformed cursor"),
    };
    let mut listed: Vec<&NotificationEntry> = st
        .notifications
        .iter()
        .filter(|n| reasons.is_empty() || reasons.contains(&n.reason))
        .filter(|n| after.as_ref().is_none_or(|(t, u)| (n.sort_at, &n.uri) < (*t, u)))
        .collect();
    listed.sort_by(|a, b| (b.sort_at, &b.uri).cmp(&(a.sort_at, &a.uri)));
    listed.truncate(limit);
    let notifications: Vec<Value> = listed
        .iter()
        .filter_map(|n| {
            let post = st.posts.get(&n.uri)?;
            let mut view = json!({
                "uri": post.uri,
                "cid": post.cid,
                "author": st.profiles.get(&post.author),
                "reason": n.reason,
                "record": post.record,
                "isRead": false,
                "indexedAt": iso8601_millis(UNIX_EPOCH + Duration::from_millis(n.sort_at)),
                "labels": [],
            });
            if let Some(subject) = &n.reason_subject {
                view["reasonSubject"] = Value::String(subject.clone());
            }
            Some(view)
        })
        .collect();
    let mut out = json!({ "notifications": notifications, "priority": false });
    if let Some(last) = listed.last() {
        out["cursor"] = Value::String(format!("{}::{}", last.sort_at, last.uri));
    }
    Reply::ok(&out)
}

/// The brand's records by record key, newest first unless `reverse`; the
/// cursor is the last record key, as the PDS does.
fn list_records(st: &State, params: &[(String, String)]) -> Reply {
    let limit = match limit(params, 50, 100) {
        Ok(limit) => limit,
        Err(reply) => return reply,
    };
    let (Some(repo), Some(collection)) = (param(params, "repo"), param(params, "collection")) else {
        return Reply::invalid("Params must have the properties \"repo\" and \"collection\"");
    };
    if repo != DID && repo != HANDLE {
        return Reply::invalid(&format!("Could not find repo: {repo}"));
    }
    let reverse = param(params, "reverse") == Some("true");
    let cursor = param(params, "cursor");
    let mut records: Vec<&(String, String)> = st
        .repo
        .iter()
        .filter(|_| collection == POST)
        .filter(|(rkey, _)| match cursor {
            None => true,
            Some(c) if reverse => rkey.as_str() > c,
            Some(c) => rkey.as_str() < c,
        })
        .collect();
    records.sort_by(|a, b| if reverse { a.0.cmp(&b.0) } else { b.0.cmp(&a.0) });
    records.truncate(limit);
    let listed: Vec<Value> = records
        .iter()
        .filter_map(|(_, uri)| st.posts.get(uri))
        .map(|p| json!({ "uri": p.uri, "cid": p.cid, "value": p.record }))
        .collect();
    let mut out = json!({ "records": listed });
    if let Some((rkey, _)) = records.last() {
        out["cursor"] = Value::String(rkey.clone());
    }
    Reply::ok(&out)
}

/// Every term of `q` (quotes dropped) in the text, case-insensitively, newest
/// first. The cursor is an offset, as the search service's is, so a page read
/// after new posts arrive repeats some of the page before.
fn search_posts(st: &State, params: &[(String, String)]) -> Reply {
    let limit = match limit(params, 25, 100) {
        Ok(limit) => limit,
        Err(reply) => return reply,
    };
    let Some(q) = param(params, "q").filter(|q| !q.trim().is_empty()) else {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            "BadQueryString",
            "Params must have the property \"q\"",
        );
    };
    let offset = match param(params, "cursor").map(str::parse::<usize>) {
        None => 0,
        Some(Ok(offset)) => offset,
        Some(Err(_)) => return Reply::invalid("Malformed cursor"),
    };
    let terms: Vec<String> = q
        .split_whitespace()
        .map(|t| t.trim_matches('"').to_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    let mut hits: Vec<&PostEntry> = st
        .posts
        .values()
        .filter(|p| {
            let text = p.record["text"].as_str().unwrap_or_default().to_lowercase();
            terms.iter().all(|t| text.contains(t.as_str()))
        })
        .collect();
    hits.sort_by(|a, b| (b.indexed_at, &b.uri).cmp(&(a.indexed_at, &a.uri)));
    let total = hits.len();
    let page: Vec<Value> = hits.iter().skip(offset).take(limit).map(|p| st.post_view(p)).collect();
    let mut out = json!({ "posts": page, "hitsTotal": total });
    if offset + limit < total {
        out["cursor"] = Value::String((offset + limit).to_string());
    }
    Reply::ok(&out)
}

fn get_posts(st: &State, params: &[(String, String)]) -> Reply {
    let uris: Vec<&str> = params
        .iter()
        .filter(|(k, _)| k == "uris")
        .map(|(_, v)| v.as_str())
        .collect();
    if uris.is_empty() || uris.len() > 25 {
        return Reply::invalid("uris must hold 1 to 25 at-uris");
    }
    let posts: Vec<Value> = uris
        .iter()
        .filter_map(|u| st.posts.get(*u))
        .map(|p| st.post_view(p))
        .collect();
    Reply::ok(&json!({ "posts": posts }))
}

/// Validates the record as the PDS does against `app.bsky.feed.post`, then
/// writes it to the brand's repository.
fn create_record(st: &mut State, body: &[u8]) -> Reply {
    let input = match json_body(body) {
        Ok(input) => input,
        Err(reply) => return reply,
    };
    let repo = input.get("repo").and_then(Value::as_str).unwrap_or_default();
    if repo != DID && repo != HANDLE {
        return Reply::invalid("Input/repo must be the DID or handle of the signed-in account");
    }
    if input.get("collection").and_then(Value::as_str) != Some(POST) {
        return Reply::invalid("Input/collection: this fake stores app.bsky.feed.post records only");
    }
    let Some(record) = input.get("record").filter(|r| r.is_object()) else {
        return Reply::invalid("Input must have the property \"record\"");
    };
    if let Err(why) = validate_post(record) {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            "InvalidRecord",
            &format!("Invalid app.bsky.feed.post record: {why}"),
        );
    }
    let micros = st.tick();
    let rkey = match input.get("rkey").and_then(Value::as_str) {
        Some(rkey) if st.repo.iter().any(|(k, _)| k == rkey) => {
            return Reply::invalid(&format!("Record already exists at rkey {rkey}"));
        }
        Some(rkey) if rkey.len() == 13 && rkey.bytes().all(|b| b"234567abcdefghijklmnopqrstuvwxyz".contains(&b)) => {
            rkey.to_string()
        }
        Some(_) => return Reply::invalid("Input/rkey must be a TID"),
        None => tid(micros),
    };
    let uri = format!("at://{DID}/{POST}/{rkey}");
    let cid = cid_of(&format!("{uri}{record}"));
    st.repo.push((rkey, uri.clone()));
    st.posts.insert(
        uri.clone(),
        PostEntry {
            uri: uri.clone(),
            cid: cid.clone(),
            author: DID.to_string(),
            record: record.clone(),
            indexed_at: micros / 1_000,
        },
    );
    st.created.push(json!({ "uri": uri, "cid": cid, "value": record }));
    Reply::ok(&json!({
        "uri": uri,
        "cid": cid,
        "commit": { "cid": cid_of(&format!("commit{uri}")), "rev": tid(micros) },
        "validationStatus": "valid",
    }))
}

fn validate_post(record: &Value) -> Result<(), String> {
    if record["$type"] != POST {
        return Err("Record/$type must be app.bsky.feed.post".into());
    }
    let text = record["text"]
        .as_str()
        .ok_or("Record must have the property \"text\"")?;
    if text.chars().count() > MAX_GRAPHEMES {
        return Err(format!("Record/text must not be longer than {MAX_GRAPHEMES} graphemes"));
    }
    let created_at = record["createdAt"]
        .as_str()
        .ok_or("Record must have the property \"createdAt\"")?;
    let b = created_at.as_bytes();
    let datetime = b.len() >= 20 && b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':';
    if !datetime {
        return Err("Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)".into());
    }
    if let Some(reply) = record.get("reply") {
        for side in ["root", "parent"] {
            let strong = &reply[side];
            let uri_ok = strong["uri"].as_str().is_some_and(|u| u.starts_with("at://"));
            if !uri_ok || !strong["cid"].is_string() {
                return Err(format!("Record/reply/{side} must be a strongRef with uri and cid"));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_network_shapes() {
        assert_eq!(tid(0), "2222222222222");
        let a = tid(1_732_000_000_000_000);
        let b = tid(1_732_000_000_001_000);
        assert_eq!((a.len(), a < b), (13, true));
        let cid = cid_of("x");
        assert!(cid.starts_with("bafyrei") && cid.len() == 59, "{cid}");
        assert_ne!(cid_of("x"), cid_of("y"));
    }
}
