//! The app's webhook (<https://developers.facebook.com/docs/graph-api/webhooks/getting-started>,
//! <https://developers.facebook.com/docs/whatsapp/cloud-api/guides/set-up-webhooks>):
//! the subscription check, the `X-Hub-Signature-256` of each delivery, and
//! what a signed delivery reports to the host.

use socialcrm_sdk::channel::{Header, WebhookRequest, WebhookResponse, WebhookResult};
use socialcrm_sdk::{PluginError, conversations, http, log, signing, verification};

use crate::inbound::{self, Note};

/// The account secret deliveries are signed with.
pub const SECRET: &str = "app-secret";
const SIGNATURE_HEADER: &str = "x-hub-signature-256";

pub fn handle(
    request: &WebhookRequest,
    verify_token: &str,
    phone_number_id: &str,
) -> Result<WebhookResult, PluginError> {
    match request.method.as_str() {
        "GET" => Ok(subscribe(&request.query, verify_token)),
        "POST" => deliver(request, phone_number_id),
        _ => Ok(answer(405, b"GET or POST".to_vec())),
    }
}

/// `GET ?hub.mode=subscribe&hub.verify_token=T&hub.challenge=C`: `C` as plain
/// text when `T` is the account's verify token, else 403.
fn subscribe(query: &str, verify_token: &str) -> WebhookResult {
    let mode = http::query_param(query, "hub.mode");
    let token = http::query_param(query, "hub.verify_token").unwrap_or_default();
    let challenge = http::query_param(query, "hub.challenge").unwrap_or_default();
    if mode.as_deref() == Some("subscribe") && constant_time_eq(token.as_bytes(), verify_token.as_bytes()) {
        log::info("webhook subscription verified");
        answer(200, challenge.into_bytes())
    } else {
        log::warn("webhook subscription check with a wrong verify token refused");
        answer(403, b"verify token mismatch".to_vec())
    }
}

fn deliver(request: &WebhookRequest, phone_number_id: &str) -> Result<WebhookResult, PluginError> {
    let mac = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(SIGNATURE_HEADER))
        .and_then(|h| std::str::from_utf8(&h.value).ok())
        .and_then(|v| v.trim().strip_prefix("sha256="))
        .and_then(|hex| hex::decode(hex).ok());
    // A forged or unsigned call is answered, not raised: an error would pause the account.
    let Some(mac) = mac else {
        log::warn("webhook delivery without a readable X-Hub-Signature-256 refused");
        return Ok(answer(401, b"missing signature".to_vec()));
    };
    if !signing::verify_hmac_sha256(SECRET, &request.body, &mac)? {
        log::warn("webhook delivery with a wrong X-Hub-Signature-256 refused");
        return Ok(answer(403, b"bad signature".to_vec()));
    }
    let delivery = match inbound::parse(&request.body, phone_number_id) {
        Ok(delivery) => delivery,
        Err(e) => {
            log::warn(&format!("signed webhook delivery not understood: {e}"));
            return Ok(answer(400, b"unreadable payload".to_vec()));
        }
    };
    for note in &delivery.notes {
        match note {
            Note::Info(line) => log::info(line),
            Note::Warn(line) => log::warn(line),
        }
    }
    // WhatsApp delivers only to the number's owner who proved it: the number is evidence.
    for post in &delivery.posts {
        for field in post.author.fields.iter().filter(|f| f.name == inbound::PHONE_FIELD) {
            verification::verified_field(&post.author, field);
        }
    }
    for (conversation, open_until) in &delivery.windows {
        conversations::reply_window(conversation, open_until);
    }
    let mut result = answer(200, b"EVENT_RECEIVED".to_vec());
    result.posts = delivery.posts;
    Ok(result)
}

fn answer(status: u16, body: Vec<u8>) -> WebhookResult {
    WebhookResult {
        response: WebhookResponse {
            status,
            headers: vec![Header {
                name: "content-type".into(),
                value: b"text/plain".to_vec(),
            }],
            body,
        },
        posts: Vec::new(),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_takes_every_byte() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
