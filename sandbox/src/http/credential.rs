//! How the host attaches an account's credential: the schemes, and the
//! manifest's rules for which credential goes to which origin and path (X's
//! compliance endpoints take an app token, its other endpoints the user's,
//! and a storage origin none).

use std::collections::BTreeMap;

use base64::Engine as _;
use http::{HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};
use wasmtime_wasi_http::DEFAULT_FORBIDDEN_HEADERS;

use super::fill::path_matches;
use super::hooks::FILL_SECRETS_HEADER;
use super::origin::{AllowedOrigin, OriginError};
use super::refresh::Refresh;

/// How the host attaches an account's credential to each allowed request, so
/// the plugin never reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scheme", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Credential {
    /// `Authorization: Bearer <secret>`.
    Bearer { secret: String },
    /// `Authorization: Basic base64(<username secret>:<password secret>)`.
    Basic { username: String, password: String },
    /// A header of its own, e.g. `X-Api-Key: <secret>`.
    Header { name: String, secret: String },
    /// Several headers, each from its own secret (Discourse's `Api-Key` and
    /// `Api-Username`): header name -> secret name.
    Headers { headers: BTreeMap<String, String> },
}

/// The most headers a `headers` credential may carry.
pub const MAX_CREDENTIAL_HEADERS: usize = 8;

impl Credential {
    /// The scheme's name, as the manifest writes it.
    pub fn scheme(&self) -> &'static str {
        match self {
            Credential::Bearer { .. } => "bearer",
            Credential::Basic { .. } => "basic",
            Credential::Header { .. } => "header",
            Credential::Headers { .. } => "headers",
        }
    }

    /// The scheme and what makes it, as an admin consents to it: a different
    /// header set is a different description, so an upgrade that changes it
    /// asks again.
    pub fn describe(&self) -> String {
        match self {
            Credential::Headers { headers } => {
                let each: Vec<String> = headers.iter().map(|(h, s)| format!("`{h}` from {s}")).collect();
                format!("headers {}", each.join(" and "))
            }
            Credential::Header { name, secret } => format!("header `{name}` from {secret}"),
            other => format!("{} from {}", other.scheme(), other.secrets().join(" and ")),
        }
    }

    /// Why the credential cannot be attached as written; `None` when it can.
    pub fn problem(&self) -> Option<String> {
        let names: Vec<&str> = match self {
            Credential::Bearer { .. } | Credential::Basic { .. } => return None,
            Credential::Header { name, .. } => vec![name],
            Credential::Headers { headers } => {
                if headers.is_empty() || headers.len() > MAX_CREDENTIAL_HEADERS {
                    return Some(format!("`headers` must name 1 to {MAX_CREDENTIAL_HEADERS} headers"));
                }
                headers.keys().map(String::as_str).collect()
            }
        };
        let mut seen = Vec::new();
        for name in names {
            let Ok(parsed) = HeaderName::try_from(name) else {
                return Some(format!("`{name}` is not a valid header name"));
            };
            if DEFAULT_FORBIDDEN_HEADERS.contains(&parsed)
                || parsed.as_str() == FILL_SECRETS_HEADER
                || parsed == http::header::CONTENT_LENGTH
                || parsed == http::header::TRANSFER_ENCODING
            {
                return Some(format!("`{name}` is a header the host sets itself"));
            }
            // Header names are case-insensitive: `Api-Key` and `api-key` are one.
            if seen.contains(&parsed) {
                return Some(format!("header `{name}` is named twice"));
            }
            seen.push(parsed);
        }
        None
    }

    /// The names of the secrets the credential is made of.
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            Credential::Bearer { secret } | Credential::Header { secret, .. } => vec![secret],
            Credential::Basic { username, password } => vec![username, password],
            Credential::Headers { headers } => headers.values().map(String::as_str).collect(),
        }
    }

    /// The headers that carry the credential: the guest may set none of them.
    pub(super) fn header_names(&self) -> Vec<HeaderName> {
        match self {
            Credential::Bearer { .. } | Credential::Basic { .. } => vec![http::header::AUTHORIZATION],
            Credential::Header { name, .. } => HeaderName::try_from(name.as_str()).into_iter().collect(),
            Credential::Headers { headers } => headers
                .keys()
                .filter_map(|name| HeaderName::try_from(name.as_str()).ok())
                .collect(),
        }
    }

    /// Every header of the credential with its value.
    pub(super) fn headers(&self, secrets: &BTreeMap<String, String>) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
        let get = |name: &String| {
            secrets
                .get(name)
                .ok_or_else(|| format!("the account has no secret `{name}`"))
        };
        let value =
            |v: String| HeaderValue::try_from(v).map_err(|_| "the credential is not a valid header value".to_string());
        let name = |n: &str| HeaderName::try_from(n).map_err(|_| format!("`{n}` is not a valid header name"));
        Ok(match self {
            Credential::Bearer { secret } => {
                vec![(http::header::AUTHORIZATION, value(format!("Bearer {}", get(secret)?))?)]
            }
            Credential::Basic { username, password } => {
                let pair = format!("{}:{}", get(username)?, get(password)?);
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                vec![(http::header::AUTHORIZATION, value(format!("Basic {encoded}"))?)]
            }
            Credential::Header { name: n, secret } => vec![(name(n)?, value(get(secret)?.clone())?)],
            Credential::Headers { headers } => headers
                .iter()
                .map(|(n, secret)| Ok((name(n)?, value(get(secret)?.clone())?)))
                .collect::<Result<_, String>>()?,
        })
    }
}

