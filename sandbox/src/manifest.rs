//! `plugin.toml`: what a plugin is, what it may reach, and what it asks for.

use std::collections::BTreeSet;

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::{CredentialRule, Limits, Refresh, SandboxSpec, SecretFill};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum PluginKind {
    Channel,
    Analyzer,
    /// A source of customer data (world `crm-source`).
    Source,
    /// A predictive model over contacts (world `scorer`).
    Scorer,
}

impl PluginKind {
    /// `an analyzer`, `a scorer`: for messages.
    pub fn article(self) -> String {
        match self {
            PluginKind::Analyzer => "an analyzer".into(),
            kind => format!("a {}", kind.name()),
        }
    }

    /// As plugin.toml writes it.
    pub fn name(self) -> &'static str {
        match self {
            PluginKind::Channel => "channel",
            PluginKind::Analyzer => "analyzer",
            PluginKind::Source => "source",
            PluginKind::Scorer => "scorer",
        }
    }
}

/// A configuration field a channel account has.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ConfigFieldSpec {
    pub name: String,
    #[serde(rename = "type", default = "text")]
    pub kind: String,
    #[serde(default)]
    pub required: bool,
    /// Stored encrypted, attached to requests by the host, never given to the plugin.
    #[serde(default)]
    pub secret: bool,
    #[serde(default)]
    pub description: String,
}

fn text() -> String {
    "text".into()
}

/// A parsed and validated `plugin.toml`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Manifest {
    pub name: String,
    pub version: Version,
    pub kind: PluginKind,
    /// The range of `socialcrm:plugin` versions the plugin was built for.
    pub api: VersionReq,
    /// The network a channel connects to; for a source, what it reads (`shopify`).
    #[serde(default)]
    pub network: Option<String>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub authors: Vec<String>,
    #[serde(default)]
    pub license: Option<String>,
    /// Origins the plugin may call, e.g. `https://{instance}` (config fields in braces).
    #[serde(default)]
    pub allowed_hosts: Vec<String>,
    /// The one credential, or (`credentials`) several, each to its origin and path.
    #[serde(default)]
    pub credential: Option<CredentialRule>,
    #[serde(default)]
    pub credentials: Vec<CredentialRule>,
    /// Where the host may fill which secret into a request (a login call).
    #[serde(default)]
    pub secret_fill: Vec<SecretFill>,
    #[serde(default)]
    pub config: Vec<ConfigFieldSpec>,
    /// Limits the plugin asks for; the host's maximums still apply.
    #[serde(default)]
    pub limits: Limits,
    /// How the host takes the network's webhook calls for this channel.
    #[serde(default)]
    pub webhook: WebhookSpec,
    /// How the host re-checks stored posts with a channel that exports `upkeep`.
    #[serde(default)]
    pub upkeep: UpkeepSpec,
    /// What a scorer reads of each contact.
    #[serde(default)]
    pub scorer: ScorerSpec,
}

/// The `[scorer]` table of a scorer's manifest: the features of each contact
/// it reads, from [`FEATURES`]. The admin grants them at install; the host
/// hands a scorer these and nothing else.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct ScorerSpec {
    pub features: Vec<String>,
}

/// The features the host builds for scorers (docs/scorers.md), with what
/// each is. None names or reaches the person: no name, email, phone or handle
/// is a feature, so no manifest can ask for one.
pub const FEATURES: [(&str, &str); 13] = [
    ("lifetime-value", "orders minus refunds, in the reporting currency"),
    (
        "value-percentile",
        "share of customers whose lifetime value is at most the contact's (0 without purchases)",
    ),
    ("orders", "orders ever"),
    ("orders-12m", "orders in the last 12 months"),
    ("orders-90d", "orders in the last 90 days"),
    ("days-since-order", "days since the last order (absent without orders)"),
    (
        "unconverted-transactions",
        "orders and refunds in currencies without a rate",
    ),
    ("negative-posts-7d", "negative posts in the last 7 days"),
    (
        "sentiment-30d",
        "mean sentiment of the last 30 days (absent without posts)",
    ),
    (
        "sentiment-30-180d",
        "mean sentiment 30 to 180 days ago (absent without posts)",
    ),
    (
        "churn-intent-30d",
        "1 when a post of the last 30 days has a churn-risk intent of at least 0.5, else 0",
    ),
    ("posts-90d", "posts in the last 90 days"),
    ("tags", "the contact's CRM tags (as `subject.tags`)"),
];

