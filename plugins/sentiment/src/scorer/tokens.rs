//! One pass over the bytes of a text, yielding the words, emoticons and emoji
//! found in the lexicon and the clause/sentence breaks (other words are only
//! counted). Runs of ASCII letters and digits, most words, are scanned,
//! case-folded and hashed eight bytes at a time; only words that need
//! rewriting (other scripts, typographic apostrophes, stretched spellings)
//! are copied, into a stack buffer. Nothing is allocated.

use super::hash::{HASH_SEED, hash_finish, hash_key, mix_chunk};
use super::lexicon::{Entry, MAX_KEY_LEN, Role, lookup};

/// Longest whitespace-delimited chunk tried as an emoticon (":-)", "</3", ...).
const EMOTICON_MAX: usize = 8;

pub(super) enum Token {
    /// A word, emoticon or emoji of the lexicon (the words that are not are
    /// only counted, in `Tokens::unknown`).
    Word {
        entry: &'static Entry,
        /// Written in capitals ("GREAT"), at least two letters long.
        shout: bool,
        /// Found only after collapsing a stretched spelling ("soooo goooood").
        elongated: bool,
    },
    /// An emoticon or emoji of the lexicon (":-)", "😀").
    Symbol { entry: &'static Entry },
    /// `,` `;` `:` `(` `)` and dashes.
    Clause,
    /// `.` `!` `?` `…` and line breaks; `question` when it was a `?`.
    Sentence { question: bool },
}

// Byte classes, so that dispatching on a byte is one table load.
const ALNUM: u8 = 0;
const SPACE: u8 = 1;
const NEWLINE: u8 = 2;
const EXCLAMATION: u8 = 3;
const QUESTION: u8 = 4;
const PERIOD: u8 = 5;
const CLAUSE: u8 = 6;
const DASH: u8 = 7;
const SYMBOL: u8 = 8;
const NON_ASCII: u8 = 9;

static CLASS: [u8; 256] = {
    let mut class = [SYMBOL; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        class[b] = match c {
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' => ALNUM,
            b' ' | b'\t' | b'\r' | 0x0b | 0x0c => SPACE,
            b'\n' => NEWLINE,
            b'!' => EXCLAMATION,
            b'?' => QUESTION,
            b'.' => PERIOD,
            b',' | b';' | b':' | b'(' | b')' => CLAUSE,
            b'-' => DASH,
            0x80..=0xff => NON_ASCII,
            _ => SYMBOL,
        };
        b += 1;
    }
    class
};

fn is_alnum(b: u8) -> bool {
    CLASS[usize::from(b)] == ALNUM
}

pub(super) struct Tokens<'a> {
    text: &'a str,
    pos: usize,
    /// End of the unknown hyphenated compound whose parts are being read.
    compound_end: usize,
    /// Words missing from the lexicon read since the last token.
    pub(super) unknown: u32,
    pub(super) exclamations: u32,
    pub(super) questions: u32,
}

impl<'a> Tokens<'a> {
    pub(super) fn new(text: &'a str) -> Self {
        Tokens {
            text,
            pos: 0,
            compound_end: 0,
            unknown: 0,
            exclamations: 0,
            questions: 0,
        }
    }

    /// `self.pos` starts a whitespace-delimited chunk.
    fn at_chunk_start(&self) -> bool {
        self.pos == 0
            || self
                .text
                .as_bytes()
                .get(self.pos - 1)
                .is_some_and(u8::is_ascii_whitespace)
    }

