//! The follow-up of committed posts (analysed already, in the same commit):
//! identity resolution, then the inbox priority and the authors' churn risk.
//! A sync hands each page's new posts to a task of its own, so the next page
//! is polled and committed meanwhile; pages that wait are joined into one
//! batch (fewer transactions). A failure loses nothing (the posts are
//! committed; `insights recompute` and the identity catch-up redo it), so it
//! is logged.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::page::Committed;
use crate::store::{Db, now_ms};

/// Pages that may wait for their follow-up before a sync slows down to it.
const QUEUE: usize = 8;
/// Posts joined into one follow-up: each step costs a few statements per
/// batch whatever its size.
const JOIN: usize = 1024;

/// A running follow-up task, fed page by page.
pub(super) struct FollowUp {
    pages: mpsc::Sender<Vec<i64>>,
    task: JoinHandle<()>,
}

impl FollowUp {
    pub(super) fn start(db: Db) -> Self {
        let (pages, mut rx) = mpsc::channel::<Vec<i64>>(QUEUE);
        let task = tokio::spawn(async move {
            let queue = metrics::gauge!(crate::metrics::FOLLOWUP_QUEUE);
            while let Some(mut new) = rx.recv().await {
                queue.decrement(1.0);
                while new.len() < JOIN {
                    match rx.try_recv() {
                        Ok(more) => {
                            queue.decrement(1.0);
                            new.extend(more)
                        }
                        Err(_) => break,
                    }
                }
                resolve_and_score(&db, &new).await;
            }
        });
        FollowUp { pages, task }
    }

    /// Queues the new posts of one committed page (waits while the queue is full).
    pub(super) async fn push(&self, committed: &Committed) {
        if !committed.new_posts.is_empty() {
            metrics::gauge!(crate::metrics::FOLLOWUP_QUEUE).increment(1.0);
            // The task only stops when this sender is dropped.
            let _ = self.pages.send(committed.new_posts.clone()).await;
        }
    }

    /// Waits until every queued post is followed up.
    pub(super) async fn finish(self) {
        drop(self.pages);
        if let Err(e) = self.task.await {
            tracing::warn!(error = %e, "the follow-up of committed posts stopped");
        }
    }
}

/// Identity resolution and scores of analysed posts (logged on failure).
pub(super) async fn resolve_and_score(db: &Db, ids: &[i64]) {
    if ids.is_empty() {
        return;
    }
    if let Err(e) = crate::crm::identity::resolve(db, ids).await {
        tracing::warn!(error = %e, "identity resolution after commit failed");
    }
    // After both: priority weighs the analyses and the linked contact's value.
    if let Err(e) = crate::insights::refresh_posts(db, ids, now_ms()).await {
        tracing::warn!(error = %e, "scoring new posts failed; `insights recompute` scores them");
    }
}
