//! Intents, language and topics of a post, from linguistic rules. Plain Rust
//! with no I/O, so tests and benchmarks run it natively; the plugin in
//! `lib.rs` only converts types.
//!
//! - `text.rs` reads the text once: lower-cased words in sentences, without
//!   links, handles, quoted lines and struck-through text.
//! - `cues.rs` lists the phrases that signal each intent, with weights.
//! - `intents.rs` finds them, applies negation, wishes, questions, first
//!   person and sarcasm, and combines the evidence per intent.
//! - `language.rs` tells the language by writing system, stopwords and
//!   letter sequences; `topics.rs` picks content words.
//!
//! Every step is linear in the length of the text (or bounded: language looks
//! at the first 2,000 words, topics track 4,096 distinct words), only the
//! first 128 KiB of a text are read, and nothing panics on any input.

mod cues;
mod fxhash;
mod intents;
mod language;
mod text;
mod topics;

/// The labels this analyzer gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Intent {
    Complaint,
    Question,
    Praise,
    PurchaseIntent,
    ChurnRisk,
    SupportRequest,
}

impl Intent {
    pub const ALL: [Intent; 6] = [
        Intent::Complaint,
        Intent::Question,
        Intent::Praise,
        Intent::PurchaseIntent,
        Intent::ChurnRisk,
        Intent::SupportRequest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Intent::Complaint => "complaint",
            Intent::Question => "question",
            Intent::Praise => "praise",
            Intent::PurchaseIntent => "purchase-intent",
            Intent::ChurnRisk => "churn-risk",
            Intent::SupportRequest => "support-request",
        }
    }

    pub fn from_name(name: &str) -> Option<Intent> {
        Intent::ALL.into_iter().find(|i| i.as_str() == name)
    }
}

/// An intent applies when its confidence reaches this.
pub const THRESHOLD: f32 = 0.5;

/// What the rules found in one text.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    /// The intents that apply, most confident first (ties in `Intent::ALL` order).
    pub intents: Vec<(Intent, f32)>,
    /// BCP 47 tag, or `None` when the text is too short or the language unknown.
    pub language: Option<&'static str>,
    /// Up to five lower-case keywords.
    pub topics: Vec<String>,
}

/// Only the first 128 KiB of a text are read (about 20,000 words; longer
/// posts do not occur on social networks), which bounds the time and fuel
/// any one text can take.
pub const MAX_TEXT_BYTES: usize = 128 * 1024;

fn head(text: &str) -> &str {
    let mut end = text.len().min(MAX_TEXT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Analyzes one text. Any input works, including an empty one.
pub fn analyze(text: &str) -> Analysis {
    let text = head(text);
    let parsed = text::parse(text);
    let confidence = intents::score(&parsed, text);
    let mut intents: Vec<(Intent, f32)> = Intent::ALL
        .into_iter()
        .zip(confidence)
        .filter(|&(_, c)| c >= THRESHOLD)
        .collect();
    intents.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Analysis {
        intents,
        language: language::detect(&parsed),
        topics: topics::topics(&parsed),
    }
}

/// Confidence in every intent, applying or not, in `Intent::ALL` order.
pub fn confidences(text: &str) -> [f32; 6] {
    let text = head(text);
    intents::score(&text::parse(text), text)
}

/// The evidence behind the confidences, for tuning the rules: each cue
/// found, with its intent, weight after context rules, and the words.
#[doc(hidden)]
pub fn explain(text: &str) -> Vec<(Intent, f32, String)> {
    let text = head(text);
    let parsed = text::parse(text);
    intents::collect(&parsed, text)
        .into_iter()
        .map(|e| {
            let words: Vec<&str> = (e.start..e.end.max(e.start + 1)).map(|i| parsed.word(i)).collect();
            (e.intent, e.weight, words.join(" "))
        })
        .collect()
}
