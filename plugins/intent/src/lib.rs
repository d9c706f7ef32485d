//! First-party intent analyzer: which intents a post expresses (complaint,
//! question, praise, purchase intent, churn risk, support request), its
//! language and its topics, from linguistic rules. The rules are plain Rust
//! in `scorer`, so tests and benchmarks run the same code natively.

pub mod scorer;

use socialcrm_sdk::analyzer::{AnalysisInput, Analyzer, Descriptor};
use socialcrm_sdk::{Analysis, ScoredLabel};

struct IntentAnalyzer;

impl Analyzer for IntentAnalyzer {
    fn describe() -> Descriptor {
        Descriptor {
            produces: vec!["intent".into(), "language".into(), "topics".into()],
            description: "Rule-based intents (complaint, question, praise, purchase-intent, churn-risk, \
                          support-request) with confidences, the language and up to five topic keywords"
                .into(),
        }
    }

    fn analyze(inputs: Vec<AnalysisInput>) -> Vec<Analysis> {
        inputs
            .iter()
            .map(|input| {
                let a = scorer::analyze(&input.text);
                Analysis {
                    sentiment: None,
                    label: None,
                    intents: a
                        .intents
                        .into_iter()
                        .map(|(intent, confidence)| ScoredLabel {
                            name: intent.as_str().into(),
                            confidence,
                        })
                        .collect(),
                    topics: a.topics,
                    language: a.language.map(Into::into),
                }
            })
            .collect()
    }
}

socialcrm_sdk::export_analyzer!(IntentAnalyzer);
