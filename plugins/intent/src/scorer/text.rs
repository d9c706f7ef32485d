//! One pass over a text: lower-cased words with their sentences, and what the
//! author did not write themselves or did not mean left out.
//!
//! - URLs (`http://`, `https://`, `www.`, `example.org/path`), `@handles`
//!   (Mastodon `@user@host` too), e-mail addresses and Reddit `u/user` are
//!   skipped; `#hashtag` and `r/community` are kept as words with their kind.
//! - Markdown quotes (lines starting with `>`) are someone else's words and
//!   struck-through text (`~~...~~`) was withdrawn: both are skipped.
//! - Sentences end at `.` `!` `?` `…` and line breaks; a sentence remembers
//!   whether it ended in `?`. Clauses break at `,` `;` `:` and brackets.
//! - Words are runs of letters, digits and combining marks, with `'` (or `’`)
//!   inside them kept ("don't", "i'm"). Emoji and a few emoticons are tokens
//!   of their own.
//!
//! Everything is linear in the length of the text; no regular expressions.

use std::ops::Range;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Word,
    /// `#tag`, stored without `#`.
    Hashtag,
    /// `r/name`, stored without `r/`.
    Community,
    /// Digits only.
    Number,
    /// An emoji or emoticon (stored as written, `:(` for the sad ones).
    Symbol,
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    /// Byte range in `Text::lower`.
    pub(crate) range: Range<usize>,
    pub(crate) kind: Kind,
    /// Written with a capital first letter in mid-sentence (a likely name).
    pub(crate) proper: bool,
    /// First token of a clause (sentence start included).
    pub(crate) clause_start: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct Sentence {
    /// Range in `Text::tokens`.
    pub(crate) tokens: Range<usize>,
    /// Ended in `?` (possibly with `!` around it).
    pub(crate) question: bool,
}

pub(crate) struct Text {
    pub(crate) lower: String,
    pub(crate) tokens: Vec<Token>,
    pub(crate) sentences: Vec<Sentence>,
}

impl Text {
    pub(crate) fn word(&self, i: usize) -> &str {
        self.tokens
            .get(i)
            .and_then(|t| self.lower.get(t.range.clone()))
            .unwrap_or("")
    }
}

/// Characters that continue a word: letters, digits and combining marks.
fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || is_mark(c)
}

fn is_mark(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036f}' | '\u{0483}'..='\u{0489}' | '\u{0591}'..='\u{05bd}'
        | '\u{0610}'..='\u{061a}' | '\u{064b}'..='\u{065f}' | '\u{0900}'..='\u{0903}'
        | '\u{093a}'..='\u{094f}' | '\u{0e31}' | '\u{0e34}'..='\u{0e3a}' | '\u{0e47}'..='\u{0e4e}'
        | '\u{1ab0}'..='\u{1aff}' | '\u{1dc0}'..='\u{1dff}' | '\u{20d0}'..='\u{20ff}'
        | '\u{3099}' | '\u{309a}' | '\u{fe20}'..='\u{fe2f}')
}

fn is_apostrophe(c: char) -> bool {
    c == '\'' || c == '\u{2019}'
}

/// Pictographs kept as tokens (other symbols are ignored).
fn is_emoji(c: char) -> bool {
    matches!(c,
        '\u{2600}'..='\u{27bf}' | '\u{1f300}'..='\u{1faff}' | '\u{2b50}')
}

/// Sad and annoyed emoticons, normalised to `:(`.
const SAD_EMOTICONS: &[&str] = &[":(", ":-(", ":'(", "):", ">:(", "=(", ":/", ":-/", "-_-", "=_=", "ಠ_ಠ"];
/// Happy ones, normalised to `:)`.
const HAPPY_EMOTICONS: &[&str] = &[
    ":)", ":-)", ":d", ":-d", "=)", "(:", ":p", ":-p", ";)", ";-)", "<3", "^^", "^_^",
];

struct Builder {
    lower: String,
    tokens: Vec<Token>,
    sentences: Vec<Sentence>,
    sentence_start: usize,
    question: bool,
    clause_start: bool,
}

impl Builder {
    fn push(&mut self, word: &str, kind: Kind, proper: bool) {
        let start = self.lower.len();
        for c in word.chars() {
            if is_apostrophe(c) {
                self.lower.push('\'');
            } else {
                self.lower.extend(c.to_lowercase());
            }
        }
        let end = self.lower.len();
        if end == start {
            return;
        }
        self.tokens.push(Token {
            range: start..end,
            kind,
            proper,
            clause_start: self.clause_start,
        });
        self.clause_start = false;
    }

    fn push_symbol(&mut self, symbol: &str) {
        let start = self.lower.len();
        self.lower.push_str(symbol);
        self.tokens.push(Token {
            range: start..self.lower.len(),
            kind: Kind::Symbol,
            proper: false,
            clause_start: self.clause_start,
        });
        self.clause_start = false;
    }

