//! Account Activity webhooks (<https://docs.x.com/x-api/enterprise-gnip-2.0/fundamentals/account-activity>):
//! the CRC challenge, the delivery signature and `tweet_create_events`.
//! Both HMACs are keyed by the app's consumer secret, which only the host reads.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use socialcrm_sdk::channel::{Header, WebhookRequest, WebhookResponse, WebhookResult};
use socialcrm_sdk::{Author, Direction, PluginError, Post, PostKind, ProfileField, http, log, signing};

use crate::entities::{status_url, unescape};

/// The account secret both HMACs are keyed by.
const SECRET: &str = "consumer-secret";
const SIGNATURE_HEADER: &str = "x-twitter-webhooks-signature";

pub fn handle(request: &WebhookRequest, brand_id: &str) -> Result<WebhookResult, PluginError> {
    match request.method.as_str() {
        "GET" => crc(&request.query),
        "POST" => events(request, brand_id),
        _ => Ok(answer(405, "text/plain", b"GET or POST".to_vec())),
    }
}

/// `GET ?crc_token=T` → `{"response_token":"sha256=" + base64(HMAC(consumer secret, T))}`.
///
/// The CRC and the delivery signature share one key, so the CRC would sign
/// any payload for anyone who asks. Only tokens of the alphabet X uses are
/// answered: no JSON value can be written in it, so no answer is ever a
/// valid signature of a delivery.
fn crc(query: &str) -> Result<WebhookResult, PluginError> {
    let Some(token) = http::query_param(query, "crc_token").filter(|t| !t.is_empty()) else {
        return Ok(answer(400, "text/plain", b"crc_token is missing".to_vec()));
    };
    if !is_crc_token(&token) {
        log::warn("webhook CRC with a token outside its alphabet refused");
        return Ok(answer(400, "text/plain", b"crc_token is not a CRC token".to_vec()));
    }
    let mac = signing::hmac_sha256(SECRET, token.as_bytes())?;
    let body = serde_json::json!({ "response_token": format!("sha256={}", STANDARD.encode(mac)) });
    Ok(answer(200, "application/json", body.to_string().into_bytes()))
}

fn events(request: &WebhookRequest, brand_id: &str) -> Result<WebhookResult, PluginError> {
    let signature = request
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(SIGNATURE_HEADER))
        .and_then(|h| std::str::from_utf8(&h.value).ok())
        .and_then(|v| v.trim().strip_prefix("sha256="))
        .and_then(|b64| STANDARD.decode(b64).ok());
    // A forged or unsigned call is answered, not raised: an error would pause the account.
    let Some(mac) = signature else {
        log::warn("webhook delivery without a readable signature refused");
        return Ok(answer(401, "text/plain", b"missing signature".to_vec()));
    };
    if !signing::verify_hmac_sha256(SECRET, &request.body, &mac)? {
        log::warn("webhook delivery with a wrong signature refused");
        return Ok(answer(403, "text/plain", b"bad signature".to_vec()));
    }
    let posts = match parse_events(&request.body, brand_id) {
        Ok(posts) => posts,
        Err(e) => {
            log::warn(&format!("signed webhook delivery not understood: {e}"));
            return Ok(answer(400, "text/plain", b"unreadable payload".to_vec()));
        }
    };
    Ok(WebhookResult {
        response: WebhookResponse {
            status: 200,
            headers: Vec::new(),
            body: Vec::new(),
        },
        posts,
    })
}

/// 1 to 128 characters of `A-Z a-z 0-9 + / = _ -`.
fn is_crc_token(token: &str) -> bool {
    (1..=128).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'_' | b'-'))
}

fn answer(status: u16, content_type: &str, body: Vec<u8>) -> WebhookResult {
    WebhookResult {
        response: WebhookResponse {
            status,
            headers: vec![Header {
                name: "content-type".into(),
                value: content_type.as_bytes().to_vec(),
            }],
            body,
        },
        posts: Vec::new(),
    }
}

/// An Account Activity delivery; other event kinds (likes, follows, DMs) are not posts here.
#[derive(Debug, Deserialize)]
struct Events {
    #[serde(default)]
    tweet_create_events: Vec<serde_json::Value>,
}

