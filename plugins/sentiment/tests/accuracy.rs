//! Binary accuracy of the scorer on the UCI "Sentiment Labelled Sentences"
//! (tests/data/uci_sentences.jsonl at the workspace root), compared with
//! VADER's. A text counts as predicted positive when `score >= 0.0`.

use std::collections::BTreeMap;
use std::path::Path;

use sentiment::scorer::analyze;

/// Binary accuracy of Python vaderSentiment 3.3.2 (`compound >= 0.0` is
/// positive) on uci_sentences.jsonl, measured by
/// `python3 plugins/sentiment/eval/vader_reference.py tests/data/uci_sentences.jsonl`.
const VADER_OVERALL: f64 = 0.7546;
const VADER_PER_SOURCE: [(&str, f64); 3] = [("amazon", 0.7672), ("imdb", 0.7702), ("yelp", 0.7263)];

#[test]
fn accuracy_on_uci_sentences_is_at_least_vaders() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/uci_sentences.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));

    // source -> (correct, total)
    let mut tally: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let row: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        let (Some(source), Some(text), Some(label)) =
            (row["source"].as_str(), row["text"].as_str(), row["label"].as_str())
        else {
            panic!("line {}: expected source, text and label strings", n + 1);
        };
        let predicted = if analyze(text).score >= 0.0 {
            "positive"
        } else {
            "negative"
        };
        let entry = tally.entry(source.to_owned()).or_default();
        entry.0 += u32::from(predicted == label);
        entry.1 += 1;
    }

    let (correct, total) = tally.values().fold((0, 0), |(c, t), &(ci, ti)| (c + ci, t + ti));
    assert_eq!(total, 3003, "unexpected number of rows in {}", path.display());
    let overall = f64::from(correct) / f64::from(total);
    println!("{:<8} {:>6} {:>8} {:>8}", "source", "texts", "ours", "VADER");
    for (source, &(c, t)) in &tally {
        let vader = VADER_PER_SOURCE
            .iter()
            .find(|(s, _)| s == source)
            .map_or(f64::NAN, |(_, a)| *a);
        println!("{source:<8} {t:>6} {:>8.4} {vader:>8.4}", f64::from(c) / f64::from(t));
    }
    println!("{:<8} {total:>6} {overall:>8.4} {VADER_OVERALL:>8.4}", "overall");
    assert!(
        overall >= VADER_OVERALL,
        "overall accuracy {overall:.4} is below VADER's {VADER_OVERALL}"
    );
}
