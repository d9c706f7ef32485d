//! The demo's Mastodon instance, `demo.social`: of the documented REST API
//! (<https://docs.joinmastodon.org/methods/>) the calls the bundled mastodon
//! plugin makes — `GET /api/v1/accounts/verify_credentials` (its check),
//! `GET /api/v1/notifications` (the brand's mentions, paged by id with a
//! `Link` header), `GET /api/v1/statuses/:id` (the post a reply answers) and
//! `POST /api/v1/statuses` (replies, kept by `Idempotency-Key`) — answering
//! with the entities in their documented shapes. Each post of the world is a
//! mention notification of the brand. No rate limits or faults: the demo's
//! network only has to work (the test fakes are for the rest).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use serde_json::{Value, json};

use super::{DemoNetwork, Written};
use crate::channels::NewChannel;
use crate::demo::data::{BRAND, PEOPLE, Person, posts};
use crate::store::now_ms;

/// Where the customers' accounts and posts live.
const BASE: &str = "https://demo.social";
const HOST: &str = "demo.social";
/// The access token the demo channel holds; any other is refused.
const TOKEN: &str = "demo-mastodon-token";
/// The channel account the demo adds for this network.
const CHANNEL: &str = "demo";
const DEFAULT_LIMIT: usize = 40;
const MAX_LIMIT: usize = 80;
/// Mastodon's default character limit of a status.
const MAX_CHARS: usize = 500;
/// A post written before the demo started has this id plus its index.
const FIRST_ID: u64 = 113_000_000_000_000_000;

/// The instance at `base_url` and its API.
pub fn start(base_url: &str) -> (Arc<dyn DemoNetwork>, Router) {
    let instance = Arc::new(Mastodon {
        base_url: base_url.to_owned(),
        state: Mutex::new(Timeline::default()),
    });
    let api = Router::new()
        .route("/api/v1/accounts/verify_credentials", get(verify_credentials))
        .route("/api/v1/notifications", get(notifications))
        .route("/api/v1/statuses", axum::routing::post(post_status))
        .route("/api/v1/statuses/{id}", get(get_status))
        .route_layer(middleware::from_fn(authorized))
        .with_state(Arc::clone(&instance));
    (instance, api)
}

struct Mastodon {
    base_url: String,
    state: Mutex<Timeline>,
}

#[derive(Default)]
struct Timeline {
    /// The brand's mention notifications, oldest first: id `i + 1` at index `i`.
    mentions: Vec<Value>,
    /// Every status by id: the world's posts and the brand's replies.
    statuses: HashMap<String, Value>,
    /// The status id each published post of the world got, by its index.
    published: HashMap<usize, String>,
    /// The brand's replies by the `Idempotency-Key` they came with.
    idempotent: HashMap<String, Value>,
    last_id: u64,
}

impl Timeline {
    /// A Mastodon-style id (milliseconds << 16), above every id given out.
    fn fresh_id(&mut self) -> String {
        let snowflake = u64::try_from(now_ms()).unwrap_or(0) << 16;
        self.last_id = self.last_id.saturating_add(1).max(snowflake);
        self.last_id.to_string()
    }
}

impl Mastodon {
    fn lock(&self) -> MutexGuard<'_, Timeline> {
        // A panicked handler leaves the timeline as it was: still usable.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The brand's account, local to this instance.
    fn brand(&self) -> Value {
        account(&BRAND, "1", BRAND.handle, &self.base_url)
    }
}

impl DemoNetwork for Mastodon {
    fn api(&self) -> &'static str {
        "Mastodon"
    }

    fn channel(&self) -> NewChannel {
        NewChannel {
            name: CHANNEL.into(),
            plugin: "mastodon".into(),
            config: BTreeMap::from([("instance".into(), self.base_url.clone())]),
            secrets: BTreeMap::from([("access-token".into(), TOKEN.into())]),
            // The instance listens on loopback.
            allow_private: true,
        }
    }

    fn publish(&self, n: usize, written: Written) {
        let Some(post) = posts().get(n) else { return };
        let Some(person) = PEOPLE.get(post.author) else {
            return;
        };
        let author = account(
            person,
            &(100 + post.author).to_string(),
            &format!("{}@{HOST}", person.handle),
            BASE,
        );
        let brand = self.brand();
        let mut timeline = self.lock();
        let (id, at) = match written {
            Written::Before(at) => {
                let id = FIRST_ID + n as u64;
                timeline.last_id = timeline.last_id.max(id);
                (id.to_string(), at)
            }
            Written::Now => (timeline.fresh_id(), now_ms()),
        };
        let parent = post
            .reply_to
            .and_then(|r| timeline.published.get(&r))
            .and_then(|id| timeline.statuses.get(id));
        let status = status(&id, &timestamp(at), &author, post.text, parent, "public", Some(&brand));
        let notification = timeline.mentions.len() + 1;
        timeline.mentions.push(json!({
            "id": notification.to_string(),
            "type": "mention",
            "created_at": status["created_at"],
            "group_key": format!("ungrouped-{notification}"),
            "account": author,
            "status": status,
        }));
        timeline.published.insert(n, id.clone());
        timeline.statuses.insert(id, status);
    }
}

