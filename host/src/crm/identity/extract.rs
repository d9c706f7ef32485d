//! Extractors: small parsers for evidence in free text (emails, phones,
//! websites, order references) and the normal forms names and handles are
//! compared in.

use crate::crm::contact;

/// Hosts shared by many people: a link to them says nothing about who posted.
const SHARED_HOSTS: [&str; 24] = [
    "bit.ly",
    "bsky.app",
    "bsky.social",
    "facebook.com",
    "fb.com",
    "github.com",
    "gmail.com",
    "google.com",
    "instagram.com",
    "linkedin.com",
    "linktr.ee",
    "mastodon.social",
    "medium.com",
    "reddit.com",
    "substack.com",
    "t.co",
    "t.me",
    "threads.net",
    "tiktok.com",
    "twitch.tv",
    "twitter.com",
    "x.com",
    "youtu.be",
    "youtube.com",
];

/// Words after which a bare number is an order reference ("order 10023").
const REFERENCE_WORDS: [&str; 12] = [
    "order",
    "ref",
    "reference",
    "invoice",
    "receipt",
    "ticket",
    "purchase",
    "confirmation",
    "booking",
    "commande",
    "bestellung",
    "pedido",
];

/// Words that may stand between such a word and the number ("order no. 10023").
const REFERENCE_FILLERS: [&str; 7] = ["no", "nr", "number", "num", "id", "is", "was"];

fn push_unique(out: &mut Vec<String>, value: String) {
    if !out.contains(&value) {
        out.push(value);
    }
}

/// A host name with at least two labels and an alphabetic top-level domain.
pub(super) fn valid_host(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.bytes().all(|c| c.is_ascii_alphabetic()))
}

/// Email addresses in `text`, normalized (lower case). `@user@host` (a
/// mention) and `/@user` (a profile path) are not addresses.
pub fn extract_emails(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let is_local = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
    let is_domain = |c: u8| c.is_ascii_alphanumeric() || c == b'.' || c == b'-';
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'@' {
            i += 1;
            continue;
        }
        let at = i;
        let mut start = at;
        while start > 0 && is_local(b[start - 1]) {
            start -= 1;
        }
        let mut end = at + 1;
        while end < b.len() && is_domain(b[end]) {
            end += 1;
        }
        i = end;
        // A mention (`@user@host`), a profile path (`/@user`), or letters
        // beyond ASCII on either side (a word cut in the middle) are not addresses.
        if (start > 0 && (matches!(b[start - 1], b'@' | b'/') || !b[start - 1].is_ascii()))
            || b.get(end).is_some_and(|c| !c.is_ascii())
        {
            continue;
        }
        // Every byte in these ranges is ASCII, so the indices are char boundaries.
        let local = text[start..at].trim_start_matches('.');
        let domain = text[at + 1..end].trim_end_matches(['.', '-']);
        if local.is_empty() || local.ends_with('.') || local.contains("..") || !valid_host(domain) {
            continue;
        }
        if let Ok(Some(email)) = contact::email(&format!("{local}@{domain}")) {
            push_unique(&mut out, email);
        }
    }
    out
}

/// Phone numbers in `text` (7 to 15 digits, with `+`, spaces, dashes, dots and
/// parentheses), normalized as contacts store them. A number that continues a
/// word, a path, a parameter or a reference (`#1234567`) is not one.
pub fn extract_phones(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if !(c == b'+' || c == b'(' || c.is_ascii_digit()) {
            i += 1;
            continue;
        }
        let (mut j, mut digits, mut separators, mut last_digit) = (i, 0, 0, i);
        while j < b.len() {
            match b[j] {
                d if d.is_ascii_digit() => {
                    digits += 1;
                    separators = 0;
                    last_digit = j + 1;
                }
                b'+' if j == i => {}
                b' ' | b'-' | b'.' | b'(' | b')' => {
                    separators += 1;
                    if separators > 2 {
                        break;
                    }
                }
                _ => break,
            }
            j += 1;
        }
        // The whole run is skipped either way, so no part of it is taken alone.
        let glued = b.get(last_digit).is_some_and(|c| c.is_ascii_alphanumeric())
            || (i > 0 && (b[i - 1].is_ascii_alphanumeric() || b"#/=_&?@.-+$".contains(&b[i - 1])));
        if (7..=15).contains(&digits)
            && !glued
            && let Ok(Some(phone)) = contact::phone(&text[i..last_digit])
        {
            push_unique(&mut out, phone);
        }
        i = j.max(i + 1);
    }
    out
}

