//! Scores the six intents of a parsed text.
//!
//! Each sentence is searched for the cues of `cues.rs`; a cue found is
//! evidence with a weight, adjusted by its context:
//! - negation: a negator in the three words before a cue, within its clause,
//!   cancels it; negated praise ("not happy", "don't like") is a complaint,
//!   and a negated complaint ("not bad", "not complaining") is mild praise;
//! - wishes and conditions ("would love", "would be great", "if it's good")
//!   are not praise;
//! - praise asked about ("is it any good?") is not praise;
//! - churn talk ("switch to", "leaving") counts fully only when the sentence
//!   has a first-person subject or none at all ("Switching to Signal.");
//!   so do vague problem reports ("doesn't work", "a bug", "crashes"), for
//!   which "my phone" also makes the problem the author's own;
//! - a post that reports a fix or promises one ("it's fixed now", "we'll
//!   look at it") answers a problem: its problem reports count less;
//! - stock praise in a short sentence next to a complaint ("Well done.",
//!   "great job!", "that's wonderful. how do I get rid of it?") is sarcasm,
//!   and so is anything marked `/s`.
//!
//! Questions also come from the sentence itself: a `?` at its end (a lone
//! "Really?" or "Seriously?" is a reaction, not a question), a wh-word or an
//! auxiliary opening it ("how do I ...", "does anyone ...") without one.
//!
//! A post's confidence in an intent is the noisy-or of its evidence,
//! `1 - Π(1 - w)`; cues that overlap count once (the strongest).

use super::Intent;
use super::cues::{
    self, AUXILIARIES, BLOCK, FIRST, FIRST_PERSON, FLIP, NEG, NEGATORS, POSSESSIVES, QUESTION, RESOLVED, START, STOCK,
    THANKS, WISH,
};
use super::text::{Kind, Text};

const INTENTS: usize = Intent::ALL.len();

/// Words that open a sentence without carrying it ("so", "ok", "hey").
#[rustfmt::skip]
const DISCOURSE: &[&str] = &[
    "so", "ok", "okay", "hey", "hi", "hello", "also", "and", "but", "well", "wait", "um", "uh", "lol", "btw", "ps",
    "oh", "yeah", "yes", "honestly", "seriously", "just", "quick", "question", "guys", "then", "now", "alright",
];
/// Question words.
#[rustfmt::skip]
const WH: &[&str] = &[
    "what", "why", "how", "where", "when", "who", "which", "whose", "whom", "what's", "how's", "where's", "who's",
    "why's",
];
/// Words that make the evaluation after them stronger ("very useful").
#[rustfmt::skip]
const INTENSIFIERS: &[&str] = &[
    "very", "really", "so", "super", "extremely", "incredibly", "absolutely", "truly", "such", "totally", "utterly",
    "insanely", "ridiculously", "genuinely", "seriously", "damn", "fucking",
];
/// Subjects after an auxiliary that opens a question ("do you", "is there").
#[rustfmt::skip]
const SUBJECTS: &[&str] = &[
    "i", "you", "he", "she", "it", "we", "they", "there", "anyone", "anybody", "someone", "somebody", "this", "that",
    "people", "u", "ya", "y'all", "ur", "your", "the", "my", "any", "these", "those", "everyone", "anything",
];
/// Words that turn what follows into a wish or a condition.
#[rustfmt::skip]
const WISHES: &[&str] = &[
    "would", "could", "should", "wish", "hope", "hoping", "hopefully", "if", "i'd", "we'd", "you'd", "it'd", "might",
    "may", "unless", "whether", "wanna", "want", "needs", "need", "would've",
];
/// Words that make mixed praise and blame sincere: an opener of the next
/// sentence ("Great job! But ..."), or a contrast inside the sentence
/// ("Love the idea, but why ...").
#[rustfmt::skip]
const CONCESSIVE: &[&str] = &[
    "but", "however", "though", "although", "still", "just", "except", "while", "yet",
];
/// Phrases that mark a whole post as sarcastic.
const SARCASM: &[&[&str]] = &[
    &["yeah", "right"],
    &["oh", "great"],
    &["oh", "joy"],
    &["oh", "wonderful"],
    &["how", "convenient"],
    &["color", "me"],
    &["colour", "me"],
    &["what", "could", "possibly", "go", "wrong"],
    &["said", "no", "one", "ever"],
];

