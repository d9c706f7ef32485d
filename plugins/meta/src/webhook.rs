//! Meta's webhooks (<https://developers.facebook.com/docs/graph-api/webhooks/getting-started>):
//! the subscription check, the `X-Hub-Signature-256` of each delivery, and the
//! payloads of Page `feed` comments, Messenger messages and Instagram `comments`.

use serde::Deserialize;
use serde_json::Value;
use socialcrm_sdk::channel::{Header, WebhookRequest, WebhookResponse, WebhookResult};
use socialcrm_sdk::{Author, Direction, PluginError, Post, PostKind, changes, http, log, signing};

use crate::target::Target;
use socialcrm_sdk::time::from_unix_seconds as rfc3339;

/// The account secret deliveries (and data-deletion requests) are signed with.
pub const SECRET: &str = "app-secret";
const SIGNATURE_HEADER: &str = "x-hub-signature-256";

pub fn handle(request: &WebhookRequest, verify_token: &str) -> Result<WebhookResult, PluginError> {
    if request.path == crate::deletion::PATH {
        return crate::deletion::handle(request);
    }
    match request.method.as_str() {
        "GET" => Ok(subscribe(&request.query, verify_token)),
        "POST" => deliver(request),
        _ => Ok(answer(405, b"GET or POST".to_vec())),
    }
}

/// `GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C`: `C` as plain
/// text when `T` is the account's verify token, else 403.
fn subscribe(query: &str, verify_token: &str) -> WebhookResult {
    let mode = http::query_param(query, "hub.mode");
    let token = http::query_param(query, "hub.verify_token").unwrap_or_default();
    let challenge = http::query_param(query, "hub.challenge").unwrap_or_default();
    if mode.as_deref() == Some("subscribe") && constant_time_eq(token.as_bytes(), verify_token.as_bytes()) {
        log::info("webhook subscription verified");
        answer(200, challenge.into_bytes())
    } else {
        log::warn("webhook subscription check with a wrong verify token refused");
        answer(403, b"verify token mismatch".to_vec())
    }
}

fn deliver(request: &WebhookRequest) -> Result<WebhookResult, PluginError> {
    let mac = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(SIGNATURE_HEADER))
        .and_then(|h| std::str::from_utf8(&h.value).ok())
        .and_then(|v| v.trim().strip_prefix("sha256="))
        .and_then(|hex| hex::decode(hex).ok());
    // A forged or unsigned call is answered, not raised: an error would pause the account.
    let Some(mac) = mac else {
        log::warn("webhook delivery without a readable X-Hub-Signature-256 refused");
        return Ok(answer(401, b"missing signature".to_vec()));
    };
    if !signing::verify_hmac_sha256(SECRET, &request.body, &mac)? {
        log::warn("webhook delivery with a wrong X-Hub-Signature-256 refused");
        return Ok(answer(403, b"bad signature".to_vec()));
    }
    match parse(&request.body) {
        Ok(posts) => Ok(WebhookResult {
            response: WebhookResponse {
                status: 200,
                headers: text_plain(),
                body: b"EVENT_RECEIVED".to_vec(),
            },
            posts,
        }),
        Err(e) => {
            log::warn(&format!("signed webhook delivery not understood: {e}"));
            Ok(answer(400, b"unreadable payload".to_vec()))
        }
    }
}

fn text_plain() -> Vec<Header> {
    vec![Header {
        name: "content-type".into(),
        value: b"text/plain".to_vec(),
    }]
}

