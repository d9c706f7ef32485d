//! First-party Threads channel (the Threads API on graph.threads.net,
//! <https://developers.facebook.com/docs/threads>): replies under the brand's
//! threads, mentions of the brand and a keyword search come from polling;
//! replies go out as a text container and its publish. The host attaches the
//! long-lived token and renews it (`threads-long-lived` in plugin.toml); the
//! plugin never sees it.

mod cursor;
mod graph;
mod media;
mod settings;

use std::collections::HashSet;

use serde::Deserialize;
use socialcrm_sdk::channel::{
    Capabilities, Connector, Descriptor, Outbound, Page, Sent, WebhookRequest, WebhookResult,
};
use socialcrm_sdk::http::Request;
use socialcrm_sdk::{Config, PluginError, Post, ResultExt, log, time};

use cursor::{Cursor, Root, Search, State};
use graph::{Side, call};
use media::{FIELDS, List, REPLY_FIELDS, Source, THREAD_FIELDS};
use settings::Settings;

/// Posts per page: the most `limit` takes.
const PAGE_SIZE: &str = "100";
/// Threads of the brand whose replies are read: those of the two weeks
/// before its newest (counted from its own posts, not the clock, so a brand
/// that pauses keeps its last threads followed).
const ROOT_WINDOW_SECS: i64 = 14 * 86_400;
/// At most this many threads are followed (the newest): each is a request in its turn.
const MAX_ROOTS: usize = 30;
/// Requests one poll may make, of the host's 20 a call.
const MAX_REQUESTS: usize = 18;
/// Text posts are limited to 500 characters.
const MAX_TEXT_CHARS: usize = 500;

struct Threads;

impl Connector for Threads {
    fn describe() -> Descriptor {
        Descriptor {
            network: "threads".into(),
            capabilities: Capabilities::POLL | Capabilities::REPLY,
            // Declared once, in plugin.toml: the host takes them from there.
            config_fields: Vec::new(),
        }
    }

    fn check(config: Config) -> Result<(), PluginError> {
        let settings = Settings::parse(&config)?;
        let me = me(&settings)?;
        log::info(&format!("the token acts as @{} ({})", me.username, me.id));
        Ok(())
    }

