//! Where polling goes on: the poll state, the order of ids and the `min_id` of the previous page.

use std::cmp::Ordering;

use serde::Deserialize;
use socialcrm_sdk::PluginError;
use socialcrm_sdk::http;

/// The poll state, `{"newest":"<id>"}`: the newest notification id seen.
/// Later polls ask for `min_id=<newest>`, the page right above it.
#[derive(Debug, PartialEq, Eq, Deserialize)]
pub struct State {
    pub newest: String,
}

impl State {
    /// `None` on the first poll (empty state).
    pub fn parse(text: &str) -> Result<Option<State>, PluginError> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        serde_json::from_str::<State>(text)
            .ok()
            .filter(|s| !s.newest.trim().is_empty())
            .map(Some)
            .ok_or_else(|| {
                let shown: String = text.chars().take(100).collect();
                PluginError::Permanent(format!(
                    "unreadable poll state `{shown}`: expected {{\"newest\":\"<notification id>\"}}"
                ))
            })
    }

    pub fn encode(newest: &str) -> String {
        serde_json::json!({ "newest": newest }).to_string()
    }
}

/// Orders ids as the server does. Mastodon's are numeric strings of varying
/// length ("9" < "10"), so they compare as numbers, without a width limit.
/// Other servers' ids (ULIDs, flake ids) have a fixed width and sort as text.
pub fn cmp_ids(a: &str, b: &str) -> Ordering {
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if numeric(a) && numeric(b) {
        let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    } else {
        a.cmp(b)
    }
}

/// The newest id after a non-empty page: the `min_id` of its `rel="prev"` link
/// when given (Mastodon sets it to the newest id listed), else the highest id
/// listed; never behind `since`, so a confused server cannot send us back.
pub fn advance(since: Option<&str>, link_prev: Option<&str>, ids: &[&str]) -> Option<String> {
    let seen = link_prev.or_else(|| ids.iter().copied().max_by(|a, b| cmp_ids(a, b)))?;
    let newest = match since {
        Some(since) if cmp_ids(seen, since) == Ordering::Less => since,
        _ => seen,
    };
    Some(newest.to_string())
}

/// The `min_id` of a page's `rel="prev"` link
/// (`https://…/api/v1/notifications?min_id=123&…`).
pub fn prev_min_id(prev: &str) -> Option<String> {
    let query = prev.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    http::query_param(query, "min_id").filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_compare_as_numbers() {
        assert_eq!(cmp_ids("9", "10"), Ordering::Less);
        assert_eq!(cmp_ids("999999999", "1000000000"), Ordering::Less);
        assert_eq!(cmp_ids("632508369", "25"), Ordering::Greater);
        assert_eq!(cmp_ids("0042", "42"), Ordering::Equal);
        assert_eq!(
            cmp_ids("117440822751580347", "99999999999999999999999"),
            Ordering::Less,
            "no overflow past u64"
        );
        assert_eq!(
            cmp_ids("01F8MH1H7YV1Z7D2C8K2730QBF", "01F8MH5NBDF2MV7CTC4Q5128HF"),
            Ordering::Less
        );
    }

    #[test]
    fn state_round_trips_and_names_garbage() {
        assert_eq!(State::parse("").unwrap(), None);
        let encoded = State::encode("1000000007");
        assert_eq!(encoded, r#"{"newest":"1000000007"}"#);
        assert_eq!(
            State::parse(&encoded).unwrap(),
            Some(State {
                newest: "1000000007".into()
            })
        );
        for bad in ["garbage", r#"{"newest":""}"#, r#"{"cursor":"1"}"#, "[]"] {
            assert!(
                matches!(State::parse(bad), Err(PluginError::Permanent(m)) if m.contains("unreadable poll state")),
                "{bad}"
            );
        }
    }

    #[test]
    fn reads_the_prev_link() {
        let prev_min_id = |link: &str| http::link(link, "prev").and_then(prev_min_id);
        let link = "<https://m.example/api/v1/notifications?limit=40&max_id=999999990&types%5B%5D=mention>; rel=\"next\", \
                    <https://m.example/api/v1/notifications?limit=40&min_id=1000000002&types%5B%5D=mention>; rel=\"prev\"";
        assert_eq!(prev_min_id(link).as_deref(), Some("1000000002"));
        assert_eq!(
            prev_min_id("<https://m.example/a?min_id=7>; rel=prev").as_deref(),
            Some("7")
        );
        assert_eq!(prev_min_id("<https://m.example/a?max_id=7>; rel=\"next\""), None);
        assert_eq!(prev_min_id("<https://m.example/a?since_id=7>; rel=\"prev\""), None);
        assert_eq!(prev_min_id("<https://m.example/a?min_id=>; rel=\"prev\""), None);
        assert_eq!(prev_min_id("not a link header"), None);
        assert_eq!(prev_min_id("<https://m.example/a?min_id=7"), None);
    }

    #[test]
    fn advances_numerically_and_never_back() {
        let ids = ["1000000001", "999999999", "25", "9"];
        assert_eq!(advance(None, None, &ids).as_deref(), Some("1000000001"));
        assert_eq!(
            advance(Some("5"), Some("1000000002"), &ids).as_deref(),
            Some("1000000002")
        );
        assert_eq!(
            advance(Some("2000000000"), Some("7"), &ids).as_deref(),
            Some("2000000000")
        );
        assert_eq!(advance(None, None, &[]), None);
    }
}
