//! What a plugin may do, as an admin consents to it: the hosts it may reach,
//! the secrets it may have the host use and how, its limits, its webhook use
//! and the data it sees. An upgrade that widens any of these waits for an
//! admin's approval of the difference.

use serde::{Deserialize, Serialize};

use super::{Manifest, PluginKind};
use crate::runtime::Limits;

/// A plugin's permissions, read from its manifest.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Permissions {
    /// Origins it may call (config fields in braces, filled per account).
    pub allowed_hosts: Vec<String>,
    /// How the host attaches the credential, and which secrets make it.
    pub credential: Option<String>,
    /// Secret config fields: the host may use them on the plugin's behalf
    /// (credential, placeholders, HMACs); the plugin never reads them.
    pub secrets: Vec<String>,
    /// Where the host may fill a secret into a request.
    pub secret_fills: Vec<String>,
    /// The limits it asks for (the host's maximums still apply).
    #[schema(value_type = Object)]
    pub limits: Limits,
    /// The largest webhook body it takes (channels).
    pub webhook_max_body_bytes: Option<usize>,
    /// What it is given to work on.
    pub sees: String,
    /// The features of each contact a scorer reads (`[scorer] features`):
    /// granted at install, and the only ones the host hands it.
    #[serde(default)]
    pub features: Vec<String>,
}