/// A credential and where it goes: the manifest's `credential` (one) or
/// `credentials` (several). Without `origin` it goes to every allowed origin;
/// without `path`, to every path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", try_from = "serde_json::Map<String, serde_json::Value>")]
pub struct CredentialRule {
    /// One of the manifest's `allowed-hosts` patterns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The request path: exact, or a prefix when it ends with `*`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(flatten)]
    pub credential: Credential,
    /// How the host renews the credential's token before it expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh: Option<Refresh>,
}

/// Read by hand: `flatten` would let an unknown key through silently.
impl TryFrom<serde_json::Map<String, serde_json::Value>> for CredentialRule {
    type Error = String;

    fn try_from(mut table: serde_json::Map<String, serde_json::Value>) -> Result<Self, String> {
        let mut text = |key: &str| match table.remove(key) {
            None => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("`{key}` must be a string")),
        };
        let origin = text("origin")?;
        let path = text("path")?;
        let refresh = table
            .remove("refresh")
            .map(|r| serde_json::from_value(r).map_err(|e| format!("`refresh`: {e}")))
            .transpose()?;
        let credential = serde_json::from_value(serde_json::Value::Object(table)).map_err(|e| e.to_string())?;
        Ok(CredentialRule {
            origin,
            path,
            credential,
            refresh,
        })
    }
}

impl CredentialRule {
    /// The rule as an admin consents to it: a refresh is a request of the
    /// host's own, to an endpoint the admin sees.
    pub fn describe(&self) -> String {
        let attached = match (&self.origin, &self.path) {
            (None, None) => self.credential.describe(),
            (origin, path) => format!(
                "{} to {}{}",
                self.credential.describe(),
                origin.as_deref().unwrap_or("every allowed host"),
                path.as_deref().unwrap_or("")
            ),
        };
        match &self.refresh {
            None => attached,
            Some(refresh) => {
                let with = refresh.secrets();
                let with = if with.is_empty() {
                    String::new()
                } else {
                    format!(" with {}", with.join(" and "))
                };
                format!(
                    "{attached}; refreshes `{}` at {} ({}{with})",
                    self.credential.secrets().join("`, `"),
                    refresh.token_url(),
                    refresh.flow(),
                )
            }
        }
    }

    /// Every secret the rule reads: the credential's and its refresh's.
    pub fn secrets(&self) -> Vec<&str> {
        let mut secrets = self.credential.secrets();
        secrets.extend(self.refresh.iter().flat_map(|r| r.secrets()));
        secrets
    }

    /// Why a set of rules is ambiguous: two rules with one scope.
    pub fn overlap(rules: &[CredentialRule]) -> Option<String> {
        let mut seen = Vec::new();
        for rule in rules {
            let scope = (&rule.origin, &rule.path);
            if seen.contains(&scope) {
                return Some(format!(
                    "two credentials go to {}{}",
                    rule.origin.as_deref().unwrap_or("every allowed host"),
                    rule.path.as_deref().unwrap_or("")
                ));
            }
            seen.push(scope);
        }
        None
    }
}

/// A credential rule with its origin expanded for one account.
#[derive(Clone, Debug)]
pub struct CredentialRoute {
    origin: Option<AllowedOrigin>,
    path: Option<String>,
    pub credential: Credential,
    /// The secrets its refresh reads: as private as the credential's own.
    pub refresh_secrets: Vec<String>,
}

impl CredentialRoute {
    pub fn expand(rule: &CredentialRule, config: &BTreeMap<String, String>) -> Result<Self, OriginError> {
        Ok(CredentialRoute {
            origin: rule
                .origin
                .as_deref()
                .map(|o| AllowedOrigin::expand(o, config))
                .transpose()?,
            path: rule.path.clone(),
            credential: rule.credential.clone(),
            refresh_secrets: rule
                .refresh
                .iter()
                .flat_map(|r| r.secrets())
                .map(str::to_string)
                .collect(),
        })
    }

    /// Whether the route reads secret `name` (its credential's or its
    /// refresh's): such a secret is never filled into a plugin's request.
    pub fn reads(&self, name: &str) -> bool {
        self.credential.secrets().contains(&name) || self.refresh_secrets.iter().any(|s| s == name)
    }

