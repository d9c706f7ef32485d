//! A fake Discourse forum (<https://docs.discourse.org>): `/latest.json`,
//! `/c/{slug}/{id}.json`, `/t/{id}.json`, `/posts.json` (latest posts, `before`
//! paging by post id, newest first), `/posts/{id}.json`, `/search.json?q=`,
//! `POST /posts.json`, `/session/current.json` and `/u/{username}.json`.
//!
//! Authentication is Discourse's API key pair: the headers `Api-Key` and
//! `Api-Username`, each sent exactly once ([`API_KEY`], [`API_USERNAME`]);
//! anything else gets Discourse's 403 `invalid_access`. Rate limits answer
//! 429 with `Retry-After` and `extras.wait_seconds`; a post Discourse would
//! refuse gets a 422 with its `errors`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::server::{RecordedRequest, Server};
use super::util::{iso8601_millis, parse_form};

/// The API key the fake accepts.
pub const API_KEY: &str = "d15c0urse-api-key-0123456789abcdef";
/// The API user the key acts as.
pub const API_USERNAME: &str = "acme_support";
/// The shortest post body Discourse accepts by default (`min_post_length`).
pub const MIN_POST_LENGTH: usize = 20;

const MAX_BODY_BYTES: usize = 1 << 20;
/// The first post's time: 2026-11-23T10:00:00Z; each new post is a minute later.
const EPOCH_SECS: u64 = 1_795_428_000;

/// A failure served instead of the next request's answer.
#[derive(Clone, Debug)]
pub enum Fault {
    /// 429, `Retry-After: N` and `extras.wait_seconds = N`.
    RateLimited { wait_seconds: u64 },
    /// Any status with Discourse's error body.
    Status(u16),
    /// 200 with a body cut in the middle.
    Malformed,
}

#[derive(Clone, Debug)]
struct Category {
    id: u64,
    slug: String,
    name: String,
}

#[derive(Clone, Debug)]
struct Topic {
    id: u64,
    title: String,
    slug: String,
    category_id: u64,
    created_at: SystemTime,
    last_posted_at: SystemTime,
}

#[derive(Clone, Debug)]
struct Post {
    id: u64,
    topic_id: u64,
    post_number: u64,
    username: String,
    raw: String,
    created_at: SystemTime,
    reply_to_post_number: Option<u64>,
}

#[derive(Default)]
struct State {
    categories: Vec<Category>,
    topics: Vec<Topic>,
    posts: Vec<Post>,
    next_post_id: u64,
    next_topic_id: u64,
    clock: u64,
    /// Posts per page of `/posts.json` (Discourse: 50).
    page_size: usize,
    faults: VecDeque<Fault>,
    requests: Vec<RecordedRequest>,
    created: Vec<Value>,
}

type Shared = Arc<Mutex<State>>;

/// A running fake Discourse; it stops when dropped.
pub struct FakeDiscourse {
    server: Server,
    state: Shared,
}

