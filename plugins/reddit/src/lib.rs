//! First-party Reddit channel (<https://www.reddit.com/dev/api>): username
//! mentions and replies to the brand come from polling the inbox, posts that
//! never tag the brand from a keyword search, and replies go out as comments.
//! The host attaches the OAuth token; the plugin never sees it.

mod entities;
mod markdown;
mod paging;
mod reply;
mod settings;

use std::collections::HashSet;

use serde::Deserialize;
use socialcrm_sdk::channel::{
    Capabilities, Connector, Descriptor, Outbound, Page, Sent, WebhookRequest, WebhookResult,
};
use socialcrm_sdk::http::{DEFAULT_RETRY_AFTER_MS, MIN_RETRY_AFTER_MS, Request, Response};
use socialcrm_sdk::{Config, PluginError, RateLimit, ResultExt, log};

use entities::{Item, Listing};
use paging::{Anchor, PAGE_SIZE, SearchCursor, State};
use settings::Settings;

struct Reddit;

impl Connector for Reddit {
    fn describe() -> Descriptor {
        Descriptor {
            network: "reddit".into(),
            capabilities: Capabilities::POLL | Capabilities::REPLY,
            // Declared once, in plugin.toml: the host takes them from there.
            config_fields: Vec::new(),
        }
    }

    fn check(config: Config) -> Result<(), PluginError> {
        let settings = Settings::parse(&config)?;
        let mut client = Client::new(&settings);
        const WHAT: &str = "verifying the access token";
        let response = client.send(Request::get(format!("{}/api/v1/me", settings.api)), WHAT, Side::Read)?;
        let me: Me = response.json().context(WHAT)?;
        if !me.name.eq_ignore_ascii_case(&settings.username) {
            return Err(PluginError::InvalidConfig(format!(
                "the access token is u/{}'s, but config field `username` is `{}`",
                me.name, settings.username
            )));
        }
        log::info(&format!("signed in to {} as u/{}", settings.api, me.name));
        Ok(())
    }

    fn poll(config: Config, state: String) -> Result<Page, PluginError> {
        let settings = Settings::parse(&config)?;
        let previous = State::parse(&state)?;
        let mut client = Client::new(&settings);

        let inbox_url = format!("{}/message/inbox", settings.api);
        let inbox = paging::walk(previous.inbox.as_ref(), |anchor| {
            // `mark=false`: reading through the API leaves the inbox unread for people.
            let request = Request::get(&inbox_url).query("mark", "false");
            client.listing(request, anchor, "reading the inbox")
        })?;
        let search = match &settings.search {
            Some(search) => {
                let key = search.key();
                let cursor = previous.search.as_ref().filter(|c| c.search == key).map(|c| &c.cursor);
                let walked = paging::walk(cursor, |anchor| {
                    client.listing(search.request(&settings.api), anchor, "searching new posts")
                })?;
                Some((key, walked))
            }
            None => None,
        };

        let mut walks = vec![&inbox];
        walks.extend(search.as_ref().map(|(_, w)| w));
        if walks.iter().any(|w| w.gap) {
            log::warn("a listing's anchor is gone under more new things than a poll reads; older ones are skipped");
        }
        // The budget is spent: the host waits for the next poll instead of coming at once.
        let has_more = client.exhausted.is_none() && walks.iter().any(|w| w.has_more);
        let mut ids = HashSet::new();
        let posts: Vec<_> = walks
            .iter()
            .flat_map(|w| w.items.iter())
            .filter_map(|item: &Item| item.post.clone())
            // A post both in the inbox and in the search is one post.
            .filter(|post| ids.insert(post.external_id.clone()))
            .collect();
        let next = State {
            inbox: inbox.cursor.clone(),
            search: search.as_ref().and_then(|(key, walked)| {
                walked.cursor.clone().map(|cursor| SearchCursor {
                    search: key.clone(),
                    cursor,
                })
            }),
        };
        log::debug(&format!(
            "{} inbox things, {} search hits, {} posts",
            inbox.items.len(),
            search.as_ref().map_or(0, |(_, w)| w.items.len()),
            posts.len()
        ));
        Ok(Page {
            posts,
            state: next.encode(),
            has_more,
        })
    }

    fn handle_webhook(_config: Config, _request: WebhookRequest) -> Result<WebhookResult, PluginError> {
        Err(PluginError::Permanent(
            "reddit delivers mentions by polling; webhooks are not supported".into(),
        ))
    }

