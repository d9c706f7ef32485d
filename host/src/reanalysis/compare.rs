//! The shadow comparison of two versions of an analyzer, or of two analyzers
//! that produce the same signal, over the posts both analysed: how often the sentiment label and the top intent agree, what
//! each label became (a confusion matrix), label counts on each side, the
//! mean sentiment change, and examples of posts that changed. Computed on
//! demand: one grouped query (one row per combination of labels, so the
//! result is small whatever the number of posts) and one for the examples.

use std::collections::BTreeMap;

use serde::Serialize;

use super::ReanalysisError;
use crate::store::Db;
pub use crate::store::reanalysis::Example;
use crate::store::reanalysis::{Side, changed, pairings};

/// How often one label became another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LabelPair {
    /// `None`: no label (or no intent).
    pub from: Option<String>,
    pub to: Option<String>,
    pub posts: i64,
}

/// Posts with a label under each version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LabelCount {
    pub label: Option<String>,
    pub from: i64,
    pub to: i64,
}

/// Two versions of one analyzer, or two analyzers, side by side.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Comparison {
    /// The analyzer compared from.
    pub plugin: String,
    /// The analyzer compared to: `plugin` itself for two of its versions.
    pub to_plugin: String,
    pub from_version: String,
    pub to_version: String,
    /// Posts analysed by both versions.
    pub compared: i64,
    /// Posts whose label is the same under both (no label on both counts as the same).
    pub label_agreement: i64,
    /// Posts whose top intent (highest confidence, ties by name) is the same.
    pub intent_agreement: i64,
    /// Label `from` → label `to`, most posts first.
    pub labels_confusion: Vec<LabelPair>,
    /// Top intent `from` → `to`, most posts first.
    pub intents_confusion: Vec<LabelPair>,
    /// Per label, by label.
    pub labels: Vec<LabelCount>,
    /// Per top intent, by intent.
    pub intents: Vec<LabelCount>,
    /// Mean of (new − old) sentiment over posts both scored, rounded to 6 decimals.
    pub mean_sentiment_delta: Option<f64>,
    /// Posts both scored.
    pub sentiment_compared: i64,
    /// Up to the requested number of changed posts, newest first.
    pub examples: Vec<Example>,
}

impl Comparison {
    /// Share of posts whose label agrees, in [0, 1] (1 with nothing compared).
    pub fn label_agreement_rate(&self) -> f64 {
        rate(self.label_agreement, self.compared)
    }

    pub fn intent_agreement_rate(&self) -> f64 {
        rate(self.intent_agreement, self.compared)
    }
}

fn rate(n: i64, of: i64) -> f64 {
    if of == 0 { 1.0 } else { n as f64 / of as f64 }
}

/// Compares versions `from` and `to` of `plugin` over the posts both analysed,
/// with up to `examples` changed posts.
pub async fn compare(
    db: &Db,
    plugin: &str,
    from: &str,
    to: &str,
    examples: i64,
) -> Result<Comparison, ReanalysisError> {
    compare_analyzers(db, (plugin, from), (plugin, to), examples).await
}

/// Compares analyzer `from` with analyzer `to`, each a (plugin, version),
/// over the posts both analysed, with up to `examples` changed posts.
pub async fn compare_analyzers(
    db: &Db,
    from: Side<'_>,
    to: Side<'_>,
    examples: i64,
) -> Result<Comparison, ReanalysisError> {
    let grouped = pairings(db, from, to).await?;
    let mut c = Comparison {
        plugin: from.0.to_string(),
        to_plugin: to.0.to_string(),
        from_version: from.1.to_string(),
        to_version: to.1.to_string(),
        compared: 0,
        label_agreement: 0,
        intent_agreement: 0,
        labels_confusion: Vec::new(),
        intents_confusion: Vec::new(),
        labels: Vec::new(),
        intents: Vec::new(),
        mean_sentiment_delta: None,
        sentiment_compared: 0,
        examples: Vec::new(),
    };
    type Key = (Option<String>, Option<String>);
    let (mut labels, mut intents) = (BTreeMap::<Key, i64>::new(), BTreeMap::<Key, i64>::new());
    let mut delta = 0.0;
    for row in grouped {
        let label: Key = (row.from_label, row.to_label);
        let intent: Key = (row.from_intent, row.to_intent);
        let posts = row.posts;
        c.compared += posts;
        if label.0 == label.1 {
            c.label_agreement += posts;
        }
        if intent.0 == intent.1 {
            c.intent_agreement += posts;
        }
        *labels.entry(label).or_default() += posts;
        *intents.entry(intent).or_default() += posts;
        delta += row.delta.unwrap_or(0.0);
        c.sentiment_compared += row.deltas;
    }
    if c.sentiment_compared > 0 {
        c.mean_sentiment_delta = Some((delta / c.sentiment_compared as f64 * 1e6).round() / 1e6);
    }
    (c.labels_confusion, c.labels) = tally(labels);
    (c.intents_confusion, c.intents) = tally(intents);

    c.examples = changed(db, from, to, examples).await?;
    Ok(c)
}

/// The confusion matrix (most posts first, then by labels) and the per-label
/// counts on each side (by label) of `(from, to) → posts`.
fn tally(pairs: BTreeMap<(Option<String>, Option<String>), i64>) -> (Vec<LabelPair>, Vec<LabelCount>) {
    let mut counts = BTreeMap::<Option<String>, (i64, i64)>::new();
    for ((from, to), posts) in &pairs {
        counts.entry(from.clone()).or_default().0 += posts;
        counts.entry(to.clone()).or_default().1 += posts;
    }
    let mut confusion: Vec<LabelPair> = pairs
        .into_iter()
        .map(|((from, to), posts)| LabelPair { from, to, posts })
        .collect();
    // Stable: equal counts keep the label order of the map.
    confusion.sort_by_key(|p| std::cmp::Reverse(p.posts));
    let counts = counts
        .into_iter()
        .map(|(label, (from, to))| LabelCount { label, from, to })
        .collect();
    (confusion, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tallies_confusion_and_counts() {
        let s = |x: &str| Some(x.to_string());
        let pairs = BTreeMap::from([
            ((s("negative"), s("negative")), 3),
            ((s("neutral"), s("negative")), 1),
            ((s("positive"), None), 2),
        ]);
        let (confusion, counts) = tally(pairs);
        assert_eq!(
            confusion[0],
            LabelPair {
                from: s("negative"),
                to: s("negative"),
                posts: 3
            }
        );
        assert_eq!(
            confusion[1],
            LabelPair {
                from: s("positive"),
                to: None,
                posts: 2
            }
        );
        assert_eq!(
            counts,
            vec![
                LabelCount {
                    label: None,
                    from: 0,
                    to: 2
                },
                LabelCount {
                    label: s("negative"),
                    from: 3,
                    to: 4
                },
                LabelCount {
                    label: s("neutral"),
                    from: 1,
                    to: 0
                },
                LabelCount {
                    label: s("positive"),
                    from: 2,
                    to: 0
                },
            ]
        );
    }
}
