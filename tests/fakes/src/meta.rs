//! A fake Meta Graph API (<https://developers.facebook.com/docs/graph-api>) for
//! a Facebook Page and its Instagram professional account: the reply
//! endpoints (`POST /v21.0/{comment-id}/comments`, `POST /v21.0/{ig-comment-id}/replies`,
//! `POST /v21.0/me/messages`), `GET /v21.0/me`, Graph error bodies
//! (`{"error":{"message","type","code","error_subcode","fbtrace_id"}}`) and
//! faults; and the webhook deliveries Meta makes
//! (<https://developers.facebook.com/docs/graph-api/webhooks/getting-started>),
//! signed with the app secret the test gives it (`X-Hub-Signature-256`).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

pub use super::server::RecordedRequest;
use super::server::Server;
use super::util::parse_form;

/// The only page access token the fake accepts, as `Authorization: Bearer TOKEN`.
pub const TOKEN: &str = "fake-page-token";
pub const PAGE_ID: &str = "104780219057591";
pub const IG_USER_ID: &str = "17841400008460056";
pub const VERSION: &str = "v21.0";
/// The page's post the pushed comments are under.
pub const PAGE_POST_ID: &str = "104780219057591_388222313622361";
/// The Instagram media the pushed comments are under.
pub const IG_MEDIA_ID: &str = "17895695668004550";
const MAX_BODY_BYTES: usize = 1 << 20;

/// A failure injected into the next Graph request, in the order queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// That status with Graph's transient error body (code 2).
    Status(u16),
    /// 200 with a truncated body.
    Malformed,
    /// A rate-limit error of `code` (4, 17, 32, 613) in a 400, as Graph sends
    /// them, with `X-Business-Use-Case-Usage` naming the minutes to wait.
    RateLimited { code: u32, regain_minutes: u64 },
    /// An expired token: code 190, subcode 463, in a 400.
    ExpiredToken,
}

/// One Graph request as the fake received it.
/// A signed webhook delivery, as Meta POSTs it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub body: Vec<u8>,
    /// The `X-Hub-Signature-256` value: `sha256=` hex HMAC of the body.
    pub signature: String,
}

/// Something the page's account answered through the Graph API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created {
    /// `comments`, `replies` or `messages`.
    pub edge: String,
    /// What it answers: a comment id, or a message recipient.
    pub target: String,
    pub id: String,
    pub text: String,
}

/// A running fake Meta; it stops when dropped.
pub struct FakeMeta {
    server: Server,
    app_secret: String,
    state: Shared,
}

type Shared = Arc<Mutex<State>>;

#[derive(Default)]
struct State {
    seq: u64,
    /// Facebook comment ids that can be answered.
    fb_comments: Vec<String>,
    ig_comments: Vec<String>,
    created: Vec<Created>,
    faults: VecDeque<Fault>,
    requests: Vec<RecordedRequest>,
}

impl FakeMeta {
    /// Binds 127.0.0.1 on a free port; deliveries are signed with `app_secret`.
    pub async fn start(app_secret: &str) -> anyhow::Result<Self> {
        let (server, state) = Server::start("the fake Meta server", |_| {
            let state: Shared = Arc::new(Mutex::new(State::default()));
            Ok((Router::new().fallback(handle).with_state(Arc::clone(&state)), state))
        })
        .await?;
        Ok(Self {
            server,
            app_secret: app_secret.to_string(),
            state,
        })
    }

    /// `http://127.0.0.1:PORT`: the Graph origin, without the version.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// A new comment on the page's post by `(user id, name)`: the `value` of a
    /// `feed` change. `parent` is the comment it answers, if any.
    pub fn fb_comment(&self, from: (&str, &str), message: &str, parent: Option<&str>) -> Value {
        let mut st = self.lock();
        st.seq += 1;
        let comment_id = format!("{}_{}", PAGE_POST_ID.split('_').nth(1).unwrap_or("1"), 900_000 + st.seq);
        st.fb_comments.push(comment_id.clone());
        json!({
            "from": { "id": from.0, "name": from.1 },
            "post": { "status_type": "added_photos", "is_published": true, "updated_time": iso8601(now_secs()),
                      "permalink_url": format!("https://www.facebook.com/{PAGE_POST_ID}"), "promotion_status": "inactive",
                      "id": PAGE_POST_ID },
            "message": message,
            "post_id": PAGE_POST_ID,
            "comment_id": comment_id,
            "created_time": now_secs(),
            "item": "comment",
            "parent_id": parent.unwrap_or(PAGE_POST_ID),
            "verb": "add",
        })
    }

    /// `comment` (a value of [`FakeMeta::fb_comment`]) edited by its author to
    /// read `message`: the `value` of the `feed` change Meta sends (verb `edited`).
    pub fn fb_comment_edited(&self, comment: &Value, message: &str) -> Value {
        let mut edited = comment.clone();
        edited["verb"] = json!("edited");
        edited["message"] = json!(message);
        edited
    }

