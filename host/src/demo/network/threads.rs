//! The demo's Threads: of the Threads API on graph.threads.net
//! (<https://developers.facebook.com/docs/threads>) the calls the bundled
//! threads plugin makes, answering media objects and Graph's lists and
//! errors in their documented shapes:
//! - `GET /v1.0/me` (its check;
//!   <https://developers.facebook.com/docs/threads/threads-profiles>);
//! - `GET /v1.0/{user-id}/threads` (the brand's threads) and `GET
//!   /v1.0/{media-id}`
//!   (<https://developers.facebook.com/docs/threads/threads-media>);
//! - `GET /v1.0/{user-id}/mentions`
//!   (<https://developers.facebook.com/docs/threads/threads-mentions>);
//! - `GET /v1.0/{media-id}/conversation`
//!   (<https://developers.facebook.com/docs/threads/reply-management>), read
//!   when the brand has threads of its own (a broadcast);
//! - `POST /v1.0/{user-id}/threads` and `POST /v1.0/{user-id}/threads_publish`:
//!   a reply's text container and its publish, kept
//!   (<https://developers.facebook.com/docs/threads/posts>);
//! - `GET /refresh_access_token?grant_type=th_refresh_token`: the host renews
//!   the long-lived token (first when the channel is two days old), and the
//!   new token is taken beside the first
//!   (<https://developers.facebook.com/docs/threads/get-started/long-lived-tokens>).
//!
//! Lists are newest first, paged with `limit`, `since`/`until` and the
//! `after` cursor. Each post of the world here tags the brand: it is one of
//! its mentions. No rate limits or faults: the demo's network only has to
//! work (the test fakes are for the rest).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::{DemoNetwork, Written};
use crate::channels::NewChannel;
use crate::demo::data::{BRAND, PEOPLE, posts};
use crate::store::now_ms;

/// The brand's Threads user id.
const USER_ID: &str = "17841463540291150";
/// The long-lived token the demo channel starts with; renewed ones are taken too.
const TOKEN: &str = "demo-threads-token";
/// The channel account the demo adds for this network.
const CHANNEL: &str = "demo-threads";
/// What a renewal's `expires_in` says: about 60 days.
const LONG_LIVED_SECS: u64 = 5_183_944;
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;
const MAX_CHARS: usize = 500;
/// The earliest `since` or `until` Threads takes.
const EARLIEST: i64 = 1_688_540_400;
/// A post written before the demo started has this id plus its index; later
/// ones `FIRST_ID + ms * 1000`, above them.
const FIRST_ID: u64 = 17_900_000_000_000_000;

/// The network at `base_url` and its API.
pub fn start(base_url: &str) -> (Arc<dyn DemoNetwork>, Router) {
    let threads = Arc::new(Threads {
        base_url: base_url.to_owned(),
        state: Mutex::new(Feed::default()),
    });
    let api = Router::new()
        .route("/v1.0/me", get(me))
        .route("/v1.0/{id}", get(media))
        .route("/v1.0/{id}/{edge}", get(list_edge).post(post_edge))
        .route_layer(middleware::from_fn_with_state(Arc::clone(&threads), authorized))
        .route("/refresh_access_token", get(refresh))
        .fallback(unknown_path)
        .with_state(Arc::clone(&threads));
    (threads, api)
}

struct Threads {
    base_url: String,
    state: Mutex<Feed>,
}

/// A Threads media object: a post of the world, or the brand's.
struct Media {
    id: u64,
    username: &'static str,
    text: String,
    /// Unix seconds: Threads' times are whole seconds.
    at: i64,
    replied_to: Option<u64>,
    /// The top-level post of its thread, for a reply.
    root: Option<u64>,
}

#[derive(Default)]
struct Feed {
    media: Vec<Media>,
    /// The media id each published post of the world got, by its index.
    published: HashMap<usize, u64>,
    /// Text containers made and not published yet: (text, reply_to) by id.
    containers: HashMap<u64, (String, Option<u64>)>,
    /// Tokens renewed this run.
    renewed: HashSet<String>,
    last_id: u64,
}