pub fn answer(status: u16, body: Vec<u8>) -> WebhookResult {
    WebhookResult {
        response: WebhookResponse {
            status,
            headers: text_plain(),
            body,
        },
        posts: Vec::new(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Debug, Deserialize)]
struct Payload {
    object: String,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    /// The Page id, or the Instagram professional account id.
    id: String,
    /// When Meta sent it: seconds for `changes`, milliseconds for `messaging`.
    time: Option<i64>,
    #[serde(default)]
    changes: Vec<Change>,
    #[serde(default)]
    messaging: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct Change {
    field: String,
    value: Value,
}

/// A Page `feed` change about a comment.
#[derive(Debug, Deserialize)]
struct FeedComment {
    comment_id: String,
    post_id: String,
    parent_id: Option<String>,
    message: Option<String>,
    from: Option<FbUser>,
    created_time: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct FbUser {
    id: String,
    name: Option<String>,
}

#[derive(Debug, Deserialize)]
struct IgComment {
    id: String,
    text: Option<String>,
    from: IgUser,
    media: Option<IgMedia>,
    parent_id: Option<String>,
}

#[derive(Debug, Deserialize)]
struct IgUser {
    id: String,
    username: String,
}

#[derive(Debug, Deserialize)]
struct IgMedia {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Messaging {
    sender: Id,
    timestamp: i64,
    message: Option<Message>,
}

#[derive(Debug, Deserialize)]
struct Id {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Message {
    mid: String,
    text: Option<String>,
    #[serde(default)]
    is_echo: bool,
}

/// The posts of a delivery; a comment's `edited` and `remove` verbs are
/// reported through `changes`. Other fields and items (reactions, read
/// receipts) are acknowledged and carry no post.
pub fn parse(body: &[u8]) -> Result<Vec<Post>, String> {
    let payload: Payload = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut posts = Vec::new();
    for entry in &payload.entry {
        for change in &entry.changes {
            let post = match (payload.object.as_str(), change.field.as_str()) {
                ("page", "feed") => feed_comment(entry, &change.value)?,
                ("instagram", "comments") => Some(ig_comment(entry, &change.value)?),
                _ => None,
            };
            posts.extend(post);
        }
        if payload.object == "page" {
            for event in &entry.messaging {
                posts.extend(message(entry, event)?);
            }
        }
    }
    Ok(posts)
}

fn author(id: &str, handle: &str, display_name: Option<String>, profile_url: Option<String>) -> Author {
    Author {
        external_id: id.to_string(),
        handle: handle.to_string(),
        display_name,
        profile_url,
        avatar_url: None,
        bio: None,
        followers: None,
        fields: Vec::new(),
    }
}

fn direction(author_id: &str, account_id: &str) -> Direction {
    if author_id == account_id {
        Direction::Outbound
    } else {
        Direction::Inbound
    }
}

fn feed_comment(entry: &Entry, value: &Value) -> Result<Option<Post>, String> {
    if value["item"] != "comment" {
        return Ok(None);
    }
    let verb = value["verb"].as_str().unwrap_or_default();
    if verb == "remove" {
        // Deleted by its author or the Page: its id is all Meta sends.
        let id = value["comment_id"]
            .as_str()
            .ok_or("a removed comment without comment_id")?;
        changes::post_deleted(&Target::Facebook(id.to_string()).encode());
        return Ok(None);
    }
    let c: FeedComment = serde_json::from_value(value.clone()).map_err(|e| format!("a feed comment: {e}"))?;
    if verb == "edited" {
        // The value carries the comment's new message; the entry's time is when it changed.
        let time = entry.time.unwrap_or_default();
        let edited_at = rfc3339(time).ok_or_else(|| format!("edit of comment {} has the time {time}", c.comment_id))?;
        let id = Target::Facebook(c.comment_id).encode();
        changes::post_edited(
            &id,
            c.message.as_deref().unwrap_or_default(),
            &edited_at,
            Some(&value.to_string()),
        );
        return Ok(None);
    }
    if verb != "add" {
        return Ok(None);
    }
    let time = c.created_time.or(entry.time).unwrap_or_default();
    let created_at = rfc3339(time).ok_or_else(|| format!("comment {} has the time {time}", c.comment_id))?;
    // Without `from` (no permission to see the commenter) the comment is still the Page's to answer.
    let (author_id, name) = c.from.map_or_else(|| ("unknown".to_string(), None), |f| (f.id, f.name));
    // A reply to another comment names it; a top-level comment names the post.
    let parent = c.parent_id.filter(|p| *p != c.post_id);
    Ok(Some(Post {
        url: Some(format!("https://www.facebook.com/{}", c.comment_id)),
        external_id: Target::Facebook(c.comment_id.clone()).encode(),
        kind: if parent.is_some() {
            PostKind::Reply
        } else {
            PostKind::Comment
        },
        direction: direction(&author_id, &entry.id),
        author: author(&author_id, &author_id, name, None),
        text: c.message.unwrap_or_default(),
        thread_id: Some(c.post_id),
        in_reply_to: parent.map(|p| Target::Facebook(p).encode()),
        created_at,
        language: None,
        raw: value.to_string(),
    }))
}

fn ig_comment(entry: &Entry, value: &Value) -> Result<Post, String> {
    let c: IgComment = serde_json::from_value(value.clone()).map_err(|e| format!("an Instagram comment: {e}"))?;
    // The value has no time of its own: the entry's is when Meta sent it.
    let time = entry.time.unwrap_or_default();
    let created_at = rfc3339(time).ok_or_else(|| format!("Instagram comment {} has the time {time}", c.id))?;
    Ok(Post {
        external_id: Target::Instagram(c.id).encode(),
        kind: if c.parent_id.is_some() {
            PostKind::Reply
        } else {
            PostKind::Comment
        },
        direction: direction(&c.from.id, &entry.id),
        author: author(
            &c.from.id,
            &c.from.username,
            None,
            Some(format!("https://www.instagram.com/{}/", c.from.username)),
        ),
        text: c.text.unwrap_or_default(),
        url: None,
        thread_id: c.media.map(|m| m.id),
        in_reply_to: c.parent_id.map(|p| Target::Instagram(p).encode()),
        created_at,
        language: None,
        raw: value.to_string(),
    })
}

/// A Messenger message with text; deliveries, reads and attachments-only messages carry no post.
fn message(entry: &Entry, event: &Value) -> Result<Option<Post>, String> {
    if event.get("message").is_none() {
        return Ok(None);
    }
    let m: Messaging = serde_json::from_value(event.clone()).map_err(|e| format!("a message: {e}"))?;
    let Some(message) = m.message else {
        return Ok(None);
    };
    let Some(text) = message.text.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let created_at = rfc3339(m.timestamp.div_euclid(1000))
        .ok_or_else(|| format!("message {} has the timestamp {}", message.mid, m.timestamp))?;
    let own = message.is_echo || m.sender.id == entry.id;
    Ok(Some(Post {
        external_id: Target::Messenger(message.mid).encode(),
        kind: PostKind::DirectMessage,
        direction: if own { Direction::Outbound } else { Direction::Inbound },
        // A page-scoped id is all Messenger tells of the sender; it is also the address to answer.
        author: author(&m.sender.id, &m.sender.id, None, None),
        text,
        url: None,
        thread_id: None,
        in_reply_to: None,
        created_at,
        language: None,
        raw: event.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_three_documented_shapes() {
        let page = br#"{"object":"page","entry":[
          {"id":"104780219057591","time":1605739554,"changes":[
            {"field":"feed","value":{"from":{"id":"3929839453767123","name":"Ann Buyer"},
              "post":{"id":"104780219057591_388222313622361"},"message":"Where is my order?",
              "post_id":"104780219057591_388222313622361","comment_id":"388222313622361_388224366955489",
              "created_time":1605739553,"item":"comment","parent_id":"104780219057591_388222313622361","verb":"add"}},
            {"field":"feed","value":{"item":"reaction","verb":"add","reaction_type":"like","post_id":"1_2"}},
            {"field":"feed","value":{"from":{"id":"104780219057591","name":"Acme"},"message":"On its way!",
              "post_id":"104780219057591_388222313622361","comment_id":"388222313622361_5","created_time":1605739560,
              "item":"comment","parent_id":"388222313622361_388224366955489","verb":"add"}}]},
          {"id":"104780219057591","time":1605739560000,"messaging":[
            {"sender":{"id":"6217523951594946"},"recipient":{"id":"104780219057591"},"timestamp":1605739561234,
             "message":{"mid":"m_abc","text":"hello"}},
            {"sender":{"id":"6217523951594946"},"recipient":{"id":"104780219057591"},"timestamp":1605739562000,
             "read":{"watermark":1605739561234}}]}]}"#;
        let posts = parse(page).unwrap();
        assert_eq!(posts.len(), 3);
        let (comment, answer, dm) = (&posts[0], &posts[1], &posts[2]);
        assert_eq!(comment.external_id, "facebook:388222313622361_388224366955489");
        assert_eq!(
            (comment.kind, comment.direction),
            (PostKind::Comment, Direction::Inbound)
        );
        assert_eq!(comment.author.external_id, "3929839453767123");
        assert_eq!(comment.author.display_name.as_deref(), Some("Ann Buyer"));
        assert_eq!(comment.created_at, "2020-11-18T22:45:53Z");
        assert_eq!(comment.thread_id.as_deref(), Some("104780219057591_388222313622361"));
        assert_eq!(comment.in_reply_to, None);
        assert_eq!((answer.kind, answer.direction), (PostKind::Reply, Direction::Outbound));
        assert_eq!(
            answer.in_reply_to.as_deref(),
            Some("facebook:388222313622361_388224366955489")
        );
        assert_eq!(dm.external_id, "messenger:m_abc");
        assert_eq!(dm.kind, PostKind::DirectMessage);
        assert_eq!(dm.created_at, "2020-11-18T22:46:01Z");
        assert_eq!(dm.author.handle, "6217523951594946");

        let ig = br#"{"object":"instagram","entry":[{"id":"17841400008460056","time":1605739553,"changes":[
            {"field":"comments","value":{"from":{"id":"232323232","username":"test"},
             "media":{"id":"123123123","media_product_type":"FEED"},"id":"17865799348089039","parent_id":"1786","text":"This is an example."}}]}]}"#;
        let posts = parse(ig).unwrap();
        assert_eq!(posts.len(), 1);
        assert_eq!(posts[0].external_id, "instagram:17865799348089039");
        assert_eq!(posts[0].kind, PostKind::Reply);
        assert_eq!(posts[0].author.handle, "test");
        assert_eq!(posts[0].thread_id.as_deref(), Some("123123123"));
        assert_eq!(posts[0].in_reply_to.as_deref(), Some("instagram:1786"));
    }

    #[test]
    fn broken_payloads_are_errors() {
        assert!(parse(b"{\"object\":\"page\",\"entry\":[{").is_err());
        assert!(parse(br#"{"object":"instagram","entry":[{"id":"1","time":1,"changes":[{"field":"comments","value":{"id":"2"}}]}]}"#).is_err());
        assert_eq!(parse(br#"{"object":"user","entry":[]}"#).unwrap().len(), 0);
    }

    #[test]
    fn comparison_takes_every_byte() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
