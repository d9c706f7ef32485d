//! Refreshed credentials: when each refreshable token expires
//! (`credential_expiry`), and the account's sealed secrets swapped for the
//! refreshed ones only if nobody changed them meanwhile.

use sqlx::{AnyConnection, Row};

use super::{Db, now_ms};

/// When secret `secret` of account `channel_id` expires and when it was
/// stored (Unix ms); `None` when its expiry is unknown.
pub async fn expiry(db: &Db, channel_id: i64, secret: &str) -> Result<Option<(i64, i64)>, sqlx::Error> {
    let row =
        sqlx::query("SELECT expires_at, refreshed_at FROM credential_expiry WHERE channel_id = $1 AND secret = $2")
            .bind(channel_id)
            .bind(secret)
            .fetch_optional(db.pool())
            .await?;
    let Some(row) = row else { return Ok(None) };
    let expires_at: Option<i64> = row.try_get("expires_at")?;
    let stored_at: i64 = row.try_get("refreshed_at")?;
    Ok(expires_at.map(|at| (at, stored_at)))
}

/// The sealed secrets of account `channel_id` as stored now.
pub async fn sealed(db: &Db, channel_id: i64) -> Result<Option<String>, sqlx::Error> {
    sqlx::query("SELECT secrets FROM channel_accounts WHERE id = $1")
        .bind(channel_id)
        .fetch_optional(db.pool())
        .await?
        .map(|row| row.try_get("secrets"))
        .transpose()
}

/// Replaces the sealed secrets `old` of account `channel_id` with `new` and
/// records when `secret` expires, in one transaction. False, and nothing
/// written, when the stored secrets are no longer `old` (another node
/// refreshed first, or an admin re-authorized the account).
pub async fn store_refreshed(
    db: &Db,
    channel_id: i64,
    old: &str,
    new: &str,
    secret: &str,
    expires_at: Option<i64>,
) -> Result<bool, sqlx::Error> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    let swapped = sqlx::query("UPDATE channel_accounts SET secrets = $1 WHERE id = $2 AND secrets = $3")
        .bind(new)
        .bind(channel_id)
        .bind(old)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if swapped == 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO credential_expiry (channel_id, secret, expires_at, refreshed_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (channel_id, secret) DO UPDATE SET expires_at = excluded.expires_at, refreshed_at = excluded.refreshed_at",
    )
    .bind(channel_id)
    .bind(secret)
    .bind(expires_at)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Records that secret `secret` of account `channel_id`, entered by hand at
/// `entered_at`, is to be treated as expiring at `expires_at`.
pub async fn entered(
    conn: &mut AnyConnection,
    channel_id: i64,
    secret: &str,
    entered_at: i64,
    expires_at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO credential_expiry (channel_id, secret, expires_at, refreshed_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (channel_id, secret) DO NOTHING",
    )
    .bind(channel_id)
    .bind(secret)
    .bind(expires_at)
    .bind(entered_at)
    .execute(conn)
    .await?;
    Ok(())
}
