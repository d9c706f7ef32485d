//! An account's configuration, checked before any request: the API origin,
//! the brand's user id and the keyword search it listens with.

use socialcrm_sdk::{Config, ConfigExt, PluginError, http};

/// The longest query `GET /2/tweets/search/recent` takes on the self-serve tiers.
const MAX_QUERY_CHARS: usize = 512;

#[derive(Debug, PartialEq, Eq)]
pub struct Settings {
    /// The API origin without a trailing slash, e.g. `https://api.x.com`.
    pub api: String,
    /// The brand's numeric user id: mentions are read for it, its own posts are outbound.
    pub user_id: String,
    /// The search query built from `keywords`; `None` when the account does not listen by keyword.
    pub query: Option<String>,
    /// Where compliance job files go up and down (`https://storage.googleapis.com`);
    /// `None`: the account runs no compliance jobs.
    pub storage: Option<String>,
}

impl Settings {
    pub fn parse(config: &Config) -> Result<Settings, PluginError> {
        let api = origin("api-url", config.require("api-url")?)?;
        let storage = ConfigExt::get(config.as_slice(), "storage-url")
            .filter(|s| !s.trim().is_empty())
            .map(|s| origin("storage-url", s))
            .transpose()?;
        let user_id = config.require("user-id")?;
        if !user_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid(format!(
                "`user-id` must be the account's numeric id, not its @handle (got `{user_id}`)"
            )));
        }
        let keywords: Vec<&str> = ConfigExt::get(config.as_slice(), "keywords")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .collect();
        let query = if keywords.is_empty() {
            None
        } else {
            Some(query(&keywords)?)
        };
        Ok(Settings {
            api,
            user_id: user_id.to_string(),
            query,
            storage,
        })
    }
}

fn invalid(message: String) -> PluginError {
    PluginError::InvalidConfig(format!("config field {message}"))
}

/// The origin of `raw`: `http(s)://host[:port]`, nothing after it.
fn origin(field: &str, raw: &str) -> Result<String, PluginError> {
    http::origin(raw).ok_or_else(|| {
        invalid(format!(
            "`{field}` must be an origin like https://api.x.com (got `{raw}`)"
        ))
    })
}

/// `(acme OR "acme cloud") -is:retweet`: any keyword, phrases kept whole;
/// retweets repeat a post already seen, so they are left out.
fn query(keywords: &[&str]) -> Result<String, PluginError> {
    let mut terms = Vec::with_capacity(keywords.len());
    for keyword in keywords {
        if keyword.contains('"') {
            return Err(invalid(format!("`keywords` holds `{keyword}`: quotes are not allowed")));
        }
        terms.push(if keyword.contains(char::is_whitespace) {
            format!("\"{keyword}\"")
        } else {
            keyword.to_string()
        });
    }
    let query = format!("({}) -is:retweet", terms.join(" OR "));
    let chars = query.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(invalid(format!(
            "`keywords` make a search of {chars} characters; X takes at most {MAX_QUERY_CHARS}"
        )));
    }
    Ok(query)
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
            ("api-url", "https://api.x.com/"),
            ("user-id", "2244994945"),
            ("keywords", " acme , acme cloud,, "),
        ]))
        .unwrap();
        assert_eq!(s.api, "https://api.x.com");
        assert_eq!(s.user_id, "2244994945");
        assert_eq!(s.query.as_deref(), Some("(acme OR \"acme cloud\") -is:retweet"));
        let s = Settings::parse(&config(&[("api-url", "http://127.0.0.1:9"), ("user-id", "1")])).unwrap();
        assert_eq!(s.query, None);
    }

    #[test]
    fn names_what_is_wrong() {
        assert!(invalid_message(&Vec::new()).contains("`api-url` is required"));
        assert!(invalid_message(&config(&[("api-url", "https://api.x.com")])).contains("`user-id` is required"));
        assert!(
            invalid_message(&config(&[("api-url", "https://api.x.com"), ("user-id", "@acme")])).contains("numeric")
        );
        for bad in ["api.x.com", "ftp://x", "https://", "https://api.x.com/2", "https://u@x"] {
            assert!(
                invalid_message(&config(&[("api-url", bad), ("user-id", "1")])).contains("`api-url`"),
                "{bad}"
            );
        }
        let c = config(&[
            ("api-url", "https://api.x.com"),
            ("user-id", "1"),
            ("keywords", "say \"hi\""),
        ]);
        assert!(invalid_message(&c).contains("quotes"));
        let long = vec!["keyword"; 80].join(",");
        let c = config(&[("api-url", "https://api.x.com"), ("user-id", "1"), ("keywords", &long)]);
        assert!(invalid_message(&c).contains("at most 512"));
    }
}
