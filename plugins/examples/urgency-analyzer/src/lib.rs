//! An example of a vendor's analyzer that goes beyond the built-in signals,
//! to copy. It declares two custom signals, `urgency` (a score in [0, 1])
//! and `tone` (labels of a set), and, given the brand's taxonomy, reports
//! each entry a post mentions with the sentiment of the clause it is in:
//! "the battery died but the frame is gorgeous" is negative for the battery,
//! positive for the frame.

use socialcrm_sdk::analyzer::{AnalysisInput, Analyzer, Descriptor};
use socialcrm_sdk::signals::{
    AspectMention, RichAnalysis, RichInput, ScoreRange, SignalKind, SignalReading, SignalSpec, SignalValue, Signals,
    TaxonomyEntry,
};
use socialcrm_sdk::types::Analysis;

struct Urgency;

const URGENT: [&str; 6] = ["asap", "urgent", "immediately", "right now", "today", "still waiting"];
const POSITIVE: [&str; 6] = ["gorgeous", "great", "love", "perfect", "smooth", "excellent"];
const NEGATIVE: [&str; 7] = ["died", "broken", "terrible", "awful", "worst", "fails", "dead"];

/// `urgency` in [0, 1]: urgent words, and exclamation marks, add up.
fn urgency(text: &str) -> f64 {
    let lower = text.to_lowercase();
    let words = URGENT.iter().filter(|w| lower.contains(*w)).count() as f64;
    let bangs = text.matches('!').count().min(3) as f64;
    ((words * 0.4) + bangs * 0.1).min(1.0)
}

/// The clause around `at` (between `but`, commas and sentence ends), and
/// its sentiment from a tiny lexicon.
fn clause_sentiment(lower: &str, at: usize) -> Option<f32> {
    let bounds = |c: char| matches!(c, '.' | ',' | ';' | '!' | '?');
    let start = lower[..at]
        .rfind(bounds)
        .map_or(0, |i| i + 1)
        .max(lower[..at].rfind(" but ").map_or(0, |i| i + 5));
    let end = lower[at..].find(bounds).map_or(lower.len(), |i| at + i);
    let end = lower[at..end].find(" but ").map_or(end, |i| at + i);
    let clause = &lower[start..end];
    let score = POSITIVE.iter().filter(|w| clause.contains(*w)).count() as f32
        - NEGATIVE.iter().filter(|w| clause.contains(*w)).count() as f32;
    (score != 0.0).then(|| score.clamp(-1.0, 1.0))
}

/// Each entry the text names (its name or a synonym, as a whole word).
fn mentions(text: &str, taxonomy: &[TaxonomyEntry]) -> Vec<AspectMention> {
    // Lowercasing ASCII keeps byte offsets; other text is matched as written.
    let lower = text.to_ascii_lowercase();
    let mut found = Vec::new();
    for entry in taxonomy {
        let names = std::iter::once(&entry.name).chain(&entry.synonyms);
        let hit = names.filter_map(|n| whole_word(&lower, &n.to_ascii_lowercase())).min();
        if let Some((start, end)) = hit {
            found.push(AspectMention {
                entry: entry.id.clone(),
                start: start as u32,
                end: end as u32,
                sentiment: clause_sentiment(&lower, start),
            });
        }
    }
    found
}

/// The first place `word` is in `text` as a whole word.
fn whole_word(text: &str, word: &str) -> Option<(usize, usize)> {
    if word.is_empty() {
        return None;
    }
    let boundary = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
    text.match_indices(word)
        .map(|(i, _)| (i, i + word.len()))
        .find(|&(s, e)| boundary(text[..s].chars().next_back()) && boundary(text[e..].chars().next()))
}

impl Analyzer for Urgency {
    fn describe() -> Descriptor {
        Descriptor {
            // No built-in signal: only custom ones and aspects.
            produces: Vec::new(),
            description: "Urgency and tone, and what posts say of each taxonomy entry".into(),
        }
    }

