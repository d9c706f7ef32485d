//! Access tokens a fake issues and checks: a static token to start with,
//! tokens issued later that expire, and `Authorization: Bearer` read from a
//! request. Shared by the fakes whose networks hand out expiring tokens (X's
//! OAuth 2.0 refresh, Threads' long-lived token refresh).

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, header};

pub struct AccessTokens {
    /// The token a test account starts with.
    initial: &'static str,
    /// Whether `initial` no longer works (revoked, or expired).
    initial_revoked: bool,
    /// Issued tokens and when each expires.
    issued: HashMap<String, SystemTime>,
    count: u32,
    /// How long tokens issued from now on last.
    lifetime: Duration,
    /// Issued tokens are `{prefix}{n}`.
    prefix: &'static str,
}

impl AccessTokens {
    pub fn new(initial: &'static str, prefix: &'static str, lifetime: Duration) -> Self {
        AccessTokens {
            initial,
            initial_revoked: false,
            issued: HashMap::new(),
            count: 0,
            lifetime,
            prefix,
        }
    }

    pub fn accepts(&self, token: &str) -> bool {
        (token == self.initial && !self.initial_revoked)
            || self.issued.get(token).is_some_and(|at| SystemTime::now() < *at)
    }

    /// Every token issued so far stops working, the initial one included.
    pub fn expire_all(&mut self) {
        self.initial_revoked = true;
        self.issued.clear();
    }

    pub fn set_lifetime(&mut self, lifetime: Duration) {
        self.lifetime = lifetime;
    }

    /// A new token, and its lifetime.
    pub fn issue(&mut self) -> (String, Duration) {
        self.count += 1;
        let token = format!("{}{}", self.prefix, self.count);
        self.issued.insert(token.clone(), SystemTime::now() + self.lifetime);
        (token, self.lifetime)
    }
}

/// The token of `Authorization: Bearer TOKEN`.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
}
