//! What identifies a data subject in free text: handles, names, emails and
//! phone numbers, found case-insensitively as whole tokens (`@maya` is Maya,
//! `mayan` is not) and replaced by [`PLACEHOLDER`].

use serde::{Deserialize, Serialize};

/// What replaces a subject's identifier in text that stays.
pub const PLACEHOLDER: &str = "[erased]";

/// Shorter identifiers are not searched for in text (too many false matches).
const MIN_LEN: usize = 3;

/// The identifiers of one subject. `names` are kept apart: another person
/// may carry the same name, so names are not erased from the name fields of
/// other records (see [`Needles::matching`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Needles {
    /// Handles, emails, phone numbers, profile URLs: unique to the subject.
    pub ids: Vec<String>,
    /// Display and contact names.
    pub names: Vec<String>,
}

impl Needles {
    /// Adds `value` as an identifier (trimmed; empty and short values are skipped).
    pub fn add_id(&mut self, value: Option<&str>) {
        push(&mut self.ids, value);
    }

    pub fn add_name(&mut self, value: Option<&str>) {
        push(&mut self.names, value);
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty() && self.names.is_empty()
    }

    /// The needles to look for in a column: all of them, or the identifiers
    /// only in `name_field`s (another contact's or author's own name).
    pub fn matching(&self, name_field: bool) -> Vec<&str> {
        let names = if name_field { &[][..] } else { &self.names[..] };
        let mut all: Vec<&str> = self.ids.iter().chain(names).map(String::as_str).collect();
        // Longest first: `maya@demo.social` goes whole before `@maya` is looked for.
        all.sort_by_key(|n| std::cmp::Reverse(n.len()));
        all
    }
}

fn push(list: &mut Vec<String>, value: Option<&str>) {
    let Some(v) = value.map(str::trim) else { return };
    if v.chars().count() >= MIN_LEN && !list.iter().any(|x| x.eq_ignore_ascii_case(v)) {
        list.push(v.to_string());
    }
}

/// `text` with every whole-token occurrence of `needles` replaced by
/// [`PLACEHOLDER`], or `None` when there is none.
pub fn redact(text: &str, needles: &[&str]) -> Option<String> {
    let mut out = text.to_string();
    let mut changed = false;
    for needle in needles {
        let mut from = 0;
        // Past each replacement: a needle inside the placeholder is not looked for again.
        while let Some(at) = find(&out, needle, from) {
            out.replace_range(at..at + needle.len(), PLACEHOLDER);
            from = at + PLACEHOLDER.len();
            changed = true;
        }
    }
    changed.then_some(out)
}

/// Whether `text` holds one of `needles` as a whole token.
pub fn contains(text: &str, needles: &[&str]) -> bool {
    needles.iter().any(|n| find(text, n, 0).is_some())
}

/// The byte offset of the first whole-token, ASCII-case-insensitive match of
/// `needle` in `text` at or after `from`. Lowercasing only ASCII keeps byte
/// offsets equal.
fn find(text: &str, needle: &str, mut from: usize) -> Option<usize> {
    if needle.is_empty() || needle.len() > text.len() {
        return None;
    }
    let hay = text.to_ascii_lowercase();
    let pin = needle.to_ascii_lowercase();
    while let Some(i) = hay[from..].find(&pin) {
        let at = from + i;
        let end = at + pin.len();
        let before = hay[..at].chars().next_back();
        let after = hay[end..].chars().next();
        if !before.is_some_and(word) && !after.is_some_and(word) {
            return Some(at);
        }
        from = at + hay[at..].chars().next().map_or(1, char::len_utf8);
    }
    None
}

/// Characters that continue a token: a needle next to one is part of another word.
fn word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn whole_tokens_only_and_any_case() {
        let n = ["maya"];
        assert_eq!(redact("thanks @Maya!", &n).as_deref(), Some("thanks @[erased]!"));
        assert_eq!(redact("the mayan ruins", &n), None);
        assert_eq!(redact("MAYA and maya", &n).as_deref(), Some("[erased] and [erased]"));
        assert_eq!(
            redact("mail maya@shop.example now", &["maya@shop.example"]).as_deref(),
            Some("mail [erased] now")
        );
        // In JSON text the quotes bound the token.
        assert_eq!(
            redact(r#"{"acct":"maya@demo.social"}"#, &["maya@demo.social"]).as_deref(),
            Some(r#"{"acct":"[erased]"}"#)
        );
    }

    #[test]
    fn short_and_repeated_values_are_not_needles() {
        let mut n = Needles::default();
        n.add_id(Some(" ab "));
        n.add_id(Some("Maya@x.io"));
        n.add_id(Some("maya@X.io"));
        n.add_name(Some("Maya Lin"));
        assert_eq!(n.ids, vec!["Maya@x.io"]);
        assert_eq!(n.matching(true), vec!["Maya@x.io"]);
        assert_eq!(n.matching(false), vec!["Maya@x.io", "Maya Lin"]);
        n.add_id(Some("@maya"));
        assert_eq!(n.matching(true), vec!["Maya@x.io", "@maya"]);
    }

    proptest! {
        /// After redaction no needle is left, whatever surrounds it, and text
        /// without a needle comes back unchanged.
        #[test]
        fn nothing_is_left(prefix in "\\PC{0,20}", suffix in "\\PC{0,20}", needle in "[a-z]{3,8}") {
            let text = format!("{prefix} {needle} {suffix} {}", needle.to_uppercase());
            let out = redact(&text, &[&needle]).unwrap_or(text);
            prop_assert!(!contains(&out, &[&needle]));
            let plain = "nothing here";
            prop_assert_eq!(redact(plain, &["zzzq"]), None);
            // A needle the placeholder contains ends too.
            let again = redact("x erased y", &["erased"]);
            prop_assert_eq!(again.as_deref(), Some("x [erased] y"));
        }
    }
}
