//! An analyzer that misbehaves on purpose, for the host's sandbox tests. The
//! text of the first post selects the misbehaviour.

use socialcrm_sdk::Analysis;
use socialcrm_sdk::analyzer::{AnalysisInput, Analyzer, Descriptor};

struct Hostile;

fn analysis(sentiment: f32) -> Analysis {
    Analysis {
        sentiment: Some(sentiment),
        label: None,
        intents: Vec::new(),
        topics: Vec::new(),
        language: None,
    }
}

impl Analyzer for Hostile {
    fn describe() -> Descriptor {
        Descriptor {
            produces: vec!["sentiment".into()],
            description: "misbehaves on purpose".into(),
        }
    }

    fn analyze(inputs: Vec<AnalysisInput>) -> Vec<Analysis> {
        match inputs.first().map(|p| p.text.as_str()).unwrap_or_default() {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("hostile analyzer panicked on purpose"),
            "too-few" => Vec::new(),
            "out-of-range" => inputs.iter().map(|_| analysis(5.0)).collect(),
            _ => inputs.iter().map(|_| analysis(0.5)).collect(),
        }
    }
}

socialcrm_sdk::export_analyzer!(Hostile);
