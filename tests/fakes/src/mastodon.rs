//! A fake Mastodon server speaking the documented REST API
//! (<https://docs.joinmastodon.org/methods/notifications/>, `/methods/statuses/`,
//! `/methods/accounts/`, `/api/rate-limits/`, `/client/intro/`), serving the
//! real entities recorded in `tests/data/mastodon_*.jsonl`.
//!
//! The brand (the account the plugin acts as) is `mastodonpy_test`, the
//! account the recordings were made with. Its mention timeline is the
//! recorded notifications plus one synthesised mention per recorded status.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, anyhow};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Map, Value, json};

pub use super::server::RecordedRequest;
use super::server::Server;
use super::util::{cgi_escape, iso8601_micros, iso8601_millis, parse_form};

/// The only access token the fake accepts, as `Authorization: Bearer TOKEN`.
pub const TOKEN: &str = "fake-mastodon-token";
/// `X-RateLimit-Limit`: Mastodon's default of 300 requests per 5 minutes.
pub const RATE_LIMIT: u32 = 300;
const RATE_PERIOD: Duration = Duration::from_secs(300);
const DEFAULT_LIMIT: u64 = 40;
const MAX_LIMIT: u64 = 80;
/// Mastodon's default `max_characters` for a status. Counted here in plain
/// characters; Mastodon counts every URL as 23, so long links pass there.
const MAX_CHARS: usize = 500;
const MAX_BODY_BYTES: usize = 1 << 20;
const BRAND_USERNAME: &str = "mastodonpy_test";
/// Synthesised notification ids start just below a power of ten so the
/// timeline crosses from 9- to 10-digit ids: a client that compares ids as
/// strings rather than numbers gets the order wrong.
const SYNTH_ID_START: u64 = 999_999_900;

const STATUSES_JSONL: &str = include_str!("../../data/mastodon_statuses.jsonl");
const NOTIFICATIONS_JSONL: &str = include_str!("../../data/mastodon_notifications.jsonl");

/// A failure injected into the next API request (one per request, in the
/// order queued). A faulted request does not reach the API: no side effects,
/// no rate-limit budget spent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// That HTTP status with a Mastodon error body; codes below 200 become 500.
    Status(u16),
    /// 200 with a JSON content type but a truncated, unparsable body.
    Malformed,
    /// 429 with `X-RateLimit-Remaining: 0` and a reset this far ahead.
    RateLimited { reset_in_secs: u64 },
    /// 401 as for a revoked token, even if the token is right.
    Unauthorized,
}

/// A running fake Mastodon server; it stops when dropped.
pub struct FakeMastodon {
    server: Server,
    state: Shared,
}

type Shared = Arc<Mutex<State>>;

impl FakeMastodon {
    /// Binds 127.0.0.1 on a free port and serves on the current tokio runtime.
    pub async fn start() -> anyhow::Result<Self> {
        Self::start_with(Dataset::recorded()?).await
    }