    fn clause(&mut self) {
        self.clause_start = true;
    }

    fn end_sentence(&mut self) {
        let end = self.tokens.len();
        if end > self.sentence_start {
            self.sentences.push(Sentence {
                tokens: self.sentence_start..end,
                question: self.question,
            });
        }
        self.sentence_start = end;
        self.question = false;
        self.clause_start = true;
    }

    /// A sentence start token (for `proper`): nothing yet in this sentence.
    fn at_sentence_start(&self) -> bool {
        self.tokens.len() == self.sentence_start
    }
}

pub(crate) fn parse(text: &str) -> Text {
    let mut b = Builder {
        lower: String::with_capacity(text.len().min(1 << 20)),
        tokens: Vec::new(),
        sentences: Vec::new(),
        sentence_start: 0,
        question: false,
        clause_start: true,
    };
    let mut struck = false;
    for line in text.split('\n') {
        if line.trim_start().starts_with('>') {
            b.end_sentence();
            continue;
        }
        for chunk in line.split(|c: char| c.is_whitespace()) {
            if !chunk.is_empty() {
                scan_chunk(&mut b, chunk, &mut struck);
            }
        }
        b.end_sentence();
    }
    b.end_sentence();
    Text {
        lower: b.lower,
        tokens: b.tokens,
        sentences: b.sentences,
    }
}

/// Whether a whitespace-delimited chunk is a link or an address as a whole.
fn is_address(chunk: &str) -> bool {
    let bare = chunk.trim_start_matches(['(', '[', '<', '"', '\'', '*']);
    let lower_starts = |p: &str| bare.get(..p.len()).is_some_and(|s| s.eq_ignore_ascii_case(p));
    if lower_starts("http://") || lower_starts("https://") || lower_starts("www.") || chunk.contains("://") {
        return true;
    }
    // user@host, @user@host; and host.tld/path
    if !bare.starts_with('@') && bare.chars().skip(1).any(|c| c == '@') {
        return true;
    }
    if let Some(slash) = bare.find('/') {
        let host = &bare[..slash];
        if let Some(dot) = host.rfind('.') {
            let (name, tld) = (&host[..dot], &host[dot + 1..]);
            return !name.is_empty() && tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic());
        }
    }
    false
}

fn scan_chunk(b: &mut Builder, chunk: &str, struck: &mut bool) {
    if is_address(chunk) {
        // A link inside markdown `[text](url)` keeps its text: only drop from `](`.
        if let Some(i) = chunk.find("](") {
            scan_chunk(b, &chunk[..i + 1], struck);
        }
        if chunk.ends_with(['.', '!']) {
            b.end_sentence();
        }
        return;
    }
    let emoticon = chunk.trim_end_matches(['.', ',', '!']);
    if emoticon.len() <= 8 {
        for (list, symbol) in [(SAD_EMOTICONS, ":("), (HAPPY_EMOTICONS, ":)")] {
            if list.iter().any(|e| e.eq_ignore_ascii_case(emoticon)) {
                if !*struck {
                    b.push_symbol(symbol);
                }
                return;
            }
        }
    }

    let mut i = 0;
    // What precedes the current word inside this chunk.
    let mut prefix = Prefix::None;
    while let Some(c) = chunk[i..].chars().next() {
        let next = i + c.len_utf8();
        if c == '~' && chunk[i..].starts_with("~~") {
            *struck = !*struck;
            i += 2;
            continue;
        }
        if is_word_char(c) || c == '_' {
            let end = word_end(chunk, i);
            let word = chunk[i..end].trim_matches('_');
            let follows_slash = chunk[end..].starts_with('/');
            i = end;
            if word.is_empty() {
                continue;
            }
            let short = |w: &str, l: &str| w.eq_ignore_ascii_case(l);
            let kind = match prefix {
                Prefix::Slash | Prefix::None if follows_slash && short(word, "r") => {
                    prefix = Prefix::Community;
                    i += 1;
                    continue;
                }
                Prefix::Slash | Prefix::None if follows_slash && short(word, "u") => {
                    i = name_end(chunk, end + 1);
                    prefix = Prefix::None;
                    continue;
                }
                Prefix::Hash if word.chars().any(char::is_alphabetic) => Kind::Hashtag,
                Prefix::Community => Kind::Community,
                _ if word.chars().all(|c| c.is_ascii_digit()) => Kind::Number,
                _ => Kind::Word,
            };
            prefix = Prefix::None;
            if !*struck {
                let proper = kind == Kind::Word
                    && !b.at_sentence_start()
                    && !b.clause_start
                    && word.chars().next().is_some_and(char::is_uppercase)
                    && word.chars().skip(1).any(char::is_lowercase);
                b.push(word, kind, proper);
            }
            continue;
        }
        i = next;
        match c {
            '#' => prefix = Prefix::Hash,
            '@' => {
                // @user, @user@host: a handle, never a word.
                i = name_end(chunk, next);
                prefix = Prefix::None;
                if chunk[..i].ends_with('.') {
                    b.end_sentence();
                }
            }
            '/' => prefix = Prefix::Slash,
            '?' => {
                if !*struck {
                    b.question = true;
                }
                if !next_is_terminal(&chunk[next..]) {
                    b.end_sentence();
                }
                prefix = Prefix::None;
            }
            '!' | '…' => {
                if !next_is_terminal(&chunk[next..]) {
                    b.end_sentence();
                }
                prefix = Prefix::None;
            }
            '.' => {
                // "3.5", "e.g." and "old.reddit" are not sentence ends.
                let rest = &chunk[next..];
                if !rest.chars().next().is_some_and(is_word_char) && !next_is_terminal(rest) {
                    b.end_sentence();
                }
                prefix = Prefix::None;
            }
            ',' | ';' | ':' | '(' | ')' | '[' | ']' | '"' | '“' | '”' | '—' | '–' => {
                b.clause();
                prefix = Prefix::None;
            }
            _ if is_emoji(c) => {
                if !*struck {
                    let mut buf = [0u8; 4];
                    b.push_symbol(c.encode_utf8(&mut buf));
                }
                prefix = Prefix::None;
            }
            _ => prefix = Prefix::None,
        }
    }
}

