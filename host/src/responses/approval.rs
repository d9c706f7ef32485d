//! Approval: a channel may require that a second person approves every
//! response before it is sent. The one who drafted a response can withdraw it
//! (reject) but never approve it; approving sends it.

use serde_json::json;
use sqlx::Row;

use super::{Response, ResponseError, channel, get, send};
use crate::ingest::Ingest;
use crate::store::{Db, audit, now_ms};

/// Turns approval for responses on channel `name` on or off; responses
/// already created keep their status.
pub async fn set_approval(db: &Db, name: &str, required: bool, actor: &str) -> Result<(), ResponseError> {
    let mut tx = db.begin().await?;
    let updated = sqlx::query("UPDATE channel_accounts SET requires_approval = $1, updated_at = $2 WHERE name = $3")
        .bind(i64::from(required))
        .bind(now_ms())
        .bind(name)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if updated == 0 {
        return Err(ResponseError::NoChannel(name.to_string()));
    }
    audit(
        &mut *tx,
        actor,
        "channel.approval",
        name,
        &json!({"required": required}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn approval_required(db: &Db, name: &str) -> Result<bool, ResponseError> {
    Ok(channel(db, name).await?.1)
}

/// Approves pending response `id` as `actor` (not its author), then sends it.
pub async fn approve(ingest: &Ingest, id: i64, actor: &str) -> Result<Response, ResponseError> {
    let db = ingest.db();
    decide(db, id, actor, true, None).await?;
    send(ingest, id, actor).await
}

/// Rejects pending response `id`: it is never sent.
pub async fn reject(db: &Db, id: i64, actor: &str, reason: Option<&str>) -> Result<Response, ResponseError> {
    decide(db, id, actor, false, reason).await?;
    get(db, id).await
}

async fn decide(db: &Db, id: i64, actor: &str, approve: bool, reason: Option<&str>) -> Result<(), ResponseError> {
    let (status, by, action) = if approve {
        ("approved", "approved_by", "response.approve")
    } else {
        ("rejected", "rejected_by", "response.reject")
    };
    let mut tx = db.begin().await?;
    // One conditional update, so two approvers racing decide once.
    let decided = sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE responses SET status = $1, {by} = $2, reason = $3, decided_at = $4, updated_at = $4 \
         WHERE id = $5 AND status = 'pending-approval' AND ($1 = 'rejected' OR created_by <> $2)"
    )))
    .bind(status)
    .bind(actor)
    .bind(reason)
    .bind(now_ms())
    .bind(id)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if decided == 0 {
        let row = sqlx::query("SELECT status, created_by FROM responses WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(ResponseError::NoResponse(id))?;
        let current: String = row.try_get("status")?;
        return Err(if current == "pending-approval" {
            ResponseError::SelfApproval(row.try_get("created_by")?, id)
        } else {
            ResponseError::NotPending { id, status: current }
        });
    }
    audit(
        &mut *tx,
        actor,
        action,
        &format!("response:{id}"),
        &json!({"reason": reason}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
