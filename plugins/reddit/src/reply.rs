//! Answering a thing: what `POST /api/comment` takes and what it answers
//! (<https://www.reddit.com/dev/api#POST_api_comment>, `api_type=json`).
//!
//! Reddit reports refusals in a 200 body, `{"json":{"errors":[[code, message,
//! field]]}}`; its per-action rate limit is one of them (`RATELIMIT`, "try
//! again in 5 minutes"), with the wait also in `json.ratelimit` (seconds).

use serde::Deserialize;
use serde_json::Value;
use socialcrm_sdk::channel::Sent;
use socialcrm_sdk::{PluginError, RateLimit};

use crate::entities::{WEB, non_empty};

/// Reddit's limit on a comment's text.
pub const MAX_CHARS: usize = 10_000;
/// The wait after a `RATELIMIT` that names none.
const DEFAULT_WAIT_MS: u64 = 60_000;

#[derive(Debug, Deserialize)]
struct Answer {
    json: AnswerJson,
}

#[derive(Debug, Deserialize)]
struct AnswerJson {
    #[serde(default)]
    errors: Vec<Vec<Value>>,
    /// Seconds until the action is allowed again, sent with `RATELIMIT`.
    ratelimit: Option<f64>,
    data: Option<AnswerData>,
}

#[derive(Debug, Deserialize)]
struct AnswerData {
    #[serde(default)]
    things: Vec<Created>,
}

#[derive(Debug, Deserialize)]
struct Created {
    data: CreatedData,
}

#[derive(Debug, Deserialize)]
struct CreatedData {
    #[serde(default)]
    name: String,
    permalink: Option<String>,
}

/// `thing` when it is a fullname `/api/comment` answers: a comment (`t1_`),
/// a post (`t3_`) or a message (`t4_`).
pub fn target(thing: &str) -> Result<&str, PluginError> {
    let thing = thing.trim();
    let valid = ["t1_", "t3_", "t4_"].iter().any(|prefix| {
        thing
            .strip_prefix(prefix)
            .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric()))
    });
    if valid {
        Ok(thing)
    } else {
        Err(PluginError::Permanent(format!(
            "`{thing}` is not a Reddit comment, post or message fullname (t1_…, t3_…, t4_…)"
        )))
    }
}

/// The created comment of a 200 answer, or the error its `errors` carry.
pub fn sent(body: &[u8]) -> Result<Sent, PluginError> {
    let answer: Answer =
        serde_json::from_slice(body).map_err(|e| PluginError::Permanent(format!("malformed response body: {e}")))?;
    let json = answer.json;
    if let Some(first) = json.errors.first() {
        let part = |i: usize| first.get(i).and_then(Value::as_str).unwrap_or_default();
        let (code, message) = (part(0), part(1));
        let shown = format!("Reddit refused the comment: {code}: {message}");
        return Err(match code {
            "RATELIMIT" => PluginError::RateLimited(RateLimit {
                retry_after_ms: json
                    .ratelimit
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(|s| (s * 1000.0).ceil() as u64)
                    .or_else(|| wait_ms(message))
                    .unwrap_or(DEFAULT_WAIT_MS),
                message: shown,
            }),
            "USER_REQUIRED" => PluginError::Unauthorized(shown),
            _ => PluginError::Permanent(shown),
        });
    }
    let created = json
        .data
        .and_then(|d| d.things.into_iter().next())
        .map(|t| t.data)
        .filter(|d| !d.name.is_empty())
        .ok_or_else(|| PluginError::Permanent("Reddit's answer names no created comment".into()))?;
    Ok(Sent {
        external_id: created.name,
        url: non_empty(created.permalink).map(|p| format!("{WEB}/{}", p.trim_start_matches('/'))),
    })
}

