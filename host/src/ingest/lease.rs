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

use super::schedule::Next;
pub use crate::store::accounts::AccountKind;
pub use crate::store::leases::Lease;
use crate::store::leases::{self as stored, SyncEnd};
use crate::store::{Db, ms_after, now_ms};

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("no {} named `{name}` (see `socialcrm {} list`)", .kind.name(), .kind.name())]
    Unknown { name: String, kind: AccountKind },
    #[error("`{name}` is being synced by {owner}; try again in {seconds} s")]
    Held { name: String, owner: String, seconds: i64 },
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// Leases the most overdue account that nobody holds, if any is due.
pub async fn acquire_due(db: &Db, owner: &str, ttl: Duration) -> Result<Option<Lease>, sqlx::Error> {
    let now = now_ms();
    stored::acquire_due(db, owner, ms_after(ttl), now).await
}

/// Leases the account `name` of `kind` now, whatever its schedule (a sync
/// an admin asked for); a channel's command never syncs a source, nor the
/// other way round.
pub async fn acquire(db: &Db, name: &str, kind: AccountKind, owner: &str, ttl: Duration) -> Result<Lease, LeaseError> {
    if let Some(lease) = stored::acquire(db, name, kind, owner, ms_after(ttl), now_ms()).await? {
        return Ok(lease);
    }
    let (holder, until) = stored::holder(db, name, kind)
        .await?
        .ok_or_else(|| LeaseError::Unknown {
            name: name.to_string(),
            kind,
        })?;
    Err(LeaseError::Held {
        name: name.to_string(),
        owner: holder.unwrap_or_default(),
        seconds: (until - now_ms()).max(0) / 1000 + 1,
    })
}

/// Extends the lease; `false` when it was lost (expired and taken by another node).
pub async fn renew(db: &Db, lease: &Lease, ttl: Duration) -> Result<bool, sqlx::Error> {
    stored::renew(db, lease, ms_after(ttl)).await
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
    let end = SyncEnd {
        status: next.status,
        next_poll_at: next.next_poll_at,
        failures: next.failures,
        last_error: next.last_error.as_deref(),
        updated_at: now_ms(),
    };
    stored::release(db, lease, &end).await
}
