//! The egress log: every outgoing request of every plugin call, refused ones
//! included, stored for [`RETENTION`] and shown per plugin in the API and the
//! web UI. Calls hand their requests to a bounded queue (never blocking a
//! call); one task writes them in batches and prunes what is older than the
//! retention.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use sqlx::Row;
use tokio::sync::{mpsc, oneshot};

use crate::runtime::{EgressCall, EgressSink};
use crate::store::{Db, now_ms};

/// How long a request stays in the log.
pub const RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);
/// Calls waiting to be written; beyond this they are counted and dropped.
const QUEUE: usize = 4096;
/// Calls written per transaction at most.
const BATCH: usize = 256;
/// How often rows older than the retention are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

enum Message {
    Call(Box<EgressCall>),
    Flush(oneshot::Sender<()>),
}

/// The sink the runtime reports to; cheap to clone.
#[derive(Clone)]
pub struct EgressLog {
    queue: mpsc::Sender<Message>,
}

impl EgressLog {
    /// Starts the writer on the current tokio runtime (without one, records
    /// are counted as dropped).
    pub fn start(db: Db) -> EgressLog {
        let (queue, receiver) = mpsc::channel(QUEUE);
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(write(db, receiver))),
            Err(_) => tracing::warn!("no async runtime: the egress log keeps nothing"),
        }
        EgressLog { queue }
    }

    /// Waits until everything recorded so far is written (before a command
    /// that recorded requests exits).
    pub async fn flush(&self) {
        let (done, written) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}

impl EgressSink for EgressLog {
    fn record(&self, call: EgressCall) {
        if self.queue.try_send(Message::Call(Box::new(call))).is_err() {
            metrics::counter!(crate::metrics::EGRESS_DROPPED).increment(1);
        }
    }
}

/// The writer: batches of calls in one transaction each, pruning hourly.
async fn write(db: Db, mut receiver: mpsc::Receiver<Message>) {
    let mut last_prune = None::<tokio::time::Instant>;
    let mut batch = Vec::with_capacity(BATCH);
    while receiver.recv_many(&mut batch, BATCH).await > 0 {
        let mut flushed = Vec::new();
        let calls: Vec<EgressCall> = batch
            .drain(..)
            .filter_map(|m| match m {
                Message::Call(call) => Some(*call),
                Message::Flush(done) => {
                    flushed.push(done);
                    None
                }
            })
            .collect();
        if let Err(e) = insert(&db, &calls).await {
            tracing::warn!(error = %e, calls = calls.len(), "cannot write the egress log");
        }
        if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            if let Err(e) = prune(&db).await {
                tracing::warn!(error = %e, "cannot prune the egress log");
            }
            last_prune = Some(tokio::time::Instant::now());
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}

async fn insert(db: &Db, calls: &[EgressCall]) -> Result<(), sqlx::Error> {
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

async fn prune(db: &Db) -> Result<(), sqlx::Error> {
    let cutoff = now_ms() - i64::try_from(RETENTION.as_millis()).unwrap_or(i64::MAX);
    sqlx::query("DELETE FROM egress WHERE at < $1")
        .bind(cutoff)
        .execute(db.pool())
        .await?;
    Ok(())
}

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

/// Installs the log as `runtime`'s egress sink (once per runtime) and returns it.
pub fn attach(runtime: &crate::runtime::Runtime, db: &Db) -> Arc<EgressLog> {
    let log = Arc::new(EgressLog::start(db.clone()));
    runtime.record_egress_to(log.clone());
    log
}
