//! Aspect mentions: which entries of the brand's taxonomy a post names, and
//! the sentiment of what it says of each.
//!
//! Matching is on words (runs of letters and digits), case-insensitive, so
//! a name never matches inside a longer word ("arrange" is not "range"). A
//! name of several words matches them with spaces or hyphens between
//! ("battery life", "battery-life"); other characters between words must be
//! as written ("at&t"). The last word may be a regular plural ("batteries",
//! "screens"). Where names overlap, the longest wins ("customer service"
//! over "service"), so one stretch of text is one mention.
//!
//! Each entry is reported once per post, since the host keeps one row per
//! post and entry: at its first mention, with the mean sentiment of the
//! clauses that mention it. A clause ends at a sentence end, a line break,
//! a comma, a semicolon, a colon or a spaced dash, and before a contrast
//! word ("but", "although", "however"), so "the battery died but the frame
//! is gorgeous" is negative for the battery and positive for the frame. A
//! clause without sentiment takes the whole post's.

use std::collections::{BTreeMap, HashMap};

use socialcrm_sdk::signals::{AspectMention, TaxonomyEntry};

use crate::scorer;

/// The host refuses more mentions than this in one analysis.
pub const MAX_MENTIONS: usize = 32;
/// Matches looked at per post, in text order: bounds the work a huge post
/// full of names can cause.
const MAX_MATCHES: usize = 4096;
/// Clauses averaged per entry; later ones rarely change the mean.
const MAX_CLAUSES_PER_ENTRY: usize = 8;
/// |score| below this is no sentiment (the scorer's label threshold).
const NEUTRAL: f32 = 0.05;
/// Words before which a new clause starts.
const CONTRAST: [&str; 6] = ["but", "although", "though", "however", "whereas", "except"];

/// A match: entry, first word, last word, start byte, end byte.
type Found = (usize, usize, usize, usize, usize);

/// A word of a text: its byte span and its lower-case form.
struct Word {
    start: usize,
    end: usize,
    lower: String,
}

/// The words of `text`, in order.
fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push(word(text, s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push(word(text, s, text.len()));
    }
    out
}

fn word(text: &str, start: usize, end: usize) -> Word {
    Word {
        start,
        end,
        lower: text.get(start..end).unwrap_or_default().to_lowercase(),
    }
}

/// Whether `c` may join two words of a name written with a space.
fn joiner(c: char) -> bool {
    c.is_whitespace() || matches!(c, '-' | '\u{2010}' | '\u{2011}')
}

/// What is between two words of a name.
enum Gap {
    /// Spaces or hyphens, any mix.
    Space,
    /// Exactly these characters (lower-case), e.g. `&` in `at&t`.
    Exact(String),
}

/// One way an entry is written, split into words.
struct Pattern {
    entry: usize,
    words: Vec<String>,
    /// `gaps[i]` is between `words[i]` and `words[i + 1]`.
    gaps: Vec<Gap>,
    /// Characters before the first word and after the last, e.g. `++` of
    /// `c++`, which the text must have too.
    prefix: String,
    suffix: String,
    /// Whether the last word may take a plural ending.
    plural: bool,
}

impl Pattern {
    fn new(entry: usize, name: &str) -> Option<Pattern> {
        // Split as written and lower-cased word by word, as a text is.
        let name = name.trim();
        let ws = words(name);
        let (first, last) = (ws.first()?, ws.last()?);
        let lower = |range: Option<&str>| range.unwrap_or_default().to_lowercase();
        let gaps = ws
            .iter()
            .zip(ws.iter().skip(1))
            .map(|(a, b)| {
                let between = name.get(a.end..b.start).unwrap_or_default();
                if between.chars().all(joiner) {
                    Gap::Space
                } else {
                    Gap::Exact(between.to_lowercase())
                }
            })
            .collect();
        Some(Pattern {
            entry,
            prefix: lower(name.get(..first.start)),
            suffix: lower(name.get(last.end..)),
            plural: last.lower.chars().all(char::is_alphabetic),
            gaps,
            words: ws.into_iter().map(|w| w.lower).collect(),
        })
    }

