//! What a `messages` delivery carries
//! (<https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples>):
//! the customers' messages, which become posts and open the 24-hour reply
//! window, and the statuses of the business's own messages, which do not.
//! Pure: the caller logs the notes and reports the marks and windows, so
//! this is tested natively.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use socialcrm_sdk::{Author, Direction, Post, PostKind, ProfileField, time};

/// How long after a customer's message the business may answer with free text.
pub const WINDOW_SECS: i64 = 24 * 3600;
/// The profile field that carries the customer's number, which WhatsApp proves.
pub const PHONE_FIELD: &str = "phone";

/// What one delivery means.
#[derive(Debug, Default)]
pub struct Delivery {
    pub posts: Vec<Post>,
    /// Conversation (the customer's wa_id) and the end of its window, RFC
    /// 3339: one per customer, from their latest message.
    pub windows: BTreeMap<String, String>,
    /// Lines for the log: what was skipped, and failed deliveries.
    pub notes: Vec<Note>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Note {
    Info(String),
    Warn(String),
}

#[derive(Deserialize)]
struct Payload {
    object: String,
    #[serde(default)]
    entry: Vec<Entry>,
}

#[derive(Deserialize)]
struct Entry {
    #[serde(default)]
    changes: Vec<Change>,
}

#[derive(Deserialize)]
struct Change {
    field: String,
    #[serde(default)]
    value: Value,
}

#[derive(Deserialize)]
struct Messages {
    metadata: Metadata,
    #[serde(default)]
    contacts: Vec<Contact>,
    #[serde(default)]
    messages: Vec<Value>,
    #[serde(default)]
    statuses: Vec<Status>,
    /// Errors of the number or the app, not of one message.
    #[serde(default)]
    errors: Vec<ApiError>,
}

#[derive(Deserialize)]
struct Metadata {
    phone_number_id: String,
}

#[derive(Deserialize)]
struct Contact {
    wa_id: String,
    profile: Option<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    name: Option<String>,
}

/// The fields every customer message has; the rest depends on `type`.
#[derive(Deserialize)]
struct Message {
    from: String,
    id: String,
    timestamp: String,
    #[serde(rename = "type")]
    kind: String,
    context: Option<Context>,
}

#[derive(Deserialize)]
struct Context {
    /// Absent on a forwarded message, which quotes nothing of this chat.
    id: Option<String>,
}

#[derive(Deserialize)]
struct Status {
    id: String,
    status: String,
    recipient_id: Option<String>,
    #[serde(default)]
    errors: Vec<ApiError>,
}

#[derive(Deserialize)]
struct ApiError {
    code: Option<i64>,
    title: Option<String>,
    error_data: Option<ErrorData>,
}

#[derive(Deserialize)]
struct ErrorData {
    details: Option<String>,
}

impl ApiError {
    fn describe(&self) -> String {
        format!(
            "{} {}{}",
            self.code.map_or_else(|| "?".into(), |c| c.to_string()),
            self.title.as_deref().unwrap_or("(no title)"),
            self.error_data
                .as_ref()
                .and_then(|d| d.details.as_deref())
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        )
    }
}

/// The posts, windows and notes of a delivery to the business number
/// `phone_number_id`; an error only when the body is not a delivery at all.
pub fn parse(body: &[u8], phone_number_id: &str) -> Result<Delivery, String> {
    let payload: Payload = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut out = Delivery::default();
    if payload.object != "whatsapp_business_account" {
        out.notes
            .push(Note::Info(format!("a delivery for `{}` ignored", payload.object)));
        return Ok(out);
    }
    for change in payload.entry.iter().flat_map(|e| &e.changes) {
        if change.field != "messages" {
            out.notes
                .push(Note::Info(format!("a `{}` change ignored", change.field)));
            continue;
        }
        let value: Messages =
            serde_json::from_value(change.value.clone()).map_err(|e| format!("a `messages` change: {e}"))?;
        // One app may serve several numbers; each account takes its own.
        if value.metadata.phone_number_id != phone_number_id {
            out.notes.push(Note::Info(format!(
                "a delivery for phone number id {} ignored: this account is {phone_number_id}",
                value.metadata.phone_number_id
            )));
            continue;
        }
        for error in &value.errors {
            out.notes
                .push(Note::Warn(format!("WhatsApp reported an error: {}", error.describe())));
        }
        for status in &value.statuses {
            if status.status == "failed" {
                let why: Vec<String> = status.errors.iter().map(ApiError::describe).collect();
                out.notes.push(Note::Warn(format!(
                    "message {} to {} failed: {}",
                    status.id,
                    status.recipient_id.as_deref().unwrap_or("?"),
                    if why.is_empty() {
                        "no reason given".into()
                    } else {
                        why.join("; ")
                    }
                )));
            }
        }
        let names: BTreeMap<&str, &str> = value
            .contacts
            .iter()
            .filter_map(|c| Some((c.wa_id.as_str(), c.profile.as_ref()?.name.as_deref()?)))
            .filter(|(_, name)| !name.trim().is_empty())
            .collect();
        for raw in &value.messages {
            match message(raw, &names) {
                Ok((post, window)) => {
                    let conversation = post.author.external_id.clone();
                    let later = out.windows.get(&conversation).is_none_or(|w| *w < window);
                    if later {
                        out.windows.insert(conversation, window);
                    }
                    out.posts.push(post);
                }
                Err(note) => out.notes.push(note),
            }
        }
    }
    Ok(out)
}

/// A customer's message as a post, and the end of the window it opens; a
/// note when it is none.
fn message(raw: &Value, names: &BTreeMap<&str, &str>) -> Result<(Post, String), Note> {
    let m: Message =
        serde_json::from_value(raw.clone()).map_err(|e| Note::Warn(format!("a message not understood: {e}")))?;
    let Some(text) = text(&m.kind, raw) else {
        let errors = raw["errors"]
            .as_array()
            .map(|e| format!(" ({})", Value::Array(e.clone())))
            .unwrap_or_default();
        return Err(Note::Info(format!(
            "message {} of type `{}` skipped{errors}",
            m.id, m.kind
        )));
    };
    // The customer's number in international digits: the conversation and the author.
    if m.from.is_empty() || !m.from.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Note::Warn(format!(
            "message {} from `{}` skipped: not a number",
            m.id, m.from
        )));
    }
    let at = m.timestamp.trim().parse::<i64>().ok();
    let created_at = at.and_then(time::from_unix_seconds);
    let window = at.and_then(|at| time::from_unix_seconds(at.checked_add(WINDOW_SECS)?));
    let (Some(created_at), Some(window)) = (created_at, window) else {
        return Err(Note::Warn(format!(
            "message {} skipped: its timestamp `{}` is not Unix seconds",
            m.id, m.timestamp
        )));
    };
    let author = Author {
        external_id: m.from.clone(),
        handle: m.from.clone(),
        display_name: names.get(m.from.as_str()).map(|n| n.to_string()),
        profile_url: None,
        avatar_url: None,
        bio: None,
        followers: None,
        fields: vec![phone(&m.from)],
    };
    let post = Post {
        external_id: m.id,
        kind: PostKind::DirectMessage,
        direction: Direction::Inbound,
        author,
        text,
        url: None,
        // One conversation per customer and business number.
        thread_id: Some(m.from),
        in_reply_to: m.context.and_then(|c| c.id),
        created_at,
        language: None,
        raw: raw.to_string(),
    };
    Ok((post, window))
}

