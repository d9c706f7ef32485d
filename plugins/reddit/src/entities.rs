//! The parts of Reddit's listings and things the plugin reads
//! (<https://www.reddit.com/dev/api>: `Listing`, `t1` comment, `t3` link,
//! `t4` message), and a comment or link as a `Post`.
//!
//! Only `name` and `created_utc` are required of every child: the cursor
//! moves on them. Everything else may be missing or `null` (deleted authors,
//! comments recorded without `link_id` or `permalink`).

use serde::Deserialize;
use serde_json::value::RawValue;
use socialcrm_sdk::{Author, Direction, PluginError, Post, PostKind, ProfileField};

use crate::markdown;

/// Public links are on the website, not on the API host.
pub const WEB: &str = "https://www.reddit.com";
/// The author Reddit shows for an account that was deleted; it has no user id.
const DELETED: &str = "[deleted]";

/// `{"kind":"Listing","data":{"after":…,"before":…,"children":[…]}}`.
#[derive(Debug, Deserialize)]
pub struct Listing {
    pub kind: String,
    pub data: ListingData,
}

#[derive(Debug, Deserialize)]
pub struct ListingData {
    /// Set when more (newer) things are above this page.
    pub before: Option<String>,
    /// Kept as received for each post's `raw`.
    pub children: Vec<Box<RawValue>>,
}

#[derive(Debug, Deserialize)]
pub struct Thing {
    pub kind: String,
    pub data: ThingData,
}

#[derive(Debug, Deserialize)]
pub struct ThingData {
    /// The fullname, `t1_abc`: the id every endpoint takes.
    #[serde(default)]
    pub name: String,
    pub created_utc: Option<f64>,
    author: Option<String>,
    /// `t2_…`, the author's stable id; absent when the account is deleted.
    author_fullname: Option<String>,
    author_flair_text: Option<String>,
    /// A comment's Markdown.
    body: Option<String>,
    /// A link's title and Markdown.
    title: Option<String>,
    selftext: Option<String>,
    /// The submission a comment is under.
    link_id: Option<String>,
    /// What a comment answers: a `t1_` comment or the `t3_` submission.
    parent_id: Option<String>,
    permalink: Option<String>,
    /// What inbox items carry instead of a permalink: `/r/…/comments/…/id/?context=3`.
    context: Option<String>,
    /// Inbox items: `username_mention`, `comment_reply` or `post_reply`.
    #[serde(rename = "type")]
    inbox_type: Option<String>,
}

/// One child of a page: its place for the cursor and what it maps to.
pub struct Item {
    pub name: String,
    pub created: f64,
    /// `None` for things that are not posts (private messages).
    pub post: Option<Post>,
}

impl Listing {
    /// The page's items in the listing's order (newest first).
    pub fn parse(body: &[u8], brand: &str) -> Result<(Vec<Item>, bool), PluginError> {
        let listing: Listing =
            serde_json::from_slice(body).map_err(|e| PluginError::Permanent(format!("malformed listing: {e}")))?;
        if listing.kind != "Listing" {
            return Err(PluginError::Permanent(format!(
                "malformed listing: kind `{}`, expected `Listing`",
                listing.kind
            )));
        }
        let items = listing
            .data
            .children
            .iter()
            .map(|raw| Item::parse(raw.get(), brand))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((items, listing.data.before.is_some()))
    }
}

impl Item {
    fn parse(raw: &str, brand: &str) -> Result<Item, PluginError> {
        let thing: Thing =
            serde_json::from_str(raw).map_err(|e| PluginError::Permanent(format!("malformed listing child: {e}")))?;
        if thing.data.name.is_empty() {
            return Err(PluginError::Permanent(format!(
                "malformed listing child: a `{}` without a name",
                thing.kind
            )));
        }
        let created = thing
            .data
            .created_utc
            .filter(|t| rfc3339(*t).is_some())
            .ok_or_else(|| {
                PluginError::Permanent(format!(
                    "malformed listing child {}: no valid created_utc",
                    thing.data.name
                ))
            })?;
        Ok(Item {
            name: thing.data.name.clone(),
            created,
            post: thing.into_post(raw, brand)?,
        })
    }
}