impl Feed {
    fn fresh_id(&mut self) -> u64 {
        let ms = u64::try_from(now_ms()).unwrap_or(0);
        self.last_id = self.last_id.saturating_add(1).max(FIRST_ID + ms * 1000);
        self.last_id
    }

    fn find(&self, id: &str) -> Option<&Media> {
        let id: u64 = id.trim().parse().ok()?;
        self.media.iter().find(|m| m.id == id)
    }

    /// Adds a post by `username`, in reply to `replied_to` when given.
    fn add(&mut self, id: u64, username: &'static str, text: &str, at: i64, replied_to: Option<u64>) {
        let root = replied_to.map(|parent| {
            self.media
                .iter()
                .find(|m| m.id == parent)
                .map_or(parent, |m| m.root.unwrap_or(m.id))
        });
        self.media.push(Media {
            id,
            username,
            text: text.to_owned(),
            at,
            replied_to,
            root,
        });
    }

    fn accepts(&self, token: &str) -> bool {
        token == TOKEN || self.renewed.contains(token)
    }

    /// The media object `m` with the `fields` asked (`id` always), as Threads
    /// leaves out what does not apply.
    fn object(&self, m: &Media, fields: &[&str]) -> Value {
        let mut out = Map::new();
        out.insert("id".into(), json!(m.id.to_string()));
        let reply = m.replied_to.is_some();
        for &field in fields {
            let value = match field {
                "text" => json!(m.text),
                "username" => json!(m.username),
                "permalink" => json!(format!(
                    "https://www.threads.net/@{}/post/{}",
                    m.username,
                    shortcode(m.id)
                )),
                "timestamp" => json!(timestamp(m.at)),
                "media_type" => json!("TEXT_POST"),
                "media_product_type" => json!("THREADS"),
                "shortcode" => json!(shortcode(m.id)),
                "is_quote_post" => json!(false),
                "is_reply" => json!(reply),
                "has_replies" => json!(self.media.iter().any(|r| r.replied_to == Some(m.id))),
                "root_post" if reply => json!({ "id": m.root.unwrap_or(m.id).to_string() }),
                "replied_to" if reply => json!({ "id": m.replied_to.unwrap_or_default().to_string() }),
                "is_reply_owned_by_me" if reply => json!(m.username == BRAND.handle),
                "hide_status" if reply => json!("NOT_HUSHED"),
                _ => continue,
            };
            out.insert(field.to_owned(), value);
        }
        Value::Object(out)
    }
}

impl Threads {
    fn lock(&self) -> MutexGuard<'_, Feed> {
        // A panicked handler leaves the feed as it was: still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl DemoNetwork for Threads {
    fn api(&self) -> &'static str {
        "Threads"
    }

    fn channel(&self) -> NewChannel {
        NewChannel {
            name: CHANNEL.into(),
            plugin: "threads".into(),
            config: BTreeMap::from([
                ("api-url".into(), self.base_url.clone()),
                ("user-id".into(), USER_ID.into()),
            ]),
            secrets: BTreeMap::from([("access-token".into(), TOKEN.into())]),
            // The network listens on loopback.
            allow_private: true,
        }
    }

    fn publish(&self, n: usize, written: Written) {
        let Some(post) = posts().get(n) else { return };
        let Some(person) = PEOPLE.get(post.author) else {
            return;
        };
        let mut feed = self.lock();
        let (id, at) = match written {
            Written::Before(at) => {
                let id = FIRST_ID + n as u64;
                feed.last_id = feed.last_id.max(id);
                (id, at)
            }
            Written::Now => (feed.fresh_id(), now_ms()),
        };
        let parent = post.reply_to.and_then(|r| feed.published.get(&r).copied());
        feed.add(id, person.handle, post.text, at.div_euclid(1000), parent);
        feed.published.insert(n, id);
    }
}

/// An Instagram-style shortcode: the id in URL-safe base 64 digits.
fn shortcode(id: u64) -> String {
    const DIGITS: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut code = Vec::new();
    let mut n = id;
    while n > 0 {
        code.push(DIGITS[(n % 64) as usize]);
        n /= 64;
    }
    code.reverse();
    String::from_utf8(code).unwrap_or_default()
}

