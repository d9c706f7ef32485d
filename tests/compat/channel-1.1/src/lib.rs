//! A channel plugin of API 1.1.0: every call of the connector, the `log`, `kv`
//! and `signing` imports, and nothing newer. Only built for wasm32 (a
//! component's export names do not link natively).
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../wit-1.1.0",
    world: "channel",
});

use exports::socialcrm::plugin::connector::{
    Capabilities, ConfigField, Descriptor, FieldKind, Guest, Header, Outbound, Page, Sent, WebhookRequest,
    WebhookResponse, WebhookResult,
};
use socialcrm::plugin::types::{Author, Config, Direction, PluginError, Post, PostKind};
use socialcrm::plugin::{kv, log, signing};

/// The account secret webhook bodies are signed with; the plugin names it, the host computes.
const SECRET: &str = "webhook-secret";

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
            handle: "signer".into(),
            display_name: None,
            profile_url: None,
            avatar_url: None,
            bio: None,
            followers: None,
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

fn answer(status: u16, body: Vec<u8>, posts: Vec<Post>) -> WebhookResult {
    let headers = vec![Header {
        name: "content-type".into(),
        value: b"text/plain".to_vec(),
    }];
    WebhookResult {
        response: WebhookResponse { status, headers, body },
        posts,
    }
}

impl Guest for Compat {
    fn describe() -> Descriptor {
        let field = |name: &str, description: &str, secret| ConfigField {
            name: name.into(),
            description: description.into(),
            kind: FieldKind::Text,
            required: true,
            secret,
        };
        Descriptor {
            network: "compat".into(),
            capabilities: Capabilities::POLL | Capabilities::WEBHOOK | Capabilities::REPLY,
            config_fields: vec![
                field("greeting", "The text of every post", false),
                field(SECRET, "Webhook bodies are signed with it", true),
            ],
        }
    }

    /// The greeting is set, and the secret too: `hmac-sha256` fails with
    /// `invalid-config` when the account lacks it.
    fn check(config: Config) -> Result<(), PluginError> {
        greeting(&config)?;
        signing::hmac_sha256(SECRET, b"check").map(|_| ())
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

    /// Echoes a body whose `X-Signature` (hex HMAC-SHA256) verifies, as the
    /// answer and as one post; anything else gets 401 and no post.
    fn handle_webhook(_config: Config, request: WebhookRequest) -> Result<WebhookResult, PluginError> {
        let mac = request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("x-signature"))
            .and_then(|h| hex::decode(h.value.trim_ascii()).ok());
        let verified = mac.map_or(Ok(false), |mac| {
            signing::verify_hmac_sha256(SECRET, &request.body, &mac)
        })?;
        // A forged or unsigned call is answered, not raised: an error would pause the account.
        if !verified {
            log::write(log::Level::Warn, "unsigned or forged webhook call refused");
            return Ok(answer(401, b"bad signature".to_vec(), Vec::new()));
        }
        let text = String::from_utf8_lossy(&request.body).into_owned();
        Ok(answer(200, request.body, vec![post("hook".into(), text)]))
    }

    fn send(_config: Config, message: Outbound) -> Result<Sent, PluginError> {
        Ok(Sent {
            external_id: format!("sent-{}", message.text.len()),
            url: None,
        })
    }
}

export!(Compat);
