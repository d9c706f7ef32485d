//! A fake YouTube Data API v3 (<https://developers.google.com/youtube/v3/docs>):
//! `GET /youtube/v3/channels?mine=true`, `GET /youtube/v3/commentThreads`
//! (`allThreadsRelatedToChannelId` or `videoId`, `order=time`, `maxResults`,
//! opaque `pageToken`s that tests can make expire), `GET /youtube/v3/search`
//! (`type=video`, `q` with `|` for OR, `publishedAfter`), `POST
//! /youtube/v3/comments` (a reply to a top-level comment), Google's OAuth
//! 2.0 token endpoint (`POST /token`, access tokens that expire), the daily
//! quota in units (a list 1, a search 100, an insert 50; 403 `quotaExceeded`
//! beyond it) and Google's error body `{"error":{"code","message","errors":
//! [{"message","domain","reason"}]}}`.
//!
//! The brand is the channel [`BRAND_CHANNEL`] (`@acme`); its video
//! [`BRAND_VIDEO`] starts with comments. Every comment gets its own second
//! of a clock that starts two hours ago, so `order=time` is a total order.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::oauth::{Issuer, Tokens};
pub use super::server::RecordedRequest;
use super::server::Server;
use super::util::{iso8601_seconds, parse_form, parse_utc};
use crate::tokens::bearer;

/// The access token valid from the start, as `Authorization: Bearer TOKEN`.
pub const TOKEN: &str = "fake-youtube-token";
pub const BRAND_CHANNEL: &str = "UCacme0000000000000000AA";
pub const BRAND_HANDLE: &str = "acme";
/// The brand's video that starts with [`INITIAL_COMMENTS`] comments.
pub const BRAND_VIDEO: &str = "acmeVideo01";
pub const INITIAL_COMMENTS: usize = 30;
/// Google's token endpoint path, on [`FakeYouTube::oauth_url`].
pub const TOKEN_PATH: &str = "/token";
pub const CLIENT_ID: &str = "123-fake.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "fake-google-client-secret";
pub const REFRESH_TOKEN: &str = "fake-google-refresh-0";
/// The default quota of a Google Cloud project.
pub const DAILY_QUOTA: u32 = 10_000;
const MAX_BODY_BYTES: usize = 1 << 20;
/// `comments.insert` takes at most this many characters.
const MAX_TEXT_CHARS: usize = 10_000;
/// Replies a thread carries in `replies.comments` (the newest; the rest need `comments.list`).
const REPLIES_SHOWN: usize = 5;

/// A failure injected into the next request (one per request, in the order
/// queued). A faulted request has no side effects and spends no quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// That status with Google's error body and `reason`.
    Status(u16, &'static str),
    /// 200 with a JSON content type but a truncated body.
    Malformed,
    /// 403 `quotaExceeded`, as when another app of the project spent the quota.
    QuotaExceeded,
    /// 401 as for a revoked token.
    Unauthorized,
}

/// A running fake YouTube; it stops when dropped.
pub struct FakeYouTube {
    server: Server,
    state: Shared,
}

type Shared = Arc<Mutex<State>>;

impl FakeYouTube {
    /// Binds 127.0.0.1 on a free port and serves on the current tokio runtime.
    pub async fn start() -> anyhow::Result<Self> {
        let (server, state) = Server::start("the fake YouTube server", |_| {
            let state: Shared = Arc::new(Mutex::new(State::new()));
            Ok((Router::new().fallback(handle).with_state(Arc::clone(&state)), state))
        })
        .await?;
        Ok(Self { server, state })
    }

    /// The Data API's origin, `http://127.0.0.1:PORT` (config `api-url`).
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Google's OAuth 2.0 origin (config `oauth-url`): the same server.
    pub fn oauth_url(&self) -> String {
        self.server.base_url()
    }

    /// A video of the channel `handle` (the brand's when it is [`BRAND_HANDLE`]), published now.
    pub fn add_video(&self, handle: &str, title: &str) -> String {
        let mut st = self.lock();
        let id = format!("vid{:08}", st.videos.len() + 1);
        let published = st.tick();
        st.videos.push(Video {
            id: id.clone(),
            channel: handle.to_string(),
            title: title.to_string(),
            published,
            comments_disabled: false,
        });
        id
    }

    /// A top-level comment by `author` on `video`; returns its id (the thread's id).
    pub fn push_comment(&self, video: &str, author: &str, text: &str) -> String {
        self.lock().comment(video, author, text, None)
    }

