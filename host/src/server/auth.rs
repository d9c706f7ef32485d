//! Auth as an extractor: a handler that takes `Auth<Agent>` runs only for a
//! caller whose role is at least agent: a bearer token (ours, or with single
//! sign-on the provider's JWT access token) or a single sign-on session
//! cookie (with its CSRF token on requests that change state). A missing or
//! unknown credential is 401, a role too low is 403.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use super::ApiError;
use crate::app::App;
use crate::tokens::{self, Caller, Role, TokenError};

/// The least role a route needs.
pub trait MinRole {
    const ROLE: Role;
}

/// Reads only.
pub enum Viewer {}
/// Works the inbox.
pub enum Agent {}
/// Manages plugins, channels, imports and tokens.
pub enum Admin {}

impl MinRole for Viewer {
    const ROLE: Role = Role::Viewer;
}
impl MinRole for Agent {
    const ROLE: Role = Role::Agent;
}
impl MinRole for Admin {
    const ROLE: Role = Role::Admin;
}

/// A caller whose token holds at least role `R`.
pub struct Auth<R>(Caller, PhantomData<R>);

impl<R> Auth<R> {
    /// The token's name: the actor in the audit log.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    pub fn caller(&self) -> &Caller {
        &self.0
    }
}

impl<R: MinRole> FromRequestParts<App> for Auth<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let unauthorized = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m);
        let Some(header) = parts.headers.get(AUTHORIZATION) else {
            // No token: a browser's single sign-on session, if any.
            return super::sso::session_caller(parts, app)
                .await?
                .ok_or_else(|| unauthorized("send `Authorization: Bearer TOKEN`"))
                .and_then(Auth::with_role);
        };
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized("the Authorization header must be `Bearer TOKEN`"))?;
        if let Some(caller) = super::sso::bearer(app, token).await? {
            return Auth::with_role(caller);
        }
        let caller = tokens::verify(app.db(), token)
            .await
            .map_err(|e| match e {
                // The database being away is a 503 like on every other route.
                TokenError::Db(e) => ApiError::from(e),
                e => ApiError::internal("checking the token", e),
            })?
            .ok_or_else(|| unauthorized("unknown or revoked token"))?;
        Auth::with_role(caller)
    }
}

impl<R: MinRole> Auth<R> {
    /// The caller, if their role is at least `R`.
    fn with_role(caller: Caller) -> Result<Auth<R>, ApiError> {
        if caller.role < R::ROLE {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("this needs the {} role; `{}` is {}", R::ROLE, caller.name, caller.role),
            ));
        }
        Ok(Auth(caller, PhantomData))
    }
}
