//! Precision and recall of topics on the hand-labelled posts of
//! `eval/topics.jsonl` (texts from `eval/labelled.jsonl`, by id; see
//! `eval/README.md`). A topic found matches a labelled one when they are the
//! same words, or one is a run of the other's words ending in the same word
//! (its head): "app" and "official reddit app" match "reddit app"; "reddit"
//! does not. `cargo test -p intent --test topics_eval -- --nocapture` prints
//! the numbers; with `INTENT_EVAL_ERRORS=1`, every post's topics too.

use std::collections::HashMap;
use std::path::Path;

use intent::scorer::analyze;

/// Floors, about 0.05 under what was measured (README.md): precision 0.607,
/// recall 0.765 (single content words before keyphrases: 0.443 and 0.779).
const PRECISION_FLOOR: f64 = 0.55;
const RECALL_FLOOR: f64 = 0.71;

fn lines(name: &str) -> Vec<serde_json::Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("eval").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{name}: {e}: {l}")))
        .collect()
}

/// Lower-case words, `-` and `.` as spaces, a plural `s` dropped.
fn words(topic: &str) -> Vec<String> {
    topic
        .to_lowercase()
        .replace(['-', '.'], " ")
        .split_whitespace()
        .map(|w| match w.strip_suffix('s') {
            Some(stem) if stem.len() >= 3 && !stem.ends_with('s') => stem.to_string(),
            _ => w.to_string(),
        })
        .collect()
}

fn matches(found: &str, labelled: &str) -> bool {
    let (a, b) = (words(found), words(labelled));
    let (short, long) = if a.len() <= b.len() { (&a, &b) } else { (&b, &a) };
    !short.is_empty() && short.last() == long.last() && long.ends_with(short)
}

#[test]
fn precision_and_recall_of_topics() {
    let texts: HashMap<String, String> = lines("labelled.jsonl")
        .into_iter()
        .map(|v| {
            (
                v["id"].as_str().unwrap_or_default().to_string(),
                v["text"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let show = std::env::var_os("INTENT_EVAL_ERRORS").is_some();
    let (mut found_total, mut found_right, mut labelled_total, mut labelled_found) = (0, 0, 0, 0);
    for row in lines("topics.jsonl") {
        let id = row["id"].as_str().unwrap_or_default();
        let text = texts
            .get(id)
            .unwrap_or_else(|| panic!("topics.jsonl names {id}, which labelled.jsonl lacks"));
        let labelled: Vec<&str> = row["topics"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str())
            .collect();
        let found = analyze(text).topics;
        found_total += found.len();
        found_right += found.iter().filter(|f| labelled.iter().any(|l| matches(f, l))).count();
        labelled_total += labelled.len();
        labelled_found += labelled.iter().filter(|l| found.iter().any(|f| matches(f, l))).count();
        if show {
            println!("{id}: found {found:?}, labelled {labelled:?}");
        }
    }
    let precision = found_right as f64 / found_total.max(1) as f64;
    let recall = labelled_found as f64 / labelled_total.max(1) as f64;
    println!(
        "topics: precision {precision:.3} ({found_right}/{found_total}), recall {recall:.3} ({labelled_found}/{labelled_total})"
    );
    assert!(
        precision >= PRECISION_FLOOR,
        "precision {precision:.3} under {PRECISION_FLOOR}"
    );
    assert!(recall >= RECALL_FLOOR, "recall {recall:.3} under {RECALL_FLOOR}");
}

#[test]
fn a_match_shares_the_head_word() {
    assert!(matches("app", "reddit app"));
    assert!(matches("official reddit app", "reddit app"));
    assert!(matches("third-party apps", "third party app"));
    assert!(!matches("reddit", "reddit app"));
    assert!(!matches("battery life", "battery"));
}
