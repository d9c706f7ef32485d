//! Lexicon-and-rules sentiment scorer in the spirit of VADER (Hutto & Gilbert,
//! 2014), written from scratch for speed in WebAssembly: the lexicon is a
//! static perfect hash table built at compile time, scoring allocates
//! nothing, and a text is read in one pass.
//!
//! Rules: negation ("not", "n't", "never", "without", ...) flips the
//! sentiment words in the next few tokens of its clause, and a negation that
//! finds no sentiment word ("it doesn't work") counts as mildly negative;
//! boosters and dampeners ("very", "kind of") scale the next words;
//! contrast words ("but", "however", "although") make the clause after them
//! weigh more than the text before; words in capitals (in mixed-case text),
//! stretched spellings, "!" and repeated "?" add emphasis; emoticons, emoji
//! and slang are in the lexicon. The sum is squashed by `x / sqrt(x² + 15)`.
//!
//! Binary convention: a text counts as positive when `score >= 0.0` and as
//! negative otherwise, so a text without sentiment (score 0) counts as
//! positive. The three-way `label` uses VADER's ±0.05 thresholds.

mod hash;
mod lexicon;
mod tokens;

use lexicon::Role;
use tokens::{Token, Tokens};

/// Sentiment of one text: score in [-1.0, 1.0] and its label.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sentiment {
    pub score: f32,
    pub label: Label,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Label {
    Positive,
    Negative,
    Neutral,
}

impl Label {
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Positive => "positive",
            Label::Negative => "negative",
            Label::Neutral => "neutral",
        }
    }
}

/// Scores `text`. Never panics; any input, including empty text, gives a
/// score in [-1.0, 1.0] (exactly 0.0 when nothing in it carries sentiment).
pub fn analyze(text: &str) -> Sentiment {
    let score = score(text);
    let label = if score >= LABEL_THRESHOLD {
        Label::Positive
    } else if score <= -LABEL_THRESHOLD {
        Label::Negative
    } else {
        Label::Neutral
    };
    Sentiment { score, label }
}

/// |score| below this is labelled neutral (VADER's recommendation).
const LABEL_THRESHOLD: f32 = 0.05;
/// Normalisation constant of `x / sqrt(x² + ALPHA)` (VADER's).
const ALPHA: f32 = 15.0;
/// Largest |sum of valences| normalised (see `score`).
const MAX_SUM: f32 = 1.0e6;
/// Magnitude added by a booster, removed by a dampener (VADER's).
const BOOST: f32 = 0.293;
/// Magnitude added by a word in capitals within mixed-case text (VADER's).
const CAPS: f32 = 0.733;
/// Factor applied to a negated sentiment word (VADER's).
const NEGATION: f32 = -0.74;
/// Tokens after a negator that it reaches, within its clause.
const NEGATION_SCOPE: u8 = 3;
// The next four were tuned on Rotten Tomatoes snippets (see data/README.md).
/// Valence of a negation that reached no sentiment word ("doesn't work").
const NEGATED_NEUTRAL: f32 = -1.3;
/// Valence of "too" before a word without sentiment of its own ("too long").
const TOO_MUCH: f32 = -1.0;
/// Weight of negative valences relative to positive ones: praise is given
/// more loosely than blame (the positivity bias of language), so a negative
/// word says more.
const NEGATIVE_WEIGHT: f32 = 1.2;
/// Weight of a sentence that ends in "?": it asks rather than states.
const QUESTION_WEIGHT: f32 = 0.5;
/// Weights of the text before and after a contrast word (VADER's).
const BEFORE_CONTRAST: f32 = 0.5;
const AFTER_CONTRAST: f32 = 1.5;
/// Booster weight by distance to the word it modifies (VADER's).
const BOOST_DISTANCE: [f32; 3] = [1.0, 0.95, 0.9];
/// Emphasis per "!" (VADER's), counted up to `MAX_EXCLAMATIONS`.
const EXCLAMATION: f32 = 0.292;
const MAX_EXCLAMATIONS: u32 = 4;
/// Emphasis per "?" when there are two or three, and its cap beyond (VADER's).
const QUESTION: f32 = 0.18;
const MAX_QUESTION: f32 = 0.96;