/// A v1.1 post as Account Activity delivers it.
#[derive(Debug, Deserialize)]
struct Status {
    id_str: String,
    text: Option<String>,
    full_text: Option<String>,
    extended_tweet: Option<Extended>,
    created_at: String,
    user: StatusUser,
    in_reply_to_status_id_str: Option<String>,
    quoted_status_id_str: Option<String>,
    retweeted_status: Option<serde_json::Value>,
    lang: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Extended {
    full_text: String,
}

#[derive(Debug, Deserialize)]
struct StatusUser {
    id_str: String,
    screen_name: String,
    name: Option<String>,
    description: Option<String>,
    profile_image_url_https: Option<String>,
    followers_count: Option<u64>,
    location: Option<String>,
    url: Option<String>,
}

fn parse_events(body: &[u8], brand_id: &str) -> Result<Vec<Post>, String> {
    let events: Events = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut posts = Vec::new();
    for raw in events.tweet_create_events {
        let status: Status = serde_json::from_value(raw.clone()).map_err(|e| format!("a post: {e}"))?;
        // A retweet repeats a post, it says nothing new.
        if status.retweeted_status.is_some() {
            continue;
        }
        let created_at = rfc3339(&status.created_at)
            .ok_or_else(|| format!("post {} has the time `{}`", status.id_str, status.created_at))?;
        let text = status
            .extended_tweet
            .map(|e| e.full_text)
            .or(status.full_text)
            .or(status.text)
            .unwrap_or_default();
        let own = status.user.id_str == brand_id;
        let kind = if status.quoted_status_id_str.is_some() {
            PostKind::Quote
        } else if status.in_reply_to_status_id_str.is_some() {
            PostKind::Reply
        } else if own {
            PostKind::Post
        } else {
            PostKind::Mention
        };
        let user = status.user;
        let fields = [("website", user.url), ("location", user.location)]
            .into_iter()
            .filter_map(|(name, value)| {
                value.filter(|v| !v.is_empty()).map(|value| ProfileField {
                    name: name.into(),
                    value,
                })
            })
            .collect();
        posts.push(Post {
            url: Some(status_url(&status.id_str)),
            external_id: status.id_str,
            kind,
            direction: if own { Direction::Outbound } else { Direction::Inbound },
            author: Author {
                profile_url: Some(format!("https://x.com/{}", user.screen_name)),
                external_id: user.id_str,
                handle: user.screen_name,
                display_name: user.name,
                avatar_url: user.profile_image_url_https,
                bio: user.description.filter(|d| !d.is_empty()),
                followers: user.followers_count,
                fields,
            },
            text: unescape(&text),
            // v1.1 has no conversation id.
            thread_id: None,
            in_reply_to: status.in_reply_to_status_id_str,
            created_at,
            language: status.lang.filter(|l| !l.is_empty() && l != "und"),
            raw: raw.to_string(),
        });
    }
    Ok(posts)
}

/// v1.1's `Wed Oct 10 20:19:24 +0000 2018` as RFC 3339 (`2018-10-10T20:19:24+00:00`).
fn rfc3339(text: &str) -> Option<String> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = text.split_ascii_whitespace().collect();
    let [_, month, day, time, offset, year] = parts.as_slice() else {
        return None;
    };
    let month = MONTHS.iter().position(|m| m == month)? + 1;
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let day: u32 = day.parse().ok().filter(|d| (1..=31).contains(d))?;
    let clock: Vec<&str> = time.split(':').collect();
    let offset_ok = offset.len() == 5 && offset.starts_with(['+', '-']) && digits(&offset[1..], 4);
    if !digits(year, 4) || clock.len() != 3 || !clock.iter().all(|c| digits(c, 2)) || !offset_ok {
        return None;
    }
    Some(format!(
        "{year}-{month:02}-{day:02}T{time}{}:{}",
        &offset[..3],
        &offset[3..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_v1_times() {
        assert_eq!(
            rfc3339("Wed Oct 10 20:19:24 +0000 2018").as_deref(),
            Some("2018-10-10T20:19:24+00:00")
        );
        assert_eq!(
            rfc3339("Fri Mar 01 01:02:03 -0530 2024").as_deref(),
            Some("2024-03-01T01:02:03-05:30")
        );
        for bad in [
            "",
            "2018-10-10T20:19:24Z",
            "Wed Foo 10 20:19:24 +0000 2018",
            "Wed Oct 10 20:19 +0000 2018",
        ] {
            assert_eq!(rfc3339(bad), None, "{bad}");
        }
    }

    #[test]
    fn crc_tokens_are_of_their_alphabet_only() {
        assert!(is_crc_token("Nm0yZWQ3YjMtOTI2Yy00MjY0LWI3ZmMtYzU4M2M2Mzg3ZDc3"));
        assert!(is_crc_token("a+b/c=_-"));
        assert!(is_crc_token(&"a".repeat(128)));
        for bad in ["", "{}", "[1]", "\"x\"", "1 2", "a.b", &"a".repeat(129)] {
            assert!(!is_crc_token(bad), "{bad}");
        }
    }

    #[test]
    fn maps_tweet_create_events() {
        let body = br#"{"for_user_id":"783214","tweet_create_events":[
          {"id_str":"1050118621198921728","created_at":"Wed Oct 10 20:19:24 +0000 2018","text":"@acme short",
           "extended_tweet":{"full_text":"@acme a longer text &amp; more"},
           "user":{"id_str":"6253282","screen_name":"api","name":"X API","followers_count":6133636,"url":null},
           "in_reply_to_status_id_str":null,"lang":"en"},
          {"id_str":"2","created_at":"Wed Oct 10 20:19:25 +0000 2018","text":"RT","user":{"id_str":"1","screen_name":"a"},
           "retweeted_status":{"id_str":"1"}},
          {"id_str":"3","created_at":"Wed Oct 10 20:19:26 +0000 2018","text":"thanks","user":{"id_str":"783214","screen_name":"acme"},
           "in_reply_to_status_id_str":"1050118621198921728"}],
          "users":{"6253282":{"id":"6253282","screen_name":"api"}}}"#;
        let posts = parse_events(body, "783214").unwrap();
        assert_eq!(posts.len(), 2, "the retweet is left out");
        assert_eq!(posts[0].external_id, "1050118621198921728");
        assert_eq!(posts[0].kind, PostKind::Mention);
        assert_eq!(posts[0].text, "@acme a longer text & more");
        assert_eq!(posts[0].author.external_id, "6253282");
        assert_eq!(posts[0].author.handle, "api");
        assert_eq!(posts[0].created_at, "2018-10-10T20:19:24+00:00");
        assert_eq!(
            (posts[1].kind, posts[1].direction),
            (PostKind::Reply, Direction::Outbound)
        );
        assert_eq!(parse_events(b"{}", "1").unwrap().len(), 0);
        assert!(parse_events(b"{\"tweet_create_events\":[{}]}", "1").is_err());
    }
}