    /// Like [`FakeMastodon::start`], serving `data` instead of the recorded entities.
    pub async fn start_with(data: Dataset) -> anyhow::Result<Self> {
        let (server, state) = Server::start("the fake Mastodon server", |base_url| {
            let state: Shared = Arc::new(Mutex::new(State::new(base_url.to_string(), data)?));
            Ok((Router::new().fallback(handle).with_state(Arc::clone(&state)), state))
        })
        .await?;
        Ok(Self { server, state })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Appends a mention notification with a new highest id and returns that
    /// id. Missing `id`, `created_at` and `account` fields of the status are
    /// filled in, so tests may pass a minimal object.
    pub fn push_mention(&self, status: Value) -> String {
        let mut st = self.lock();
        let now = SystemTime::now();
        let mut status = status;
        if let Value::Object(map) = &mut status {
            if !map.contains_key("id") {
                let id = st.next_status_id(now);
                map.insert("id".into(), Value::String(id.to_string()));
            }
            map.entry("created_at")
                .or_insert_with(|| Value::String(iso8601_millis(now)));
            map.entry("account").or_insert_with(|| st.default_sender.clone());
        }
        st.remember_status(&status);
        let account = status
            .get("account")
            .cloned()
            .unwrap_or_else(|| st.default_sender.clone());
        let created_at = status
            .get("created_at")
            .cloned()
            .unwrap_or_else(|| Value::String(iso8601_millis(now)));
        let id = st.notifications.last().map_or(0, |n| n.id).saturating_add(1);
        st.notifications.push(Notification {
            id,
            kind: "mention".into(),
            json: notification_json(id, "mention", created_at, account, status),
        });
        id.to_string()
    }

    /// Deletes status `id` as its author does: `GET /api/v1/statuses/:id`
    /// answers 404 and its notifications are gone.
    pub fn delete_status(&self, id: &str) {
        let mut st = self.lock();
        st.statuses.remove(id);
        st.notifications.retain(|n| n.json["status"]["id"].as_str() != Some(id));
    }

    /// Edits status `id` as its author does: new `content` (HTML) and
    /// `edited_at` now.
    pub fn edit_status(&self, id: &str, content: &str) {
        let mut st = self.lock();
        let edited_at = Value::String(iso8601_millis(SystemTime::now()));
        if let Some(status) = st.statuses.get_mut(id) {
            status["content"] = Value::String(content.to_string());
            status["edited_at"] = edited_at;
        }
    }

    /// Queues a fault for the next API request not already claimed by an
    /// earlier queued fault.
    pub fn fail_next(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    /// Sets the rate-limit budget: `remaining` more requests are served until
    /// the window resets `reset_in_secs` from now (then the full
    /// [`RATE_LIMIT`] is available again).
    pub fn set_rate_limit(&self, remaining: u32, reset_in_secs: u64) {
        let mut st = self.lock();
        st.rate_remaining = remaining;
        st.rate_reset_at = secs_after(SystemTime::now(), reset_in_secs);
    }

    /// Delays every later response by `latency` (to make overlapping calls visible).
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// The most requests this server was ever serving at the same time.
    pub fn max_in_flight(&self) -> usize {
        self.lock().max_in_flight
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// The statuses created through `POST /api/v1/statuses` (idempotent
    /// replays not repeated), oldest first.
    pub fn posted(&self) -> Vec<Value> {
        self.lock().posted.clone()
    }

    /// How many notifications of type `mention` the timeline holds.
    pub fn mention_count(&self) -> usize {
        self.lock().notifications.iter().filter(|n| n.kind == "mention").count()
    }

    /// The ids of all mention notifications, newest (highest) first.
    pub fn mention_ids(&self) -> Vec<String> {
        let st = self.lock();
        let mut ids: Vec<u64> = st
            .notifications
            .iter()
            .filter(|n| n.kind == "mention")
            .map(|n| n.id)
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids.into_iter().map(|id| id.to_string()).collect()
    }

    /// The brand's Account entity, as embedded in the statuses it posts.
    pub fn brand_account(&self) -> Value {
        self.lock().brand.clone()
    }

    /// Requests left in the current rate-limit window.
    pub fn rate_limit_remaining(&self) -> u32 {
        let mut st = self.lock();
        st.refill_rate(SystemTime::now());
        st.rate_remaining
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

/// `now + secs`, capped instead of panicking on an absurd test input.
fn secs_after(now: SystemTime, secs: u64) -> SystemTime {
    now.checked_add(Duration::from_secs(secs))
        .unwrap_or_else(|| now + Duration::from_secs(u64::from(u32::MAX)))
}

// A panic while holding the lock must not turn every later request into a
// panic too; the state stays usable.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

struct Notification {
    id: u64,
    kind: String,
    json: Value,
}

struct State {
    base_url: String,
    /// The brand's Account entity, URLs pointing at this server.
    brand: Value,
    /// Sender for pushed mentions whose status has no `account`.
    default_sender: Value,
    /// Every notification; ids unique, in id order (pages are found by binary search).
    notifications: Vec<Notification>,
    /// Every known status by id: the recorded ones, those inside recorded
    /// notifications, pushed and posted ones.
    statuses: HashMap<String, Value>,
    /// Accounts by lower-cased `acct`, to resolve @mentions in posted text.
    accounts: HashMap<String, Value>,
    last_status_id: u64,
    posted: Vec<Value>,
    idempotent: HashMap<String, Value>,
    faults: VecDeque<Fault>,
    requests: Vec<RecordedRequest>,
    latency: Duration,
    in_flight: usize,
    max_in_flight: usize,
    rate_remaining: u32,
    rate_reset_at: SystemTime,
}

/// What a fake server starts with: the brand's own account, statuses (each
/// becomes a mention unless a notification already carries it or it is a
/// boost), and recorded notifications.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub brand: Value,
    pub statuses: Vec<Value>,
    pub notifications: Vec<Value>,
}

impl Dataset {
    /// Real entities recorded from Mastodon servers (`tests/data/mastodon_*.jsonl`).
    pub fn recorded() -> anyhow::Result<Dataset> {
        static DATA: OnceLock<Result<Dataset, String>> = OnceLock::new();
        DATA.get_or_init(|| {
            let statuses = parse_jsonl(STATUSES_JSONL).map_err(|e| format!("statuses: {e:#}"))?;
            let notifications = parse_jsonl(NOTIFICATIONS_JSONL).map_err(|e| format!("notifications: {e:#}"))?;
            // The brand as in its newest recorded status.
            let brand = statuses
                .iter()
                .filter(|s| s["account"]["acct"] == BRAND_USERNAME)
                .max_by_key(|s| numeric_id(&s["id"]))
                .map(|s| s["account"].clone())
                .ok_or("the recorded statuses hold no brand account")?;
            Ok(Dataset {
                brand,
                statuses,
                notifications,
            })
        })
        .clone()
        .map_err(|e| anyhow!("loading the Mastodon test data: {e}"))
    }
}

fn parse_jsonl(text: &str) -> anyhow::Result<Vec<Value>> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| serde_json::from_str(line).with_context(|| format!("line {}", i + 1)))
        .collect()
}

/// Mastodon ids are numeric strings; anything else is no id.
fn numeric_id(value: &Value) -> Option<u64> {
    match value {
        Value::String(s) => s.trim().parse().ok(),
        Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

fn notification_json(id: u64, kind: &str, created_at: Value, account: Value, status: Value) -> Value {
    json!({
        "id": id.to_string(),
        "type": kind,
        "created_at": created_at,
        "group_key": format!("ungrouped-{id}"),
        "account": account,
        "status": status,
    })
}

impl State {
    fn new(base_url: String, data: Dataset) -> anyhow::Result<Self> {
        let mut state = State {
            brand: Value::Null,
            default_sender: Value::Null,
            notifications: Vec::new(),
            statuses: HashMap::new(),
            accounts: HashMap::new(),
            last_status_id: 0,
            posted: Vec::new(),
            idempotent: HashMap::new(),
            faults: VecDeque::new(),
            requests: Vec::new(),
            latency: Duration::ZERO,
            in_flight: 0,
            max_in_flight: 0,
            rate_remaining: RATE_LIMIT,
            rate_reset_at: SystemTime::now() + RATE_PERIOD,
            base_url,
        };

        // Statuses already carried by a recorded notification get no second,
        // synthesised mention: a real server notifies once per status.
        let mut notified = HashSet::new();
        for n in &data.notifications {
            let id = numeric_id(&n["id"]).context("recorded notification without numeric id")?;
            let kind = n["type"].as_str().unwrap_or_default().to_owned();
            if let Some(sid) = n.get("status").and_then(|s| s.get("id")) {
                notified.insert(sid.clone());
            }
            if let Some(status) = n.get("status") {
                state.remember_status(status);
            }
            state.remember_account(&n["account"]);
            if kind == "mention" && state.default_sender.is_null() {
                state.default_sender = n["account"].clone();
            }
            state.notifications.push(Notification {
                id,
                kind,
                json: n.clone(),
            });
        }

        let mut statuses: Vec<(u64, &Value)> = data
            .statuses
            .iter()
            .filter_map(|s| numeric_id(&s["id"]).map(|id| (id, s)))
            .collect();
        statuses.sort_by_key(|(id, _)| *id);
        let mut next_id = SYNTH_ID_START;
        for (_, status) in &statuses {
            state.remember_status(status);
            // A boost wrapper is never what mentions someone.
            if !status["reblog"].is_null() || notified.contains(&status["id"]) {
                continue;
            }
            state.notifications.push(Notification {
                id: next_id,
                kind: "mention".into(),
                json: notification_json(
                    next_id,
                    "mention",
                    status["created_at"].clone(),
                    status["account"].clone(),
                    (*status).clone(),
                ),
            });
            next_id += 1;
        }

        // The brand's account, moved onto this host.
        let mut brand = data.brand.clone();
        let username = brand["username"].as_str().unwrap_or(BRAND_USERNAME).to_string();
        brand["url"] = Value::String(format!("{}/@{username}", state.base_url));
        brand["uri"] = Value::String(format!("{}/users/{username}", state.base_url));
        state.accounts.insert(username.to_lowercase(), brand.clone());
        state.brand = brand;
        state.notifications.sort_by_key(|n| n.id);
        Ok(state)
    }

    fn remember_status(&mut self, status: &Value) {
        let Some(id) = numeric_id(&status["id"]) else {
            return;
        };
        self.last_status_id = self.last_status_id.max(id);
        self.remember_account(&status["account"]);
        self.statuses.insert(id.to_string(), status.clone());
    }

    fn remember_account(&mut self, account: &Value) {
        if let Some(acct) = account["acct"].as_str() {
            self.accounts
                .entry(acct.to_lowercase())
                .or_insert_with(|| account.clone());
        }
    }

    /// A Mastodon-style snowflake (milliseconds << 16), kept above every
    /// known id so new statuses sort after the recorded ones.
    fn next_status_id(&mut self, now: SystemTime) -> u64 {
        let millis = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX >> 16));
        let id = (millis << 16).max(self.last_status_id.saturating_add(1));
        self.last_status_id = id;
        id
    }

    fn refill_rate(&mut self, now: SystemTime) {
        if now >= self.rate_reset_at {
            self.rate_remaining = RATE_LIMIT;
            self.rate_reset_at = now + RATE_PERIOD;
        }
    }
}

/// A response before the headers every response shares are added.
struct Reply {
    status: StatusCode,
    body: Vec<u8>,
    headers: Vec<(HeaderName, String)>,
}

impl Reply {
    fn json(status: StatusCode, value: &Value) -> Self {
        Reply {
            status,
            body: value.to_string().into_bytes(),
            headers: Vec::new(),
        }
    }

    fn ok(value: &Value) -> Self {
        Self::json(StatusCode::OK, value)
    }

    fn error(status: StatusCode, message: &str) -> Self {
        Self::json(status, &json!({ "error": message }))
    }

    fn not_found() -> Self {
        Self::error(StatusCode::NOT_FOUND, "Record not found")
    }

    fn unauthorized() -> Self {
        let mut reply = Self::error(StatusCode::UNAUTHORIZED, "The access token is invalid");
        reply.headers.push((
            header::WWW_AUTHENTICATE,
            "Bearer realm=\"Doorkeeper\", error=\"invalid_token\", \
             error_description=\"The access token is invalid\""
                .into(),
        ));
        reply
    }

    fn finish(self, remaining: u32, reset_at: SystemTime) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        headers.insert(
            HeaderName::from_static("x-ratelimit-limit"),
            HeaderValue::from(RATE_LIMIT),
        );
        headers.insert(
            HeaderName::from_static("x-ratelimit-remaining"),
            HeaderValue::from(remaining),
        );
        if let Ok(reset) = HeaderValue::from_str(&iso8601_micros(reset_at)) {
            headers.insert(HeaderName::from_static("x-ratelimit-reset"), reset);
        }
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                headers.append(name, value);
            }
        }
        response
    }
}