/// The wait in a message such as "try again in 5 minutes." or "Take a break
/// for 30 seconds before trying again.".
fn wait_ms(message: &str) -> Option<u64> {
    let words: Vec<String> = message
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_ascii_lowercase())
        .collect();
    words.windows(2).find_map(|pair| {
        let n: u64 = pair[0].parse().ok()?;
        let unit = match pair[1].trim_end_matches('s') {
            "millisecond" | "ms" => 1,
            "second" | "sec" => 1_000,
            "minute" | "min" => 60_000,
            "hour" => 3_600_000,
            _ => return None,
        };
        Some(n.saturating_mul(unit))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_created_comment() {
        let body = br#"{"json":{"errors":[],"data":{"things":[{"kind":"t1","data":{"id":"k9","name":"t1_k9",
            "permalink":"/r/acme/comments/mcq/t/k9/","body":"Thanks","parent_id":"t1_par","link_id":"t3_mcq"}}]}}}"#;
        let sent = sent(body).unwrap();
        assert_eq!(sent.external_id, "t1_k9");
        assert_eq!(
            sent.url.as_deref(),
            Some("https://www.reddit.com/r/acme/comments/mcq/t/k9/")
        );
        let message = br#"{"json":{"errors":[],"data":{"things":[{"kind":"t4","data":{"id":"m1","name":"t4_m1"}}]}}}"#;
        assert_eq!(
            super::sent(message).unwrap().url,
            None,
            "a message reply has no public link"
        );
    }

    #[test]
    fn maps_reddit_errors() {
        let limited = |body: &str| match sent(body.as_bytes()) {
            Err(PluginError::RateLimited(r)) => (r.retry_after_ms, r.message),
            other => panic!("expected rate-limited, got {other:?}"),
        };
        let (ms, message) = limited(
            r#"{"json":{"errors":[["RATELIMIT","you are doing that too much. try again in 5 minutes.","ratelimit"]]}}"#,
        );
        assert_eq!(ms, 300_000);
        assert!(
            message.contains("RATELIMIT") && message.contains("5 minutes"),
            "{message}"
        );
        let (ms, _) = limited(
            r#"{"json":{"ratelimit":46.2,"errors":[["RATELIMIT","you are doing that too much. try again in 46 seconds.","ratelimit"]]}}"#,
        );
        assert_eq!(ms, 46_200, "json.ratelimit is exact");
        let (ms, _) = limited(
            r#"{"json":{"errors":[["RATELIMIT","Take a break for 1 minute before trying again.","ratelimit"]]}}"#,
        );
        assert_eq!(ms, 60_000);
        assert_eq!(
            limited(r#"{"json":{"errors":[["RATELIMIT","slow down",null]]}}"#).0,
            60_000
        );

        let locked = r#"{"json":{"errors":[["THREAD_LOCKED","Comments are locked.","parent"]]}}"#;
        assert!(
            matches!(sent(locked.as_bytes()), Err(PluginError::Permanent(m)) if m.contains("THREAD_LOCKED: Comments are locked."))
        );
        let login = r#"{"json":{"errors":[["USER_REQUIRED","Please log in to do that.",null]]}}"#;
        assert!(matches!(sent(login.as_bytes()), Err(PluginError::Unauthorized(_))));
        assert!(
            matches!(sent(br#"{"json":{"errors":[]}}"#), Err(PluginError::Permanent(m)) if m.contains("no created comment"))
        );
        assert!(matches!(sent(b"<html>"), Err(PluginError::Permanent(m)) if m.contains("malformed")));
    }

    #[test]
    fn targets_are_fullnames() {
        assert_eq!(target(" t1_k9 ").unwrap(), "t1_k9");
        assert_eq!(target("t3_mcq").unwrap(), "t3_mcq");
        assert_eq!(target("t4_m1").unwrap(), "t4_m1");
        for bad in ["k9", "t2_abc", "t1_", "t1_a/b", ""] {
            assert!(matches!(target(bad), Err(PluginError::Permanent(_))), "{bad}");
        }
    }
}
