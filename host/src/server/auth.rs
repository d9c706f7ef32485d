//! Bearer-token auth as an extractor: a handler that takes `Auth<Agent>`
//! runs only for a valid token whose role is at least agent. A missing or
//! unknown token is 401, a role too low is 403.

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
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .ok_or_else(|| unauthorized("send `Authorization: Bearer TOKEN`"))?;
        let token = header
            .to_str()
            .ok()
            .and_then(|h| h.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| unauthorized("the Authorization header must be `Bearer TOKEN`"))?;
        let caller = tokens::verify(app.db(), token)
            .await
            .map_err(|e| match e {
                // The database being away is a 503 like on every other route.
                TokenError::Db(e) => ApiError::from(e),
                e => ApiError::internal("checking the token", e),
            })?
            .ok_or_else(|| unauthorized("unknown or revoked token"))?;
        if caller.role < R::ROLE {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "this needs the {} role; token `{}` is {}",
                    R::ROLE,
                    caller.name,
                    caller.role
                ),
            ));
        }
        Ok(Auth(caller, PhantomData))
    }
}