/// Serves one request after the configured latency, counting requests in flight.
async fn handle(AxumState(shared): AxumState<Shared>, request: Request) -> Response {
    let latency = {
        let mut st = lock(&shared);
        st.in_flight += 1;
        st.max_in_flight = st.max_in_flight.max(st.in_flight);
        st.latency
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let response = respond(&shared, request).await;
    lock(&shared).in_flight -= 1;
    response
}

async fn respond(shared: &Shared, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES).await;
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default().to_owned();
    let now = SystemTime::now();

    let mut st = lock(shared);
    st.requests
        .push(RecordedRequest::of(&parts, body.as_deref().unwrap_or_default()));

    st.refill_rate(now);
    if path.starts_with("/api/")
        && let Some(fault) = st.faults.pop_front()
    {
        return fault_reply(fault, now, st.rate_remaining, st.rate_reset_at);
    }

    // Rack::Attack sits in front of the app: the budget is checked first.
    let reset_at = st.rate_reset_at;
    if st.rate_remaining == 0 {
        return Reply::error(StatusCode::TOO_MANY_REQUESTS, "Too many requests").finish(0, reset_at);
    }
    st.rate_remaining -= 1;
    let remaining = st.rate_remaining;

    let reply = match body {
        Err(_) => Reply::error(StatusCode::PAYLOAD_TOO_LARGE, "Request entity too large"),
        // Only the header: a token in the query string would end up in logs.
        Ok(_) if !authorized(&parts.headers) => Reply::unauthorized(),
        Ok(body) => route(
            &mut st,
            parts.method.as_str(),
            &path,
            &query,
            &parts.headers,
            &body,
            now,
        ),
    };
    reply.finish(remaining, reset_at)
}

