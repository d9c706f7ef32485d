//! Up to five topics: keyphrases and content words of a text.
//!
//! A keyphrase is a run of two or three content words in one clause
//! ("battery life", "customer service"); a run ends at any other word,
//! a number, punctuation or a clause break. Number words and references
//! (three digits or more in a word, like order numbers) are never topics,
//! and an ordinal is one only inside a phrase ("third party").
//!
//! Candidates are words of three letters or more, or of two with a digit
//! (model names such as `x2`; scripts without spaces are not segmented, so
//! Chinese, Japanese and Thai only give hashtags), hashtags (without `#`) and `r/community` names; links,
//! handles and quoted lines never get here (see `text.rs`). Stopwords of the
//! supported languages, common English verbs, adjectives and adverbs, and
//! numbers are left out. A plural merges into its singular when both occur.
//!
//! Score of a word: occurrences, +2 per hashtag or community mention, +0.5 per use as a
//! capitalised name in mid-sentence ("Apollo", "Samsung"), +0.25 for words of
//! seven letters or more, -0.3 for likely verb forms and adverbs ("-ing",
//! "-ed", "-ly"). A phrase scores its mean word plus 0.5 per extra word
//! for each occurrence, so a phrase seen once outranks its words seen once.
//! A word that occurs only inside a chosen phrase is not chosen again; a
//! likely adverb, adjective or verb form ("quickly", "compatible",
//! "announced") is a topic only inside a phrase or as a name; past the
//! fourth topic, a plain word said once is left out. Ties
//! go to the longer topic, then to the one seen first. Only the first 4,096
//! distinct words and phrases each are tracked, which bounds memory on any
//! input.

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::BuildHasherDefault;
use std::sync::OnceLock;

use super::fxhash::FxMap;
use super::language::is_stopword;
use super::text::{Kind, Text};

pub(crate) const MAX_TOPICS: usize = 5;
const MAX_DISTINCT: usize = 4_096;
const MAX_LEN: usize = 40;

