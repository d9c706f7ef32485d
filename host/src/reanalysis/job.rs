//! Working a re-analysis job: lease it, analyse its posts batch by batch in
//! id order, commit each batch's analyses with the cursor, finish. The lease
//! works like a channel's (`ingest/lease.rs`): an owner and an expiry on the
//! job's row, renewed with every batch; a node that dies stops renewing and
//! another resumes from the committed cursor once the lease expired. A batch
//! commits only while the lease is still ours and the job still running, so
//! a cancelled or taken-over job stops writing.

use std::time::Duration;

use sqlx::Row;
use tokio::sync::watch;

use super::{Job, JobStatus, ReanalysisError, get, load};
use crate::ingest::analyze::{self, BATCH};
use crate::runtime::Runtime;
use crate::store::{Backend, Db, now_ms};

/// How one worker runs a job.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// This worker's name in leases (unique per process).
    pub owner: String,
    /// Posts per analyzer call and per transaction.
    pub batch: usize,
    /// How long the lease lasts without renewal: longer than one batch.
    pub lease_ttl: Duration,
}

impl RunOptions {
    pub fn new(owner: impl Into<String>) -> RunOptions {
        RunOptions {
            owner: owner.into(),
            batch: BATCH,
            lease_ttl: Duration::from_secs(60),
        }
    }
}

fn until(ttl: Duration) -> i64 {
    now_ms().saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
}

/// Leases job `id` for `owner` (free, expired, or already `owner`'s).
async fn acquire(db: &Db, id: i64, options: &RunOptions) -> Result<Option<Job>, ReanalysisError> {
    let taken = sqlx::query(
        "UPDATE reanalysis_jobs SET lease_owner = $1, lease_until = $2 \
         WHERE id = $3 AND status = 'running' AND (lease_until < $4 OR lease_owner = $1)",
    )
    .bind(&options.owner)
    .bind(until(options.lease_ttl))
    .bind(id)
    .bind(now_ms())
    .execute(db.pool())
    .await?
    .rows_affected()
        == 1;
    let job = get(db, id).await?;
    match (taken, job.status) {
        (true, _) => Ok(Some(job)),
        (false, JobStatus::Running) => Err(ReanalysisError::Held {
            id,
            owner: job.lease_owner.clone().unwrap_or_default(),
            seconds: (job.lease_until - now_ms()).max(0) / 1000 + 1,
        }),
        // Finished meanwhile: nothing to do.
        (false, _) => Ok(None),
    }
}

/// Works job `id` to its end (or until it is cancelled), calling `progress`
/// after each committed batch. Returns the job as it ended; a job already
/// finished is returned as it is. Dropping the future mid-batch loses only
/// that batch (its transaction never commits) and leaves the lease to expire.
pub async fn run(
    db: &Db,
    runtime: &Runtime,
    id: i64,
    options: &RunOptions,
    progress: &(dyn Fn(&Job) + Sync),
) -> Result<Job, ReanalysisError> {
    let Some(mut job) = acquire(db, id, options).await? else {
        return get(db, id).await;
    };
    let analyzer = match load(db, runtime, &job.plugin, &job.to_version).await {
        Ok(analyzer) => analyzer,
        Err(e) => {
            finish(db, &job, options, JobStatus::Failed, Some(&e.to_string())).await?;
            return Err(e);
        }
    };
    progress(&job);
    loop {
        let rows = sqlx::query(
            "SELECT p.id, p.text, p.kind, p.language, b.id AS has FROM posts p LEFT JOIN analyses b \
             ON b.post_id = p.id AND b.plugin = $1 AND b.version = $2 \
             WHERE p.id > $3 AND p.id <= $4 ORDER BY p.id LIMIT $5",
        )
        .bind(&job.plugin)
        .bind(&job.to_version)
        .bind(job.cursor_post_id)
        .bind(job.last_post_id)
        .bind(options.batch.max(1) as i64)
        .fetch_all(db.pool())
        .await?;
        let Some(last) = rows.last() else {
            finish(db, &job, options, JobStatus::Done, None).await?;
            if db.backend() == Backend::Postgres {
                // The job doubled the analyses: without fresh statistics the
                // planner picked nested loops that made the comparison and the
                // recompute of a switch take minutes for 20,000 posts.
                sqlx::query("ANALYZE analyses").execute(db.pool()).await?;
            }
            return get(db, id).await;
        };
        let cursor: i64 = last.try_get("id")?;
        // Posts the ingest already analysed with this version are not sent again.
        let mut todo = Vec::with_capacity(rows.len());
        for row in &rows {
            if row.try_get::<Option<i64>, _>("has")?.is_none() {
                todo.push(analyze::input(row)?);
            }
        }
        let (analyses, failure) = if todo.is_empty() {
            (Vec::new(), None)
        } else {
            match analyze::call(&analyzer, &todo).await {
                Ok(analyses) => (analyses, None),
                // One bad batch must not stall the job: counted, skipped, said.
                Err(e @ analyze::AnalyzeError::Call(_)) => (Vec::new(), Some(e.to_string())),
                Err(e) => return Err(e.into()),
            }
        };
        let failed = if failure.is_some() { todo.len() as i64 } else { 0 };
        let mut tx = db.begin().await?;
        let kept = sqlx::query(
            "UPDATE reanalysis_jobs SET cursor_post_id = $1, posts_done = posts_done + $2, \
             posts_failed = posts_failed + $3, error = COALESCE($4, error), lease_until = $5, updated_at = $6 \
             WHERE id = $7 AND lease_owner = $8 AND status = 'running'",
        )
        .bind(cursor)
        .bind(rows.len() as i64)
        .bind(failed)
        .bind(failure.as_deref())
        .bind(until(options.lease_ttl))
        .bind(now_ms())
        .bind(id)
        .bind(&options.owner)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !kept {
            tx.rollback().await?;
            let now = get(db, id).await?;
            if now.status == JobStatus::Cancelled {
                return Ok(now);
            }
            return Err(ReanalysisError::Lost(id));
        }
        if !analyses.is_empty() {
            let backend = db.backend();
            let rows: Vec<_> = todo.iter().map(|(id, _)| *id).zip(&analyses).collect();
            analyze::store(&mut *tx, backend, &job.plugin, &job.to_version, &rows).await?;
        }
        tx.commit().await?;
        job = get(db, id).await?;
        progress(&job);
    }
}