/// The `[upkeep]` table of a channel's manifest: which stored posts the host
/// hands to `upkeep.recheck`, how many at a time, and how often it goes
/// through them all.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct UpkeepSpec {
    /// Posts created this many days ago or later are re-checked.
    pub window_days: u32,
    /// Posts handed to one `recheck` call.
    pub batch: u32,
    /// Minutes between two passes over the window.
    pub every_minutes: u32,
}

impl UpkeepSpec {
    pub const MAX_WINDOW_DAYS: u32 = 3650;
    pub const MAX_BATCH: u32 = 1000;
    /// A week: every_minutes at most.
    pub const MAX_EVERY_MINUTES: u32 = 10_080;
}

impl Default for UpkeepSpec {
    fn default() -> Self {
        UpkeepSpec {
            window_days: 7,
            batch: 100,
            every_minutes: 60,
        }
    }
}

/// The `[webhook]` table of a channel's manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct WebhookSpec {
    /// The largest body `/hooks/{channel}` reads; larger calls get 413.
    pub max_body_bytes: usize,
}

impl WebhookSpec {
    /// What a manifest gets unless it asks for more: webhook deliveries of the
    /// supported networks are a few KiB, and the caller is unauthenticated.
    pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;
    /// The most a manifest may ask for.
    pub const MAX_BODY_BYTES: usize = 16 << 20;
}

impl Default for WebhookSpec {
    fn default() -> Self {
        WebhookSpec {
            max_body_bytes: Self::DEFAULT_MAX_BODY_BYTES,
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("plugin.toml: {0}")]
    Syntax(String),
    #[error("plugin.toml: field `{field}`: {why}")]
    Field { field: &'static str, why: String },
    #[error(
        "plugin.toml: the plugin needs socialcrm:plugin {wanted}, but this host provides {host}; upgrade socialcrm or rebuild the plugin for {host}"
    )]
    Api { wanted: VersionReq, host: Version },
}

const CONFIG_KINDS: [&str; 5] = ["text", "url", "number", "boolean", "list"];

impl Manifest {
    /// What the sandbox needs of it.
    pub fn sandbox(&self) -> SandboxSpec {
        SandboxSpec {
            name: self.name.clone(),
            version: self.version.to_string(),
            limits: self.limits.clone(),
            allowed_hosts: self.allowed_hosts.clone(),
            credentials: self.credential_rules().cloned().collect(),
            secret_fill: self.secret_fill.clone(),
            secret_fields: self
                .config
                .iter()
                .filter(|f| f.secret)
                .map(|f| f.name.clone())
                .collect(),
            optional_fields: self
                .config
                .iter()
                .filter(|f| !f.required)
                .map(|f| f.name.clone())
                .collect(),
            api: Some(self.api.clone()),
        }
    }