    fn send(config: Config, message: Outbound) -> Result<Sent, PluginError> {
        let settings = Settings::parse(&config)?;
        if message.recipient.is_some() {
            return Err(PluginError::Permanent(
                "reddit sends replies only; direct messages are not supported".into(),
            ));
        }
        let Some(target) = &message.in_reply_to else {
            return Err(PluginError::Permanent(
                "reddit sends replies only: a new post needs a subreddit and a title".into(),
            ));
        };
        let thing = reply::target(&target.external_id)?;
        let text = message.text.trim();
        if text.is_empty() {
            return Err(PluginError::Permanent("nothing to send: the text is empty".into()));
        }
        let chars = text.chars().count();
        if chars > reply::MAX_CHARS {
            return Err(PluginError::Permanent(format!(
                "the reply has {chars} characters; Reddit takes at most {}",
                reply::MAX_CHARS
            )));
        }
        const WHAT: &str = "posting the comment";
        let request = Request::post(format!("{}/api/comment", settings.api))
            .query("raw_json", "1")
            .form(&[("api_type", "json"), ("thing_id", thing), ("text", text)]);
        let response = Client::new(&settings).send(request, WHAT, Side::Write)?;
        reply::sent(&response.body).context(WHAT)
    }
}

socialcrm_sdk::export_channel!(Reddit);

/// What `GET /api/v1/me` answers, in part.
#[derive(Debug, Deserialize)]
struct Me {
    name: String,
}

impl settings::Search {
    /// What a search cursor belongs to.
    fn key(&self) -> String {
        format!("{} in {}", self.query, self.subreddits.join("+"))
    }

    /// `/r/a+b/search?restrict_sr=1` or `/search`, newest first, links only.
    fn request(&self, api: &str) -> Request {
        let request = if self.subreddits.is_empty() {
            Request::get(format!("{api}/search"))
        } else {
            Request::get(format!("{api}/r/{}/search", self.subreddits.join("+"))).query("restrict_sr", "1")
        };
        request
            .query("q", &self.query)
            .query("sort", "new")
            .query("type", "link")
    }
}

/// Whether a request reads or writes: a 403 means another thing for each.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Read,
    Write,
}

/// The requests of one call, with the rate-limit budget Reddit reports.
struct Client {
    user_agent: String,
    /// The brand's username: its own posts are outbound.
    brand: String,
    /// Set when `X-Ratelimit-Remaining` reached 0: no more requests this call.
    exhausted: Option<RateLimit>,
}

impl Client {
    fn new(settings: &Settings) -> Client {
        Client {
            user_agent: settings.user_agent(),
            brand: settings.username.clone(),
            exhausted: None,
        }
    }

    /// One page of a listing, newest first, and whether more are above it.
    fn listing(&mut self, request: Request, anchor: Anchor, what: &str) -> Result<(Vec<Item>, bool), PluginError> {
        let request = match anchor {
            Anchor::Newest => request,
            Anchor::Before(name) => request.query("before", name),
            Anchor::After(name) => request.query("after", name),
        };
        // `raw_json=1`: text as written, not HTML-escaped.
        let request = request.query("limit", &PAGE_SIZE.to_string()).query("raw_json", "1");
        let response = self.send(request, what, Side::Read)?;
        Listing::parse(&response.body, &self.brand).context(what)
    }

    /// Sends `request`; every failure becomes the error the host acts on, its
    /// message saying `what` was being done.
    fn send(&mut self, request: Request, what: &str, side: Side) -> Result<Response, PluginError> {
        if let Some(limit) = &self.exhausted {
            return Err(PluginError::RateLimited(RateLimit {
                retry_after_ms: limit.retry_after_ms,
                message: format!("{what}: {}", limit.message),
            }));
        }
        let response = request.header("User-Agent", &self.user_agent).send().context(what)?;
        let reset_ms = reset_ms(&response);
        if remaining(&response).is_some_and(|r| r < 1.0) {
            self.exhausted = Some(RateLimit {
                retry_after_ms: reset_ms.unwrap_or(DEFAULT_RETRY_AFTER_MS).max(MIN_RETRY_AFTER_MS),
                message: "the rate limit is used up (X-Ratelimit-Remaining: 0)".into(),
            });
        }
        let result = match response.status {
            429 => Err(PluginError::RateLimited(RateLimit {
                retry_after_ms: response.rate_limit_wait_ms(reset_ms),
                message: format!("HTTP 429: {}", response.excerpt()),
            })),
            403 => Err(forbidden(&response, side)),
            _ => response.error_for_status(),
        };
        result.context(what)
    }
}

