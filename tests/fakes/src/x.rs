//! A fake X API v2 (<https://docs.x.com/x-api>: `GET /2/users/me`,
//! `GET /2/users/:id/mentions`, `GET /2/tweets/search/recent`, `POST /2/tweets`)
//! with X's newest-first pagination (`since_id`, `max_results`, opaque
//! `next_token` passed back as `pagination_token` or `next_token`), its field
//! selection (`expansions=author_id`, `tweet.fields`, `user.fields`, authors in
//! `includes.users`), its rate-limit headers (`x-rate-limit-limit`,
//! `-remaining`, `-reset` in Unix seconds) and its error bodies (problem
//! details `{"title","detail","type","status"}`, partial `errors` in a 200).
//!
//! Batch compliance jobs and their file storage are in [`compliance`].
//!
//! The brand is `acme` (user id [`BRAND_ID`]); a mention is a post whose text
//! holds `@acme`. Tests push posts, and build signed Account Activity
//! deliveries of them with [`FakeX::activity`].

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

mod compliance;
pub mod oauth;

pub use compliance::APP_TOKEN;

use super::meta::hmac_sha256;
pub use super::server::RecordedRequest;
use super::server::Server;
use super::tokens::bearer;
use super::util::parse_form;

/// The only access token the fake accepts, as `Authorization: Bearer TOKEN`.
pub const TOKEN: &str = "fake-x-token";
pub const BRAND: &str = "acme";
pub const BRAND_ID: &str = "783214";
/// Requests per 15-minute window (the mentions endpoint's per-user limit).
pub const RATE_LIMIT: u32 = 300;
const RATE_PERIOD: Duration = Duration::from_secs(900);
/// Posts the mention timeline starts with.
const INITIAL_MENTIONS: usize = 30;
/// The first post id: ids are snowflakes, 19 digits.
const FIRST_ID: u64 = 1_460_323_737_035_677_000;
const MAX_CHARS: usize = 280;
const MAX_BODY_BYTES: usize = 1 << 20;

/// A failure injected into the next request (one per request, in the order
/// queued). A faulted request has no side effects and spends no budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// That status with X's problem body; codes below 200 become 500.
    Status(u16),
    /// 200 with a JSON content type but a truncated body.
    Malformed,
    /// 429 with `x-rate-limit-remaining: 0` and a reset this far ahead.
    RateLimited { reset_in_secs: u64 },
    /// 401 as for a revoked token.
    Unauthorized,
}

/// A signed Account Activity delivery, as X POSTs it to a webhook.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub body: Vec<u8>,
    /// The `x-twitter-webhooks-signature` value: `sha256=` base64 HMAC of the body.
    pub signature: String,
}

/// A running fake X; it stops when dropped.
pub struct FakeX {
    server: Server,
    /// The origin of compliance job files.
    storage: Server,
    state: Shared,
}

type Shared = Arc<Mutex<State>>;

