//! Single sign-on with an OpenID Connect provider: people sign in to the web
//! UI (authorization code flow with PKCE, a server-side session), and the API
//! takes the provider's JWT access tokens beside the opaque `scrm_` tokens.
//! A configured claim (groups) decides the role; a person whose groups map
//! to no role gets none. `provider` talks to the provider and checks tokens,
//! `session` keeps the sessions; the HTTP routes are `server::sso`'s.

mod provider;
mod session;

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

pub use provider::Provider;
pub use session::{CSRF_HEADER, Session, csrf_matches};

use crate::tokens::{Caller, Role};

#[derive(Debug, thiserror::Error)]
pub enum SsoError {
    #[error("single sign-on configuration: {0}")]
    Config(String),
    #[error("the OpenID provider: {0}")]
    Http(String),
    #[error("the OpenID provider's discovery: {0}")]
    Discovery(String),
    #[error("the OpenID provider refused: {0}")]
    Refused(String),
    #[error("invalid token: {0}")]
    Token(jsonwebtoken::errors::Error),
    #[error("invalid token: algorithm {0} is not accepted")]
    Algorithm(String),
    #[error("invalid token: signed by a key the provider does not publish")]
    UnknownKey,
    #[error("invalid token: the nonce does not match this sign-in")]
    Nonce,
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

impl SsoError {
    /// Whether the token itself is bad (a 401), not the provider or us.
    pub fn is_token(&self) -> bool {
        matches!(
            self,
            SsoError::Token(_) | SsoError::Algorithm(_) | SsoError::UnknownKey | SsoError::Nonce
        )
    }
}

/// A value that never shows in logs or debug output.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[secret]")
    }
}

/// How `socialcrm serve` was told to sign people in.
#[derive(Clone, Debug)]
pub struct SsoOptions {
    /// The provider's issuer URL (its discovery document is below it).
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Secret,
    /// Where browsers reach this server; the redirect URL is `<public_url>/auth/callback`.
    pub public_url: Url,
    /// Shown on the sign-in button.
    pub provider_name: String,
    /// Asked for at sign-in, e.g. `openid email profile`.
    pub scopes: String,
    /// The claim that holds the groups (a list or a string).
    pub roles_claim: String,
    /// Group name to role; the highest role a person's groups give wins.
    pub role_map: Vec<(String, Role)>,
    /// The audience API access tokens must name.
    pub api_audience: String,
    /// A session ends after this long without a request...
    pub idle: Duration,
    /// ... and this long after sign-in at the latest.
    pub lifetime: Duration,
}

/// Single sign-on: the options and the provider.
pub struct Sso {
    options: SsoOptions,
    provider: Provider,
    redirect_uri: String,
}

/// The claims read from ID and access tokens (the rest stays in `other`, for the groups claim).
#[derive(Debug, Deserialize)]
pub struct Claims {
    pub sub: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl Sso {
    pub fn new(options: SsoOptions) -> Result<Sso, SsoError> {
        if options.role_map.is_empty() {
            return Err(SsoError::Config(
                "map at least one group to a role (--oidc-role GROUP=ROLE)".into(),
            ));
        }
        let redirect_uri = options
            .public_url
            .join("auth/callback")
            .map_err(|e| SsoError::Config(format!("public URL: {e}")))?
            .to_string();
        Ok(Sso {
            provider: Provider::new(&options.issuer),
            options,
            redirect_uri,
        })
    }

    pub fn options(&self) -> &SsoOptions {
        &self.options
    }

    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// Cookies are `Secure` when browsers reach us over https.
    pub fn secure_cookies(&self) -> bool {
        self.options.public_url.scheme() == "https"
    }

    /// The person an API access token (a JWT for the API audience) names.
    pub async fn access_token(&self, token: &str) -> Result<(Claims, Option<Role>), SsoError> {
        let claims: Claims = self.provider.validate(token, &self.options.api_audience).await?;
        let role = self.role(&claims);
        Ok((claims, role))
    }

    /// The person an ID token from this sign-in (`nonce`) names.
    pub async fn id_token(&self, token: &str, nonce: &str) -> Result<(Claims, Option<Role>), SsoError> {
        let claims: Claims = self.provider.validate(token, &self.options.client_id).await?;
        let matches = claims
            .nonce
            .as_deref()
            .is_some_and(|n| subtle::ConstantTimeEq::ct_eq(n.as_bytes(), nonce.as_bytes()).into());
        if !matches {
            return Err(SsoError::Nonce);
        }
        let role = self.role(&claims);
        Ok((claims, role))
    }

    /// The highest role the groups claim maps to, if any.
    pub fn role(&self, claims: &Claims) -> Option<Role> {
        let groups: Vec<&str> = match claims.other.get(&self.options.roles_claim) {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        self.options
            .role_map
            .iter()
            .filter(|(group, _)| groups.contains(&group.as_str()))
            .map(|(_, role)| *role)
            .max()
    }
}

impl Claims {
    /// The person's name in the audit log: `oidc:<email>`, else `oidc:<sub>`.
    pub fn actor(&self) -> String {
        format!("oidc:{}", self.email.as_deref().unwrap_or(&self.sub))
    }

    pub fn caller(&self, role: Role) -> Caller {
        Caller {
            name: self.actor(),
            role,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sso(map: &[(&str, Role)]) -> Sso {
        Sso::new(SsoOptions {
            issuer: "https://id.example".into(),
            client_id: "crm".into(),
            client_secret: Secret::new("s".into()),
            public_url: Url::parse("https://crm.example/").unwrap(),
            provider_name: "Example".into(),
            scopes: "openid email".into(),
            roles_claim: "groups".into(),
            role_map: map.iter().map(|(g, r)| (g.to_string(), *r)).collect(),
            api_audience: "socialcrm".into(),
            idle: Duration::from_secs(60),
            lifetime: Duration::from_secs(600),
        })
        .unwrap()
    }

    fn claims(groups: Value) -> Claims {
        serde_json::from_value(serde_json::json!({ "sub": "u1", "groups": groups })).unwrap()
    }

    #[test]
    fn the_highest_mapped_group_wins_and_a_string_claim_counts() {
        let sso = sso(&[
            ("staff", Role::Viewer),
            ("admins", Role::Admin),
            ("support", Role::Agent),
        ]);
        assert_eq!(
            sso.role(&claims(serde_json::json!(["support", "staff"]))),
            Some(Role::Agent)
        );
        assert_eq!(sso.role(&claims(serde_json::json!(["admins", "x"]))), Some(Role::Admin));
        assert_eq!(sso.role(&claims(serde_json::json!("staff"))), Some(Role::Viewer));
        assert_eq!(sso.role(&claims(serde_json::json!(["marketing"]))), None);
        assert_eq!(sso.role(&claims(serde_json::json!(7))), None);
        assert_eq!(sso.redirect_uri(), "https://crm.example/auth/callback");
        assert!(sso.secure_cookies());
    }
}
