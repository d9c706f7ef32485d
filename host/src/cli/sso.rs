//! `socialcrm serve`'s single sign-on options. The client secret is read from
//! the environment only (a command line is visible to every local user).

use std::time::Duration;

use anyhow::Context;
use url::Url;

use crate::sso::{Secret, SsoOptions};
use crate::tokens::Role;

/// The variable that holds the OpenID client's secret.
const CLIENT_SECRET_ENV: &str = "SOCIALCRM_OIDC_CLIENT_SECRET";

#[derive(clap::Args)]
pub struct SsoArgs {
    /// Single sign-on: the OpenID provider's issuer URL (its discovery
    /// document is `<issuer>/.well-known/openid-configuration`). The client
    /// secret comes from SOCIALCRM_OIDC_CLIENT_SECRET.
    #[arg(long, env = "SOCIALCRM_OIDC_ISSUER", requires_all = ["oidc_client_id", "public_url"])]
    oidc_issuer: Option<String>,
    /// The client id registered at the provider (the ID token's audience).
    #[arg(long, env = "SOCIALCRM_OIDC_CLIENT_ID")]
    oidc_client_id: Option<String>,
    /// Where browsers reach this server, e.g. https://crm.example.com; the
    /// redirect URL to register is `<public-url>/auth/callback`. Cookies are
    /// `Secure` when it is https. The status links of deletion requests a
    /// network forwards start with it (without it, with the address the
    /// network called).
    #[arg(long, env = "SOCIALCRM_PUBLIC_URL")]
    public_url: Option<Url>,
    /// The sign-in button says "Sign in with <name>".
    #[arg(long, env = "SOCIALCRM_OIDC_PROVIDER_NAME", default_value = "single sign-on")]
    oidc_provider_name: String,
    /// Scopes asked for at sign-in.
    #[arg(long, env = "SOCIALCRM_OIDC_SCOPES", default_value = "openid email profile")]
    oidc_scopes: String,
    /// The token claim that lists the person's groups (a list or a string).
    #[arg(long, env = "SOCIALCRM_OIDC_ROLES_CLAIM", default_value = "groups")]
    oidc_roles_claim: String,
    /// GROUP=ROLE (viewer, agent or admin), repeated or comma-separated; the
    /// highest role wins, and a person in no mapped group is refused.
    #[arg(long = "oidc-role", env = "SOCIALCRM_OIDC_ROLES", value_delimiter = ',', value_parser = group_role)]
    oidc_roles: Vec<(String, Role)>,
    /// The audience the provider's API access tokens (JWT) must name.
    #[arg(long, env = "SOCIALCRM_OIDC_API_AUDIENCE", default_value = "socialcrm")]
    oidc_api_audience: String,
    /// Minutes without a request after which a session ends.
    #[arg(long, default_value_t = 60)]
    session_idle_minutes: u64,
    /// Hours after sign-in at which a session ends whatever happens.
    #[arg(long, default_value_t = 12)]
    session_hours: u64,
}

fn group_role(text: &str) -> Result<(String, Role), String> {
    let (group, role) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("`{text}`: write GROUP=ROLE"))?;
    let role = role.trim().parse::<Role>().map_err(|e| e.to_string())?;
    Ok((group.trim().to_string(), role))
}

impl SsoArgs {
    /// Where browsers reach this server, when given.
    pub fn public_url(&self) -> Option<Url> {
        self.public_url.clone()
    }

    /// The options, when an issuer is given.
    pub fn options(self) -> anyhow::Result<Option<SsoOptions>> {
        let (Some(issuer), Some(client_id), Some(public_url)) =
            (self.oidc_issuer, self.oidc_client_id, self.public_url)
        else {
            return Ok(None);
        };
        let client_secret = std::env::var(CLIENT_SECRET_ENV)
            .with_context(|| format!("single sign-on needs the client secret in {CLIENT_SECRET_ENV}"))?;
        Ok(Some(SsoOptions {
            issuer,
            client_id,
            client_secret: Secret::new(client_secret),
            public_url,
            provider_name: self.oidc_provider_name,
            scopes: self.oidc_scopes,
            roles_claim: self.oidc_roles_claim,
            role_map: self.oidc_roles,
            api_audience: self.oidc_api_audience,
            idle: Duration::from_secs(self.session_idle_minutes.max(1) * 60),
            lifetime: Duration::from_secs(self.session_hours.max(1) * 3600),
        }))
    }
}
