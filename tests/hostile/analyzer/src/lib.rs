//! An analyzer that misbehaves on purpose, for the host's sandbox tests. The
//! text of the first post selects the misbehaviour; `sleep:MS`, `spin:N` and
//! `alloc:N` go just under or just over a limit.

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
        let first = inputs.first().map(|p| p.text.as_str()).unwrap_or_default();
        // `name:N` modes carry a size or a duration.
        let (mode, arg) = first.split_once(':').unwrap_or((first, ""));
        let number = || arg.parse::<u64>().expect("a number after the colon");
        match mode {
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
            // Waits in a host call (a `wasi:clocks` sleep): no fuel burns.
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_millis(number()));
                inputs.iter().map(|_| analysis(0.5)).collect()
            }
            // A loop of N turns: fuel grows with N.
            "spin" => {
                let mut n: u64 = 0;
                for _ in 0..number() {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
                inputs.iter().map(|_| analysis(0.5)).collect()
            }
            "alloc" => {
                let hoard = vec![1u8; number() as usize];
                std::hint::black_box(&hoard);
                inputs.iter().map(|_| analysis(0.5)).collect()
            }
            "too-few" => Vec::new(),
            "out-of-range" => inputs.iter().map(|_| analysis(5.0)).collect(),
            _ => inputs.iter().map(|_| analysis(0.5)).collect(),
        }
    }
}

socialcrm_sdk::export_analyzer!(Hostile);