impl FakeDiscourse {
    /// Binds 127.0.0.1 on a free port; the forum has the categories
    /// `general` (1), `support` (2) and `feedback` (3) and no topics.
    pub async fn start() -> anyhow::Result<Self> {
        let (server, state) = Server::start("the fake Discourse server", |_| {
            let state = State {
                categories: [
                    (1, "general", "General"),
                    (2, "support", "Support"),
                    (3, "feedback", "Feedback"),
                ]
                .into_iter()
                .map(|(id, slug, name)| Category {
                    id,
                    slug: slug.into(),
                    name: name.into(),
                })
                .collect(),
                next_post_id: 101,
                next_topic_id: 11,
                page_size: 50,
                ..State::default()
            };
            let state: Shared = Arc::new(Mutex::new(state));
            Ok((Router::new().fallback(handle).with_state(Arc::clone(&state)), state))
        })
        .await?;
        Ok(Self { server, state })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Serves `/posts.json` in pages of `n` posts.
    pub fn set_page_size(&self, n: usize) {
        self.lock().page_size = n.max(1);
    }

    /// A new topic in `category_id` by `username`, its first post `raw`
    /// (Markdown-ish: blank lines separate paragraphs, `@name` mentions).
    /// Returns (topic id, post id).
    pub fn new_topic(&self, category_id: u64, title: &str, username: &str, raw: &str) -> (u64, u64) {
        let mut st = self.lock();
        let now = st.tick();
        let id = st.next_topic_id;
        st.next_topic_id += 1;
        st.topics.push(Topic {
            id,
            title: title.into(),
            slug: slugify(title),
            category_id,
            created_at: now,
            last_posted_at: now,
        });
        let post = st.add_post(id, username, raw, None, now);
        (id, post)
    }

    /// A reply in `topic_id`, to post number `to` when given; its post id.
    pub fn reply(&self, topic_id: u64, username: &str, raw: &str, to: Option<u64>) -> u64 {
        let mut st = self.lock();
        let now = st.tick();
        st.add_post(topic_id, username, raw, to, now)
    }

    /// Queues a fault for the next request.
    pub fn fail_next(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// The posts created through `POST /posts.json`, as answered.
    pub fn created(&self) -> Vec<Value> {
        self.lock().created.clone()
    }

    /// The body Discourse's webhook sends for `post_created` of `post_id`.
    pub fn webhook_payload(&self, post_id: u64) -> Option<Value> {
        let st = self.lock();
        let post = st.posts.iter().find(|p| p.id == post_id)?;
        Some(json!({ "post": st.post_json(post, true) }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

/// The `X-Discourse-Event-Signature` Discourse sends with a webhook: the
/// HMAC-SHA256 of the body keyed by the webhook's secret, in hex.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    format!("sha256={}", hex::encode(ring::hmac::sign(&key, body).as_ref()))
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `How do I reset my password?` -> `how-do-i-reset-my-password`.
fn slugify(title: &str) -> String {
    let words: Vec<String> = title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    if words.is_empty() {
        "topic".into()
    } else {
        words.join("-")
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Discourse's `cooked`: paragraphs in `<p>`, line breaks as `<br>`,
/// mentions as links to the profile.
fn cook(raw: &str) -> String {
    raw.split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let words: Vec<String> = p
                .split(' ')
                .map(|w| match w.strip_prefix('@') {
                    Some(name) if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                        format!(r#"<a class="mention" href="/u/{name}">@{name}</a>"#)
                    }
                    _ => escape(w),
                })
                .collect();
            format!("<p>{}</p>", words.join(" ").replace('\n', "<br>\n"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn display_name(username: &str) -> String {
    let mut chars = username.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect::<String>().replace('_', " "),
        None => String::new(),
    }
}

fn user_id(username: &str) -> u64 {
    // Stable and distinct enough for a fake: FNV-1a, kept small.
    username.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }) % 100_000
        + 2
}

fn avatar_template(username: &str) -> String {
    format!(
        "/user_avatar/forum.example/{}/{{size}}/{}_2.png",
        username.to_lowercase(),
        user_id(username)
    )
}

impl State {
    fn tick(&mut self) -> SystemTime {
        self.clock += 60;
        UNIX_EPOCH + Duration::from_secs(EPOCH_SECS + self.clock)
    }

    fn add_post(&mut self, topic_id: u64, username: &str, raw: &str, to: Option<u64>, now: SystemTime) -> u64 {
        let id = self.next_post_id;
        self.next_post_id += 1;
        let post_number = self.posts.iter().filter(|p| p.topic_id == topic_id).count() as u64 + 1;
        self.posts.push(Post {
            id,
            topic_id,
            post_number,
            username: username.into(),
            raw: raw.into(),
            created_at: now,
            reply_to_post_number: to,
        });
        if let Some(topic) = self.topics.iter_mut().find(|t| t.id == topic_id) {
            topic.last_posted_at = now;
        }
        id
    }

    fn topic(&self, id: u64) -> Option<&Topic> {
        self.topics.iter().find(|t| t.id == id)
    }

    /// A post as `/posts.json`, `/t/{id}.json` and webhooks serialize it.
    fn post_json(&self, post: &Post, with_raw: bool) -> Value {
        let topic = self.topic(post.topic_id);
        let mut value = json!({
            "id": post.id,
            "name": display_name(&post.username),
            "username": post.username,
            "avatar_template": avatar_template(&post.username),
            "created_at": iso8601_millis(post.created_at),
            "updated_at": iso8601_millis(post.created_at),
            "cooked": cook(&post.raw),
            "post_number": post.post_number,
            "post_type": 1,
            "reply_count": self.posts.iter().filter(|p| p.topic_id == post.topic_id && p.reply_to_post_number == Some(post.post_number)).count(),
            "reply_to_post_number": post.reply_to_post_number,
            "topic_id": post.topic_id,
            "topic_slug": topic.map(|t| t.slug.clone()),
            "topic_title": topic.map(|t| t.title.clone()),
            "category_id": topic.map(|t| t.category_id),
            "display_username": display_name(&post.username),
            "user_id": user_id(&post.username),
            "yours": post.username == API_USERNAME,
        });
        if with_raw {
            value["raw"] = Value::String(post.raw.clone());
        }
        value
    }

    fn topic_json(&self, topic: &Topic) -> Value {
        let count = self.posts.iter().filter(|p| p.topic_id == topic.id).count();
        json!({
            "id": topic.id,
            "title": topic.title,
            "fancy_title": escape(&topic.title),
            "slug": topic.slug,
            "posts_count": count,
            "reply_count": count.saturating_sub(1),
            "created_at": iso8601_millis(topic.created_at),
            "last_posted_at": iso8601_millis(topic.last_posted_at),
            "bumped_at": iso8601_millis(topic.last_posted_at),
            "category_id": topic.category_id,
            "visible": true,
            "closed": false,
            "archived": false,
        })
    }

    fn topic_list(&self, category: Option<u64>) -> Value {
        let mut topics: Vec<&Topic> = self
            .topics
            .iter()
            .filter(|t| category.is_none_or(|c| c == t.category_id))
            .collect();
        topics.sort_by_key(|t| std::cmp::Reverse((t.last_posted_at, t.id)));
        json!({
            "users": [],
            "topic_list": {
                "can_create_topic": true,
                "per_page": 30,
                "topics": topics.iter().map(|t| self.topic_json(t)).collect::<Vec<_>>(),
            }
        })
    }

    fn user_json(&self, username: &str) -> Value {
        json!({
            "id": user_id(username),
            "username": username,
            "name": display_name(username),
            "avatar_template": avatar_template(username),
            "admin": username == API_USERNAME,
            "moderator": false,
            "trust_level": 1,
        })
    }
}

/// A response.
struct Reply {
    status: StatusCode,
    body: Vec<u8>,
    retry_after: Option<u64>,
}

impl Reply {
    fn ok(value: &Value) -> Self {
        Reply {
            status: StatusCode::OK,
            body: value.to_string().into_bytes(),
            retry_after: None,
        }
    }

    /// Discourse's error body: `{"errors": [...], "error_type": ...}`.
    fn error(status: StatusCode, message: &str, error_type: &str) -> Self {
        Reply {
            status,
            body: json!({ "errors": [message], "error_type": error_type })
                .to_string()
                .into_bytes(),
            retry_after: None,
        }
    }

    fn forbidden() -> Self {
        Self::error(
            StatusCode::FORBIDDEN,
            "You are not permitted to view the requested resource.",
            "invalid_access",
        )
    }

    fn not_found() -> Self {
        Self::error(
            StatusCode::NOT_FOUND,
            "The requested URL or resource could not be found.",
            "not_found",
        )
    }

    fn rate_limited(wait_seconds: u64) -> Self {
        Reply {
            status: StatusCode::TOO_MANY_REQUESTS,
            body: json!({
                "errors": [format!("You’ve performed this action too many times. Please wait {wait_seconds} seconds before trying again.")],
                "error_type": "rate_limit",
                "extras": { "wait_seconds": wait_seconds },
            })
            .to_string()
            .into_bytes(),
            retry_after: Some(wait_seconds),
        }
    }

    fn finish(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        if let Some(wait) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(wait));
        }
        response
    }
}

async fn handle(AxumState(shared): AxumState<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES).await;
    let mut st = lock(&shared);
    st.requests
        .push(RecordedRequest::of(&parts, body.as_deref().unwrap_or_default()));
    if let Some(fault) = st.faults.pop_front() {
        let reply = match fault {
            Fault::RateLimited { wait_seconds } => Reply::rate_limited(wait_seconds),
            Fault::Status(code) => {
                let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                Reply::error(status, status.canonical_reason().unwrap_or("Error"), "server_error")
            }
            Fault::Malformed => Reply {
                status: StatusCode::OK,
                body: br#"{"latest_posts": [{"id": 1, "cooked": "<p>cut"#.to_vec(),
                retry_after: None,
            },
        };
        return reply.finish();
    }
    let reply = match body {
        Err(_) => Reply::error(StatusCode::PAYLOAD_TOO_LARGE, "Request too large", "too_large"),
        Ok(_) if !authorized(&parts.headers) => Reply::forbidden(),
        Ok(body) => {
            let query = parts.uri.query().unwrap_or_default();
            route(&mut st, parts.method.as_str(), parts.uri.path(), query, &body)
        }
    };
    reply.finish()
}

/// The key and the user, each exactly once: a second `Api-Key` (one the
/// plugin set beside the host's) is refused like a wrong one.
fn authorized(headers: &HeaderMap) -> bool {
    let only = |name: &str, want: &str| {
        let values: Vec<_> = headers.get_all(name).iter().collect();
        values.len() == 1 && values[0] == want
    };
    only("api-key", API_KEY) && only("api-username", API_USERNAME)
}

fn param(query: &str, name: &str) -> Option<String> {
    parse_form(query).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn route(st: &mut State, method: &str, path: &str, query: &str, body: &[u8]) -> Reply {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("GET", ["latest.json"]) => Reply::ok(&st.topic_list(None)),
        ("GET", ["c", slug, id]) => {
            let id = id.strip_suffix(".json").and_then(|i| i.parse::<u64>().ok());
            match st.categories.iter().find(|c| Some(c.id) == id && c.slug == *slug) {
                Some(c) => {
                    let mut list = st.topic_list(Some(c.id));
                    list["topic_list"]["category"] = json!({ "id": c.id, "slug": c.slug, "name": c.name });
                    Reply::ok(&list)
                }
                None => Reply::not_found(),
            }
        }
        ("GET", ["t", id]) => {
            let with_raw = param(query, "include_raw").as_deref() == Some("true");
            let Some(topic) = id
                .strip_suffix(".json")
                .and_then(|i| i.parse().ok())
                .and_then(|i| st.topic(i))
            else {
                return Reply::not_found();
            };
            let posts: Vec<&Post> = st.posts.iter().filter(|p| p.topic_id == topic.id).collect();
            let mut value = st.topic_json(topic);
            value["post_stream"] = json!({
                "posts": posts.iter().take(20).map(|p| st.post_json(p, with_raw)).collect::<Vec<_>>(),
                "stream": posts.iter().map(|p| p.id).collect::<Vec<_>>(),
            });
            Reply::ok(&value)
        }
        ("GET", ["posts.json"]) => {
            let before = param(query, "before").and_then(|b| b.parse::<u64>().ok());
            let mut posts: Vec<&Post> = st.posts.iter().filter(|p| before.is_none_or(|b| p.id < b)).collect();
            posts.sort_by_key(|p| std::cmp::Reverse(p.id));
            let page: Vec<Value> = posts.iter().take(st.page_size).map(|p| st.post_json(p, true)).collect();
            Reply::ok(&json!({ "latest_posts": page }))
        }
        ("GET", ["posts", id]) => {
            let id = id.strip_suffix(".json").and_then(|i| i.parse::<u64>().ok());
            match st.posts.iter().find(|p| Some(p.id) == id) {
                Some(post) => Reply::ok(&st.post_json(post, true)),
                None => Reply::not_found(),
            }
        }
        ("GET", ["search.json"]) => {
            let q = param(query, "q").unwrap_or_default().to_lowercase();
            let words: Vec<&str> = q.split_whitespace().filter(|w| !w.contains(':')).collect();
            let mut hits: Vec<&Post> = st
                .posts
                .iter()
                .filter(|p| !words.is_empty() && words.iter().all(|w| p.raw.to_lowercase().contains(w)))
                .collect();
            hits.sort_by_key(|p| std::cmp::Reverse(p.id));
            let posts: Vec<Value> = hits
                .iter()
                .map(|p| {
                    json!({
                        "id": p.id,
                        "name": display_name(&p.username),
                        "username": p.username,
                        "avatar_template": avatar_template(&p.username),
                        "created_at": iso8601_millis(p.created_at),
                        "blurb": p.raw.chars().take(200).collect::<String>(),
                        "post_number": p.post_number,
                        "topic_id": p.topic_id,
                    })
                })
                .collect();
            let mut topic_ids: Vec<u64> = hits.iter().map(|p| p.topic_id).collect();
            topic_ids.dedup();
            let topics: Vec<Value> = topic_ids
                .iter()
                .filter_map(|id| st.topic(*id))
                .map(|t| st.topic_json(t))
                .collect();
            Reply::ok(&json!({
                "posts": posts,
                "topics": topics,
                "users": [],
                "categories": [],
                "grouped_search_result": { "term": q, "post_ids": hits.iter().map(|p| p.id).collect::<Vec<_>>() },
            }))
        }
        ("POST", ["posts.json"]) => create_post(st, body),
        ("GET", ["session", "current.json"]) => Reply::ok(&json!({ "current_user": st.user_json(API_USERNAME) })),
        ("GET", ["u", name]) => match name.strip_suffix(".json") {
            Some(name) if st.posts.iter().any(|p| p.username == name) || name == API_USERNAME => {
                Reply::ok(&json!({ "user": st.user_json(name) }))
            }
            _ => Reply::not_found(),
        },
        _ => Reply::not_found(),
    }
}

/// `POST /posts.json` with `topic_id`, `raw` and `reply_to_post_number`, as
/// JSON or a form.
fn create_post(st: &mut State, body: &[u8]) -> Reply {
    let fields: Value = serde_json::from_slice(body).unwrap_or_else(|_| {
        let form = parse_form(&String::from_utf8_lossy(body));
        Value::Object(form.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
    });
    let number = |name: &str| {
        fields
            .get(name)
            .and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok())))
    };
    let raw = fields
        .get("raw")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let unprocessable = |message: &str| Reply {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        body: json!({ "action": "create_post", "errors": [message] })
            .to_string()
            .into_bytes(),
        retry_after: None,
    };
    let Some(topic_id) = number("topic_id").filter(|id| st.topic(*id).is_some()) else {
        return unprocessable("Topic is not valid");
    };
    if raw.trim().chars().count() < MIN_POST_LENGTH {
        return unprocessable(&format!("Body is too short (minimum is {MIN_POST_LENGTH} characters)"));
    }
    let to = number("reply_to_post_number");
    if let Some(to) = to
        && !st.posts.iter().any(|p| p.topic_id == topic_id && p.post_number == to)
    {
        return unprocessable("Reply to post number is not valid");
    }
    let now = st.tick();
    let id = st.add_post(topic_id, API_USERNAME, &raw, to, now);
    let Some(post) = st.posts.iter().find(|p| p.id == id) else {
        return Reply::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            "server_error",
        );
    };
    let created = st.post_json(post, true);
    st.created.push(created.clone());
    Reply::ok(&created)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cooked_html_has_paragraphs_and_mentions() {
        assert_eq!(
            cook("Hi @acme_support, <b>help</b>\n\nsecond & last"),
            "<p>Hi @acme_support, &lt;b&gt;help&lt;/b&gt;</p>\n<p>second &amp; last</p>"
        );
        assert_eq!(
            cook("ping @acme_support"),
            r#"<p>ping <a class="mention" href="/u/acme_support">@acme_support</a></p>"#
        );
        assert_eq!(slugify("How do I reset my password?"), "how-do-i-reset-my-password");
    }

    #[test]
    fn the_first_post_is_at_ten_on_the_twenty_third() {
        let mut st = State::default();
        assert_eq!(iso8601_millis(st.tick()), "2026-11-23T10:01:00.000Z");
    }
}
