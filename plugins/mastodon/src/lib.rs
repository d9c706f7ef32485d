//! First-party Mastodon channel: mentions of the account come from polling the
//! notifications API (<https://docs.joinmastodon.org/methods/notifications/>),
//! replies and direct messages go out through the statuses API, and stored
//! mentions are re-checked for deletions and edits ([`recheck`]). The host
//! attaches the access token; the plugin never sees it.

mod entities;
mod html;
mod paging;
mod recheck;
mod reply;

use serde_json::value::RawValue;
use socialcrm_sdk::channel::{
    Capabilities, Connector, Descriptor, Outbound, Page, Sent, WebhookRequest, WebhookResult,
};
use socialcrm_sdk::http::{self, Request, Response, encode};
use socialcrm_sdk::{Config, ConfigExt, PluginError, RateLimit, ResultExt, log, time};

use entities::{Account, Notification, StatusRef, non_empty};
use paging::State;

/// Notifications per page: the API's maximum (its default is 40), so a
/// catch-up spends half the requests of the rate-limit budget.
const PAGE_SIZE: usize = 80;

struct Mastodon;

impl Connector for Mastodon {
    fn describe() -> Descriptor {
        Descriptor {
            network: "mastodon".into(),
            capabilities: Capabilities::POLL | Capabilities::REPLY | Capabilities::DIRECT_MESSAGE,
            // Declared once, in plugin.toml: the host takes them from there.
            config_fields: Vec::new(),
        }
    }

    fn check(config: Config) -> Result<(), PluginError> {
        let base = instance(&config)?;
        const WHAT: &str = "verifying the access token";
        let response = call(Request::get(format!("{base}/api/v1/accounts/verify_credentials")), WHAT)?;
        let account: Account = response.json().context(WHAT)?;
        log::info(&format!("signed in to {base} as @{}", account.acct));
        Ok(())
    }

    fn poll(config: Config, state: String) -> Result<Page, PluginError> {
        let base = instance(&config)?;
        let since = State::parse(&state)?;
        let mut request = Request::get(format!("{base}/api/v1/notifications"))
            .query("types[]", "mention")
            .query("limit", &PAGE_SIZE.to_string());
        // Without a state only the newest page: the account's history is not news.
        if let Some(since) = &since {
            request = request.query("min_id", &since.newest);
        }
        const WHAT: &str = "listing mentions";
        let response = call(request, WHAT)?;
        // Kept as received for each post's `raw`.
        let page: Vec<Box<RawValue>> = response.json().context(WHAT)?;
        if page.is_empty() {
            return Ok(Page {
                posts: Vec::new(),
                state,
                has_more: false,
            });
        }
        let mut ids = Vec::with_capacity(page.len());
        let mut posts = Vec::with_capacity(page.len());
        // The API lists newest first; posts go to the host oldest first.
        for raw in page.iter().rev() {
            let notification: Notification = serde_json::from_str(raw.get())
                .map_err(|e| PluginError::Permanent(format!("{WHAT}: malformed notification: {e}")))?;
            if notification.id.is_empty() {
                return Err(PluginError::Permanent(format!(
                    "{WHAT}: a notification has an empty id"
                )));
            }
            ids.push(notification.id.clone());
            // Skipped notifications (deleted statuses, other types) still move the state on.
            posts.extend(notification.into_post(raw.get())?);
        }
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        let link_prev = response.link("prev").and_then(paging::prev_min_id);
        let newest = paging::advance(since.as_ref().map(|s| s.newest.as_str()), link_prev.as_deref(), &ids);
        log::debug(&format!(
            "{} notifications, {} mentions with a status; newest {newest:?}",
            page.len(),
            posts.len()
        ));
        Ok(Page {
            posts,
            state: newest.map_or(state, |id| State::encode(&id)),
            // A full page leaves more above it; the newest page on a first poll is all we take.
            has_more: since.is_some() && page.len() >= PAGE_SIZE,
        })
    }

    fn handle_webhook(_config: Config, _request: WebhookRequest) -> Result<WebhookResult, PluginError> {
        Err(PluginError::Permanent(
            "mastodon delivers mentions by polling; webhooks are not supported".into(),
        ))
    }