fn score(text: &str) -> f32 {
    // Capitals only signal emphasis when the text is not written all in capitals.
    let caps_matter = text.bytes().any(|b| b.is_ascii_lowercase());
    let mut tokens = Tokens::new(text);
    let mut state = State::new(caps_matter);
    while let Some(token) = tokens.next() {
        state.skip(std::mem::take(&mut tokens.unknown));
        match token {
            Token::Word {
                entry,
                shout,
                elongated,
            } => state.word(entry, shout, elongated),
            Token::Symbol { entry } => state.symbol(entry),
            Token::Clause => state.clause_break(),
            Token::Sentence { question } => state.sentence_break(question),
        }
    }
    state.skip(tokens.unknown);
    state.sentence_break(false);
    let mut sum = state.total;
    if sum == 0.0 {
        return 0.0;
    }
    let emphasis = EXCLAMATION * tokens.exclamations.min(MAX_EXCLAMATIONS) as f32
        + match tokens.questions {
            0 | 1 => 0.0,
            n => (QUESTION * n as f32).min(MAX_QUESTION),
        };
    // Bounded so that `sum * sum` stays finite whatever the text's length;
    // the score is ±1.0 long before this anyway.
    sum = (sum + emphasis.copysign(sum)).clamp(-MAX_SUM, MAX_SUM);
    (sum / (sum * sum + ALPHA).sqrt()).clamp(-1.0, 1.0)
}

/// Running state of one left-to-right pass.
struct State {
    caps_matter: bool,
    /// Weighted valence of the finished sentences.
    total: f32,
    /// Weighted valence of the current sentence.
    sentence: f32,
    /// Weight of the current text, set by contrast words.
    weight: f32,
    /// Booster/dampener amounts of the last three words, newest first.
    boosts: [f32; 3],
    /// Role of the previous word in this clause (`Plain` after a break).
    prev_role: Role,
    /// No word yet in this sentence.
    sentence_start: bool,
    /// In the subordinate clause of a sentence-initial "although".
    in_concession: bool,
    /// Tokens that the open negation still reaches (0: none open).
    negation_left: u8,
    /// The open negation has flipped a sentiment word.
    negation_hit: bool,
    /// The open negation counts as negative if it flips nothing.
    negation_counts: bool,
    /// "not only ... but": the next contrast word is not a contrast.
    skip_contrast: bool,
    /// Contribution of the previous word's own valence, withdrawn if that word
    /// turns out to be a modifier ("pretty good", "kind of").
    retractable: f32,
}

impl State {
    fn new(caps_matter: bool) -> Self {
        State {
            caps_matter,
            total: 0.0,
            sentence: 0.0,
            weight: 1.0,
            boosts: [0.0; 3],
            prev_role: Role::Plain,
            sentence_start: true,
            in_concession: false,
            negation_left: 0,
            negation_hit: false,
            negation_counts: false,
            skip_contrast: false,
            retractable: 0.0,
        }
    }

    /// `n` words missing from the lexicon: they only move the modifier
    /// windows (in one step, as most words are such).
    fn skip(&mut self, n: u32) {
        if n == 0 {
            return;
        }
        self.retractable = 0.0;
        if self.prev_role == Role::Too {
            // Excess is a complaint: "too long", "too many".
            self.sentiment(TOO_MUCH, false, false);
        }
        if self.negation_left > 0 {
            match u8::try_from(n) {
                Ok(n) if n < self.negation_left => self.negation_left -= n,
                _ => self.close_negation(),
            }
        }
        self.boosts = match n {
            1 => [0.0, self.boosts[0], self.boosts[1]],
            2 => [0.0, 0.0, self.boosts[0]],
            _ => [0.0; 3],
        };
        self.prev_role = Role::Plain;
        self.sentence_start = false;
    }