fn fault_reply(fault: Fault, now: SystemTime, remaining: u32, reset_at: SystemTime) -> Response {
    match fault {
        Fault::Status(code) => {
            let status = StatusCode::from_u16(code)
                .ok()
                .filter(|s| s.as_u16() >= 200)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let message = status.canonical_reason().unwrap_or("Error");
            Reply::error(status, message).finish(remaining, reset_at)
        }
        Fault::Malformed => Reply {
            status: StatusCode::OK,
            body: br#"[{"id":"1","type":"mention","created_at":"2026-"#.to_vec(),
            headers: Vec::new(),
        }
        .finish(remaining, reset_at),
        Fault::RateLimited { reset_in_secs } => {
            Reply::error(StatusCode::TOO_MANY_REQUESTS, "Too many requests").finish(0, secs_after(now, reset_in_secs))
        }
        Fault::Unauthorized => Reply::unauthorized().finish(remaining, reset_at),
    }
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && token.trim() == TOKEN)
}

fn route(
    st: &mut State,
    method: &str,
    path: &str,
    query: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Reply {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["api", "v1", "notifications"]) => list_notifications(st, query),
        ("GET", ["api", "v1", "notifications", id]) => {
            let id = id.parse::<u64>().ok();
            st.notifications
                .iter()
                .find(|n| Some(n.id) == id)
                .map_or_else(Reply::not_found, |n| Reply::ok(&n.json))
        }
        ("GET", ["api", "v1", "accounts", "verify_credentials"]) => Reply::ok(&credential_account(&st.brand)),
        ("POST", ["api", "v1", "statuses"]) => post_status(st, query, headers, body, now),
        ("GET", ["api", "v1", "statuses", id]) => st
            .statuses
            .get(&normalize_id(id))
            .map_or_else(Reply::not_found, Reply::ok),
        _ => Reply::not_found(),
    }
}