/// The host of `url` (`https://host/...` or a bare `host/...`), lower case
/// without `www.`, when it is a website: not a shared platform, not a social
/// profile (`/@user`), not an address.
fn website_of(token: &str) -> Option<String> {
    let token = token.trim_end_matches(['.', ':', '!', '?']);
    let lower = token.to_ascii_lowercase();
    let rest = if let Some(rest) = lower.strip_prefix("https://").or_else(|| lower.strip_prefix("http://")) {
        rest
    } else if lower.contains("://") || lower.contains('@') {
        return None;
    } else {
        &lower
    };
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    if path.contains("/@") {
        return None;
    }
    let host = authority.rsplit('@').next().unwrap_or_default();
    let host = host.split(':').next().unwrap_or_default();
    let host = host.strip_prefix("www.").unwrap_or(host);
    if !valid_host(host) || SHARED_HOSTS.contains(&host) {
        return None;
    }
    contact::website(host).ok().flatten()
}

/// Websites (their hosts) in `text`: URLs and bare domains (`alice.dev`).
pub fn extract_websites(text: &str) -> Vec<String> {
    let is_url = |c: char| c.is_ascii_alphanumeric() || "-._~:/?#@!$&*+=%".contains(c);
    let mut out = Vec::new();
    for token in text.split(|c: char| !is_url(c)) {
        if token.contains('.')
            && let Some(host) = website_of(token)
        {
            push_unique(&mut out, host);
        }
    }
    out
}

/// The profile URL as a website: only a bare site (`https://alice.dev/`); a
/// profile page (`https://mastodon.social/@alice`) names the network's host.
pub(super) fn profile_website(url: &str) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))?;
    let path = rest.find(['/', '?', '#']).map_or("", |i| &rest[i..]);
    if path.is_empty() || path == "/" {
        website_of(&lower)
    } else {
        None
    }
}

/// Order references in `text`: words of 4 to 64 letters, digits, `-` and `_`
/// with at least one digit and one letter or dash (`A-10023`, `ORD123`), and
/// bare numbers of 5 digits or more written `#10023` or after a word such as
/// "order" or "invoice" ("order no. 10023"). Returned as written, without `#`.
pub fn extract_order_references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut after_word = false;
    let is_token = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '#';
    for raw in text.split(|c: char| !is_token(c)) {
        let hashed = raw.starts_with('#');
        let token = raw.trim_start_matches('#').trim_matches(['-', '_', '#']);
        if token.is_empty() {
            continue;
        }
        let lower = token.to_ascii_lowercase();
        let digits = token.bytes().filter(u8::is_ascii_digit).count();
        let candidate = (4..=64).contains(&token.len())
            && digits > 0
            && if digits == token.len() {
                token.len() >= 5 && (hashed || after_word)
            } else {
                token.bytes().any(|c| c.is_ascii_alphabetic() || c == b'-' || c == b'_')
            };
        if candidate {
            push_unique(&mut out, token.to_string());
        }
        after_word =
            REFERENCE_WORDS.contains(&lower.as_str()) || (after_word && REFERENCE_FILLERS.contains(&lower.as_str()));
    }
    out
}

/// A name as compared with contacts' names: lower case (`lower` decides how),
/// letters, inner `-` and `'`, single spaces; bracketed parts and anything after
/// `|` or `•` dropped ("Alice Martin 🌻 (she/her)" → "alice martin").
pub(super) fn name_key(raw: &str, lower: fn(&str) -> String) -> Option<String> {
    let mut cleaned = String::new();
    let mut depth = 0usize;
    for ch in raw.chars() {
        match ch {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth = depth.saturating_sub(1);
                cleaned.push(' ');
            }
            '|' | '•' | '·' => break,
            _ if depth > 0 => {}
            c if c.is_alphabetic() => cleaned.push(c),
            '\'' | '’' => cleaned.push('\''),
            '-' => cleaned.push('-'),
            _ => cleaned.push(' '),
        }
    }
    let key = lower(&cleaned)
        .split_whitespace()
        .map(|t| t.trim_matches(['-', '\'']))
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (key.chars().count() >= 3).then_some(key)
}

pub(super) fn full_lower(s: &str) -> String {
    s.to_lowercase()
}

