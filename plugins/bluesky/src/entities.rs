//! The parts of the lexicons the plugin reads, and their mapping to `Post`s:
//! `app.bsky.notification.listNotifications#notification`,
//! `app.bsky.feed.defs#postView`, `app.bsky.actor.defs#profileView`,
//! `com.atproto.repo.listRecords#record` and the `app.bsky.feed.post` record.
//!
//! Required are what the lexicons require and the plugin needs (uris, DIDs,
//! handles, times); optional fields may be missing or `null`.

use serde::Deserialize;
use serde_json::Value;
use socialcrm_sdk::{Author, Direction, PluginError, Post, PostKind, ProfileField, verification};

use socialcrm_sdk::time;

/// The notification reasons that carry a post worth handing over.
pub const REASONS: [&str; 3] = ["mention", "reply", "quote"];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub uri: String,
    pub reason: String,
    pub indexed_at: String,
    /// Read only for the reasons the plugin keeps: other reasons carry other records.
    author: Option<Value>,
    record: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostView {
    pub uri: String,
    pub cid: String,
    pub author: Profile,
    pub record: Value,
    pub indexed_at: String,
}

/// One item of `com.atproto.repo.listRecords`.
#[derive(Debug, Deserialize)]
pub struct RepoRecord {
    pub uri: String,
    pub value: Value,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub did: String,
    pub handle: String,
    display_name: Option<String>,
    avatar: Option<String>,
    description: Option<String>,
    // Signed: a count the network gets wrong must not fail the page.
    followers_count: Option<i64>,
}

/// An `app.bsky.feed.post` record.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostRecord {
    #[serde(default)]
    pub text: String,
    pub created_at: Option<String>,
    langs: Option<Vec<String>>,
    pub reply: Option<ReplyRef>,
}

#[derive(Clone, Debug, Deserialize)]
pub struct ReplyRef {
    pub root: StrongRef,
    pub parent: StrongRef,
}

/// `com.atproto.repo.strongRef`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct StrongRef {
    pub uri: String,
    pub cid: String,
}

/// Who the account is, for the posts it wrote itself.
pub struct Me<'a> {
    pub did: &'a str,
    pub handle: &'a str,
}

impl Notification {
    /// The post of a mention, reply or quote; `None` for other reasons.
    pub fn into_post(self, raw: &str) -> Result<Option<Post>, PluginError> {
        let kind = match self.reason.as_str() {
            "mention" => PostKind::Mention,
            "reply" => PostKind::Reply,
            "quote" => PostKind::Quote,
            _ => return Ok(None),
        };
        let malformed = |what: String| PluginError::Permanent(format!("malformed notification {}: {what}", self.uri));
        let author: Profile =
            serde_json::from_value(self.author.unwrap_or_default()).map_err(|e| malformed(format!("author: {e}")))?;
        let record =
            PostRecord::read(self.record.unwrap_or_default()).map_err(|e| malformed(format!("record: {e}")))?;
        let created_at = record
            .created_at()
            .or_else(|| time::normalize(&self.indexed_at))
            .ok_or_else(|| malformed("neither createdAt nor indexedAt is an RFC 3339 time".into()))?;
        post(
            self.uri,
            kind,
            Direction::Inbound,
            author.into_author(),
            record,
            created_at,
            raw,
        )
        .map(Some)
    }
}

impl PostView {
    /// A search hit: the account's own posts are outbound, the rest inbound.
    pub fn into_post(self, me: &str, raw: &str) -> Result<Post, PluginError> {
        let record = PostRecord::read(self.record)
            .map_err(|e| PluginError::Permanent(format!("malformed post {}: {e}", self.uri)))?;
        let created_at = record
            .created_at()
            .or_else(|| time::normalize(&self.indexed_at))
            .ok_or_else(|| {
                PluginError::Permanent(format!(
                    "malformed post {}: neither createdAt nor indexedAt is an RFC 3339 time",
                    self.uri
                ))
            })?;
        let direction = if self.author.did == me {
            Direction::Outbound
        } else {
            Direction::Inbound
        };
        let kind = if record.reply.is_some() {
            PostKind::Reply
        } else {
            PostKind::Post
        };
        post(
            self.uri,
            kind,
            direction,
            self.author.into_author(),
            record,
            created_at,
            raw,
        )
    }
}