    fn poll(config: Config, state: String) -> Result<Page, PluginError> {
        let settings = Settings::parse(&config)?;
        let previous = State::parse(&state)?;
        let mut poll = Poll {
            requests: 0,
            posts: Vec::new(),
        };
        let mut next = State {
            me: previous.me.clone(),
            ..State::default()
        };

        // The brand's threads first: its username comes with them (its posts
        // elsewhere are outbound), and those new since the last poll become
        // roots whose replies are all news; on the first poll, the newest page
        // is history.
        let threads = Request::get(format!("{}/{}/threads", settings.api, settings.user_id));
        next.threads = poll.read(
            threads,
            THREAD_FIELDS,
            &previous.threads,
            Source::Threads,
            None,
            "listing the brand's threads",
        )?;
        if let Some(own) = poll.posts.first() {
            next.me = Some(own.author.handle.clone());
        }
        let history = previous.threads.is_fresh();
        next.roots = previous.roots.clone();
        for post in &poll.posts {
            let at = time::parse_rfc3339(&post.created_at)
                .unwrap_or_default()
                .div_euclid(1000);
            let replies = if history {
                Cursor::default()
            } else {
                Cursor::from_start()
            };
            next.roots
                .entry(post.external_id.clone())
                .or_insert(Root { at, replies });
        }
        keep_recent(&mut next.roots);
        let me = next.me.clone();
        let me = me.as_deref();

        let mentions = Request::get(format!("{}/{}/mentions", settings.api, settings.user_id));
        next.mentions = poll.read(
            mentions,
            FIELDS,
            &previous.mentions,
            Source::Mentions,
            me,
            "listing mentions",
        )?;

        // Keyword search. A token without `threads_keyword_search` is told
        // about and skipped: the brand's replies and mentions go on.
        for q in &settings.keywords {
            let cursor = previous.search_cursor(q);
            let request = Request::get(format!("{}/keyword_search", settings.api))
                .query("q", q)
                .query("search_type", "RECENT");
            match poll.try_read(request, FIELDS, &cursor, Source::Search, me, "searching recent posts") {
                Ok(cursor) => next.search.push(Search { q: q.clone(), cursor }),
                Err(failure) if failure.is_permission() => {
                    log::warn(&format!(
                        "keyword search skipped: the token lacks the threads_keyword_search permission ({}); \
                         replies and mentions are read as usual",
                        failure.message()
                    ));
                    next.search.extend(
                        previous
                            .search
                            .iter()
                            .filter(|s| settings.keywords.contains(&s.q))
                            .cloned(),
                    );
                    break;
                }
                Err(failure) => return Err(failure.into()),
            }
        }

        // Conversations of the roots, in turns, with what the budget leaves.
        let order = next.root_order();
        let mut read = 0;
        for id in &order {
            if poll.requests >= MAX_REQUESTS {
                break;
            }
            let Some(root) = next.roots.get(id).cloned() else {
                continue;
            };
            let request = Request::get(format!("{}/{id}/conversation", settings.api)).query("reverse", "true");
            let replies = poll.read(
                request,
                REPLY_FIELDS,
                &root.replies,
                Source::Conversation,
                me,
                "reading a thread's replies",
            )?;
            if let Some(root) = next.roots.get_mut(id) {
                root.replies = replies;
            }
            read += 1;
        }
        // The next poll goes on from the first root not read (from the newest after a full turn).
        next.turn = order.get(read).cloned();

        let mut posts = poll.posts;
        // A reply that mentions the brand is listed twice; it is one post.
        let mut ids = HashSet::new();
        posts.retain(|p| ids.insert(p.external_id.clone()));
        posts.sort_by(|a, b| a.created_at.cmp(&b.created_at));
        let has_more = next.mentions.has_more()
            || next.threads.has_more()
            || next.search.iter().any(|s| s.cursor.has_more())
            || next.roots.values().any(|r| r.replies.has_more());
        log::debug(&format!("{} posts; more waiting: {has_more}", posts.len()));
        Ok(Page {
            posts,
            state: next.encode(),
            has_more,
        })
    }

    fn handle_webhook(_config: Config, _request: WebhookRequest) -> Result<WebhookResult, PluginError> {
        Err(PluginError::Permanent(
            "threads is read by polling; webhooks are not supported".into(),
        ))
    }

    fn send(config: Config, message: Outbound) -> Result<Sent, PluginError> {
        let settings = Settings::parse(&config)?;
        if message.recipient.is_some() {
            return Err(PluginError::Permanent(
                "threads sends posts and replies; direct messages are not supported".into(),
            ));
        }
        let text = message.text.trim();
        if text.is_empty() {
            return Err(PluginError::Permanent("nothing to send: the text is empty".into()));
        }
        let chars = text.chars().count();
        if chars > MAX_TEXT_CHARS {
            return Err(PluginError::Permanent(format!(
                "the text has {chars} characters; Threads takes at most {MAX_TEXT_CHARS}"
            )));
        }
        // Step 1: a text container, in reply to the target when there is one.
        let mut form = vec![("media_type", "TEXT"), ("text", text)];
        if let Some(target) = &message.in_reply_to {
            form.push(("reply_to_id", target.external_id.as_str()));
        }
        const CREATE: &str = "creating the reply's container";
        let request = Request::post(format!("{}/{}/threads", settings.api, settings.user_id)).form(&form);
        let container: Created = call(request, CREATE, Side::Write)?.json().context(CREATE)?;
        // Step 2: its publish, which gives the post's id.
        const PUBLISH: &str = "publishing the reply";
        let request = Request::post(format!("{}/{}/threads_publish", settings.api, settings.user_id))
            .query("creation_id", &container.id);
        let published: Created = call(request, PUBLISH, Side::Write)?.json().context(PUBLISH)?;
        // The link is a nicety: the reply is out whatever this answers.
        let url = Request::get(format!("{}/{}", settings.api, published.id))
            .query("fields", "permalink")
            .send()
            .ok()
            .filter(|r| r.status == 200)
            .and_then(|r| r.json::<Permalink>().ok())
            .and_then(|p| p.permalink);
        Ok(Sent {
            external_id: published.id,
            url,
        })
    }
}

