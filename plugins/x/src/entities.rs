//! X API v2 answers (<https://docs.x.com/x-api/fundamentals/data-dictionary>)
//! and how a post becomes the contract's `post`.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::value::RawValue;
use socialcrm_sdk::{Author, Direction, PluginError, Post, PostKind, ProfileField};

use crate::paging::Seen;

/// A timeline page: `GET /2/users/:id/mentions` or `GET /2/tweets/search/recent`.
#[derive(Debug, Deserialize)]
pub struct Timeline {
    /// Kept as received for each post's `raw`.
    #[serde(default)]
    data: Vec<Box<RawValue>>,
    #[serde(default)]
    includes: Includes,
    #[serde(default)]
    meta: Meta,
    /// Partial errors: what X could not include (a suspended author, a deleted parent).
    #[serde(default)]
    errors: Vec<Problem>,
}

#[derive(Debug, Default, Deserialize)]
struct Includes {
    #[serde(default)]
    users: Vec<User>,
}

#[derive(Debug, Default, Deserialize)]
struct Meta {
    newest_id: Option<String>,
    next_token: Option<String>,
}

/// One entry of `errors`, in a 200 or an error answer.
#[derive(Debug, Default, Deserialize)]
pub struct Problem {
    pub title: Option<String>,
    pub detail: Option<String>,
    pub message: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub resource_type: Option<String>,
}

impl Problem {
    pub fn describe(&self) -> String {
        let parts: Vec<&str> = [&self.title, &self.detail, &self.message]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .filter(|s| !s.is_empty())
            .collect();
        parts.join(": ")
    }
}

#[derive(Debug, Deserialize)]
struct Tweet {
    id: String,
    text: String,
    author_id: Option<String>,
    created_at: Option<String>,
    conversation_id: Option<String>,
    #[serde(default)]
    referenced_tweets: Vec<Reference>,
    lang: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Reference {
    #[serde(rename = "type")]
    kind: String,
    id: String,
}

#[derive(Debug, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    name: Option<String>,
    description: Option<String>,
    profile_image_url: Option<String>,
    url: Option<String>,
    location: Option<String>,
    verified: Option<bool>,
    public_metrics: Option<Metrics>,
}

#[derive(Debug, Deserialize)]
struct Metrics {
    followers_count: Option<u64>,
}

/// Which timeline a page came from: it names the kind of a plain post.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Mentions,
    Search,
}

impl Timeline {
    pub fn parse(body: &[u8]) -> Result<Timeline, PluginError> {
        let timeline: Timeline =
            serde_json::from_slice(body).map_err(|e| PluginError::Permanent(format!("malformed timeline: {e}")))?;
        if timeline.data.is_empty() && timeline.meta.newest_id.is_none() && !timeline.errors.is_empty() {
            // Only errors: the request itself failed, e.g. an unknown user id.
            let first = &timeline.errors[0];
            let message = format!("X answered only errors: {}", first.describe());
            let not_found = first.kind.as_deref().is_some_and(|t| t.ends_with("resource-not-found"));
            return Err(if not_found && first.resource_type.as_deref() == Some("user") {
                PluginError::InvalidConfig(format!("{message} (check `user-id`)"))
            } else {
                PluginError::Permanent(message)
            });
        }
        Ok(timeline)
    }

    /// What X left out of the page, for the log.
    pub fn partial_errors(&self) -> Option<String> {
        let first = self.errors.first()?;
        Some(format!(
            "{} partial errors, e.g. {}",
            self.errors.len(),
            first.describe()
        ))
    }

    pub fn seen(&self) -> Seen {
        Seen {
            newest_id: self.meta.newest_id.clone(),
            next_token: self.meta.next_token.clone().filter(|t| !t.is_empty()),
        }
    }

