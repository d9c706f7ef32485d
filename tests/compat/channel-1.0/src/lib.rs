//! A channel plugin of API 1.0.0: every call of the connector, the `log` and
//! `kv` imports, and nothing newer. Only built for wasm32 (a component's
//! export names do not link natively).
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../wit-1.0.0",
    world: "channel",
});

use exports::socialcrm::plugin::connector::{
    Capabilities, ConfigField, Descriptor, FieldKind, Guest, Header, Outbound, Page, Sent, WebhookRequest,
    WebhookResponse, WebhookResult,
};
use socialcrm::plugin::types::{Author, Config, Direction, PluginError, Post, PostKind};
use socialcrm::plugin::{kv, log};

struct Compat;

fn greeting(config: &Config) -> Result<String, PluginError> {
    config
        .iter()
        .find(|e| e.name == "greeting")
        .map(|e| e.value.clone())
        .ok_or_else(|| PluginError::InvalidConfig("`greeting` is required".into()))
}

fn post(id: String, text: String) -> Post {
    Post {
        external_id: id,
        kind: PostKind::Mention,
        direction: Direction::Inbound,
        author: Author {
            external_id: "u1".into(),
            handle: "old-timer".into(),
            display_name: Some("Old Timer".into()),
            profile_url: None,
            avatar_url: None,
            bio: None,
            followers: Some(1),
            fields: Vec::new(),
        },
        text,
        url: None,
        thread_id: None,
        in_reply_to: None,
        created_at: "2026-01-01T00:00:00Z".into(),
        language: Some("en".into()),
        raw: "{}".into(),
    }
}

impl Guest for Compat {
    fn describe() -> Descriptor {
        Descriptor {
            network: "compat".into(),
            capabilities: Capabilities::POLL | Capabilities::WEBHOOK | Capabilities::REPLY,
            config_fields: vec![ConfigField {
                name: "greeting".into(),
                description: "The text of every post".into(),
                kind: FieldKind::Text,
                required: true,
                secret: false,
            }],
        }
    }

    fn check(config: Config) -> Result<(), PluginError> {
        greeting(&config).map(|_| ())
    }

    /// One post per poll, numbered by the state; the count of polls lives in kv.
    fn poll(config: Config, state: String) -> Result<Page, PluginError> {
        let text = greeting(&config)?;
        let n: u64 = if state.is_empty() {
            0
        } else {
            state
                .parse()
                .map_err(|_| PluginError::Permanent(format!("bad state {state:?}")))?
        };
        let polls = kv::get("polls")
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
        kv::set("polls", (polls + 1).to_string().as_bytes()).map_err(PluginError::Transient)?;
        log::write(log::Level::Info, &format!("poll {n}"));
        Ok(Page {
            posts: vec![post(format!("c{n}"), format!("{text} {n}"))],
            state: (n + 1).to_string(),
            has_more: n + 1 < 3,
        })
    }

    /// Echoes the body as the answer, and as one post.
    fn handle_webhook(_config: Config, request: WebhookRequest) -> Result<WebhookResult, PluginError> {
        let text = String::from_utf8_lossy(&request.body).into_owned();
        Ok(WebhookResult {
            response: WebhookResponse {
                status: 200,
                headers: vec![Header {
                    name: "content-type".into(),
                    value: b"text/plain".to_vec(),
                }],
                body: request.body,
            },
            posts: vec![post("hook".into(), text)],
        })
    }

    fn send(_config: Config, message: Outbound) -> Result<Sent, PluginError> {
        Ok(Sent {
            external_id: format!("sent-{}", message.text.len()),
            url: None,
        })
    }
}

export!(Compat);