    fn word(&mut self, entry: &'static lexicon::Entry, shout: bool, elongated: bool) {
        let role = entry.role;
        let valence = match role {
            Role::Plain | Role::Boost | Role::Damp | Role::Hedge | Role::Prefix => entry.valence(),
            _ => 0.0,
        };
        let kind_of = role == Role::Of && self.prev_role == Role::Hedge;
        if valence != 0.0 || kind_of {
            self.sentence -= self.retractable;
        }
        self.retractable = 0.0;

        let mut boost = 0.0;
        match role {
            Role::Negate => {
                self.close_negation();
                self.open_negation(true);
            }
            Role::Least if !matches!(self.prev_role, Role::At | Role::Boost) => {
                self.close_negation();
                self.open_negation(false);
            }
            Role::Only if self.prev_role == Role::Negate => {
                // "not only": no negation, and the "but (also)" is no contrast.
                self.negation_left = 0;
                self.skip_contrast = true;
            }
            Role::Contrast | Role::Concessive => {
                self.close_negation();
                self.boosts = [0.0; 3];
                if std::mem::take(&mut self.skip_contrast) {
                    // "not only X but also Y" adds up.
                } else if role == Role::Concessive && self.sentence_start {
                    self.weight = BEFORE_CONTRAST;
                    self.in_concession = true;
                } else {
                    self.contrast();
                }
            }
            Role::Negated if self.negation_left == NEGATION_SCOPE => {
                // "can't wait": the negated word carries the sentiment.
                self.negation_hit = true;
                self.add(entry.valence());
            }
            Role::Boost | Role::Damp => {
                boost = if role == Role::Boost { BOOST } else { -BOOST };
                if shout && self.caps_matter && role == Role::Boost {
                    boost += CAPS;
                }
            }
            Role::Of if kind_of => boost = -BOOST,
            Role::Too => boost = BOOST,
            Role::More => {
                boost = BOOST;
                // "couldn't be more", "never been more": praise, not negation.
                if self.negation_left > 0 && self.negation_left < NEGATION_SCOPE {
                    self.negation_left = 0;
                }
            }
            _ => {}
        }
        if self.prev_role == Role::Too && role == Role::Plain && valence == 0.0 {
            // Excess is a complaint: "too long", "too many".
            self.sentiment(TOO_MUCH, false, false);
        }
        if valence != 0.0 {
            let contribution = self.sentiment(valence, shout, elongated);
            if matches!(role, Role::Boost | Role::Damp | Role::Hedge) {
                self.retractable = contribution;
            }
        }

        if role != Role::Negate && role != Role::Least {
            self.step_negation();
        }
        self.boosts = [boost, self.boosts[0], self.boosts[1]];
        self.prev_role = role;
        self.sentence_start = false;
    }

    /// An emoticon or emoji: it states the writer's mood whatever the words
    /// before it say, so an open negation ends before it rather than
    /// flipping it ("no cheque :(", "Nope :-)").
    fn symbol(&mut self, entry: &'static lexicon::Entry) {
        self.close_negation();
        self.word(entry, false, false);
    }

    /// Adds a sentiment word after its modifiers; returns its contribution.
    fn sentiment(&mut self, valence: f32, shout: bool, elongated: bool) -> f32 {
        let mut magnitude = valence.abs();
        if shout && self.caps_matter {
            magnitude += CAPS;
        }
        if elongated {
            magnitude += BOOST;
        }
        magnitude += self.boosts.iter().zip(BOOST_DISTANCE).map(|(b, d)| b * d).sum::<f32>();
        let mut v = magnitude.max(0.0).copysign(valence);
        if self.negation_left > 0 {
            v *= NEGATION;
            self.negation_hit = true;
        }
        self.add(v)
    }

    fn add(&mut self, valence: f32) -> f32 {
        let weight = if valence < 0.0 {
            self.weight * NEGATIVE_WEIGHT
        } else {
            self.weight
        };
        let contribution = valence * weight;
        self.sentence += contribution;
        contribution
    }

    fn contrast(&mut self) {
        self.total *= BEFORE_CONTRAST;
        self.sentence *= BEFORE_CONTRAST;
        self.weight = AFTER_CONTRAST;
    }

    fn open_negation(&mut self, counts: bool) {
        self.negation_left = NEGATION_SCOPE;
        self.negation_hit = false;
        self.negation_counts = counts;
    }

    fn step_negation(&mut self) {
        if self.negation_left > 0 {
            self.negation_left -= 1;
            if self.negation_left == 0 {
                self.finish_negation();
            }
        }
    }

    fn close_negation(&mut self) {
        if self.negation_left > 0 {
            self.negation_left = 0;
            self.finish_negation();
        }
    }

    fn finish_negation(&mut self) {
        if self.negation_counts && !self.negation_hit {
            self.add(NEGATED_NEUTRAL);
        }
    }

    fn clause_break(&mut self) {
        self.close_negation();
        self.boosts = [0.0; 3];
        self.retractable = 0.0;
        self.prev_role = Role::Plain;
        if std::mem::take(&mut self.in_concession) {
            self.weight = AFTER_CONTRAST;
        }
    }