/// Unix seconds as Threads writes `timestamp`: `2026-11-22T08:00:00+0000`.
fn timestamp(secs: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+0000");
    time::OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

/// Graph's error body.
fn error(status: StatusCode, message: &str, code: i64, subcode: Option<i64>) -> Response {
    let mut error = json!({ "message": message, "type": "OAuthException", "code": code, "fbtrace_id": "ADemoTrace" });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    (status, Json(json!({ "error": error }))).into_response()
}

async fn unknown_path() -> Response {
    error(StatusCode::BAD_REQUEST, "Unknown path components", 2500, None)
}

fn invalid(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, message, 100, None)
}

/// What Graph answers for an object it does not have (or an edge it does not serve).
fn unsupported(id: &str) -> Response {
    let message = format!(
        "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation"
    );
    error(StatusCode::BAD_REQUEST, &message, 100, Some(33))
}

fn invalid_token() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "Invalid OAuth access token - Cannot parse access token",
        190,
        None,
    )
}

type Params = Vec<(String, String)>;

fn param<'a>(params: &'a Params, key: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn fields(params: &Params) -> Vec<&str> {
    param(params, "fields").map_or_else(Vec::new, |f| f.split(',').map(str::trim).collect())
}

/// The brand's own user, as a path names it.
fn is_brand(id: &str) -> bool {
    id == USER_ID || id == "me"
}

/// Only the demo's tokens reach the API: `Authorization: Bearer` or the
/// `access_token` parameter, as Graph takes either.
async fn authorized(State(t): State<Arc<Threads>>, request: Request, next: Next) -> Response {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let query = request.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "access_token")
            .map(|(_, v)| v.into_owned())
    });
    if !bearer.or(query).is_some_and(|token| t.lock().accepts(&token)) {
        return invalid_token();
    }
    next.run(request).await
}

/// `GET /refresh_access_token?grant_type=th_refresh_token&access_token=T`:
/// a new long-lived token for about 60 days.
async fn refresh(State(t): State<Arc<Threads>>, Query(params): Query<Params>) -> Response {
    if param(&params, "grant_type") != Some("th_refresh_token") {
        return invalid("Unsupported grant_type");
    }
    let mut feed = t.lock();
    if !param(&params, "access_token").is_some_and(|token| feed.accepts(token)) {
        return invalid_token();
    }
    let token = format!("{TOKEN}-{}", feed.renewed.len() + 1);
    feed.renewed.insert(token.clone());
    Json(json!({ "access_token": token, "token_type": "bearer", "expires_in": LONG_LIVED_SECS })).into_response()
}

/// `GET /v1.0/me`: the token's user.
async fn me(Query(params): Query<Params>) -> Json<Value> {
    let mut me = json!({ "id": USER_ID });
    for field in fields(&params) {
        match field {
            "username" => me["username"] = json!(BRAND.handle),
            "name" => me["name"] = json!(BRAND.name),
            "threads_biography" => me["threads_biography"] = json!(BRAND.bio),
            _ => {}
        }
    }
    Json(me)
}

/// `GET /v1.0/{media-id}`.
async fn media(State(t): State<Arc<Threads>>, Path(id): Path<String>, Query(params): Query<Params>) -> Response {
    let feed = t.lock();
    match feed.find(&id) {
        Some(m) => Json(feed.object(m, &fields(&params))).into_response(),
        None => unsupported(&id),
    }
}

