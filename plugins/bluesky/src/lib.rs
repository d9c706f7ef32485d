//! First-party Bluesky (AT Protocol) channel. Everything goes through the
//! account's PDS over XRPC (<https://docs.bsky.app/docs/category/http-reference>):
//! mentions, replies and quotes come from `app.bsky.notification.listNotifications`,
//! the account's own posts from `com.atproto.repo.listRecords`, keyword hits
//! from `app.bsky.feed.searchPosts`; replies go out through
//! `com.atproto.repo.createRecord`; stored posts are re-checked for
//! deletions and edits ([`recheck`]). The plugin signs in with an app
//! password it never reads (see [`xrpc`]).

mod entities;
mod paging;
mod recheck;
mod reply;
mod settings;
mod xrpc;

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;
use socialcrm_sdk::channel::{
    Capabilities, Connector, Descriptor, Outbound, Page, Sent, WebhookRequest, WebhookResult,
};
use socialcrm_sdk::{Config, PluginError, Post, log};

use entities::{Me, Notification, PostRecord, PostView, REASONS, RepoRecord, StrongRef, post_url, rkey};
use paging::{Item, Source, State, Step};
use settings::Settings;
use socialcrm_sdk::time;
use xrpc::{Client, Session};

/// Items per page of every list (the lexicons allow 1 to 100).
const PAGE_SIZE: &str = "50";
const POST_COLLECTION: &str = "app.bsky.feed.post";
/// How many of the account's newest records a send looks through for itself.
const RECENT_RECORDS: &str = "50";

struct Bluesky;

impl Connector for Bluesky {
    fn describe() -> Descriptor {
        Descriptor {
            network: "bluesky".into(),
            capabilities: Capabilities::POLL | Capabilities::REPLY,
            // Declared once, in plugin.toml: the host takes them from there.
            config_fields: Vec::new(),
        }
    }

    fn check(config: Config) -> Result<(), PluginError> {
        let settings = Settings::from_config(&config)?;
        let mut client = Client::new(&settings);
        client.sign_in()?;
        let session = client.session()?;
        log::info(&format!("signed in as @{} ({})", session.handle, session.did));
        Ok(())
    }

    fn poll(config: Config, state: String) -> Result<Page, PluginError> {
        let settings = Settings::from_config(&config)?;
        let mut previous = State::parse(&state)?;
        let mut client = Client::new(&settings);
        let me = client.session()?.clone();
        // A sweep under way is finished before any list starts a new one.
        let sweeping = previous.sweeping();
        let mut next = State::default();
        let mut posts = Vec::new();
        let mut has_more = false;
        for list in lists(&settings) {
            let name = list.name();
            let source = previous.sources.remove(&name).unwrap_or_default();
            if sweeping && source.sweep.is_none() {
                next.sources.insert(name, source);
                continue;
            }
            let step = list.read(&mut client, &me, &source)?;
            log::debug(&format!("{name}: {} new posts", step.fresh.len()));
            posts.extend(step.fresh);
            has_more |= step.more;
            next.sources.insert(name, step.source);
        }
        // A search hit can also be a mention: the page holds each post once.
        let mut ids = HashSet::new();
        posts.retain(|p: &Post| ids.insert(p.external_id.clone()));
        Ok(Page {
            posts,
            state: next.encode(),
            has_more,
        })
    }

    fn handle_webhook(_config: Config, _request: WebhookRequest) -> Result<WebhookResult, PluginError> {
        Err(PluginError::Permanent(
            "bluesky delivers posts by polling; webhooks are not supported".into(),
        ))
    }

    fn send(config: Config, message: Outbound) -> Result<Sent, PluginError> {
        let settings = Settings::from_config(&config)?;
        let text = message.text.trim();
        if text.is_empty() {
            return Err(PluginError::Permanent("nothing to send: the text is empty".into()));
        }
        if message.recipient.is_some() {
            return Err(PluginError::Permanent(
                "direct messages are not supported on Bluesky by this plugin".into(),
            ));
        }
        let mut client = Client::new(&settings);
        let me = client.session()?.clone();
        let reply = match &message.in_reply_to {
            Some(target) => Some(answered(&mut client, &target.external_id)?),
            None => None,
        };
        let sent = |uri: String| Sent {
            url: Some(post_url(&me.handle, &me.did, &uri)),
            external_id: uri,
        };
        if let Some(uri) = already_posted(&mut client, &me, text, reply.as_ref())? {
            log::info(&format!("{uri} was already posted; not posting it again"));
            return Ok(sent(uri));
        }
        #[derive(Deserialize)]
        struct Created {
            uri: String,
        }
        let record = reply::record(text, reply.as_ref(), &time::format_millis(time::now_millis()));
        let created: Created = client.procedure(
            "com.atproto.repo.createRecord",
            &json!({ "repo": me.did, "collection": POST_COLLECTION, "record": record }),
            "publishing the post",
        )?;
        Ok(sent(created.uri))
    }
}

socialcrm_sdk::export_channel!(Bluesky, upkeep);

/// The lists one account polls.
enum List<'a> {
    Notifications,
    Own,
    Search(&'a str),
}

fn lists(settings: &Settings) -> Vec<List<'_>> {
    let mut lists = vec![List::Notifications];
    if settings.own_posts {
        lists.push(List::Own);
    }
    lists.extend(settings.keywords.iter().map(|k| List::Search(k)));
    lists
}

/// A page of any list: the items as received and the cursor to the next page.
#[derive(Deserialize)]
struct Listed {
    cursor: Option<String>,
    #[serde(alias = "notifications", alias = "records", alias = "posts")]
    items: Vec<Box<RawValue>>,
}