/// Frequent English words that are not about anything.
#[rustfmt::skip]
const NOT_TOPICS: &[&str] = &[
    "about", "above", "actually", "after", "again", "against", "ago", "almost", "along", "already", "although",
    "always", "another", "anyone", "anything", "anyway", "anyways", "anywhere", "around", "away", "back", "bad",
    "basically", "became", "become", "before", "being", "believe", "below", "best", "better", "between", "big",
    "bit", "both", "bring", "can", "cannot", "came", "come", "comes", "coming", "could", "couldn't", "course",
    "day", "days", "definitely", "did", "didn't", "different", "does", "doesn't", "doing", "done", "don't", "down",
    "during", "each", "either", "else", "enough", "entire", "especially", "etc", "every", "everyone", "everything",
    "exactly", "fact", "far", "feel", "feels", "felt", "few", "find", "first", "found", "friend", "full", "gave",
    "get", "gets", "getting", "give", "given", "gives", "go", "goes", "going", "gone", "gonna", "good", "got",
    "gotta", "great", "guess", "guy", "guys", "had", "hadn't", "happen", "happened", "hard", "has", "hasn't",
    "have", "haven't", "having", "he's", "hear", "heard", "help", "her", "here", "hers", "herself", "hey", "high",
    "him", "himself", "his", "honestly", "hope", "however", "huge", "i'd", "i'll", "i'm", "i've", "idea", "instead",
    "isn't", "it'll", "it's", "its", "itself", "just", "keep", "kind", "knew", "know", "known", "knows", "last",
    "later", "least", "less", "let", "let's", "like", "liked", "likely", "little", "long", "look", "looked",
    "looking", "looks", "lot", "lots", "love", "made", "make", "makes", "making", "many", "maybe", "mean", "means",
    "might", "mind", "mine", "more", "most", "mostly", "much", "must", "myself", "need", "needs", "never", "new",
    "next", "nice", "nothing", "now", "number", "off", "often", "okay", "old", "once", "one", "ones", "only",
    "other", "others", "otherwise", "ourselves", "out", "over", "own", "part", "people", "perhaps", "person",
    "place", "point", "pretty", "probably", "put", "quite", "rather", "read", "real", "really", "reason", "right",
    "said", "same", "saw", "say", "saying", "says", "see", "seeing", "seem", "seems", "seen", "several", "she's",
    "should", "shouldn't", "show", "since", "small", "some", "somehow", "someone", "something", "sometimes",
    "somewhere", "soon", "sorry", "start", "started", "still", "stuff", "such", "sure", "take", "taken", "takes",
    "taking", "talk", "tell", "than", "thank", "thanks", "that'll", "that's", "their", "theirs", "themselves",
    "there's", "they'd", "they'll", "they're", "they've", "thing", "things", "think", "thinking", "though",
    "thought", "through", "time", "times", "today", "together", "told", "tomorrow", "too", "took", "totally",
    "tried", "true", "try", "trying", "turn", "until", "upon", "use", "used", "uses", "using", "usually", "very",
    "via", "wait", "want", "wanted", "wants", "wasn't", "way", "ways", "we'd", "we'll", "we're", "we've", "well",
    "went", "weren't", "what's", "whatever", "where's", "whether", "while", "who's", "whole", "whom", "whose",
    "why", "will", "wish", "within", "without", "won't", "work", "works", "would", "wouldn't", "wow", "yeah",
    "year", "years", "yes", "yet", "you'd", "you'll", "you're", "you've", "yours", "yourself", "yourselves",
    "lol", "lmao", "haha", "hahaha", "omg", "wtf", "imo", "imho", "tbh", "idk", "yep", "nope", "yup", "ok", "edit",
    "also", "any", "can't", "cant", "dont", "doesnt", "didnt", "isnt", "wont", "im", "ive", "thats", "theres",
    "even", "ever", "all", "and", "are", "but", "for", "from", "the", "then", "there", "these", "they", "this",
    "those", "was", "were", "what", "when", "which", "who", "with", "you", "your", "amp", "http", "https", "www",
    "com", "org", "html", "awesome", "amazing", "terrible", "horrible", "awful", "fuck", "fucking", "shit",
    "damn", "hell", "crap", "stupid", "dumb", "cool", "sucks", "hate", "please", "literally", "seriously", "super",
    "absolutely", "completely", "simply", "everybody", "anybody", "somebody", "nobody", "whoever", "wherever",
    "whenever", "whatsoever", "anymore", "elsewhere", "ahead", "behind", "beside", "besides", "beyond", "inside",
    "outside", "toward", "towards", "upon", "among", "across", "unless", "whereas", "thus", "hence", "therefore",
    "where", "since", "keeps", "kept", "buy", "buying", "bought", "sell", "selling", "sold", "pay", "paid", "happy",
    "sad", "glad", "able", "unable", "ready", "free", "easy", "wrong", "let's", "yours", "whoa",
    "someday", "everyday", "anyhow", "hello", "bye", "agree", "disagree",
    "called", "calling", "asked", "asking", "answer", "answered", "check", "checked", "trying",
    "makes", "gets", "says", "wants", "feels", "lets",
    "playing", "play", "watch", "watching", "reading", "writing", "write", "wrote", "working", "worked", "happens",
    "exists", "exist", "remember", "forget", "forgot", "understand", "meant", "mentioned", "added",
];

/// `NOT_TOPICS` as a set.
fn not_topics() -> &'static FxMap<&'static str, ()> {
    static SET: OnceLock<FxMap<&'static str, ()>> = OnceLock::new();
    SET.get_or_init(|| NOT_TOPICS.iter().map(|w| (*w, ())).collect())
}

/// Number words: never a topic, and they end a phrase ("two weeks").
#[rustfmt::skip]
const NUMBER_WORDS: &[&str] = &[
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty", "thirty",
    "forty", "fifty", "sixty", "seventy", "eighty", "ninety", "hundred", "hundreds", "thousand", "thousands",
    "million", "millions", "billion", "dozen", "dozens", "half", "twice",
];

/// Ordinals: a phrase may hold one ("third party"), a topic is never one alone.
#[rustfmt::skip]
const ORDINALS: &[&str] = &[
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
];

/// Topics chosen on their rank alone; more must be phrases, names, tags or
/// repeated words.
const FIRM_TOPICS: usize = 4;