    /// A reply by `author` to the top-level comment `parent`.
    pub fn push_reply(&self, parent: &str, author: &str, text: &str) -> String {
        let mut st = self.lock();
        let video = st
            .comments
            .iter()
            .find(|c| c.id == parent)
            .map(|c| c.video.clone())
            .unwrap_or_default();
        st.comment(&video, author, text, Some(parent.to_string()))
    }

    /// The owner turns comments on `video` off: listing them answers 403 `commentsDisabled`.
    pub fn disable_comments(&self, video: &str) {
        if let Some(v) = self.lock().videos.iter_mut().find(|v| v.id == video) {
            v.comments_disabled = true;
        }
    }

    /// Every page token handed out so far stops working (400 `invalidPageToken`).
    pub fn expire_page_tokens(&self) {
        self.lock().epoch += 1;
    }

    /// The page tokens expire once `lists` more `commentThreads.list` calls were answered.
    pub fn expire_page_tokens_after(&self, lists: u32) {
        self.lock().expire_after = Some(lists);
    }

    /// The project's daily quota, in units; the units used so far stay.
    pub fn set_quota(&self, units: u32) {
        self.lock().quota = units;
    }

    /// Units spent today.
    pub fn quota_used(&self) -> u32 {
        self.lock().used
    }

    pub fn fail_next(&self, fault: Fault) {
        self.lock().faults.push_back((None, fault));
    }

    /// `fault` for the next request to `path` only; other requests go through.
    pub fn fail_next_at(&self, path: &'static str, fault: Fault) {
        self.lock().faults.push_back((Some(path), fault));
    }

    /// Every access token issued so far stops working (they expired).
    pub fn expire_tokens(&self) {
        self.lock().oauth.expire_all();
    }

    /// The user revoked the app: refresh tokens are refused with `invalid_grant`.
    pub fn revoke_refresh_tokens(&self) {
        self.lock().oauth.revoke_refresh();
    }

