//! Leases: at most one node polls an account at a time. A lease is a row
//! update (owner, expiry) on the account; PostgreSQL picks due accounts with
//! `FOR UPDATE SKIP LOCKED` so nodes never wait on each other, SQLite has one
//! writer at a time so the same statement is atomic there. A node that dies
//! stops renewing; once the lease expires another node resumes the account
//! from its committed state, and commits check the owner (see `commit_page`).

use std::time::Duration;

use sqlx::{AssertSqlSafe, Row};

use super::schedule::Next;
use crate::store::{Backend, Db, now_ms};

/// Statuses the scheduler polls (a paused or disabled account waits for an admin).
pub const SCHEDULED: &str = "('active', 'failing', 'rate-limited')";

/// An account this node may poll until `until`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub channel_id: i64,
    pub name: String,
    pub owner: String,
    pub until: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("no channel named `{0}` (see `socialcrm channel list`)")]
    Unknown(String),
    #[error("channel `{name}` is being synced by {owner}; try again in {seconds} s")]
    Held { name: String, owner: String, seconds: i64 },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

fn until(ttl: Duration) -> i64 {
    now_ms().saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
}

/// Leases the most overdue account that nobody holds, if any is due.
pub async fn acquire_due(db: &Db, owner: &str, ttl: Duration) -> Result<Option<Lease>, sqlx::Error> {
    let skip_locked = if db.backend() == Backend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let now = now_ms();
    let row = sqlx::query(AssertSqlSafe(format!(
        "UPDATE channel_accounts SET lease_owner = $1, lease_until = $2 WHERE id = (\
         SELECT id FROM channel_accounts WHERE status IN {SCHEDULED} AND next_poll_at <= $3 AND lease_until < $3 \
         ORDER BY next_poll_at LIMIT 1{skip_locked}) AND lease_until < $3 RETURNING id, name, lease_until"
    )))
    .bind(owner)
    .bind(until(ttl))
    .bind(now)
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| lease(owner, &r)).transpose()
}

/// Leases the account `name` now, whatever its schedule (a sync an admin asked for).
pub async fn acquire(db: &Db, name: &str, owner: &str, ttl: Duration) -> Result<Lease, LeaseError> {
    let row = sqlx::query(
        "UPDATE channel_accounts SET lease_owner = $1, lease_until = $2 \
         WHERE name = $3 AND (lease_until < $4 OR lease_owner = $1) RETURNING id, name, lease_until",
    )
    .bind(owner)
    .bind(until(ttl))
    .bind(name)
    .bind(now_ms())
    .fetch_optional(db.pool())
    .await?;
    if let Some(row) = row {
        return Ok(lease(owner, &row)?);
    }
    let held = sqlx::query("SELECT lease_owner, lease_until FROM channel_accounts WHERE name = $1")
        .bind(name)
        .fetch_optional(db.pool())
        .await?
        .ok_or_else(|| LeaseError::Unknown(name.to_string()))?;
    let until: i64 = held.try_get("lease_until")?;
    Err(LeaseError::Held {
        name: name.to_string(),
        owner: held.try_get::<Option<String>, _>("lease_owner")?.unwrap_or_default(),
        seconds: (until - now_ms()).max(0) / 1000 + 1,
    })
}

fn lease(owner: &str, row: &sqlx::any::AnyRow) -> Result<Lease, sqlx::Error> {
    Ok(Lease {
        channel_id: row.try_get("id")?,
        name: row.try_get("name")?,
        owner: owner.to_string(),
        until: row.try_get("lease_until")?,
    })
}

/// Extends the lease; `false` when it was lost (expired and taken by another node).
pub async fn renew(db: &Db, lease: &mut Lease, ttl: Duration) -> Result<bool, sqlx::Error> {
    let until = until(ttl);
    let renewed = sqlx::query("UPDATE channel_accounts SET lease_until = $1 WHERE id = $2 AND lease_owner = $3")
        .bind(until)
        .bind(lease.channel_id)
        .bind(&lease.owner)
        .execute(db.pool())
        .await?
        .rows_affected()
        == 1;
    if renewed {
        lease.until = until;
    }
    Ok(renewed)
}

/// Frees the lease and records how the sync ended, if the lease is still ours.
pub async fn release(db: &Db, lease: &Lease, next: &Next) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE channel_accounts SET lease_owner = NULL, lease_until = 0, status = $1, next_poll_at = $2, \
         failures = $3, last_error = $4, updated_at = $5 WHERE id = $6 AND lease_owner = $7",
    )
    .bind(next.status)
    .bind(next.next_poll_at)
    .bind(next.failures)
    .bind(&next.last_error)
    .bind(now_ms())
    .bind(lease.channel_id)
    .bind(&lease.owner)
    .execute(db.pool())
    .await?;
    Ok(())
}