impl Permissions {
    pub fn of(manifest: &Manifest) -> Permissions {
        let channel = manifest.kind == PluginKind::Channel;
        Permissions {
            allowed_hosts: manifest.allowed_hosts.clone(),
            credential: Some(
                manifest
                    .credential_rules()
                    .map(|r| r.describe())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
            .filter(|all| !all.is_empty()),
            secrets: manifest
                .config
                .iter()
                .filter(|f| f.secret)
                .map(|f| f.name.clone())
                .collect(),
            secret_fills: manifest.secret_fill.iter().map(|f| f.describe()).collect(),
            limits: manifest.limits.clone(),
            webhook_max_body_bytes: channel.then_some(manifest.webhook.max_body_bytes),
            sees: match manifest.kind {
                PluginKind::Channel => {
                    "its accounts' non-secret config and key-value data, the network's responses and webhook calls"
                }
                PluginKind::Source => "its accounts' non-secret config and key-value data, the source's responses",
                PluginKind::Analyzer => "the text, kind and language of each post",
                PluginKind::Scorer => "the features it declares of each contact, never who the contact is",
            }
            .to_string(),
            features: manifest.scorer.features.clone(),
        }
    }

    /// What `to` may do that these permissions do not allow, one line each;
    /// empty when `to` is the same or narrower.
    pub fn widened_by(&self, to: &Permissions) -> Vec<String> {
        let mut wider = Vec::new();
        for host in to.allowed_hosts.iter().filter(|h| !self.allowed_hosts.contains(h)) {
            wider.push(format!("may reach `{host}`"));
        }
        for secret in to.secrets.iter().filter(|s| !self.secrets.contains(s)) {
            wider.push(format!("may have the host use the secret `{secret}`"));
        }
        for fill in to.secret_fills.iter().filter(|f| !self.secret_fills.contains(f)) {
            wider.push(format!("may have the host fill {fill}"));
        }
        if to.credential != self.credential
            && let Some(credential) = &to.credential
        {
            wider.push(format!("credential: {credential}"));
        }
        for (name, from, now) in raised_limits(&self.limits, &to.limits) {
            wider.push(format!("limit `{name}` raised from {from} to {now}"));
        }
        for feature in to.features.iter().filter(|f| !self.features.contains(f)) {
            wider.push(format!("may read the contact feature `{feature}`"));
        }
        if let (Some(from), Some(now)) = (self.webhook_max_body_bytes, to.webhook_max_body_bytes)
            && now > from
        {
            wider.push(format!("webhook bodies up to {now} bytes (was {from})"));
        }
        wider
    }
}

/// Each limit `to` sets higher than `from`: (name, from, to).
fn raised_limits(from: &Limits, to: &Limits) -> Vec<(String, String, String)> {
    let (Ok(serde_json::Value::Object(from)), Ok(serde_json::Value::Object(to))) =
        (serde_json::to_value(from), serde_json::to_value(to))
    else {
        return Vec::new();
    };
    to.iter()
        .filter_map(|(name, now)| {
            let was = from.get(name)?;
            (now.as_f64()? > was.as_f64()?).then(|| (name.clone(), was.to_string(), now.to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
name = "acme"
version = "1.0.0"
kind = "channel"
api = "^1.0"
network = "acme"
allowed-hosts = ["https://{instance}"]
credential = { scheme = "bearer", secret = "token" }
config = [
  { name = "instance", required = true },
  { name = "token", secret = true },
]
limits = { memory-bytes = 16777216 }
"#;

    fn permissions(edit: impl Fn(&str) -> String) -> Permissions {
        Permissions::of(&Manifest::parse(&edit(BASE)).unwrap())
    }

    #[test]
    fn the_same_or_narrower_is_no_widening() {
        let base = permissions(str::to_string);
        assert!(base.widened_by(&base).is_empty());
        let narrower = permissions(|m| m.replace("memory-bytes = 16777216", "memory-bytes = 8388608"));
        assert!(base.widened_by(&narrower).is_empty());
    }

    #[test]
    fn each_widening_is_named() {
        let base = permissions(str::to_string);
        let wider = permissions(|m| {
            m.replace(
                r#"allowed-hosts = ["https://{instance}"]"#,
                r#"allowed-hosts = ["https://{instance}", "https://collector.example"]"#,
            )
            .replace(
                r#"{ name = "token", secret = true },"#,
                r#"{ name = "token", secret = true }, { name = "password", secret = true },"#,
            )
            .replace("memory-bytes = 16777216", "memory-bytes = 33554432")
                + "[webhook]\nmax-body-bytes = 4194304\n"
        });
        assert_eq!(
            base.widened_by(&wider),
            [
                "may reach `https://collector.example`",
                "may have the host use the secret `password`",
                "limit `memory-bytes` raised from 16777216 to 33554432",
                "webhook bodies up to 4194304 bytes (was 1048576)",
            ]
        );
        let basic = permissions(|m| {
            m.replace(
                r#"credential = { scheme = "bearer", secret = "token" }"#,
                r#"credential = { scheme = "basic", username = "token", password = "token" }"#,
            )
        });
        assert_eq!(base.widened_by(&basic), ["credential: basic from token and token"]);
    }

    #[test]
    fn a_scorer_reading_another_feature_is_a_widening() {
        let scorer = |features: &str| {
            Permissions::of(
                &Manifest::parse(&format!(
                    "name = \"acme\"\nversion = \"1.0.0\"\nkind = \"scorer\"\napi = \"^1.2\"\n\
                     [scorer]\nfeatures = [{features}]\n"
                ))
                .unwrap(),
            )
        };
        let base = scorer(r#""orders", "days-since-order""#);
        assert_eq!(base.features, ["orders", "days-since-order"]);
        assert!(base.widened_by(&scorer(r#""orders""#)).is_empty());
        assert_eq!(
            base.widened_by(&scorer(r#""orders", "tags""#)),
            ["may read the contact feature `tags`"]
        );
    }

    #[test]
    fn another_header_set_is_a_widening() {
        let headers = |set: &str| {
            permissions(|m| {
                m.replace(
                    r#"credential = { scheme = "bearer", secret = "token" }"#,
                    &format!(r#"credential = {{ scheme = "headers", headers = {{ {set} }} }}"#),
                )
                .replace(
                    r#"{ name = "token", secret = true },"#,
                    r#"{ name = "token", secret = true }, { name = "user", secret = true },"#,
                )
            })
        };
        let two = headers(r#""Api-Key" = "token", "Api-Username" = "user""#);
        assert!(two.widened_by(&two).is_empty());
        // The same secrets sent under another header name.
        let renamed = headers(r#""Api-Key" = "token", "X-Forward-To" = "user""#);
        assert_eq!(
            two.widened_by(&renamed),
            ["credential: headers `Api-Key` from token and `X-Forward-To` from user"]
        );
        let fewer = headers(r#""Api-Key" = "token""#);
        assert_eq!(two.widened_by(&fewer), ["credential: headers `Api-Key` from token"]);
    }
}