    /// How long the access tokens issued from now on last.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.lock().oauth.set_lifetime(lifetime);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// The comments created through `comments.insert`, as `comment` resources, oldest first.
    pub fn inserted(&self) -> Vec<Value> {
        self.lock().inserted.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A stable channel id for a handle: `UC` and 22 characters.
pub fn channel_id(handle: &str) -> String {
    if handle == BRAND_HANDLE {
        return BRAND_CHANNEL.into();
    }
    // FNV-1a: stable across runs and platforms.
    let hash = handle.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("UC{hash:016x}{:06}", handle.len() % 1_000_000)
}

struct Video {
    id: String,
    channel: String,
    title: String,
    published: u64,
    comments_disabled: bool,
}

struct Comment {
    id: String,
    video: String,
    author: String,
    text: String,
    published: u64,
    parent: Option<String>,
}

struct State {
    videos: Vec<Video>,
    comments: Vec<Comment>,
    /// Unix seconds of the next comment or video.
    clock: u64,
    /// Page tokens carry the epoch they were issued in.
    epoch: u32,
    /// Thread lists to answer before the epoch changes.
    expire_after: Option<u32>,
    quota: u32,
    used: u32,
    /// The Pacific day `used` counts, as days since the epoch (the count resets with it).
    day: i64,
    /// Each for the next request, or the next to a path.
    faults: VecDeque<(Option<&'static str>, Fault)>,
    requests: Vec<RecordedRequest>,
    inserted: Vec<Value>,
    oauth: Tokens,
}

impl State {
    fn new() -> Self {
        let now = unix_secs(SystemTime::now());
        let mut st = State {
            videos: Vec::new(),
            comments: Vec::new(),
            clock: now.saturating_sub(7200),
            epoch: 0,
            expire_after: None,
            quota: DAILY_QUOTA,
            used: 0,
            day: pacific_day(now),
            faults: VecDeque::new(),
            requests: Vec::new(),
            inserted: Vec::new(),
            oauth: Tokens::new(Issuer {
                client_id: CLIENT_ID,
                client_secret: CLIENT_SECRET,
                access_prefix: "fake-google-access-",
                static_token: TOKEN,
                refresh_token: REFRESH_TOKEN,
                // Google's access tokens last an hour.
                lifetime: Duration::from_secs(3599),
                rotates: false,
                form_client: true,
                scope: "https://www.googleapis.com/auth/youtube.force-ssl",
                refused: ("invalid_grant", "Token has been expired or revoked."),
                bad_client: ("invalid_client", "Unauthorized"),
            }),
        };
        let published = st.tick();
        st.videos.push(Video {
            id: BRAND_VIDEO.into(),
            channel: BRAND_HANDLE.into(),
            title: "Acme Cloud: what is new".into(),
            published,
            comments_disabled: false,
        });
        for i in 0..INITIAL_COMMENTS {
            st.comment(
                BRAND_VIDEO,
                &format!("customer_{}", i % 7),
                &format!("question number {i}"),
                None,
            );
        }
        st
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    fn comment(&mut self, video: &str, author: &str, text: &str, parent: Option<String>) -> String {
        let published = self.tick();
        let n = self.comments.len() + 1;
        let id = match &parent {
            Some(p) => format!("{p}.{n:011}"),
            None => format!("Ugz{n:08}fakeAaABAg"),
        };
        self.comments.push(Comment {
            id: id.clone(),
            video: video.to_string(),
            author: author.to_string(),
            text: text.to_string(),
            published,
            parent,
        });
        id
    }

    fn video(&self, id: &str) -> Option<&Video> {
        self.videos.iter().find(|v| v.id == id)
    }

    /// A `comment` resource.
    fn comment_resource(&self, c: &Comment, html: bool) -> Value {
        let channel = self.video(&c.video).map(|v| channel_id(&v.channel)).unwrap_or_default();
        let text = if html { escape(&c.text) } else { c.text.clone() };
        let mut snippet = json!({
            "channelId": channel,
            "videoId": c.video,
            "textDisplay": text,
            "textOriginal": c.text,
            "authorDisplayName": format!("@{}", c.author),
            "authorProfileImageUrl": format!("https://yt3.ggpht.com/ytc/{}=s48-c-k-c0x00ffffff-no-rj", c.author),
            "authorChannelUrl": format!("http://www.youtube.com/@{}", c.author),
            "authorChannelId": { "value": channel_id(&c.author) },
            "canRate": true,
            "viewerRating": "none",
            "likeCount": 0,
            "publishedAt": utc(c.published),
            "updatedAt": utc(c.published),
        });
        if let Some(parent) = &c.parent {
            snippet["parentId"] = json!(parent);
        }
        json!({ "kind": "youtube#comment", "etag": etag(&c.id), "id": c.id, "snippet": snippet })
    }

    /// A `commentThread` resource of the top-level comment `top`.
    fn thread(&self, top: &Comment, html: bool, with_replies: bool) -> Value {
        let replies: Vec<&Comment> = self
            .comments
            .iter()
            .filter(|c| c.parent.as_deref() == Some(&top.id))
            .collect();
        let channel = self
            .video(&top.video)
            .map(|v| channel_id(&v.channel))
            .unwrap_or_default();
        let mut thread = json!({
            "kind": "youtube#commentThread",
            "etag": etag(&format!("t{}", top.id)),
            "id": top.id,
            "snippet": {
                "channelId": channel,
                "videoId": top.video,
                "topLevelComment": self.comment_resource(top, html),
                "canReply": true,
                "totalReplyCount": replies.len(),
                "isPublic": true,
            },
        });
        if with_replies && !replies.is_empty() {
            let shown = &replies[replies.len().saturating_sub(REPLIES_SHOWN)..];
            let comments: Vec<Value> = shown.iter().map(|c| self.comment_resource(c, html)).collect();
            thread["replies"] = json!({ "comments": comments });
        }
        thread
    }
}

fn pacific_day(unix: u64) -> i64 {
    // Standard time is close enough for a fake's daily reset.
    (unix as i64 - 8 * 3600).div_euclid(86_400)
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `2026-11-23T10:00:00Z`, the Data API's times.
fn utc(secs: u64) -> String {
    format!("{}Z", iso8601_seconds(secs))
}

fn etag(of: &str) -> String {
    format!("fake-etag-{}", of.len() * 7919 % 100_000)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Opaque to clients: the epoch and the place (time, id) to continue below.
fn encode_token(epoch: u32, at: u64, id: &str) -> String {
    let raw = format!("{epoch}:{at}:{id}");
    raw.bytes().map(|b| format!("{:02x}", b ^ 0x5a)).collect()
}

fn decode_token(token: &str) -> Option<(u32, u64, String)> {
    if !token.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..token.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(token.get(i..i + 2)?, 16).ok().map(|b| b ^ 0x5a))
        .collect();
    let text = String::from_utf8(bytes?).ok()?;
    let mut parts = text.splitn(3, ':');
    Some((
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.to_string(),
    ))
}

/// A response of the fake.
struct Reply {
    status: StatusCode,
    body: Vec<u8>,
}

impl Reply {
    fn ok(value: &Value) -> Self {
        Self::with(StatusCode::OK, value)
    }

    fn with(status: StatusCode, value: &Value) -> Self {
        Reply {
            status,
            body: value.to_string().into_bytes(),
        }
    }

    /// Google's error body with one error of `reason`.
    fn error(status: StatusCode, reason: &str, message: &str) -> Self {
        let domain = match reason {
            "quotaExceeded" => "youtube.quota",
            "authError" | "forbidden" => "global",
            _ => "youtube.api",
        };
        Self::with(
            status,
            &json!({ "error": {
                "code": status.as_u16(),
                "message": message,
                "errors": [{ "message": message, "domain": domain, "reason": reason }],
            } }),
        )
    }

    fn unauthorized() -> Self {
        let message = "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.";
        Self::with(
            StatusCode::UNAUTHORIZED,
            &json!({ "error": {
                "code": 401,
                "message": message,
                "errors": [{ "message": "Invalid Credentials", "domain": "global", "reason": "authError",
                             "location": "Authorization", "locationType": "header" }],
                "status": "UNAUTHENTICATED",
            } }),
        )
    }

    fn quota_exceeded() -> Self {
        Self::error(
            StatusCode::FORBIDDEN,
            "quotaExceeded",
            "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.",
        )
    }

    fn finish(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=UTF-8"),
        );
        response
    }
}

async fn handle(AxumState(shared): AxumState<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES).await.unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();

    let mut st = lock(&shared);
    st.requests.push(RecordedRequest::of(&parts, &body));
    let today = pacific_day(unix_secs(SystemTime::now()));
    if today != st.day {
        st.day = today;
        st.used = 0;
    }
    // Google's OAuth server is a service of its own: the faults are the API's.
    if path == TOKEN_PATH && parts.method == Method::POST {
        let (status, answer) = st.oauth.grant(&parts.headers, &body);
        return Reply::with(status, &answer).finish();
    }
    let due = st.faults.iter().position(|(at, _)| at.is_none_or(|p| p == path));
    if let Some((_, fault)) = due.and_then(|i| st.faults.remove(i)) {
        let reply = match fault {
            Fault::Status(code, reason) => {
                let status = StatusCode::from_u16(code)
                    .ok()
                    .filter(|s| s.as_u16() >= 200)
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                Reply::error(status, reason, status.canonical_reason().unwrap_or("Error"))
            }
            Fault::Malformed => Reply {
                status: StatusCode::OK,
                body: br#"{"kind":"youtube#commentThreadListResponse","items":[{"id":"Ugz"#.to_vec(),
            },
            Fault::QuotaExceeded => Reply::quota_exceeded(),
            Fault::Unauthorized => Reply::unauthorized(),
        };
        return reply.finish();
    }
    if !bearer(&parts.headers).is_some_and(|t| st.oauth.accepts(t)) {
        return Reply::unauthorized().finish();
    }
    let cost = match (parts.method.as_str(), path.as_str()) {
        ("GET", "/youtube/v3/search") => 100,
        ("POST", "/youtube/v3/comments") => 50,
        _ => 1,
    };
    if st.used + cost > st.quota {
        return Reply::quota_exceeded().finish();
    }
    let reply = route(&mut st, parts.method.as_str(), &path, &query, &body);
    // Google counts a call whatever it answers (an invalid one costs at least a unit).
    st.used += if reply.status.is_success() { cost } else { 1 };
    reply.finish()
}

fn route(st: &mut State, method: &str, path: &str, query: &str, body: &[u8]) -> Reply {
    let params = Params(parse_form(query));
    let param = |name: &str| params.get(name);
    match (method, path) {
        ("GET", "/youtube/v3/channels") => {
            if param("mine") != Some("true") {
                return Reply::error(
                    StatusCode::BAD_REQUEST,
                    "missingRequiredParameter",
                    "No filter selected.",
                );
            }
            Reply::ok(&json!({
                "kind": "youtube#channelListResponse",
                "etag": etag("channels"),
                "pageInfo": { "totalResults": 1, "resultsPerPage": 5 },
                "items": [{ "kind": "youtube#channel", "etag": etag(BRAND_CHANNEL), "id": BRAND_CHANNEL }],
            }))
        }
        ("GET", "/youtube/v3/commentThreads") => {
            let reply = threads(st, &params);
            if reply.status.is_success() {
                match st.expire_after {
                    Some(n) if n <= 1 => {
                        st.epoch += 1;
                        st.expire_after = None;
                    }
                    Some(n) => st.expire_after = Some(n - 1),
                    None => {}
                }
            }
            reply
        }
        ("GET", "/youtube/v3/search") => search(st, &params),
        ("POST", "/youtube/v3/comments") => insert(st, &params, body),
        _ => Reply::error(StatusCode::NOT_FOUND, "notFound", "Not Found"),
    }
}

/// A request's query parameters, decoded.
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// `commentThreads.list`: the threads of a channel or a video, newest first.
fn threads(st: &State, params: &Params) -> Reply {
    let param = |name: &str| params.get(name);
    let parts: Vec<&str> = param("part").unwrap_or_default().split(',').map(str::trim).collect();
    if !parts.contains(&"snippet") && !parts.contains(&"id") {
        return Reply::error(StatusCode::BAD_REQUEST, "missingRequiredParameter", "No part selected.");
    }
    let max = match param("maxResults").map(str::parse::<usize>) {
        None => 20,
        Some(Ok(n)) if (1..=100).contains(&n) => n,
        Some(_) => {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                "invalidParameter",
                "Invalid value for parameter maxResults.",
            );
        }
    };
    let html = param("textFormat") != Some("plainText");
    let videos: Vec<&str> = match (param("allThreadsRelatedToChannelId"), param("videoId")) {
        (Some(channel), None) => {
            let owned: Vec<&str> = st
                .videos
                .iter()
                .filter(|v| channel_id(&v.channel) == channel)
                .map(|v| v.id.as_str())
                .collect();
            if owned.is_empty() && channel != BRAND_CHANNEL {
                return Reply::error(
                    StatusCode::NOT_FOUND,
                    "channelNotFound",
                    "The channel identified with the request's <code>allThreadsRelatedToChannelId</code> parameter could not be found.",
                );
            }
            owned
        }
        (None, Some(video)) => match st.video(video) {
            None => {
                return Reply::error(
                    StatusCode::NOT_FOUND,
                    "videoNotFound",
                    "The video identified by the <code><a href=\"/youtube/v3/docs/commentThreads/list#videoId\">videoId</a></code> parameter could not be found.",
                );
            }
            Some(v) if v.comments_disabled => {
                return Reply::error(
                    StatusCode::FORBIDDEN,
                    "commentsDisabled",
                    "The video identified by the <code><a href=\"/youtube/v3/docs/commentThreads/list#videoId\">videoId</a></code> parameter has disabled comments.",
                );
            }
            Some(v) => vec![v.id.as_str()],
        },
        _ => {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                "incompatibleParameters",
                "Exactly one of allThreadsRelatedToChannelId, id or videoId is required.",
            );
        }
    };
    let below = match param("pageToken") {
        None => None,
        Some(token) => match decode_token(token) {
            Some((epoch, at, id)) if epoch == st.epoch => Some((at, id)),
            _ => {
                return Reply::error(
                    StatusCode::BAD_REQUEST,
                    "invalidPageToken",
                    "The request specifies an invalid page token.",
                );
            }
        },
    };
    let mut all: Vec<&Comment> = st
        .comments
        .iter()
        .filter(|c| c.parent.is_none() && videos.contains(&c.video.as_str()))
        .collect();
    all.sort_by(|a, b| b.published.cmp(&a.published).then_with(|| b.id.cmp(&a.id)));
    let rest: Vec<&Comment> = all
        .into_iter()
        .filter(|c| match &below {
            None => true,
            Some((at, id)) => (c.published, c.id.as_str()) < (*at, id.as_str()),
        })
        .collect();
    let page = &rest[..max.min(rest.len())];
    let items: Vec<Value> = page
        .iter()
        .map(|c| st.thread(c, html, parts.contains(&"replies")))
        .collect();
    let mut out = json!({
        "kind": "youtube#commentThreadListResponse",
        "etag": etag(&format!("threads{}", items.len())),
        "pageInfo": { "totalResults": items.len(), "resultsPerPage": max },
        "items": items,
    });
    if rest.len() > page.len()
        && let Some(last) = page.last()
    {
        out["nextPageToken"] = json!(encode_token(st.epoch, last.published, &last.id));
    }
    Reply::ok(&out)
}

/// `search.list` for videos whose title matches any `|`-separated term of `q`.
fn search(st: &State, params: &Params) -> Reply {
    let param = |name: &str| params.get(name);
    if param("part") != Some("snippet") {
        return Reply::error(StatusCode::BAD_REQUEST, "missingRequiredParameter", "No part selected.");
    }
    if param("type") != Some("video") {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            "invalidSearchFilter",
            "The fake searches videos only: type=video.",
        );
    }
    let terms: Vec<String> = param("q")
        .unwrap_or_default()
        .split('|')
        .map(|t| t.trim().trim_matches('"').to_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    let after = match param("publishedAfter").map(parse_utc) {
        None => 0,
        Some(Some(at)) => at,
        Some(None) => {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                "invalidPublishedAfter",
                "Invalid value for parameter publishedAfter.",
            );
        }
    };
    let max = match param("maxResults").map(str::parse::<usize>) {
        None => 5,
        Some(Ok(n)) if n <= 50 => n,
        Some(_) => {
            return Reply::error(
                StatusCode::BAD_REQUEST,
                "invalidParameter",
                "Invalid value for parameter maxResults.",
            );
        }
    };
    let mut found: Vec<&Video> = st
        .videos
        .iter()
        .filter(|v| v.published > after && terms.iter().any(|t| v.title.to_lowercase().contains(t)))
        .collect();
    found.sort_by_key(|v| std::cmp::Reverse(v.published));
    let total = found.len();
    found.truncate(max);
    let items: Vec<Value> = found
        .iter()
        .map(|v| {
            json!({
                "kind": "youtube#searchResult",
                "etag": etag(&v.id),
                "id": { "kind": "youtube#video", "videoId": v.id },
                "snippet": {
                    "publishedAt": utc(v.published),
                    "channelId": channel_id(&v.channel),
                    "title": v.title,
                    "description": "",
                    "thumbnails": { "default": { "url": format!("https://i.ytimg.com/vi/{}/default.jpg", v.id), "width": 120, "height": 90 } },
                    "channelTitle": v.channel,
                    "liveBroadcastContent": "none",
                    "publishTime": utc(v.published),
                },
            })
        })
        .collect();
    Reply::ok(&json!({
        "kind": "youtube#searchListResponse",
        "etag": etag("search"),
        "regionCode": "US",
        "pageInfo": { "totalResults": total, "resultsPerPage": max },
        "items": items,
    }))
}

