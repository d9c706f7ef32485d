//! The parts of Mastodon's entities the plugin reads
//! (<https://docs.joinmastodon.org/entities/>), and a mention as a `Post`.
//!
//! Only ids and handles are required: every other field may be missing or
//! `null` on some server version, and a missing one must not stop polling.

use serde::Deserialize;
use socialcrm_sdk::{Author, Direction, PluginError, Post, PostKind, ProfileField, verification};

use crate::html;

#[derive(Debug, Deserialize)]
pub struct Notification {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: Option<String>,
    /// `null` when the status was deleted or is no longer visible.
    pub status: Option<Status>,
}

#[derive(Debug, Deserialize)]
pub struct Status {
    pub id: String,
    created_at: Option<String>,
    in_reply_to_id: Option<String>,
    content: Option<String>,
    /// The content warning, shown before the content.
    spoiler_text: Option<String>,
    url: Option<String>,
    uri: Option<String>,
    language: Option<String>,
    /// When the status was last edited; `null` if never.
    pub edited_at: Option<String>,
    account: Account,
}

#[derive(Debug, Deserialize)]
pub struct Account {
    pub id: String,
    pub acct: String,
    display_name: Option<String>,
    url: Option<String>,
    avatar: Option<String>,
    note: Option<String>,
    // Signed: Mastodon has served negative counts after a miscount.
    followers_count: Option<i64>,
    fields: Option<Vec<Field>>,
}

#[derive(Debug, Deserialize)]
struct Field {
    name: String,
    value: String,
    /// Set when the linked page links back to the profile (`rel="me"`).
    verified_at: Option<String>,
}

/// What `POST /api/v1/statuses` and `GET /api/v1/statuses/:id` answer, in part.
#[derive(Debug, Deserialize)]
pub struct StatusRef {
    pub id: String,
    pub url: Option<String>,
    pub uri: Option<String>,
    pub visibility: Option<String>,
}

impl Notification {
    /// The post of a mention; `None` for other types (a server that ignores
    /// `types[]`) and for mentions whose status is gone.
    pub fn into_post(self, raw: &str) -> Result<Option<Post>, PluginError> {
        if self.kind != "mention" {
            return Ok(None);
        }
        let Some(status) = self.status else {
            return Ok(None);
        };
        let malformed = |what: &str| {
            PluginError::Permanent(format!(
                "malformed notification {}: its status {} {what}",
                self.id, status.id
            ))
        };
        if status.id.is_empty() || status.account.id.is_empty() {
            return Err(malformed("or its account has an empty id"));
        }
        let text = status.text();
        let created_at = non_empty(status.created_at)
            .or(non_empty(self.created_at))
            .ok_or_else(|| malformed("has no created_at"))?;
        let in_reply_to = non_empty(status.in_reply_to_id);
        Ok(Some(Post {
            external_id: status.id,
            kind: if in_reply_to.is_some() {
                PostKind::Reply
            } else {
                PostKind::Mention
            },
            direction: Direction::Inbound,
            author: status.account.into_author(),
            text,
            url: non_empty(status.url).or(non_empty(status.uri)),
            thread_id: None,
            in_reply_to,
            created_at,
            language: non_empty(status.language),
            raw: raw.to_string(),
        }))
    }
}

impl Status {
    /// The status as plain text, its content warning first (what readers see first).
    pub fn text(&self) -> String {
        let content = html::to_text(self.content.as_deref().unwrap_or_default());
        match non_empty(self.spoiler_text.clone()) {
            Some(warning) if content.is_empty() => warning,
            Some(warning) => format!("{warning}\n\n{content}"),
            None => content,
        }
    }
}

impl Account {
    /// The author, with the links the instance verified marked for the host.
    fn into_author(self) -> Author {
        let mut verified = Vec::new();
        let fields = self
            .fields
            .unwrap_or_default()
            .into_iter()
            .map(|f| {
                let field = ProfileField {
                    name: html::to_text(&f.name),
                    value: html::to_text(&f.value),
                };
                if non_empty(f.verified_at).is_some() {
                    verified.push(field.clone());
                }
                field
            })
            .filter(|f| !f.name.is_empty() || !f.value.is_empty())
            .collect();
        let author = Author {
            external_id: self.id,
            handle: self.acct.trim_start_matches('@').to_string(),
            display_name: non_empty(self.display_name),
            profile_url: non_empty(self.url),
            avatar_url: non_empty(self.avatar),
            bio: non_empty(self.note.map(|n| html::to_text(&n))),
            followers: self.followers_count.and_then(|n| u64::try_from(n).ok()),
            fields,
        };
        for field in &verified {
            verification::verified_field(&author, field);
        }
        author
    }
}