    /// A word starting at `self.pos` (an ASCII alphanumeric or a letter of
    /// any script). Inner apostrophes, hyphens and decimal points stay part
    /// of it ("don't", "well-made", "4.5").
    #[inline(always)]
    fn word(&mut self) -> Option<Token> {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        // Fast path: a run of ASCII letters and digits, scanned and hashed
        // eight bytes at a time.
        let mut end = start;
        let mut state = HASH_SEED;
        let mut first_chunk = 0;
        loop {
            let chunk = load8(bytes, end);
            let run = ((!alnum_bits(chunk) & HIGH_BITS).trailing_zeros() / 8) as usize;
            if run > 0 {
                // `| 0x20` lower-cases ASCII letters and keeps digits.
                let lower = (chunk | (0x20 * LOW_BITS)) & low_bytes(run);
                if end == start {
                    first_chunk = lower;
                }
                state = mix_chunk(state, lower);
            }
            end += run;
            if run < 8 {
                break;
            }
        }
        let next_is_alnum = || bytes.get(end + 1).is_some_and(|&b| is_alnum(b));
        let simple = match bytes.get(end) {
            Some(b'\'' | b'.') => !next_is_alnum(),
            // Inside an unknown compound being scored part by part, a hyphen
            // ends the word (rescanning the rest as a whole would be quadratic).
            Some(b'-') => !next_is_alnum() || start < self.compound_end,
            Some(&b) => b < 0x80,
            None => true,
        };
        if !simple {
            return self.complex_word(start);
        }
        // Step over the usual single space here, saving a trip through `next`.
        self.pos = if bytes.get(end) == Some(&b' ') { end + 1 } else { end };
        let len = end - start;
        let mut entry = (len <= MAX_KEY_LEN).then(|| lookup(hash_finish(state, len))).flatten();
        let mut elongated = false;
        if entry.is_none()
            && if len <= 8 {
                has_triple(first_chunk, len)
            } else {
                is_elongated(&bytes[start..end])
            }
        {
            (entry, elongated) = (lookup_collapsed(&bytes[start..end]), true);
        }
        let entry = entry?;
        Some(Token::Word {
            entry,
            shout: is_shout(&bytes[start..end]),
            elongated,
        })
    }

    /// A word with inner punctuation or non-ASCII letters, from `start`.
    #[cold]
    #[inline(never)]
    fn complex_word(&mut self, start: usize) -> Option<Token> {
        let bytes = self.text.as_bytes();
        let mut end = start;
        // Only ASCII: the bytes can be looked up as they stand.
        let mut plain = true;
        // Byte position of the first hyphen, to fall back on the parts of an
        // unknown compound.
        let mut hyphen = None;
        let in_compound = start < self.compound_end;
        loop {
            while bytes.get(end).is_some_and(|&b| is_alnum(b)) {
                end += 1;
            }
            let Some(&b) = bytes.get(end) else { break };
            let next_is_alnum = bytes.get(end + 1).is_some_and(|&b| is_alnum(b));
            match b {
                b'\'' | b'-' if next_is_alnum && !(b == b'-' && in_compound) => {
                    if b == b'-' {
                        hyphen = hyphen.or(Some(end));
                    }
                    end += 1;
                }
                b'.' if next_is_alnum && end > start && bytes[end - 1].is_ascii_digit() => end += 1,
                0x80.. => {
                    let Some(c) = self.text.get(end..).and_then(|s| s.chars().next()) else {
                        break;
                    };
                    let width = c.len_utf8();
                    // A typographic apostrophe ("don’t", as phones type it)
                    // or a letter of another script.
                    let apostrophe = c == '\u{2019}' && bytes.get(end + width).is_some_and(|&b| is_alnum(b));
                    if !apostrophe && !c.is_alphabetic() {
                        break;
                    }
                    plain = false;
                    end += width;
                }
                _ => break,
            }
        }
        self.pos = end;
        let word = &bytes[start..end];
        let find = |word: &[u8]| {
            if plain {
                lookup_folded(word)
            } else {
                Key::normalized(word).lookup()
            }
        };

        let mut entry = find(word);
        let mut elongated = false;
        if entry.is_none() {
            if let Some(at) = hyphen {
                // Unknown compound: score its parts, resuming after the hyphen,
                // except for a prefix ("mid-range" is not slang "mid").
                self.compound_end = end;
                self.pos = at + 1;
                entry = find(&bytes[start..at]).filter(|e| e.role != Role::Prefix);
            } else if is_elongated(word) {
                entry = lookup_collapsed(word);
                elongated = entry.is_some();
            }
        }
        let entry = entry?;
        Some(Token::Word {
            entry,
            shout: is_shout(&bytes[start..self.pos]),
            elongated,
        })
    }

