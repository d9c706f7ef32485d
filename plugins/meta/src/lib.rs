//! First-party Meta channel: Facebook Page comments and Messenger messages,
//! and Instagram comments, all pushed by Meta's webhooks; replies go out
//! through the Graph API (<https://developers.facebook.com/docs/graph-api>).
//! The host attaches the Page access token and checks delivery signatures with
//! the app secret; the plugin never sees either. Meta's data-deletion
//! requests come to the webhook's `/data-deletion` (`deletion.rs`).

mod deletion;
mod target;
mod webhook;

use serde::Deserialize;
use socialcrm_sdk::channel::{
    Capabilities, Connector, Descriptor, Outbound, Page, Sent, WebhookRequest, WebhookResult,
};
use socialcrm_sdk::http::{self, Request, Response};
use socialcrm_sdk::{Config, ConfigExt, PluginError, RateLimit, ResultExt, log};

use target::Target;

/// The Graph API version the plugin speaks.
const VERSION: &str = "v21.0";
/// Shorter verify tokens are guessable; Meta sends it in a URL anyone can try.
const MIN_VERIFY_TOKEN: usize = 16;

struct Meta;

impl Connector for Meta {
    fn describe() -> Descriptor {
        Descriptor {
            network: "meta".into(),
            capabilities: Capabilities::WEBHOOK | Capabilities::REPLY,
            // Declared once, in plugin.toml: the host takes them from there.
            config_fields: Vec::new(),
        }
    }

    fn check(config: Config) -> Result<(), PluginError> {
        let settings = Settings::parse(&config)?;
        const WHAT: &str = "verifying the page access token";
        let request = Request::get(format!("{}/me", settings.graph)).query("fields", "id,name");
        let response = call(request, WHAT)?;
        #[derive(Deserialize)]
        struct Me {
            id: String,
            name: Option<String>,
        }
        let me: Me = response.json().context(WHAT)?;
        log::info(&format!(
            "the token acts as {} ({})",
            me.name.as_deref().unwrap_or("?"),
            me.id
        ));
        Ok(())
    }

    fn poll(_config: Config, _state: String) -> Result<Page, PluginError> {
        Err(PluginError::Permanent(
            "meta delivers comments and messages by webhook; polling is not supported".into(),
        ))
    }

    fn handle_webhook(config: Config, request: WebhookRequest) -> Result<WebhookResult, PluginError> {
        let settings = Settings::parse(&config)?;
        webhook::handle(&request, &settings.verify_token)
    }

    fn send(config: Config, message: Outbound) -> Result<Sent, PluginError> {
        let settings = Settings::parse(&config)?;
        let text = message.text.trim();
        if text.is_empty() {
            return Err(PluginError::Permanent("nothing to send: the text is empty".into()));
        }
        let Some(target) = &message.in_reply_to else {
            return Err(PluginError::Permanent(
                "meta sends replies only: answer a comment or a message".into(),
            ));
        };
        match Target::parse(&target.external_id)? {
            Target::Facebook(id) => {
                const WHAT: &str = "replying to the Facebook comment";
                let request = Request::post(format!("{}/{id}/comments", settings.graph)).form(&[("message", text)]);
                let created: Created = call(request, WHAT)?.json().context(WHAT)?;
                Ok(Sent {
                    url: Some(format!("https://www.facebook.com/{}", created.id)),
                    external_id: Target::Facebook(created.id).encode(),
                })
            }
            Target::Instagram(id) => {
                const WHAT: &str = "replying to the Instagram comment";
                let request = Request::post(format!("{}/{id}/replies", settings.graph)).form(&[("message", text)]);
                let created: Created = call(request, WHAT)?.json().context(WHAT)?;
                Ok(Sent {
                    url: None,
                    external_id: Target::Instagram(created.id).encode(),
                })
            }
            Target::Messenger(_) => {
                const WHAT: &str = "answering the Messenger message";
                // The sender's page-scoped id is their handle (see webhook.rs).
                let body = serde_json::json!({
                    "recipient": { "id": target.author_handle },
                    "messaging_type": "RESPONSE",
                    "message": { "text": text },
                });
                let request = Request::post(format!("{}/me/messages", settings.graph))
                    .json(&body)
                    .context(WHAT)?;
                #[derive(Deserialize)]
                struct SentMessage {
                    message_id: String,
                }
                let sent: SentMessage = call(request, WHAT)?.json().context(WHAT)?;
                Ok(Sent {
                    url: None,
                    external_id: Target::Messenger(sent.message_id).encode(),
                })
            }
        }
    }
}

socialcrm_sdk::export_channel!(Meta);

/// What a Graph `POST` creating an object answers.
#[derive(Deserialize)]
struct Created {
    id: String,
}

/// An account's configuration, checked before anything else.
struct Settings {
    /// The versioned Graph base, e.g. `https://graph.facebook.com/v21.0`.
    graph: String,
    verify_token: String,
}

impl Settings {
    fn parse(config: &Config) -> Result<Settings, PluginError> {
        let raw = config.require("graph-url")?;
        let Some(origin) = http::origin(raw) else {
            return Err(PluginError::InvalidConfig(format!(
                "config field `graph-url` must be an origin like https://graph.facebook.com (got `{raw}`)"
            )));
        };
        let graph = format!("{origin}/{VERSION}");
        let verify_token = config.require("verify-token")?;
        if verify_token.chars().count() < MIN_VERIFY_TOKEN {
            return Err(PluginError::InvalidConfig(format!(
                "config field `verify-token` must have at least {MIN_VERIFY_TOKEN} characters"
            )));
        }
        Ok(Settings {
            graph,
            verify_token: verify_token.to_string(),
        })
    }
}

