//! Sending a response through [`crate::replies`]: the broadcast first (a
//! macro), then every recipient still `queued` or `failed`. Each message is
//! queued with a key derived from the response (`response:ID:broadcast`,
//! `response:ID:post:POST`) and its reply id recorded before it is sent, so
//! sending again after a crash or a failure finds the same message and never
//! posts it twice; recipients already sent are left alone.

use serde_json::json;
use sqlx::Row;

use super::{Response, ResponseError, get};
use crate::ingest::Ingest;
use crate::replies;
use crate::store::{audit, now_ms};

/// Sends approved response `id`, or what is left of it after a failure or an
/// interruption (status `sending`). The outcome is `sent` (everything that
/// was not skipped is sent), `partially-failed` or `failed` (nothing sent);
/// send again to retry the failed messages. A sent response is returned as
/// it is. An error (the database, the channel's plugin) leaves it `sending`.
pub async fn send(ingest: &Ingest, id: i64, actor: &str) -> Result<Response, ResponseError> {
    let db = ingest.db();
    let response = get(db, id).await?;
    match response.status.as_str() {
        "pending-approval" => return Err(ResponseError::NotApproved(id)),
        "rejected" => return Err(ResponseError::Rejected(id)),
        "sent" => return Ok(response),
        _ => {}
    }
    set_status(db.pool(), id, "sending").await?;
    let broadcast_sent = match response.kind.as_str() {
        "macro" => {
            let reply_id = match &response.broadcast {
                Some(reply) => reply.id,
                None => {
                    let key = format!("response:{id}:broadcast");
                    let reply = replies::queue_broadcast(db, &response.channel, &response.text, &key, actor).await?;
                    sqlx::query("UPDATE responses SET broadcast_reply_id = $1 WHERE id = $2")
                        .bind(reply.id)
                        .bind(id)
                        .execute(db.pool())
                        .await?;
                    reply.id
                }
            };
            Some(replies::send(ingest, reply_id, actor).await?.status == "sent")
        }
        _ => None,
    };
    let pending = sqlx::query(
        "SELECT post_id, text, reply_id FROM response_recipients \
         WHERE response_id = $1 AND status IN ('queued', 'failed') ORDER BY post_id",
    )
    .bind(id)
    .fetch_all(db.pool())
    .await?;
    for row in &pending {
        let post_id: i64 = row.try_get("post_id")?;
        let reply_id = match row.try_get::<Option<i64>, _>("reply_id")? {
            Some(reply_id) => reply_id,
            None => {
                let text: Option<String> = row.try_get("text")?;
                let key = format!("response:{id}:post:{post_id}");
                let reply = replies::queue(db, post_id, text.as_deref().unwrap_or_default(), Some(&key), actor).await?;
                sqlx::query("UPDATE response_recipients SET reply_id = $1 WHERE response_id = $2 AND post_id = $3")
                    .bind(reply.id)
                    .bind(id)
                    .bind(post_id)
                    .execute(db.pool())
                    .await?;
                reply.id
            }
        };
        let reply = replies::send(ingest, reply_id, actor).await?;
        let status = if reply.status == "sent" { "sent" } else { "failed" };
        sqlx::query(
            "UPDATE response_recipients SET status = $1, error = $2, updated_at = $3 \
             WHERE response_id = $4 AND post_id = $5",
        )
        .bind(status)
        .bind(&reply.error)
        .bind(now_ms())
        .bind(id)
        .bind(post_id)
        .execute(db.pool())
        .await?;
    }
    let counts = get(db, id).await?.counts;
    let (mut sent, mut total) = (counts.sent, counts.sent + counts.failed + counts.queued);
    if let Some(ok) = broadcast_sent {
        total += 1;
        sent += i64::from(ok);
    }
    let outcome = if sent == total {
        "sent"
    } else if sent > 0 {
        "partially-failed"
    } else {
        "failed"
    };
    let mut tx = db.begin().await?;
    set_status(&mut *tx, id, outcome).await?;
    audit(
        &mut *tx,
        actor,
        &format!("response.{outcome}"),
        &format!("response:{id}"),
        &json!({"broadcast_sent": broadcast_sent, "sent": counts.sent, "failed": counts.failed, "skipped": counts.skipped}),
    )
    .await?;
    tx.commit().await?;
    get(db, id).await
}

async fn set_status<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    id: i64,
    status: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE responses SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status)
        .bind(now_ms())
        .bind(id)
        .execute(executor)
        .await?;
    Ok(())
}