    /// The byte span of this pattern in `text` starting at word `at`, and
    /// the index of its last word.
    fn match_at(&self, text: &str, ws: &[Word], at: usize) -> Option<(usize, usize, usize)> {
        let last = at + self.words.len() - 1;
        let span = ws.get(at..=last)?;
        for (k, (w, expected)) in span.iter().zip(&self.words).enumerate() {
            let fits =
                w.lower == *expected || (k + 1 == self.words.len() && self.plural && singular_of(&w.lower, expected));
            if !fits {
                return None;
            }
        }
        for ((a, b), gap) in span.iter().zip(span.iter().skip(1)).zip(&self.gaps) {
            let between = text.get(a.end..b.start)?;
            let fits = match gap {
                Gap::Space => !between.is_empty() && between.chars().all(joiner),
                Gap::Exact(s) => between.to_lowercase() == *s,
            };
            if !fits {
                return None;
            }
        }
        let start = span.first()?.start.checked_sub(self.prefix.len())?;
        let end = span.last()?.end.checked_add(self.suffix.len())?;
        let before = text.get(start..span.first()?.start)?;
        let after = text.get(span.last()?.end..end)?;
        if before.to_lowercase() != self.prefix || after.to_lowercase() != self.suffix {
            return None;
        }
        // A prefix or suffix of symbols must still end at a word boundary.
        let outside = |c: Option<char>| c.is_none_or(|c| !c.is_alphanumeric());
        let bounded = (self.prefix.is_empty() || outside(text.get(..start)?.chars().next_back()))
            && (self.suffix.is_empty() || outside(text.get(end..)?.chars().next()));
        bounded.then_some((start, end, last))
    }
}

/// Whether `word` is a regular plural of `singular`: `screens`, `boxes`,
/// `batteries`. Short words are left alone (`is` is not a plural of `i`).
fn singular_of(word: &str, singular: &str) -> bool {
    if singular.chars().count() < 2 || !word.starts_with(singular) {
        return word.strip_suffix("ies").is_some_and(|stem| {
            singular
                .strip_suffix('y')
                .is_some_and(|s| s == stem && s.chars().count() >= 2)
        });
    }
    let ending = word.get(singular.len()..).unwrap_or_default();
    (ending == "s" && !singular.ends_with('s')) || (ending == "es" && ends_with_sibilant(singular))
}

fn ends_with_sibilant(w: &str) -> bool {
    ["s", "x", "z", "ch", "sh"].iter().any(|e| w.ends_with(e))
}

/// The forms `word` may be a plural of, to look patterns up by.
fn lookup_forms(word: &str) -> Vec<&str> {
    let mut forms = vec![word];
    if word.chars().count() >= 3 && word.chars().all(char::is_alphabetic) {
        forms.extend(word.strip_suffix('s'));
        forms.extend(word.strip_suffix("es"));
    }
    forms
}

/// A taxonomy, ready to match posts against.
pub struct Matcher<'a> {
    taxonomy: &'a [TaxonomyEntry],
    patterns: Vec<Pattern>,
    /// Patterns by their first word.
    by_first: HashMap<String, Vec<usize>>,
}