    /// Parses and validates `text`.
    pub fn parse(text: &str) -> Result<Manifest, ManifestError> {
        let manifest: Manifest = toml::from_str(text)
            .map_err(|e| ManifestError::Syntax(e.message().to_string() + &location(text, e.span())))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// A scorer's features are known, each once; other kinds have none.
    fn validate_features(&self) -> Result<(), ManifestError> {
        let features = &self.scorer.features;
        let why = if self.kind != PluginKind::Scorer && !features.is_empty() {
            Some(format!("only a scorer reads features, not {}", self.kind.article()))
        } else if let Some(unknown) = features.iter().find(|f| !FEATURES.iter().any(|(n, _)| n == f)) {
            Some(format!(
                "`{unknown}` is not a feature the host builds; it builds {}",
                FEATURES.map(|(n, _)| n).join(", ")
            ))
        } else {
            let mut seen = BTreeSet::new();
            features
                .iter()
                .find(|f| !seen.insert(f.as_str()))
                .map(|twice| format!("`{twice}` is declared twice"))
        };
        match why {
            Some(why) => Err(ManifestError::Field { field: "scorer", why }),
            None => Ok(()),
        }
    }

    fn validate(&self) -> Result<(), ManifestError> {
        let field = |field, why: String| Err(ManifestError::Field { field, why });
        let valid_name = |n: &str| {
            !n.is_empty()
                && n.len() <= 64
                && n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        };
        if !valid_name(&self.name) {
            return field("name", format!("`{}` must be 1 to 64 of a-z, 0-9 and `-`", self.name));
        }
        let host = crate::wit_version();
        if !self.api.matches(&host) {
            return Err(ManifestError::Api {
                wanted: self.api.clone(),
                host,
            });
        }
        match (self.kind, &self.network) {
            (PluginKind::Channel, None) => return field("network", "a channel must name its network".into()),
            (PluginKind::Source, None) => {
                return field("network", "a source must name what it reads (`shopify`)".into());
            }
            (PluginKind::Channel | PluginKind::Source, Some(n)) if !valid_name(n) => {
                return field("network", format!("`{n}` must be 1 to 64 of a-z, 0-9 and `-`"));
            }
            (PluginKind::Analyzer | PluginKind::Scorer, _)
                if !self.allowed_hosts.is_empty() || self.credential_rules().next().is_some() =>
            {
                return field(
                    "allowed-hosts",
                    format!("{} makes no network requests", self.kind.article()),
                );
            }
            _ => {}
        }
        self.validate_features()?;
        if !(1..=WebhookSpec::MAX_BODY_BYTES).contains(&self.webhook.max_body_bytes) {
            return field(
                "webhook",
                format!(
                    "`max-body-bytes` must be 1 to {} (the host's maximum)",
                    WebhookSpec::MAX_BODY_BYTES
                ),
            );
        }
        let upkeep = &self.upkeep;
        let bounds = [
            ("window-days", upkeep.window_days, UpkeepSpec::MAX_WINDOW_DAYS),
            ("batch", upkeep.batch, UpkeepSpec::MAX_BATCH),
            ("every-minutes", upkeep.every_minutes, UpkeepSpec::MAX_EVERY_MINUTES),
        ];
        for (key, value, max) in bounds {
            if !(1..=max).contains(&value) {
                return field("upkeep", format!("`{key}` must be 1 to {max}"));
            }
        }
        let mut names = BTreeSet::new();
        for f in &self.config {
            if !valid_name(&f.name) {
                return field(
                    "config",
                    format!("name `{}` must be 1 to 64 of a-z, 0-9 and `-`", f.name),
                );
            }
            if !names.insert(f.name.as_str()) {
                return field("config", format!("`{}` is declared twice", f.name));
            }
            if !CONFIG_KINDS.contains(&f.kind.as_str()) {
                return field(
                    "config",
                    format!(
                        "`{}` has type `{}`; expected one of {}",
                        f.name,
                        f.kind,
                        CONFIG_KINDS.join(", ")
                    ),
                );
            }
        }
        if self.credential.is_some() && !self.credentials.is_empty() {
            return field(
                "credentials",
                "name one `credential` or a list of `credentials`, not both".into(),
            );
        }
        let rules: Vec<CredentialRule> = self.credential_rules().cloned().collect();
        if let Some(why) = CredentialRule::overlap(&rules) {
            return field("credentials", why);
        }
        for rule in &rules {
            let why = if let Some(why) = rule.credential.problem() {
                Some(why)
            } else if let Some(origin) = rule.origin.as_ref().filter(|o| !self.allowed_hosts.contains(o)) {
                Some(format!("origin `{origin}` is not one of `allowed-hosts`"))
            } else {
                rule.path
                    .as_ref()
                    .filter(|p| !p.starts_with('/'))
                    .map(|p| format!("path `{p}` must start with `/`"))
            };
            if let Some(why) = why.or_else(|| rule.refresh.as_ref().and_then(|r| self.refresh_problem(rule, r))) {
                return field("credential", why);
            }
        }
        for secret in self.credential_secrets() {
            if !self.config.iter().any(|f| f.name == secret && f.secret) {
                return field(
                    "credential",
                    format!("secret `{secret}` is not a config field with `secret = true`"),
                );
            }
        }
        let credential = self.credential_secrets();
        for fill in &self.secret_fill {
            let why = if let Err(why) = fill.check() {
                Some(why)
            } else if !self.config.iter().any(|f| f.name == fill.secret && f.secret) {
                Some(format!("`{}` is not a config field with `secret = true`", fill.secret))
            } else if credential.contains(&fill.secret.as_str()) {
                Some(format!(
                    "`{}` is the credential's secret, which is never filled",
                    fill.secret
                ))
            } else if !self.allowed_hosts.contains(&fill.origin) {
                Some(format!("origin `{}` is not one of `allowed-hosts`", fill.origin))
            } else if !fill.path.starts_with('/') {
                Some(format!("path `{}` must start with `/`", fill.path))
            } else {
                None
            };
            if let Some(why) = why {
                return field("secret-fill", why);
            }
        }
        for pattern in &self.allowed_hosts {
            for used in braces(pattern) {
                if !self.config.iter().any(|f| f.name == used && !f.secret) {
                    return field(
                        "allowed-hosts",
                        format!("`{pattern}` uses `{used}`, which is not a non-secret config field"),
                    );
                }
            }
        }
        Ok(())
    }

    /// Every credential rule, whichever key the manifest wrote them under.
    pub fn credential_rules(&self) -> impl Iterator<Item = &CredentialRule> {
        self.credential.iter().chain(&self.credentials)
    }

    fn credential_secrets(&self) -> Vec<&str> {
        self.credential_rules().flat_map(|r| r.secrets()).collect()
    }

    /// Why `rule`'s refresh cannot be done as written: it renews one bearer
    /// token, at an allowed origin, from fields of the manifest.
    fn refresh_problem(&self, rule: &CredentialRule, refresh: &Refresh) -> Option<String> {
        let crate::Credential::Bearer { secret } = &rule.credential else {
            return Some(format!(
                "`refresh` renews a bearer token, not a `{}` credential",
                rule.credential.scheme()
            ));
        };
        if refresh.endpoint(&self.allowed_hosts).is_none() {
            return Some(format!(
                "`token-url` `{}` must be one of `allowed-hosts` (no wildcard) followed by a path",
                refresh.token_url()
            ));
        }
        if let Some(same) = refresh.secrets().into_iter().find(|s| s == secret) {
            return Some(format!("`refresh` reads `{same}`, the access token itself"));
        }
        refresh
            .fields()
            .into_iter()
            .find(|f| !self.config.iter().any(|c| c.name == *f))
            .map(|f| format!("`refresh` reads `{f}`, which is not a config field"))
    }
}

/// The `{field}` names a pattern uses.
fn braces(pattern: &str) -> impl Iterator<Item = &str> {
    pattern
        .split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(name, _)| name))
}

