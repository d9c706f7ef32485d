//! The scheduler of `socialcrm serve`: workers lease due accounts and sync
//! them. Each account's failures only delay that account (its own backoff);
//! a slow plugin holds one worker, never the others.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

use super::lease::acquire_due;
use super::pipeline::Ingest;
use crate::store::accounts::AccountKind;

/// How a node runs its workers.
#[derive(Clone, Debug)]
pub struct SchedulerOptions {
    /// This node's name in leases (unique per process).
    pub node: String,
    /// Accounts synced at the same time.
    pub workers: usize,
    /// Pages per lease before the account goes back in the queue (fairness).
    pub pages_per_turn: usize,
    /// How long an idle worker waits before looking for due accounts again.
    pub idle: Duration,
}

impl Default for SchedulerOptions {
    fn default() -> Self {
        SchedulerOptions {
            node: format!("{}:{}", hostname(), std::process::id()),
            workers: 4,
            pages_per_turn: 20,
            idle: Duration::from_secs(1),
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "node".into())
}

/// Runs until `stop` turns true; then lets each worker finish its current page.
pub async fn run(ingest: Ingest, options: SchedulerOptions, stop: watch::Receiver<bool>) {
    let mut tasks = JoinSet::new();
    // Posts committed before a crash may not have been analyzed yet, and
    // authors seen before the last import not matched against it.
    let (catching_up, mut until_stop) = (ingest.clone(), stop.clone());
    tasks.spawn(async move {
        tokio::select! {
            () = async {
                match catching_up.catch_up_analysis().await {
                    Ok(n) => tracing::info!(analyses = n, "analysis caught up"),
                    Err(e) => tracing::warn!(error = %e, "analysis catch-up failed"),
                }
                match crate::crm::identity::catch_up(catching_up.db()).await {
                    Ok(r) => tracing::info!(confirmed = r.confirmed, proposed = r.proposed, "identity resolution caught up"),
                    Err(e) => tracing::warn!(error = %e, "identity catch-up failed"),
                }
            } => {}
            _ = until_stop.wait_for(|s| *s) => {}
        }
    });
    for worker in 0..options.workers.max(1) {
        let (ingest, options, stop) = (ingest.clone(), options.clone(), stop.clone());
        tasks.spawn(async move { work(ingest, options, worker, stop).await });
    }
    while tasks.join_next().await.is_some() {}
}

async fn work(ingest: Ingest, options: SchedulerOptions, worker: usize, mut stop: watch::Receiver<bool>) {
    let owner = format!("{}/{worker}", options.node);
    while !*stop.borrow() {
        match acquire_due(ingest.db(), &owner, ingest.lease_ttl()).await {
            Ok(Some(lease)) => {
                let name = lease.name.clone();
                // Sources share the schedule and leases; their runner is their own.
                if lease.kind == AccountKind::Source {
                    match crate::sources::sync(&ingest, &lease, options.pages_per_turn).await {
                        Ok(r) => tracing::debug!(source = %name, %owner, pages = r.pages, "synced"),
                        Err(e) => tracing::warn!(source = %name, error = %e, "sync failed"),
                    }
                    continue;
                }
                match ingest.sync(&lease, options.pages_per_turn, &|_| {}).await {
                    Ok(r) => tracing::debug!(channel = %name, %owner, pages = r.pages, new = r.new_posts, "synced"),
                    Err(e) => tracing::warn!(channel = %name, error = %e, "sync failed"),
                }
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot look for due accounts"),
        }
        tokio::select! {
            _ = tokio::time::sleep(options.idle) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
    }
}