impl<'a> Matcher<'a> {
    /// Every name and synonym of every entry; those without a letter or
    /// digit are left out, as they name no word.
    pub fn new(taxonomy: &'a [TaxonomyEntry]) -> Matcher<'a> {
        let mut patterns = Vec::new();
        for (i, entry) in taxonomy.iter().enumerate() {
            for name in std::iter::once(&entry.name).chain(&entry.synonyms) {
                patterns.extend(Pattern::new(i, name));
            }
        }
        let mut by_first: HashMap<String, Vec<usize>> = HashMap::new();
        for (p, pattern) in patterns.iter().enumerate() {
            if let Some(first) = pattern.words.first() {
                by_first.entry(first.clone()).or_default().push(p);
                // "batteries" looks "battery" up as "batterie".
                if pattern.words.len() == 1
                    && pattern.plural
                    && let Some(stem) = first.strip_suffix('y')
                {
                    by_first.entry(format!("{stem}ie")).or_default().push(p);
                }
            }
        }
        Matcher {
            taxonomy,
            patterns,
            by_first,
        }
    }

    /// The entries `text` mentions, each once, in the order of their first
    /// mention; `post_score` is the whole post's sentiment.
    pub fn mentions(&self, text: &str, post_score: f32) -> Vec<AspectMention> {
        if self.patterns.is_empty() {
            return Vec::new();
        }
        let ws = words(text);
        let mut found = self.matches(text, &ws);
        // Longest first, then earliest: overlapping shorter names give way.
        found.sort_by(|a, b| {
            let key = |m: &Found| (m.2.saturating_sub(m.1), m.4.saturating_sub(m.3));
            key(b).cmp(&key(a)).then((a.3, a.0).cmp(&(b.3, b.0)))
        });
        let mut taken = vec![false; ws.len()];
        let mut kept = Vec::new();
        for m in found {
            let (entry, first, last, start, end) = m;
            let Some(span) = taken.get_mut(first..=last) else {
                continue;
            };
            if span.iter().any(|t| *t) {
                continue;
            }
            span.iter_mut().for_each(|t| *t = true);
            kept.push((start, end, entry));
        }
        kept.sort_unstable();

        let clauses = Clauses::new(text, &ws);
        let mut scores: HashMap<usize, f32> = HashMap::new();
        // Entry id -> (span of the first mention, clauses that mention it).
        let mut by_id: BTreeMap<&str, ((usize, usize), Vec<usize>)> = BTreeMap::new();
        for (start, end, entry) in kept {
            let Some(e) = self.taxonomy.get(entry) else {
                continue;
            };
            if !by_id.contains_key(e.id.as_str()) && by_id.len() >= MAX_MENTIONS {
                continue;
            }
            let clause = clauses.index_of(start);
            let (_, seen) = by_id.entry(e.id.as_str()).or_insert(((start, end), Vec::new()));
            if seen.len() < MAX_CLAUSES_PER_ENTRY && !seen.contains(&clause) {
                seen.push(clause);
            }
        }
        let mut out: Vec<AspectMention> = by_id
            .into_iter()
            .filter_map(|(id, ((start, end), seen))| {
                let polar: Vec<f32> = seen
                    .iter()
                    .map(|&c| {
                        *scores
                            .entry(c)
                            .or_insert_with(|| scorer::analyze(clauses.text(c)).score)
                    })
                    .filter(|s| s.abs() >= NEUTRAL)
                    .collect();
                let sentiment = if polar.is_empty() {
                    post_score
                } else {
                    polar.iter().sum::<f32>() / polar.len() as f32
                };
                Some(AspectMention {
                    entry: id.to_string(),
                    start: u32::try_from(start).ok()?,
                    end: u32::try_from(end).ok()?,
                    sentiment: sentiment.is_finite().then(|| sentiment.clamp(-1.0, 1.0)),
                })
            })
            .collect();
        out.sort_by_key(|m| m.start);
        out
    }

    /// Every place a pattern matches, up to about [`MAX_MATCHES`].
    fn matches(&self, text: &str, ws: &[Word]) -> Vec<Found> {
        let mut found = Vec::new();
        for (at, w) in ws.iter().enumerate() {
            for form in lookup_forms(&w.lower) {
                for &p in self.by_first.get(form).into_iter().flatten() {
                    let Some(pattern) = self.patterns.get(p) else {
                        continue;
                    };
                    if let Some((start, end, last)) = pattern.match_at(text, ws, at) {
                        found.push((pattern.entry, at, last, start, end));
                    }
                }
            }
            if found.len() >= MAX_MATCHES {
                break;
            }
        }
        // A pattern found from two forms of one word counts once.
        found.sort_unstable();
        found.dedup();
        found
    }
}

/// A text cut into clauses.
struct Clauses<'t> {
    text: &'t str,
    /// Byte offset where each clause starts; the first is 0.
    starts: Vec<usize>,
}