impl Thing {
    /// The post of a comment (`t1`) or link (`t3`); `None` for other kinds.
    pub fn into_post(self, raw: &str, brand: &str) -> Result<Option<Post>, PluginError> {
        let d = self.data;
        let (kind, text, url, thread_id, in_reply_to) = match self.kind.as_str() {
            "t1" => {
                let kind = match d.inbox_type.as_deref() {
                    Some("username_mention") => PostKind::Mention,
                    Some("post_reply") => PostKind::Comment,
                    Some("comment_reply") => PostKind::Reply,
                    _ if d.parent_id.as_deref().is_some_and(|p| p.starts_with("t3_")) => PostKind::Comment,
                    _ => PostKind::Reply,
                };
                let link = non_empty(d.permalink).or_else(|| {
                    // The context link, without the `?context=3` that widens the view.
                    non_empty(d.context).map(|c| c.split('?').next().unwrap_or_default().to_string())
                });
                (
                    kind,
                    markdown::to_text(d.body.as_deref().unwrap_or_default()),
                    link,
                    non_empty(d.link_id),
                    non_empty(d.parent_id),
                )
            }
            "t3" => {
                let title = d.title.unwrap_or_default();
                let text = match non_empty(d.selftext) {
                    Some(selftext) => format!("{}\n\n{}", title.trim(), markdown::to_text(&selftext)),
                    None => title.trim().to_string(),
                };
                (PostKind::Post, text, non_empty(d.permalink), Some(d.name.clone()), None)
            }
            _ => return Ok(None),
        };
        let created_at = d
            .created_utc
            .and_then(rfc3339)
            .ok_or_else(|| PluginError::Permanent(format!("malformed {}: no valid created_utc", d.name)))?;
        let author = author(&d.name, d.author, d.author_fullname, d.author_flair_text)?;
        Ok(Some(Post {
            external_id: d.name,
            kind,
            direction: if author.handle.eq_ignore_ascii_case(brand) {
                Direction::Outbound
            } else {
                Direction::Inbound
            },
            author,
            text,
            url: url.map(|path| absolute(&path)),
            thread_id,
            in_reply_to,
            created_at,
            language: None,
            raw: raw.to_string(),
        }))
    }
}

/// The author keyed on `author_fullname`. Every deleted account is the one
/// `[deleted]` author, as Reddit shows it: its text stays, no one can be linked.
fn author(
    thing: &str,
    handle: Option<String>,
    fullname: Option<String>,
    flair: Option<String>,
) -> Result<Author, PluginError> {
    let handle = non_empty(handle).unwrap_or_else(|| DELETED.to_string());
    let (external_id, profile_url) = match non_empty(fullname) {
        Some(id) if handle != DELETED => (id, Some(format!("{WEB}/user/{handle}"))),
        Some(_) | None if handle == DELETED => (DELETED.to_string(), None),
        _ => {
            return Err(PluginError::Permanent(format!(
                "malformed {thing}: author `{handle}` has no author_fullname"
            )));
        }
    };
    let fields = non_empty(flair)
        .map(|value| ProfileField {
            name: "flair".into(),
            value,
        })
        .into_iter()
        .collect();
    Ok(Author {
        external_id,
        handle,
        display_name: None,
        profile_url,
        avatar_url: None,
        bio: None,
        followers: None,
        fields,
    })
}

/// `https://www.reddit.com/r/…` for a site path; a full URL stays.
fn absolute(path: &str) -> String {
    if path.starts_with("http://") || path.starts_with("https://") {
        path.to_string()
    } else {
        format!("{WEB}/{}", path.trim_start_matches('/'))
    }
}

