//! How ingest stores its values: post kinds by name, and a plugin's
//! key-value map as a JSON object of base64 values (written by the commit,
//! read when an account is loaded).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use serde::{Deserialize, Serialize};

use crate::runtime::KvChanges;
use crate::runtime::types::{AspectMention, PostKind, SignalReading, SignalValue};

const KINDS: [PostKind; 7] = [
    PostKind::Post,
    PostKind::Mention,
    PostKind::Reply,
    PostKind::Comment,
    PostKind::Review,
    PostKind::DirectMessage,
    PostKind::Quote,
];

/// An RFC 3339 time in Unix milliseconds, if it is one.
pub(crate) fn rfc3339_ms(text: &str) -> Option<i64> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// Unix milliseconds as RFC 3339 (UTC).
pub(crate) fn ms_rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// The stored name of a post kind.
pub(crate) fn kind_name(kind: PostKind) -> &'static str {
    match kind {
        PostKind::Post => "post",
        PostKind::Mention => "mention",
        PostKind::Reply => "reply",
        PostKind::Comment => "comment",
        PostKind::Review => "review",
        PostKind::DirectMessage => "direct-message",
        PostKind::Quote => "quote",
    }
}

/// The post kind a stored name stands for.
pub(crate) fn kind_from_name(name: &str) -> PostKind {
    KINDS
        .into_iter()
        .find(|k| kind_name(*k) == name)
        .unwrap_or(PostKind::Post)
}

/// The stored key-value map with `changes` applied.
pub(crate) fn apply_kv(stored: &str, changes: &KvChanges) -> String {
    let mut map: BTreeMap<String, String> = serde_json::from_str(stored).unwrap_or_default();
    for (key, value) in changes {
        match value {
            Some(v) => map.insert(key.clone(), B64.encode(v)),
            None => map.remove(key),
        };
    }
    serde_json::to_string(&map).unwrap_or_else(|_| "{}".into())
}

/// The key-value map as stored; an entry that does not decode is left out.
pub(crate) fn decode_kv(stored: &str) -> BTreeMap<String, Vec<u8>> {
    let map: BTreeMap<String, String> = serde_json::from_str(stored).unwrap_or_default();
    map.into_iter()
        .filter_map(|(k, v)| B64.decode(v).ok().map(|v| (k, v)))
        .collect()
}

/// A custom signal's value for a post, as stored (`analyses.signals`) and
/// shown: one of `score`, `label` or `labels`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredReading {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
}

/// A post's mention of a taxonomy entry, as stored (`analyses.aspects`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StoredMention {
    pub entry: String,
    /// Byte offsets in the text, end exclusive.
    pub start: u32,
    pub end: u32,
    pub sentiment: Option<f32>,
}

/// An analysis's custom signals as stored.
pub(crate) fn signals_json(readings: &[SignalReading]) -> String {
    let stored: Vec<StoredReading> = readings
        .iter()
        .map(|r| {
            let mut s = StoredReading {
                name: r.name.clone(),
                score: None,
                label: None,
                labels: None,
            };
            match &r.value {
                SignalValue::Score(x) => s.score = Some(*x),
                SignalValue::Label(l) => s.label = Some(l.clone()),
                SignalValue::Labels(ls) => s.labels = Some(ls.clone()),
            }
            s
        })
        .collect();
    serde_json::to_string(&stored).unwrap_or_else(|_| "[]".into())
}

/// An analysis's taxonomy mentions as stored.
pub(crate) fn aspects_json(mentions: &[AspectMention]) -> String {
    let stored: Vec<StoredMention> = mentions
        .iter()
        .map(|m| StoredMention {
            entry: m.entry.clone(),
            start: m.start,
            end: m.end,
            sentiment: m.sentiment,
        })
        .collect();
    serde_json::to_string(&stored).unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_key_values_round_trip() {
        for kind in KINDS {
            assert_eq!(kind_from_name(kind_name(kind)), kind);
        }
        let changes: KvChanges = [("a".to_string(), Some(vec![0, 255])), ("gone".to_string(), None)].into();
        let stored = apply_kv(r#"{"gone":"AA==","kept":"AQ=="}"#, &changes);
        assert_eq!(
            decode_kv(&stored),
            BTreeMap::from([("a".to_string(), vec![0, 255]), ("kept".to_string(), vec![1])])
        );
        assert!(decode_kv("not json").is_empty());
    }

    #[test]
    fn signals_and_aspects_are_stored_as_json() {
        let readings = [
            SignalReading {
                name: "toxicity".into(),
                value: SignalValue::Score(0.25),
            },
            SignalReading {
                name: "tone".into(),
                value: SignalValue::Labels(vec!["sarcastic".into()]),
            },
        ];
        assert_eq!(
            signals_json(&readings),
            r#"[{"name":"toxicity","score":0.25},{"name":"tone","labels":["sarcastic"]}]"#
        );
        let mention = AspectMention {
            entry: "battery".into(),
            start: 4,
            end: 11,
            sentiment: Some(-0.5),
        };
        assert_eq!(
            aspects_json(&[mention]),
            r#"[{"entry":"battery","start":4,"end":11,"sentiment":-0.5}]"#
        );
    }
}
