//! The lease columns of `channel_accounts` (channels' and sources') (owner, expiry) and what a sync
//! records when it frees one (status, next poll, failures).

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::accounts::AccountKind;
use super::{Backend, Db};

/// Statuses the scheduler polls (a paused or disabled account waits for an admin).
const SCHEDULED: &str = "('active', 'failing', 'rate-limited')";

/// An account this node may poll until `until`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub channel_id: i64,
    pub name: String,
    pub owner: String,
    /// A channel's or a source's account: which runner syncs it.
    pub kind: AccountKind,
}

fn lease(owner: &str, row: &AnyRow) -> Result<Lease, sqlx::Error> {
    Ok(Lease {
        channel_id: row.try_get("id")?,
        name: row.try_get("name")?,
        owner: owner.to_string(),
        kind: AccountKind::parse(&row.try_get::<String, _>("kind")?),
    })
}

/// Leases the most overdue account due at `now` that nobody holds, if any.
/// PostgreSQL skips the rows other nodes are locking, so nodes never wait
/// on each other; SQLite has one writer at a time, so the same statement is
/// atomic there.
pub async fn acquire_due(db: &Db, owner: &str, until: i64, now: i64) -> Result<Option<Lease>, sqlx::Error> {
    let skip_locked = if db.backend() == Backend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let row = sqlx::query(AssertSqlSafe(format!(
        "UPDATE channel_accounts SET lease_owner = $1, lease_until = $2 WHERE id = (\
         SELECT id FROM channel_accounts WHERE status IN {SCHEDULED} AND next_poll_at <= $3 AND lease_until < $3 \
         ORDER BY next_poll_at LIMIT 1{skip_locked}) AND lease_until < $3 RETURNING id, name, kind"
    )))
    .bind(owner)
    .bind(until)
    .bind(now)
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| lease(owner, &r)).transpose()
}

/// Leases the account `name` of `kind` if it is free at `now` (or `owner`'s already).
pub async fn acquire(
    db: &Db,
    name: &str,
    kind: AccountKind,
    owner: &str,
    until: i64,
    now: i64,
) -> Result<Option<Lease>, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE channel_accounts SET lease_owner = $1, lease_until = $2 \
         WHERE name = $3 AND kind = $5 AND (lease_until < $4 OR lease_owner = $1) RETURNING id, name, kind",
    )
    .bind(owner)
    .bind(until)
    .bind(name)
    .bind(now)
    .bind(kind.name())
    .fetch_optional(db.pool())
    .await?;
    row.map(|r| lease(owner, &r)).transpose()
}

/// Who holds the lease on the account `name` of `kind` and until when, if
/// the account exists.
pub async fn holder(db: &Db, name: &str, kind: AccountKind) -> Result<Option<(Option<String>, i64)>, sqlx::Error> {
    let row = sqlx::query("SELECT lease_owner, lease_until FROM channel_accounts WHERE name = $1 AND kind = $2")
        .bind(name)
        .bind(kind.name())
        .fetch_optional(db.pool())
        .await?;
    row.map(|r| Ok((r.try_get("lease_owner")?, r.try_get("lease_until")?)))
        .transpose()
}

/// Extends the lease to `until`; `false` when it is not ours any more.
pub async fn renew(db: &Db, lease: &Lease, until: i64) -> Result<bool, sqlx::Error> {
    Ok(
        sqlx::query("UPDATE channel_accounts SET lease_until = $1 WHERE id = $2 AND lease_owner = $3")
            .bind(until)
            .bind(lease.channel_id)
            .bind(&lease.owner)
            .execute(db.pool())
            .await?
            .rows_affected()
            == 1,
    )
}

/// How a sync ended, recorded when its lease is freed.
#[derive(Clone, Copy, Debug)]
pub struct SyncEnd<'a> {
    pub status: &'a str,
    pub next_poll_at: i64,
    pub failures: i64,
    pub last_error: Option<&'a str>,
    pub updated_at: i64,
}

/// Frees the lease and records `end`, if the lease is still ours.
pub async fn release(db: &Db, lease: &Lease, end: &SyncEnd<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE channel_accounts SET lease_owner = NULL, lease_until = 0, status = $1, next_poll_at = $2, \
         failures = $3, last_error = $4, updated_at = $5 WHERE id = $6 AND lease_owner = $7",
    )
    .bind(end.status)
    .bind(end.next_poll_at)
    .bind(end.failures)
    .bind(end.last_error)
    .bind(end.updated_at)
    .bind(lease.channel_id)
    .bind(&lease.owner)
    .execute(db.pool())
    .await?;
    Ok(())
}