/// The most words a phrase holds; a longer run of content words gives its
/// words one by one.
const MAX_PHRASE_WORDS: usize = 3;

/// A reference rather than a name: three digits or more inside a word
/// (`ord12345`, `a1b2c3d4`); short model names (`x2`, `ps5`) stay.
fn reference(word: &str) -> bool {
    word.chars().filter(char::is_ascii_digit).count() >= 3
}

#[derive(Clone, Copy)]
struct Stat {
    score: f32,
    first: usize,
    count: u32,
}

type Map = HashMap<String, Stat, BuildHasherDefault<DefaultHasher>>;

fn unsegmented(word: &str) -> bool {
    word.chars().any(|c| {
        matches!(c,
            '\u{3040}'..='\u{30ff}' | '\u{3400}'..='\u{4dbf}' | '\u{4e00}'..='\u{9fff}' | '\u{f900}'..='\u{faff}'
            | '\u{0e00}'..='\u{0e7f}' | '\u{0e80}'..='\u{0eff}' | '\u{1000}'..='\u{109f}' | '\u{1780}'..='\u{17ff}')
    })
}

fn candidate(word: &str, kind: Kind) -> bool {
    let letters = word.chars().filter(|c| c.is_alphabetic()).count();
    let chars = word.chars().count();
    match kind {
        Kind::Hashtag | Kind::Community => letters >= 1 && chars <= MAX_LEN,
        Kind::Word => {
            (letters >= 3 || (letters >= 1 && chars >= 2 && letters < chars))
                && chars <= MAX_LEN
                && !unsegmented(word)
                && !word.contains('\'')
                && !reference(word)
                && !is_stopword(word)
                && !not_topics().contains_key(word)
                && !NUMBER_WORDS.contains(&word)
        }
        Kind::Number | Kind::Symbol => false,
    }
}

/// Likely an adverb, adjective or verb form ("quickly", "compatible",
/// "hoping", "announced"): such a word describes a topic, it is one only
/// inside a phrase ("saved posts") or as a name.
fn modifier(word: &str) -> bool {
    word.chars().count() > 5
        && ["ly", "ible", "able", "ing", "ed", "ous", "ive", "ful"]
            .iter()
            .any(|suffix| word.ends_with(suffix))
}

/// Adds one occurrence of `key` (first seen at token `first`) worth `score`.
fn add(stats: &mut Map, key: &str, score: f32, first: usize) {
    if let Some(stat) = stats.get_mut(key) {
        stat.score += score;
        stat.count += 1;
    } else if stats.len() < MAX_DISTINCT {
        stats.insert(key.to_owned(), Stat { score, first, count: 1 });
    }
}

/// One word's worth: 1, more as a hashtag, community or name, a little more
/// when long, a little less when it looks like a verb form or adverb.
fn worth(word: &str, kind: Kind, proper: bool) -> f32 {
    // Letters with digits make a model name ("x2", "s7") as a capital does a name.
    let model = word.chars().any(|c| c.is_ascii_digit()) && word.chars().any(char::is_alphabetic);
    let bonus = match kind {
        Kind::Hashtag | Kind::Community => 2.0,
        _ if proper || model => 0.5,
        _ => 0.0,
    };
    let long = if word.chars().count() >= 7 { 0.25 } else { 0.0 };
    let verbish = if word.len() > 5 && (word.ends_with("ing") || word.ends_with("ed") || word.ends_with("ly")) {
        0.3
    } else {
        0.0
    };
    1.0 + bonus + long - verbish
}