    fn send(config: Config, message: Outbound) -> Result<Sent, PluginError> {
        let base = instance(&config)?;
        let text = message.text.trim();
        if text.is_empty() {
            return Err(PluginError::Permanent("nothing to send: the text is empty".into()));
        }
        let target = message.in_reply_to.as_ref();
        let (visibility, mention) = match &message.recipient {
            Some(recipient) => (Some("direct"), Some(recipient_handle(&base, recipient)?)),
            None => match target {
                Some(target) => (
                    parent_visibility(&base, &target.external_id)?,
                    Some(target.author_handle.clone()),
                ),
                None => (None, None),
            },
        };
        let status = reply::with_mention(text, mention.as_deref());
        let in_reply_to = target.map(|t| t.external_id.as_str());
        let mut form = vec![("status", status.as_str())];
        if let Some(id) = in_reply_to {
            form.push(("in_reply_to_id", id));
        }
        if let Some(visibility) = visibility {
            form.push(("visibility", visibility));
        }
        const WHAT: &str = "publishing the status";
        let request = Request::post(format!("{base}/api/v1/statuses"))
            .header(
                "Idempotency-Key",
                reply::idempotency_key(in_reply_to, visibility, &status),
            )
            .form(&form);
        let created: StatusRef = call(request, WHAT)?.json().context(WHAT)?;
        Ok(Sent {
            url: non_empty(created.url).or(non_empty(created.uri)),
            external_id: created.id,
        })
    }
}

socialcrm_sdk::export_channel!(Mastodon, upkeep);

/// The `instance` base URL without a trailing slash, e.g. `https://mastodon.social`.
fn instance(config: &Config) -> Result<String, PluginError> {
    let raw = config.require("instance")?;
    http::origin(raw).ok_or_else(|| {
        PluginError::InvalidConfig(format!(
            "config field `instance` must be the server's address, like https://mastodon.social (got `{raw}`)"
        ))
    })
}

/// The visibility a reply to `status_id` must keep (see [`reply::inherited_visibility`]).
fn parent_visibility(base: &str, status_id: &str) -> Result<Option<&'static str>, PluginError> {
    const WHAT: &str = "reading the post being answered";
    let response = call(
        Request::get(format!("{base}/api/v1/statuses/{}", encode(status_id))),
        WHAT,
    )?;
    let parent: StatusRef = response.json().context(WHAT)?;
    Ok(reply::inherited_visibility(parent.visibility.as_deref()))
}

/// The handle to @mention in a direct message. The contract passes the
/// recipient's account id, which Mastodon resolves to its `acct`; a value
/// that is already a handle is used as it is.
fn recipient_handle(base: &str, recipient: &str) -> Result<String, PluginError> {
    let recipient = recipient.trim().trim_start_matches('@');
    if recipient.is_empty() {
        return Err(PluginError::Permanent(
            "the direct message has an empty recipient".into(),
        ));
    }
    if !recipient.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(recipient.to_string());
    }
    const WHAT: &str = "looking up the recipient";
    let response = call(Request::get(format!("{base}/api/v1/accounts/{recipient}")), WHAT)?;
    let account: Account = response.json().context(WHAT)?;
    Ok(account.acct)
}

/// Sends `request`; every failure becomes the error the host acts on, its
/// message saying `what` was being done.
fn call(request: Request, what: &str) -> Result<Response, PluginError> {
    checked(request.send().context(what)?, what)
}

/// `response`, or the error the host acts on for its status.
fn checked(response: Response, what: &str) -> Result<Response, PluginError> {
    // `X-RateLimit-Reset` is an ISO 8601 time (<https://docs.joinmastodon.org/api/rate-limits/>).
    let wait = response.rate_limit_wait_ms(response.reset_wait_ms("x-ratelimit-reset", time::now_millis()));
    match response.error_for_status() {
        Err(PluginError::RateLimited(limit)) => Err(PluginError::RateLimited(RateLimit {
            retry_after_ms: wait,
            message: limit.message,
        })),
        other => other,
    }
    .context(what)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(instance: &str) -> Config {
        socialcrm_sdk::testkit::config(&[("instance", instance)])
    }

    // Natively: the host cannot run `describe` of a plugin whose allowed hosts
    // name a config field (it builds the HTTP policy from an empty account).
    #[test]
    fn describe_matches_the_manifest() {
        let d = Mastodon::describe();
        socialcrm_sdk::testkit::assert_describes(include_str!("../plugin.toml"), &d);
        assert_eq!(
            d.capabilities,
            Capabilities::POLL | Capabilities::REPLY | Capabilities::DIRECT_MESSAGE
        );
    }

    #[test]
    fn instance_must_be_an_http_base_url() {
        assert_eq!(
            instance(&config("https://mastodon.social/")).unwrap(),
            "https://mastodon.social"
        );
        assert_eq!(
            instance(&config("http://127.0.0.1:8080")).unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            instance(&config("HTTPS://Mastodon.Social")).unwrap(),
            "https://Mastodon.Social"
        );
        for bad in [
            "mastodon.social",
            "ftp://mastodon.social",
            "https://",
            "https://mastodon.social/api",
            "https://u@mastodon.social",
        ] {
            assert!(
                matches!(instance(&config(bad)), Err(PluginError::InvalidConfig(m)) if m.contains("`instance`")),
                "{bad}"
            );
        }
        assert!(matches!(instance(&Vec::new()), Err(PluginError::InvalidConfig(m)) if m.contains("required")));
    }
}
