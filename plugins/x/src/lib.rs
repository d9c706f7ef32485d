//! First-party X channel (API v2, <https://docs.x.com/x-api>): mentions of the
//! brand's account and a keyword search come from polling, Account Activity
//! webhooks push posts as they happen, replies go out as posts, and batch
//! compliance jobs find stored posts and authors that left X ([`compliance`]).
//! The host attaches the OAuth 2.0 tokens and keys the webhook HMACs; the
//! plugin never sees a secret.

mod compliance;
mod entities;
mod paging;
mod settings;
mod webhook;

use std::collections::HashSet;

use serde::Deserialize;
use socialcrm_sdk::channel::{
    Capabilities, Connector, Descriptor, Outbound, Page, Sent, WebhookRequest, WebhookResult,
};
use socialcrm_sdk::http::{MIN_RETRY_AFTER_MS, Request, Response};
use socialcrm_sdk::{Config, PluginError, RateLimit, ResultExt, log, time};

use entities::{Problem, Source, Timeline, User, status_url};
use paging::{Cursor, PAGE_SIZE, SearchCursor, State};
use settings::Settings;

/// The wait after a 429 that says nothing of when to come back: X's windows are 15 minutes.
const DEFAULT_RETRY_MS: u64 = 15 * 60_000;
/// Post fields asked for; `author_id` comes with `expansions`.
const TWEET_FIELDS: &str = "created_at,conversation_id,in_reply_to_user_id,referenced_tweets,lang";
const USER_FIELDS: &str = "description,location,name,profile_image_url,public_metrics,url,username,verified";

struct X;

impl Connector for X {
    fn describe() -> Descriptor {
        Descriptor {
            network: "x".into(),
            capabilities: Capabilities::POLL | Capabilities::WEBHOOK | Capabilities::REPLY,
            // Declared once, in plugin.toml: the host takes them from there.
            config_fields: Vec::new(),
        }
    }

    fn check(config: Config) -> Result<(), PluginError> {
        let settings = Settings::parse(&config)?;
        const WHAT: &str = "verifying the access token";
        let response = send(Request::get(format!("{}/2/users/me", settings.api)), WHAT, Side::Read)?;
        #[derive(Deserialize)]
        struct Me {
            data: User,
        }
        let me: Me = response.json().context(WHAT)?;
        if me.data.id != settings.user_id {
            return Err(PluginError::InvalidConfig(format!(
                "the access token is @{}'s (user id {}), but config field `user-id` is `{}`",
                me.data.username, me.data.id, settings.user_id
            )));
        }
        log::info(&format!("signed in to {} as @{}", settings.api, me.data.username));
        Ok(())
    }

    fn poll(config: Config, state: String) -> Result<Page, PluginError> {
        let settings = Settings::parse(&config)?;
        let previous = State::parse(&state)?;

        let mentions_url = format!("{}/2/users/{}/mentions", settings.api, settings.user_id);
        let (mut posts, mentions) = read(
            Request::get(mentions_url),
            &previous.mentions,
            "pagination_token",
            (&settings.user_id, Source::Mentions),
            "listing mentions",
        )?;
        let search = match &settings.query {
            Some(query) => {
                let cursor = previous
                    .search
                    .as_ref()
                    .filter(|s| &s.query == query)
                    .map(|s| s.cursor.clone())
                    .unwrap_or_default();
                let request = Request::get(format!("{}/2/tweets/search/recent", settings.api)).query("query", query);
                let (found, cursor) = read(
                    request,
                    &cursor,
                    "next_token",
                    (&settings.user_id, Source::Search),
                    "searching recent posts",
                )?;
                posts.extend(found);
                Some(SearchCursor {
                    query: query.clone(),
                    cursor,
                })
            }
            None => None,
        };
        // A post both mentioning the brand and found by the search is one post.
        let mut ids = HashSet::new();
        posts.retain(|p| ids.insert(p.external_id.clone()));
        let has_more = mentions.has_more() || search.as_ref().is_some_and(|s| s.cursor.has_more());
        let next = State { mentions, search };
        log::debug(&format!("{} posts; more waiting: {has_more}", posts.len()));
        Ok(Page {
            posts,
            state: next.encode(),
            has_more,
        })
    }

    fn handle_webhook(config: Config, request: WebhookRequest) -> Result<WebhookResult, PluginError> {
        let settings = Settings::parse(&config)?;
        webhook::handle(&request, &settings.user_id)
    }