/// An Account (<https://docs.joinmastodon.org/entities/Account/>) on `base`.
fn account(person: &Person, id: &str, acct: &str, base: &str) -> Value {
    let Person {
        handle,
        name,
        bio,
        followers,
        website,
    } = person;
    let fields: Vec<Value> = website
        .iter()
        .map(|w| {
            // The instance verified the link: the site links back with rel="me".
            let link = format!("<a href=\"{w}\" rel=\"me\">{w}</a>");
            json!({"name": "Website", "value": link, "verified_at": "2024-03-02T09:00:00.000+00:00"})
        })
        .collect();
    json!({
        "id": id,
        "username": handle,
        "acct": acct,
        "display_name": name,
        "locked": false,
        "bot": false,
        "discoverable": true,
        "group": false,
        "created_at": "2024-03-01T00:00:00.000Z",
        "note": if bio.is_empty() { String::new() } else { format!("<p>{bio}</p>") },
        "url": format!("{base}/@{handle}"),
        "uri": format!("{base}/users/{handle}"),
        "avatar": format!("{base}/avatars/{handle}.png"),
        "avatar_static": format!("{base}/avatars/{handle}.png"),
        "header": "",
        "header_static": "",
        "followers_count": followers,
        "following_count": 180,
        "statuses_count": 420,
        "last_status_at": "2026-11-22",
        "emojis": [],
        "fields": fields,
    })
}

/// A Status (<https://docs.joinmastodon.org/entities/Status/>) by `author`,
/// its links under the author's.
fn status(
    id: &str,
    created_at: &str,
    author: &Value,
    text: &str,
    parent: Option<&Value>,
    visibility: &str,
    mentioned: Option<&Value>,
) -> Value {
    let mentions: Vec<Value> = mentioned
        .iter()
        .map(|a| json!({"id": a["id"], "username": a["username"], "acct": a["acct"], "url": a["url"]}))
        .collect();
    let url = author["url"].as_str().unwrap_or_default();
    let uri = author["uri"].as_str().unwrap_or_default();
    json!({
        "id": id,
        "created_at": created_at,
        "in_reply_to_id": parent.map(|p| &p["id"]),
        "in_reply_to_account_id": parent.map(|p| &p["account"]["id"]),
        "sensitive": false,
        "spoiler_text": "",
        "visibility": visibility,
        "language": "en",
        "uri": format!("{uri}/statuses/{id}"),
        "url": format!("{url}/{id}"),
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "edited_at": null,
        "content": content(text),
        "reblog": null,
        "account": author,
        "media_attachments": [],
        "mentions": mentions,
        "tags": [],
        "emojis": [],
        "card": null,
        "poll": null,
    })
}

/// Plain text as Mastodon renders it: blank lines part paragraphs, a newline
/// is `<br />`, HTML is escaped.
fn content(text: &str) -> String {
    text.replace("\r\n", "\n")
        .split("\n\n")
        .map(|p| p.trim_matches('\n'))
        .filter(|p| !p.is_empty())
        .map(|p| format!("<p>{}</p>", html_escape::encode_safe(p).replace('\n', "<br />")))
        .collect()
}

/// Unix ms as Mastodon writes times: `2026-11-22T08:00:00.000Z`.
fn timestamp(ms: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

/// Mastodon's error body.
fn error(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// Only `Authorization: Bearer TOKEN` reaches the API.
async fn authorized(request: Request, next: Next) -> Response {
    let bearer = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && token.trim() == TOKEN);
    if !bearer {
        return error(StatusCode::UNAUTHORIZED, "The access token is invalid");
    }
    next.run(request).await
}

/// `GET /api/v1/accounts/verify_credentials`: a CredentialAccount, the Account with `source`.
async fn verify_credentials(State(m): State<Arc<Mastodon>>) -> Json<Value> {
    let mut brand = m.brand();
    brand["source"] = json!({
        "privacy": "public",
        "sensitive": false,
        "language": null,
        "note": BRAND.bio,
        "fields": [],
        "follow_requests_count": 0,
    });
    Json(brand)
}

/// `GET /api/v1/notifications`: the brand's mentions, newest first.
async fn notifications(State(m): State<Arc<Mastodon>>, Query(params): Query<Vec<(String, String)>>) -> Response {
    let param = |key: &str| params.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim());
    let id = |key: &str| param(key).and_then(|v| v.parse::<u64>().ok());
    let lists = |key: &str, kind: &str| params.iter().any(|(k, v)| k == key && v == kind);
    // Every notification here is a mention.
    let shown = (!params.iter().any(|(k, _)| k == "types[]") || lists("types[]", "mention"))
        && !lists("exclude_types[]", "mention");
    let limit = param("limit")
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_LIMIT)
        .min(MAX_LIMIT);
    let timeline = m.lock();
    let newest = if shown { timeline.mentions.len() } else { 0 };
    let ids = page(newest, id("max_id"), id("since_id"), id("min_id"), limit);
    let body: Vec<Value> = ids.iter().map(|&id| timeline.mentions[id - 1].clone()).collect();
    let (Some(first), Some(last)) = (ids.first(), ids.last()) else {
        return Json(body).into_response();
    };
    // As Mastodon links pages: the request's other parameters, and the new bound.
    let link = |key: &str, id: usize| {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in params
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "max_id" | "min_id" | "since_id"))
        {
            query.append_pair(k, v);
        }
        query.append_pair(key, &id.to_string());
        format!("<{}/api/v1/notifications?{}>", m.base_url, query.finish())
    };
    let link = format!(
        "{}; rel=\"next\", {}; rel=\"prev\"",
        link("max_id", *last),
        link("min_id", *first)
    );
    ([(header::LINK, link)], Json(body)).into_response()
}

