//! An analyzer plugin of API 1.1.0: `describe`, a batch `analyze` and the
//! `log` import, and nothing newer. Only built for wasm32 (a component's
//! export names do not link natively).
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({
    path: "../wit-1.1.0",
    world: "analyzer",
});

use exports::socialcrm::plugin::analysis::{AnalysisInput, Descriptor, Guest};
use socialcrm::plugin::log;
use socialcrm::plugin::types::Analysis;

struct Compat;

/// A deterministic score the test can predict: `good` anywhere is positive.
fn score(text: &str) -> (f32, &'static str) {
    if text.to_lowercase().contains("good") {
        (1.0, "positive")
    } else {
        (0.0, "neutral")
    }
}

impl Guest for Compat {
    fn describe() -> Descriptor {
        Descriptor {
            produces: vec!["sentiment".into()],
            description: "`good` is positive, anything else neutral".into(),
        }
    }

    /// One analysis per input, in order.
    fn analyze(inputs: Vec<AnalysisInput>) -> Vec<Analysis> {
        log::write(log::Level::Info, &format!("analyzing {} inputs", inputs.len()));
        inputs
            .iter()
            .map(|input| {
                let (sentiment, label) = score(&input.text);
                Analysis {
                    sentiment: Some(sentiment),
                    label: Some(label.into()),
                    intents: Vec::new(),
                    topics: Vec::new(),
                    language: input.language.clone(),
                }
            })
            .collect()
    }
}

export!(Compat);
