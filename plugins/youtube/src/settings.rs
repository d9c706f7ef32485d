//! An account's configuration, checked before any request: the API origin,
//! the brand's channel, the keyword search and the daily quota.

use socialcrm_sdk::{Config, ConfigExt, PluginError, http};

/// The default quota of a Google Cloud project, in units a day.
pub const DEFAULT_DAILY_QUOTA: u32 = 10_000;
/// A search costs 100 units: once an hour by default.
const DEFAULT_SEARCH_EVERY_MINUTES: i64 = 60;
/// A week: a search at most that far apart.
const MAX_SEARCH_EVERY_MINUTES: i64 = 10_080;
/// `q` of `search.list`; longer queries are cut by YouTube, so refuse them here.
const MAX_QUERY_CHARS: usize = 500;

#[derive(Debug, PartialEq, Eq)]
pub struct Settings {
    /// The API origin without a trailing slash, e.g. `https://www.googleapis.com`.
    pub api: String,
    /// The brand's channel id: its threads are read, its comments are outbound.
    pub channel_id: String,
    /// `search.list`'s `q` built from `keywords`; `None` without keywords.
    pub query: Option<String>,
    pub search_every_ms: i64,
    pub daily_quota: u32,
}

impl Settings {
    pub fn parse(config: &Config) -> Result<Settings, PluginError> {
        let api = origin("api-url", config.require("api-url")?)?;
        let optional = |name: &str| {
            ConfigExt::get(config.as_slice(), name)
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        // The host renews the token at `{oauth-url}/token`: a client id without it cannot be used.
        match optional("oauth-url") {
            Some(raw) => {
                origin("oauth-url", raw)?;
            }
            None if optional("client-id").is_some() => {
                return Err(invalid(
                    "`oauth-url` is needed with `client-id` to renew the token: https://oauth2.googleapis.com".into(),
                ));
            }
            None => {}
        }
        let channel_id = config.require("channel-id")?.trim();
        if !is_channel_id(channel_id) {
            return Err(invalid(format!(
                "`channel-id` must be the channel's id (UC followed by 22 letters, digits, - or _), not its @handle or URL (got `{channel_id}`)"
            )));
        }
        let keywords: Vec<&str> = optional("keywords")
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
        let search_every_minutes = match optional("search-every-minutes") {
            None => DEFAULT_SEARCH_EVERY_MINUTES,
            Some(raw) => raw
                .parse::<i64>()
                .ok()
                .filter(|m| (1..=MAX_SEARCH_EVERY_MINUTES).contains(m))
                .ok_or_else(|| {
                    invalid(format!(
                        "`search-every-minutes` must be a whole number from 1 to {MAX_SEARCH_EVERY_MINUTES} (got `{raw}`)"
                    ))
                })?,
        };
        let daily_quota = match optional("daily-quota") {
            None => DEFAULT_DAILY_QUOTA,
            Some(raw) => raw.parse::<u32>().ok().filter(|q| *q > 0).ok_or_else(|| {
                invalid(format!(
                    "`daily-quota` must be a positive whole number of units (got `{raw}`)"
                ))
            })?,
        };
        Ok(Settings {
            api,
            channel_id: channel_id.to_string(),
            query,
            search_every_ms: search_every_minutes * 60_000,
            daily_quota,
        })
    }
}

fn invalid(message: String) -> PluginError {
    PluginError::InvalidConfig(format!("config field {message}"))
}

fn origin(field: &str, raw: &str) -> Result<String, PluginError> {
    http::origin(raw).ok_or_else(|| {
        invalid(format!(
            "`{field}` must be an origin like https://www.googleapis.com (got `{raw}`)"
        ))
    })
}

/// `UC` and 22 characters of the URL-safe base64 alphabet.
fn is_channel_id(id: &str) -> bool {
    id.len() == 24 && id.starts_with("UC") && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `acme|"acme cloud"`: YouTube's search takes `|` for OR and quotes for a phrase.
fn query(keywords: &[&str]) -> Result<String, PluginError> {
    let mut terms = Vec::with_capacity(keywords.len());
    for keyword in keywords {
        if keyword.contains(['"', '|']) {
            return Err(invalid(format!(
                "`keywords` holds `{keyword}`: quotes and | are not allowed"
            )));
        }
        terms.push(if keyword.contains(char::is_whitespace) {
            format!("\"{keyword}\"")
        } else {
            keyword.to_string()
        });
    }
    let query = terms.join("|");
    let chars = query.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(invalid(format!(
            "`keywords` make a search of {chars} characters; at most {MAX_QUERY_CHARS} are taken"
        )));
    }
    Ok(query)
}

#[cfg(test)]
mod tests {
    use socialcrm_sdk::testkit::config;