    /// The credential of the most specific route that takes a request to
    /// `scheme://host:port/path`: a named origin before any, an exact path
    /// before a prefix, a longer prefix before a shorter one.
    pub fn pick<'a>(
        routes: &'a [CredentialRoute],
        scheme: &str,
        host: &str,
        port: u16,
        path: &str,
    ) -> Option<&'a Credential> {
        routes
            .iter()
            .filter(|r| r.origin.as_ref().is_none_or(|o| o.matches(scheme, host, port)))
            .filter(|r| r.path.as_deref().is_none_or(|p| path_matches(p, path)))
            .max_by_key(|r| {
                let path = r.path.as_deref().map(|p| (!p.ends_with('*'), p.len()));
                (r.origin.is_some(), path)
            })
            .map(|r| &r.credential)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> BTreeMap<String, String> {
        [
            ("password".to_string(), "hunter2".to_string()),
            ("token".to_string(), "t0k".to_string()),
        ]
        .into()
    }

    fn two_headers() -> Credential {
        Credential::Headers {
            headers: [
                ("Api-Key".into(), "token".into()),
                ("Api-Username".into(), "password".into()),
            ]
            .into(),
        }
    }

    #[test]
    fn the_most_specific_route_wins_and_other_origins_get_none() {
        let rule = |origin: Option<&str>, path: Option<&str>, secret: &str| CredentialRule {
            origin: origin.map(str::to_string),
            path: path.map(str::to_string),
            credential: Credential::Bearer { secret: secret.into() },
            refresh: None,
        };
        let rules = [
            rule(Some("{api}"), None, "user"),
            rule(Some("{api}"), Some("/2/compliance/*"), "app"),
            rule(Some("{api}"), Some("/2/compliance/jobs/special"), "exact"),
        ];
        assert_eq!(CredentialRule::overlap(&rules), None);
        let config = [("api".to_string(), "https://api.x.com".to_string())].into();
        let routes: Vec<CredentialRoute> = rules
            .iter()
            .map(|r| CredentialRoute::expand(r, &config).unwrap())
            .collect();
        let secret = |host: &str, path: &str| {
            CredentialRoute::pick(&routes, "https", host, 443, path).map(|c| c.secrets()[0].to_string())
        };
        assert_eq!(secret("api.x.com", "/2/users/me").as_deref(), Some("user"));
        assert_eq!(secret("api.x.com", "/2/compliance/jobs").as_deref(), Some("app"));
        assert_eq!(
            secret("api.x.com", "/2/compliance/jobs/special").as_deref(),
            Some("exact")
        );
        assert_eq!(
            secret("storage.googleapis.com", "/upload"),
            None,
            "no credential leaves for another origin"
        );

        let anywhere = [rule(None, None, "user")];
        let routes: Vec<CredentialRoute> = anywhere
            .iter()
            .map(|r| CredentialRoute::expand(r, &config).unwrap())
            .collect();
        assert!(CredentialRoute::pick(&routes, "https", "any.example", 443, "/").is_some());

        let twice = [rule(Some("{api}"), None, "a"), rule(Some("{api}"), None, "b")];
        assert_eq!(CredentialRule::overlap(&twice).unwrap(), "two credentials go to {api}");
    }

    #[test]
    fn credential_values() {
        let one = |c: &Credential| c.headers(&secrets()).unwrap()[0].1.clone();
        let bearer = Credential::Bearer { secret: "token".into() };
        assert_eq!(one(&bearer), "Bearer t0k");
        let basic = Credential::Basic {
            username: "token".into(),
            password: "password".into(),
        };
        assert_eq!(one(&basic), "Basic dDBrOmh1bnRlcjI=");
        let missing = Credential::Bearer { secret: "other".into() };
        assert!(missing.headers(&secrets()).is_err());
        let partly = Credential::Headers {
            headers: [
                ("Api-Key".into(), "token".into()),
                ("Api-Username".into(), "other".into()),
            ]
            .into(),
        };
        assert_eq!(
            partly.headers(&secrets()).unwrap_err(),
            "the account has no secret `other`"
        );
    }

    #[test]
    fn a_credential_names_valid_distinct_headers() {
        let headers = |names: &[&str]| Credential::Headers {
            headers: names.iter().map(|n| (n.to_string(), "token".to_string())).collect(),
        };
        assert_eq!(two_headers().problem(), None);
        for (names, why) in [
            (&[][..], "`headers` must name 1 to 8 headers"),
            (&["Api-Key", "api-key"], "is named twice"),
            (&["bad header"], "is not a valid header name"),
            (&["Host"], "a header the host sets itself"),
            (&[FILL_SECRETS_HEADER], "a header the host sets itself"),
        ] {
            let problem = headers(names).problem().unwrap_or_default();
            assert!(problem.contains(why), "{names:?}: {problem}");
        }
        let nine: Vec<String> = (0..9).map(|i| format!("x-h{i}")).collect();
        let nine: Vec<&str> = nine.iter().map(String::as_str).collect();
        assert!(headers(&nine).problem().is_some());
        assert_eq!(
            two_headers().describe(),
            "headers `Api-Key` from token and `Api-Username` from password"
        );
    }
}