    fn send(config: Config, message: Outbound) -> Result<Sent, PluginError> {
        let settings = Settings::parse(&config)?;
        if message.recipient.is_some() {
            return Err(PluginError::Permanent(
                "x sends posts and replies; direct messages are not supported".into(),
            ));
        }
        let text = message.text.trim();
        if text.is_empty() {
            return Err(PluginError::Permanent("nothing to send: the text is empty".into()));
        }
        let mut body = serde_json::json!({ "text": text });
        if let Some(target) = &message.in_reply_to {
            body["reply"] = serde_json::json!({ "in_reply_to_tweet_id": target.external_id });
        }
        const WHAT: &str = "publishing the post";
        let request = Request::post(format!("{}/2/tweets", settings.api))
            .json(&body)
            .context(WHAT)?;
        let response = send(request, WHAT, Side::Write)?;
        #[derive(Deserialize)]
        struct Created {
            data: CreatedPost,
        }
        #[derive(Deserialize)]
        struct CreatedPost {
            id: String,
        }
        let created: Created = response.json().context(WHAT)?;
        Ok(Sent {
            url: Some(status_url(&created.data.id)),
            external_id: created.data.id,
        })
    }
}

socialcrm_sdk::export_channel!(X, upkeep);

/// The next page of one timeline after `cursor`: its posts, oldest first, and the new place.
fn read(
    request: Request,
    cursor: &Cursor,
    token_param: &str,
    (brand_id, source): (&str, Source),
    what: &str,
) -> Result<(Vec<socialcrm_sdk::Post>, Cursor), PluginError> {
    let fetch = cursor.fetch();
    let mut request = request
        .query("max_results", &PAGE_SIZE.to_string())
        .query("expansions", "author_id")
        .query("tweet.fields", TWEET_FIELDS)
        .query("user.fields", USER_FIELDS);
    if let Some(since) = fetch.since_id {
        request = request.query("since_id", since);
    }
    if let Some(token) = fetch.token {
        request = request.query(token_param, token);
    }
    let response = send(request, what, Side::Read)?;
    let timeline = Timeline::parse(&response.body).context(what)?;
    if let Some(partial) = timeline.partial_errors() {
        log::warn(&format!("{what}: {partial}"));
    }
    let posts = timeline.posts(brand_id, source).context(what)?;
    Ok((posts, cursor.advance(timeline.seen())))
}

/// Whether a request reads or writes: a 403 means another thing for each.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Read,
    Write,
}

/// Sends `request`; every failure becomes the error the host acts on, its
/// message saying `what` was being done.
fn send(request: Request, what: &str, side: Side) -> Result<Response, PluginError> {
    let response = request.send().context(what)?;
    if (200..300).contains(&response.status) {
        return Ok(response);
    }
    let problem: Problem = serde_json::from_slice(&response.body).unwrap_or_default();
    let errors: ErrorList = serde_json::from_slice(&response.body).unwrap_or_default();
    let detail = [problem.describe(), errors.describe()]
        .into_iter()
        .filter(|d| !d.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let detail = if detail.is_empty() { response.excerpt() } else { detail };
    let message = format!("{what}: HTTP {}: {detail}", response.status);
    Err(match response.status {
        401 => PluginError::Unauthorized(message),
        // Writing, a 403 is about this post (a duplicate, a reply not allowed);
        // the app's or token's access problems say so in their type.
        403 if side == Side::Write && !problem.kind.as_deref().is_some_and(access_problem) => {
            PluginError::Permanent(message)
        }
        403 => PluginError::Unauthorized(message),
        429 => PluginError::RateLimited(RateLimit {
            // `x-rate-limit-reset` is in Unix seconds.
            retry_after_ms: response
                .reset_wait_ms("x-rate-limit-reset", time::now_millis())
                .unwrap_or(DEFAULT_RETRY_MS)
                .max(MIN_RETRY_AFTER_MS),
            message,
        }),
        408 | 500..=599 => PluginError::Transient(message),
        _ => PluginError::Permanent(message),
    })
}

/// Problem types of the app or token (<https://docs.x.com/x-api/fundamentals/response-codes-and-errors>).
fn access_problem(kind: &str) -> bool {
    [
        "client-forbidden",
        "unsupported-authentication",
        "not-authorized-for-resource",
    ]
    .iter()
    .any(|p| kind.ends_with(p))
}

/// `{"errors":[{"message":..}]}`, the older error shape some endpoints still send.
#[derive(Debug, Default, Deserialize)]
struct ErrorList {
    #[serde(default)]
    errors: Vec<Problem>,
}

impl ErrorList {
    fn describe(&self) -> String {
        self.errors.iter().map(Problem::describe).collect::<Vec<_>>().join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Natively: the host cannot run `describe` of a plugin whose allowed hosts
    // name a config field (it builds the HTTP policy from an empty account).
    #[test]
    fn describe_matches_the_manifest() {
        socialcrm_sdk::testkit::assert_describes(include_str!("../plugin.toml"), &X::describe());
    }

    #[test]
    fn access_problems_are_named_by_type() {
        assert!(access_problem("https://api.twitter.com/2/problems/client-forbidden"));
        assert!(!access_problem("about:blank"));
    }
}