/// `comments.insert`: the brand's reply to a top-level comment.
fn insert(st: &mut State, params: &Params, body: &[u8]) -> Reply {
    let param = |name: &str| params.get(name);
    if param("part") != Some("snippet") {
        return Reply::error(StatusCode::BAD_REQUEST, "missingRequiredParameter", "No part selected.");
    }
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return Reply::error(StatusCode::BAD_REQUEST, "parseError", "Parse Error");
    };
    let text = request["snippet"]["textOriginal"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if text.trim().is_empty() {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            "commentTextRequired",
            "The comment text is required.",
        );
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            "commentTextTooLong",
            "The comment text is too long.",
        );
    }
    let Some(parent) = request["snippet"]["parentId"].as_str().map(str::to_string) else {
        return Reply::error(StatusCode::BAD_REQUEST, "parentIdMissing", "The comment has no parent.");
    };
    let Some(video) = st
        .comments
        .iter()
        .find(|c| c.id == parent && c.parent.is_none())
        .map(|c| c.video.clone())
    else {
        return Reply::error(
            StatusCode::NOT_FOUND,
            "commentNotFound",
            "The comment identified by snippet.parentId could not be found.",
        );
    };
    let id = st.comment(&video, BRAND_HANDLE, &text, Some(parent));
    let created = st
        .comments
        .iter()
        .find(|c| c.id == id)
        .map(|c| st.comment_resource(c, false))
        .unwrap_or_default();
    st.inserted.push(created.clone());
    Reply::ok(&created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip() {
        let token = encode_token(3, 1_700_000_000, "Ugz00000001fakeAaABAg");
        assert_eq!(
            decode_token(&token),
            Some((3, 1_700_000_000, "Ugz00000001fakeAaABAg".into()))
        );
        assert_eq!(decode_token("nope"), None);
    }

    #[test]
    fn channel_ids_look_like_youtube_s() {
        let id = channel_id("maria");
        assert_eq!(id.len(), 24);
        assert!(id.starts_with("UC"));
        assert_eq!(channel_id(BRAND_HANDLE), BRAND_CHANNEL);
    }
}
