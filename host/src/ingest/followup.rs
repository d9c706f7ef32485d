//! The follow-up of committed posts (analysed already, in the same commit):
//! identity resolution of their authors (as the commit knew them; nothing is
//! read back), then the inbox priority and the authors' churn risk. A sync hands
//! each commit to a task of its own, so the next page is polled and
//! committed meanwhile; commits that wait are joined into one batch (fewer
//! transactions). Posts a network edited are analysed and scored again, and
//! contacts that lost deleted posts get their churn risk refreshed
//! (`changes::settle`). A failure loses nothing (the posts are committed;
//! `insights recompute` and the identity catch-up redo it), so it is logged.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::changes;
use super::page::Committed;
use crate::crm::identity::{self, Resolved};
use crate::runtime::AnalyzerPlugin;
use crate::store::{Db, now_ms};

/// Commits that may wait for their follow-up before a sync slows down to it.
const QUEUE: usize = 8;
/// Posts joined into one follow-up: each step costs a few statements per
/// batch whatever its size.
const JOIN: usize = 1024;

/// A running follow-up task, fed commit by commit.
pub(super) struct FollowUp {
    commits: mpsc::Sender<Committed>,
    task: JoinHandle<()>,
}

impl FollowUp {
    pub(super) fn start(db: Db, resolved: Arc<Resolved>, analyzers: Vec<AnalyzerPlugin>) -> Self {
        let (commits, mut rx) = mpsc::channel::<Committed>(QUEUE);
        let task = tokio::spawn(async move {
            let queue = metrics::gauge!(crate::metrics::FOLLOWUP_QUEUE);
            while let Some(mut batch) = rx.recv().await {
                queue.decrement(1.0);
                while batch.new_posts.len() < JOIN {
                    match rx.try_recv() {
                        Ok(more) => {
                            queue.decrement(1.0);
                            batch.new_posts.extend(more.new_posts);
                            batch.authors.extend(more.authors);
                            batch.applied.join(more.applied);
                        }
                        Err(_) => break,
                    }
                }
                follow_up(&db, batch, &resolved, &analyzers).await;
            }
        });
        FollowUp { commits, task }
    }

    /// Queues what one commit stored (waits while the queue is full).
    pub(super) async fn push(&self, committed: Committed) {
        if !committed.new_posts.is_empty() || !committed.applied.is_empty() {
            metrics::gauge!(crate::metrics::FOLLOWUP_QUEUE).increment(1.0);
            // The task only stops when this sender is dropped.
            let _ = self.commits.send(committed).await;
        }
    }

    /// Waits until every queued post is followed up.
    pub(super) async fn finish(self) {
        drop(self.commits);
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "the follow-up of committed posts stopped");
        }
    }
}

/// Identity resolution of a commit's new authors, then the scores of its
/// posts, then what its reported deletions and edits call for (logged on
/// failure).
pub(super) async fn follow_up(db: &Db, committed: Committed, resolved: &Resolved, analyzers: &[AnalyzerPlugin]) {
    changes::settle(db, analyzers, &committed.applied, now_ms()).await;
    if committed.new_posts.is_empty() {
        return;
    }
    if let Err(e) = identity::resolve_new(db, committed.authors, resolved).await {
        tracing::warn!(error = %e, "identity resolution after commit failed");
    }
    // After both: priority weighs the analyses and the linked contact's value.
    if let Err(e) = crate::insights::refresh_posts(db, &committed.new_posts, now_ms()).await {
        tracing::warn!(error = %e, "scoring new posts failed; `insights recompute` scores them");
    }
}

/// Identity resolution and scores of stored posts analysed after their
/// commit (logged on failure).
pub(super) async fn resolve_and_score(db: &Db, ids: &[i64]) {
    if ids.is_empty() {
        return;
    }
    if let Err(e) = identity::resolve(db, ids).await {
        tracing::warn!(error = %e, "identity resolution of analysed posts failed");
    }
    // After both: priority weighs the analyses and the linked contact's value.
    if let Err(e) = crate::insights::refresh_posts(db, ids, now_ms()).await {
        tracing::warn!(error = %e, "scoring analysed posts failed; `insights recompute` scores them");
    }
}
