//! Up to five topic keywords: the content words of a text.
//!
//! Candidates are words of three letters or more (two for scripts without
//! capitals or spaces are not segmented, so Chinese, Japanese and Thai only
//! give hashtags), hashtags (without `#`) and `r/community` names; links,
//! handles and quoted lines never get here (see `text.rs`). Stopwords of the
//! supported languages, common English verbs, adjectives and adverbs, and
//! numbers are left out. A plural merges into its singular when both occur.
//!
//! Score: occurrences, +2 per hashtag or community mention, +0.5 per use as a
//! capitalised name in mid-sentence ("Apollo", "Samsung"), +0.25 for words of
//! seven letters or more, -0.3 for likely verb forms and adverbs ("-ing",
//! "-ed", "-ly"). Ties go to the word seen first. Only the first
//! 4,096 distinct words are tracked, which bounds memory on any input.

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

#[derive(Clone, Copy)]
struct Stat {
    score: f32,
    first: usize,
}

type Map<'a> = HashMap<&'a str, Stat, BuildHasherDefault<DefaultHasher>>;

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
            letters >= 3
                && chars <= MAX_LEN
                && !unsegmented(word)
                && !word.contains('\'')
                && !is_stopword(word)
                && !not_topics().contains_key(word)
        }
        Kind::Number | Kind::Symbol => false,
    }
}

pub(crate) fn topics(text: &Text) -> Vec<String> {
    let mut stats: Map = Map::default();
    for (i, token) in text.tokens.iter().enumerate() {
        let raw = text.word(i);
        let word = raw.strip_suffix("'s").unwrap_or(raw);
        if !candidate(word, token.kind) {
            continue;
        }
        let bonus = match token.kind {
            Kind::Hashtag | Kind::Community => 2.0,
            _ if token.proper => 0.5,
            _ => 0.0,
        };
        let long = if word.chars().count() >= 7 { 0.25 } else { 0.0 };
        // Likely verb forms and adverbs lose ties to nouns.
        let verbish = if word.len() > 5 && (word.ends_with("ing") || word.ends_with("ed") || word.ends_with("ly")) {
            0.3
        } else {
            0.0
        };
        let room = stats.len() < MAX_DISTINCT;
        match stats.get_mut(word) {
            Some(stat) => stat.score += 1.0 + bonus,
            None if room => {
                stats.insert(
                    word,
                    Stat {
                        score: 1.0 + bonus + long - verbish,
                        first: i,
                    },
                );
            }
            None => {}
        }
    }
    // Plurals into singulars ("apps" into "app"), when both were seen.
    let plurals: Vec<(&str, &str)> = stats
        .keys()
        .filter_map(|w| {
            let singular = w
                .strip_suffix('s')
                .filter(|s| s.chars().count() >= 3 && !s.ends_with('s'))?;
            stats.contains_key(singular).then_some((*w, singular))
        })
        .collect();
    for (plural, singular) in plurals {
        if let Some(p) = stats.remove(plural)
            && let Some(s) = stats.get_mut(singular)
        {
            s.score += p.score;
            s.first = s.first.min(p.first);
        }
    }
    let mut ranked: Vec<(&str, Stat)> = stats.into_iter().collect();
    ranked.sort_by(|a, b| b.1.score.total_cmp(&a.1.score).then(a.1.first.cmp(&b.1.first)));
    ranked.into_iter().take(MAX_TOPICS).map(|(w, _)| w.to_owned()).collect()
}