/// `GET /v1.0/{user-id}/threads`, `/{user-id}/mentions` and `/{media-id}/conversation`.
async fn list_edge(
    State(t): State<Arc<Threads>>,
    Path((id, edge)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Response {
    let feed = t.lock();
    let brand = BRAND.handle;
    let path = format!("/v1.0/{id}/{edge}");
    let page = match edge.as_str() {
        // Top-level posts only: the brand's replies are not threads of its own.
        "threads" if is_brand(&id) => list(&t, &feed, &path, &params, |m| {
            m.username == brand && m.replied_to.is_none()
        }),
        "mentions" if is_brand(&id) => list(&t, &feed, &path, &params, |m| m.username != brand),
        "conversation" => {
            let Some(root) = feed.find(&id).map(|m| m.id) else {
                return unsupported(&id);
            };
            list(&t, &feed, &path, &params, |m| m.root == Some(root)).map(|mut page| {
                if param(&params, "reverse") == Some("false") {
                    // Oldest first: the same page, the other way round.
                    if let Some(data) = page["data"].as_array_mut() {
                        data.reverse();
                    }
                }
                page
            })
        }
        _ => return unsupported(&id),
    };
    match page {
        Ok(page) => Json(page).into_response(),
        Err(message) => invalid(&message),
    }
}

/// One page of the media `keep` selects, newest first, with Graph's cursor
/// paging; or why the parameters are refused (Graph's code 100).
fn list(t: &Threads, feed: &Feed, path: &str, params: &Params, keep: impl Fn(&Media) -> bool) -> Result<Value, String> {
    let limit = match param(params, "limit").map(str::parse::<usize>) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if n <= MAX_LIMIT => n.max(1),
        Some(_) => return Err("(#100) The parameter limit must be between 0 and 100".into()),
    };
    let bound = |name: &str| match param(params, name).map(str::parse::<i64>) {
        None => Ok(None),
        Some(Ok(secs)) if secs >= EARLIEST => Ok(Some(secs)),
        Some(_) => Err(format!(
            "(#100) The parameter {name} must be a Unix timestamp of at least {EARLIEST}"
        )),
    };
    let (since, until) = (bound("since")?, bound("until")?);
    let mut all: Vec<&Media> = feed
        .media
        .iter()
        .filter(|m| keep(m))
        .filter(|m| since.is_none_or(|s| m.at >= s) && until.is_none_or(|u| m.at <= u))
        .collect();
    all.sort_by_key(|m| std::cmp::Reverse((m.at, m.id)));
    let from = match param(params, "after") {
        None => 0,
        Some(cursor) => match decode_cursor(cursor).and_then(|id| all.iter().position(|m| m.id == id)) {
            Some(position) => position + 1,
            None => return Err("(#100) The after cursor is not valid".into()),
        },
    };
    let fields = fields(params);
    let page: Vec<&Media> = all.iter().skip(from).take(limit).copied().collect();
    let data: Vec<Value> = page.iter().map(|m| feed.object(m, &fields)).collect();
    let mut out = json!({ "data": data });
    if let (Some(first), Some(last)) = (page.first(), page.last()) {
        let after = encode_cursor(last.id);
        out["paging"] = json!({ "cursors": { "before": encode_cursor(first.id), "after": after } });
        if all.len() > from + page.len() {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in params.iter().filter(|(k, _)| !matches!(k.as_str(), "after" | "before")) {
                query.append_pair(k, v);
            }
            query.append_pair("after", &after);
            out["paging"]["next"] = json!(format!("{}{path}?{}", t.base_url, query.finish()));
        }
    }
    Ok(out)
}

/// Opaque to clients: the id a page ends at.
fn encode_cursor(id: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("demo:{id}"))
}

fn decode_cursor(cursor: &str) -> Option<u64> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    String::from_utf8(bytes).ok()?.strip_prefix("demo:")?.parse().ok()
}

/// `POST /v1.0/{user-id}/threads` (a text container) and `POST
/// /v1.0/{user-id}/threads_publish?creation_id=` (its publish). Parameters
/// come in the query or the form, as Graph takes both.
async fn post_edge(
    State(t): State<Arc<Threads>>,
    Path((id, edge)): Path<(String, String)>,
    Query(mut params): Query<Params>,
    body: Bytes,
) -> Response {
    params.extend(url::form_urlencoded::parse(&body).into_owned());
    let mut feed = t.lock();
    match edge.as_str() {
        "threads" if is_brand(&id) => create(&mut feed, &params),
        "threads_publish" if is_brand(&id) => publish(&mut feed, &params),
        _ => unsupported(&id),
    }
}

