//! The egress log (`egress`): a row per outgoing request of a plugin call.

use serde::Serialize;
use sqlx::Row;

use super::{Db, now_ms};
use crate::runtime::EgressCall;

/// One logged request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EgressEntry {
    pub id: i64,
    /// When the call ended (ms since the epoch).
    pub at: i64,
    pub plugin: String,
    pub version: String,
    /// The channel account the call ran for.
    pub account: Option<String>,
    /// The plugin function: `check`, `poll`, `handle-webhook`, `send`.
    pub call: String,
    pub method: String,
    pub scheme: String,
    pub host: String,
    pub port: i64,
    /// The path, without the query string.
    pub path: String,
    pub status: Option<i64>,
    pub request_bytes: i64,
    pub response_bytes: i64,
    pub duration_ms: i64,
    /// Why the host refused it (policy), if it did.
    pub refused: Option<String>,
    /// Why it failed on the way (network, TLS, size cap), if it did.
    pub error: Option<String>,
}

/// Stores the requests of `calls`, now, in one transaction.
pub async fn insert(db: &Db, calls: &[EgressCall]) -> Result<(), sqlx::Error> {
    if calls.is_empty() {
        return Ok(());
    }
    let at = now_ms();
    let mut tx = db.begin().await?;
    for call in calls {
        for r in &call.requests {
            sqlx::query(
                "INSERT INTO egress (at, plugin, version, account, call, method, scheme, host, port, path, status, \
                 request_bytes, response_bytes, duration_ms, refused, error) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
            )
            .bind(at)
            .bind(&call.plugin)
            .bind(&call.version)
            .bind(call.account.as_deref())
            .bind(call.function)
            .bind(&r.method)
            .bind(&r.scheme)
            .bind(&r.host)
            .bind(i64::from(r.port))
            .bind(&r.path)
            .bind(r.status.map(i64::from))
            .bind(i64::try_from(r.request_bytes).unwrap_or(i64::MAX))
            .bind(i64::try_from(r.response_bytes).unwrap_or(i64::MAX))
            .bind(i64::try_from(r.duration.as_millis()).unwrap_or(i64::MAX))
            .bind(r.refused.as_deref())
            .bind(r.error.as_deref())
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await
}

/// `plugin`'s requests, newest first, with ids below `before`.
pub async fn list(db: &Db, plugin: &str, limit: i64, before: i64) -> Result<Vec<EgressEntry>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT id, at, plugin, version, account, call, method, scheme, host, port, path, status, request_bytes, \
         response_bytes, duration_ms, refused, error FROM egress WHERE plugin = $1 AND id < $2 \
         ORDER BY id DESC LIMIT $3",
    )
    .bind(plugin)
    .bind(before)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(EgressEntry {
                id: r.try_get("id")?,
                at: r.try_get("at")?,
                plugin: r.try_get("plugin")?,
                version: r.try_get("version")?,
                account: r.try_get("account")?,
                call: r.try_get("call")?,
                method: r.try_get("method")?,
                scheme: r.try_get("scheme")?,
                host: r.try_get("host")?,
                port: r.try_get("port")?,
                path: r.try_get("path")?,
                status: r.try_get("status")?,
                request_bytes: r.try_get("request_bytes")?,
                response_bytes: r.try_get("response_bytes")?,
                duration_ms: r.try_get("duration_ms")?,
                refused: r.try_get("refused")?,
                error: r.try_get("error")?,
            })
        })
        .collect()
}