pub(super) fn ascii_lower(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// A name spelled by a handle: `alice_martin42@host` → "alice martin".
pub(super) fn handle_name(handle: &str) -> Option<String> {
    let local = handle.split('@').next().unwrap_or_default();
    let local = local.strip_suffix(".bsky.social").unwrap_or(local);
    let words: Vec<String> = local
        .split(['_', '.', '-'])
        .map(|w| w.chars().filter(|c| c.is_alphabetic()).collect::<String>())
        .filter(|w| w.chars().count() >= 2)
        .collect();
    (words.len() >= 2).then(|| words.join(" "))
}

/// What makes two handles on different networks the same handle: the
/// normalized handle's user part (`Alice@host` → `alice`, `alice.bsky.social`
/// → `alice`, `@alice` → `alice`); none under 3 characters.
pub(super) fn handle_key(handle: &str) -> Option<String> {
    let handle = contact::handle(handle)?;
    let user = handle.split('@').next().unwrap_or_default();
    let user = user.strip_suffix(".bsky.social").unwrap_or(user);
    (user.chars().count() >= 3).then(|| user.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_emails_not_mentions() {
        assert_eq!(
            extract_emails("Write to Alice.Martin+shop@Example.COM, or mailto:bob@x.example."),
            vec!["alice.martin+shop@example.com", "bob@x.example"]
        );
        assert!(extract_emails("cc @alice@mastodon.social and https://demo.social/@bob@x.example").is_empty());
        assert!(extract_emails("a@b, me@localhost, x@y.c, @@, foo@.com, me@host.123").is_empty());
        assert!(extract_emails("<p>né: léa@mail.example</p>").is_empty());
    }

    #[test]
    fn finds_phones() {
        assert_eq!(
            extract_phones("Call +1 (555) 010-2030 or 030 1234567."),
            vec!["+15550102030", "0301234567"]
        );
        assert!(extract_phones("order #1234567, ref A1234567, id=1234567, 123 456").is_empty());
        assert!(extract_phones("5550102030abc, 12345678901234567890").is_empty());
        assert_eq!(extract_phones("<a href=\"tel:+4930123456\">"), vec!["+4930123456"]);
        // A `(` right after a word once stopped the scan from moving on.
        assert!(extract_phones("me(555) 010-2030 x+(1").is_empty());
    }

    proptest::proptest! {
        #[test]
        fn extractors_end_on_any_text(text in "[a-z0-9@#/=_&?.+$() :-]{0,40}|\\PC{0,40}") {
            extract_emails(&text);
            extract_phones(&text);
            extract_websites(&text);
        }
    }

    #[test]
    fn finds_websites() {
        assert_eq!(
            extract_websites("Shop at https://www.Maya-Rides.example/bikes?x=1 and alice.dev!"),
            vec!["maya-rides.example", "alice.dev"]
        );
        let html = r#"<a href="https://ann.example" rel="me"><span class="invisible">https://</span>ann.example</a>"#;
        assert_eq!(extract_websites(html), vec!["ann.example"]);
        assert!(
            extract_websites("e.g. i.e. v2.0 192.168.1.1 alice@mail.example https://mastodon.social/@x youtube.com")
                .is_empty()
        );
        assert!(extract_websites("https://other.example/@ann ftp://files.example").is_empty());
        assert_eq!(profile_website("https://alice.dev/"), Some("alice.dev".into()));
        assert_eq!(profile_website("https://other.example/@ann"), None);
    }

    #[test]
    fn finds_order_references() {
        assert_eq!(
            extract_order_references("My order LB-1001 (and #20931, order no. 55555) never came; ORD123."),
            vec!["LB-1001", "20931", "55555", "ORD123"]
        );
        assert!(extract_order_references("In 2026 I paid 12345 dollars for 3 bikes, abc, 123").is_empty());
        assert_eq!(extract_order_references("invoice: 77777"), vec!["77777"]);
    }

    #[test]
    fn normalizes_names() {
        assert_eq!(
            name_key("Alice Martin 🌻 (she/her)", full_lower).as_deref(),
            Some("alice martin")
        );
        assert_eq!(
            name_key("Mary-Jane O’Neil | Bikes", full_lower).as_deref(),
            Some("mary-jane o'neil")
        );
        assert_eq!(name_key("ÉMILIE", full_lower).as_deref(), Some("émilie"));
        assert_eq!(name_key("ÉMILIE", ascii_lower).as_deref(), Some("Émilie"));
        assert_eq!(name_key("🌻 42", full_lower), None);
        assert_eq!(
            handle_name("alice_martin42@demo.social").as_deref(),
            Some("alice martin")
        );
        assert_eq!(handle_name("alice"), None);
        assert_eq!(handle_key("@Alice@demo.social").as_deref(), Some("alice"));
        assert_eq!(handle_key("alice.bsky.social").as_deref(), Some("alice"));
        assert_eq!(handle_key("al@x.example"), None);
    }
}
