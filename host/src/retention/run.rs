//! Retention runs: what is past its period goes, kind by kind, in batches of
//! at most [`BATCH`] rows per transaction (SQLite has one writer: the ingest
//! waits for each batch, never for a whole run). Rows are listed by a read
//! first, so a write transaction holds its lock only while it removes them.

use std::time::Duration;

use serde_json::json;
use tokio::sync::watch;

use super::{Kind, Period, Policy, RetentionError};
use crate::store::{self, Db, audit, retention as rows};

/// Rows per transaction. A post's text takes five tables with it (its
/// analyses, scores, topics, advocacy events, alert examples): fewer of them.
fn batch(kind: Kind) -> i64 {
    if kind == Kind::PostText { 500 } else { 5_000 }
}

/// The actor of scheduled runs in the audit log.
pub const SCHEDULED: &str = "retention";

/// A kind's period and what a run at a given time removes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    pub kind: Kind,
    pub period: Period,
    /// Rows counted from before this time (Unix ms) are past the period;
    /// `None` when kept forever.
    pub cutoff: Option<i64>,
    /// The rows past the period (for a run: the rows it removed).
    pub rows: u64,
}

/// What a run at `now` would remove, per kind (a dry run).
pub async fn preview(db: &Db, now: i64) -> Result<Vec<Due>, RetentionError> {
    let policy = Policy::load(db).await?;
    let mut out = Vec::with_capacity(Kind::ALL.len());
    for kind in Kind::ALL {
        let period = policy.period(kind);
        let cutoff = period.cutoff(now);
        let rows = match cutoff {
            Some(cutoff) => u64::try_from(rows::count(db, kind, cutoff).await?).unwrap_or(0),
            None => 0,
        };
        out.push(Due {
            kind,
            period,
            cutoff,
            rows,
        });
    }
    Ok(out)
}

/// Removes every row past its period at `now`, per kind. Each batch is
/// audited (`retention.expire`: kind, rows, cutoff) in its own transaction,
/// by `actor`; a run stopped midway keeps the batches it committed, and the
/// next run goes on from there.
pub async fn run(db: &Db, now: i64, actor: &str) -> Result<Vec<Due>, RetentionError> {
    let policy = Policy::load(db).await?;
    let mut out = Vec::with_capacity(Kind::ALL.len());
    for kind in Kind::ALL {
        let period = policy.period(kind);
        let cutoff = period.cutoff(now);
        let rows = match cutoff {
            Some(cutoff) => expire(db, kind, period, cutoff, now, actor).await?,
            None => 0,
        };
        out.push(Due {
            kind,
            period,
            cutoff,
            rows,
        });
    }
    Ok(out)
}

/// The batches of one kind; the rows removed.
async fn expire(
    db: &Db,
    kind: Kind,
    period: Period,
    cutoff: i64,
    now: i64,
    actor: &str,
) -> Result<u64, RetentionError> {
    let mut total = 0;
    loop {
        let ids = rows::due(db, kind, cutoff, batch(kind)).await?;
        if ids.is_empty() {
            break;
        }
        let mut tx = db.begin().await?;
        let removed = rows::remove(&mut tx, db.backend(), kind, cutoff, &ids).await?;
        if removed.rows > 0 {
            let details = json!({"rows": removed.rows, "before": cutoff, "days": period.days()});
            audit(&mut *tx, actor, "retention.expire", kind.as_str(), &details).await?;
        }
        tx.commit().await?;
        if !removed.contacts.is_empty() {
            crate::insights::refresh_contacts(db, &removed.contacts, now).await?;
        }
        total += removed.rows;
        // A short batch was the last; one that removed nothing (its rows
        // changed since they were listed) would list the same rows again.
        if (ids.len() as i64) < batch(kind) || removed.rows == 0 {
            break;
        }
    }
    Ok(total)
}

/// `serve`'s schedule: a run a minute after the start, then every
/// `interval`, until `stop` turns true; an interval of zero disables it.
/// Nodes sharing a database may run at once: every removal checks its rule
/// again, so they share the work and remove nothing twice.
pub async fn schedule(db: Db, interval: Duration, mut stop: watch::Receiver<bool>) {
    if interval.is_zero() {
        return;
    }
    let mut wait = interval.min(Duration::from_secs(60));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        wait = interval;
        tokio::select! {
            result = run(&db, store::now_ms(), SCHEDULED) => match result {
                Ok(done) => {
                    let removed: Vec<String> = done
                        .iter()
                        .filter(|d| d.rows > 0)
                        .map(|d| format!("{} {}", d.kind.as_str(), d.rows))
                        .collect();
                    if !removed.is_empty() {
                        tracing::info!(removed = %removed.join(", "), "retention run");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "retention run failed; retried next interval"),
            },
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