    /// `comment` deleted: the `feed` change Meta sends (verb `remove`), which
    /// names the comment and no message.
    pub fn fb_comment_removed(&self, comment: &Value) -> Value {
        json!({
            "from": comment["from"],
            "parent_id": comment["parent_id"],
            "comment_id": comment["comment_id"],
            "post_id": comment["post_id"],
            "created_time": now_secs(),
            "item": "comment",
            "verb": "remove",
        })
    }

    /// A new Instagram comment on the account's media by `(user id, username)`:
    /// the `value` of a `comments` change.
    pub fn ig_comment(&self, from: (&str, &str), text: &str) -> Value {
        let mut st = self.lock();
        st.seq += 1;
        let id = format!("{}", 17_865_799_348_089_000u64 + st.seq);
        st.ig_comments.push(id.clone());
        json!({
            "from": { "id": from.0, "username": from.1 },
            "media": { "id": IG_MEDIA_ID, "media_product_type": "FEED" },
            "id": id,
            "text": text,
        })
    }

    /// A Messenger message from the page-scoped user id `psid`: one `messaging` event.
    pub fn message(&self, psid: &str, text: &str) -> Value {
        let mut st = self.lock();
        st.seq += 1;
        json!({
            "sender": { "id": psid },
            "recipient": { "id": PAGE_ID },
            "timestamp": now_secs() * 1000 + st.seq,
            "message": { "mid": format!("m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_{}", st.seq), "text": text },
        })
    }

    /// A page delivery of `feed` changes and Messenger events, signed.
    pub fn page_delivery(&self, changes: &[Value], messaging: &[Value]) -> Delivery {
        let mut entry = Vec::new();
        if !changes.is_empty() {
            let changes: Vec<Value> = changes.iter().map(|v| json!({ "field": "feed", "value": v })).collect();
            entry.push(json!({ "id": PAGE_ID, "time": now_secs(), "changes": changes }));
        }
        if !messaging.is_empty() {
            entry.push(json!({ "id": PAGE_ID, "time": now_secs() * 1000, "messaging": messaging }));
        }
        self.deliver(&json!({ "object": "page", "entry": entry }))
    }

    /// An Instagram delivery of `comments` changes, signed.
    pub fn instagram_delivery(&self, comments: &[Value]) -> Delivery {
        let changes: Vec<Value> = comments
            .iter()
            .map(|v| json!({ "field": "comments", "value": v }))
            .collect();
        self.deliver(&json!({
            "object": "instagram",
            "entry": [{ "id": IG_USER_ID, "time": now_secs(), "changes": changes }],
        }))
    }

    /// Any payload, signed as Meta signs: HMAC-SHA256 of the raw body with the app secret.
    pub fn deliver(&self, payload: &Value) -> Delivery {
        let body = payload.to_string().into_bytes();
        let signature = format!("sha256={}", hex::encode(hmac_sha256(self.app_secret.as_bytes(), &body)));
        Delivery { body, signature }
    }

    /// The form body of a data-deletion request for app-scoped user
    /// `user_id`, as Meta POSTs it to the app's Data Deletion Request URL:
    /// `signed_request=<signature>.<payload>`, both base64url without
    /// padding, the signature the HMAC-SHA256 of the encoded payload keyed by
    /// the app secret, the payload as Meta documents it.
    pub fn data_deletion_request(&self, user_id: &str) -> Vec<u8> {
        signed_request(&self.app_secret, user_id)
    }

