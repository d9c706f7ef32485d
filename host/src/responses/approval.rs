//! Approval: a channel may require that a second person approves every
//! response before it is sent. The one who drafted a response can withdraw it
//! (reject) but never approve it; approving sends it.

use serde_json::json;

use super::{Response, ResponseError, channel, get, send};
use crate::ingest::Ingest;
use crate::store::{self, Db, audit};

/// Turns approval for responses on channel `name` on or off; responses
/// already created keep their status.
pub async fn set_approval(db: &Db, name: &str, required: bool, actor: &str) -> Result<(), ResponseError> {
    let mut tx = db.begin().await?;
    if !store::accounts::set_approval(&mut tx, name, required).await? {
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
    let action = if approve { "response.approve" } else { "response.reject" };
    let mut tx = db.begin().await?;
    if !store::responses::decide(&mut tx, id, approve, actor, reason).await? {
        let (current, created_by) = store::responses::status_and_author(&mut tx, id)
            .await?
            .ok_or(ResponseError::NoResponse(id))?;
        return Err(if current == "pending-approval" {
            ResponseError::SelfApproval(created_by, id)
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
