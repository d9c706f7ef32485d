//! Platform benchmarks, reported as ratios measured in the same run (these
//! machines are shared and noisy): `cargo xtask bench`.
//!
//! - instantiation: a fresh instance per call (InstancePre, pooling allocator);
//! - sentiment: batches of 100 posts of ~140 characters, the wasm plugin against
//!   the same scorer compiled natively, and against Python vaderSentiment;
//! - mastodon: the cost per post inside the plugin of parsing a 40-post page
//!   (canned HTTP in memory, so no network time);
//! - scorer: the bundled churn scorer over 1,000 contacts in batches of 500
//!   (what `insights recompute` hands it), the wasm plugin against the same
//!   model compiled natively.

use std::hint::black_box;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use socialcrm::plugins::Manifest;
use socialcrm::runtime::types::AnalysisInput;
use socialcrm::runtime::types::PostKind;
use socialcrm::runtime::types::{Feature, ScoreRequest, Subject};
use socialcrm::runtime::{AnalyzerPlugin, Runtime, RuntimeOptions};
use socialcrm_sdk::scorer as scoring;
use socialcrm_sdk::testkit::{self, Canned, Harness};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

/// Median time of one run of `f`, from `samples` samples of `per_sample` runs each.
fn median(samples: usize, per_sample: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..per_sample {
        f(); // warm-up
    }
    let mut times: Vec<Duration> = (0..samples)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..per_sample {
                f();
            }
            start.elapsed() / per_sample as u32
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn input(text: &str) -> AnalysisInput {
    AnalysisInput {
        text: text.into(),
        kind: PostKind::Post,
        language: None,
    }
}

fn load_analyzer(runtime: &Runtime, dir: &str) -> AnalyzerPlugin {
    let wasm = std::fs::read(testkit::build(dir).expect("build plugin")).expect("read wasm");
    let manifest = Manifest::parse(&std::fs::read_to_string(format!("{dir}/plugin.toml")).unwrap()).unwrap();
    runtime.load_analyzer(manifest.sandbox(), &wasm).unwrap()
}

/// Texts of about 140 characters: real labelled sentences joined while they fit.
fn texts_140() -> Vec<String> {
    let data = std::fs::read_to_string(format!("{ROOT}/tests/data/uci_sentences.jsonl")).unwrap();
    let sentences: Vec<String> = data
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["text"].as_str().map(str::to_string))
        .collect();
    let mut texts = Vec::new();
    let mut current = String::new();
    for s in sentences {
        let s = s.trim();
        if !current.is_empty() && current.len() + 1 + s.len() > 160 {
            texts.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(s);
    }
    texts.retain(|t| t.len() >= 100);
    texts
}

/// 1,000 contacts' features, varied like a CRM's: some without orders, some
/// without posts.
fn subjects() -> Vec<scoring::Subject> {
    let feature = |name: &str, value: f64| scoring::Feature {
        name: name.into(),
        value,
    };
    (0..1000)
        .map(|i| {
            let x = i as f64;
            let mut features = vec![
                feature("value-percentile", (i % 100) as f64 / 100.0),
                feature("lifetime-value", 25.0 * (i % 40) as f64),
                feature("orders", (i % 7) as f64),
                feature("orders-12m", (i % 5) as f64),
                feature("unconverted-transactions", (i % 13 == 0) as u8 as f64),
                feature("negative-posts-7d", (i % 4) as f64),
                feature("churn-intent-30d", (i % 9 == 0) as u8 as f64),
            ];
            if i % 7 != 0 {
                features.push(feature("days-since-order", (i * 37 % 400) as f64));
            }
            if i % 3 != 0 {
                features.push(feature("sentiment-30d", (x * 0.37).sin()));
                features.push(feature("sentiment-30-180d", (x * 0.11).cos()));
            }
            scoring::Subject {
                features,
                tags: Vec::new(),
            }
        })
        .collect()
}

fn bench_scorer(runtime: &Runtime) {
    use socialcrm_sdk::scorer::Scorer as _;
    let dir = format!("{ROOT}/plugins/churn");
    let wasm = std::fs::read(testkit::build(&dir).expect("build plugin")).expect("read wasm");
    let manifest = Manifest::parse(&std::fs::read_to_string(format!("{dir}/plugin.toml")).unwrap()).unwrap();
    let plugin = runtime.load_scorer(manifest.sandbox(), &wasm).unwrap();
    let subjects = subjects();
    let host_requests: Vec<ScoreRequest> = subjects
        .chunks(500)
        .map(|chunk| ScoreRequest {
            prediction: "churn-risk".into(),
            value_currency: Some("EUR".into()),
            subjects: chunk
                .iter()
                .map(|s| Subject {
                    features: s
                        .features
                        .iter()
                        .map(|f| Feature {
                            name: f.name.clone(),
                            value: f.value,
                        })
                        .collect(),
                    tags: Vec::new(),
                })
                .collect(),
        })
        .collect();
    let wasm = median(15, 1, || {
        for request in &host_requests {
            black_box(plugin.score(request).unwrap());
        }
    });
    let native = median(15, 5, || {
        for chunk in subjects.chunks(500) {
            black_box(churn::Churn::score(scoring::ScoreRequest {
                prediction: "churn-risk".into(),
                value_currency: Some("EUR".into()),
                subjects: chunk.to_vec(),
            }));
        }
    });
    println!(
        "scorer (bundled churn, 1,000 contacts in 2 batches): wasm {:.2} ms, native {:.3} ms, wasm/native {:.1}",
        wasm.as_secs_f64() * 1e3,
        native.as_secs_f64() * 1e3,
        wasm.as_secs_f64() / native.as_secs_f64()
    );
}

fn bench_instantiation(sentiment: &AnalyzerPlugin) {
    let t = median(25, 200, || {
        black_box(sentiment.describe().unwrap());
    });
    println!(
        "instantiate + describe (fresh Store, InstancePre, pooling): {:.1} µs median",
        t.as_secs_f64() * 1e6
    );
}

fn bench_sentiment(sentiment: &AnalyzerPlugin) {
    let texts = texts_140();
    let mean_len = texts.iter().map(String::len).sum::<usize>() as f64 / texts.len() as f64;
    let batches: Vec<Vec<AnalysisInput>> = texts
        .chunks(100)
        .filter(|c| c.len() == 100)
        .map(|c| c.iter().map(|t| input(t)).collect())
        .collect();
    let posts = (batches.len() * 100) as f64;
    let wasm = median(15, 1, || {
        for batch in &batches {
            black_box(sentiment.analyze(batch).unwrap());
        }
    });
    let native = median(15, 1, || {
        for batch in &batches {
            for input in batch {
                black_box(sentiment::scorer::analyze(black_box(&input.text)));
            }
        }
    });
    let empty: Vec<AnalysisInput> = (0..100).map(|_| input("")).collect();
    let overhead = median(15, 20, || {
        black_box(sentiment.analyze(&empty).unwrap());
    });
    let wasm_rate = posts / wasm.as_secs_f64();
    let native_rate = posts / native.as_secs_f64();
    println!("sentiment, batches of 100 posts of {mean_len:.0} chars on average ({posts} posts per sample):");
    println!(
        "  wasm plugin:  {wasm_rate:>12.0} posts/s  ({:.2} µs/post)",
        1e6 / wasm_rate
    );
    println!(
        "  native:       {native_rate:>12.0} posts/s  ({:.2} µs/post)",
        1e6 / native_rate
    );
    println!("  wasm/native time ratio: {:.2}", native_rate / wasm_rate);
    println!(
        "  fixed cost of a plugin call of 100 empty posts (instance, copies in and out): {:.1} µs ({:.2} µs/post)",
        overhead.as_secs_f64() * 1e6,
        overhead.as_secs_f64() * 1e6 / 100.0
    );

    let file = std::env::temp_dir().join("socialcrm-bench-texts.jsonl");
    let lines: Vec<String> = texts
        .iter()
        .map(|t| json!({"source": "bench", "text": t, "label": "positive"}).to_string())
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    match vader(&file) {
        Some(result) => {
            let vader_rate = result["texts_per_second"].as_f64().unwrap_or(f64::NAN);
            println!("  python vaderSentiment 3.3.2: {vader_rate:>12.0} posts/s");
            println!("  wasm plugin / VADER throughput ratio: {:.1}x", wasm_rate / vader_rate);
        }
        None => println!("  python vaderSentiment: skipped (pip install vaderSentiment==3.3.2)"),
    }
}

fn vader(file: &std::path::Path) -> Option<Value> {
    let out = Command::new("python3")
        .arg(format!("{ROOT}/plugins/sentiment/eval/vader_reference.py"))
        .arg(file)
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    serde_json::from_slice(&out.stdout).ok()
}

fn bench_accuracy() {
    let file = format!("{ROOT}/tests/data/uci_sentences.jsonl");
    let data = std::fs::read_to_string(&file).unwrap();
    let mut tally: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for row in data.lines().filter_map(|l| serde_json::from_str::<Value>(l).ok()) {
        let predicted = if sentiment::scorer::analyze(row["text"].as_str().unwrap_or("")).score >= 0.0 {
            "positive"
        } else {
            "negative"
        };
        let t = tally
            .entry(row["source"].as_str().unwrap_or("?").to_string())
            .or_default();
        t.0 += usize::from(predicted == row["label"].as_str().unwrap_or(""));
        t.1 += 1;
    }
    let (c, n) = tally.values().fold((0, 0), |(c, n), (a, b)| (c + a, n + b));
    let vader = vader(std::path::Path::new(&file));
    println!("binary accuracy on tests/data/uci_sentences.jsonl (score >= 0 is positive):");
    println!("  {:<8} {:>8} {:>8}", "source", "ours", "VADER");
    let theirs = |s: &str| {
        vader
            .as_ref()
            .and_then(|v| v["per_source"][s].as_f64())
            .map_or("-".into(), |a| format!("{a:.3}"))
    };
    for (source, (c, n)) in &tally {
        println!("  {source:<8} {:>8.3} {:>8}", *c as f64 / *n as f64, theirs(source));
    }
    let overall = vader
        .as_ref()
        .and_then(|v| v["overall"].as_f64())
        .map_or("-".into(), |a| format!("{a:.3}"));
    println!("  {:<8} {:>8.3} {:>8}", "overall", c as f64 / n as f64, overall);
}

fn bench_mastodon() {
    let dir = format!("{ROOT}/plugins/mastodon");
    if !std::path::Path::new(&dir).join("plugin.toml").exists() {
        println!("mastodon: skipped (plugin not present)");
        return;
    }
    let statuses = std::fs::read_to_string(format!("{ROOT}/tests/data/mastodon_statuses.jsonl")).unwrap();
    let notifications: Vec<Value> = statuses
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .take(40)
        .enumerate()
        .map(|(i, status)| {
            json!({"id": (1000 + i).to_string(), "type": "mention", "created_at": status["created_at"],
                   "account": status["account"], "status": status})
        })
        .collect();
    let timed = |body: Value| {
        let harness = Harness::new();
        harness.respond("GET", "/api/v1/notifications", Canned::json(200, &body));
        let plugin = harness.channel(&dir).unwrap();
        let account = testkit::account(&[("instance", "https://example.social")], &[("access-token", "t")]);
        let out = plugin.poll(&account, "").unwrap();
        assert_eq!(out.value.posts.len(), body.as_array().map_or(0, |a| a.len()));
        median(15, 50, || {
            black_box(plugin.poll(&account, "").unwrap());
        })
    };
    let empty = timed(json!([]));
    let full = timed(Value::Array(notifications));
    println!(
        "mastodon poll (canned HTTP): empty page {:.1} µs, 40-post page {:.1} µs",
        empty.as_secs_f64() * 1e6,
        full.as_secs_f64() * 1e6
    );
    println!(
        "  parse + map cost per post: {:.2} µs",
        (full.as_secs_f64() - empty.as_secs_f64()) * 1e6 / 40.0
    );
}

fn main() {
    // `cargo bench` passes `--bench`; anything else is a filter.
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wanted = |name: &str| filter.is_empty() || filter.iter().any(|f| name.contains(f.as_str()));
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let sentiment = load_analyzer(&runtime, &format!("{ROOT}/plugins/sentiment"));
    if wanted("instantiate") {
        bench_instantiation(&sentiment);
    }
    if wanted("sentiment") {
        bench_sentiment(&sentiment);
    }
    if wanted("accuracy") {
        bench_accuracy();
    }
    if wanted("mastodon") {
        bench_mastodon();
    }
    if wanted("scorer") {
        bench_scorer(&runtime);
    }
}