/// `GET /api/v1/notifications`, paginated like Mastodon's `paginate_by_id`.
fn list_notifications(st: &State, query: &str) -> Reply {
    let params = parse_form(query);
    let first = |key: &str| params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    // Rails permits `types: []` only: a scalar `types=mention` is dropped,
    // so Mastodon silently ignores it, and so does this fake.
    let list = |key: &str| -> Vec<String> {
        params
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    };
    let types = list("types[]");
    let exclude = list("exclude_types[]");
    let id_param = |key: &str| first(key).and_then(|v| v.trim().parse::<u64>().ok());
    let (max_id, since_id, min_id) = (id_param("max_id"), id_param("since_id"), id_param("min_id"));
    let limit_raw = first("limit");
    let limit = limit_raw.map_or(DEFAULT_LIMIT, |raw| ruby_to_i(raw).unsigned_abs().min(MAX_LIMIT));
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);

    let shown = |n: &&Notification| (types.is_empty() || types.contains(&n.kind)) && !exclude.contains(&n.kind);
    let all = &st.notifications;
    let below_max = &all[..max_id.map_or(all.len(), |max| all.partition_point(|n| n.id < max))];
    let above = |id: u64| &below_max[below_max.partition_point(|n| n.id <= id)..];
    let page: Vec<&Notification> = match min_id {
        // The page right above min_id, still returned newest first.
        Some(min) => {
            let mut page: Vec<_> = above(min).iter().filter(shown).take(limit).collect();
            page.reverse();
            page
        }
        None => since_id
            .map_or(below_max, above)
            .iter()
            .rev()
            .filter(shown)
            .take(limit)
            .collect(),
    };

    let body = Value::Array(page.iter().map(|n| n.json.clone()).collect());
    let mut reply = Reply::ok(&body);
    if let (Some(newest), Some(oldest)) = (page.first(), page.last()) {
        let url = |key: &str, id: u64| notifications_url(&st.base_url, limit_raw, &types, &exclude, key, id);
        reply.headers.push((
            header::LINK,
            format!(
                "<{}>; rel=\"next\", <{}>; rel=\"prev\"",
                url("max_id", oldest.id),
                url("min_id", newest.id)
            ),
        ));
    }
    reply
}

