//! Secret values out of text the host keeps or shows: a plugin's error
//! (which lands in an account's `last_error`), its log lines and its stderr.
//! A plugin that learned a secret (a server echoing it in a way the response
//! scrub cannot see) still cannot publish it through the host.

use std::borrow::Cow;
use std::collections::BTreeMap;

/// Values shorter than this are not redacted: they would mangle every
/// message, and a secret that short is no secret.
const MIN_SECRET_LEN: usize = 4;

/// `text` with each value of `secrets` replaced by `[secret NAME]`.
pub fn redact<'a>(text: &'a str, secrets: &BTreeMap<String, String>) -> Cow<'a, str> {
    let mut out = Cow::Borrowed(text);
    for (name, value) in secrets {
        if value.len() >= MIN_SECRET_LEN && out.contains(value.as_str()) {
            out = Cow::Owned(out.replace(value.as_str(), &format!("[secret {name}]")));
        }
    }
    out
}

/// A plugin's log line as one line: control characters (a newline that
/// would start a forged entry, terminal escapes) are written escaped.
pub(crate) fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_every_secret_value() {
        let secrets = BTreeMap::from([
            ("app-password".to_string(), "hunter22".to_string()),
            ("pin".to_string(), "123".to_string()),
        ]);
        assert_eq!(
            redact("login hunter22 failed (hunter22), pin 123", &secrets),
            "login [secret app-password] failed ([secret app-password]), pin 123"
        );
        assert!(matches!(redact("nothing here", &secrets), Cow::Borrowed(_)));
    }

    #[test]
    fn log_lines_cannot_forge_lines() {
        assert_eq!(
            one_line("ok\n2026-12-06T00:00:00Z ERROR forged\u{1b}[2J"),
            "ok\\n2026-12-06T00:00:00Z ERROR forged\\u{1b}[2J"
        );
        assert!(matches!(one_line("plain"), Cow::Borrowed(_)));
    }
}