/// Ends the job with `status` if the lease is still ours.
async fn finish(
    db: &Db,
    job: &Job,
    options: &RunOptions,
    status: JobStatus,
    error: Option<&str>,
) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "UPDATE reanalysis_jobs SET status = $1, error = COALESCE($2, error), lease_owner = NULL, lease_until = 0, \
         updated_at = $3, finished_at = $3 WHERE id = $4 AND lease_owner = $5 AND status = 'running'",
    )
    .bind(status.as_str())
    .bind(error)
    .bind(now)
    .bind(job.id)
    .bind(&options.owner)
    .execute(db.pool())
    .await?;
    Ok(())
}

/// A node's worker of queued jobs in `socialcrm serve`.
#[derive(Clone)]
pub struct Worker {
    pub db: Db,
    pub runtime: Runtime,
    pub run: RunOptions,
    /// How long an idle worker waits before looking for jobs again.
    pub idle: Duration,
}

impl Worker {
    /// The worker of node `node` (its owner name in leases is `NODE/reanalysis`).
    pub fn new(db: &Db, runtime: &Runtime, node: &str) -> Worker {
        Worker {
            db: db.clone(),
            runtime: runtime.clone(),
            run: RunOptions::new(format!("{node}/reanalysis")),
            idle: Duration::from_secs(5),
        }
    }
}

/// Works queued jobs one at a time until `stop` turns true: jobs nobody holds
/// (new, or left by a node that died once its lease expired), oldest first.
/// Analyzer calls run on a blocking thread and each batch is one short
/// transaction, so the ingest goes on beside it.
pub async fn work(worker: Worker, mut stop: watch::Receiver<bool>) {
    let Worker {
        db,
        runtime,
        run: options,
        idle,
    } = worker;
    while !*stop.borrow() {
        let due = sqlx::query(
            "SELECT id FROM reanalysis_jobs WHERE status = 'running' AND lease_until < $1 ORDER BY id LIMIT 1",
        )
        .bind(now_ms())
        .fetch_optional(db.pool())
        .await;
        match due.and_then(|row| row.map(|r| r.try_get::<i64, _>("id")).transpose()) {
            Ok(Some(id)) => {
                let ran = tokio::select! {
                    ran = run(&db, &runtime, id, &options, &|_| {}) => Some(ran),
                    _ = stop.wait_for(|s| *s) => None,
                };
                match ran {
                    Some(Ok(job)) => tracing::info!(job = id, status = job.status.as_str(), "re-analysis ended"),
                    // Another node took it first.
                    Some(Err(ReanalysisError::Held { .. })) => {}
                    Some(Err(e)) => tracing::warn!(job = id, error = %e, "re-analysis stopped"),
                    None => release(&db, id, &options.owner).await,
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot look for re-analysis jobs"),
        }
        tokio::select! {
            _ = tokio::time::sleep(idle) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
    }
}

/// Frees a lease at shutdown so another node resumes the job at once.
async fn release(db: &Db, id: i64, owner: &str) {
    let freed = sqlx::query(
        "UPDATE reanalysis_jobs SET lease_owner = NULL, lease_until = 0 WHERE id = $1 AND lease_owner = $2",
    )
    .bind(id)
    .bind(owner)
    .execute(db.pool())
    .await;
    if let Err(e) = freed {
        tracing::warn!(job = id, error = %e, "cannot free the re-analysis lease; it expires by itself");
    }
}
