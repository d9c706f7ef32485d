//! An account's configuration, checked before any request: the API origin, the
//! brand's username, and the keyword search it listens with.

use socialcrm_sdk::{Config, ConfigExt, PluginError, http};

/// Reddit refuses a search query longer than this (`q`, <https://www.reddit.com/dev/api#GET_search>).
const MAX_QUERY_CHARS: usize = 512;

#[derive(Debug, PartialEq, Eq)]
pub struct Settings {
    /// The API origin without a trailing slash, e.g. `https://oauth.reddit.com`.
    pub api: String,
    pub username: String,
    /// `None` when the account does not listen by keyword.
    pub search: Option<Search>,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Search {
    /// Reddit search syntax: the keywords joined with `OR`, phrases quoted.
    pub query: String,
    /// Subreddit names; empty searches all of Reddit.
    pub subreddits: Vec<String>,
}

impl Settings {
    pub fn parse(config: &Config) -> Result<Settings, PluginError> {
        let api = api_url(config.require("api-url")?)?;
        let username = config
            .require("username")?
            .trim_start_matches("/u/")
            .trim_start_matches("u/");
        if !valid_username(username) {
            return Err(invalid(format!(
                "`username` must be a Reddit account name of 3 to 20 letters, digits, `_` or `-` (got `{username}`)"
            )));
        }
        let keywords = list(ConfigExt::get(config.as_slice(), "keywords"));
        let subreddits: Vec<String> = list(ConfigExt::get(config.as_slice(), "subreddits"))
            .into_iter()
            .map(|s| s.trim_start_matches("/r/").trim_start_matches("r/").to_string())
            .collect();
        if let Some(bad) = subreddits.iter().find(|s| !valid_subreddit(s)) {
            return Err(invalid(format!(
                "`subreddits` holds `{bad}`, which is not a subreddit name (3 to 21 letters, digits or `_`)"
            )));
        }
        let search = match (keywords.is_empty(), subreddits.is_empty()) {
            (true, true) => None,
            (true, false) => {
                return Err(invalid(
                    "`subreddits` restricts the keyword search: give `keywords` too".into(),
                ));
            }
            (false, _) => Some(Search {
                query: query(&keywords)?,
                subreddits,
            }),
        };
        Ok(Settings {
            api,
            username: username.to_string(),
            search,
        })
    }

    /// `platform:app-id:version (by /u/username)`, the form Reddit asks every
    /// client to send (<https://github.com/reddit-archive/reddit/wiki/API>).
    pub fn user_agent(&self) -> String {
        format!(
            "socialcrm:socialcrm-reddit:v{} (by /u/{})",
            env!("CARGO_PKG_VERSION"),
            self.username
        )
    }
}

fn invalid(message: String) -> PluginError {
    PluginError::InvalidConfig(format!("config field {message}"))
}

/// The origin of `raw`: `http(s)://host[:port]`, nothing after it.
fn api_url(raw: &str) -> Result<String, PluginError> {
    http::origin(raw).ok_or_else(|| {
        invalid(format!(
            "`api-url` must be an origin like https://oauth.reddit.com (got `{raw}`)"
        ))
    })
}

fn valid_username(name: &str) -> bool {
    (3..=20).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn valid_subreddit(name: &str) -> bool {
    (2..=21).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The comma-separated values of a list field, trimmed, blanks dropped.
fn list(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

/// `acme OR "acme cloud"`: any keyword matches; a phrase stays one term.
fn query(keywords: &[String]) -> Result<String, PluginError> {
    let mut terms = Vec::with_capacity(keywords.len());
    for keyword in keywords {
        if keyword.contains('"') {
            return Err(invalid(format!("`keywords` holds `{keyword}`: quotes are not allowed")));
        }
        if keyword.contains(char::is_whitespace) {
            terms.push(format!("\"{keyword}\""));
        } else {
            terms.push(keyword.clone());
        }
    }
    let query = terms.join(" OR ");
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(invalid(format!(
            "`keywords` make a search of {} characters; Reddit takes at most {MAX_QUERY_CHARS}",
            query.chars().count()
        )));
    }
    Ok(query)
}

#[cfg(test)]
mod tests {
    use socialcrm_sdk::testkit::config;

    use super::*;

    fn base(extra: &[(&str, &str)]) -> Config {
        let mut c = config(&[("api-url", "https://oauth.reddit.com/"), ("username", "acme_support")]);
        c.extend(config(extra));
        c
    }

    fn invalid_message(c: &Config) -> String {
        match Settings::parse(c) {
            Err(PluginError::InvalidConfig(m)) => m,
            other => panic!("expected invalid-config, got {other:?}"),
        }
    }

    #[test]
    fn reads_a_full_config() {
        let s = Settings::parse(&base(&[
            ("keywords", " acme , acme cloud,, "),
            ("subreddits", "r/sysadmin, /r/devops,selfhosted"),
        ]))
        .unwrap();
        assert_eq!(s.api, "https://oauth.reddit.com");
        assert_eq!(s.username, "acme_support");
        let search = s.search.unwrap();
        assert_eq!(search.query, "acme OR \"acme cloud\"");
        assert_eq!(search.subreddits, ["sysadmin", "devops", "selfhosted"]);
        assert_eq!(
            Settings::parse(&base(&[])).unwrap().user_agent(),
            format!(
                "socialcrm:socialcrm-reddit:v{} (by /u/acme_support)",
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    #[test]
    fn keywords_without_subreddits_search_everywhere() {
        let s = Settings::parse(&base(&[("keywords", "acme")])).unwrap();
        assert_eq!(
            s.search,
            Some(Search {
                query: "acme".into(),
                subreddits: vec![]
            })
        );
        assert_eq!(Settings::parse(&base(&[("keywords", " , ")])).unwrap().search, None);
    }

    #[test]
    fn names_what_is_wrong() {
        assert!(invalid_message(&Vec::new()).contains("`api-url` is required"));
        assert!(invalid_message(&config(&[("api-url", "https://oauth.reddit.com")])).contains("`username`"));
        for bad in [
            "oauth.reddit.com",
            "ftp://x",
            "https://",
            "https://oauth.reddit.com/api",
            "https://u@x",
        ] {
            let c = config(&[("api-url", bad), ("username", "acme")]);
            assert!(invalid_message(&c).contains("`api-url`"), "{bad}");
        }
        for bad in ["ab", "has space", "a-very-long-username-indeed"] {
            let c = config(&[("api-url", "https://oauth.reddit.com"), ("username", bad)]);
            assert!(invalid_message(&c).contains("`username`"), "{bad}");
        }
        assert!(invalid_message(&base(&[("subreddits", "sysadmin")])).contains("give `keywords`"));
        assert!(invalid_message(&base(&[("keywords", "acme"), ("subreddits", "no such/sub")])).contains("no such/sub"));
        assert!(invalid_message(&base(&[("keywords", "say \"acme\"")])).contains("quotes"));
        let long = vec!["keyword"; 80].join(",");
        assert!(invalid_message(&base(&[("keywords", &long)])).contains("at most 512"));
    }
}