impl RepoRecord {
    /// One of the account's own posts.
    pub fn into_post(self, me: &Me, raw: &str) -> Result<Post, PluginError> {
        let malformed = |what: String| PluginError::Permanent(format!("malformed record {}: {what}", self.uri));
        let record = PostRecord::read(self.value).map_err(|e| malformed(e.to_string()))?;
        let created_at = record
            .created_at()
            .or_else(|| tid_time(rkey(&self.uri)))
            .ok_or_else(|| malformed("neither createdAt nor its record key tells when it was written".into()))?;
        let kind = if record.reply.is_some() {
            PostKind::Reply
        } else {
            PostKind::Post
        };
        let author = Author {
            external_id: me.did.to_string(),
            handle: me.handle.to_string(),
            display_name: None,
            profile_url: Some(profile_url(me.handle, me.did)),
            avatar_url: None,
            bio: None,
            followers: None,
            fields: Vec::new(),
        };
        post(self.uri, kind, Direction::Outbound, author, record, created_at, raw)
    }
}

impl PostRecord {
    pub fn read(value: Value) -> Result<PostRecord, serde_json::Error> {
        serde_json::from_value(value)
    }

    /// `createdAt` normalized, when it is an RFC 3339 time (anyone can write anything there).
    fn created_at(&self) -> Option<String> {
        self.created_at.as_deref().and_then(time::normalize)
    }
}

impl Profile {
    /// The author; a handle on a domain of the author's own is a field the
    /// network verified (the AppView answers `handle.invalid` for a handle
    /// whose DNS record or `/.well-known/atproto-did` does not name the DID).
    fn into_author(self) -> Author {
        let domain = own_domain(&self.handle).map(|d| ProfileField {
            name: "Domain".into(),
            value: format!("https://{d}"),
        });
        let author = Author {
            profile_url: Some(profile_url(&self.handle, &self.did)),
            external_id: self.did,
            handle: self.handle,
            display_name: non_empty(self.display_name),
            avatar_url: non_empty(self.avatar),
            bio: non_empty(self.description),
            followers: self.followers_count.and_then(|n| u64::try_from(n).ok()),
            fields: domain.into_iter().collect(),
        };
        for field in &author.fields {
            verification::verified_field(&author, field);
        }
        author
    }
}

/// The handle, when it is a domain name of the author's own: not a name under
/// the hosting service's domain (`alice.bsky.social`), not `handle.invalid`.
fn own_domain(handle: &str) -> Option<&str> {
    let hosted = HOSTING_DOMAINS.iter().any(|d| handle.ends_with(&format!(".{d}")));
    let valid = handle.contains('.')
        && handle != "handle.invalid"
        && handle
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
    (valid && !hosted).then_some(handle)
}

/// Domains under which a hosting service hands out handles.
const HOSTING_DOMAINS: [&str; 2] = ["bsky.social", "bsky.team"];

fn post(
    uri: String,
    kind: PostKind,
    direction: Direction,
    author: Author,
    record: PostRecord,
    created_at: String,
    raw: &str,
) -> Result<Post, PluginError> {
    if uri.is_empty() || author.external_id.is_empty() {
        return Err(PluginError::Permanent(format!(
            "malformed post `{uri}`: an empty uri or author DID"
        )));
    }
    let language = record.langs.and_then(|l| l.into_iter().find(|l| !l.trim().is_empty()));
    Ok(Post {
        url: Some(post_url(&author.handle, &author.external_id, &uri)),
        // A thread is named by its first post; a post that answers none starts its own.
        thread_id: Some(
            record
                .reply
                .as_ref()
                .map_or_else(|| uri.clone(), |r| r.root.uri.clone()),
        ),
        in_reply_to: record.reply.map(|r| r.parent.uri),
        external_id: uri,
        kind,
        direction,
        author,
        text: record.text,
        created_at,
        language,
        raw: raw.to_string(),
    })
}

/// The record key, the last segment of `at://DID/COLLECTION/RKEY`.
pub fn rkey(uri: &str) -> &str {
    uri.rsplit('/').next().unwrap_or_default()
}

