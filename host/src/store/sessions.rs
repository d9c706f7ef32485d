//! Web UI sessions (`sessions`): stored by the hash of their id only.

use sqlx::Row;

use super::Db;

/// A live session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    pub actor: String,
    pub role: String,
    pub last_seen_at: i64,
}

/// Stores a new session.
pub async fn insert(
    db: &Db,
    hash: &str,
    actor: &str,
    role: &str,
    now: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (hash, actor, role, created_at, last_seen_at, expires_at) \
         VALUES ($1, $2, $3, $4, $4, $5)",
    )
    .bind(hash)
    .bind(actor)
    .bind(role)
    .bind(now)
    .bind(expires_at)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// The session with `hash` if it is neither past its expiry nor idle since
/// `idle_since`.
pub async fn live(db: &Db, hash: &str, now: i64, idle_since: i64) -> Result<Option<SessionRow>, sqlx::Error> {
    let row = sqlx::query(
        "SELECT actor, role, last_seen_at FROM sessions \
         WHERE hash = $1 AND expires_at > $2 AND last_seen_at > $3",
    )
    .bind(hash)
    .bind(now)
    .bind(idle_since)
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| {
        Ok(SessionRow {
            actor: r.try_get("actor")?,
            role: r.try_get("role")?,
            last_seen_at: r.try_get("last_seen_at")?,
        })
    })
    .transpose()
}

/// Records activity on a session.
pub async fn touch(db: &Db, hash: &str, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE hash = $2")
        .bind(now)
        .bind(hash)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Deletes a session; the actor it belonged to, if it existed.
pub async fn delete(db: &Db, hash: &str) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar("DELETE FROM sessions WHERE hash = $1 RETURNING actor")
        .bind(hash)
        .fetch_optional(db.pool())
        .await
}

/// Deletes sessions past their expiry or idle since `idle_since`.
pub async fn sweep(db: &Db, now: i64, idle_since: i64) -> Result<u64, sqlx::Error> {
    Ok(
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
            .bind(now)
            .bind(idle_since)
            .execute(db.pool())
            .await?
            .rows_affected(),
    )
}
