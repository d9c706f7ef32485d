//! First-party sentiment analyzer: a lexicon with rules for negation, boosters,
//! contrast, emphasis, emoticons, emoji and slang. The scorer is plain Rust, so
//! benchmarks can run the same code natively and as a plugin.

pub mod scorer;

use socialcrm_sdk::Analysis;
use socialcrm_sdk::analyzer::{AnalysisInput, Analyzer, Descriptor};

struct Sentiment;

impl Analyzer for Sentiment {
    fn describe() -> Descriptor {
        Descriptor {
            produces: vec!["sentiment".into()],
            description: "Lexicon and rules sentiment in [-1, 1] with a positive / negative / neutral label".into(),
        }
    }

    fn analyze(inputs: Vec<AnalysisInput>) -> Vec<Analysis> {
        inputs
            .iter()
            .map(|input| {
                let s = scorer::analyze(&input.text);
                Analysis {
                    sentiment: Some(s.score),
                    label: Some(s.label.as_str().into()),
                    intents: Vec::new(),
                    topics: Vec::new(),
                    language: None,
                }
            })
            .collect()
    }
}

socialcrm_sdk::export_analyzer!(Sentiment);