    pub fn fail_next(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// What was created through the Graph API, oldest first.
    pub fn created(&self) -> Vec<Created> {
        self.lock().created.clone()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `2020-11-18T22:45:53+0000`, Graph's time format.
fn iso8601(secs: u64) -> String {
    let days = secs / 86_400;
    let z = days + 719_468;
    let (era, doe) = (z / 146_097, z % 146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A data-deletion request's form body for `user_id`, signed with `app_secret`
/// (a wrong secret makes a forged one).
pub fn signed_request(app_secret: &str, user_id: &str) -> Vec<u8> {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let issued_at = now_secs();
    let payload = json!({
        "algorithm": "HMAC-SHA256",
        "expires": issued_at + 3600,
        "issued_at": issued_at,
        "user_id": user_id,
    });
    let payload = URL_SAFE_NO_PAD.encode(payload.to_string());
    let signature = URL_SAFE_NO_PAD.encode(hmac_sha256(app_secret.as_bytes(), payload.as_bytes()));
    format!("signed_request={signature}.{payload}").into_bytes()
}

/// HMAC-SHA256 of `message` keyed by `key`, as networks sign webhook deliveries.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), message)
        .as_ref()
        .to_vec()
}

fn graph_error(status: StatusCode, message: &str, kind: &str, code: u32, subcode: Option<u32>) -> Response {
    let mut error = json!({ "message": message, "type": kind, "code": code, "fbtrace_id": "AbCdEfGhIjKlMnOp" });
    if let Some(subcode) = subcode {
        error["error_subcode"] = json!(subcode);
    }
    respond(status, json!({ "error": error }).to_string().into_bytes())
}

fn respond(status: StatusCode, body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    response
}

async fn handle(AxumState(shared): AxumState<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES).await.unwrap_or_default();
    let body = String::from_utf8_lossy(&body).into_owned();
    let path = parts.uri.path().to_owned();
    let mut st = shared.lock().unwrap_or_else(PoisonError::into_inner);
    st.requests.push(RecordedRequest::of(&parts, body.as_bytes()));
    if let Some(fault) = st.faults.pop_front() {
        return match fault {
            Fault::Status(code) => graph_error(
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                "An unexpected error has occurred. Please retry your request later.",
                "OAuthException",
                2,
                None,
            ),
            Fault::Malformed => respond(StatusCode::OK, br#"{"id":"1047802"#.to_vec()),
            Fault::RateLimited { code, regain_minutes } => {
                let mut response = graph_error(
                    StatusCode::BAD_REQUEST,
                    &format!("(#{code}) Application request limit reached"),
                    "OAuthException",
                    code,
                    None,
                );
                let usage = json!({ PAGE_ID: [{ "type": "pages", "call_count": 100, "total_cputime": 12,
                    "total_time": 30, "estimated_time_to_regain_access": regain_minutes }] });
                if let Ok(value) = HeaderValue::from_str(&usage.to_string()) {
                    response.headers_mut().insert("x-business-use-case-usage", value);
                }
                response
            }
            Fault::ExpiredToken => expired(),
        };
    }
    if !authorized(&parts.headers) {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Invalid OAuth access token - Cannot parse access token",
            "OAuthException",
            190,
            None,
        );
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let params: HashMap<String, String> = parse_form(&body).into_iter().collect();
    let json_body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let text = params
        .get("message")
        .cloned()
        .or_else(|| json_body["message"].as_str().map(str::to_string));
    match (parts.method.as_str(), segments.as_slice()) {
        ("GET", [VERSION, "me"]) => respond(
            StatusCode::OK,
            json!({ "id": PAGE_ID, "name": "Acme" }).to_string().into_bytes(),
        ),
        ("POST", [VERSION, "me", "messages"]) => {
            let recipient = json_body["recipient"]["id"].as_str().unwrap_or_default().to_string();
            let text = json_body["message"]["text"].as_str().unwrap_or_default().to_string();
            if recipient.is_empty() || text.is_empty() {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "(#100) The parameter recipient is required",
                    "OAuthException",
                    100,
                    None,
                );
            }
            st.seq += 1;
            let id = format!("m_sent_{}", st.seq);
            st.created.push(Created {
                edge: "messages".into(),
                target: recipient.clone(),
                id: id.clone(),
                text,
            });
            respond(
                StatusCode::OK,
                json!({ "recipient_id": recipient, "message_id": id })
                    .to_string()
                    .into_bytes(),
            )
        }
        ("POST", [VERSION, target, edge @ ("comments" | "replies")]) => {
            let known = if *edge == "comments" {
                &st.fb_comments
            } else {
                &st.ig_comments
            };
            if !known.iter().any(|c| c == target) {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    &format!(
                        "Unsupported post request. Object with ID '{target}' does not exist, cannot be loaded due to missing permissions, or does not support this operation."
                    ),
                    "GraphMethodException",
                    100,
                    Some(33),
                );
            }
            let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
                return graph_error(
                    StatusCode::BAD_REQUEST,
                    "(#100) The parameter message is required",
                    "OAuthException",
                    100,
                    None,
                );
            };
            st.seq += 1;
            let id = if *edge == "comments" {
                format!("{}_{}", target.split('_').next().unwrap_or(target), 800_000 + st.seq)
            } else {
                format!("{}", 17_900_000_000_000_000u64 + st.seq)
            };
            st.created.push(Created {
                edge: edge.to_string(),
                target: target.to_string(),
                id: id.clone(),
                text,
            });
            respond(StatusCode::OK, json!({ "id": id }).to_string().into_bytes())
        }
        _ => graph_error(
            StatusCode::BAD_REQUEST,
            "Unknown path components",
            "OAuthException",
            2500,
            None,
        ),
    }
}

fn expired() -> Response {
    graph_error(
        StatusCode::BAD_REQUEST,
        "Error validating access token: Session has expired on Tuesday, 10-Dec-24 17:00:00 PST.",
        "OAuthException",
        190,
        Some(463),
    )
}

fn authorized(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, token)| scheme.eq_ignore_ascii_case("bearer") && token.trim() == TOKEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graph_times() {
        assert_eq!(iso8601(1_605_739_553), "2020-11-18T22:45:53+0000");
    }
}
