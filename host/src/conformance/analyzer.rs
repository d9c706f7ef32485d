//! The analyzer checks: a valid self-description, one well-formed result per
//! input in input order, and awkward inputs (none, huge, any script, emoji)
//! handled within the limits, the same way every time.

use super::{Check, Fixtures, failure};
use crate::runtime::AnalyzerPlugin;
use crate::runtime::types::AnalysisInput;
use crate::runtime::types::{Analysis, PostKind};

pub const DESCRIBE: &str = "describe is valid";
pub const ORDER: &str = "one result per input, in order";
pub const RANGE: &str = "scores and labels in the documented range";
pub const EMPTY: &str = "an empty batch";
pub const HUGE: &str = "huge text (100 KB)";
pub const NON_ENGLISH: &str = "non-English text";
pub const NON_BMP: &str = "emoji and other non-BMP text";
pub const DETERMINISTIC: &str = "deterministic";

/// Short English posts with clearly different tones, so a shuffled batch shows.
const ENGLISH: &[&str] = &[
    "I love this, thank you so much!",
    "The app keeps crashing and support never answers :(",
    "The package arrived on Tuesday.",
    "Not bad at all, actually pretty good",
    "Worst purchase ever. I want a refund!!!",
];

const NON_ENGLISH_TEXTS: &[&str] = &[
    "Das ist wirklich großartig, vielen Dank!",
    "C'est vraiment nul, je suis très déçu.",
    "¡Me encanta este producto!",
    "Это ужасно, верните деньги.",
    "この製品は素晴らしいです。",
    "هذا المنتج رائع جدا",
    "这个产品太糟糕了",
    "मुझे यह बहुत पसंद है",
];

const NON_BMP_TEXTS: &[&str] = &[
    "I love it 😍🎉",
    "😡😡😡",
    "𝕿𝖍𝖎𝖘 𝖎𝖘 𝖌𝖗𝖊𝖆𝖙",
    "👩‍👩‍👧‍👦 family day 🏳️‍🌈",
    "e\u{301}\u{200d}\u{fe0f} 𐍈 𓀀 \u{10FFFD}",
];

/// About 100 KB of text, cut on a character boundary.
fn huge_text() -> String {
    const LINE: &str = "The delivery was late again and support never answered, but the new app is great! 😀 ";
    let mut text = LINE.repeat(100_000 / LINE.len() + 1);
    let mut cut = 100_000;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text
}

fn inputs<S: AsRef<str>>(texts: &[S]) -> Vec<AnalysisInput> {
    texts
        .iter()
        .map(|t| AnalysisInput {
            text: t.as_ref().to_string(),
            kind: PostKind::Post,
            language: None,
        })
        .collect()
}

pub(super) fn run(plugin: &AnalyzerPlugin, fixtures: &Fixtures) -> Vec<Check> {
    // The author's samples come first: some analyzers branch on the first input.
    let base: Vec<AnalysisInput> = inputs(&fixtures.samples).into_iter().chain(inputs(ENGLISH)).collect();
    let every: Vec<AnalysisInput> = base
        .iter()
        .cloned()
        .chain(inputs(NON_ENGLISH_TEXTS))
        .chain(inputs(NON_BMP_TEXTS))
        .collect();
    vec![
        Check::new(DESCRIBE, describe(plugin)),
        Check::new(ORDER, order(plugin, &base)),
        Check::new(
            RANGE,
            analyze(plugin, &every).and_then(|out| well_formed(&out)).map(|()| None),
        ),
        Check::new(EMPTY, analyze(plugin, &[]).map(|_| None)),
        Check::new(HUGE, huge(plugin)),
        Check::new(NON_ENGLISH, analyze(plugin, &inputs(NON_ENGLISH_TEXTS)).map(|_| None)),
        Check::new(NON_BMP, analyze(plugin, &inputs(NON_BMP_TEXTS)).map(|_| None)),
        Check::new(DETERMINISTIC, deterministic(plugin, &every)),
    ]
}

/// One batch through the host, which already refuses a wrong count and
/// scores outside their ranges; the error is the host's reason.
fn analyze(plugin: &AnalyzerPlugin, batch: &[AnalysisInput]) -> Result<Vec<Analysis>, String> {
    plugin.analyze(batch).map(|out| out.value).map_err(|e| failure(&e))
}

