//! Threads media objects as the list endpoints answer them
//! (<https://developers.facebook.com/docs/threads/threads-media>) and how one
//! becomes the contract's `post`.

use serde::Deserialize;
use serde_json::value::RawValue;
use socialcrm_sdk::{Author, Direction, PluginError, Post, PostKind, time};

/// Fields asked of every list. Threads leaves out what does not apply
/// (`replied_to` on a top-level post, `username` of a private profile).
pub const FIELDS: &str = "id,text,username,permalink,timestamp,media_type,shortcode,is_reply,is_quote_post,quoted_post,root_post,replied_to,has_replies";
/// Replies also say whether the brand wrote them, and whether they are hidden.
pub const REPLY_FIELDS: &str = "id,text,username,permalink,timestamp,media_type,shortcode,is_reply,is_quote_post,quoted_post,root_post,replied_to,has_replies,is_reply_owned_by_me,hide_status";
/// `GET /{user-id}/threads` offers no reply fields: it lists top-level posts.
pub const THREAD_FIELDS: &str =
    "id,text,username,permalink,timestamp,media_type,shortcode,is_quote_post,quoted_post,has_replies";

/// A page of a list: `{"data": [...], "paging": {"cursors": {"before", "after"}, "next"}}`.
#[derive(Debug, Deserialize)]
pub struct List {
    /// Kept as received for each post's `raw`.
    #[serde(default)]
    data: Vec<Box<RawValue>>,
    #[serde(default)]
    paging: Option<Paging>,
}

#[derive(Debug, Deserialize)]
struct Paging {
    #[serde(default)]
    cursors: Option<Cursors>,
    /// Present only when another page follows.
    #[serde(default)]
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Cursors {
    #[serde(default)]
    after: Option<String>,
}

#[derive(Debug, Deserialize)]
struct IdRef {
    id: String,
}

#[derive(Debug, Deserialize)]
struct Media {
    id: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    permalink: Option<String>,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    is_quote_post: Option<bool>,
    #[serde(default)]
    root_post: Option<IdRef>,
    #[serde(default)]
    replied_to: Option<IdRef>,
    #[serde(default)]
    is_reply_owned_by_me: Option<bool>,
}

/// One post of a page, read.
#[derive(Debug)]
pub struct Item {
    pub id: String,
    /// Unix seconds of `timestamp`.
    pub at: i64,
    media: Media,
    raw: String,
}

/// Which list a post came from: it names the kind of a plain post.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `GET /{user-id}/mentions`.
    Mentions,
    /// `GET /keyword_search`.
    Search,
    /// `GET /{user-id}/threads`: the brand's own.
    Threads,
    /// `GET /{media-id}/conversation`: replies under one of the brand's threads.
    Conversation,
}

impl List {
    pub fn parse(body: &[u8]) -> Result<List, PluginError> {
        serde_json::from_slice(body).map_err(|e| PluginError::Permanent(format!("malformed list: {e}")))
    }

    /// The cursor of the next page, when one follows.
    pub fn after(&self) -> Option<String> {
        let paging = self.paging.as_ref()?;
        paging.next.as_ref()?;
        paging.cursors.as_ref()?.after.clone().filter(|a| !a.is_empty())
    }

    /// The page's posts in the order listed; a post without an id or a
    /// readable `timestamp` fails the page, naming it.
    pub fn items(&self) -> Result<Vec<Item>, PluginError> {
        self.data
            .iter()
            .map(|raw| {
                let media: Media = serde_json::from_str(raw.get())
                    .map_err(|e| PluginError::Permanent(format!("malformed media object: {e}")))?;
                let at = media
                    .timestamp
                    .as_deref()
                    .and_then(time::parse_iso8601)
                    .ok_or_else(|| PluginError::Permanent(format!("post {} has no readable `timestamp`", media.id)))?
                    .div_euclid(1000);
                Ok(Item {
                    id: media.id.clone(),
                    at,
                    media,
                    raw: raw.get().to_string(),
                })
            })
            .collect()
    }
}