/// A pagination URL as Rails' `to_query` writes it: one `key=value` run per
/// parameter, runs sorted, arrays as repeated `key%5B%5D=`.
fn notifications_url(
    base: &str,
    limit: Option<&str>,
    types: &[String],
    exclude: &[String],
    key: &str,
    id: u64,
) -> String {
    let array = |name: &str, values: &[String]| {
        values
            .iter()
            .map(|v| format!("{}={}", cgi_escape(&format!("{name}[]")), cgi_escape(v)))
            .collect::<Vec<_>>()
            .join("&")
    };
    let mut runs = vec![format!("{key}={id}")];
    if let Some(limit) = limit {
        runs.push(format!("limit={}", cgi_escape(limit)));
    }
    if !types.is_empty() {
        runs.push(array("types", types));
    }
    if !exclude.is_empty() {
        runs.push(array("exclude_types", exclude));
    }
    runs.sort();
    format!("{base}/api/v1/notifications?{}", runs.join("&"))
}

/// Ruby's `String#to_i`: leading sign and digits, anything else is 0;
/// saturated where Ruby would go on into a bignum.
fn ruby_to_i(raw: &str) -> i64 {
    let s = raw.trim_start();
    let (sign, digits) = match s.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    let end = digits.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(digits.len());
    match &digits[..end] {
        "" => 0,
        digits => digits.parse::<i64>().map_or(sign * i64::MAX, |n| sign * n),
    }
}

fn normalize_id(raw: &str) -> String {
    raw.trim()
        .parse::<u64>()
        .map_or_else(|_| raw.to_owned(), |n| n.to_string())
}

/// The CredentialAccount shape: the Account plus `source` and `role`.
fn credential_account(brand: &Value) -> Value {
    let mut account = brand.clone();
    account["source"] = json!({
        "privacy": "public",
        "sensitive": false,
        "language": null,
        "note": "",
        "fields": [],
        "follow_requests_count": 0,
        "hide_collections": null,
        "discoverable": null,
        "indexable": false,
        "attribution_domains": [],
    });
    account["role"] = json!({
        "id": "-99",
        "name": "",
        "permissions": "0",
        "color": "",
        "highlighted": false,
    });
    account
}