    fn sentence_break(&mut self, question: bool) {
        self.clause_break();
        if question {
            self.sentence *= QUESTION_WEIGHT;
        }
        self.total += self.sentence;
        self.sentence = 0.0;
        self.sentence_start = true;
        self.skip_contrast = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> f32 {
        let score = analyze(text).score;
        assert!((-1.0..=1.0).contains(&score), "{text:?} scored {score}");
        score
    }

    #[test]
    fn empty_and_sentiment_free_text_is_neutral_zero() {
        for text in ["", " ", " \t\r\n ", "The train leaves at 9.", "!!!", "???", "...", "-"] {
            let sentiment = analyze(text);
            assert_eq!(sentiment.score, 0.0, "{text:?}");
            assert_eq!(sentiment.label, Label::Neutral, "{text:?}");
        }
    }

    #[test]
    fn labels() {
        assert_eq!(analyze("This is good").label, Label::Positive);
        assert_eq!(analyze("This is bad").label, Label::Negative);
        assert_eq!(Label::Positive.as_str(), "positive");
        assert_eq!(Label::Negative.as_str(), "negative");
        assert_eq!(Label::Neutral.as_str(), "neutral");
    }

    #[test]
    fn lexicon_words_score_and_ignore_case() {
        assert!(s("good") > 0.0);
        assert!(s("terrible") < 0.0);
        assert_eq!(s("Good"), s("good"));
        // Additions to VADER's lexicon.
        assert!(s("The plot was predictable and bland") < 0.0);
        assert!(s("A riveting, engrossing story") > 0.0);
    }

    #[test]
    fn negation_flips_sign() {
        for text in [
            "not good",
            "isn't good",
            "isn’t good",
            "isnt good",
            "never good",
            "not a very good movie",
        ] {
            assert!(s(text) < 0.0, "{text:?}");
        }
        assert!(s("not bad") > 0.0);
        assert!(s("without hope") < 0.0);
        assert!(s("hope") > 0.0);
        assert!(s("no problems") > 0.0);
    }

    #[test]
    fn negation_scope_is_short_and_ends_with_the_clause() {
        assert!(s("It is not the case, good job") > 0.0);
        assert!(s("I do not think the actors in this film were at all good") > s("not good"));
    }

    #[test]
    fn negation_without_sentiment_is_mildly_negative() {
        assert!(s("It doesn't work") < 0.0);
        assert!(s("It never arrived") < 0.0);
        assert!(s("It doesn't work") > s("It is terrible"));
    }

    #[test]
    fn negation_idioms() {
        assert!(s("I can't wait") > 0.0);
        assert!(s("Couldn't be more pleased") > 0.0);
        assert!(s("At least it isn't horrible") > 0.0);
        assert!(s("the least interesting film") < 0.0);
        // "not only" negates nothing, and its "but" is no contrast.
        assert!(s("not only good") > 0.0);
        assert!(s("not only bad but also great") < s("bad but also great"));
    }

    #[test]
    fn boosters_increase_and_dampeners_decrease_magnitude() {
        assert!(s("very good") > s("good"));
        assert!(s("extremely bad") < s("bad"));
        assert!(s("really very good") > s("very good"));
        assert!(s("slightly good") < s("good") && s("slightly good") > 0.0);
        assert!(s("kind of good") < s("good") && s("kind of good") > 0.0);
        assert!(s("sort of bad") > s("bad") && s("sort of bad") < 0.0);
        // Words that modify when a sentiment word follows, and score alone.
        assert!(s("pretty bad") < 0.0);
        assert!(s("pretty") > 0.0);
        assert!(s("kind") > 0.0);
    }

    #[test]
    fn too_is_a_complaint_before_a_neutral_word() {
        assert!(s("The movie is too long") < 0.0);
        assert!(s("too boring") < s("boring"));
        assert!(s("I liked it too") > 0.0);
    }

    #[test]
    fn contrast_weights_the_clause_after_more() {
        assert!(s("The food was great but the service was bad") < 0.0);
        assert!(s("The food was bad but the service was great") > 0.0);
        assert!(s("The food was bad, however the staff were great") > 0.0);
        assert!(s("Although the food was great, the service was bad.") < 0.0);
        assert!(s("Although the service was bad, the food was great.") > 0.0);
        assert!(s("Good food. But terrible service.") < 0.0);
    }

    #[test]
    fn capitals_emphasise_in_mixed_case_text_only() {
        assert!(s("This is GREAT") > s("This is great"));
        assert!(s("This is TERRIBLE") < s("This is terrible"));
        assert!(s("This is VERY good") > s("This is very good"));
        assert_eq!(s("THIS IS GREAT"), s("this is great"));
    }

    #[test]
    fn exclamation_emphasises_up_to_a_cap() {
        assert!(s("great!") > s("great"));
        assert!(s("great!!!") > s("great!"));
        assert!(s("awful!!") < s("awful"));
        assert_eq!(s("great!!!!!!!!!"), s("great!!!!"));
    }

    #[test]
    fn questions_weigh_less_unless_repeated() {
        assert!(s("Is it good?") < s("It is good."));
        assert!(s("Is it good?") > 0.0);
        assert!(s("Is it good???") > s("Is it good?"));
    }

    #[test]
    fn emoticons_score() {
        for text in [":)", ":-)", ":D", "<3", "I love it :)", "8)", "8-D"] {
            assert!(s(text) > 0.0, "{text:?}");
        }
        for text in [":(", ":-(", ":'(", "</3", "ok :("] {
            assert!(s(text) < 0.0, "{text:?}");
        }
        assert!(s("I love it :)") > s("I love it"));
        assert!(s("Great:)") > 0.0);
        // A negation does not reach an emoticon or emoji.
        assert!(s("Still no cheque :(") < 0.0);
        assert!(s("I don't know :)") > 0.0);
        assert!(s("not sure 😂") > 0.0);
    }

    #[test]
    fn emoji_score_with_modifiers_and_sequences() {
        for text in ["😀", "👍", "❤️", "❤", "🙏", "😂", "👍🏽", "❤️‍🔥", "Loved it 😍😍"]
        {
            assert!(s(text) > 0.0, "{text:?}");
        }
        for text in ["😡", "👎", "💔", "worst day 😭"] {
            assert!(s(text) < 0.0, "{text:?}");
        }
        assert_eq!(s("👨‍👩‍👧"), 0.0);
    }

    #[test]
    fn slang_scores() {
        for text in ["lol", "ftw", "this slaps lol", "bussin"] {
            assert!(s(text) > 0.0, "{text:?}");
        }
        for text in ["meh", "this sucks", "smh", "wtf", "mid", "it's mid tbh", "cringe"] {
            assert!(s(text) < 0.0, "{text:?}");
        }
        // A prefix in a compound is not the slang word.
        assert_eq!(s("a mid-range phone"), 0.0);
    }

    #[test]
    fn stretched_spellings_are_found_and_emphasised() {
        assert!(s("goooood") > s("good"));
        assert!(s("sooooo good") > s("good"));
        assert!(s("baaad") < 0.0);
    }

    #[test]
    fn compounds_fall_back_to_their_parts() {
        assert!(s("a feel-good movie") > 0.0);
        assert!(s("self-indulgent") < 0.0);
    }

    #[test]
    fn never_panics_and_stays_in_range() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        // Random code points of every plane, and random ASCII punctuation
        // soup, which exercises the emoticon and word paths.
        for _ in 0..2_000 {
            let len = (next() % 64) as usize;
            let text: String = (0..len)
                .filter_map(|_| char::from_u32((next() % 0x11_0000) as u32))
                .collect();
            s(&text);
            let soup: String = (0..len)
                .map(|_| char::from(b" !'(),-.:;<>?DPx3o:-)'n't"[(next() % 25) as usize]))
                .collect();
            s(&soup);
        }
        for text in [
            "\u{0}\u{1}\u{7f}\u{200d}\u{fe0f}\u{2019}\u{2026}",
            "n't",
            "'",
            "-",
            "a-",
            "-a",
            ".5",
            "5.",
            "a-b-c-d-e-f-g-h",
            "don’",
            "’t",
            "Привет, это хорошо",
            "これはとても良いです",
            "مرحبا",
            "👍🏽👍🏿🏳️‍🌈🧑‍🤝‍🧑",
        ] {
            s(text);
        }
    }

    #[test]
    fn huge_inputs_stay_finite_and_in_range() {
        let positive = "This is great! ".repeat(70_000);
        assert!(positive.len() > 1_000_000);
        assert!(s(&positive) > 0.99);
        let negative = "awful, TERRIBLE!!! ".repeat(60_000);
        assert!(s(&negative) < -0.99);
        assert_eq!(s(&"x".repeat(1 << 20)), 0.0);
        s(&"soo".repeat(400_000));
        s(&"not ".repeat(300_000));
        s(&"but ".repeat(300_000));
        s(&"-a".repeat(500_000));
    }
}