impl<'t> Clauses<'t> {
    fn new(text: &'t str, ws: &[Word]) -> Clauses<'t> {
        let mut starts = vec![0];
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let next = chars.peek().map(|&(_, n)| n);
            let ends = match c {
                // Not a decimal point or an abbreviation's dot inside a word.
                '.' => next.is_none_or(|n| !n.is_alphanumeric()),
                '!' | '?' | ';' | ',' | '\n' | ':' => true,
                '-' | '\u{2013}' | '\u{2014}' => {
                    let before = text.get(..i).and_then(|t| t.chars().next_back());
                    before.is_some_and(char::is_whitespace) && next.is_none_or(|n| n.is_whitespace() || n == '-')
                }
                _ => false,
            };
            if ends {
                starts.push(i + c.len_utf8());
            }
        }
        starts.extend(
            ws.iter()
                .filter(|w| CONTRAST.contains(&w.lower.as_str()))
                .map(|w| w.start),
        );
        starts.sort_unstable();
        starts.dedup();
        Clauses { text, starts }
    }

    /// The clause `at` (a byte offset) is in.
    fn index_of(&self, at: usize) -> usize {
        self.starts.partition_point(|&s| s <= at).saturating_sub(1)
    }

    fn text(&self, clause: usize) -> &'t str {
        let start = self.starts.get(clause).copied().unwrap_or(0);
        let end = self.starts.get(clause + 1).copied().unwrap_or(self.text.len());
        self.text.get(start..end).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use socialcrm_sdk::signals::EntryKind;

    use super::*;