/// `https://bsky.app/profile/HANDLE/post/RKEY`; the DID stands in for a handle
/// that no longer resolves (`handle.invalid`).
pub fn post_url(handle: &str, did: &str, uri: &str) -> String {
    format!("{}/post/{}", profile_url(handle, did), rkey(uri))
}

fn profile_url(handle: &str, did: &str) -> String {
    let who = if handle.is_empty() || handle == "handle.invalid" {
        did
    } else {
        handle
    };
    format!("https://bsky.app/profile/{who}")
}

/// The time a TID record key was made: 13 base32-sortable characters of which
/// the top 53 bits count microseconds since the epoch.
fn tid_time(rkey: &str) -> Option<String> {
    const ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";
    if rkey.len() != 13 {
        return None;
    }
    let value = rkey.bytes().try_fold(0u64, |v, c| {
        let digit = ALPHABET.iter().position(|&a| a == c)?;
        Some(v << 5 | digit as u64)
    })?;
    if value >> 63 != 0 {
        return None;
    }
    let micros = i64::try_from(value >> 10).ok()?;
    Some(time::format_millis(micros / 1_000))
}

/// `None` for a missing, null or blank value.
pub fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DID: &str = "did:plc:ewvi7nxzyoun6zhxrhs64oiz";

    fn notification(reason: &str, record: Value) -> String {
        serde_json::json!({
            "uri": format!("at://{DID}/app.bsky.feed.post/3l3qo2vuowo2b"),
            "cid": "bafyreig2fjxi3rptqdgylg7e5hmjl6mcke7rn2b6cugzlqq3i4zu6rq52q",
            "author": {
                "did": DID, "handle": "alice.bsky.social", "displayName": "Alice",
                "avatar": "https://cdn.bsky.app/img/avatar/plain/x/y@jpeg", "description": "Tea & cakes",
                "indexedAt": "2024-01-01T00:00:00.000Z", "labels": [], "viewer": {"muted": false}
            },
            "reason": reason,
            "record": record,
            "isRead": false,
            "indexedAt": "2026-11-23T10:00:01.000Z",
            "labels": []
        })
        .to_string()
    }

    fn map(json: &str) -> Result<Option<Post>, PluginError> {
        let n: Notification = serde_json::from_str(json).expect("a notification");
        n.into_post(json)
    }

    #[test]
    fn maps_a_reply_notification() {
        let json = notification(
            "reply",
            serde_json::json!({
                "$type": "app.bsky.feed.post",
                "text": "where is my order? 📦",
                "createdAt": "2026-11-23T11:00:00+01:00",
                "langs": ["en"],
                "reply": {
                    "root": {"uri": "at://did:plc:brand/app.bsky.feed.post/3root", "cid": "bafyroot"},
                    "parent": {"uri": "at://did:plc:brand/app.bsky.feed.post/3parent", "cid": "bafyparent"}
                }
            }),
        );
        let post = map(&json).unwrap().unwrap();
        assert_eq!(post.external_id, format!("at://{DID}/app.bsky.feed.post/3l3qo2vuowo2b"));
        assert_eq!((post.kind, post.direction), (PostKind::Reply, Direction::Inbound));
        assert_eq!(post.text, "where is my order? 📦");
        assert_eq!(post.created_at, "2026-11-23T10:00:00.000Z");
        assert_eq!(post.language.as_deref(), Some("en"));
        assert_eq!(
            post.thread_id.as_deref(),
            Some("at://did:plc:brand/app.bsky.feed.post/3root")
        );
        assert_eq!(
            post.in_reply_to.as_deref(),
            Some("at://did:plc:brand/app.bsky.feed.post/3parent")
        );
        assert_eq!(
            post.url.as_deref(),
            Some("https://bsky.app/profile/alice.bsky.social/post/3l3qo2vuowo2b")
        );
        assert_eq!(post.raw, json);
        let a = &post.author;
        assert_eq!((a.external_id.as_str(), a.handle.as_str()), (DID, "alice.bsky.social"));
        assert_eq!(a.display_name.as_deref(), Some("Alice"));
        assert_eq!(a.bio.as_deref(), Some("Tea & cakes"));
        assert_eq!(
            a.profile_url.as_deref(),
            Some("https://bsky.app/profile/alice.bsky.social")
        );
    }

    #[test]
    fn mentions_quotes_and_other_reasons() {
        let record = serde_json::json!({"text": "hi @brand", "createdAt": "not a time"});
        let post = map(&notification("mention", record.clone())).unwrap().unwrap();
        assert_eq!(post.kind, PostKind::Mention);
        assert_eq!(post.created_at, "2026-11-23T10:00:01.000Z", "falls back to indexedAt");
        assert_eq!(post.thread_id.as_deref(), Some(post.external_id.as_str()));
        assert_eq!(post.in_reply_to, None);
        assert_eq!(
            map(&notification("quote", record)).unwrap().unwrap().kind,
            PostKind::Quote
        );
        let like = notification("like", serde_json::json!({"subject": {"uri": "at://x", "cid": "y"}}));
        assert!(map(&like).unwrap().is_none());
        let follow = r#"{"uri":"at://x","reason":"follow","indexedAt":"2026-11-23T10:00:01.000Z"}"#;
        assert!(map(follow).unwrap().is_none());
    }

    #[test]
    fn a_broken_notification_names_itself() {
        let no_text = notification("mention", serde_json::json!({"text": 5}));
        assert!(
            matches!(map(&no_text), Err(PluginError::Permanent(m)) if m.contains("3l3qo2vuowo2b") && m.contains("record")),
        );
        let mut value: Value = serde_json::from_str(&notification("reply", serde_json::json!({"text": ""}))).unwrap();
        value["author"] = serde_json::json!({"handle": "x"});
        assert!(matches!(map(&value.to_string()), Err(PluginError::Permanent(m)) if m.contains("author")));
    }

    #[test]
    fn own_records_and_search_hits() {
        let me = Me {
            did: "did:plc:brand",
            handle: "handle.invalid",
        };
        let raw = r#"{"uri":"at://did:plc:brand/app.bsky.feed.post/3l3qo2vuowo2b","cid":"bafy","value":{"text":"We're live","createdAt":"x"}}"#;
        let record: RepoRecord = serde_json::from_str(raw).unwrap();
        let post = record.into_post(&me, raw).unwrap();
        assert_eq!((post.kind, post.direction), (PostKind::Post, Direction::Outbound));
        assert_eq!(post.author.external_id, "did:plc:brand");
        assert_eq!(
            post.url.as_deref(),
            Some("https://bsky.app/profile/did:plc:brand/post/3l3qo2vuowo2b")
        );
        // The TID 3l3qo2vuowo2b was made at 2024-09-09T19:46:02.246036Z.
        assert_eq!(post.created_at, "2024-09-09T19:46:02.246Z");

        let raw = r#"{"uri":"at://did:plc:a/app.bsky.feed.post/3k","cid":"bafy","indexedAt":"2026-11-23T10:00:00Z",
            "author":{"did":"did:plc:a","handle":"a.test","followersCount":-3},"record":{"text":"acme rocks","createdAt":"2026-11-23T09:59:59.000Z"}}"#;
        let view: PostView = serde_json::from_str(raw).unwrap();
        let post = view.into_post("did:plc:brand", raw).unwrap();
        assert_eq!((post.kind, post.direction), (PostKind::Post, Direction::Inbound));
        assert_eq!(post.author.followers, None);
        assert_eq!(post.created_at, "2026-11-23T09:59:59.000Z");
    }

    #[test]
    fn reads_tids() {
        assert_eq!(tid_time("2222222222222").as_deref(), Some("1970-01-01T00:00:00.000Z"));
        assert_eq!(tid_time("3l3qo2vuowo2"), None);
        assert_eq!(tid_time("3l3qo2vuowo2!"), None);
        assert_eq!(tid_time("zzzzzzzzzzzzz"), None, "the top bit must be 0");
    }

    #[test]
    fn a_handle_on_an_own_domain_is_a_verified_field() {
        assert_eq!(super::own_domain("mayarides.example"), Some("mayarides.example"));
        assert_eq!(
            super::own_domain("shop.acme-bikes.example"),
            Some("shop.acme-bikes.example")
        );
        for hosted in [
            "alice.bsky.social",
            "handle.invalid",
            "nodots",
            "a b.example",
            "x.bsky.team",
        ] {
            assert_eq!(super::own_domain(hosted), None, "{hosted}");
        }
    }
}