/// The customer's number as a profile field: `+` and the wa_id.
pub fn phone(wa_id: &str) -> ProfileField {
    ProfileField {
        name: PHONE_FIELD.into(),
        value: format!("+{wa_id}"),
    }
}

/// The text of a message of type `kind`; `None` for what is not a message
/// to answer (a reaction, a notice of a changed number, an unsupported type).
/// Media keep their id in `raw`; their text is the caption, or a marker.
fn text(kind: &str, m: &Value) -> Option<String> {
    let field = |object: &str, name: &str| m[object][name].as_str().filter(|s| !s.trim().is_empty());
    let text = match kind {
        "text" => m["text"]["body"].as_str()?.to_string(),
        "image" | "video" | "sticker" => field(kind, "caption").map_or_else(|| format!("[{kind}]"), str::to_string),
        "audio" if m["audio"]["voice"] == true => "[voice message]".into(),
        "audio" => "[audio]".into(),
        "document" => match (field("document", "caption"), field("document", "filename")) {
            (Some(caption), _) => caption.to_string(),
            (None, Some(name)) => format!("[document: {name}]"),
            (None, None) => "[document]".into(),
        },
        // A tap on a reply button or a list row: its title is what the customer chose.
        "interactive" => {
            let reply = &m["interactive"];
            let chosen = reply["button_reply"]["title"]
                .as_str()
                .or_else(|| reply["list_reply"]["title"].as_str())?;
            chosen.to_string()
        }
        // A tap on a template's quick-reply button.
        "button" => m["button"]["text"].as_str()?.to_string(),
        "location" => {
            let place: Vec<&str> = [field("location", "name"), field("location", "address")]
                .into_iter()
                .flatten()
                .collect();
            if place.is_empty() {
                format!(
                    "[location {}, {}]",
                    m["location"]["latitude"], m["location"]["longitude"]
                )
            } else {
                format!("[location: {}]", place.join(", "))
            }
        }
        "contacts" => {
            let names: Vec<&str> = m["contacts"]
                .as_array()?
                .iter()
                .filter_map(|c| c["name"]["formatted_name"].as_str())
                .collect();
            if names.is_empty() {
                "[contact card]".into()
            } else {
                format!("[contact card: {}]", names.join(", "))
            }
        }
        "order" => field("order", "text").map_or_else(|| "[order]".into(), |t| format!("[order] {t}")),
        _ => return None,
    };
    Some(text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NUMBER_ID: &str = "106540352242922";

    /// A `messages` delivery as in Meta's payload examples, to NUMBER_ID.
    fn delivery(contacts: Value, messages: Value, statuses: Value) -> Vec<u8> {
        json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
            "field": "messages",
            "value": {"messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": NUMBER_ID},
                "contacts": contacts, "messages": messages, "statuses": statuses}}]}]})
        .to_string()
        .into_bytes()
    }

    fn ann() -> Value {
        json!([{"profile": {"name": "Ann Buyer"}, "wa_id": "16505551234"}])
    }

    fn one(message: Value) -> Delivery {
        parse(&delivery(ann(), json!([message]), json!([])), NUMBER_ID).unwrap()
    }

    #[test]
    fn a_text_message_is_a_direct_message_that_opens_the_window() {
        let d = one(
            json!({"from": "16505551234", "id": "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
            "timestamp": "1700000000", "type": "text", "text": {"body": "Where is my order?"}}),
        );
        assert_eq!(d.posts.len(), 1);
        let p = &d.posts[0];
        assert_eq!(
            p.external_id,
            "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
        );
        assert_eq!((p.kind, p.direction), (PostKind::DirectMessage, Direction::Inbound));
        assert_eq!(p.text, "Where is my order?");
        assert_eq!(p.thread_id.as_deref(), Some("16505551234"));
        assert_eq!(p.in_reply_to, None);
        assert_eq!(p.created_at, "2023-11-14T22:13:20Z");
        assert_eq!(p.author.external_id, "16505551234");
        assert_eq!(p.author.handle, "16505551234");
        assert_eq!(p.author.display_name.as_deref(), Some("Ann Buyer"));
        let fields: Vec<(&str, &str)> = p
            .author
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.value.as_str()))
            .collect();
        assert_eq!(fields, [(PHONE_FIELD, "+16505551234")]);
        let raw: Value = serde_json::from_str(&p.raw).unwrap();
        assert_eq!(raw["text"]["body"], "Where is my order?");
        assert_eq!(
            d.windows.get("16505551234").map(String::as_str),
            Some("2023-11-15T22:13:20Z")
        );
        assert!(d.notes.is_empty());
    }

    #[test]
    fn media_keep_their_caption_and_id() {
        let d = one(
            json!({"from": "16505551234", "id": "wamid.img", "timestamp": "1700000000", "type": "image",
            "image": {"caption": "The box arrived like this", "mime_type": "image/jpeg",
                "sha256": "81d3bd8a8db4868c9520ed47186e8b7c5789e61ff79f7f834be6950b808a90d3", "id": "2754859441498128"}}),
        );
        assert_eq!(d.posts[0].text, "The box arrived like this");
        assert!(d.posts[0].raw.contains("2754859441498128"));
        for (message, text) in [
            (
                json!({"type": "image", "image": {"id": "1", "mime_type": "image/jpeg"}}),
                "[image]",
            ),
            (
                json!({"type": "sticker", "sticker": {"id": "1", "animated": false}}),
                "[sticker]",
            ),
            (
                json!({"type": "audio", "audio": {"id": "1", "voice": true}}),
                "[voice message]",
            ),
            (
                json!({"type": "document", "document": {"id": "1", "filename": "invoice.pdf"}}),
                "[document: invoice.pdf]",
            ),
            (
                json!({"type": "location", "location": {"latitude": 52.52, "longitude": 13.405, "name": "Acme Store"}}),
                "[location: Acme Store]",
            ),
            (
                json!({"type": "button", "button": {"text": "Track my parcel", "payload": "TRACK"}}),
                "Track my parcel",
            ),
        ] {
            let mut m = message;
            m["from"] = json!("16505551234");
            m["id"] = json!("wamid.x");
            m["timestamp"] = json!("1700000000");
            assert_eq!(one(m).posts[0].text, text);
        }
    }

    #[test]
    fn a_reply_names_the_message_it_quotes() {
        let d = one(
            json!({"context": {"from": "15550783881", "id": "wamid.gBGGFlaCGg0xcvAdgmZ9plHrf2Mh-o"},
            "from": "16505551234", "id": "wamid.reply", "timestamp": "1700000100", "type": "text", "text": {"body": "Yes, that one"}}),
        );
        assert_eq!(
            d.posts[0].in_reply_to.as_deref(),
            Some("wamid.gBGGFlaCGg0xcvAdgmZ9plHrf2Mh-o")
        );
        // A forwarded message has a context without an id.
        let d = one(
            json!({"context": {"forwarded": true}, "from": "16505551234", "id": "wamid.fwd",
            "timestamp": "1700000100", "type": "text", "text": {"body": "look"}}),
        );
        assert_eq!(d.posts[0].in_reply_to, None);
    }

    #[test]
    fn interactive_replies_take_their_title() {
        let d = one(
            json!({"context": {"from": "15550783881", "id": "wamid.question"}, "from": "16505551234",
            "id": "wamid.tap", "timestamp": "1700000000", "type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": {"id": "yes-refund", "title": "Yes, refund me"}}}),
        );
        assert_eq!(d.posts[0].text, "Yes, refund me");
        let d = one(
            json!({"from": "16505551234", "id": "wamid.row", "timestamp": "1700000000", "type": "interactive",
            "interactive": {"type": "list_reply", "list_reply": {"id": "r1", "title": "Delivery", "description": "Where is it"}}}),
        );
        assert_eq!(d.posts[0].text, "Delivery");
    }

    #[test]
    fn statuses_are_no_posts_and_failures_are_told() {
        let statuses = json!([
            {"id": "wamid.sent1", "status": "delivered", "timestamp": "1700000000", "recipient_id": "16505551234",
             "conversation": {"id": "c1", "origin": {"type": "service"}}, "pricing": {"billable": true, "pricing_model": "CBP", "category": "service"}},
            {"id": "wamid.sent2", "status": "failed", "timestamp": "1700000001", "recipient_id": "16505551234",
             "errors": [{"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message",
                "error_data": {"details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."}}]}]);
        let d = parse(&delivery(json!([]), json!([]), statuses), NUMBER_ID).unwrap();
        assert!(d.posts.is_empty() && d.windows.is_empty());
        assert_eq!(d.notes.len(), 1);
        assert!(
            matches!(&d.notes[0], Note::Warn(m) if m.starts_with("message wamid.sent2 to 16505551234 failed: 131047 Re-engagement message: Message failed"))
        );
    }

    #[test]
    fn what_is_no_message_to_answer_is_skipped() {
        for (kind, extra) in [
            (
                "reaction",
                json!({"reaction": {"message_id": "wamid.sent1", "emoji": "\u{1F44D}"}}),
            ),
            (
                "unsupported",
                json!({"errors": [{"code": 131051, "title": "Message type unknown", "message": "Message type unknown"}]}),
            ),
            (
                "system",
                json!({"system": {"body": "Ann changed their phone number", "wa_id": "16505559999", "type": "user_changed_number"}}),
            ),
            ("ephemeral", json!({})),
        ] {
            let mut m = json!({"from": "16505551234", "id": "wamid.skip", "timestamp": "1700000000", "type": kind});
            if let (Some(m), Some(extra)) = (m.as_object_mut(), extra.as_object()) {
                m.extend(extra.clone());
            }
            let d = one(m);
            assert!(d.posts.is_empty() && d.windows.is_empty(), "{kind}");
            assert!(
                matches!(&d.notes[..], [Note::Info(n)] if n.contains(&format!("type `{kind}` skipped"))),
                "{kind}: {:?}",
                d.notes
            );
        }
        let d = one(
            json!({"from": "16505551234", "id": "wamid.u", "timestamp": "1700000000", "type": "unsupported",
            "errors": [{"code": 131051, "title": "Message type unknown"}]}),
        );
        assert!(matches!(&d.notes[0], Note::Info(n) if n.contains("131051")));
    }

    #[test]
    fn a_bad_message_is_skipped_and_the_others_kept() {
        let messages = json!([
            {"from": "16505551234", "id": "wamid.a", "timestamp": "yesterday", "type": "text", "text": {"body": "a"}},
            {"from": "16505551234", "id": "wamid.b", "type": "text", "text": {"body": "b"}},
            {"from": "16505551234", "id": "wamid.c", "timestamp": "1700000200", "type": "text", "text": {"body": "c"}},
            {"from": "16505551234", "id": "wamid.d", "timestamp": "1700000100", "type": "text", "text": {"body": "d"}},
        ]);
        let d = parse(&delivery(ann(), messages, json!([])), NUMBER_ID).unwrap();
        let ids: Vec<&str> = d.posts.iter().map(|p| p.external_id.as_str()).collect();
        assert_eq!(ids, ["wamid.c", "wamid.d"]);
        assert_eq!(d.notes.len(), 2);
        // The latest message sets the window.
        assert_eq!(
            d.windows.get("16505551234").map(String::as_str),
            Some("2023-11-15T22:16:40Z")
        );
    }

    #[test]
    fn other_numbers_fields_and_objects_are_ignored() {
        let body = delivery(
            ann(),
            json!([{"from": "16505551234", "id": "wamid.a", "timestamp": "1700000000",
            "type": "text", "text": {"body": "a"}}]),
            json!([]),
        );
        let d = parse(&body, "999").unwrap();
        assert!(d.posts.is_empty());
        assert!(matches!(&d.notes[..], [Note::Info(n)] if n.contains("phone number id 106540352242922 ignored")));
        let templates = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
            {"field": "message_template_status_update", "value": {"event": "APPROVED", "message_template_name": "x"}}]}]});
        let d = parse(templates.to_string().as_bytes(), NUMBER_ID).unwrap();
        assert!(d.posts.is_empty() && d.notes.len() == 1);
        let d = parse(br#"{"object":"page","entry":[]}"#, NUMBER_ID).unwrap();
        assert!(d.posts.is_empty());
        assert!(parse(b"{\"object\":\"whatsapp_business_account\",\"entry\":[{", NUMBER_ID).is_err());
        let no_metadata = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
            {"field": "messages", "value": {"messages": []}}]}]});
        assert!(parse(no_metadata.to_string().as_bytes(), NUMBER_ID).is_err());
    }
}