/// `X-Ratelimit-Remaining`, a float (`598.0`).
fn remaining(response: &Response) -> Option<f64> {
    response.header("x-ratelimit-remaining")?.trim().parse().ok()
}

/// `X-Ratelimit-Reset`: seconds until the budget refills, in milliseconds.
fn reset_ms(response: &Response) -> Option<u64> {
    let secs: f64 = response.header("x-ratelimit-reset")?.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| (secs * 1000.0).ceil() as u64)
}

/// A 403. Reddit sends one for a token without the scope an endpoint needs
/// or a suspended account (unauthorized: the account is paused until fixed),
/// and for a subreddit closed to the account, with a `reason`: while polling
/// that is a configured subreddit to fix (invalid-config), while replying
/// that one thread (permanent).
fn forbidden(response: &Response, side: Side) -> PluginError {
    #[derive(Deserialize)]
    struct Body {
        reason: Option<String>,
    }
    let message = format!("HTTP 403: {}", response.excerpt());
    let reason = serde_json::from_slice::<Body>(&response.body)
        .ok()
        .and_then(|b| b.reason);
    match (reason.as_deref(), side) {
        (Some("private" | "banned" | "quarantined" | "gold_only"), Side::Read) => PluginError::InvalidConfig(format!(
            "{message} (a subreddit in `subreddits` is closed to the account)"
        )),
        (Some(_), Side::Write) => PluginError::Permanent(message),
        _ => PluginError::Unauthorized(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Natively: the host cannot run `describe` of a plugin whose allowed hosts
    // name a config field (it builds the HTTP policy from an empty account).
    #[test]
    fn describe_matches_the_manifest() {
        socialcrm_sdk::testkit::assert_describes(include_str!("../plugin.toml"), &Reddit::describe());
    }

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn reads_reddit_rate_limit_headers() {
        let r = response(
            200,
            &[("X-Ratelimit-Remaining", "598.0"), ("X-Ratelimit-Reset", "512")],
            "",
        );
        assert_eq!((remaining(&r), reset_ms(&r)), (Some(598.0), Some(512_000)));
        let r = response(200, &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "0.5")], "");
        assert_eq!((remaining(&r), reset_ms(&r)), (Some(0.0), Some(500)));
        let r = response(200, &[("X-Ratelimit-Reset", "soon")], "");
        assert_eq!((remaining(&r), reset_ms(&r)), (None, None));
    }

    #[test]
    fn a_403_is_unauthorized_unless_a_subreddit_is_closed() {
        let scope = response(403, &[], r#"{"message": "Forbidden", "error": 403}"#);
        assert!(matches!(forbidden(&scope, Side::Read), PluginError::Unauthorized(m) if m.contains("Forbidden")));
        assert!(matches!(forbidden(&scope, Side::Write), PluginError::Unauthorized(_)));
        let private = response(
            403,
            &[],
            r#"{"reason": "private", "message": "Forbidden", "error": 403}"#,
        );
        assert!(matches!(forbidden(&private, Side::Read), PluginError::InvalidConfig(m) if m.contains("`subreddits`")));
        let banned = response(
            403,
            &[],
            r#"{"reason": "banned", "message": "Forbidden", "error": 403}"#,
        );
        assert!(matches!(forbidden(&banned, Side::Write), PluginError::Permanent(_)));
    }

    #[test]
    fn searches_are_keyed_and_built() {
        let search = settings::Search {
            query: "acme OR \"acme cloud\"".into(),
            subreddits: vec!["sysadmin".into(), "devops".into()],
        };
        assert_eq!(search.key(), "acme OR \"acme cloud\" in sysadmin+devops");
        assert_eq!(
            search.request("https://oauth.reddit.com").url(),
            "https://oauth.reddit.com/r/sysadmin+devops/search?restrict_sr=1&q=acme%20OR%20%22acme%20cloud%22&sort=new&type=link"
        );
        let everywhere = settings::Search {
            query: "acme".into(),
            subreddits: vec![],
        };
        assert_eq!(
            everywhere.request("https://oauth.reddit.com").url(),
            "https://oauth.reddit.com/search?q=acme&sort=new&type=link"
        );
    }
}