fn create(feed: &mut Feed, params: &Params) -> Response {
    if param(params, "media_type") != Some("TEXT") {
        return invalid("(#100) The demo's Threads takes media_type TEXT only");
    }
    let text = param(params, "text").unwrap_or_default();
    if text.trim().is_empty() {
        return invalid("(#100) The parameter text is required for a TEXT post");
    }
    if text.chars().count() > MAX_CHARS {
        return error(
            StatusCode::BAD_REQUEST,
            "Param text must be at most 500 characters long.",
            100,
            Some(2_207_038),
        );
    }
    let reply_to = match param(params, "reply_to_id") {
        None => None,
        Some(target) => match feed.find(target) {
            Some(m) => Some(m.id),
            None => return unsupported(target),
        },
    };
    let id = feed.fresh_id();
    feed.containers.insert(id, (text.to_owned(), reply_to));
    Json(json!({ "id": id.to_string() })).into_response()
}

fn publish(feed: &mut Feed, params: &Params) -> Response {
    let container = param(params, "creation_id")
        .and_then(|c| c.trim().parse().ok())
        .and_then(|c: u64| feed.containers.remove(&c));
    let Some((text, reply_to)) = container else {
        return error(
            StatusCode::BAD_REQUEST,
            "The requested resource does not exist",
            24,
            Some(4_279_009),
        );
    };
    let id = feed.fresh_id();
    feed.add(id, BRAND.handle, &text, now_ms().div_euclid(1000), reply_to);
    Json(json!({ "id": id.to_string() })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_ids_and_cursors_as_threads_writes_them() {
        assert_eq!(timestamp(1_704_133_200), "2024-01-01T18:20:00+0000");
        assert_eq!(shortcode(64 * 64 + 1), "BAB");
        assert_eq!(decode_cursor(&encode_cursor(FIRST_ID + 3)), Some(FIRST_ID + 3));
        assert_eq!(decode_cursor("nope"), None);
    }

    #[test]
    fn lists_page_newest_first_and_replies_name_their_thread() {
        let t = Threads {
            base_url: "http://127.0.0.1:9".into(),
            state: Mutex::new(Feed::default()),
        };
        let mut feed = t.lock();
        let t0 = 1_760_000_000;
        feed.add(1, "raj", "first", t0, None);
        feed.add(2, "marco", "answer", t0 + 1, Some(1));
        feed.add(3, "marco", "and more", t0 + 2, Some(2));
        let params =
            |pairs: &[(&str, &str)]| -> Params { pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect() };
        let first = list(&t, &feed, "/v1.0/me/mentions", &params(&[("limit", "2")]), |_| true).unwrap();
        let ids: Vec<&str> = first["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, ["3", "2"]);
        let after = first["paging"]["cursors"]["after"].as_str().unwrap();
        assert!(first["paging"]["next"].as_str().unwrap().contains("after="));
        let rest = list(
            &t,
            &feed,
            "/v1.0/me/mentions",
            &params(&[("limit", "2"), ("after", after)]),
            |_| true,
        )
        .unwrap();
        assert_eq!(rest["data"][0]["id"], "1");
        assert!(rest["paging"].get("next").is_none(), "the last page");
        let since = (t0 + 1).to_string();
        let newer = list(&t, &feed, "/v1.0/me/mentions", &params(&[("since", &since)]), |_| true).unwrap();
        assert_eq!(newer["data"].as_array().map(Vec::len), Some(2), "since is inclusive");
        assert!(list(&t, &feed, "/", &params(&[("since", "5")]), |_| true).is_err());

        let fields = ["root_post", "replied_to", "is_reply", "timestamp", "has_replies"];
        let nested = feed.object(&feed.media[2], &fields);
        assert_eq!(nested["root_post"]["id"], "1");
        assert_eq!(nested["replied_to"]["id"], "2");
        assert_eq!(nested["is_reply"], true);
        let top = feed.object(&feed.media[0], &fields);
        assert!(top.get("root_post").is_none() && top.get("replied_to").is_none());
        assert_eq!(top["has_replies"], true);
    }
}