    fn analyze(inputs: Vec<AnalysisInput>) -> Vec<Analysis> {
        inputs.iter().map(|_| empty()).collect()
    }
}

fn empty() -> Analysis {
    Analysis {
        sentiment: None,
        label: None,
        intents: Vec::new(),
        topics: Vec::new(),
        language: None,
    }
}

impl Signals for Urgency {
    fn custom_signals() -> Vec<SignalSpec> {
        vec![
            SignalSpec {
                name: "urgency".into(),
                display_name: "Urgency".into(),
                kind: SignalKind::Score(ScoreRange { min: 0.0, max: 1.0 }),
            },
            SignalSpec {
                name: "tone".into(),
                display_name: "Tone".into(),
                kind: SignalKind::Labels(vec!["polite".into(), "shouting".into()]),
            },
        ]
    }

    fn analyze_rich(inputs: Vec<RichInput>, taxonomy: Vec<TaxonomyEntry>) -> Vec<RichAnalysis> {
        inputs
            .iter()
            .map(|input| {
                let text = &input.text;
                let lower = text.to_lowercase();
                let mut tone = Vec::new();
                if ["please", "thank"].iter().any(|w| lower.contains(w)) {
                    tone.push("polite".to_string());
                }
                let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
                if letters.len() >= 8 && letters.iter().all(|c| c.is_uppercase()) {
                    tone.push("shouting".to_string());
                }
                let mut signals = vec![SignalReading {
                    name: "urgency".into(),
                    value: SignalValue::Score(urgency(text)),
                }];
                if !tone.is_empty() {
                    signals.push(SignalReading {
                        name: "tone".into(),
                        value: SignalValue::Labels(tone),
                    });
                }
                RichAnalysis {
                    analysis: empty(),
                    signals,
                    aspects: mentions(text, &taxonomy),
                }
            })
            .collect()
    }
}

socialcrm_sdk::export_analyzer!(Urgency, signals);

#[cfg(test)]
mod tests {
    use socialcrm_sdk::signals::EntryKind;
    use socialcrm_sdk::types::PostKind;

    use super::*;

    fn entry(id: &str, name: &str, synonyms: &[&str]) -> TaxonomyEntry {
        TaxonomyEntry {
            id: id.into(),
            kind: EntryKind::Aspect,
            name: name.into(),
            synonyms: synonyms.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn rich(text: &str) -> RichAnalysis {
        let taxonomy = vec![entry("battery", "battery", &["range"]), entry("frame", "frame", &[])];
        let input = RichInput {
            text: text.into(),
            kind: PostKind::Mention,
            language: None,
        };
        Urgency::analyze_rich(vec![input], taxonomy).remove(0)
    }

    #[test]
    fn each_aspect_gets_the_sentiment_of_its_clause() {
        let r = rich("The battery died but the frame is gorgeous");
        let by_entry: Vec<(&str, Option<f32>)> = r.aspects.iter().map(|m| (m.entry.as_str(), m.sentiment)).collect();
        assert_eq!(by_entry, [("battery", Some(-1.0)), ("frame", Some(1.0))]);
        assert_eq!((r.aspects[0].start, r.aspects[0].end), (4, 11));
        // A synonym counts, a word that merely contains one does not.
        assert_eq!(rich("Range is perfect").aspects[0].entry, "battery");
        assert!(rich("Arrange a refund").aspects.is_empty());
    }

    #[test]
    fn urgency_and_tone() {
        let r = rich("PLEASE FIX THIS ASAP!!!");
        assert_eq!(r.signals[0].name, "urgency");
        assert!(matches!(r.signals[0].value, SignalValue::Score(x) if (x - 0.7).abs() < 1e-9));
        assert!(
            matches!(&r.signals[1].value, SignalValue::Labels(t) if t == &["polite".to_string(), "shouting".to_string()])
        );
        assert_eq!(rich("ok").signals.len(), 1);
    }
}