#[derive(Clone, Copy, Debug)]
pub(crate) struct Evidence {
    pub(crate) intent: Intent,
    pub(crate) weight: f32,
    pub(crate) start: usize,
    pub(crate) end: usize,
    sentence: usize,
    flags: u16,
}

/// Confidence in [0, 1] per intent, in `Intent::ALL` order. `raw` is the
/// original text (for the `/s` marker, which the tokenizer drops).
pub(crate) fn score(text: &Text, raw: &str) -> [f32; INTENTS] {
    let mut evidence = collect(text, raw);
    combine(text.tokens.len(), &mut evidence)
}

/// The evidence found, after context rules, before it is combined.
pub(crate) fn collect(text: &Text, raw: &str) -> Vec<Evidence> {
    let compiled = cues::compiled();
    let mut evidence: Vec<Evidence> = Vec::new();
    let mut words: Vec<&str> = Vec::new();
    // Per word of the sentence: where its clause starts (relative).
    let mut clauses: Vec<usize> = Vec::new();
    let mut resolved = false;
    for (si, sentence) in text.sentences.iter().enumerate() {
        words.clear();
        words.extend(sentence.tokens.clone().map(|i| text.word(i)));
        let base = sentence.tokens.start;
        clauses.clear();
        let mut current = 0;
        for k in 0..words.len() {
            if k > 0 && text.tokens.get(base + k).is_some_and(|t| t.clause_start) {
                current = k;
            }
            clauses.push(current);
        }
        let first_person = words.iter().any(|w| FIRST_PERSON.contains(w));
        // A problem with "my phone" is the author's own too.
        let own = first_person || words.iter().any(|w| POSSESSIVES.contains(w));

        let word_count = sentence
            .tokens
            .clone()
            .filter(|&i| text.tokens.get(i).is_some_and(|t| t.kind != Kind::Symbol))
            .count();
        if let Some(weight) = question_form(&words, word_count, sentence.question) {
            evidence.push(Evidence {
                intent: Intent::Question,
                weight,
                start: base,
                end: base,
                sentence: si,
                flags: 0,
            });
        }

        for i in 0..words.len() {
            for phrase in compiled.candidates(words[i]) {
                let Some(len) = cues::match_len(&phrase.elems, &words[i..]) else {
                    continue;
                };
                let Some(cue) = cues::CUES.get(phrase.cue) else {
                    continue;
                };
                let clause = clauses.get(i).copied().unwrap_or(0);
                let before = &words[clause..i];
                let near = &before[before.len().saturating_sub(3)..];
                let matched = &words[i..i + len];
                let mut intent = cue.intent;
                let mut weight = cue.weight;
                if cue.flags & RESOLVED != 0 {
                    resolved = true;
                    continue;
                }
                if cue.flags & BLOCK != 0 {
                    evidence.push(Evidence {
                        intent,
                        weight: 0.0,
                        start: base + i,
                        end: base + i + len,
                        sentence: si,
                        flags: cue.flags,
                    });
                    continue;
                }
                if (cue.flags & QUESTION != 0 && !sentence.question) || (cue.flags & START != 0 && clause != i) {
                    continue;
                }
                let wish_window = &before[before.len().saturating_sub(4)..];
                if cue.flags & NEG != 0 && near.iter().any(|w| NEGATORS.contains(w)) {
                    match (intent, cue.flags & FLIP == FLIP) {
                        (Intent::Praise, true) => {
                            // "not happy", "don't like": a complaint, however mild the word.
                            intent = Intent::Complaint;
                            weight = 0.4 + 0.4 * weight;
                        }
                        (Intent::Complaint, _) => {
                            intent = Intent::Praise;
                            weight = (weight * 0.5).min(0.35);
                        }
                        _ => continue,
                    }
                } else if cue.flags & WISH != 0 && wish_window.iter().chain(matched).any(|w| WISHES.contains(w)) {
                    continue;
                }
                if matches!(intent, Intent::Praise | Intent::Complaint)
                    && before[before.len().saturating_sub(2)..]
                        .iter()
                        .any(|w| INTENSIFIERS.contains(w))
                {
                    weight += (1.0 - weight) * 0.3;
                }
                // A sentence that opens with the cue has no other subject:
                // "Switching to Signal.", "Going back to Digg." speak for the author.
                let opens = i <= words.len() - skip_discourse(&words).len();
                let subject = if intent == Intent::SupportRequest {
                    own
                } else {
                    first_person
                };
                if cue.flags & FIRST != 0 && !subject && !opens {
                    weight *= 0.6;
                }
                if intent == Intent::Praise && sentence.question && asks(&words[clause..]) {
                    weight *= 0.4;
                }
                evidence.push(Evidence {
                    intent,
                    weight,
                    start: base + i,
                    end: base + i + len,
                    sentence: si,
                    flags: if intent == cue.intent { cue.flags } else { 0 },
                });
            }
        }
    }

    sarcasm(text, raw, &mut evidence);
    if resolved {
        // "It's a bug, will be fixed.": the author answers a problem, not asks for help.
        for e in &mut evidence {
            match e.intent {
                Intent::SupportRequest => e.weight *= 0.3,
                Intent::Complaint => e.weight *= 0.5,
                _ => {}
            }
        }
    }
    evidence
}

