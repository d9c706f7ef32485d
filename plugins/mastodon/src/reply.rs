//! Building a status to publish: the @mention it needs, the visibility a reply
//! inherits, and an idempotency key so a retried send does not post twice.

/// `text` starting with `@handle ` unless it already mentions `handle`.
/// Mastodon delivers a reply (and a direct message) to the accounts it mentions.
pub fn with_mention(text: &str, handle: Option<&str>) -> String {
    match handle
        .map(|h| h.trim().trim_start_matches('@'))
        .filter(|h| !h.is_empty())
    {
        Some(handle) if !mentions(text, handle) => format!("@{handle} {text}"),
        _ => text.to_string(),
    }
}

/// Whether `text` holds `@handle` as a whole mention, as Mastodon's mention
/// pattern reads it: not after a word character or `/`, not followed by more
/// of a handle. Case-insensitive, as handles are.
fn mentions(text: &str, handle: &str) -> bool {
    let text = text.to_ascii_lowercase();
    let needle = format!("@{}", handle.to_ascii_lowercase());
    let handle_char = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(&needle).any(|(at, found)| {
        let before = text[..at].chars().next_back();
        let mut after = text[at + found.len()..].chars();
        let starts = before.is_none_or(|c| !handle_char(c) && c != '/');
        let ends = match after.next() {
            None => true,
            Some(c) if handle_char(c) || c == '@' => false,
            // "@ann@x.example." ends a sentence; "@ann@x.example.org" goes on.
            Some('.' | '-') => !after.next().is_some_and(handle_char),
            Some(_) => true,
        };
        starts && ends
    })
}

/// The visibility a reply takes from the post it answers: never wider, so an
/// answer to a private mention stays private. `None` leaves the account's default.
pub fn inherited_visibility(parent: Option<&str>) -> Option<&'static str> {
    match parent? {
        "direct" => Some("direct"),
        "private" => Some("private"),
        "unlisted" => Some("unlisted"),
        _ => None,
    }
}

/// A key for Mastodon's `Idempotency-Key` header: the same reply (target,
/// visibility, text) gets the same key, so the server drops a retried send
/// (keys are kept for an hour).
pub fn idempotency_key(in_reply_to: Option<&str>, visibility: Option<&str>, status: &str) -> String {
    let mut hash = Fnv1a::default();
    for part in [in_reply_to.unwrap_or_default(), visibility.unwrap_or_default(), status] {
        hash.write(part.as_bytes());
        // A separator so ("ab", "c") and ("a", "bc") differ.
        hash.write(&[0xff]);
    }
    format!("socialcrm-{:016x}", hash.0)
}

/// 64-bit FNV-1a: a fixed, dependency-free hash (not for secrets).
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv1a {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_the_mention_only_when_missing() {
        assert_eq!(with_mention("Thanks!", Some("ann@x.example")), "@ann@x.example Thanks!");
        assert_eq!(with_mention("Thanks!", Some("@ann")), "@ann Thanks!");
        assert_eq!(with_mention("Thanks @Ann!", Some("ann")), "Thanks @Ann!");
        assert_eq!(
            with_mention("Hi @ann@x.example. Sorted.", Some("ann@x.example")),
            "Hi @ann@x.example. Sorted."
        );
        assert_eq!(with_mention("Thanks!", None), "Thanks!");
        assert_eq!(with_mention("Thanks!", Some(" ")), "Thanks!");
    }

    #[test]
    fn a_longer_handle_or_an_address_is_not_a_mention() {
        assert_eq!(with_mention("cc @annie", Some("ann")), "@ann cc @annie");
        assert_eq!(with_mention("cc @ann_b", Some("ann")), "@ann cc @ann_b");
        assert_eq!(with_mention("cc @ann@x.example", Some("ann")), "@ann cc @ann@x.example");
        assert_eq!(
            with_mention("cc @ann@x.example.org", Some("ann@x.example")),
            "@ann@x.example cc @ann@x.example.org"
        );
        assert_eq!(
            with_mention("mail bob@ann.example", Some("ann")),
            "@ann mail bob@ann.example"
        );
        assert_eq!(
            with_mention("see x.example/@ann", Some("ann")),
            "@ann see x.example/@ann"
        );
    }

    #[test]
    fn replies_never_widen_visibility() {
        assert_eq!(inherited_visibility(Some("direct")), Some("direct"));
        assert_eq!(inherited_visibility(Some("private")), Some("private"));
        assert_eq!(inherited_visibility(Some("unlisted")), Some("unlisted"));
        assert_eq!(inherited_visibility(Some("public")), None);
        assert_eq!(inherited_visibility(None), None);
    }

    #[test]
    fn keys_are_stable_and_distinct() {
        let key = idempotency_key(Some("1"), None, "@ann hi");
        assert_eq!(key, idempotency_key(Some("1"), None, "@ann hi"));
        assert!(
            key.starts_with("socialcrm-") && key.len() == "socialcrm-".len() + 16,
            "{key}"
        );
        assert_ne!(key, idempotency_key(Some("2"), None, "@ann hi"));
        assert_ne!(key, idempotency_key(Some("1"), None, "@ann hi!"));
        assert_ne!(key, idempotency_key(Some("1"), Some("direct"), "@ann hi"));
        assert_ne!(
            idempotency_key(Some("1"), None, "2x"),
            idempotency_key(Some("12"), None, "x")
        );
        // The FNV-1a reference value of the empty input is the offset basis.
        assert_eq!(Fnv1a::default().0, 0xcbf2_9ce4_8422_2325);
        let mut a = Fnv1a::default();
        a.write(b"a");
        assert_eq!(a.0, 0xaf63_dc4c_8601_ec8c);
    }
}
