//! An account's configuration, checked before anything else: the Graph API
//! origin and version, the business number and account, and the webhook's
//! verify token.

use socialcrm_sdk::{Config, ConfigExt, PluginError, http};

/// The Graph API version spoken when `api-version` is not set.
pub const DEFAULT_VERSION: &str = "v21.0";
/// Shorter verify tokens are guessable; Meta sends it in a URL anyone can try.
const MIN_VERIFY_TOKEN: usize = 16;

#[derive(Debug, PartialEq, Eq)]
pub struct Settings {
    /// The versioned Graph base, e.g. `https://graph.facebook.com/v21.0`.
    pub graph: String,
    /// The business phone number's id: where messages go out from, and
    /// the only number whose deliveries this account takes.
    pub phone_number_id: String,
    /// The WhatsApp Business Account, which owns the templates.
    pub waba_id: String,
    pub verify_token: String,
}

impl Settings {
    pub fn parse(config: &Config) -> Result<Settings, PluginError> {
        let raw = config.require("graph-url")?;
        let origin = http::origin(raw).ok_or_else(|| {
            invalid(format!(
                "`graph-url` must be an origin like https://graph.facebook.com (got `{raw}`)"
            ))
        })?;
        let version = ConfigExt::get(config.as_slice(), "api-version").unwrap_or(DEFAULT_VERSION);
        if !is_version(version) {
            return Err(invalid(format!(
                "`api-version` must be a Graph API version like {DEFAULT_VERSION} (got `{version}`)"
            )));
        }
        let phone_number_id = numeric_id(config, "phone-number-id", "the business phone number's id")?;
        let waba_id = numeric_id(config, "waba-id", "the WhatsApp Business Account id")?;
        let verify_token = config.require("verify-token")?;
        if verify_token.chars().count() < MIN_VERIFY_TOKEN {
            return Err(invalid(format!(
                "`verify-token` must have at least {MIN_VERIFY_TOKEN} characters"
            )));
        }
        Ok(Settings {
            graph: format!("{origin}/{version}"),
            phone_number_id,
            waba_id,
            verify_token: verify_token.to_string(),
        })
    }
}

/// `vNN.N`: the version is a path segment of every request.
fn is_version(text: &str) -> bool {
    let Some((major, minor)) = text.strip_prefix('v').and_then(|v| v.split_once('.')) else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
    digits(major) && digits(minor)
}

/// A Graph object id: digits only (it becomes a path segment). Admins paste
/// the phone number itself by mistake, so the message says what is wanted.
fn numeric_id(config: &Config, name: &str, what: &str) -> Result<String, PluginError> {
    let value = config.require(name)?;
    if value.len() > 32 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!(
            "`{name}` must be {what}, a number such as 106540352242922 (got `{value}`)"
        )));
    }
    Ok(value.to_string())
}

fn invalid(message: String) -> PluginError {
    PluginError::InvalidConfig(format!("config field {message}"))
}

#[cfg(test)]
mod tests {
    use socialcrm_sdk::testkit::config;

    use super::*;

    const GOOD: [(&str, &str); 4] = [
        ("graph-url", "https://graph.facebook.com/"),
        ("phone-number-id", "106540352242922"),
        ("waba-id", "102290129340398"),
        ("verify-token", "a-long-enough-token"),
    ];

    fn with(changes: &[(&str, &str)]) -> Config {
        let mut pairs: Vec<(&str, &str)> = GOOD
            .iter()
            .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
            .copied()
            .collect();
        pairs.extend(changes.iter().filter(|(_, v)| !v.is_empty()));
        config(&pairs)
    }

    fn message(c: &Config) -> String {
        match Settings::parse(c) {
            Err(PluginError::InvalidConfig(m)) => m,
            other => panic!("expected invalid-config, got {other:?}"),
        }
    }

    #[test]
    fn reads_a_full_config() {
        let s = Settings::parse(&with(&[])).unwrap();
        assert_eq!(
            s,
            Settings {
                graph: "https://graph.facebook.com/v21.0".into(),
                phone_number_id: "106540352242922".into(),
                waba_id: "102290129340398".into(),
                verify_token: "a-long-enough-token".into(),
            }
        );
        let s = Settings::parse(&with(&[("api-version", "v22.0"), ("graph-url", "http://127.0.0.1:9")])).unwrap();
        assert_eq!(s.graph, "http://127.0.0.1:9/v22.0");
    }

    #[test]
    fn names_what_is_wrong() {
        assert!(message(&Vec::new()).contains("`graph-url` is required"));
        for (field, value, says) in [
            ("graph-url", "graph.facebook.com", "origin"),
            ("graph-url", "https://graph.facebook.com/v21.0", "origin"),
            ("api-version", "21.0", "`api-version`"),
            ("api-version", "v21", "`api-version`"),
            ("api-version", "v21.0/../me", "`api-version`"),
            ("phone-number-id", "+1 555 0100", "business phone number's id"),
            ("phone-number-id", "1/messages", "`phone-number-id`"),
            ("waba-id", "acme", "WhatsApp Business Account id"),
            ("verify-token", "short", "at least 16"),
        ] {
            assert!(message(&with(&[(field, value)])).contains(says), "{field}={value}");
        }
        for field in ["phone-number-id", "waba-id", "verify-token"] {
            assert!(
                message(&with(&[(field, "")])).contains(&format!("`{field}` is required")),
                "{field}"
            );
        }
    }
}
