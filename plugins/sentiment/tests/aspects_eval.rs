//! Aspect mentions against hand labels: real review sentences in
//! eval/aspects.jsonl, the taxonomy in eval/aspects_taxonomy.json (source,
//! selection, labelling guidelines and split in eval/README-aspects.md).
//! Per split: mention precision and recall (an entry found in a sentence vs
//! an entry labelled there) and, on the entries found and labelled,
//! polarity accuracy (the mention's sentiment as the scorer's three-way
//! label vs the hand label). `ASPECTS_ERRORS=1` lists the dev split's
//! mistakes; only dev may be looked at to tune.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::is_test;

use sentiment::aspects::Matcher;
use sentiment::scorer;
use socialcrm_sdk::signals::{EntryKind, TaxonomyEntry};

/// Floors, a little under what is measured (dev, test): precision, recall,
/// polarity accuracy.
const FLOORS: [(&str, f64, f64, f64); 2] = [("dev", 0.85, 0.63, 0.44), ("test", 0.87, 0.70, 0.55)];
/// Rows and labelled mentions per split, to catch a changed file or split.
const SIZES: [(&str, usize, usize); 2] = [("dev", 118, 79), ("test", 111, 61)];

fn taxonomy(dir: &Path) -> Vec<TaxonomyEntry> {
    let path = dir.join("aspects_taxonomy.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let entries: Vec<serde_json::Value> = serde_json::from_str(&text).expect("taxonomy: a JSON array");
    entries
        .iter()
        .map(|e| TaxonomyEntry {
            id: e["id"].as_str().expect("id").into(),
            kind: match e["kind"].as_str() {
                Some("product") => EntryKind::Product,
                Some("feature") => EntryKind::Feature,
                Some("aspect") => EntryKind::Aspect,
                other => panic!("kind {other:?}"),
            },
            name: e["name"].as_str().expect("name").into(),
            synonyms: e["synonyms"]
                .as_array()
                .expect("synonyms")
                .iter()
                .map(|s| s.as_str().expect("synonym").to_string())
                .collect(),
        })
        .collect()
}

/// A mention's sentiment as the scorer labels a score (VADER's ±0.05).
fn polarity(sentiment: Option<f32>) -> &'static str {
    match sentiment {
        Some(s) if s >= 0.05 => "positive",
        Some(s) if s <= -0.05 => "negative",
        _ => "neutral",
    }
}

#[derive(Default)]
struct Tally {
    rows: usize,
    labelled: usize,
    found: usize,
    hits: usize,
    polarity_right: usize,
    /// Hits whose label is positive or negative, and how many got it.
    polar: usize,
    polar_right: usize,
}