impl FakeX {
    /// Binds 127.0.0.1 on a free port and serves on the current tokio runtime.
    pub async fn start() -> anyhow::Result<Self> {
        let (server, state) = Server::start("the fake X server", |_| {
            let state: Shared = Arc::new(Mutex::new(State::new()));
            Ok((Router::new().fallback(handle).with_state(Arc::clone(&state)), state))
        })
        .await?;
        let shared = Arc::clone(&state);
        let (storage, ()) = Server::start("the fake X file storage", |_| Ok((compliance::storage(shared), ()))).await?;
        lock(&state).storage_url = storage.base_url();
        Ok(Self { server, storage, state })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// The storage origin of compliance job files, without a trailing slash.
    pub fn storage_url(&self) -> String {
        self.storage.base_url()
    }

    /// Deletes post `id` on X: it leaves every timeline, and a compliance
    /// job that holds it reports it `deleted`.
    pub fn delete_post(&self, id: &str) {
        let mut st = self.lock();
        st.tweets.retain(|t| t.id.to_string() != id);
        st.gone_tweets.push((id.to_string(), "deleted".into()));
    }

    /// User `username` left X for `reason` (`suspended`, `protected`,
    /// `deactivated` or `deleted`), as a users compliance job reports it.
    pub fn user_gone(&self, username: &str, reason: &str) {
        self.lock().gone_users.push((user_id(username), reason.to_string()));
    }

    /// The requests the storage origin received.
    pub fn storage_requests(&self) -> Vec<RecordedRequest> {
        self.lock().storage_requests.clone()
    }

    /// A post by `username` (a user made on first use), created now; returns its id.
    pub fn push_post(&self, username: &str, text: &str) -> String {
        self.lock().post(username, text, None)
    }

    /// A post by `username` that mentions the brand.
    pub fn push_mention(&self, username: &str, text: &str) -> String {
        self.push_post(username, &format!("@{BRAND} {text}"))
    }

    /// A mention by an author X leaves out of `includes` (suspended), with a partial error.
    pub fn push_mention_by_suspended(&self, text: &str) -> String {
        let mut st = self.lock();
        let id = st.post("suspended_user", &format!("@{BRAND} {text}"), None);
        st.suspended.push(user_id("suspended_user"));
        id
    }

    /// The ids of the mentions of the brand, newest first.
    pub fn mention_ids(&self) -> Vec<String> {
        let st = self.lock();
        st.timeline(mentions_brand).iter().map(|t| t.id.to_string()).collect()
    }

    /// A signed Account Activity delivery of the stored posts `ids`, as
    /// `tweet_create_events` (v1.1 shapes) for the brand.
    pub fn activity(&self, consumer_secret: &str, ids: &[String]) -> Delivery {
        let st = self.lock();
        let events: Vec<Value> = ids
            .iter()
            .filter_map(|id| st.tweets.iter().find(|t| &t.id.to_string() == id))
            .map(|t| st.v1_status(t))
            .collect();
        let body = json!({ "for_user_id": BRAND_ID, "tweet_create_events": events })
            .to_string()
            .into_bytes();
        let signature = format!("sha256={}", base64(&hmac_sha256(consumer_secret.as_bytes(), &body)));
        Delivery { body, signature }
    }

    pub fn fail_next(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    /// `remaining` more requests until the window resets `reset_in_secs` from now.
    pub fn set_rate_limit(&self, remaining: u32, reset_in_secs: u64) {
        let mut st = self.lock();
        st.rate_remaining = remaining;
        st.rate_reset_at = SystemTime::now() + Duration::from_secs(reset_in_secs);
    }

    /// Every user access token issued so far stops working (they expired).
    pub fn expire_tokens(&self) {
        self.lock().oauth.expire_all();
    }

    /// How long the access tokens issued from now on last.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.lock().oauth.set_lifetime(lifetime);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// The posts created through `POST /2/tweets`, as stored (v2 shape), oldest first.
    pub fn posted(&self) -> Vec<Value> {
        self.lock().posted.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A stable numeric user id for a username.
pub fn user_id(username: &str) -> String {
    if username == BRAND {
        return BRAND_ID.into();
    }
    // FNV-1a: stable across runs and platforms.
    let hash = username
        .to_ascii_lowercase()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    (1_000_000_000 + hash % 1_000_000_000_000).to_string()
}

/// Standard base64 with padding.
/// Standard base64, as X writes signatures.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

struct Tweet {
    id: u64,
    author: String,
    text: String,
    created: u64,
    reply_to: Option<u64>,
    conversation: u64,
}

fn mentions_brand(t: &Tweet) -> bool {
    t.author != BRAND && t.text.to_ascii_lowercase().contains(&format!("@{BRAND}"))
}

struct State {
    tweets: Vec<Tweet>,
    suspended: Vec<String>,
    next_id: u64,
    posted: Vec<Value>,
    faults: VecDeque<Fault>,
    requests: Vec<RecordedRequest>,
    rate_remaining: u32,
    rate_reset_at: SystemTime,
    jobs: Vec<compliance::Job>,
    storage_url: String,
    storage_requests: Vec<RecordedRequest>,
    /// Post ids and user ids with their compliance reason.
    gone_tweets: Vec<(String, String)>,
    gone_users: Vec<(String, String)>,
    oauth: crate::oauth::Tokens,
}

impl State {
    fn new() -> Self {
        let mut st = State {
            tweets: Vec::new(),
            suspended: Vec::new(),
            next_id: FIRST_ID,
            posted: Vec::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            rate_remaining: RATE_LIMIT,
            rate_reset_at: SystemTime::now() + RATE_PERIOD,
            jobs: Vec::new(),
            storage_url: String::new(),
            storage_requests: Vec::new(),
            gone_tweets: Vec::new(),
            gone_users: Vec::new(),
            oauth: oauth::tokens(),
        };
        for i in 0..INITIAL_MENTIONS {
            st.post(
                &format!("customer_{}", i % 7),
                &format!("@{BRAND} question number {i}"),
                None,
            );
        }
        st
    }

    fn post(&mut self, author: &str, text: &str, reply_to: Option<u64>) -> String {
        // Snowflakes grow by more than one; a gap keeps neighbours apart.
        self.next_id += 4_096 + self.tweets.len() as u64 % 7;
        let id = self.next_id;
        let conversation = reply_to
            .and_then(|r| self.tweets.iter().find(|t| t.id == r))
            .map_or(id, |t| t.conversation);
        self.tweets.push(Tweet {
            id,
            author: author.to_string(),
            text: text.to_string(),
            created: unix_secs(SystemTime::now()),
            reply_to,
            conversation,
        });
        id.to_string()
    }

    /// The posts `keep` selects, newest first.
    fn timeline(&self, keep: impl Fn(&Tweet) -> bool) -> Vec<&Tweet> {
        let mut found: Vec<&Tweet> = self.tweets.iter().filter(|t| keep(t)).collect();
        found.sort_by_key(|t| std::cmp::Reverse(t.id));
        found
    }

    /// A post in v2 shape with the fields asked for.
    fn v2_tweet(&self, t: &Tweet, fields: &[&str], with_author: bool) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), json!(t.id.to_string()));
        out.insert("text".into(), json!(escape(&t.text)));
        out.insert("edit_history_tweet_ids".into(), json!([t.id.to_string()]));
        if with_author {
            out.insert("author_id".into(), json!(user_id(&t.author)));
        }
        let in_reply_to_user = t
            .reply_to
            .and_then(|r| self.tweets.iter().find(|p| p.id == r))
            .map(|p| user_id(&p.author));
        for field in fields {
            let value = match *field {
                "created_at" => json!(iso8601(t.created)),
                "conversation_id" => json!(t.conversation.to_string()),
                "lang" => json!("en"),
                "in_reply_to_user_id" => match &in_reply_to_user {
                    Some(u) => json!(u),
                    None => continue,
                },
                "referenced_tweets" => match t.reply_to {
                    Some(r) => json!([{ "type": "replied_to", "id": r.to_string() }]),
                    None => continue,
                },
                _ => continue,
            };
            out.insert((*field).to_string(), value);
        }
        Value::Object(out)
    }

    fn v2_user(username: &str, fields: &[&str]) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), json!(user_id(username)));
        out.insert("name".into(), json!(display_name(username)));
        out.insert("username".into(), json!(username));
        for field in fields {
            let value = match *field {
                "description" => json!(format!("Hi, I am {username}.")),
                "location" => json!("Lisbon"),
                "profile_image_url" => json!(format!("https://pbs.twimg.com/profile_images/{username}_normal.jpg")),
                "public_metrics" => {
                    json!({ "followers_count": username.len() * 10, "following_count": 3, "tweet_count": 42, "listed_count": 0 })
                }
                "url" => json!(""),
                "verified" => json!(false),
                "created_at" => json!("2015-01-01T00:00:00.000Z"),
                _ => continue,
            };
            out.insert((*field).to_string(), value);
        }
        Value::Object(out)
    }

    /// A post in the v1.1 shape Account Activity delivers.
    fn v1_status(&self, t: &Tweet) -> Value {
        json!({
            "created_at": v1_time(t.created),
            "id": t.id,
            "id_str": t.id.to_string(),
            "text": escape(&t.text),
            "truncated": false,
            "in_reply_to_status_id": t.reply_to,
            "in_reply_to_status_id_str": t.reply_to.map(|r| r.to_string()),
            "user": {
                "id": user_id(&t.author).parse::<u64>().unwrap_or_default(),
                "id_str": user_id(&t.author),
                "name": display_name(&t.author),
                "screen_name": t.author,
                "location": "Lisbon",
                "url": null,
                "description": format!("Hi, I am {}.", t.author),
                "followers_count": t.author.len() * 10,
                "profile_image_url_https": format!("https://pbs.twimg.com/profile_images/{}_normal.jpg", t.author),
            },
            "is_quote_status": false,
            "lang": "en",
            "timestamp_ms": (t.created * 1000).to_string(),
        })
    }
}