fn describe(plugin: &AnalyzerPlugin) -> Result<Option<String>, String> {
    let d = plugin.describe().map_err(|e| failure(&e))?.value;
    if d.produces.is_empty() {
        return Err("`produces` is empty: name what the analyzer outputs, e.g. `sentiment`".into());
    }
    if let Some(bad) = d.produces.iter().find(|p| !is_word(p)) {
        return Err(format!(
            "`produces` entry `{bad}` is not a lowercase word (a-z, 0-9, `-`)"
        ));
    }
    if d.description.trim().is_empty() {
        return Err("the description is empty".into());
    }
    Ok(Some(format!("produces {}", d.produces.join(", "))))
}

fn is_word(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Each result of a batch is the result of its input analyzed alone: results
/// neither shift, shuffle nor depend on their neighbours.
fn order(plugin: &AnalyzerPlugin, batch: &[AnalysisInput]) -> Result<Option<String>, String> {
    let together = analyze(plugin, batch).map_err(|e| format!("batch of {}: {e}", batch.len()))?;
    for (i, (input, result)) in batch.iter().zip(&together).enumerate() {
        let alone = analyze(plugin, std::slice::from_ref(input)).map_err(|e| format!("input {i} alone: {e}"))?;
        if alone.first().is_none_or(|a| !same(a, result)) {
            return Err(format!(
                "result {i} of the batch is not the result of input {i} ({:?}) analyzed alone: {result:?} vs {:?}",
                input.text,
                alone.first()
            ));
        }
    }
    Ok(Some(format!("{} inputs", batch.len())))
}

/// What the host does not check itself: names and tags are not blank.
fn well_formed(analyses: &[Analysis]) -> Result<(), String> {
    for (i, a) in analyses.iter().enumerate() {
        let blank = |what: &str| Err(format!("analysis {i}: {what} is blank"));
        if a.label.as_deref().is_some_and(|l| l.trim().is_empty()) {
            return blank("the label");
        }
        if let Some(tag) = a.language.as_deref().filter(|l| !is_language_tag(l)) {
            return Err(format!("analysis {i}: language `{tag}` is not a BCP 47 tag"));
        }
        if a.intents.iter().any(|l| l.name.trim().is_empty()) {
            return blank("an intent name");
        }
        if a.topics.iter().any(|t| t.trim().is_empty()) {
            return blank("a topic");
        }
    }
    Ok(())
}

/// The shape of a BCP 47 tag: subtags of 1 to 8 ASCII letters or digits.
fn is_language_tag(tag: &str) -> bool {
    tag.split('-')
        .all(|s| (1..=8).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn huge(plugin: &AnalyzerPlugin) -> Result<Option<String>, String> {
    let out = plugin.analyze(&inputs(&[huge_text()])).map_err(|e| failure(&e))?;
    Ok(Some(format!(
        "{} ms, {:.1} M fuel",
        out.duration.as_millis(),
        out.fuel_used as f64 / 1e6
    )))
}

fn deterministic(plugin: &AnalyzerPlugin, batch: &[AnalysisInput]) -> Result<Option<String>, String> {
    let first = analyze(plugin, batch)?;
    let second = analyze(plugin, batch)?;
    match first.iter().zip(&second).position(|(a, b)| !same(a, b)) {
        None => Ok(None),
        Some(i) => Err(format!(
            "input {i} ({:?}) gave {:?}, then {:?}",
            batch[i].text, first[i], second[i]
        )),
    }
}

/// Equal to the bit: floats compare by their bits, so NaN equals itself.
fn same(a: &Analysis, b: &Analysis) -> bool {
    let bits = |x: Option<f32>| x.map(f32::to_bits);
    bits(a.sentiment) == bits(b.sentiment)
        && a.label == b.label
        && a.language == b.language
        && a.topics == b.topics
        && a.intents.len() == b.intents.len()
        && a.intents
            .iter()
            .zip(&b.intents)
            .all(|(x, y)| x.name == y.name && x.confidence.to_bits() == y.confidence.to_bits())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_text_is_about_100_kb_of_whole_characters() {
        let text = huge_text();
        assert!((99_990..=100_000).contains(&text.len()), "{}", text.len());
    }

    #[test]
    fn language_tags() {
        for good in ["en", "pt-BR", "zh-Hant-TW", "und"] {
            assert!(is_language_tag(good), "{good}");
        }
        for bad in ["", "en_US", "english language", "en-", "toolongsubtag"] {
            assert!(!is_language_tag(bad), "{bad}");
        }
    }
}
