//! How the host renews a bearer credential that expires: the manifest's
//! `refresh` of a credential rule. The host makes the refresh request itself,
//! to an origin of `allowed-hosts`, and the plugin never sees a value.

use serde::{Deserialize, Serialize};

/// A credential's refresh: the flow, where its token endpoint is, and the
/// secrets it uses. The credential's own secret is the access token renewed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "flow",
    rename_all = "kebab-case",
    rename_all_fields = "kebab-case",
    deny_unknown_fields
)]
pub enum Refresh {
    /// OAuth 2.0 `grant_type=refresh_token` (RFC 6749 §6): a form POST, the
    /// client authenticated with HTTP Basic when it has a secret, else named
    /// by `client_id` in the form; the answer may rotate the refresh token.
    Oauth2 {
        token_url: String,
        /// The secret holding the refresh token.
        refresh_token: String,
        /// The config field (secret or not) holding the client id.
        client_id: String,
        /// The secret holding the client secret, for a confidential client.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client_secret: Option<String>,
    },
    /// Threads' long-lived token: `GET <token-url>?grant_type=th_refresh_token
    /// &access_token=<the token>` answers a new token valid for 60 days.
    ThreadsLongLived { token_url: String },
}

impl Refresh {
    /// The flow's name, as the manifest writes it.
    pub fn flow(&self) -> &'static str {
        match self {
            Refresh::Oauth2 { .. } => "oauth2",
            Refresh::ThreadsLongLived { .. } => "threads-long-lived",
        }
    }

    /// The token endpoint: an `allowed-hosts` pattern followed by a path.
    pub fn token_url(&self) -> &str {
        match self {
            Refresh::Oauth2 { token_url, .. } | Refresh::ThreadsLongLived { token_url } => token_url,
        }
    }

    /// The secrets the refresh reads (besides the access token): never
    /// filled into a plugin's request, never attached to one.
    pub fn secrets(&self) -> Vec<&str> {
        match self {
            Refresh::Oauth2 {
                refresh_token,
                client_secret,
                ..
            } => std::iter::once(refresh_token.as_str())
                .chain(client_secret.as_deref())
                .collect(),
            Refresh::ThreadsLongLived { .. } => Vec::new(),
        }
    }

    /// The config fields the refresh reads that may be plain config.
    pub fn fields(&self) -> Vec<&str> {
        match self {
            Refresh::Oauth2 { client_id, .. } => vec![client_id],
            Refresh::ThreadsLongLived { .. } => Vec::new(),
        }
    }

    /// The `allowed-hosts` pattern the token URL starts with and the path
    /// after it; `None` when it starts with none of them, names a wildcard
    /// origin, or its path is not a plain `/path`.
    pub fn endpoint<'a>(&'a self, allowed_hosts: &'a [String]) -> Option<(&'a str, &'a str)> {
        let url = self.token_url();
        allowed_hosts
            .iter()
            .filter(|pattern| !pattern.contains('*'))
            .find_map(|pattern| Some((pattern.as_str(), url.strip_prefix(pattern.as_str())?)))
            .filter(|(_, path)| path.starts_with('/') && !path.contains(['?', '#', '{', '}', ' ']))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_url_is_an_allowed_origin_and_a_plain_path() {
        let hosts = ["{api-url}".to_string(), "https://*.example".to_string()];
        let oauth2 = |url: &str| Refresh::Oauth2 {
            token_url: url.into(),
            refresh_token: "refresh-token".into(),
            client_id: "client-id".into(),
            client_secret: None,
        };
        assert_eq!(
            oauth2("{api-url}/2/oauth2/token").endpoint(&hosts),
            Some(("{api-url}", "/2/oauth2/token"))
        );
        for bad in [
            "https://evil.example/token",
            "https://a.example/token",
            "{api-url}",
            "{api-url}/t?x=1",
            "{api-url}.evil.example/t",
        ] {
            assert_eq!(oauth2(bad).endpoint(&hosts), None, "{bad}");
        }
    }
}