/// ` (line N: `the line`)`, so the message shows the field and the value.
fn location(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(before) = span.and_then(|s| text.get(..s.start)) else {
        return String::new();
    };
    let n = before.matches('\n').count() + 1;
    match text.lines().nth(n - 1).map(str::trim).filter(|l| !l.is_empty()) {
        Some(line) => format!(" (line {n}: `{line}`)"),
        None => format!(" (line {n})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Credential, WIT_VERSION};

    const MASTODON: &str = r#"
name = "mastodon"
version = "0.1.0"
kind = "channel"
api = "^1.0"
network = "mastodon"
allowed-hosts = ["{instance}"]
credential = { scheme = "bearer", secret = "access-token" }
config = [
  { name = "instance", type = "url", required = true },
  { name = "access-token", required = true, secret = true },
]
limits = { memory-bytes = 33554432 }
"#;

    #[test]
    fn a_scorer_reads_only_catalogue_features_and_makes_no_requests() {
        let scorer =
            |extra: &str| format!("name = \"acme\"\nversion = \"1.0.0\"\nkind = \"scorer\"\napi = \"^1.2\"\n{extra}");
        let m = Manifest::parse(&scorer("[scorer]\nfeatures = [\"orders\", \"tags\"]\n")).unwrap();
        assert_eq!(m.kind, PluginKind::Scorer);
        assert_eq!(m.scorer.features, ["orders", "tags"]);
        let refused = |text: String| match Manifest::parse(&text) {
            Err(ManifestError::Field { why, .. }) => why,
            other => panic!("accepted: {other:?}"),
        };
        // Who the contact is is no feature: no manifest can ask for it.
        for personal in ["email", "name", "phone", "handles"] {
            let why = refused(scorer(&format!("[scorer]\nfeatures = [\"{personal}\"]\n")));
            assert!(
                why.starts_with(&format!("`{personal}` is not a feature the host builds")),
                "{why}"
            );
        }
        let why = refused(scorer("[scorer]\nfeatures = [\"orders\", \"orders\"]\n"));
        assert_eq!(why, "`orders` is declared twice");
        let why = refused(scorer("allowed-hosts = [\"https://model.example\"]\n"));
        assert_eq!(why, "a scorer makes no network requests");
        let why = refused(MASTODON.to_string() + "[scorer]\nfeatures = [\"orders\"]\n");
        assert_eq!(why, "only a scorer reads features, not a channel");
    }

    #[test]
    fn parses_a_channel_manifest() {
        let m = Manifest::parse(MASTODON).unwrap();
        assert_eq!(m.kind, PluginKind::Channel);
        assert_eq!(m.limits.memory_bytes, 32 << 20);
        assert_eq!(m.limits.max_posts, Limits::default().max_posts);
        assert_eq!(
            m.credential.map(|r| r.credential),
            Some(Credential::Bearer {
                secret: "access-token".into()
            })
        );
    }

    #[test]
    fn credentials_go_to_origins_and_paths_of_the_allowed_hosts() {
        let two = MASTODON
            .replace(
                r#"credential = { scheme = "bearer", secret = "access-token" }"#,
                r#"credentials = [
  { scheme = "bearer", secret = "app-token", origin = "{instance}", path = "/2/compliance/*" },
  { scheme = "bearer", secret = "access-token", origin = "{instance}" },
]"#,
            )
            .replace(
                r#"{ name = "access-token", required = true, secret = true },"#,
                r#"{ name = "access-token", required = true, secret = true }, { name = "app-token", secret = true },"#,
            );
        let m = Manifest::parse(&two).unwrap();
        assert_eq!(m.sandbox().credentials.len(), 2);
        assert_eq!(m.credential_secrets(), ["app-token", "access-token"]);
        let err = |text: &str| Manifest::parse(text).unwrap_err().to_string();
        for (from, to, why) in [
            (
                r#"origin = "{instance}" }"#,
                r#"origin = "https://elsewhere.example" }"#,
                "is not one of `allowed-hosts`",
            ),
            (
                r#"path = "/2/compliance/*""#,
                r#"path = "2/compliance""#,
                "must start with `/`",
            ),
            (
                r#"path = "/2/compliance/*""#,
                r#"colour = "red""#,
                "unknown field `colour`",
            ),
            (r#", path = "/2/compliance/*""#, "", "two credentials go to {instance}"),
            (
                "credentials = [",
                "credential = { scheme = \"bearer\", secret = \"app-token\" }\ncredentials = [",
                "not both",
            ),
        ] {
            let bad = two.replacen(from, to, 1);
            assert!(err(&bad).contains(why), "{to}: {}", err(&bad));
        }
    }

    #[test]
    fn a_refresh_renews_a_bearer_token_at_an_allowed_origin_from_declared_fields() {
        let refreshed = MASTODON
            .replace(
                r#"credential = { scheme = "bearer", secret = "access-token" }"#,
                r#"credential = { scheme = "bearer", secret = "access-token", refresh = { flow = "oauth2", token-url = "{instance}/oauth/token", refresh-token = "refresh-token", client-id = "client-id", client-secret = "client-secret" } }"#,
            )
            .replace(
                r#"{ name = "access-token", required = true, secret = true },"#,
                r#"{ name = "access-token", required = true, secret = true }, { name = "refresh-token", secret = true },
  { name = "client-id" }, { name = "client-secret", secret = true },"#,
            );
        let m = Manifest::parse(&refreshed).unwrap();
        assert_eq!(
            m.credential_secrets(),
            ["access-token", "refresh-token", "client-secret"],
            "never filled"
        );
        assert_eq!(
            m.credential.as_ref().map(|r| r.describe()).unwrap_or_default(),
            "bearer from access-token; refreshes `access-token` at {instance}/oauth/token (oauth2 with refresh-token and client-secret)"
        );
        let err = |text: &str| Manifest::parse(text).unwrap_err().to_string();
        for (from, to, why) in [
            (
                r#"token-url = "{instance}/oauth/token""#,
                r#"token-url = "https://tokens.example/oauth/token""#,
                "must be one of `allowed-hosts`",
            ),
            (r#"flow = "oauth2""#, r#"flow = "magic""#, "unknown variant `magic`"),
            (
                r#"client-secret = "client-secret" }"#,
                r#"client-secret = "client-secret", scope = "all" }"#,
                "unknown field `scope`",
            ),
            (
                r#"refresh-token = "refresh-token""#,
                r#"refresh-token = "access-token""#,
                "the access token itself",
            ),
            (
                r#"refresh-token = "refresh-token""#,
                r#"refresh-token = "client-id""#,
                "not a config field with `secret = true`",
            ),
            (
                r#"client-id = "client-id""#,
                r#"client-id = "app-id""#,
                "`app-id`, which is not a config field",
            ),
            (
                r#"scheme = "bearer", secret = "access-token""#,
                r#"scheme = "header", name = "x-token", secret = "access-token""#,
                "renews a bearer token",
            ),
        ] {
            let bad = refreshed.replacen(from, to, 1);
            assert!(err(&bad).contains(why), "{to}: {}", err(&bad));
        }
        let threads = MASTODON.replace(
            r#"secret = "access-token" }"#,
            r#"secret = "access-token", refresh = { flow = "threads-long-lived", token-url = "{instance}/refresh_access_token" } }"#,
        );
        assert!(Manifest::parse(&threads).is_ok());
    }

    #[test]
    fn a_headers_credential_names_its_headers_and_their_secrets() {
        let discourse = MASTODON
            .replace(
                r#"credential = { scheme = "bearer", secret = "access-token" }"#,
                r#"credential = { scheme = "headers", headers = { "Api-Key" = "api-key", "Api-Username" = "api-username" } }"#,
            )
            .replace(
                r#"{ name = "access-token", required = true, secret = true },"#,
                r#"{ name = "api-key", secret = true }, { name = "api-username", secret = true },"#,
            );
        let m = Manifest::parse(&discourse).unwrap();
        let credential = m.credential.unwrap().credential;
        assert_eq!(credential.secrets(), ["api-key", "api-username"]);
        let err = |text: String| Manifest::parse(&text).unwrap_err().to_string();
        let not_secret = discourse.replace(
            r#"{ name = "api-username", secret = true }"#,
            r#"{ name = "api-username" }"#,
        );
        assert!(err(not_secret).contains("secret `api-username` is not a config field with `secret = true`"));
        let empty = discourse.replace(r#""Api-Key" = "api-key", "Api-Username" = "api-username""#, "");
        assert!(err(empty).contains("`headers` must name 1 to 8 headers"));
        let twice = discourse.replace(r#""Api-Username""#, r#""api-key""#);
        assert!(err(twice).contains("field `credential`: header `api-key` is named twice"));
    }

    #[test]
    fn names_the_problem() {
        let err = |text: &str| Manifest::parse(text).unwrap_err().to_string();
        assert!(err(&MASTODON.replace("name = \"mastodon\"", "name = \"Mastodon!\"")).contains("field `name`"));
        assert!(err(&MASTODON.replace("network = \"mastodon\"\n", "")).contains("field `network`"));
        assert!(
            err(&MASTODON.replace("api = \"^1.0\"", "api = \"^1.9\"")).contains(&format!(
                "needs socialcrm:plugin ^1.9, but this host provides {WIT_VERSION}"
            ))
        );
        assert!(
            err(&MASTODON.replace("secret = true", "secret = false"))
                .contains("secret `access-token` is not a config field")
        );
        assert!(err(&MASTODON.replace("{instance}", "{server}")).contains("uses `server`"));
        assert!(err(&format!("{MASTODON}\ncolour = 1")).contains("unknown field `colour`"));
        assert!(err("name = 3").contains("line 1"));
    }

    #[test]
    fn upkeep_is_bounded() {
        let upkeep = |table: &str| Manifest::parse(&format!("{MASTODON}[upkeep]\n{table}\n"));
        assert_eq!(Manifest::parse(MASTODON).unwrap().upkeep, UpkeepSpec::default());
        let asked = upkeep("window-days = 3650\nbatch = 1000\nevery-minutes = 5")
            .unwrap()
            .upkeep;
        assert_eq!((asked.window_days, asked.batch, asked.every_minutes), (3650, 1000, 5));
        for (table, key) in [
            ("window-days = 0", "window-days"),
            ("window-days = 3651", "window-days"),
            ("batch = 1001", "batch"),
            ("every-minutes = 10081", "every-minutes"),
        ] {
            let err = upkeep(table).unwrap_err().to_string();
            assert!(err.contains("upkeep") && err.contains(key), "{table}: {err}");
        }
    }

    #[test]
    fn a_manifest_cannot_ask_beyond_the_hosts_webhook_maximum() {
        let webhook = |bytes: usize| format!("{MASTODON}[webhook]\nmax-body-bytes = {bytes}\n");
        let max = WebhookSpec::MAX_BODY_BYTES;
        assert_eq!(Manifest::parse(&webhook(max)).unwrap().webhook.max_body_bytes, max);
        for bytes in [0, max + 1] {
            let err = Manifest::parse(&webhook(bytes)).unwrap_err().to_string();
            assert!(err.contains("`max-body-bytes` must be 1 to 16777216"), "{err}");
        }
        assert_eq!(
            Manifest::parse(MASTODON).unwrap().webhook.max_body_bytes,
            WebhookSpec::DEFAULT_MAX_BODY_BYTES
        );
    }

    #[test]
    fn a_secret_fill_must_name_a_secret_an_allowed_origin_and_one_place() {
        let fill = |entry: &str| {
            let text = MASTODON.replace(
                "  { name = \"access-token\", required = true, secret = true },",
                "  { name = \"access-token\", required = true, secret = true },\n  { name = \"password\", secret = true },\n  { name = \"region\" },",
            );
            Manifest::parse(&text.replace("config = [", &format!("secret-fill = [{entry}]\nconfig = [")))
        };
        let ok = r#"{ secret = "password", origin = "{instance}", path = "/login", json = "password" }"#;
        assert_eq!(fill(ok).unwrap().secret_fill.len(), 1);
        for (entry, why) in [
            (
                r#"{ secret = "access-token", origin = "{instance}", path = "/login", json = "p" }"#,
                "is the credential's secret",
            ),
            (
                r#"{ secret = "region", origin = "{instance}", path = "/login", json = "p" }"#,
                "`region` is not a config field with `secret = true`",
            ),
            (
                r#"{ secret = "password", origin = "https://evil.example", path = "/login", json = "p" }"#,
                "is not one of `allowed-hosts`",
            ),
            (
                r#"{ secret = "password", origin = "{instance}", path = "login", json = "p" }"#,
                "must start with `/`",
            ),
            (
                r#"{ secret = "password", origin = "{instance}", path = "/login", json = "p", header = "x-p" }"#,
                "exactly one of",
            ),
            (
                r#"{ secret = "password", origin = "{instance}", path = "/login" }"#,
                "exactly one of",
            ),
        ] {
            let err = fill(entry).unwrap_err().to_string();
            assert!(
                err.contains("field `secret-fill`") && err.contains(why),
                "{entry}: {err}"
            );
        }
    }

    #[test]
    fn the_reference_lists_every_limit_with_its_default() {
        let doc = include_str!("../../docs/manifest.md");
        let defaults = toml::Table::try_from(Limits::default()).unwrap_or_default();
        assert_eq!(defaults.len(), 14);
        for (key, value) in &defaults {
            let row = format!("| `{key}` | {value}");
            assert!(doc.contains(&row), "docs/manifest.md lacks `{row}`");
        }
        let section = doc.split("## `limits`").nth(1).unwrap_or_default();
        let section = section.split("\n## ").next().unwrap_or_default();
        let rows = section.lines().filter(|l| l.starts_with("| `")).count();
        assert_eq!(rows, defaults.len(), "a limit the host does not have is documented");
    }
}
