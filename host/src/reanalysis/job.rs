//! Working a re-analysis job: lease it, analyse its posts batch by batch in
//! id order, commit each batch's analyses with the cursor, finish. The lease
//! works like a channel's (`ingest/lease.rs`): an owner and an expiry on the
//! job's row, renewed with every batch; a node that dies stops renewing and
//! another resumes from the committed cursor once the lease expired. A batch
//! commits only while the lease is still ours and the job still running, so
//! a cancelled or taken-over job stops writing.

use std::time::Duration;

use tokio::sync::watch;

use super::{Job, JobStatus, ReanalysisError, get, load};
use crate::ingest::analyze::{self, BATCH};
use crate::runtime::Runtime;
use crate::store::reanalysis::{self as stored, Batch};
use crate::store::{Db, ms_after, now_ms, posts};

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

/// Leases job `id` for `owner` (free, expired, or already `owner`'s).
async fn acquire(db: &Db, id: i64, options: &RunOptions) -> Result<Option<Job>, ReanalysisError> {
    let taken = stored::lease(db, id, &options.owner, ms_after(options.lease_ttl), now_ms()).await?;
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
    let taxonomy = analyze::taxonomy(db).await;
    loop {
        let rows = posts::to_reanalyse(
            db,
            &job.plugin,
            &job.to_version,
            job.cursor_post_id,
            job.last_post_id,
            options.batch.max(1) as i64,
        )
        .await?;
        let Some(&(cursor, _)) = rows.last() else {
            finish(db, &job, options, JobStatus::Done, None).await?;
            // The job doubled the analyses.
            posts::refresh_analyses_statistics(db).await?;
            return get(db, id).await;
        };
        let done = rows.len() as i64;
        // Posts the ingest already analysed with this version are not sent again.
        let todo: Vec<_> = rows
            .into_iter()
            .filter_map(|(post, input)| input.map(|input| (post, input)))
            .collect();
        let (analyses, failure) = if todo.is_empty() {
            (Vec::new(), None)
        } else {
            match analyze::call(&analyzer, &todo, &taxonomy).await {
                Ok(analyses) => (analyses, None),
                // One bad batch must not stall the job: counted, skipped, said.
                Err(e @ analyze::AnalyzeError::Call(_)) => (Vec::new(), Some(e.to_string())),
                Err(e) => return Err(e.into()),
            }
        };
        let failed = if failure.is_some() { todo.len() as i64 } else { 0 };
        let mut tx = db.begin().await?;
        let batch = Batch {
            cursor,
            done,
            failed,
            error: failure.as_deref(),
            lease_until: ms_after(options.lease_ttl),
            now: now_ms(),
        };
        let kept = stored::advance(&mut tx, id, &options.owner, &batch).await?;
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
            posts::insert_analyses(&mut *tx, backend, &job.plugin, &job.to_version, &rows).await?;
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
    stored::finish(db, job.id, &options.owner, status, error, now_ms()).await
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
        match stored::due(&db, now_ms()).await {
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
    if let Err(e) = stored::release(db, id, owner).await {
        tracing::warn!(job = id, error = %e, "cannot free the re-analysis lease; it expires by itself");
    }
}