/// Whether the clause `clause` (from its start) asks something: it opens
/// with a wh-word or an auxiliary.
fn asks(clause: &[&str]) -> bool {
    let opening = skip_discourse(clause);
    opening
        .first()
        .is_some_and(|w| WH.contains(w) || AUXILIARIES.contains(w))
}

fn skip_discourse<'a, 'b>(words: &'a [&'b str]) -> &'a [&'b str] {
    let skip = words.iter().take(3).take_while(|w| DISCOURSE.contains(w)).count();
    &words[skip..]
}

/// The weight of a sentence's form as a question. `word_count` leaves
/// emoji out ("Seriously? 🤦" is one word).
fn question_form(words: &[&str], word_count: usize, question_mark: bool) -> Option<f32> {
    if question_mark {
        let first = words.first()?;
        return Some(if word_count <= 1 && !(WH.contains(first) && *first != "what") {
            // "Really?", "Me?", "test?": a reaction, not a question.
            0.15
        } else {
            0.85
        });
    }
    let words = skip_discourse(words);
    let (&first, &second) = (words.first()?, words.get(1)?);
    if words.len() < 3 {
        return None;
    }
    // "what a mess" and "how cool is that" are exclamations, "which is why"
    // and "what we need is" are not questions: a wh-word must be followed by
    // an auxiliary ("how do I", "where can I").
    if WH.contains(&first) && first != "which" && AUXILIARIES.contains(&second) {
        return Some(0.6);
    }
    if AUXILIARIES.contains(&first) && SUBJECTS.contains(&second) {
        return Some(0.55);
    }
    None
}