/// `None` for a missing, null or blank value.
pub fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(json: &str) -> Result<Option<Post>, PluginError> {
        let n: Notification = serde_json::from_str(json).expect("a notification");
        n.into_post(json)
    }

    #[test]
    fn maps_recorded_mentions() {
        let data = include_str!("../../../tests/data/mastodon_notifications.jsonl");
        let mut mapped = 0;
        for line in data.lines().filter(|l| !l.trim().is_empty()) {
            let value: serde_json::Value = serde_json::from_str(line).expect("JSON");
            let Some(post) = map(line).expect("maps") else {
                assert!(value["type"] != "mention" || value["status"].is_null(), "{line}");
                continue;
            };
            mapped += 1;
            let status = &value["status"];
            assert_eq!(
                post.external_id,
                status["id"].as_str().unwrap(),
                "the status id, not the notification's"
            );
            assert_eq!(post.author.external_id, status["account"]["id"].as_str().unwrap());
            assert_eq!(post.author.handle, status["account"]["acct"].as_str().unwrap());
            assert_eq!(post.created_at, status["created_at"].as_str().unwrap());
            assert_eq!(post.raw, line);
            assert!(
                !post.text.contains('<') && !post.text.contains("&#39;"),
                "{}",
                post.text
            );
        }
        assert_eq!(mapped, 6, "six recorded mentions still have their status");
    }

    #[test]
    fn maps_every_field_of_a_reply() {
        let json = r#"{"id":"77","type":"mention","created_at":"2026-11-23T10:00:01.000Z","status":{
            "id":"117440822751580347","created_at":"2026-11-23T10:00:00.000Z","in_reply_to_id":"117440822311404761",
            "content":"<p>Hi <span class=\"h-card\"><a href=\"https://x.example/@brand\" class=\"u-url mention\">@<span>brand</span></a></span>,</p><p>order #12 &amp; &quot;refund&quot;?</p>",
            "spoiler_text":"billing","url":"https://x.example/@ann/117440822751580347","uri":"https://x.example/users/ann/statuses/1",
            "language":"en","visibility":"public",
            "account":{"id":"42","acct":"ann@other.example","display_name":"Ann","url":"https://other.example/@ann",
                "avatar":"https://other.example/a.png","note":"<p>Tea &amp; cakes</p>","followers_count":-1,
                "fields":[{"name":"Website","value":"<a href=\"https://ann.example\" rel=\"me\"><span class=\"invisible\">https://</span><span class=\"\">ann.example</span></a>","verified_at":"2026-01-01T00:00:00.000+00:00"}]}}}"#;
        let post = map(json).unwrap().unwrap();
        assert_eq!(post.external_id, "117440822751580347");
        assert_eq!(post.kind, PostKind::Reply);
        assert_eq!(post.direction, Direction::Inbound);
        assert_eq!(post.in_reply_to.as_deref(), Some("117440822311404761"));
        assert_eq!(post.text, "billing\n\nHi @brand,\n\norder #12 & \"refund\"?");
        assert_eq!(post.url.as_deref(), Some("https://x.example/@ann/117440822751580347"));
        assert_eq!(post.thread_id, None);
        assert_eq!(post.created_at, "2026-11-23T10:00:00.000Z");
        assert_eq!(post.language.as_deref(), Some("en"));
        assert_eq!(post.raw, json);
        let a = &post.author;
        assert_eq!((a.external_id.as_str(), a.handle.as_str()), ("42", "ann@other.example"));
        assert_eq!(a.display_name.as_deref(), Some("Ann"));
        assert_eq!(a.profile_url.as_deref(), Some("https://other.example/@ann"));
        assert_eq!(a.avatar_url.as_deref(), Some("https://other.example/a.png"));
        assert_eq!(a.bio.as_deref(), Some("Tea & cakes"));
        assert_eq!(a.followers, None, "a negative count is no count");
        assert_eq!(a.fields.len(), 1);
        assert_eq!(
            (a.fields[0].name.as_str(), a.fields[0].value.as_str()),
            ("Website", "https://ann.example")
        );
    }

    #[test]
    fn minimal_and_odd_notifications() {
        let minimal = r#"{"id":"5","type":"mention","created_at":"2026-11-23T10:00:00Z",
            "status":{"id":"9","content":null,"account":{"id":"1","acct":"bob"}}}"#;
        let post = map(minimal).unwrap().unwrap();
        assert_eq!((post.kind, post.text.as_str()), (PostKind::Mention, ""));
        assert_eq!(
            post.created_at, "2026-11-23T10:00:00Z",
            "falls back to the notification's time"
        );
        assert_eq!(
            (post.author.display_name, post.author.bio, post.author.followers),
            (None, None, None)
        );

        assert!(map(r#"{"id":"6","type":"favourite","status":null}"#).unwrap().is_none());
        assert!(map(r#"{"id":"7","type":"mention","status":null}"#).unwrap().is_none());
        let timeless = r#"{"id":"8","type":"mention","status":{"id":"9","account":{"id":"1","acct":"bob"}}}"#;
        assert!(
            matches!(map(timeless), Err(PluginError::Permanent(m)) if m.contains("notification 8") && m.contains("created_at"))
        );
    }
}