fn display_name(username: &str) -> String {
    username.replace('_', " ")
}

/// X escapes these three in post text.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn civil(secs: u64) -> (u64, u64, u64, u64) {
    let days = secs / 86_400;
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + u64::from(m <= 2), m, d, secs % 86_400)
}

/// `2021-11-15T19:08:05.000Z`, v2's `created_at`.
fn iso8601(secs: u64) -> String {
    let (y, m, d, rem) = civil(secs);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.000Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `Wed Oct 10 20:19:24 +0000 2018`, v1.1's `created_at`.
fn v1_time(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, m, d, rem) = civil(secs);
    format!(
        "{} {} {d:02} {:02}:{:02}:{:02} +0000 {y}",
        DAYS[(secs / 86_400 % 7) as usize],
        MONTHS[(m - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A response before the rate-limit headers are added.
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

    /// X's problem details: `{"title","detail","type","status"}`.
    fn problem(status: StatusCode, detail: &str) -> Self {
        let title = status.canonical_reason().unwrap_or("Error");
        Self::with(
            status,
            &json!({ "title": title, "detail": detail, "type": "about:blank", "status": status.as_u16() }),
        )
    }

    /// A 400 for a bad parameter, as X answers it.
    fn invalid(parameter: &str, message: &str) -> Self {
        Self::with(
            StatusCode::BAD_REQUEST,
            &json!({
                "errors": [{ "parameters": { parameter: [] }, "message": message }],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            }),
        )
    }

    fn finish(self, remaining: u32, reset_at: SystemTime) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        for (name, value) in [
            ("x-rate-limit-limit", RATE_LIMIT.to_string()),
            ("x-rate-limit-remaining", remaining.to_string()),
            ("x-rate-limit-reset", unix_secs(reset_at).to_string()),
        ] {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        response
    }
}

async fn handle(AxumState(shared): AxumState<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES).await.unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let now = SystemTime::now();

    let mut st = lock(&shared);
    st.requests.push(RecordedRequest::of(&parts, &body));
    if now >= st.rate_reset_at {
        st.rate_remaining = RATE_LIMIT;
        st.rate_reset_at = now + RATE_PERIOD;
    }
    if let Some(fault) = st.faults.pop_front() {
        let (remaining, reset_at) = (st.rate_remaining, st.rate_reset_at);
        let reply = match fault {
            Fault::Status(code) => {
                let status = StatusCode::from_u16(code)
                    .ok()
                    .filter(|s| s.as_u16() >= 200)
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                Reply::problem(status, status.canonical_reason().unwrap_or("Error"))
            }
            Fault::Malformed => Reply {
                status: StatusCode::OK,
                body: br#"{"data":[{"id":"1460323737035677698","text":"@acme hel"#.to_vec(),
            },
            Fault::RateLimited { reset_in_secs } => {
                return Reply::problem(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests")
                    .finish(0, now + Duration::from_secs(reset_in_secs));
            }
            Fault::Unauthorized => Reply::problem(StatusCode::UNAUTHORIZED, "Unauthorized"),
        };
        return reply.finish(remaining, reset_at);
    }
    let reset_at = st.rate_reset_at;
    if st.rate_remaining == 0 {
        return Reply::problem(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests").finish(0, reset_at);
    }
    st.rate_remaining -= 1;
    let remaining = st.rate_remaining;
    let reply = if path == oauth::TOKEN_PATH && parts.method == axum::http::Method::POST {
        let (status, answer) = st.oauth.grant(&parts.headers, &body);
        Reply::with(status, &answer)
    } else if compliance::is_compliance(&path) {
        if compliance::app_authorized(&parts.headers) {
            let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
            compliance::route(&mut st, parts.method.as_str(), &segments, &body)
        } else {
            // X's answer to a user token on an app-only endpoint.
            Reply::with(
                StatusCode::FORBIDDEN,
                &json!({
                    "title": "Unsupported Authentication",
                    "detail": "Authenticating with OAuth 2.0 User Context is forbidden for this endpoint.  Supported authentication types are [OAuth 2.0 Application-Only].",
                    "type": "https://api.twitter.com/2/problems/unsupported-authentication",
                    "status": 403,
                }),
            )
        }
    } else if bearer(&parts.headers).is_some_and(|t| st.oauth.accepts(t)) {
        route(&mut st, parts.method.as_str(), &path, &query, &body)
    } else {
        Reply::problem(StatusCode::UNAUTHORIZED, "Unauthorized")
    };
    reply.finish(remaining, reset_at)
}

fn route(st: &mut State, method: &str, path: &str, query: &str, body: &[u8]) -> Reply {
    let params: HashMap<String, String> = parse_form(query).into_iter().rev().collect();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["2", "users", "me"]) => Reply::ok(&json!({ "data": State::v2_user(BRAND, &[]) })),
        ("GET", ["2", "users", id, "mentions"]) => {
            if *id != BRAND_ID {
                // X answers an unknown user with errors only, in a 200.
                return Reply::ok(&json!({ "errors": [{
                    "value": id, "detail": format!("Could not find user with id: [{id}]."),
                    "title": "Not Found Error", "resource_type": "user", "parameter": "id", "resource_id": id,
                    "type": "https://api.twitter.com/2/problems/resource-not-found",
                }] }));
            }
            timeline(st, &params, "pagination_token", (5, 100, 10), mentions_brand)
        }
        ("GET", ["2", "tweets", "search", "recent"]) => {
            let Some(query) = params.get("query").filter(|q| !q.trim().is_empty()) else {
                return Reply::invalid("query", "The `query` query parameter can not be empty");
            };
            let terms = search_terms(query);
            timeline(st, &params, "next_token", (10, 100, 10), |t| {
                let text = t.text.to_lowercase();
                terms.iter().any(|term| text.contains(term.as_str()))
            })
        }
        ("POST", ["2", "tweets"]) => create(st, body),
        _ => Reply::problem(StatusCode::NOT_FOUND, "Sorry, that page does not exist."),
    }
}

/// `(acme OR "acme cloud") -is:retweet` as the terms any of which must match.
fn search_terms(query: &str) -> Vec<String> {
    query
        .replace("-is:retweet", "")
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(" OR ")
        .map(|t| t.trim().trim_matches('"').to_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// One page of the posts `keep` selects, newest first, bounded below by
/// `since_id` and continued by `token_param`, with authors in `includes`.
fn timeline(
    st: &State,
    params: &HashMap<String, String>,
    token_param: &str,
    (min, max, default): (usize, usize, usize),
    keep: impl Fn(&Tweet) -> bool,
) -> Reply {
    let max_results = match params.get("max_results").map(|m| m.parse::<usize>()) {
        None => default,
        Some(Ok(n)) if (min..=max).contains(&n) => n,
        Some(_) => {
            return Reply::invalid(
                "max_results",
                &format!("The `max_results` query parameter value is not between {min} and {max}"),
            );
        }
    };
    let since: u64 = match params.get("since_id").map(|s| s.parse()) {
        None => 0,
        Some(Ok(s)) => s,
        Some(Err(_)) => return Reply::invalid("since_id", "The `since_id` query parameter value is not valid"),
    };
    let below = match params.get(token_param) {
        None => u64::MAX,
        Some(token) => match decode_token(token) {
            Some(id) => id,
            None => {
                return Reply::invalid(
                    token_param,
                    &format!("The `{token_param}` query parameter value is not valid"),
                );
            }
        },
    };
    let all: Vec<&Tweet> = st
        .timeline(keep)
        .into_iter()
        .filter(|t| t.id > since && t.id < below)
        .collect();
    let page = &all[..max_results.min(all.len())];
    if page.is_empty() {
        return Reply::ok(&json!({ "meta": { "result_count": 0 } }));
    }
    let tweet_fields: Vec<&str> = params.get("tweet.fields").map_or(vec![], |f| f.split(',').collect());
    let user_fields: Vec<&str> = params.get("user.fields").map_or(vec![], |f| f.split(',').collect());
    let expand = params
        .get("expansions")
        .is_some_and(|e| e.split(',').any(|x| x == "author_id"));
    let data: Vec<Value> = page.iter().map(|t| st.v2_tweet(t, &tweet_fields, expand)).collect();
    let mut meta = json!({
        "newest_id": page[0].id.to_string(),
        "oldest_id": page[page.len() - 1].id.to_string(),
        "result_count": page.len(),
    });
    if all.len() > page.len() {
        meta["next_token"] = json!(encode_token(page[page.len() - 1].id));
    }
    let mut out = json!({ "data": data, "meta": meta });
    if expand {
        let mut authors: Vec<&str> = page.iter().map(|t| t.author.as_str()).collect();
        authors.sort_unstable();
        authors.dedup();
        let (gone, shown): (Vec<&str>, Vec<&str>) =
            authors.into_iter().partition(|a| st.suspended.contains(&user_id(a)));
        out["includes"] = json!({ "users": shown.iter().map(|u| State::v2_user(u, &user_fields)).collect::<Vec<_>>() });
        if !gone.is_empty() {
            out["errors"] = gone
                .iter()
                .map(|u| {
                    let id = user_id(u);
                    json!({
                        "value": id, "detail": format!("User has been suspended: [{id}]."), "title": "Forbidden",
                        "resource_type": "user", "parameter": "author_id", "resource_id": id,
                        "type": "https://api.twitter.com/2/problems/resource-not-found",
                    })
                })
                .collect();
        }
    }
    Reply::ok(&out)
}

/// Opaque to clients: the id to continue below, scrambled.
fn encode_token(id: u64) -> String {
    format!("7140d{:x}", id ^ 0x5a5a_5a5a_5a5a_5a5a)
}

fn decode_token(token: &str) -> Option<u64> {
    let hex = token.strip_prefix("7140d")?;
    u64::from_str_radix(hex, 16).ok().map(|n| n ^ 0x5a5a_5a5a_5a5a_5a5a)
}

/// `POST /2/tweets` with `{"text", "reply": {"in_reply_to_tweet_id"}}`.
fn create(st: &mut State, body: &[u8]) -> Reply {
    let Ok(request) = serde_json::from_slice::<Value>(body) else {
        return Reply::problem(StatusCode::BAD_REQUEST, "The request body is not valid JSON.");
    };
    let text = request["text"].as_str().unwrap_or_default().to_string();
    if text.trim().is_empty() || text.chars().count() > MAX_CHARS {
        return Reply::invalid("text", "Your Tweet text is too long or empty.");
    }
    if st.tweets.iter().any(|t| t.author == BRAND && t.text == text) {
        return Reply::problem(
            StatusCode::FORBIDDEN,
            "You are not allowed to create a Tweet with duplicate content.",
        );
    }
    let reply_to = match request["reply"]["in_reply_to_tweet_id"].as_str() {
        None => None,
        Some(id) => match id
            .parse::<u64>()
            .ok()
            .filter(|id| st.tweets.iter().any(|t| t.id == *id))
        {
            Some(id) => Some(id),
            None => {
                return Reply::invalid(
                    "reply.in_reply_to_tweet_id",
                    "The `reply.in_reply_to_tweet_id` query parameter value is not valid",
                );
            }
        },
    };
    let id = st.post(BRAND, &text, reply_to);
    let stored = st
        .tweets
        .iter()
        .find(|t| t.id.to_string() == id)
        .map(|t| st.v2_tweet(t, &["created_at", "conversation_id", "referenced_tweets"], true))
        .unwrap_or_default();
    st.posted.push(stored);
    Reply::with(
        StatusCode::CREATED,
        &json!({ "data": { "id": id, "text": escape(&text), "edit_history_tweet_ids": [id] } }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        assert_eq!(decode_token(&encode_token(FIRST_ID)), Some(FIRST_ID));
        assert_eq!(decode_token("nope"), None);
    }

    #[test]
    fn times_in_both_shapes() {
        assert_eq!(iso8601(1_539_202_764), "2018-10-10T20:19:24.000Z");
        assert_eq!(v1_time(1_539_202_764), "Wed Oct 10 20:19:24 +0000 2018");
    }

    #[test]
    fn search_terms_of_the_plugins_queries() {
        assert_eq!(
            search_terms("(acme OR \"acme cloud\") -is:retweet"),
            ["acme", "acme cloud"]
        );
    }
}