/// Up to five topics, most salient first: keyphrases of two or three content
/// words ("battery life", "third party apps"), single content words,
/// hashtags and communities.
pub(crate) fn topics(text: &Text) -> Vec<String> {
    let mut singles = Map::default();
    let mut phrases = Map::default();
    // The content words of the current run: (token, word).
    let mut run: Vec<(usize, &str)> = Vec::new();
    let flush = |run: &mut Vec<(usize, &str)>, phrases: &mut Map| {
        // Every stretch of two words or more counts, so "battery life" is
        // seen in "battery life matters" too.
        if run.len() <= MAX_PHRASE_WORDS {
            for start in 0..run.len() {
                for end in start + 2..=run.len() {
                    let part = &run[start..end];
                    let words: Vec<&str> = part.iter().map(|(_, w)| *w).collect();
                    let mean = part
                        .iter()
                        .map(|(i, w)| worth(w, Kind::Word, text.tokens[*i].proper))
                        .sum::<f32>()
                        / part.len() as f32;
                    // A phrase is worth its mean word, and half a point a word more.
                    add(
                        phrases,
                        &words.join(" "),
                        mean + 0.5 * (part.len() - 1) as f32,
                        part[0].0,
                    );
                }
            }
        }
        run.clear();
    };
    for (i, token) in text.tokens.iter().enumerate() {
        let raw = text.word(i);
        let word = raw.strip_suffix("'s").unwrap_or(raw);
        if token.clause_start || token.kind != Kind::Word {
            flush(&mut run, &mut phrases);
        }
        if !candidate(word, token.kind) {
            flush(&mut run, &mut phrases);
            continue;
        }
        if token.kind == Kind::Word {
            run.push((i, word));
        }
        if !ORDINALS.contains(&word) && (token.kind != Kind::Word || token.proper || !modifier(word)) {
            add(&mut singles, word, worth(word, token.kind, token.proper), i);
        }
    }
    flush(&mut run, &mut phrases);
    merge_plurals(&mut singles);

    let mut ranked: Vec<(String, Stat, usize)> = singles
        .into_iter()
        .map(|(w, s)| (w, s, 1))
        .chain(phrases.into_iter().map(|(p, s)| {
            let n = p.split(' ').count();
            (p, s, n)
        }))
        .collect();
    ranked.sort_by(|a, b| {
        b.1.score
            .total_cmp(&a.1.score)
            .then(b.2.cmp(&a.2))
            .then(a.1.first.cmp(&b.1.first))
    });
    let mut chosen: Vec<(String, u32)> = Vec::new();
    for (topic, stat, _) in ranked {
        if chosen.len() == MAX_TOPICS {
            break;
        }
        // A part of a chosen topic that occurs only inside it adds nothing,
        // nor does a longer topic around one already chosen.
        let words: Vec<&str> = topic.split(' ').collect();
        // So does a phrase that only runs on from one ("life matters" after
        // "battery life") no more often.
        let redundant = chosen.iter().any(|(c, count)| {
            let cw: Vec<&str> = c.split(' ').collect();
            ((contains(&cw, &words) || runs_on(&cw, &words) || runs_on(&words, &cw)) && stat.count <= *count)
                || contains(&words, &cw)
        });
        // Beyond the first four, a plain word said once is filler.
        let filler = chosen.len() >= FIRM_TOPICS && words.len() == 1 && stat.count < 2 && stat.score < 1.5;
        if !redundant && !filler {
            chosen.push((topic, stat.count));
        }
    }
    chosen.into_iter().map(|(t, _)| t).collect()
}

/// Whether `part` is a run of `whole`'s words.
fn contains(whole: &[&str], part: &[&str]) -> bool {
    !part.is_empty() && whole.windows(part.len()).any(|w| w == part)
}

/// Whether `b` starts with an end of `a` and goes on ("battery life", "life matters").
fn runs_on(a: &[&str], b: &[&str]) -> bool {
    (1..a.len().min(b.len())).any(|n| a[a.len() - n..] == b[..n])
}

/// Plurals into singulars ("apps" into "app"), when both were seen.
fn merge_plurals(stats: &mut Map) {
    let plurals: Vec<(String, String)> = stats
        .keys()
        .filter_map(|w| {
            let singular = w
                .strip_suffix('s')
                .filter(|s| s.chars().count() >= 3 && !s.ends_with('s'))?;
            stats.contains_key(singular).then(|| (w.clone(), singular.to_owned()))
        })
        .collect();
    for (plural, singular) in plurals {
        if let Some(p) = stats.remove(&plural)
            && let Some(s) = stats.get_mut(&singular)
        {
            s.score += p.score;
            s.count += p.count;
            s.first = s.first.min(p.first);
        }
    }
}
