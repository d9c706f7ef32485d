//! Contact fields as the CRM keeps them: normalized so that evidence (an email,
//! a phone, a website, a handle) compares exactly.

use std::collections::BTreeMap;

/// Networks whose handles a contact can list (one CSV column each).
pub const NETWORKS: [&str; 8] = [
    "mastodon",
    "bluesky",
    "reddit",
    "x",
    "facebook",
    "instagram",
    "youtube",
    "tiktok",
];

/// Lower-cased, trimmed email; `None` when it is not an address.
pub fn email(raw: &str) -> Result<Option<String>, String> {
    let e = raw.trim().to_lowercase();
    if e.is_empty() {
        return Ok(None);
    }
    let valid = e.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !e.contains(char::is_whitespace)
    });
    if valid {
        Ok(Some(e))
    } else {
        Err(format!("`{raw}` is not an email address"))
    }
}

/// Digits with a leading `+` when given; at least 7 digits.
pub fn phone(raw: &str) -> Result<Option<String>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    if raw.chars().any(|c| !(c.is_ascii_digit() || " +-().".contains(c))) {
        return Err(format!("`{raw}` is not a phone number"));
    }
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    if digits.len() < 7 || digits.len() > 15 {
        return Err(format!("`{raw}` is not a phone number (7 to 15 digits)"));
    }
    Ok(Some(if raw.starts_with('+') {
        format!("+{digits}")
    } else {
        digits
    }))
}

/// The website's host, lower-cased, without `www.` (`https://www.Shop.example/x` → `shop.example`).
pub fn website(raw: &str) -> Result<Option<String>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let rest = raw.split_once("://").map_or(raw, |(_, r)| r);
    let host = rest
        .split(['/', '?', '#', ':'])
        .next()
        .unwrap_or_default()
        .to_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_string();
    if host.contains('.') && !host.contains(char::is_whitespace) && !host.contains('@') {
        Ok(Some(host))
    } else {
        Err(format!("`{raw}` is not a website"))
    }
}

/// A handle as networks compare it: lower-cased, without a leading `@`.
pub fn handle(raw: &str) -> Option<String> {
    let h = raw.trim().trim_start_matches('@').to_lowercase();
    (!h.is_empty()).then_some(h)
}

/// Handles by network, as stored (JSON object).
pub fn handles_json(handles: &BTreeMap<String, String>) -> String {
    serde_json::to_string(handles).unwrap_or_else(|_| "{}".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_evidence() {
        assert_eq!(
            email(" Alice@Example.COM ").unwrap().as_deref(),
            Some("alice@example.com")
        );
        assert!(email("alice at example").is_err());
        assert_eq!(email("").unwrap(), None);
        assert_eq!(phone("+1 (555) 010-2030").unwrap().as_deref(), Some("+15550102030"));
        assert!(phone("call me").is_err());
        assert!(phone("123").is_err());
        assert_eq!(
            website("https://www.Shop.example/about").unwrap().as_deref(),
            Some("shop.example")
        );
        assert!(website("not a site").is_err());
        assert_eq!(
            handle(" @Alice@Mastodon.Social").as_deref(),
            Some("alice@mastodon.social")
        );
        assert_eq!(handle("  "), None);
    }
}