socialcrm_sdk::export_channel!(Threads);

/// What a `POST` creating an object answers.
#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
struct Permalink {
    permalink: Option<String>,
}

#[derive(Deserialize)]
struct Me {
    id: String,
    username: String,
}

/// Keeps the roots of the window before the newest, at most [`MAX_ROOTS`].
fn keep_recent(roots: &mut std::collections::BTreeMap<String, Root>) {
    let mut ats: Vec<i64> = roots.values().map(|r| r.at).collect();
    ats.sort_unstable_by(|a, b| b.cmp(a));
    let Some(newest) = ats.first().copied() else { return };
    let oldest_kept = ats
        .get(MAX_ROOTS - 1)
        .copied()
        .unwrap_or(i64::MIN)
        .max(newest - ROOT_WINDOW_SECS);
    roots.retain(|_, root| root.at >= oldest_kept);
}

/// The token's user, which must be the configured one.
fn me(settings: &Settings) -> Result<Me, PluginError> {
    const WHAT: &str = "verifying the access token";
    let request = Request::get(format!("{}/me", settings.api)).query("fields", "id,username");
    let me: Me = call(request, WHAT, Side::Read)?.json().context(WHAT)?;
    if me.id != settings.user_id {
        return Err(PluginError::InvalidConfig(format!(
            "the access token is @{}'s (user id {}), but config field `user-id` is `{}`",
            me.username, me.id, settings.user_id
        )));
    }
    Ok(me)
}

/// One poll's reads, and the posts they found.
struct Poll {
    requests: usize,
    posts: Vec<Post>,
}

impl Poll {
    fn read(
        &mut self,
        request: Request,
        fields: &str,
        cursor: &Cursor,
        source: Source,
        me: Option<&str>,
        what: &str,
    ) -> Result<Cursor, PluginError> {
        self.try_read(request, fields, cursor, source, me, what)
            .map_err(PluginError::from)
    }

    /// The next page of a list after `cursor`: its new posts are kept, and
    /// the list's new place is returned.
    fn try_read(
        &mut self,
        request: Request,
        fields: &str,
        cursor: &Cursor,
        source: Source,
        me: Option<&str>,
        what: &str,
    ) -> Result<Cursor, graph::Failure> {
        let mut request = request.query("fields", fields);
        // The conversation endpoint takes no `limit` or `since`; it is read down to the mark.
        if source != Source::Conversation {
            request = request.query("limit", PAGE_SIZE);
            if let Some(since) = cursor.since() {
                request = request.query("since", &since.to_string());
            }
        }
        if let Some(after) = cursor.after() {
            request = request.query("after", after);
        }
        self.requests += 1;
        let response = call(request, what, Side::Read)?;
        let permanent = |error: PluginError| graph::Failure {
            error: socialcrm_sdk::context(error, what),
            code: None,
        };
        let list = List::parse(&response.body).map_err(permanent)?;
        let items = list.items().map_err(permanent)?;
        let page: Vec<(&str, i64)> = items.iter().map(|i| (i.id.as_str(), i.at)).collect();
        let read = cursor.advance(&page, list.after());
        for index in read.take {
            if let Some(post) = items[index].post(source, me) {
                self.posts.push(post);
            }
        }
        Ok(read.next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roots_are_those_of_the_window_before_the_newest() {
        let mut roots: std::collections::BTreeMap<String, Root> = (0..40)
            .map(|i| {
                let root = Root {
                    at: 1_760_000_000 + i * 3_600,
                    replies: Cursor::default(),
                };
                (format!("r{i}"), root)
            })
            .collect();
        roots.insert(
            "old".into(),
            Root {
                at: 1_760_000_000 - 30 * 86_400,
                replies: Cursor::default(),
            },
        );
        keep_recent(&mut roots);
        assert_eq!(roots.len(), MAX_ROOTS);
        assert!(roots.contains_key("r39") && !roots.contains_key("r9") && !roots.contains_key("old"));
    }

    #[test]
    fn describe_matches_the_manifest() {
        let d = Threads::describe();
        socialcrm_sdk::testkit::assert_describes(include_str!("../plugin.toml"), &d);
        assert_eq!(d.capabilities, Capabilities::POLL | Capabilities::REPLY);
    }
}