    /// A whitespace-delimited emoticon starting at `self.pos`, such as ":-)",
    /// ":D" or "<3"; `None` (consuming nothing) for anything else.
    fn emoticon(&mut self) -> Option<Token> {
        let rest = self.text.as_bytes().get(self.pos..)?;
        let len = rest
            .iter()
            .take(EMOTICON_MAX + 1)
            .take_while(|b| !b.is_ascii_whitespace())
            .count();
        let chunk = &rest[..len];
        if !(2..=EMOTICON_MAX).contains(&len)
            || !chunk.iter().all(u8::is_ascii_graphic)
            || chunk.iter().all(|&b| is_alnum(b))
            // A word or number before punctuation ("10.", "ok!"), not "8)".
            || (chunk[..len - 1].iter().all(|&b| is_alnum(b))
                && matches!(chunk[len - 1], b'.' | b',' | b'!' | b'?' | b';' | b':' | b'"' | b'\'' | b'-'))
        {
            return None;
        }
        let entry = lookup_folded(chunk)?;
        self.pos += len;
        Some(Token::Symbol { entry })
    }

    /// A token starting with a non-ASCII character: a word in another script,
    /// a break, or an emoji (variation selectors, skin tones and zero-width
    /// joiners are simply not in the lexicon, so sequences score per part).
    fn non_ascii(&mut self) -> Option<Token> {
        let Some(c) = self.text.get(self.pos..).and_then(|s| s.chars().next()) else {
            self.pos += 1;
            return None;
        };
        if c.is_alphabetic() {
            let word = self.word();
            self.unknown += u32::from(word.is_none());
            return word;
        }
        let start = self.pos;
        self.pos += c.len_utf8();
        match c {
            '\u{2026}' => Some(Token::Sentence { question: false }),
            '\u{2013}' | '\u{2014}' => Some(Token::Clause),
            _ => {
                let entry = lookup_folded(&self.text.as_bytes()[start..self.pos])?;
                Some(Token::Symbol { entry })
            }
        }
    }
}

impl Iterator for Tokens<'_> {
    type Item = Token;

    #[inline]
    fn next(&mut self) -> Option<Token> {
        let bytes = self.text.as_bytes();
        loop {
            let &b = bytes.get(self.pos)?;
            let class = CLASS[usize::from(b)];
            match class {
                ALNUM => {
                    // Emoticons may start with a digit ("8-)").
                    if b.is_ascii_digit()
                        && self.at_chunk_start()
                        && let Some(token) = self.emoticon()
                    {
                        return Some(token);
                    }
                    match self.word() {
                        Some(token) => return Some(token),
                        None => {
                            self.unknown += 1;
                            continue;
                        }
                    }
                }
                SPACE => {
                    self.pos += 1;
                    continue;
                }
                NON_ASCII => match self.non_ascii() {
                    Some(token) => return Some(token),
                    None => continue,
                },
                _ => {}
            }
            let chunk_start = self.at_chunk_start();
            if chunk_start && let Some(token) = self.emoticon() {
                return Some(token);
            }
            let token = match class {
                NEWLINE | PERIOD => Token::Sentence { question: false },
                EXCLAMATION => {
                    self.exclamations += 1;
                    Token::Sentence { question: false }
                }
                QUESTION => {
                    self.questions += 1;
                    Token::Sentence { question: true }
                }
                CLAUSE => Token::Clause,
                // A dash starting a chunk separates clauses (" - "); inside a
                // word it is handled by `word`.
                DASH if chunk_start => Token::Clause,
                _ => {
                    self.pos += 1;
                    continue;
                }
            };
            self.pos += 1;
            return Some(token);
        }
    }
}

/// Looks up `word` case-insensitively (ASCII letters only).
fn lookup_folded(word: &[u8]) -> Option<&'static Entry> {
    if word.len() > MAX_KEY_LEN {
        return None;
    }
    lookup(hash_key(word))
}

/// Looks up a stretched spelling with its runs cut to two letters, then one.
#[cold]
#[inline(never)]
fn lookup_collapsed(word: &[u8]) -> Option<&'static Entry> {
    Key::collapsed(word, 2)
        .lookup()
        .or_else(|| Key::collapsed(word, 1).lookup())
}

