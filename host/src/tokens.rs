//! API bearer tokens with a role. Only a SHA-256 of each token is stored: a
//! token is 32 random bytes, so a slow password hash would add nothing.

use std::fmt;
use std::str::FromStr;

use crate::store::{Db, audit, now_ms, tokens as store};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::OsRng;
use chacha20poly1305::aead::rand_core::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Tokens start with this, so a leaked one is recognisable by secret scanners.
pub const PREFIX: &str = "scrm_";
/// The token printed at first start.
pub const FIRST_ADMIN: &str = "admin";
/// `last_used_at` is written at most this often per token (ms), not on every request.
const TOUCH_EVERY_MS: i64 = 60_000;

/// What a token may do; each role includes the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything, changes nothing.
    Viewer,
    /// Also works the inbox: assign, close, reply, respond, review identity links.
    Agent,
    /// Also manages plugins, channels, imports and tokens.
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = TokenError;
    fn from_str(s: &str) -> Result<Role, TokenError> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "agent" => Ok(Role::Agent),
            "admin" => Ok(Role::Admin),
            other => Err(TokenError::Role(other.to_string())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("unknown role `{0}`: use viewer, agent or admin")]
    Role(String),
    #[error("a token name is 1 to 64 letters, digits, `-`, `_` or `.`: `{0}`")]
    Name(String),
    #[error("a token named `{0}` exists already")]
    Exists(String),
    #[error("no token named `{0}`")]
    NotFound(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// A token as listed (never its secret).
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    pub name: String,
    pub role: Role,
    pub created_by: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

/// Who is calling: the token's name (the audit log's actor) and role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Caller {
    pub name: String,
    pub role: Role,
}

/// What is stored of a token: its SHA-256, hex.
pub(crate) fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// 32 random bytes, base64url.
pub(crate) fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// Creates token `name` with `role` and returns its secret, shown this once.
pub async fn create(db: &Db, name: &str, role: Role, actor: &str) -> Result<String, TokenError> {
    if !valid_name(name) {
        return Err(TokenError::Name(name.to_string()));
    }
    let token = format!("{PREFIX}{}", random_secret());
    let mut tx = db.begin().await?;
    if !store::insert(&mut tx, name, role.as_str(), &hash(&token), actor, now_ms()).await? {
        return Err(TokenError::Exists(name.to_string()));
    }
    audit(
        &mut *tx,
        actor,
        "token.create",
        name,
        &serde_json::json!({ "role": role }),
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}

/// At first start (no token at all), creates the admin token and returns its
/// secret; `None` when tokens exist. Safe when several nodes start at once:
/// only the one whose insert wins gets the secret.
pub async fn first_admin(db: &Db) -> Result<Option<String>, TokenError> {
    if store::any(db).await? {
        return Ok(None);
    }
    match create(db, FIRST_ADMIN, Role::Admin, "first-start").await {
        Ok(token) => Ok(Some(token)),
        Err(TokenError::Exists(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deletes token `name`.
pub async fn revoke(db: &Db, name: &str, actor: &str) -> Result<(), TokenError> {
    let mut tx = db.begin().await?;
    if !store::delete(&mut tx, name).await? {
        return Err(TokenError::NotFound(name.to_string()));
    }
    audit(&mut *tx, actor, "token.revoke", name, &serde_json::Value::Null).await?;
    tx.commit().await?;
    Ok(())
}

/// Every token, by name.
pub async fn list(db: &Db) -> Result<Vec<TokenInfo>, TokenError> {
    store::list(db)
        .await?
        .into_iter()
        .map(|t| {
            Ok(TokenInfo {
                name: t.name,
                role: t.role.parse()?,
                created_by: t.created_by,
                created_at: t.created_at,
                last_used_at: t.last_used_at,
            })
        })
        .collect()
}

/// The caller holding `token`, or `None` for an unknown token.
pub async fn verify(db: &Db, token: &str) -> Result<Option<Caller>, TokenError> {
    let Some(held) = store::by_hash(db, &hash(token)).await? else {
        return Ok(None);
    };
    let now = now_ms();
    if held.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY_MS) {
        store::touch(db, held.id, now).await?;
    }
    Ok(Some(Caller {
        name: held.name,
        role: held.role.parse()?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_round_trip() {
        assert!(Role::Viewer < Role::Agent && Role::Agent < Role::Admin);
        for role in [Role::Viewer, Role::Agent, Role::Admin] {
            assert_eq!(role.as_str().parse::<Role>().ok(), Some(role));
        }
        assert!(matches!("root".parse::<Role>(), Err(TokenError::Role(_))));
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("ci-bot.2"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
        assert!(!valid_name(&"x".repeat(65)));
    }
}