/// The ids of one page of `1..=newest`, newest first, as Mastodon pages by
/// id: below `max_id` and above `since_id`; with `min_id`, the `limit` ids
/// right above it, else the newest `limit`.
fn page(newest: usize, max_id: Option<u64>, since_id: Option<u64>, min_id: Option<u64>, limit: usize) -> Vec<usize> {
    let as_index = |id: u64| usize::try_from(id).unwrap_or(usize::MAX);
    let top = max_id.map_or(newest, |max| as_index(max).saturating_sub(1).min(newest));
    let above = since_id.max(min_id).map_or(0, as_index);
    let ids = above.saturating_add(1)..=top;
    if min_id.is_some() {
        let mut page: Vec<usize> = ids.take(limit).collect();
        page.reverse();
        page
    } else {
        ids.rev().take(limit).collect()
    }
}

/// `GET /api/v1/statuses/:id`.
async fn get_status(State(m): State<Arc<Mastodon>>, Path(id): Path<String>) -> Response {
    match m.lock().statuses.get(id.trim()) {
        Some(status) => Json(status.clone()).into_response(),
        None => error(StatusCode::NOT_FOUND, "Record not found"),
    }
}

/// `POST /api/v1/statuses`: the brand posts (a reply, when `in_reply_to_id`).
async fn post_status(
    State(m): State<Arc<Mastodon>>,
    headers: HeaderMap,
    Form(params): Form<Vec<(String, String)>>,
) -> Response {
    let param = |key: &str| params.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let brand = m.brand();
    let mut timeline = m.lock();
    // Checked in Mastodon's order: the post answered, a replay, then the text.
    let parent = match param("in_reply_to_id").map(str::trim).filter(|id| !id.is_empty()) {
        Some(id) => match timeline.statuses.get(id) {
            Some(parent) => Some(parent.clone()),
            None => return error(StatusCode::NOT_FOUND, "Record not found"),
        },
        None => None,
    };
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty());
    if let Some(previous) = key.and_then(|k| timeline.idempotent.get(k)) {
        return Json(previous.clone()).into_response();
    }
    let text = param("status").unwrap_or_default();
    if text.trim().is_empty() {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: Text can't be blank",
        );
    }
    if text.chars().count() > MAX_CHARS {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            &format!("Validation failed: Text character limit of {MAX_CHARS} exceeded"),
        );
    }
    let visibility = param("visibility").unwrap_or("public");
    if !["public", "unlisted", "private", "direct"].contains(&visibility) {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Validation failed: Visibility is not included in the list",
        );
    }
    let id = timeline.fresh_id();
    let mentioned = parent.as_ref().map(|p| &p["account"]);
    let status = status(
        &id,
        &timestamp(now_ms()),
        &brand,
        text,
        parent.as_ref(),
        visibility,
        mentioned,
    );
    timeline.statuses.insert(id, status.clone());
    if let Some(key) = key {
        timeline.idempotent.insert(key.to_owned(), status.clone());
    }
    Json(status).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_by_id_as_mastodon() {
        // The newest page; below max_id; above since_id, newest first.
        assert_eq!(page(5, None, None, None, 2), [5, 4]);
        assert_eq!(page(5, Some(4), None, None, 2), [3, 2]);
        assert_eq!(page(5, None, Some(3), None, 40), [5, 4]);
        // min_id: the page right above it, still newest first.
        assert_eq!(page(5, None, None, Some(1), 2), [3, 2]);
        assert_eq!(page(5, None, None, Some(5), 2), Vec::<usize>::new());
        assert_eq!(page(0, None, None, None, 40), Vec::<usize>::new());
        assert_eq!(page(5, Some(1), None, None, 40), Vec::<usize>::new());
        assert_eq!(page(5, Some(u64::MAX), None, Some(u64::MAX), 40), Vec::<usize>::new());
    }

    #[test]
    fn times_and_text_as_mastodon_writes_them() {
        assert_eq!(timestamp(1_685_275_610_369), "2023-05-28T12:06:50.369Z");
        assert_eq!(
            content("Hi <b>\n\nline\nbreak"),
            "<p>Hi &lt;b&gt;</p><p>line<br />break</p>"
        );
    }
}
