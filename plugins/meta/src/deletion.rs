//! Meta's data-deletion request callback
//! (<https://developers.facebook.com/docs/development/create-an-app/app-dashboard/data-deletion-callback>):
//! when a person removes the app or asks for their data to go, Meta POSTs the
//! form field `signed_request`, `<signature>.<payload>` in base64url without
//! padding, the signature being the HMAC-SHA256 of the payload as sent, keyed
//! by the app secret. The payload names the person by their app-scoped id
//! (`user_id`). The host records the request and erases that identity; Meta
//! gets back where the person follows it: `{"url": ..., "confirmation_code": ...}`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use socialcrm_sdk::channel::{Header, WebhookRequest, WebhookResponse, WebhookResult};
use socialcrm_sdk::{PluginError, changes, http, log, signing};

use crate::webhook::{SECRET, answer};

/// The path below `/hooks/{channel}` to enter as the app's Data Deletion Request URL.
pub const PATH: &str = "/data-deletion";

/// The signed payload's fields that matter here.
#[derive(Deserialize)]
struct Payload {
    algorithm: String,
    user_id: String,
}

/// A forged, unsigned or unreadable request is answered (400 or 403) and
/// records nothing; an error would pause the account.
pub fn handle(request: &WebhookRequest) -> Result<WebhookResult, PluginError> {
    if request.method != "POST" {
        return Ok(answer(405, b"POST the signed_request".to_vec()));
    }
    let signed = std::str::from_utf8(&request.body)
        .ok()
        .and_then(|form| http::query_param(form, "signed_request"));
    let Some((mac, payload)) = signed.as_deref().and_then(split) else {
        log::warn("data-deletion request without a readable signed_request refused");
        return Ok(answer(400, b"missing signed_request".to_vec()));
    };
    // The signature covers the payload as sent, before decoding.
    if !signing::verify_hmac_sha256(SECRET, payload.as_bytes(), &mac)? {
        log::warn("data-deletion request with a wrong signature refused");
        return Ok(answer(403, b"bad signature".to_vec()));
    }
    let parsed = URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|json| serde_json::from_slice::<Payload>(&json).ok());
    let Some(Payload { algorithm, user_id }) = parsed else {
        log::warn("signed data-deletion request not understood");
        return Ok(answer(400, b"unreadable payload".to_vec()));
    };
    if !algorithm.eq_ignore_ascii_case("HMAC-SHA256") || user_id.is_empty() {
        log::warn(&format!(
            "data-deletion request with algorithm `{algorithm}` or no user_id refused"
        ));
        return Ok(answer(400, b"unexpected payload".to_vec()));
    }
    let ticket = changes::erasure_requested(&user_id);
    log::info("data-deletion request recorded");
    let body = serde_json::json!({"url": ticket.status_url, "confirmation_code": ticket.confirmation_code});
    Ok(WebhookResult {
        response: WebhookResponse {
            status: 200,
            headers: vec![Header {
                name: "content-type".into(),
                value: b"application/json".to_vec(),
            }],
            body: body.to_string().into_bytes(),
        },
        posts: Vec::new(),
    })
}

/// The decoded signature and the payload as sent.
fn split(signed: &str) -> Option<(Vec<u8>, &str)> {
    let (mac, payload) = signed.trim().split_once('.')?;
    Some((URL_SAFE_NO_PAD.decode(mac).ok()?, payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_request_splits_into_its_signature_and_payload() {
        let (mac, payload) = split("AAEC.eyJ1c2VyX2lkIjoiMSJ9").unwrap();
        assert_eq!(mac, [0, 1, 2]);
        assert_eq!(payload, "eyJ1c2VyX2lkIjoiMSJ9");
        for bad in ["", "no-dot", "not base64!.eyJ9", "AAEC=.eyJ9"] {
            assert!(split(bad).is_none(), "{bad}");
        }
    }
}