/// Some letter occurs three or more times in a row ("soooo", "NOOO").
fn is_elongated(word: &[u8]) -> bool {
    word.windows(3)
        .any(|w| w[0] == w[1] && w[1] == w[2] && w[0].is_ascii_alphabetic())
}

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// The 8 bytes at `pos` as a little-endian `u64`, zero-padded past the end.
#[inline(always)]
fn load8(bytes: &[u8], pos: usize) -> u64 {
    let mut buf = [0u8; 8];
    match bytes.get(pos..pos + 8) {
        Some(eight) => buf.copy_from_slice(eight),
        None => {
            for (dst, src) in buf.iter_mut().zip(bytes.get(pos..).unwrap_or_default()) {
                *dst = *src;
            }
        }
    }
    u64::from_le_bytes(buf)
}

/// Bit 7 of each byte of `x` set when that byte is an ASCII letter or digit.
/// Each byte is range-checked by adding to its low 7 bits, which cannot
/// carry into the next byte.
#[inline(always)]
fn alnum_bits(x: u64) -> u64 {
    let seven = x & !HIGH_BITS;
    let folded = seven | (0x20 * LOW_BITS);
    let digit = (seven + (0x80 - 0x30) * LOW_BITS) & !(seven + (0x7f - 0x39) * LOW_BITS);
    let letter = (folded + (0x80 - 0x61) * LOW_BITS) & !(folded + (0x7f - 0x7a) * LOW_BITS);
    (digit | letter) & !x & HIGH_BITS
}

/// Mask of the low `n` bytes (`n` <= 8).
#[inline(always)]
fn low_bytes(n: usize) -> u64 {
    u64::MAX.checked_shr(64 - 8 * n as u32).unwrap_or(0)
}

/// Whether the first `len` (<= 8) bytes of `chunk` contain three equal bytes
/// in a row (in a word of four or more: "sooo"): a zero byte in
/// `chunk ^ (chunk >> 8)` marks two equal neighbours.
#[inline(always)]
fn has_triple(chunk: u64, len: usize) -> bool {
    if len < 4 {
        return false;
    }
    let triples = (chunk ^ (chunk >> 8)) | (chunk ^ (chunk >> 16));
    // Exact as a yes/no: the subtraction's false positives only appear above
    // a real zero byte.
    (triples.wrapping_sub(LOW_BITS) & !triples & HIGH_BITS & low_bytes(len - 2)) != 0
}

/// Written in capitals: at least two ASCII capitals and no lower-case letter.
fn is_shout(word: &[u8]) -> bool {
    let mut capitals = 0;
    for &b in word {
        if b.is_ascii_lowercase() {
            return false;
        }
        capitals += u32::from(b.is_ascii_uppercase());
    }
    capitals >= 2
}

/// A rewritten word in a stack buffer, for the words that cannot be looked
/// up as they stand.
struct Key {
    buf: [u8; MAX_KEY_LEN],
    len: usize,
    /// False once the word outgrew the longest key: it cannot be in the lexicon.
    fits: bool,
}

impl Key {
    fn new() -> Self {
        Key {
            buf: [0; MAX_KEY_LEN],
            len: 0,
            fits: true,
        }
    }

    fn push(&mut self, b: u8) {
        match self.buf.get_mut(self.len) {
            Some(slot) => {
                *slot = b;
                self.len += 1;
            }
            None => self.fits = false,
        }
    }

    /// `word` with typographic apostrophes made ASCII.
    fn normalized(word: &[u8]) -> Self {
        let mut key = Key::new();
        let mut rest = word;
        while let Some((&b, tail)) = rest.split_first() {
            if let Some(after) = rest.strip_prefix("\u{2019}".as_bytes()) {
                key.push(b'\'');
                rest = after;
            } else {
                key.push(b);
                rest = tail;
            }
        }
        key
    }

    /// `word` with every run of a repeated letter cut to at most `keep`.
    fn collapsed(word: &[u8], keep: usize) -> Self {
        let mut key = Key::new();
        let mut run = 0;
        for (i, &b) in word.iter().enumerate() {
            let b = b.to_ascii_lowercase();
            run = if i > 0 && word[i - 1].to_ascii_lowercase() == b {
                run + 1
            } else {
                1
            };
            if run <= keep || !b.is_ascii_alphabetic() {
                key.push(b);
            }
        }
        key
    }

    fn lookup(&self) -> Option<&'static Entry> {
        if self.fits {
            lookup_folded(&self.buf[..self.len])
        } else {
            None
        }
    }
}