    /// The page's posts, oldest first (X lists newest first).
    pub fn posts(&self, brand_id: &str, source: Source) -> Result<Vec<Post>, PluginError> {
        let users: HashMap<&str, &User> = self.includes.users.iter().map(|u| (u.id.as_str(), u)).collect();
        self.data
            .iter()
            .rev()
            .map(|raw| {
                let tweet: Tweet = serde_json::from_str(raw.get())
                    .map_err(|e| PluginError::Permanent(format!("malformed post: {e}")))?;
                tweet.into_post(raw.get(), &users, brand_id, source)
            })
            .collect()
    }
}

impl Tweet {
    fn into_post(
        self,
        raw: &str,
        users: &HashMap<&str, &User>,
        brand_id: &str,
        source: Source,
    ) -> Result<Post, PluginError> {
        let missing = |field: &str| PluginError::Permanent(format!("post {} has no `{field}`", self.id));
        let author_id = self.author_id.as_deref().ok_or_else(|| missing("author_id"))?;
        let created_at = self.created_at.clone().ok_or_else(|| missing("created_at"))?;
        let author = match users.get(author_id) {
            Some(user) => user.author(),
            // A partial error left the author out: the id still identifies them.
            None => Author {
                external_id: author_id.to_string(),
                handle: author_id.to_string(),
                display_name: None,
                profile_url: None,
                avatar_url: None,
                bio: None,
                followers: None,
                fields: Vec::new(),
            },
        };
        let reference = |kind: &str| {
            self.referenced_tweets
                .iter()
                .find(|r| r.kind == kind)
                .map(|r| r.id.clone())
        };
        let in_reply_to = reference("replied_to");
        let direction = if author_id == brand_id {
            Direction::Outbound
        } else {
            Direction::Inbound
        };
        let kind = if reference("quoted").is_some() {
            PostKind::Quote
        } else if source == Source::Mentions {
            PostKind::Mention
        } else if in_reply_to.is_some() {
            PostKind::Reply
        } else {
            PostKind::Post
        };
        Ok(Post {
            url: Some(status_url(&self.id)),
            external_id: self.id,
            kind,
            direction,
            author,
            text: unescape(&self.text),
            thread_id: self.conversation_id,
            in_reply_to,
            created_at,
            language: self.lang.filter(|l| !l.is_empty() && l != "und"),
            raw: raw.to_string(),
        })
    }
}

impl User {
    pub fn author(&self) -> Author {
        let mut fields = Vec::new();
        let mut field = |name: &str, value: Option<&String>| {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                fields.push(ProfileField {
                    name: name.into(),
                    value: value.clone(),
                });
            }
        };
        field("website", self.url.as_ref());
        field("location", self.location.as_ref());
        field(
            "verified",
            self.verified.filter(|v| *v).map(|_| "true".to_string()).as_ref(),
        );
        Author {
            external_id: self.id.clone(),
            handle: self.username.clone(),
            display_name: self.name.clone().filter(|n| !n.is_empty()),
            profile_url: Some(format!("https://x.com/{}", self.username)),
            avatar_url: self.profile_image_url.clone(),
            bio: self.description.clone().filter(|d| !d.is_empty()),
            followers: self.public_metrics.as_ref().and_then(|m| m.followers_count),
            fields,
        }
    }
}

/// The public link of a post; it works without the author's handle.
pub fn status_url(id: &str) -> String {
    format!("https://x.com/i/web/status/{id}")
}