impl List<'_> {
    fn name(&self) -> String {
        match self {
            List::Notifications => "notifications".into(),
            List::Own => "own".into(),
            List::Search(q) => format!("search:{q}"),
        }
    }

    /// Reads the next page of this list and hands over what is new.
    fn read(&self, client: &mut Client, me: &Session, source: &Source) -> Result<Step<Post>, PluginError> {
        let mut query = vec![("limit", PAGE_SIZE)];
        let (nsid, what) = match self {
            List::Notifications => {
                query.extend(REASONS.iter().map(|r| ("reasons", *r)));
                ("app.bsky.notification.listNotifications", "listing notifications")
            }
            List::Own => {
                query.extend([("repo", me.did.as_str()), ("collection", POST_COLLECTION)]);
                ("com.atproto.repo.listRecords", "listing the account's posts")
            }
            List::Search(q) => {
                query.extend([("q", *q), ("sort", "latest")]);
                ("app.bsky.feed.searchPosts", "searching posts")
            }
        };
        if let Some(cursor) = source.cursor() {
            query.push(("cursor", cursor));
        }
        let page: Listed = client.query(nsid, &query, what)?;
        let malformed = |e: serde_json::Error| PluginError::Permanent(format!("{what}: malformed item: {e}"));
        let mut items = Vec::with_capacity(page.items.len());
        for raw in &page.items {
            let raw = raw.get();
            let item = match self {
                List::Notifications => {
                    let n: Notification = serde_json::from_str(raw).map_err(malformed)?;
                    let (key, id) = (n.indexed_at.clone(), n.uri.clone());
                    Item {
                        key,
                        id,
                        value: n.into_post(raw)?,
                    }
                }
                List::Own => {
                    let r: RepoRecord = serde_json::from_str(raw).map_err(malformed)?;
                    let (key, id) = (rkey(&r.uri).to_string(), r.uri.clone());
                    let me = Me {
                        did: &me.did,
                        handle: &me.handle,
                    };
                    Item {
                        key,
                        id,
                        value: Some(r.into_post(&me, raw)?),
                    }
                }
                List::Search(_) => {
                    let v: PostView = serde_json::from_str(raw).map_err(malformed)?;
                    let (key, id) = (v.indexed_at.clone(), v.uri.clone());
                    Item {
                        key,
                        id,
                        value: Some(v.into_post(&me.did, raw)?),
                    }
                }
            };
            items.push(item);
        }
        // The server's cursor is opaque; an empty one ends the list as a missing one does.
        let next = page.cursor.filter(|c| !c.is_empty());
        let step = source.advance(items, next);
        Ok(Step {
            fresh: step.fresh.into_iter().flatten().collect(),
            source: step.source,
            more: step.more,
        })
    }
}

/// The reply refs of an answer to the post `uri`, read through `app.bsky.feed.getPosts`.
fn answered(client: &mut Client, uri: &str) -> Result<entities::ReplyRef, PluginError> {
    const WHAT: &str = "reading the post being answered";
    if !uri.starts_with("at://") || !uri.contains("/app.bsky.feed.post/") {
        return Err(PluginError::Permanent(format!(
            "{WHAT}: `{uri}` is not the at:// URI of a post"
        )));
    }
    #[derive(Deserialize)]
    struct Posts {
        posts: Vec<PostView>,
    }
    let found: Posts = client.query("app.bsky.feed.getPosts", &[("uris", uri)], WHAT)?;
    let parent = found
        .posts
        .into_iter()
        .find(|p| p.uri == uri)
        .ok_or_else(|| PluginError::Permanent(format!("{WHAT}: {uri} is gone or not visible")))?;
    let record = PostRecord::read(parent.record)
        .map_err(|e| PluginError::Permanent(format!("{WHAT}: malformed record of {uri}: {e}")))?;
    Ok(reply::reply_ref(
        StrongRef {
            uri: parent.uri,
            cid: parent.cid,
        },
        &record,
    ))
}

/// The uri of this same post among the account's newest records, when an
/// earlier attempt published it.
fn already_posted(
    client: &mut Client,
    me: &Session,
    text: &str,
    reply: Option<&entities::ReplyRef>,
) -> Result<Option<String>, PluginError> {
    const WHAT: &str = "looking for an earlier attempt";
    #[derive(Deserialize)]
    struct Records {
        records: Vec<RepoRecord>,
    }
    let query = [
        ("repo", me.did.as_str()),
        ("collection", POST_COLLECTION),
        ("limit", RECENT_RECORDS),
    ];
    let recent: Records = client.query("com.atproto.repo.listRecords", &query, WHAT)?;
    Ok(recent
        .records
        .into_iter()
        .find(|r| PostRecord::read(r.value.clone()).is_ok_and(|p| reply::same_post(&p, text, reply)))
        .map(|r| r.uri))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_matches_the_manifest() {
        let manifest = socialcrm_sdk::testkit::assert_describes(include_str!("../plugin.toml"), &Bluesky::describe());
        assert!(manifest.credential.is_none(), "the plugin signs in itself");
    }

    #[test]
    fn lists_follow_the_settings() {
        let settings = Settings {
            service: "https://bsky.social".into(),
            identifier: "brand.bsky.social".into(),
            keywords: vec!["acme".into(), "acme cloud".into()],
            own_posts: false,
        };
        let names: Vec<String> = lists(&settings).iter().map(List::name).collect();
        assert_eq!(names, ["notifications", "search:acme", "search:acme cloud"]);
    }
}
