//! Sending a response through [`crate::replies`]: the broadcast first (a
//! macro), then every recipient still `queued` or `failed`. Each message is
//! queued with a key derived from the response (`response:ID:broadcast`,
//! `response:ID:post:POST`) and its reply id recorded before it is sent, so
//! sending again after a crash or a failure finds the same message and never
//! posts it twice; recipients already sent are left alone.

use serde_json::json;

use super::{Response, ResponseError, get};
use crate::ingest::Ingest;
use crate::replies;
use crate::store::{self, audit};

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
    store::responses::set_status(db.pool(), id, "sending").await?;
    let broadcast_sent = match response.kind.as_str() {
        "macro" => {
            let reply_id = match &response.broadcast {
                Some(reply) => reply.id,
                None => {
                    let key = format!("response:{id}:broadcast");
                    let reply = replies::queue_broadcast(db, &response.channel, &response.text, &key, actor).await?;
                    store::responses::set_broadcast(db, id, reply.id).await?;
                    reply.id
                }
            };
            Some(replies::send(ingest, reply_id, actor).await?.status == "sent")
        }
        _ => None,
    };
    for recipient in store::responses::pending(db, id).await? {
        let post_id = recipient.post_id;
        let reply_id = match recipient.reply_id {
            Some(reply_id) => reply_id,
            None => {
                let key = format!("response:{id}:post:{post_id}");
                let text = recipient.text.as_deref().unwrap_or_default();
                let reply = replies::queue(db, post_id, text, Some(&key), actor).await?;
                store::responses::set_recipient_reply(db, id, post_id, reply.id).await?;
                reply.id
            }
        };
        let reply = replies::send(ingest, reply_id, actor).await?;
        let status = if reply.status == "sent" { "sent" } else { "failed" };
        store::responses::set_recipient_status(db, id, post_id, status, reply.error.as_deref()).await?;
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
    store::responses::set_status(&mut *tx, id, outcome).await?;
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
