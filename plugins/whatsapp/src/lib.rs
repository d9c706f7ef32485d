//! First-party WhatsApp Business channel, on Meta's Cloud API
//! (<https://developers.facebook.com/docs/whatsapp/cloud-api>): customers'
//! messages to the business number are pushed by the app's webhook
//! (`webhook.rs`, `inbound.rs`); answers go out from the number, as free text
//! within 24 hours of the customer's last message and as approved templates
//! at any time (`outbound.rs`, `templates.rs`). The host attaches the system
//! user's token and checks delivery signatures with the app secret; the
//! plugin never sees either.

mod graph;
mod inbound;
mod outbound;
mod settings;
mod templates;
mod webhook;

use serde::Deserialize;
use socialcrm_sdk::channel::{
    Capabilities, Connector, Descriptor, Outbound, Page, Sent, WebhookRequest, WebhookResult,
};
use socialcrm_sdk::http::Request;
use socialcrm_sdk::messaging::{ConversationTarget, MessageBody, Messaging, Template};
use socialcrm_sdk::{Config, PluginError, ResultExt, log};

use graph::call;
use settings::Settings;

struct WhatsApp;

impl Connector for WhatsApp {
    fn describe() -> Descriptor {
        Descriptor {
            network: "whatsapp".into(),
            capabilities: Capabilities::WEBHOOK | Capabilities::REPLY | Capabilities::DIRECT_MESSAGE,
            // Declared once, in plugin.toml: the host takes them from there.
            config_fields: Vec::new(),
        }
    }

    fn check(config: Config) -> Result<(), PluginError> {
        let settings = Settings::parse(&config)?;
        const WHAT: &str = "reading the business phone number";
        let request = Request::get(format!("{}/{}", settings.graph, settings.phone_number_id))
            .query("fields", "display_phone_number,verified_name");
        #[derive(Deserialize)]
        struct Number {
            display_phone_number: Option<String>,
            verified_name: Option<String>,
        }
        let number: Number = call(request, WHAT)?.json().context(WHAT)?;
        log::info(&format!(
            "the token sends as {} ({})",
            number.verified_name.as_deref().unwrap_or("?"),
            number.display_phone_number.as_deref().unwrap_or("?")
        ));
        Ok(())
    }

    fn poll(_config: Config, _state: String) -> Result<Page, PluginError> {
        Err(PluginError::Permanent(
            "whatsapp delivers messages by webhook; polling is not supported".into(),
        ))
    }

    fn handle_webhook(config: Config, request: WebhookRequest) -> Result<WebhookResult, PluginError> {
        let settings = Settings::parse(&config)?;
        webhook::handle(&request, &settings.verify_token, &settings.phone_number_id)
    }

    /// WhatsApp has no public posts: a message goes to a customer, quoting
    /// theirs when it answers one.
    fn send(config: Config, message: Outbound) -> Result<Sent, PluginError> {
        let settings = Settings::parse(&config)?;
        let target = message.in_reply_to.as_ref();
        // The author's handle is their wa_id, as is the conversation's id.
        let recipient = message.recipient.as_deref().or_else(|| {
            target.and_then(|t| {
                Some(t.author_handle.as_str())
                    .filter(|h| !h.is_empty())
                    .or(t.thread_id.as_deref())
            })
        });
        let Some(recipient) = recipient else {
            return Err(PluginError::Permanent(
                "whatsapp has no public posts: answer a customer's message or write to their number".into(),
            ));
        };
        let outgoing = outbound::text(recipient, &message.text, target.map(|t| t.external_id.as_str()))?;
        let id = outbound::send(&settings, outgoing)?;
        Ok(Sent {
            external_id: id,
            url: None,
        })
    }
}

impl Messaging for WhatsApp {
    fn templates(config: Config) -> Result<Vec<Template>, PluginError> {
        let settings = Settings::parse(&config)?;
        templates::list(&settings)
    }

    fn send_message(config: Config, target: ConversationTarget, body: MessageBody) -> Result<String, PluginError> {
        let settings = Settings::parse(&config)?;
        // The conversation is the customer's wa_id too.
        let recipient = if target.recipient.trim().is_empty() {
            &target.conversation_id
        } else {
            &target.recipient
        };
        let outgoing = match &body {
            MessageBody::Text(text) => outbound::text(recipient, text, target.in_reply_to.as_deref())?,
            // A template stands on its own: it is what opens a conversation again.
            MessageBody::Template(template) => outbound::template(recipient, template)?,
        };
        outbound::send(&settings, outgoing)
    }
}

socialcrm_sdk::export_channel!(WhatsApp, messaging);

#[cfg(test)]
mod tests {
    use super::*;

    // Natively: the host cannot run `describe` of a plugin whose allowed hosts
    // name a config field (it builds the HTTP policy from an empty account).
    #[test]
    fn describe_matches_the_manifest() {
        let d = WhatsApp::describe();
        let manifest = socialcrm_sdk::testkit::assert_describes(include_str!("../plugin.toml"), &d);
        assert_eq!(
            d.capabilities,
            Capabilities::WEBHOOK | Capabilities::REPLY | Capabilities::DIRECT_MESSAGE
        );
        let secrets: Vec<&str> = manifest
            .config
            .iter()
            .filter(|f| f.secret)
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(secrets, ["access-token", webhook::SECRET]);
    }

    #[test]
    fn what_cannot_be_sent_is_refused_before_any_request() {
        let config = socialcrm_sdk::testkit::config(&[
            ("graph-url", "https://graph.facebook.com"),
            ("phone-number-id", "106540352242922"),
            ("waba-id", "102290129340398"),
            ("verify-token", "a-long-enough-token"),
        ]);
        let broadcast = Outbound {
            text: "Our spring sale starts today".into(),
            in_reply_to: None,
            recipient: None,
        };
        let e = WhatsApp::send(config.clone(), broadcast).unwrap_err();
        assert!(matches!(e, PluginError::Permanent(m) if m.contains("no public posts")));
        let bad_number = Outbound {
            text: "Hello".into(),
            in_reply_to: None,
            recipient: Some("ann@example.com".into()),
        };
        let e = WhatsApp::send(config, bad_number).unwrap_err();
        assert!(matches!(e, PluginError::Permanent(m) if m.contains("not a WhatsApp number")));
    }
}