/// A body parameter as a string; JSON numbers and booleans are accepted as
/// Rails would coerce them.
fn string_param(params: &Map<String, Value>, key: &str) -> Option<String> {
    match params.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `POST /api/v1/statuses`, checked in Mastodon's order: the replied-to
/// status is looked up by the controller before the service replays an
/// idempotent request or validates the text.
fn post_status(st: &mut State, query: &str, headers: &HeaderMap, body: &[u8], now: SystemTime) -> Reply {
    // Rails merges query and body parameters, the body winning.
    let mut params: Map<String, Value> = parse_form(query)
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if content_type.starts_with("application/json") {
        if !body.is_empty() {
            match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(map)) => params.extend(map),
                // Rails nests a non-object JSON body under `_json`: no fields.
                Ok(_) => {}
                Err(_) => {
                    return Reply::error(
                        StatusCode::BAD_REQUEST,
                        "Error occurred while parsing request parameters",
                    );
                }
            }
        }
    } else {
        let text = String::from_utf8_lossy(body);
        params.extend(parse_form(&text).into_iter().map(|(k, v)| (k, Value::String(v))));
    }

    let thread = match string_param(&params, "in_reply_to_id").filter(|s| !s.trim().is_empty()) {
        Some(id) => match st.statuses.get(&normalize_id(&id)) {
            Some(parent) => Some(parent.clone()),
            None => return Reply::not_found(),
        },
        None => None,
    };

    let key = headers
        .get("idempotency-key")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .filter(|k| !k.is_empty());
    if let Some(previous) = key.as_ref().and_then(|k| st.idempotent.get(k)) {
        return Reply::ok(previous);
    }

    let text = string_param(&params, "status").unwrap_or_default();
    if text.trim().is_empty() {
        return Reply::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: Text can't be blank",
        );
    }
    if text.chars().count() > MAX_CHARS {
        return Reply::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Validation failed: Text character limit of {MAX_CHARS} exceeded"),
        );
    }
    let visibility = string_param(&params, "visibility").unwrap_or_else(|| "public".into());
    if !["public", "unlisted", "private", "direct"].contains(&visibility.as_str()) {
        return Reply::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: Visibility is not included in the list",
        );
    }
    let sensitive = string_param(&params, "sensitive")
        .is_some_and(|s| matches!(s.to_ascii_lowercase().as_str(), "true" | "1" | "t" | "on"));
    let spoiler_text = string_param(&params, "spoiler_text").unwrap_or_default();
    let language = string_param(&params, "language").map_or(Value::Null, Value::String);

    let id = st.next_status_id(now).to_string();
    let base = st.base_url.clone();
    let username = st.brand["username"].as_str().unwrap_or(BRAND_USERNAME).to_string();
    st.brand["statuses_count"] = json!(st.brand["statuses_count"].as_u64().unwrap_or(0).saturating_add(1));
    st.brand["last_status_at"] = Value::String(iso8601_millis(now)[..10].to_owned());
    let status = json!({
        "id": id,
        "created_at": iso8601_millis(now),
        "in_reply_to_id": thread.as_ref().map(|t| t["id"].clone()),
        "in_reply_to_account_id": thread.as_ref().map(|t| t["account"]["id"].clone()),
        "sensitive": sensitive,
        "spoiler_text": spoiler_text,
        "visibility": visibility,
        "language": language,
        "uri": format!("{base}/users/{username}/statuses/{id}"),
        "url": format!("{base}/@{username}/{id}"),
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "quotes_count": 0,
        "edited_at": null,
        "favourited": false,
        "reblogged": false,
        "muted": false,
        "bookmarked": false,
        "pinned": false,
        "content": render_content(&text),
        "filtered": [],
        "reblog": null,
        "application": { "name": "socialcrm", "website": null },
        "account": st.brand,
        "media_attachments": [],
        "mentions": mentions_in(&st.accounts, &text),
        "tags": [],
        "emojis": [],
        "tagged_collections": [],
        "quote": null,
        "card": null,
        "poll": null,
        "quote_approval": { "automatic": ["public"], "manual": [], "current_user": "automatic" },
    });

    if let Some(parent) = thread.as_ref().and_then(|t| numeric_id(&t["id"]))
        && let Some(parent) = st.statuses.get_mut(&parent.to_string())
    {
        parent["replies_count"] = json!(parent["replies_count"].as_u64().unwrap_or(0).saturating_add(1));
    }
    st.remember_status(&status);
    st.posted.push(status.clone());
    if let Some(key) = key {
        st.idempotent.insert(key, status.clone());
    }
    Reply::ok(&status)
}

/// Plain text as Mastodon's formatter renders it: blank lines separate
/// paragraphs, single newlines become `<br />`, HTML is escaped.
fn render_content(text: &str) -> String {
    text.replace("\r\n", "\n")
        .split("\n\n")
        .map(|p| p.trim_matches('\n'))
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>", escape_html(p).replace('\n', "<br />")))
        .collect()
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Mention entities for the `@acct` tokens of the text that name a known
/// account, each account once.
fn mentions_in(accounts: &HashMap<String, Value>, text: &str) -> Value {
    let mut seen = HashSet::new();
    let mentions = text
        .split_whitespace()
        .filter_map(|word| word.strip_prefix('@'))
        .map(|acct| acct.trim_end_matches(|c: char| !(c.is_alphanumeric() || c == '_')))
        .filter_map(|acct| accounts.get(&acct.to_lowercase()))
        .filter(|account| seen.insert(account["id"].to_string()))
        .map(|account| {
            json!({
                "id": account["id"],
                "username": account["username"],
                "url": account["url"],
                "acct": account["acct"],
            })
        })
        .collect();
    Value::Array(mentions)
}