/// Stock praise that sits next to a complaint is sarcasm ("Forcing people
/// to use it. Well done.", "that's wonderful. how do I get rid of it?"),
/// unless the next sentence concedes ("Great job! But ..."); `/s` and a few
/// idioms make all praise of the post sarcastic. Thanks in a sentence that
/// opens with a negator is a refusal ("No X for me, thanks"), and thanks
/// closing a post after a question is thanks in advance.
fn sarcasm(text: &Text, raw: &str, evidence: &mut [Evidence]) {
    let marked = raw
        .split_whitespace()
        .any(|w| w.trim_end_matches(['.', '!', ')']) == "/s")
        || text.sentences.iter().any(|s| {
            let words: Vec<&str> = s.tokens.clone().map(|i| text.word(i)).collect();
            SARCASM
                .iter()
                .any(|idiom| words.windows(idiom.len()).any(|w| w == *idiom))
        });
    // Strongest complaint (or problem) per sentence, and the strongest
    // complaint that follows stock praise in the same sentence.
    let mut negative = vec![0.0f32; text.sentences.len()];
    let mut after_praise = vec![0.0f32; text.sentences.len()];
    let mut praise_at: Vec<Option<usize>> = vec![None; text.sentences.len()];
    for e in evidence.iter() {
        if e.intent == Intent::Praise && e.flags & STOCK != 0 && e.weight > 0.0 {
            let slot = &mut praise_at[e.sentence];
            *slot = Some(slot.map_or(e.start, |p| p.min(e.start)));
        }
    }
    for e in evidence.iter() {
        if matches!(e.intent, Intent::Complaint | Intent::SupportRequest)
            && let Some(n) = negative.get_mut(e.sentence)
        {
            *n = n.max(e.weight);
            if e.intent == Intent::Complaint && praise_at[e.sentence].is_some_and(|p| p < e.start) {
                after_praise[e.sentence] = after_praise[e.sentence].max(e.weight);
            }
        }
    }
    // Strongest complaint in any earlier sentence.
    let mut earlier = Vec::with_capacity(negative.len());
    let mut so_far = 0.0f32;
    for &n in &negative {
        earlier.push(so_far);
        so_far = so_far.max(n);
    }
    // Length of the clause of each token.
    let mut clause_len = vec![0usize; text.tokens.len()];
    for sentence in &text.sentences {
        let mut start = sentence.tokens.start;
        for i in sentence.tokens.clone().chain([sentence.tokens.end]) {
            let boundary =
                i == sentence.tokens.end || (i > start && text.tokens.get(i).is_some_and(|t| t.clause_start));
            if boundary {
                for cell in clause_len.get_mut(start..i).into_iter().flatten() {
                    *cell = i - start;
                }
                start = i;
            }
        }
    }
    // Sentences with a contrast word ("but", "though"): mixed on purpose.
    let contrast: Vec<bool> = text
        .sentences
        .iter()
        .map(|s| s.tokens.clone().any(|i| CONCESSIVE.contains(&text.word(i))))
        .collect();
    let last = text.sentences.len().saturating_sub(1);
    for e in evidence
        .iter_mut()
        .filter(|e| e.intent == Intent::Praise && e.weight > 0.0)
    {
        let Some(sentence) = text.sentences.get(e.sentence) else {
            continue;
        };
        let opening = text.word(sentence.tokens.start);
        if e.flags & THANKS != 0
            && (NEGATORS.contains(&opening)
                || (e.sentence == last && e.sentence > 0 && text.sentences[e.sentence - 1].question))
        {
            e.weight = 0.0;
            continue;
        }
        let short = sentence.tokens.len() <= 4 || clause_len.get(e.start).is_some_and(|&n| n <= 3);
        let before = earlier.get(e.sentence).copied().unwrap_or(0.0);
        let after = negative.get(e.sentence + 1).copied().unwrap_or(0.0);
        let next_concedes = text
            .sentences
            .get(e.sentence + 1)
            .is_some_and(|s| CONCESSIVE.contains(&text.word(s.tokens.start)));
        let stock = e.flags & STOCK != 0;
        let same = !contrast[e.sentence] && after_praise[e.sentence] >= 0.5;
        if marked || (stock && (same || (short && !next_concedes && (before >= 0.45 || after >= 0.4)))) {
            e.intent = Intent::Complaint;
            e.weight *= 0.5;
        }
    }
}

/// Noisy-or of the evidence per intent; evidence overlapping stronger
/// evidence of the same intent is not counted again.
fn combine(tokens: usize, evidence: &mut [Evidence]) -> [f32; INTENTS] {
    // Idioms first: they cover their words before any cue inside them counts.
    let blocks = |e: &Evidence| e.flags & BLOCK == 0;
    evidence.sort_by(|a, b| {
        blocks(a)
            .cmp(&blocks(b))
            .then(b.weight.total_cmp(&a.weight))
            .then(a.start.cmp(&b.start))
    });
    // One bit per intent per token: already covered.
    let mut covered = vec![0u8; tokens];
    let mut miss = [1.0f32; INTENTS];
    for e in evidence.iter() {
        let bit = 1u8 << (e.intent as u8);
        let span = e.start..e.end.max(e.start);
        if let Some(cells) = covered.get_mut(span.clone())
            && !span.is_empty()
        {
            if cells.iter().any(|c| c & bit != 0) {
                continue;
            }
            for c in cells {
                *c |= bit;
            }
        }
        let w = e.weight.clamp(0.0, 0.99);
        miss[e.intent as usize] *= 1.0 - w;
    }
    miss.map(|m| (1.0 - m).clamp(0.0, 1.0))
}
