//! X's OAuth 2.0 token endpoint (`POST /2/oauth2/token`,
//! <https://docs.x.com/resources/fundamentals/authentication/oauth-2-0/user-access-token>):
//! `grant_type=refresh_token` from a confidential client (HTTP Basic
//! client_id:client_secret) answers a new access token that expires and a new
//! refresh token; the one used is spent, and a spent or unknown one is
//! refused with 400 `invalid_request` as X answers it.

use std::time::Duration;

use super::TOKEN;
use crate::oauth::{Issuer, Tokens};

pub const TOKEN_PATH: &str = "/2/oauth2/token";
pub const CLIENT_ID: &str = "fake-x-client";
pub const CLIENT_SECRET: &str = "fake-x-client-secret";
/// The refresh token the fake starts with.
pub const REFRESH_TOKEN: &str = "fake-x-refresh-0";

pub(super) fn tokens() -> Tokens {
    Tokens::new(Issuer {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        access_prefix: "fake-x-access-",
        static_token: TOKEN,
        refresh_token: REFRESH_TOKEN,
        // X's user access tokens last two hours.
        lifetime: Duration::from_secs(7200),
        rotates: true,
        form_client: false,
        scope: "tweet.read users.read tweet.write offline.access",
        refused: ("invalid_request", "Value passed for the token was invalid."),
        bad_client: ("unauthorized_client", "Missing valid authorization header"),
    })
}
