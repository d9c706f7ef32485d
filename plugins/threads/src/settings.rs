//! An account's configuration, checked before any request: the API origin,
//! the brand's user id and the keywords it searches for.

use socialcrm_sdk::{Config, ConfigExt, PluginError, http};

/// The Graph API version of Threads the plugin speaks.
pub const VERSION: &str = "v1.0";
/// Each keyword is a search request of its own in every poll, out of the
/// call's 20 requests.
pub const MAX_KEYWORDS: usize = 5;

#[derive(Debug, PartialEq, Eq)]
pub struct Settings {
    /// The versioned API base, e.g. `https://graph.threads.net/v1.0`.
    pub api: String,
    /// The brand's numeric Threads user id.
    pub user_id: String,
    /// Keywords to search recent posts for, each its own query.
    pub keywords: Vec<String>,
}

impl Settings {
    pub fn parse(config: &Config) -> Result<Settings, PluginError> {
        let raw = config.require("api-url")?;
        let origin = http::origin(raw).ok_or_else(|| {
            invalid(format!(
                "`api-url` must be an origin like https://graph.threads.net (got `{raw}`)"
            ))
        })?;
        let user_id = config.require("user-id")?;
        if !user_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(format!(
                "`user-id` must be the account's numeric Threads user id, not its @username (got `{user_id}`)"
            )));
        }
        let mut keywords: Vec<String> = Vec::new();
        for keyword in ConfigExt::get(config.as_slice(), "keywords")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
        {
            if !keywords.iter().any(|k| k.eq_ignore_ascii_case(keyword)) {
                keywords.push(keyword.to_string());
            }
        }
        if keywords.len() > MAX_KEYWORDS {
            return Err(invalid(format!(
                "`keywords` lists {} keywords; at most {MAX_KEYWORDS} are searched (each is a request in every poll)",
                keywords.len()
            )));
        }
        Ok(Settings {
            api: format!("{origin}/{VERSION}"),
            user_id: user_id.to_string(),
            keywords,
        })
    }
}

fn invalid(message: String) -> PluginError {
    PluginError::InvalidConfig(format!("config field {message}"))
}

#[cfg(test)]
mod tests {
    use socialcrm_sdk::testkit::config;

    use super::*;

    fn invalid_message(c: &Config) -> String {
        match Settings::parse(c) {
            Err(PluginError::InvalidConfig(m)) => m,
            other => panic!("expected invalid-config, got {other:?}"),
        }
    }

    #[test]
    fn reads_a_full_config() {
        let s = Settings::parse(&config(&[
            ("api-url", "https://graph.threads.net/"),
            ("user-id", "17841400000000000"),
            ("keywords", " acme , acme cloud,, ACME "),
        ]))
        .unwrap();
        assert_eq!(s.api, "https://graph.threads.net/v1.0");
        assert_eq!(s.user_id, "17841400000000000");
        assert_eq!(
            s.keywords,
            ["acme", "acme cloud"],
            "blank and repeated keywords dropped"
        );
        let s = Settings::parse(&config(&[("api-url", "http://127.0.0.1:9"), ("user-id", "1")])).unwrap();
        assert!(s.keywords.is_empty());
    }

    #[test]
    fn names_what_is_wrong() {
        assert!(invalid_message(&Vec::new()).contains("`api-url` is required"));
        let api = ("api-url", "https://graph.threads.net");
        assert!(invalid_message(&config(&[api])).contains("`user-id` is required"));
        assert!(invalid_message(&config(&[api, ("user-id", "@acme")])).contains("numeric"));
        for bad in ["graph.threads.net", "ftp://x", "https://graph.threads.net/v1.0"] {
            assert!(
                invalid_message(&config(&[("api-url", bad), ("user-id", "1")])).contains("`api-url`"),
                "{bad}"
            );
        }
        let many = config(&[api, ("user-id", "1"), ("keywords", "a,b,c,d,e,f")]);
        assert!(invalid_message(&many).contains("at most 5"));
    }
}