    use super::*;

    const CHANNEL: &str = "UC_x5XG1OV2P6uZZ5FSM9Ttw";

    fn invalid_message(c: &Config) -> String {
        match Settings::parse(c) {
            Err(PluginError::InvalidConfig(m)) => m,
            other => panic!("expected invalid-config, got {other:?}"),
        }
    }

    #[test]
    fn reads_a_full_config_and_defaults() {
        let s = Settings::parse(&config(&[
            ("api-url", "https://www.googleapis.com/"),
            ("oauth-url", "https://oauth2.googleapis.com"),
            ("client-id", "123.apps.googleusercontent.com"),
            ("channel-id", CHANNEL),
            ("keywords", " acme , acme cloud,, "),
            ("search-every-minutes", "15"),
            ("daily-quota", "50000"),
        ]))
        .unwrap();
        assert_eq!(s.api, "https://www.googleapis.com");
        assert_eq!(s.channel_id, CHANNEL);
        assert_eq!(s.query.as_deref(), Some("acme|\"acme cloud\""));
        assert_eq!((s.search_every_ms, s.daily_quota), (15 * 60_000, 50_000));
        let s = Settings::parse(&config(&[("api-url", "http://127.0.0.1:9"), ("channel-id", CHANNEL)])).unwrap();
        assert_eq!(s.query, None);
        assert_eq!((s.search_every_ms, s.daily_quota), (3_600_000, DEFAULT_DAILY_QUOTA));
    }

    #[test]
    fn names_what_is_wrong() {
        let api = ("api-url", "https://www.googleapis.com");
        let channel = ("channel-id", CHANNEL);
        assert!(invalid_message(&Vec::new()).contains("`api-url` is required"));
        assert!(invalid_message(&config(&[api])).contains("`channel-id` is required"));
        for bad in [
            "@acme",
            "https://youtube.com/@acme",
            "UCshort",
            "UC_x5XG1OV2P6uZZ5FSM9Tt!",
        ] {
            assert!(
                invalid_message(&config(&[api, ("channel-id", bad)])).contains("UC followed by 22"),
                "{bad}"
            );
        }
        assert!(invalid_message(&config(&[("api-url", "googleapis.com"), channel])).contains("`api-url`"));
        assert!(invalid_message(&config(&[api, channel, ("client-id", "x")])).contains("`oauth-url` is needed"));
        assert!(invalid_message(&config(&[api, channel, ("oauth-url", "ftp://x")])).contains("`oauth-url`"));
        assert!(invalid_message(&config(&[api, channel, ("keywords", "say \"hi\"")])).contains("quotes"));
        assert!(invalid_message(&config(&[api, channel, ("daily-quota", "0")])).contains("`daily-quota`"));
        assert!(invalid_message(&config(&[api, channel, ("daily-quota", "lots")])).contains("`daily-quota`"));
        assert!(
            invalid_message(&config(&[api, channel, ("search-every-minutes", "0")])).contains("`search-every-minutes`")
        );
        let long = vec!["keyword"; 80].join(",");
        assert!(invalid_message(&config(&[api, channel, ("keywords", &long)])).contains("at most 500"));
    }
}