#[test]
fn aspect_mentions_match_the_labels() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("eval");
    let taxonomy = taxonomy(&dir);
    let known: BTreeSet<&str> = taxonomy.iter().map(|e| e.id.as_str()).collect();
    let matcher = Matcher::new(&taxonomy);
    let show = std::env::var_os("ASPECTS_ERRORS").is_some();
    let path = dir.join("aspects.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut tallies = [Tally::default(), Tally::default()];
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let row: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        let (Some(id), Some(source), Some(text), Some(labels)) = (
            row["id"].as_str(),
            row["source"].as_str(),
            row["text"].as_str(),
            row["aspects"].as_array(),
        ) else {
            panic!("line {}: expected id, source, text and aspects", n + 1);
        };
        // The key the sentiment evals split by: the source's id, or the
        // text for the UCI sentences, which have none.
        let key = match source {
            "vader_amazon" => id.strip_prefix("vader_amazon:").expect("vader_amazon id"),
            _ => text,
        };
        let test = is_test(key);
        let labels: Vec<(&str, &str)> = labels
            .iter()
            .map(|l| {
                (
                    l["entry"].as_str().expect("entry"),
                    l["polarity"].as_str().expect("polarity"),
                )
            })
            .collect();
        for (entry, _) in &labels {
            assert!(
                known.contains(entry),
                "line {}: `{entry}` is not in the taxonomy",
                n + 1
            );
        }
        let post = scorer::analyze(text).score;
        let found = matcher.mentions(text, post);
        let t = &mut tallies[usize::from(test)];
        t.rows += 1;
        t.labelled += labels.len();
        t.found += found.len();
        for m in &found {
            let said = polarity(m.sentiment);
            match labels.iter().find(|(e, _)| *e == m.entry) {
                Some((_, truth)) => {
                    t.hits += 1;
                    t.polarity_right += usize::from(said == *truth);
                    if *truth != "neutral" {
                        t.polar += 1;
                        t.polar_right += usize::from(said == *truth);
                    }
                    if show && !test && said != *truth {
                        println!("polarity {id}: {} {said}, labelled {truth}: {text}", m.entry);
                    }
                }
                None if show && !test => {
                    let span = text.get(m.start as usize..m.end as usize).unwrap_or("?");
                    println!("extra    {id}: {} at {span:?}: {text}", m.entry);
                }
                None => {}
            }
        }
        for (entry, _) in &labels {
            if show && !test && !found.iter().any(|m| m.entry == *entry) {
                println!("missed   {id}: {entry}: {text}");
            }
        }
    }

    println!(
        "{:<5} {:>4} {:>8} {:>6} {:>5} {:>9} {:>7} {:>8} {:>10}",
        "split", "rows", "labelled", "found", "hits", "precision", "recall", "polarity", "polar only"
    );
    let mut failures = Vec::new();
    for (((split, t), (_, p_floor, r_floor, a_floor)), (_, rows, labelled)) in
        ["dev", "test"].iter().zip(&tallies).zip(FLOORS).zip(SIZES)
    {
        let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
        let (precision, recall) = (ratio(t.hits, t.found), ratio(t.hits, t.labelled));
        let accuracy = ratio(t.polarity_right, t.hits);
        println!(
            "{split:<5} {:>4} {:>8} {:>6} {:>5} {precision:>9.4} {recall:>7.4} {accuracy:>8.4} {:>10.4}",
            t.rows,
            t.labelled,
            t.found,
            t.hits,
            ratio(t.polar_right, t.polar)
        );
        println!(
            "      polarity {}/{} right; positive or negative labels {}/{}",
            t.polarity_right, t.hits, t.polar_right, t.polar
        );
        if (t.rows, t.labelled) != (rows, labelled) {
            failures.push(format!(
                "{split}: {} rows, {} labels, expected {rows}, {labelled}",
                t.rows, t.labelled
            ));
        }
        if precision < p_floor || recall < r_floor || accuracy < a_floor {
            failures.push(format!(
                "{split}: precision {precision:.4} (floor {p_floor}), recall {recall:.4} (floor {r_floor}), polarity {accuracy:.4} (floor {a_floor})"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The built component through the host's checks: it exports `signals`,
/// and every answer, on the labelled sentences and on odd text, passes
/// (entries of the taxonomy sent, spans on character boundaries), with the
/// same built-in analysis `analyze` gives.
#[test]
fn the_component_answers_what_the_host_accepts() {
    use socialcrm_sdk::testkit::{self, AnalysisInput, Harness, PostKind};

    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let harness = Harness::new();
    let plugin = harness
        .analyzer(dir.to_str().expect("a UTF-8 path"))
        .expect("the plugin builds and loads");
    assert!(plugin.has_signals());
    let taxonomy: Vec<testkit::TaxonomyEntry> = taxonomy(&dir.join("eval"))
        .into_iter()
        .map(|e| testkit::TaxonomyEntry {
            id: e.id,
            kind: match e.kind {
                EntryKind::Product => testkit::EntryKind::Product,
                EntryKind::Feature => testkit::EntryKind::Feature,
                EntryKind::Aspect => testkit::EntryKind::Aspect,
            },
            name: e.name,
            synonyms: e.synonyms,
        })
        .collect();
    let labelled = std::fs::read_to_string(dir.join("eval/aspects.jsonl")).expect("aspects.jsonl");
    let mut texts: Vec<String> = labelled
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|row| row["text"].as_str().map(str::to_string))
        .collect();
    texts.extend(
        [
            "",
            "BATTERY battery-life Batteries ÉCRAN screen\u{301} 🔋screen🔋 i̇pod İPOD",
            "but, however; although... the screen -- the price!!!",
        ]
        .map(str::to_string),
    );
    texts.push("the screen and the battery and the price ".repeat(2_000));
    let inputs: Vec<AnalysisInput> = texts
        .iter()
        .map(|t| AnalysisInput {
            text: t.clone(),
            kind: PostKind::Review,
            language: None,
        })
        .collect();
    let rich = plugin
        .analyze_rich(&inputs, &taxonomy)
        .expect("the host accepts the batch")
        .value;
    let plain = plugin.analyze(&inputs).expect("analyze").value;
    assert_eq!(rich.len(), inputs.len());
    for (r, p) in rich.iter().zip(&plain) {
        assert_eq!((r.sentiment, &r.label), (p.sentiment, &p.label));
    }
    let mentions: usize = rich.iter().map(|r| r.aspects.len()).sum();
    assert!(mentions > 100, "{mentions} mentions");
    assert_eq!(rich.last().map(|r| r.aspects.len()), Some(3));
}
