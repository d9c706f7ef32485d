//! First-party sentiment analyzer: a lexicon with rules for negation, boosters,
//! contrast, emphasis, emoticons, emoji and slang. The scorer is plain Rust, so
//! benchmarks can run the same code natively and as a plugin. Given the
//! brand's taxonomy (`signals`, API 1.2) it also reports the entries each
//! post mentions, with the sentiment of what it says of each (`aspects`).

pub mod aspects;
pub mod scorer;

use socialcrm_sdk::Analysis;
use socialcrm_sdk::analyzer::{AnalysisInput, Analyzer, Descriptor};
use socialcrm_sdk::signals::{RichAnalysis, RichInput, SignalSpec, Signals, TaxonomyEntry};

struct Sentiment;

/// The built-in analysis of `text`, and its score.
fn analysis(text: &str) -> (Analysis, f32) {
    let s = scorer::analyze(text);
    let analysis = Analysis {
        sentiment: Some(s.score),
        label: Some(s.label.as_str().into()),
        intents: Vec::new(),
        topics: Vec::new(),
        language: None,
    };
    (analysis, s.score)
}

impl Analyzer for Sentiment {
    fn describe() -> Descriptor {
        Descriptor {
            produces: vec!["sentiment".into()],
            description: "Lexicon and rules sentiment in [-1, 1] with a positive / negative / neutral label".into(),
        }
    }

    fn analyze(inputs: Vec<AnalysisInput>) -> Vec<Analysis> {
        inputs.iter().map(|input| analysis(&input.text).0).collect()
    }
}

impl Signals for Sentiment {
    /// No custom signals: only the built-in sentiment and aspects.
    fn custom_signals() -> Vec<SignalSpec> {
        Vec::new()
    }

    fn analyze_rich(inputs: Vec<RichInput>, taxonomy: Vec<TaxonomyEntry>) -> Vec<RichAnalysis> {
        let matcher = aspects::Matcher::new(&taxonomy);
        inputs
            .iter()
            .map(|input| {
                let (analysis, score) = analysis(&input.text);
                RichAnalysis {
                    analysis,
                    signals: Vec::new(),
                    aspects: matcher.mentions(&input.text, score),
                }
            })
            .collect()
    }
}

socialcrm_sdk::export_analyzer!(Sentiment, signals);

#[cfg(test)]
mod tests {
    use socialcrm_sdk::signals::EntryKind;
    use socialcrm_sdk::types::PostKind;

    use super::*;

    fn input(text: &str) -> (AnalysisInput, RichInput) {
        let plain = AnalysisInput {
            text: text.into(),
            kind: PostKind::Mention,
            language: None,
        };
        let rich = RichInput {
            text: text.into(),
            kind: PostKind::Mention,
            language: None,
        };
        (plain, rich)
    }

    #[test]
    fn analyze_rich_adds_aspects_to_the_same_analysis() {
        let texts = ["The battery died but the screen is gorgeous", "", "meh", "I love it!"];
        let (plain, rich): (Vec<_>, Vec<_>) = texts.iter().map(|t| input(t)).unzip();
        let taxonomy = vec![TaxonomyEntry {
            id: "battery".into(),
            kind: EntryKind::Feature,
            name: "battery".into(),
            synonyms: vec!["battery life".into()],
        }];
        let rich = Sentiment::analyze_rich(rich, taxonomy);
        let plain = Sentiment::analyze(plain);
        assert_eq!(rich.len(), plain.len());
        for (r, p) in rich.iter().zip(&plain) {
            assert_eq!(format!("{:?}", r.analysis), format!("{p:?}"));
            assert!(r.signals.is_empty());
        }
        assert_eq!(rich[0].aspects.len(), 1);
        assert_eq!((rich[0].aspects[0].start, rich[0].aspects[0].end), (4, 11));
        assert!(rich[0].aspects[0].sentiment.is_some_and(|s| s < 0.0));
        assert!(rich[1..].iter().all(|r| r.aspects.is_empty()));
        assert!(Sentiment::custom_signals().is_empty());
    }
}