/// Graph's error body.
#[derive(Debug, Default, Deserialize)]
struct GraphError {
    error: ErrorDetail,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorDetail {
    message: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    code: Option<i64>,
    error_subcode: Option<i64>,
    fbtrace_id: Option<String>,
}

/// Sends `request`; every failure becomes the error the host acts on, its
/// message saying `what` was being done.
fn call(request: Request, what: &str) -> Result<Response, PluginError> {
    let response = request.send().context(what)?;
    if (200..300).contains(&response.status) {
        return Ok(response);
    }
    let Ok(GraphError { error }) = serde_json::from_slice::<GraphError>(&response.body) else {
        return response.error_for_status().context(what);
    };
    let message = format!(
        "{what}: HTTP {}: {} (type {}, code {}{}, fbtrace_id {})",
        response.status,
        error.message.as_deref().unwrap_or("no message"),
        error.kind.as_deref().unwrap_or("?"),
        error.code.map_or_else(|| "?".into(), |c| c.to_string()),
        error.error_subcode.map(|s| format!("/{s}")).unwrap_or_default(),
        error.fbtrace_id.as_deref().unwrap_or("?"),
    );
    // Graph's codes say more than its statuses (an expired token comes in a 400).
    Err(match error.code {
        Some(190) => PluginError::Unauthorized(message),
        Some(4 | 17 | 32 | 613) => PluginError::RateLimited(RateLimit {
            retry_after_ms: regain_ms(&response)
                .or_else(|| response.retry_after_ms())
                .unwrap_or(http::DEFAULT_RETRY_AFTER_MS),
            message,
        }),
        _ => match response.error_for_status() {
            Err(PluginError::Unauthorized(_)) => PluginError::Unauthorized(message),
            Err(PluginError::RateLimited(r)) => PluginError::RateLimited(RateLimit {
                retry_after_ms: r.retry_after_ms,
                message,
            }),
            Err(PluginError::Transient(_)) => PluginError::Transient(message),
            _ => PluginError::Permanent(message),
        },
    })
}

/// The longest `estimated_time_to_regain_access` (minutes) of the
/// `X-Business-Use-Case-Usage` header, in milliseconds, when it is above zero.
fn regain_ms(response: &Response) -> Option<u64> {
    #[derive(Deserialize)]
    struct Usage {
        estimated_time_to_regain_access: Option<u64>,
    }
    let header = response.header("x-business-use-case-usage")?;
    let usage: std::collections::HashMap<String, Vec<Usage>> = serde_json::from_str(header).ok()?;
    let minutes = usage
        .values()
        .flatten()
        .filter_map(|u| u.estimated_time_to_regain_access)
        .max()?;
    (minutes > 0).then(|| minutes.saturating_mul(60_000))
}

#[cfg(test)]
mod tests {
    use socialcrm_sdk::testkit::config;

    use super::*;

    // Natively: the host cannot run `describe` of a plugin whose allowed hosts
    // name a config field (it builds the HTTP policy from an empty account).
    #[test]
    fn describe_matches_the_manifest() {
        let d = Meta::describe();
        socialcrm_sdk::testkit::assert_describes(include_str!("../plugin.toml"), &d);
        assert_eq!(d.capabilities, Capabilities::WEBHOOK | Capabilities::REPLY);
    }

    #[test]
    fn settings_name_what_is_wrong() {
        let good = Settings::parse(&config(&[
            ("graph-url", "https://graph.facebook.com/"),
            ("verify-token", "a-long-enough-token"),
        ]))
        .unwrap();
        assert_eq!(good.graph, "https://graph.facebook.com/v21.0");
        let message = |c: Config| match Settings::parse(&c) {
            Err(PluginError::InvalidConfig(m)) => m,
            _ => panic!("expected invalid-config"),
        };
        assert!(message(config(&[])).contains("`graph-url` is required"));
        assert!(message(config(&[("graph-url", "https://graph.facebook.com")])).contains("`verify-token` is required"));
        assert!(message(config(&[("graph-url", "graph.facebook.com"), ("verify-token", "x")])).contains("origin"));
        assert!(
            message(config(&[
                ("graph-url", "https://graph.facebook.com"),
                ("verify-token", "short")
            ]))
            .contains("at least 16")
        );
    }

    #[test]
    fn regain_time_comes_from_the_usage_header() {
        let response = |value: &str| Response {
            status: 400,
            headers: vec![("x-business-use-case-usage".into(), value.into())],
            body: Vec::new(),
        };
        let usage = r#"{"1":[{"type":"pages","call_count":100,"estimated_time_to_regain_access":3},{"estimated_time_to_regain_access":7}]}"#;
        assert_eq!(regain_ms(&response(usage)), Some(420_000));
        assert_eq!(
            regain_ms(&response(r#"{"1":[{"estimated_time_to_regain_access":0}]}"#)),
            None
        );
        assert_eq!(regain_ms(&response("nonsense")), None);
    }
}