/// X escapes `&`, `<` and `>` in post text; the contract wants plain text.
pub fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"{
      "data": [
        {"id": "1460323737035677698", "text": "@acme thanks &amp; cheers &lt;3", "author_id": "2244994945",
         "created_at": "2021-11-15T19:08:05.000Z", "conversation_id": "1460323737035677698",
         "in_reply_to_user_id": "783214", "lang": "en",
         "referenced_tweets": [{"type": "replied_to", "id": "1460323000000000000"}],
         "edit_history_tweet_ids": ["1460323737035677698"]},
        {"id": "1460323737035677000", "text": "@acme hi", "author_id": "9", "created_at": "2021-11-15T19:00:00.000Z",
         "lang": "und", "referenced_tweets": [{"type": "quoted", "id": "1"}]}
      ],
      "includes": {"users": [{"id": "2244994945", "name": "Dev", "username": "XDevelopers",
         "description": "The voice of the X Dev team", "profile_image_url": "https://pbs.twimg.com/a.jpg",
         "url": "https://t.co/x", "location": "127.0.0.1", "verified": true,
         "public_metrics": {"followers_count": 527960, "following_count": 2040}}]},
      "meta": {"newest_id": "1460323737035677698", "oldest_id": "1460323737035677000", "result_count": 2,
               "next_token": "7140dibdnow9c7btw3w29grvxfcgvpb9n9coehpk7xz5i"},
      "errors": [{"value": "9", "detail": "Could not find user with id: [9].", "title": "Not Found Error",
                  "resource_type": "user", "parameter": "author_id", "resource_id": "9",
                  "type": "https://api.x.com/2/problems/resource-not-found"}]
    }"#;

    #[test]
    fn maps_a_page_oldest_first_with_authors_from_includes() {
        let timeline = Timeline::parse(PAGE.as_bytes()).unwrap();
        assert!(
            timeline
                .partial_errors()
                .unwrap()
                .contains("Could not find user with id: [9].")
        );
        assert_eq!(
            timeline.seen(),
            Seen {
                newest_id: Some("1460323737035677698".into()),
                next_token: Some("7140dibdnow9c7btw3w29grvxfcgvpb9n9coehpk7xz5i".into()),
            }
        );
        let posts = timeline.posts("783214", Source::Mentions).unwrap();
        assert_eq!(posts.len(), 2);
        let (quote, reply) = (&posts[0], &posts[1]);
        assert_eq!(quote.kind, PostKind::Quote);
        assert_eq!(quote.author.external_id, "9", "an author left out still has an id");
        assert_eq!(quote.language, None);
        assert_eq!(reply.kind, PostKind::Mention);
        assert_eq!(reply.text, "@acme thanks & cheers <3");
        assert_eq!(reply.in_reply_to.as_deref(), Some("1460323000000000000"));
        assert_eq!(reply.thread_id.as_deref(), Some("1460323737035677698"));
        assert_eq!(
            reply.url.as_deref(),
            Some("https://x.com/i/web/status/1460323737035677698")
        );
        assert_eq!(reply.created_at, "2021-11-15T19:08:05.000Z");
        assert_eq!(reply.author.external_id, "2244994945");
        assert_eq!(reply.author.handle, "XDevelopers");
        assert_eq!(reply.author.followers, Some(527960));
        assert_eq!(reply.author.fields.len(), 3);
        assert!(reply.raw.starts_with(r#"{"id": "1460323737035677698""#));
        let search = timeline.posts("2244994945", Source::Search).unwrap();
        assert_eq!(search[1].kind, PostKind::Reply);
        assert_eq!(search[1].direction, Direction::Outbound);
    }

    #[test]
    fn an_empty_page_and_broken_ones() {
        let empty = Timeline::parse(br#"{"meta":{"result_count":0}}"#).unwrap();
        assert!(empty.posts("1", Source::Mentions).unwrap().is_empty());
        assert_eq!(empty.seen(), Seen::default());
        assert!(matches!(Timeline::parse(b"{\"data\": [{"), Err(PluginError::Permanent(m)) if m.contains("malformed")));
        let only_errors = br#"{"errors":[{"detail":"Could not find user with id: [5].","title":"Not Found Error",
            "resource_type":"user","type":"https://api.x.com/2/problems/resource-not-found"}]}"#;
        assert!(
            matches!(Timeline::parse(only_errors), Err(PluginError::InvalidConfig(m)) if m.contains("user-id") && m.contains("[5]"))
        );
        let no_time = br#"{"data":[{"id":"1","text":"x","author_id":"2"}],"meta":{"newest_id":"1"}}"#;
        let err = Timeline::parse(no_time)
            .unwrap()
            .posts("3", Source::Mentions)
            .unwrap_err();
        assert!(matches!(err, PluginError::Permanent(m) if m.contains("created_at")));
    }
}
