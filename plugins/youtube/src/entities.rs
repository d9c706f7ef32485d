//! Data API v3 answers (<https://developers.google.com/youtube/v3/docs>):
//! `commentThread`, `comment`, `searchResult`, the error body, and how a
//! comment becomes the contract's `post`.

use serde::Deserialize;
use serde_json::value::RawValue;
use socialcrm_sdk::{Author, Direction, PluginError, Post, PostKind, time};

use crate::paging::{Cursor, Key, Seen};

/// `commentThreads.list`'s answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadList {
    #[serde(default)]
    items: Vec<Thread>,
    next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Thread {
    id: String,
    snippet: ThreadSnippet,
    #[serde(default)]
    replies: Option<Replies>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThreadSnippet {
    video_id: Option<String>,
    /// Kept as received for the post's `raw`.
    top_level_comment: Box<RawValue>,
}

#[derive(Debug, Deserialize)]
struct Replies {
    /// A subset of the replies (`totalReplyCount` says how many there are).
    #[serde(default)]
    comments: Vec<Box<RawValue>>,
}

/// A `comment` resource.
#[derive(Debug, Deserialize)]
pub struct Comment {
    pub id: String,
    pub snippet: CommentSnippet,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommentSnippet {
    author_display_name: Option<String>,
    author_profile_image_url: Option<String>,
    author_channel_url: Option<String>,
    author_channel_id: Option<AuthorChannelId>,
    pub video_id: Option<String>,
    text_display: Option<String>,
    text_original: Option<String>,
    parent_id: Option<String>,
    published_at: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AuthorChannelId {
    value: String,
}

/// A thread parsed for the cursor: its key and its comments.
struct Parsed {
    id: String,
    at: i64,
    video_id: Option<String>,
    top: (Comment, String),
    replies: Vec<(Comment, String)>,
}

/// A page of threads, ready for the cursor.
pub struct Page {
    threads: Vec<Parsed>,
    next_page_token: Option<String>,
}

impl Page {
    pub fn parse(body: &[u8]) -> Result<Page, PluginError> {
        let list: ThreadList = serde_json::from_slice(body)
            .map_err(|e| PluginError::Permanent(format!("malformed comment threads: {e}")))?;
        let mut threads = Vec::with_capacity(list.items.len());
        for thread in list.items {
            let top = comment(&thread.snippet.top_level_comment)?;
            let at = published(&top.0)?;
            let mut replies = Vec::new();
            for raw in thread.replies.iter().flat_map(|r| r.comments.iter()) {
                let reply = comment(raw)?;
                published(&reply.0)?;
                replies.push(reply);
            }
            threads.push(Parsed {
                id: thread.id,
                at,
                video_id: thread.snippet.video_id,
                top,
                replies,
            });
        }
        Ok(Page {
            threads,
            next_page_token: list.next_page_token.filter(|t| !t.is_empty()),
        })
    }

    pub fn seen(&self) -> Seen<'_> {
        Seen {
            keys: self.threads.iter().map(|t| Key { at: t.at, id: &t.id }).collect(),
            next_token: self.next_page_token.clone(),
        }
    }

    /// The new posts of the page under `cursor`, oldest first, and the time of
    /// the newest reply among them.
    pub fn posts(&self, cursor: &Cursor, brand: &str) -> (Vec<Post>, Option<i64>) {
        let mut posts = Vec::new();
        let mut newest_reply: Option<i64> = None;
        for thread in self.threads.iter().rev() {
            let new = cursor.takes(Key {
                at: thread.at,
                id: &thread.id,
            });
            if new {
                posts.push(post(thread, &thread.top, brand));
            }
            let mut replies: Vec<(i64, &(Comment, String))> = thread
                .replies
                .iter()
                .filter_map(|r| Some((published(&r.0).ok()?, r)))
                .filter(|(at, _)| new || cursor.takes_reply(*at))
                .collect();
            replies.sort_by_key(|(at, _)| *at);
            for (at, reply) in replies {
                newest_reply = Some(newest_reply.map_or(at, |n| n.max(at)));
                posts.push(post(thread, reply, brand));
            }
        }
        (posts, newest_reply)
    }
}

fn comment(raw: &RawValue) -> Result<(Comment, String), PluginError> {
    let comment: Comment =
        serde_json::from_str(raw.get()).map_err(|e| PluginError::Permanent(format!("malformed comment: {e}")))?;
    Ok((comment, raw.get().to_string()))
}

fn published(comment: &Comment) -> Result<i64, PluginError> {
    comment
        .snippet
        .published_at
        .as_deref()
        .and_then(time::parse_rfc3339)
        .ok_or_else(|| PluginError::Permanent(format!("comment {} has no `publishedAt` in RFC 3339", comment.id)))
}

fn post(thread: &Parsed, (comment, raw): &(Comment, String), brand: &str) -> Post {
    let s = &comment.snippet;
    let author = s.author();
    let direction = if author.external_id == brand {
        Direction::Outbound
    } else {
        Direction::Inbound
    };
    let reply = s.parent_id.is_some() || comment.id != thread.top.0.id;
    let video = s.video_id.as_deref().or(thread.video_id.as_deref());
    Post {
        url: video.map(|v| comment_url(v, &comment.id)),
        external_id: comment.id.clone(),
        kind: if reply { PostKind::Reply } else { PostKind::Comment },
        direction,
        author,
        text: unescape(
            s.text_display
                .as_deref()
                .or(s.text_original.as_deref())
                .unwrap_or_default(),
        ),
        thread_id: Some(thread.id.clone()),
        // Replies are one level deep on YouTube: every reply answers the top-level comment.
        in_reply_to: reply.then(|| s.parent_id.clone().unwrap_or_else(|| thread.id.clone())),
        created_at: s.published_at.as_deref().and_then(time::normalize).unwrap_or_default(),
        language: None,
        raw: raw.clone(),
    }
}

impl CommentSnippet {
    fn author(&self) -> Author {
        let name = self
            .author_display_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        let channel = self
            .author_channel_id
            .as_ref()
            .map(|c| c.value.clone())
            .filter(|v| !v.is_empty());
        // Display names are `@handle` since YouTube's handles; a channel without one keeps its name.
        let handle = name
            .map(|n| n.trim_start_matches('@').to_string())
            .filter(|h| !h.is_empty())
            .or_else(|| channel.clone())
            .unwrap_or_else(|| "unknown".into());
        Author {
            external_id: channel.unwrap_or_else(|| handle.clone()),
            handle,
            display_name: name.map(str::to_string),
            profile_url: self.author_channel_url.clone().filter(|u| !u.is_empty()),
            avatar_url: self.author_profile_image_url.clone().filter(|u| !u.is_empty()),
            bio: None,
            followers: None,
            fields: Vec::new(),
        }
    }
}

/// The comment highlighted under its video.
pub fn comment_url(video_id: &str, comment_id: &str) -> String {
    format!("https://www.youtube.com/watch?v={video_id}&lc={comment_id}")
}

/// `textFormat=plainText` still escapes HTML's five characters in some answers.
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// `search.list`'s answer: the videos found.
#[derive(Debug, Deserialize)]
pub struct SearchList {
    #[serde(default)]
    pub items: Vec<SearchResult>,
}

#[derive(Debug, Deserialize)]
pub struct SearchResult {
    pub id: SearchId,
    pub snippet: Option<SearchSnippet>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchId {
    pub video_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchSnippet {
    pub published_at: Option<String>,
    pub channel_id: Option<String>,
}

/// `channels.list?mine=true`'s answer.
#[derive(Debug, Deserialize)]
pub struct ChannelList {
    #[serde(default)]
    pub items: Vec<ChannelItem>,
}

#[derive(Debug, Deserialize)]
pub struct ChannelItem {
    pub id: String,
}

/// The error body of every Google API: `{"error":{"code","message","errors":[{"reason",..}]}}`.
#[derive(Debug, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub error: ApiError,
}

#[derive(Debug, Default, Deserialize)]
pub struct ApiError {
    pub message: Option<String>,
    #[serde(default)]
    pub errors: Vec<ErrorItem>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ErrorItem {
    pub reason: Option<String>,
}

impl ErrorBody {
    /// The first `reason`, e.g. `quotaExceeded`; empty when there is none.
    pub fn reason(&self) -> &str {
        self.error
            .errors
            .iter()
            .find_map(|e| e.reason.as_deref())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paging::Mark;

    const BRAND: &str = "UC_x5XG1OV2P6uZZ5FSM9Ttw";

    /// The shapes of the commentThread and comment resources as documented.
    const PAGE: &str = r#"{
      "kind": "youtube#commentThreadListResponse",
      "etag": "x",
      "nextPageToken": "QURTSl9pM",
      "pageInfo": {"totalResults": 2, "resultsPerPage": 2},
      "items": [
        {"kind": "youtube#commentThread", "etag": "e1", "id": "UgzDE2tasfmrYLyNkGt4AaABAg",
         "snippet": {"channelId": "UC_x5XG1OV2P6uZZ5FSM9Ttw", "videoId": "Ks-_Mh1QhMc", "canReply": true,
           "totalReplyCount": 1, "isPublic": true,
           "topLevelComment": {"kind": "youtube#comment", "etag": "e2", "id": "UgzDE2tasfmrYLyNkGt4AaABAg",
             "snippet": {"channelId": "UC_x5XG1OV2P6uZZ5FSM9Ttw", "videoId": "Ks-_Mh1QhMc",
               "textDisplay": "Where is the export button &amp; why did it move?", "textOriginal": "Where is the export button & why did it move?",
               "authorDisplayName": "@maria_santos", "authorProfileImageUrl": "https://yt3.ggpht.com/a.jpg",
               "authorChannelUrl": "http://www.youtube.com/@maria_santos", "authorChannelId": {"value": "UCmaria0000000000000000a"},
               "canRate": true, "viewerRating": "none", "likeCount": 3,
               "publishedAt": "2026-11-23T10:00:00Z", "updatedAt": "2026-11-23T10:00:00Z"}}},
         "replies": {"comments": [
           {"kind": "youtube#comment", "etag": "e3", "id": "UgzDE2tasfmrYLyNkGt4AaABAg.9xq1Ab2Cd3E",
            "snippet": {"channelId": "UC_x5XG1OV2P6uZZ5FSM9Ttw", "videoId": "Ks-_Mh1QhMc", "textDisplay": "It is under Share now.",
              "authorDisplayName": "@acme", "authorChannelId": {"value": "UC_x5XG1OV2P6uZZ5FSM9Ttw"},
              "parentId": "UgzDE2tasfmrYLyNkGt4AaABAg", "publishedAt": "2026-11-23T10:05:00Z", "updatedAt": "2026-11-23T10:05:00Z"}}]}},
        {"kind": "youtube#commentThread", "etag": "e4", "id": "Ugw1",
         "snippet": {"channelId": "UC_x5XG1OV2P6uZZ5FSM9Ttw", "videoId": "Ks-_Mh1QhMc", "totalReplyCount": 0,
           "topLevelComment": {"kind": "youtube#comment", "id": "Ugw1",
             "snippet": {"textDisplay": "First!", "authorDisplayName": "Old Channel", "authorChannelId": {"value": "UCold000000000000000000b"},
               "publishedAt": "2026-11-23T09:00:00Z"}}}}
      ]
    }"#;

    #[test]
    fn maps_threads_and_replies_oldest_first() {
        let page = Page::parse(PAGE.as_bytes()).unwrap();
        let seen = page.seen();
        assert_eq!(seen.next_token.as_deref(), Some("QURTSl9pM"));
        assert_eq!(seen.keys.len(), 2);
        let (posts, newest_reply) = page.posts(&Cursor::default(), BRAND);
        assert_eq!(posts.len(), 3);
        assert_eq!(newest_reply, time::parse_rfc3339("2026-11-23T10:05:00Z"));
        let (first, top, reply) = (&posts[0], &posts[1], &posts[2]);
        assert_eq!(first.external_id, "Ugw1");
        assert_eq!(first.author.handle, "Old Channel");
        assert_eq!(top.kind, PostKind::Comment);
        assert_eq!(top.text, "Where is the export button & why did it move?");
        assert_eq!(top.author.external_id, "UCmaria0000000000000000a");
        assert_eq!(top.author.handle, "maria_santos");
        assert_eq!(top.author.display_name.as_deref(), Some("@maria_santos"));
        assert_eq!(top.created_at, "2026-11-23T10:00:00.000Z");
        assert_eq!(
            top.url.as_deref(),
            Some("https://www.youtube.com/watch?v=Ks-_Mh1QhMc&lc=UgzDE2tasfmrYLyNkGt4AaABAg")
        );
        assert_eq!(top.in_reply_to, None);
        assert!(top.raw.starts_with(r#"{"kind": "youtube#comment", "etag": "e2""#));
        assert_eq!(reply.kind, PostKind::Reply);
        assert_eq!(reply.direction, Direction::Outbound);
        assert_eq!(reply.in_reply_to.as_deref(), Some("UgzDE2tasfmrYLyNkGt4AaABAg"));
        assert_eq!(reply.thread_id.as_deref(), Some("UgzDE2tasfmrYLyNkGt4AaABAg"));
    }

    #[test]
    fn a_cursor_takes_new_threads_and_new_replies_to_old_ones() {
        let page = Page::parse(PAGE.as_bytes()).unwrap();
        let at = |t: &str| time::parse_rfc3339(t).unwrap();
        let cursor = Cursor {
            since: Some(Mark {
                at: at("2026-11-23T10:00:00Z"),
                ids: vec!["UgzDE2tasfmrYLyNkGt4AaABAg".into()],
            }),
            walk: None,
            replies: Some(at("2026-11-23T10:01:00Z")),
        };
        let (posts, _) = page.posts(&cursor, BRAND);
        let ids: Vec<&str> = posts.iter().map(|p| p.external_id.as_str()).collect();
        assert_eq!(ids, ["UgzDE2tasfmrYLyNkGt4AaABAg.9xq1Ab2Cd3E"], "only the newer reply");
    }

    #[test]
    fn broken_pages_and_error_bodies() {
        assert!(matches!(Page::parse(b"{\"items\": [{"), Err(PluginError::Permanent(m)) if m.contains("malformed")));
        let no_time =
            br#"{"items":[{"id":"a","snippet":{"topLevelComment":{"id":"a","snippet":{"textDisplay":"x"}}}}]}"#;
        assert!(
            matches!(Page::parse(no_time), Err(PluginError::Permanent(m)) if m.contains("comment a has no `publishedAt`"))
        );
        let empty = Page::parse(br#"{"kind":"youtube#commentThreadListResponse","items":[]}"#).unwrap();
        assert!(empty.seen().keys.is_empty() && empty.seen().next_token.is_none());
        let quota: ErrorBody = serde_json::from_str(
            r#"{"error":{"code":403,"message":"The request cannot be completed because you have exceeded your quota.",
               "errors":[{"message":"The request cannot be completed because you have exceeded your quota.",
               "domain":"youtube.quota","reason":"quotaExceeded"}]}}"#,
        )
        .unwrap();
        assert_eq!(quota.reason(), "quotaExceeded");
        assert_eq!(ErrorBody::default().reason(), "");
    }
}