/// `None` for a missing, null or blank value.
pub fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// Reddit's `created_utc` (Unix seconds, a float: `1616648939.0`) as RFC 3339;
/// fractions are dropped. `None` for a value that is not a time after 1970.
fn rfc3339(created_utc: f64) -> Option<String> {
    if !created_utc.is_finite() || created_utc < 0.0 {
        return None;
    }
    socialcrm_sdk::time::from_unix_seconds(created_utc.min(i64::MAX as f64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(children: &[serde_json::Value]) -> Vec<u8> {
        serde_json::json!({"kind": "Listing", "data": {"after": null, "before": null, "children": children}})
            .to_string()
            .into_bytes()
    }

    fn one(child: serde_json::Value) -> Result<Item, PluginError> {
        Listing::parse(&listing(&[child]), "acme_support").map(|(mut items, _)| items.remove(0))
    }

    /// A recorded comment as the inbox serves it: `author_fullname`, `type` and
    /// `context` added, as Reddit adds them there.
    fn inbox_item(comment: &serde_json::Value, kind: &str) -> serde_json::Value {
        let mut data = comment.clone();
        if comment["author"] != DELETED {
            data["author_fullname"] = format!("t2_{}", comment["author"].as_str().unwrap().len()).into();
        }
        data["type"] = kind.into();
        data["was_comment"] = true.into();
        data["context"] = format!(
            "/r/{}/comments/x/_/{}/?context=3",
            comment["subreddit"].as_str().unwrap(),
            comment["id"].as_str().unwrap()
        )
        .into();
        serde_json::json!({"kind": "t1", "data": data})
    }

    #[test]
    fn maps_recorded_comments() {
        let data = include_str!("../../../tests/data/reddit_comments.jsonl");
        let mut mapped = 0;
        for line in data.lines().filter(|l| !l.trim().is_empty()) {
            let comment: serde_json::Value = serde_json::from_str(line).expect("JSON");
            let child = inbox_item(&comment, "username_mention");
            let item = one(child.clone()).expect("maps");
            let post = item.post.expect("a comment is a post");
            mapped += 1;
            assert_eq!(item.name, comment["name"].as_str().unwrap());
            assert_eq!(post.external_id, item.name, "the fullname, usable as thing_id");
            assert_eq!(post.kind, PostKind::Mention);
            assert_eq!(post.raw, child.to_string());
            assert_eq!(post.thread_id.as_deref(), comment["link_id"].as_str());
            assert_eq!(post.in_reply_to.as_deref(), comment["parent_id"].as_str());
            let url = post.url.expect("a link");
            match comment["permalink"].as_str() {
                Some(permalink) => assert_eq!(url, format!("{WEB}{permalink}")),
                None => assert!(url.starts_with(&format!("{WEB}/r/")) && !url.contains('?'), "{url}"),
            }
            if comment["author"] == DELETED {
                assert_eq!(
                    (post.author.external_id.as_str(), post.author.profile_url),
                    (DELETED, None)
                );
            } else {
                assert!(post.author.external_id.starts_with("t2_"));
                assert_eq!(post.author.handle, comment["author"].as_str().unwrap());
            }
            assert!(
                !post.text.contains("](http") && !post.text.contains("**"),
                "{}",
                post.text
            );
        }
        assert_eq!(mapped, 300);
    }

    #[test]
    fn maps_every_field_of_a_comment_reply() {
        let child = serde_json::json!({"kind": "t1", "data": {
            "name": "t1_k2x", "id": "k2x", "author": "Ann_B", "author_fullname": "t2_9zz",
            "author_flair_text": "Verified customer", "body": "Order **#12** &amp; [refund](https://acme.example/r)?",
            "created_utc": 1616648939.0, "link_id": "t3_mcq", "parent_id": "t1_par", "subreddit": "acme",
            "type": "comment_reply", "permalink": "/r/acme/comments/mcq/t/k2x/", "context": "/r/acme/comments/mcq/t/k2x/?context=3"}});
        let post = one(child).unwrap().post.unwrap();
        assert_eq!(post.kind, PostKind::Reply);
        assert_eq!(post.direction, Direction::Inbound);
        assert_eq!(post.text, "Order #12 & refund (https://acme.example/r)?");
        assert_eq!(
            post.url.as_deref(),
            Some("https://www.reddit.com/r/acme/comments/mcq/t/k2x/")
        );
        assert_eq!(post.created_at, "2021-03-25T05:08:59Z");
        let a = &post.author;
        assert_eq!((a.external_id.as_str(), a.handle.as_str()), ("t2_9zz", "Ann_B"));
        assert_eq!(a.profile_url.as_deref(), Some("https://www.reddit.com/user/Ann_B"));
        assert_eq!(a.fields.len(), 1);
        assert_eq!(
            (a.fields[0].name.as_str(), a.fields[0].value.as_str()),
            ("flair", "Verified customer")
        );
    }

    #[test]
    fn maps_links_kinds_and_the_brand() {
        let link = serde_json::json!({"kind": "t3", "data": {"name": "t3_abc", "title": " Acme down? ", "selftext": "Is **Acme** down for anyone?",
            "author": "ACME_support", "author_fullname": "t2_b", "created_utc": 1.0e9, "permalink": "/r/sysadmin/comments/abc/acme_down/"}});
        let post = one(link).unwrap().post.unwrap();
        assert_eq!((post.kind, post.direction), (PostKind::Post, Direction::Outbound));
        assert_eq!(post.text, "Acme down?\n\nIs Acme down for anyone?");
        assert_eq!((post.thread_id.as_deref(), post.in_reply_to), (Some("t3_abc"), None));

        let kind = |data: serde_json::Value| {
            one(serde_json::json!({"kind": "t1", "data": data}))
                .unwrap()
                .post
                .unwrap()
                .kind
        };
        let base = serde_json::json!({"name": "t1_a", "author": "x_y", "author_fullname": "t2_x", "created_utc": 1.0});
        let with = |k: &str, v: &str| {
            let mut d = base.clone();
            d[k] = v.into();
            d
        };
        assert_eq!(kind(with("type", "post_reply")), PostKind::Comment);
        assert_eq!(kind(with("parent_id", "t3_q")), PostKind::Comment);
        assert_eq!(kind(with("parent_id", "t1_q")), PostKind::Reply);

        let message = serde_json::json!({"kind": "t4", "data": {"name": "t4_m", "created_utc": 2.0, "body": "hi"}});
        let item = one(message).unwrap();
        assert!(item.post.is_none() && item.name == "t4_m" && item.created == 2.0);
    }

    #[test]
    fn malformed_things_are_named() {
        let err = |json: &str| match Listing::parse(json.as_bytes(), "b") {
            Err(PluginError::Permanent(m)) => m,
            other => panic!("expected permanent, got {:?}", other.map(|(i, m)| (i.len(), m))),
        };
        assert!(err(r#"{"kind":"Listing","data":{"children":[{"kind":"t1","da"#).contains("malformed listing"));
        assert!(err(r#"{"kind":"t1","data":{"children":[]}}"#).contains("kind `t1`"));
        assert!(err(r#"[]"#).contains("malformed listing"));
        let no_time = r#"{"kind":"Listing","data":{"children":[{"kind":"t1","data":{"name":"t1_a","author":"a","author_fullname":"t2_a"}}]}}"#;
        assert!(err(no_time).contains("t1_a") && err(no_time).contains("created_utc"));
        let anonymous = r#"{"kind":"Listing","data":{"children":[{"kind":"t1","data":{"name":"t1_a","author":"ann","created_utc":1.0}}]}}"#;
        assert!(err(anonymous).contains("no author_fullname"));
        let nameless = r#"{"kind":"Listing","data":{"children":[{"kind":"t1","data":{"created_utc":1.0}}]}}"#;
        assert!(err(nameless).contains("without a name"));
        let (items, more) =
            Listing::parse(br#"{"kind":"Listing","data":{"before":"t1_z","children":[]}}"#, "b").unwrap();
        assert!(items.is_empty() && more);
    }
}
