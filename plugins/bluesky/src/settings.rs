//! An account's configuration, checked before any request is made.

use socialcrm_sdk::{Config, ConfigExt, PluginError, http};

/// At most this many search queries: each costs a request per poll, and a
/// call may make 20.
pub const MAX_KEYWORDS: usize = 10;
/// The longest search query accepted.
const MAX_KEYWORD_CHARS: usize = 256;

#[derive(Debug, PartialEq, Eq)]
pub struct Settings {
    /// The PDS base URL without a trailing slash, e.g. `https://bsky.social`.
    pub service: String,
    /// A handle (lower-cased, without `@`) or a DID.
    pub identifier: String,
    pub keywords: Vec<String>,
    pub own_posts: bool,
}

impl Settings {
    pub fn from_config(config: &Config) -> Result<Settings, PluginError> {
        Ok(Settings {
            service: service(config.require("service")?)?,
            identifier: identifier(config.require("identifier")?)?,
            keywords: keywords(ConfigExt::get(&config[..], "keywords"))?,
            own_posts: own_posts(ConfigExt::get(&config[..], "own-posts"))?,
        })
    }
}

fn invalid(message: String) -> PluginError {
    PluginError::InvalidConfig(message)
}

fn service(raw: &str) -> Result<String, PluginError> {
    http::origin(raw).ok_or_else(|| {
        invalid(format!(
            "config field `service` must be the PDS address, like https://bsky.social (got `{raw}`)"
        ))
    })
}

/// A DID (`did:plc:…`, `did:web:…`) or a handle (a domain name).
fn identifier(raw: &str) -> Result<String, PluginError> {
    let id = raw.trim_start_matches('@');
    let did = id.strip_prefix("did:").is_some_and(|rest| {
        rest.split_once(':').is_some_and(|(method, specific)| {
            !method.is_empty()
                && method.bytes().all(|b| b.is_ascii_lowercase())
                && !specific.is_empty()
                && specific
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'%' | b'-'))
        })
    });
    if did {
        return Ok(id.to_string());
    }
    let labels: Vec<&str> = id.split('.').collect();
    let handle = id.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            (1..=63).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        });
    if handle {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(invalid(format!(
            "config field `identifier` must be a handle like brand.bsky.social or a DID like did:plc:… (got `{raw}`)"
        )))
    }
}

fn keywords(raw: Option<&str>) -> Result<Vec<String>, PluginError> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    let mut keywords: Vec<String> = Vec::new();
    for keyword in raw.split(',').map(str::trim).filter(|k| !k.is_empty()) {
        if keyword.chars().count() > MAX_KEYWORD_CHARS {
            return Err(invalid(format!(
                "config field `keywords`: a query is longer than {MAX_KEYWORD_CHARS} characters"
            )));
        }
        if !keywords.iter().any(|k| k == keyword) {
            keywords.push(keyword.to_string());
        }
    }
    if keywords.is_empty() {
        return Err(invalid(format!(
            "config field `keywords` holds no query (got `{raw}`); leave it empty to search nothing"
        )));
    }
    if keywords.len() > MAX_KEYWORDS {
        return Err(invalid(format!(
            "config field `keywords` has {} queries; at most {MAX_KEYWORDS} are allowed",
            keywords.len()
        )));
    }
    Ok(keywords)
}

fn own_posts(raw: Option<&str>) -> Result<bool, PluginError> {
    match raw.map(str::to_ascii_lowercase).as_deref() {
        None | Some("true" | "yes" | "on" | "1") => Ok(true),
        Some("false" | "no" | "off" | "0") => Ok(false),
        Some(other) => Err(invalid(format!(
            "config field `own-posts` must be true or false (got `{other}`)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use socialcrm_sdk::testkit::config;

    use super::*;

    fn settings(extra: &[(&str, &str)]) -> Result<Settings, PluginError> {
        let mut pairs = vec![
            ("service", "https://bsky.social/"),
            ("identifier", "@Brand.bsky.social"),
        ];
        pairs.extend_from_slice(extra);
        Settings::from_config(&config(&pairs))
    }

    fn invalid_naming(result: Result<Settings, PluginError>, field: &str) -> bool {
        matches!(result, Err(PluginError::InvalidConfig(m)) if m.contains(field))
    }

    #[test]
    fn reads_a_full_config() {
        let s = settings(&[("keywords", " acme , \"acme cloud\",,acme "), ("own-posts", "No")]).unwrap();
        assert_eq!(
            s,
            Settings {
                service: "https://bsky.social".into(),
                identifier: "brand.bsky.social".into(),
                keywords: vec!["acme".into(), "\"acme cloud\"".into()],
                own_posts: false,
            }
        );
        let s = settings(&[]).unwrap();
        assert!(s.keywords.is_empty() && s.own_posts);
        let did = Settings::from_config(&config(&[
            ("service", "http://127.0.0.1:2583"),
            ("identifier", "did:plc:ewvi7nxzyoun6zhxrhs64oiz"),
        ]))
        .unwrap();
        assert_eq!(did.identifier, "did:plc:ewvi7nxzyoun6zhxrhs64oiz");
    }

    #[test]
    fn refuses_empty_and_invalid_fields() {
        assert!(invalid_naming(Settings::from_config(&Vec::new()), "`service`"));
        assert!(invalid_naming(
            Settings::from_config(&config(&[("service", "https://bsky.social"), ("identifier", "  ")])),
            "`identifier`"
        ));
        for bad in [
            "bsky.social",
            "ftp://bsky.social",
            "https://",
            "https://bsky.social/xrpc",
        ] {
            assert!(
                invalid_naming(
                    Settings::from_config(&config(&[("service", bad), ("identifier", "a.b")])),
                    "`service`"
                ),
                "{bad}"
            );
        }
        for bad in [
            "brand",
            "brand@bsky.social",
            "-brand.bsky.social",
            "did:plc:",
            "did:PLC:x",
            "a b.social",
        ] {
            assert!(
                invalid_naming(
                    Settings::from_config(&config(&[("service", "https://bsky.social"), ("identifier", bad)])),
                    "`identifier`"
                ),
                "{bad}"
            );
        }
        assert!(invalid_naming(settings(&[("keywords", " , ,")]), "`keywords`"));
        let many = (0..=MAX_KEYWORDS)
            .map(|i| format!("k{i}"))
            .collect::<Vec<_>>()
            .join(",");
        assert!(invalid_naming(settings(&[("keywords", &many)]), "at most"));
        assert!(invalid_naming(settings(&[("keywords", &"x".repeat(300))]), "longer"));
        assert!(invalid_naming(settings(&[("own-posts", "maybe")]), "`own-posts`"));
    }
}
