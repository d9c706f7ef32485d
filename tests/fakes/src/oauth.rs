//! An OAuth 2.0 token endpoint answering `grant_type=refresh_token`
//! (RFC 6749 §6), shared by the fakes whose networks renew user tokens (X,
//! Google for YouTube). Each network's [`Issuer`] says how its server
//! differs: client authentication, whether the refresh token rotates, and
//! the error it answers for a spent or unknown refresh token.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

use crate::tokens::AccessTokens;
use crate::util::parse_form;

/// How one network's token endpoint behaves.
pub struct Issuer {
    pub client_id: &'static str,
    pub client_secret: &'static str,
    /// The access tokens it issues are `{access_prefix}N` (`fake-x-access-`),
    /// rotated refresh tokens the same with `-refresh-` for `-access-`.
    pub access_prefix: &'static str,
    /// The access token valid from the start (until [`Tokens::expire_all`]).
    pub static_token: &'static str,
    /// The refresh token it starts with.
    pub refresh_token: &'static str,
    pub lifetime: Duration,
    /// Whether each grant spends the refresh token used and issues a new one.
    pub rotates: bool,
    /// Whether the client may authenticate with `client_id` and
    /// `client_secret` in the form instead of HTTP Basic.
    pub form_client: bool,
    pub scope: &'static str,
    /// `error` and `error_description` for a missing, spent or unknown refresh token.
    pub refused: (&'static str, &'static str),
    /// The same for a client that does not authenticate.
    pub bad_client: (&'static str, &'static str),
}

pub struct Tokens {
    issuer: Issuer,
    /// The static token, and the access tokens issued.
    access: AccessTokens,
    /// Refresh tokens that still work.
    refresh: HashSet<String>,
}

impl Tokens {
    pub fn new(issuer: Issuer) -> Self {
        Tokens {
            refresh: HashSet::from([issuer.refresh_token.to_string()]),
            access: AccessTokens::new(issuer.static_token, issuer.access_prefix, issuer.lifetime),
            issuer,
        }
    }

    pub fn accepts(&self, token: &str) -> bool {
        self.access.accepts(token)
    }

    /// Every access token issued so far stops working, the static one included.
    pub fn expire_all(&mut self) {
        self.access.expire_all();
    }

    /// Every refresh token stops working (the user revoked the app).
    pub fn revoke_refresh(&mut self) {
        self.refresh.clear();
    }

    pub fn set_lifetime(&mut self, lifetime: Duration) {
        self.access.set_lifetime(lifetime);
    }

    /// The answer to a token request with `headers` and the form `body`.
    pub fn grant(&mut self, headers: &HeaderMap, body: &[u8]) -> (StatusCode, Value) {
        let error = |status, (error, description): (&str, &str)| {
            (status, json!({ "error": error, "error_description": description }))
        };
        let form: HashMap<String, String> = parse_form(&String::from_utf8_lossy(body)).into_iter().collect();
        let basic = format!(
            "Basic {}",
            crate::x::base64(format!("{}:{}", self.issuer.client_id, self.issuer.client_secret).as_bytes())
        );
        let by_header = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) == Some(basic.as_str());
        let by_form = self.issuer.form_client
            && form.get("client_id").map(String::as_str) == Some(self.issuer.client_id)
            && form.get("client_secret").map(String::as_str) == Some(self.issuer.client_secret);
        if !by_header && !by_form {
            return error(StatusCode::UNAUTHORIZED, self.issuer.bad_client);
        }
        if form.get("grant_type").map(String::as_str) != Some("refresh_token") {
            return error(
                StatusCode::BAD_REQUEST,
                ("unsupported_grant_type", "Invalid grant_type: "),
            );
        }
        let used = form.get("refresh_token").filter(|t| self.refresh.contains(*t)).cloned();
        let Some(used) = used else {
            return error(StatusCode::BAD_REQUEST, self.issuer.refused);
        };
        let (access, lifetime) = self.access.issue();
        let mut answer = json!({
            "expires_in": lifetime.as_secs(),
            "scope": self.issuer.scope,
            "token_type": "bearer",
        });
        if self.issuer.rotates {
            self.refresh.remove(&used);
            let refresh = access.replace("-access-", "-refresh-");
            self.refresh.insert(refresh.clone());
            answer["refresh_token"] = json!(refresh);
        }
        answer["access_token"] = json!(access);
        (StatusCode::OK, answer)
    }
}