    fn entry(id: &str, name: &str, synonyms: &[&str]) -> TaxonomyEntry {
        TaxonomyEntry {
            id: id.into(),
            kind: EntryKind::Aspect,
            name: name.into(),
            synonyms: synonyms.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn taxonomy() -> Vec<TaxonomyEntry> {
        vec![
            entry("battery", "battery", &["battery life", "range", "charge"]),
            entry("frame", "frame", &[]),
            entry("x2", "X2", &["x-2"]),
            entry("service", "service", &[]),
            entry("support", "customer service", &["tech support"]),
            entry("cpp", "C++", &[]),
        ]
    }

    /// (entry, mentioned text, sentiment sign) of each mention.
    fn found(text: &str) -> Vec<(String, String, i8)> {
        let taxonomy = taxonomy();
        let post = scorer::analyze(text).score;
        Matcher::new(&taxonomy)
            .mentions(text, post)
            .into_iter()
            .map(|m| {
                let said = text.get(m.start as usize..m.end as usize).unwrap_or("?").to_string();
                let sign = m.sentiment.map_or(9, |s| {
                    if s >= NEUTRAL {
                        1
                    } else if s <= -NEUTRAL {
                        -1
                    } else {
                        0
                    }
                });
                (m.entry, said, sign)
            })
            .collect()
    }

    fn entries(text: &str) -> Vec<String> {
        found(text).into_iter().map(|(e, _, _)| e).collect()
    }

    #[test]
    fn each_entry_gets_the_sentiment_of_its_clause() {
        assert_eq!(
            found("The battery died but the frame is gorgeous"),
            [
                ("battery".into(), "battery".into(), -1),
                ("frame".into(), "frame".into(), 1)
            ]
        );
        assert_eq!(
            found("Although the frame is beautiful, the battery is awful."),
            [
                ("frame".into(), "frame".into(), 1),
                ("battery".into(), "battery".into(), -1)
            ]
        );
        // A clause without sentiment takes the post's.
        assert_eq!(found("Terrible purchase. The frame arrived on Monday.")[0].2, -1);
    }

    #[test]
    fn whole_words_any_case() {
        assert_eq!(entries("BATTERY and Frame"), ["battery", "frame"]);
        assert!(entries("Arrange the framework, a rechargeable thing").is_empty());
        assert_eq!(found("my x-2 and x 2")[0].1, "x-2");
        // "x2" was not listed for it, only the names given match.
        assert_eq!(entries("my X2"), ["x2"]);
        assert!(entries("my x22").is_empty());
    }

    #[test]
    fn several_words_and_the_longest_name_wins() {
        assert_eq!(found("Customer service was slow")[0].1, "Customer service");
        assert_eq!(entries("Customer service was slow"), ["support"]);
        assert_eq!(entries("the service and customer-service"), ["service", "support"]);
        assert_eq!(found("Battery life is great")[0].1, "Battery life");
        // Punctuation between words breaks a name.
        assert_eq!(found("the battery, life is short")[0].1, "battery");
        assert_eq!(entries("our customer. Service was fine"), ["service"]);
    }

    #[test]
    fn plurals() {
        assert_eq!(found("Both batteries died")[0].1, "batteries");
        assert_eq!(found("the frames are bent")[0].1, "frames");
        assert_eq!(entries("the ranges vary"), ["battery"]);
        assert!(entries("two x2s").is_empty());
        assert!(entries("the batter was runny").is_empty());
    }

    #[test]
    fn once_per_post_with_the_mean_of_its_clauses() {
        let text = "The battery is great. The battery is great! The frame is ok.";
        let m = Matcher::new(&taxonomy()[..2]).mentions(text, 0.5);
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].entry.as_str(), m[0].start, m[0].end), ("battery", 4, 11));
        let text = "The battery is great. Sadly the battery is awful and terrible.";
        let m = Matcher::new(&taxonomy()[..1]).mentions(text, 0.0);
        assert_eq!(m.len(), 1);
        assert!(m[0].sentiment.is_some_and(|s| s < 0.0 && s > -1.0));
    }

    #[test]
    fn symbols_around_a_name_must_be_there() {
        assert_eq!(found("I write C++ daily")[0].1, "C++");
        assert!(entries("I write C daily").is_empty());
        assert!(entries("I write C+ daily").is_empty());
    }

    #[test]
    fn hostile_text_gives_valid_spans() {
        let odd = vec![
            entry("a", "İstanbul", &["straße", "ǅ", "", "  ", "-", "é-é"]),
            entry("b", "battery", &["batteries"]),
        ];
        let matcher = Matcher::new(&odd);
        let texts = [
            "İSTANBUL istanbul i̇stanbul STRASSE straße Straße ǆ ǅ é-é É-É",
            "",
            "\u{0}\u{feff}battery\u{200d}battery🔋batteries",
            "....!!!,,, but but however",
            "battery-",
            "-battery",
        ];
        for text in texts {
            for m in matcher.mentions(text, 0.3) {
                let (s, e) = (m.start as usize, m.end as usize);
                assert!(s < e && text.get(s..e).is_some(), "{text:?} {s}..{e}");
                assert!(m.sentiment.is_some_and(|x| (-1.0..=1.0).contains(&x)));
            }
        }
        let long = "battery frame ".repeat(10_000);
        assert_eq!(Matcher::new(&taxonomy()).mentions(&long, 0.0).len(), 2);
        let many: Vec<TaxonomyEntry> = (0..100)
            .map(|i| entry(&format!("e{i}"), &format!("w{i}"), &[]))
            .collect();
        let text: String = (0..100).map(|i| format!("w{i} ")).collect();
        assert_eq!(Matcher::new(&many).mentions(&text, 0.0).len(), MAX_MENTIONS);
        assert!(Matcher::new(&[]).mentions("battery", 0.0).is_empty());
    }
}
