//! X's OAuth 2.0 token endpoint (`POST /2/oauth2/token`,
//! <https://docs.x.com/resources/fundamentals/authentication/oauth-2-0/user-access-token>):
//! `grant_type=refresh_token` from a confidential client (HTTP Basic
//! client_id:client_secret) answers a new access token that expires and a new
//! refresh token; the one used is spent, and a spent or unknown one is
//! refused with 400 `invalid_request` as X answers it.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use serde_json::json;

use super::{Reply, TOKEN, base64};
use crate::tokens::AccessTokens;
use crate::util::parse_form;

pub const TOKEN_PATH: &str = "/2/oauth2/token";
pub const CLIENT_ID: &str = "fake-x-client";
pub const CLIENT_SECRET: &str = "fake-x-client-secret";
/// The refresh token the fake starts with.
pub const REFRESH_TOKEN: &str = "fake-x-refresh-0";

pub(super) struct Tokens {
    /// [`TOKEN`], and the access tokens issued.
    access: AccessTokens,
    /// Refresh tokens not yet spent.
    refresh: HashSet<String>,
}

impl Tokens {
    pub fn new() -> Self {
        Tokens {
            // X's user access tokens last two hours.
            access: AccessTokens::new(TOKEN, "fake-x-access-", Duration::from_secs(7200)),
            refresh: HashSet::from([REFRESH_TOKEN.to_string()]),
        }
    }

    pub fn accepts(&self, token: &str) -> bool {
        self.access.accepts(token)
    }

    /// Every access token issued so far stops working, [`TOKEN`] included.
    pub fn expire_all(&mut self) {
        self.access.expire_all();
    }

    pub fn set_lifetime(&mut self, lifetime: Duration) {
        self.access.set_lifetime(lifetime);
    }

    pub fn grant(&mut self, headers: &HeaderMap, body: &[u8]) -> Reply {
        let basic = format!("Basic {}", base64(format!("{CLIENT_ID}:{CLIENT_SECRET}").as_bytes()));
        if headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(basic.as_str()) {
            return Reply::with(
                StatusCode::UNAUTHORIZED,
                &json!({ "error": "unauthorized_client", "error_description": "Missing valid authorization header" }),
            );
        }
        let form: HashMap<String, String> = parse_form(&String::from_utf8_lossy(body)).into_iter().collect();
        if form.get("grant_type").map(String::as_str) != Some("refresh_token") {
            return Reply::with(
                StatusCode::BAD_REQUEST,
                &json!({ "error": "invalid_request", "error_description": "Missing required parameter [grant_type]." }),
            );
        }
        if !form.get("refresh_token").is_some_and(|t| self.refresh.remove(t)) {
            return Reply::with(
                StatusCode::BAD_REQUEST,
                &json!({ "error": "invalid_request", "error_description": "Value passed for the token was invalid." }),
            );
        }
        let (access, lifetime) = self.access.issue();
        // Rotated with the access token: `fake-x-refresh-N` beside `fake-x-access-N`.
        let refresh = access.replace("-access-", "-refresh-");
        self.refresh.insert(refresh.clone());
        Reply::ok(&json!({
            "token_type": "bearer",
            "expires_in": lifetime.as_secs(),
            "access_token": access,
            "scope": "tweet.read users.read tweet.write offline.access",
            "refresh_token": refresh,
        }))
    }
}