impl Item {
    /// The post, or `None` for what carries nothing to read: a repost (its
    /// text is the original's) and a post whose author Threads does not name
    /// (a private profile's).
    pub fn post(&self, source: Source, me: Option<&str>) -> Option<Post> {
        let media = &self.media;
        if media.media_type.as_deref() == Some("REPOST_FACADE") {
            return None;
        }
        let username = media.username.as_deref().filter(|u| !u.is_empty())?;
        let own = source == Source::Threads
            || media.is_reply_owned_by_me == Some(true)
            || me.is_some_and(|m| m.eq_ignore_ascii_case(username));
        let in_reply_to = media.replied_to.as_ref().map(|r| r.id.clone());
        let kind = if media.is_quote_post == Some(true) {
            PostKind::Quote
        } else if source == Source::Mentions {
            PostKind::Mention
        } else if in_reply_to.is_some() || source == Source::Conversation {
            PostKind::Reply
        } else {
            PostKind::Post
        };
        // A top-level post starts its own thread; a reply names its root.
        let thread_id = match &media.root_post {
            Some(root) => Some(root.id.clone()),
            None if in_reply_to.is_none() => Some(self.id.clone()),
            None => None,
        };
        Some(Post {
            external_id: self.id.clone(),
            kind,
            direction: if own { Direction::Outbound } else { Direction::Inbound },
            author: Author {
                external_id: username.to_string(),
                handle: username.to_string(),
                display_name: None,
                profile_url: Some(format!("https://www.threads.net/@{username}")),
                avatar_url: None,
                bio: None,
                followers: None,
                fields: Vec::new(),
            },
            text: media.text.clone().unwrap_or_default(),
            url: media.permalink.clone(),
            thread_id,
            in_reply_to,
            created_at: time::format_millis(self.at.saturating_mul(1000)),
            language: None,
            raw: self.raw.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The documented example of `GET /{media-id}/replies`, with the fields
    // the plugin asks for.
    const REPLIES: &str = r#"{
      "data": [
        {"id": "18050206876707110", "text": "First Reply", "username": "ann", "timestamp": "2024-01-01T18:20:00+0000",
         "media_product_type": "THREADS", "media_type": "TEXT_POST", "shortcode": "abcdefg", "has_replies": true,
         "permalink": "https://www.threads.net/@ann/post/abcdefg",
         "root_post": {"id": "18028970387138800"}, "replied_to": {"id": "18028970387138800"}, "is_reply": true,
         "is_reply_owned_by_me": false, "hide_status": "NOT_HUSHED"},
        {"id": "18050206876707111", "text": "Thanks!", "username": "acme", "timestamp": "2024-01-01T18:21:07+0000",
         "media_type": "TEXT_POST", "root_post": {"id": "18028970387138800"},
         "replied_to": {"id": "18050206876707110"}, "is_reply": true, "is_reply_owned_by_me": true, "hide_status": "NOT_HUSHED"},
        {"id": "18050206876707112", "timestamp": "2024-01-01T18:22:00+0000", "media_type": "TEXT_POST",
         "root_post": {"id": "18028970387138800"}, "replied_to": {"id": "18028970387138800"}, "is_reply": true},
        {"id": "18050206876707113", "username": "bob", "timestamp": "2024-01-01T18:23:00+0000", "media_type": "REPOST_FACADE"}
      ],
      "paging": {"cursors": {"before": "BEFORE_CURSOR", "after": "AFTER_CURSOR"}, "next": "https://graph.threads.net/v1.0/18028970387138800/conversation?after=AFTER_CURSOR"}
    }"#;

    #[test]
    fn maps_replies_with_their_thread_and_parent() {
        let list = List::parse(REPLIES.as_bytes()).unwrap();
        assert_eq!(list.after().as_deref(), Some("AFTER_CURSOR"));
        let items = list.items().unwrap();
        assert_eq!(items[0].at, 1_704_133_200);
        let first = items[0].post(Source::Conversation, Some("acme")).unwrap();
        assert_eq!(first.kind, PostKind::Reply);
        assert_eq!(first.direction, Direction::Inbound);
        assert_eq!(first.thread_id.as_deref(), Some("18028970387138800"));
        assert_eq!(first.in_reply_to.as_deref(), Some("18028970387138800"));
        assert_eq!(first.created_at, "2024-01-01T18:20:00.000Z");
        assert_eq!(first.author.handle, "ann");
        assert_eq!(
            first.author.profile_url.as_deref(),
            Some("https://www.threads.net/@ann")
        );
        assert_eq!(first.url.as_deref(), Some("https://www.threads.net/@ann/post/abcdefg"));
        assert!(first.raw.starts_with(r#"{"id": "18050206876707110""#));
        let own = items[1].post(Source::Conversation, None).unwrap();
        assert_eq!(
            (own.direction, own.in_reply_to.as_deref()),
            (Direction::Outbound, Some("18050206876707110"))
        );
        assert!(items[2].post(Source::Conversation, None).is_none(), "no author named");
        assert!(items[3].post(Source::Conversation, None).is_none(), "a repost");
    }

    #[test]
    fn kinds_follow_the_list() {
        let page = br#"{"data":[
          {"id":"1","text":"@acme hi","username":"cy","timestamp":"2025-03-01T10:00:00+0000","is_reply":false},
          {"id":"2","text":"see this","username":"dee","timestamp":"2025-03-01T10:00:00+0000","is_quote_post":true,"quoted_post":{"id":"9"}},
          {"id":"3","text":"acme rocks","username":"acme","timestamp":"2025-03-01T10:00:00+0000","is_reply":true,
           "replied_to":{"id":"7"}}
        ]}"#;
        let list = List::parse(page).unwrap();
        assert_eq!(list.after(), None, "no `next`: the last page");
        let items = list.items().unwrap();
        let mention = items[0].post(Source::Mentions, Some("acme")).unwrap();
        assert_eq!(
            (mention.kind, mention.thread_id.as_deref()),
            (PostKind::Mention, Some("1"))
        );
        assert_eq!(
            items[1].post(Source::Search, Some("acme")).unwrap().kind,
            PostKind::Quote
        );
        let reply = items[2].post(Source::Search, Some("ACME")).unwrap();
        assert_eq!((reply.kind, reply.direction), (PostKind::Reply, Direction::Outbound));
        assert_eq!(reply.thread_id, None, "a reply without its root has no known thread");
        let thread = items[0].post(Source::Threads, None).unwrap();
        assert_eq!((thread.kind, thread.direction), (PostKind::Post, Direction::Outbound));
    }

    #[test]
    fn an_empty_page_and_broken_ones() {
        let empty = List::parse(br#"{"data":[]}"#).unwrap();
        assert!(empty.items().unwrap().is_empty());
        assert_eq!(empty.after(), None);
        assert!(matches!(List::parse(b"{\"data\": [{"), Err(PluginError::Permanent(m)) if m.contains("malformed")));
        let no_time = List::parse(br#"{"data":[{"id":"5","text":"x","username":"a"}]}"#).unwrap();
        assert!(
            matches!(no_time.items(), Err(PluginError::Permanent(m)) if m.contains("post 5 has no readable `timestamp`"))
        );
    }
}