/// End of the word starting at `start`: word characters and `_`, with
/// apostrophes between word characters.
fn word_end(chunk: &str, start: usize) -> usize {
    let mut end = start;
    let mut rest = chunk[start..].char_indices().peekable();
    while let Some((j, d)) = rest.next() {
        let inner_apostrophe = is_apostrophe(d) && rest.peek().is_some_and(|&(_, e)| is_word_char(e));
        if is_word_char(d) || d == '_' || inner_apostrophe {
            end = start + j + d.len_utf8();
        } else {
            break;
        }
    }
    end
}

/// End of a handle or user name starting at `start` (`name`, `name@host.tld`).
fn name_end(chunk: &str, start: usize) -> usize {
    let mut end = start;
    for (j, d) in chunk[start..].char_indices() {
        if is_word_char(d) || matches!(d, '_' | '-' | '.' | '@') {
            end = start + j + d.len_utf8();
        } else {
            break;
        }
    }
    end
}

/// `?!`, `...` and the like end one sentence, at their last character.
fn next_is_terminal(rest: &str) -> bool {
    rest.chars().next().is_some_and(|c| matches!(c, '?' | '!' | '.' | '…'))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Prefix {
    None,
    Hash,
    Slash,
    Community,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        let t = parse(text);
        (0..t.tokens.len()).map(|i| t.word(i).to_owned()).collect()
    }

    #[test]
    fn skips_links_handles_and_quotes() {
        assert_eq!(
            words("> quoted text\n@halcy@mastodon.social see https://example.org/a?b=c and www.x.com now"),
            ["see", "and", "now"]
        );
        assert_eq!(
            words("Go to u/spez or /u/kn0thing in r/Python"),
            ["go", "to", "or", "in", "python"]
        );
        assert_eq!(words("[the docs](https://docs.rs/x) rock"), ["the", "docs", "rock"]);
        assert_eq!(words("mail me@example.com or bsky.app/profile/x"), ["mail", "or"]);
    }

    #[test]
    fn hashtags_communities_and_apostrophes() {
        let t = parse("I don’t like #ThisIsAHashtag in r/apolloapp #5");
        let kinds: Vec<(String, Kind)> = (0..t.tokens.len())
            .map(|i| (t.word(i).to_owned(), t.tokens[i].kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("i".into(), Kind::Word),
                ("don't".into(), Kind::Word),
                ("like".into(), Kind::Word),
                ("thisisahashtag".into(), Kind::Hashtag),
                ("in".into(), Kind::Word),
                ("apolloapp".into(), Kind::Community),
                ("5".into(), Kind::Number),
            ]
        );
    }

    #[test]
    fn sentences_and_questions() {
        let t = parse("Is it 3.5 now?! I think so. old.reddit rocks\nnew line");
        let s: Vec<(usize, bool)> = t.sentences.iter().map(|s| (s.tokens.len(), s.question)).collect();
        assert_eq!(s, [(5, true), (3, false), (3, false), (2, false)]);
    }

    #[test]
    fn strikethrough_is_withdrawn() {
        assert_eq!(words("~~I just wish I could~~ it is perfect"), ["it", "is", "perfect"]);
    }

    #[test]
    fn emoticons_and_emoji() {
        assert_eq!(words("bye reddit :-( 👍"), ["bye", "reddit", ":(", "👍"]);
    }
}
