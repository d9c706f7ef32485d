//! Leases: at most one node polls an account at a time. A lease is a row
//! update (owner, expiry) on the account; PostgreSQL picks due accounts with
//! `FOR UPDATE SKIP LOCKED` so nodes never wait on each other, SQLite has one
//! writer at a time so the same statement is atomic there. A node that dies
//! stops renewing; once the lease expires another node resumes the account
//! from its committed state, and commits check the owner (see `commit_page`).
//! A live node renews in the background ([`KeepAlive`]), so a slow plugin
//! call or a first compile never lets its lease lapse mid-sync.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
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
         ORDER BY next_poll_at LIMIT 1{skip_locked}) AND lease_until < $3 RETURNING id, name"
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
         WHERE name = $3 AND (lease_until < $4 OR lease_owner = $1) RETURNING id, name",
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
    })
}

/// Extends the lease; `false` when it was lost (expired and taken by another node).
pub async fn renew(db: &Db, lease: &Lease, ttl: Duration) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("UPDATE channel_accounts SET lease_until = $1 WHERE id = $2 AND lease_owner = $3")
            .bind(until(ttl))
            .bind(lease.channel_id)
            .bind(&lease.owner)
            .execute(db.pool())
            .await?
            .rows_affected()
            == 1,
    )
}

/// Renews a lease every third of its TTL until dropped. A renewal that finds
/// the lease taken marks it lost; a database error is retried at the next tick
/// (the lease still has two thirds of its TTL left).
pub struct KeepAlive {
    lost: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl KeepAlive {
    pub fn start(db: Db, lease: &Lease, ttl: Duration) -> Self {
        let lost = Arc::new(AtomicBool::new(false));
        let (flag, lease) = (lost.clone(), lease.clone());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(ttl / 3);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match renew(&db, &lease, ttl).await {
                    Ok(true) => {}
                    Ok(false) => {
                        flag.store(true, Ordering::Release);
                        return;
                    }
                    Err(e) => tracing::warn!(channel = %lease.name, error = %e, "lease renewal failed; retrying"),
                }
            }
        });
        Self { lost, task }
    }

    /// Whether another node took the lease: stop before the next page.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::Acquire)
    }

    /// The flag [`KeepAlive::lost`] reads, for a thread that polls.
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.lost.clone()
    }
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.task.abort();
    }
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
