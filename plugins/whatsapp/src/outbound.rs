//! Messages from the business number
//! (<https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages>):
//! `POST /{phone-number-id}/messages` with free text, which WhatsApp takes
//! only within 24 hours of the customer's last message, or with an approved
//! template, which it takes at any time.

use serde::Deserialize;
use serde_json::{Value, json};
use socialcrm_sdk::http::Request;
use socialcrm_sdk::messaging::TemplateMessage;
use socialcrm_sdk::{PluginError, ResultExt};

use crate::graph::call;
use crate::settings::Settings;

/// The most characters a text message's body takes.
pub const MAX_TEXT_CHARS: usize = 4096;

/// What to send, checked.
#[derive(Debug, PartialEq)]
pub struct Outgoing {
    /// The request body.
    pub body: Value,
    /// What sending it is called in errors: names the template.
    pub what: String,
}

/// A text message to `recipient`, quoting `in_reply_to` when set.
pub fn text(recipient: &str, text: &str, in_reply_to: Option<&str>) -> Result<Outgoing, PluginError> {
    let to = number(recipient)?;
    let text = text.trim();
    if text.is_empty() {
        return Err(PluginError::Permanent("nothing to send: the text is empty".into()));
    }
    let chars = text.chars().count();
    if chars > MAX_TEXT_CHARS {
        return Err(PluginError::Permanent(format!(
            "the text has {chars} characters; WhatsApp takes at most {MAX_TEXT_CHARS}"
        )));
    }
    let mut body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": to,
        "type": "text",
        "text": { "body": text },
    });
    if let Some(id) = in_reply_to.filter(|id| !id.trim().is_empty()) {
        body["context"] = json!({ "message_id": id });
    }
    Ok(Outgoing {
        body,
        what: "sending the message".into(),
    })
}

/// An approved template to `recipient`, its body's placeholders filled in order.
pub fn template(recipient: &str, template: &TemplateMessage) -> Result<Outgoing, PluginError> {
    let to = number(recipient)?;
    let (name, language) = (template.name.trim(), template.language.trim());
    if name.is_empty() || language.is_empty() {
        return Err(PluginError::Permanent(
            "a template message needs the template's name and language".into(),
        ));
    }
    let what = format!("sending the template `{name}` ({language})");
    for (n, value) in (1..).zip(&template.parameters) {
        // WhatsApp refuses these (code 132018); saying which one helps more.
        let problem = if value.trim().is_empty() {
            Some("is empty")
        } else if value.contains(['\n', '\t']) {
            Some("has a line break or a tab")
        } else if value.contains("     ") {
            Some("has more than 4 spaces in a row")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(PluginError::Permanent(format!(
                "{what}: parameter {{{{{n}}}}} {problem}, which WhatsApp does not take"
            )));
        }
    }
    let mut spec = json!({ "name": name, "language": { "code": language } });
    if !template.parameters.is_empty() {
        let parameters: Vec<Value> = template
            .parameters
            .iter()
            .map(|p| json!({ "type": "text", "text": p }))
            .collect();
        spec["components"] = json!([{ "type": "body", "parameters": parameters }]);
    }
    Ok(Outgoing {
        body: json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": to,
            "type": "template",
            "template": spec,
        }),
        what,
    })
}

/// Sends `outgoing` from the business number; the message's id (a wamid).
pub fn send(settings: &Settings, outgoing: Outgoing) -> Result<String, PluginError> {
    let what = outgoing.what.as_str();
    let request = Request::post(format!("{}/{}/messages", settings.graph, settings.phone_number_id))
        .json(&outgoing.body)
        .context(what)?;
    #[derive(Deserialize)]
    struct Sent {
        #[serde(default)]
        messages: Vec<Id>,
    }
    #[derive(Deserialize)]
    struct Id {
        id: String,
    }
    let sent: Sent = call(request, what)?.json().context(what)?;
    sent.messages
        .into_iter()
        .map(|m| m.id)
        .find(|id| !id.is_empty())
        .ok_or_else(|| PluginError::Permanent(format!("{what}: WhatsApp answered without a message id")))
}

/// A customer's number as WhatsApp takes it: international digits, without
/// `+` or spacing (a wa_id is already so).
pub fn number(recipient: &str) -> Result<String, PluginError> {
    let digits: String = recipient
        .trim()
        .trim_start_matches('+')
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    if !(7..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PluginError::Permanent(format!(
            "`{recipient}` is not a WhatsApp number: the customer's number in international format, such as 16505551234"
        )));
    }
    Ok(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template_message(name: &str, parameters: &[&str]) -> TemplateMessage {
        TemplateMessage {
            name: name.into(),
            language: "en_US".into(),
            parameters: parameters.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn text_bodies() {
        let out = text("16505551234", "  On its way!  ", None).unwrap();
        assert_eq!(
            out.body,
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234",
                "type": "text", "text": {"body": "On its way!"}})
        );
        let out = text("+1 (650) 555-1234", "Yes", Some("wamid.question")).unwrap();
        assert_eq!(out.body["to"], "16505551234");
        assert_eq!(out.body["context"], json!({"message_id": "wamid.question"}));
        assert!(matches!(text("16505551234", " ", None), Err(PluginError::Permanent(m)) if m.contains("empty")));
        let long = "x".repeat(MAX_TEXT_CHARS + 1);
        assert!(
            matches!(text("16505551234", &long, None), Err(PluginError::Permanent(m)) if m.contains("at most 4096"))
        );
    }

    #[test]
    fn template_bodies() {
        let out = template("16505551234", &template_message("order_update", &["Ann", "A-1001"])).unwrap();
        assert_eq!(
            out.body,
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234",
                "type": "template", "template": {"name": "order_update", "language": {"code": "en_US"},
                "components": [{"type": "body", "parameters": [
                    {"type": "text", "text": "Ann"}, {"type": "text", "text": "A-1001"}]}]}})
        );
        assert_eq!(out.what, "sending the template `order_update` (en_US)");
        // No parameters, no components.
        let out = template("16505551234", &template_message("hello_world", &[])).unwrap();
        assert_eq!(
            out.body["template"],
            json!({"name": "hello_world", "language": {"code": "en_US"}})
        );
    }

    #[test]
    fn templates_are_checked_before_sending() {
        let refused = |t: TemplateMessage| match template("16505551234", &t) {
            Err(PluginError::Permanent(m)) => m,
            other => panic!("expected permanent, got {other:?}"),
        };
        assert!(refused(template_message("", &[])).contains("name and language"));
        assert!(refused(template_message("order_update", &["Ann", " "])).contains("parameter {{2}} is empty"));
        assert!(refused(template_message("order_update", &["Ann\nBuyer"])).contains("{{1}} has a line break"));
        assert!(refused(template_message("order_update", &["a      b"])).contains("4 spaces"));
    }

    #[test]
    fn numbers() {
        assert_eq!(number("16505551234").unwrap(), "16505551234");
        assert_eq!(number("+49 170 123-4567").unwrap(), "491701234567");
        for bad in [
            "",
            "alice",
            "+1",
            "1650555123412345",
            "16505551234@c.us",
            "1650555\u{0661}234",
        ] {
            assert!(matches!(number(bad), Err(PluginError::Permanent(_))), "{bad}");
        }
    }
}
