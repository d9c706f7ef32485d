//! The source runner: pulls a leased source account page by page, each page
//! committed with its cursor, then records the outcome on the account as a
//! channel's sync does (the same schedule, backoff and pause; the lease
//! renewed in the background), and erases the contacts the source deleted
//! when the admin chose so.

use super::SourceError;
use super::commit::{Committed, SourceRef, commit_page};
use crate::crm::identity;
use crate::ingest::lease::{self, AccountKind, KeepAlive, Lease};
use crate::ingest::schedule::Outcome;
use crate::ingest::{Ingest, IngestError, StoredAccount};
use crate::privacy::{self, Start, erase};
use crate::store::{now_ms, sources};

/// What one sync of a source did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub pages: usize,
    /// What the pages' commits stored, summed.
    pub committed: Committed,
    /// Contacts erased because the source deleted them.
    pub erased: usize,
    /// The source still had pages when the sync stopped (it comes back soon).
    pub behind: bool,
    /// Identity links confirmed and proposed because contacts changed.
    pub linked: (usize, usize),
}

/// Leases source `name` for `owner` and catches it up completely (an admin's sync).
pub async fn sync_now(ingest: &Ingest, name: &str, owner: &str) -> Result<SyncReport, SourceError> {
    let lease = lease::acquire(ingest.db(), name, AccountKind::Source, owner, ingest.lease_ttl())
        .await
        .map_err(IngestError::from)?;
    sync(ingest, &lease, usize::MAX).await
}

/// Pulls the leased source for at most `max_pages` pages, then records the
/// outcome on the account and frees the lease.
pub async fn sync(ingest: &Ingest, lease: &Lease, max_pages: usize) -> Result<SyncReport, SourceError> {
    let mut report = SyncReport::default();
    let stored = match ingest.account(&lease.name).await {
        Ok(stored) => stored,
        Err(e) => {
            let next = ingest.schedule().next(&Outcome::Paused(e.to_string()), 0, now_ms());
            lease::release(ingest.db(), lease, &next).await?;
            return Err(e.into());
        }
    };
    let keep_alive = KeepAlive::start(ingest.db().clone(), lease, ingest.lease_ttl());
    let result = pull_pages(ingest, lease, &keep_alive, &stored, max_pages, &mut report).await;
    drop(keep_alive);
    let c = &report.committed;
    if c.new_contacts + c.updated_contacts > 0 {
        // Authors already stored are matched against the changed contacts,
        // as after an import; a failure here is the next catch-up's to redo.
        match identity::catch_up(ingest.db()).await {
            Ok(r) => report.linked = (r.confirmed, r.proposed),
            Err(e) => tracing::warn!(source = %lease.name, error = %e, "identity catch-up after a sync failed"),
        }
    }
    let outcome = match &result {
        Ok(()) => Outcome::Synced,
        Err(SourceError::Ingest(e)) => match e.outcome() {
            Some(outcome) => outcome,
            None => return result.map(|()| report),
        },
        Err(SourceError::Commit(super::CommitError::LeaseLost(_))) => return result.map(|()| report),
        Err(e) => Outcome::Failed(e.to_string()),
    };
    let now = now_ms();
    let mut next = ingest.schedule().next(&outcome, stored.failures, now);
    if report.behind {
        next.next_poll_at = now;
    } else if result.is_ok() {
        sources::set_synced(ingest.db(), stored.id, now).await?;
    }
    lease::release(ingest.db(), lease, &next).await?;
    result.map(|()| report)
}

async fn pull_pages(
    ingest: &Ingest,
    lease: &Lease,
    keep_alive: &KeepAlive,
    stored: &StoredAccount,
    max_pages: usize,
    report: &mut SyncReport,
) -> Result<(), SourceError> {
    // Erasures a crash left between a commit and its erasure come first.
    report.erased += erase_deleted(ingest, stored).await?;
    let plugin = ingest.source_plugin(&stored.plugin).await?;
    let target = SourceRef {
        id: stored.id,
        name: stored.account.name.clone(),
        lease_owner: Some(lease.owner.clone()),
    };
    let (mut account, mut cursor) = (stored.account.clone(), stored.state.clone());
    for _ in 0..max_pages {
        if keep_alive.lost() {
            return Err(IngestError::LeaseLost(lease.name.clone()).into());
        }
        let (call, acc, from) = (plugin.plugin.clone(), account.clone(), cursor.clone());
        let out = tokio::task::spawn_blocking(move || call.pull(&acc, &from))
            .await
            .map_err(|e| IngestError::Join(e.to_string()))?
            .map_err(IngestError::from)?;
        let committed = commit_page(ingest.db(), ingest.secret_box(), &target, &out.value, &out.kv_changes).await?;
        account.apply_kv(out.kv_changes);
        cursor = out.value.cursor;
        report.pages += 1;
        report.committed.add(&committed);
        report.behind = out.value.has_more;
        if committed.deleted > 0 {
            report.erased += erase_deleted(ingest, stored).await?;
        }
        if !out.value.has_more {
            break;
        }
    }
    Ok(())
}

/// Erases the contacts of `stored` that the source deleted while the admin
/// chose `erase`: a data subject's erasure each, which also keeps them out
/// of later syncs. Returns how many were erased.
async fn erase_deleted(ingest: &Ingest, stored: &StoredAccount) -> Result<usize, SourceError> {
    let db = ingest.db();
    let pending = sources::erase_pending(db, stored.id).await?;
    let actor = format!("source:{}", stored.account.name);
    for &contact in &pending {
        let failed = |e: privacy::PrivacyError| SourceError::Erase {
            contact,
            why: e.to_string(),
        };
        let subject = privacy::find(db, &Start::Contact(contact)).await.map_err(failed)?;
        erase::erase(
            db,
            Some(ingest),
            ingest.secret_box(),
            &subject,
            erase::Options::default(),
            &actor,
        )
        .await
        .map_err(failed)?;
    }
    Ok(pending.len())
}
