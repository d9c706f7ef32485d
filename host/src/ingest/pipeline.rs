//! The ingest pipeline: poll a leased account page by page (each page
//! committed with its analyses and state), take webhook pushes, and after
//! each commit resolve identities and score the new posts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::analyze::{self, AnalyzeError, analyze_page, catch_up};
use super::changes::{self, Applied, RecheckReport, commit_recheck, next_upkeep, window_start};
use super::followup::{self, FollowUp};
use super::lease::{self, AccountKind, KeepAlive, Lease, LeaseError};
use super::page::{ChannelRef, CommitError, KnownAuthors, PageRows, check, commit_pages};
use super::poller::{Poller, Polling};
use super::schedule::{Outcome, Schedule};
use crate::credentials::{RefreshError, Refresher, When};
use crate::crm::identity::Resolved;
use crate::egress::EgressLog;
use crate::plugins::registry::{self, FindError};
use crate::plugins::{LoadedChannel, LoadedSource, Manifest, PluginKind};
use crate::runtime::types::{PluginError, WebhookRequest, WebhookResponse};
use crate::runtime::{AnalyzerPlugin, CallError, KvChanges, LoadError, Runtime};
use crate::secrets::SecretBox;
use crate::store::accounts::{self as account, AccountError, StoredAccount};
use crate::store::network_changes::{self, Upkeep};
use crate::store::{Db, now_ms};

/// What one sync did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub pages: usize,
    pub new_posts: usize,
    pub duplicates: usize,
    /// The plugin still had pages when the sync stopped (it comes back soon).
    pub behind: bool,
    /// The re-check of stored posts that followed, when one was due.
    pub rechecked: Option<RecheckReport>,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error(transparent)]
    Lease(#[from] LeaseError),
    #[error(transparent)]
    Find(#[from] FindError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("plugin {0} is not a channel plugin")]
    NotChannel(String),
    #[error("plugin {0} is not a source plugin")]
    NotSource(String),
    #[error(transparent)]
    Call(#[from] CallError),
    #[error(transparent)]
    Commit(#[from] CommitError),
    #[error("the lease on channel `{0}` was lost to another node; it resumes from the last committed page")]
    LeaseLost(String),
    #[error("the plugin call did not finish: {0}")]
    Join(String),
    #[error(transparent)]
    Refresh(#[from] RefreshError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

impl IngestError {
    /// What the schedule makes of a sync that ended with this error; `None`
    /// when the lease was lost (the new holder records what happens next).
    pub fn outcome(&self) -> Option<Outcome> {
        Some(match self {
            IngestError::Call(e) => Outcome::from_error(e),
            IngestError::LeaseLost(_) | IngestError::Commit(CommitError::LeaseLost(_)) => return None,
            // Retried with backoff, so enabling the plugin again resumes the account.
            e @ IngestError::Find(FindError::Disabled(_)) => Outcome::Failed(e.to_string()),
            e @ (IngestError::Find(_)
            | IngestError::Load(_)
            | IngestError::NotChannel(_)
            | IngestError::NotSource(_)
            | IngestError::Refresh(RefreshError::Refused(_))) => Outcome::Paused(e.to_string()),
            e => Outcome::Failed(e.to_string()),
        })
    }
}

/// Posts committed in one transaction at most, when several polled pages wait.
pub const COMMIT_POSTS: usize = 2_000;

/// How the pipeline paces accounts.
#[derive(Clone, Copy, Debug)]
pub struct IngestOptions {
    pub schedule: Schedule,
    /// How long a lease lasts without renewal; it must outlast the slowest
    /// page (a plugin call plus its commit).
    pub lease_ttl: Duration,
    /// `serve --dev`: a channel plugin found on disk (a path or a bundled
    /// plugin, never an installed one) is loaded again when its files change.
    pub dev_reload: bool,
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            schedule: Schedule::default(),
            lease_ttl: Duration::from_secs(60),
            dev_reload: false,
        }
    }
}

/// Cheap to clone; shared by the scheduler's workers and the webhook handler.
#[derive(Clone)]
pub struct Ingest {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    sbox: SecretBox,
    runtime: Runtime,
    analyzers: Vec<AnalyzerPlugin>,
    schedule: Schedule,
    lease_ttl: Duration,
    dev_reload: bool,
    /// Channel and source plugins by name, with the digest they were loaded
    /// from (the installed version's; under `dev_reload`, that of the files
    /// on disk).
    channels: Mutex<HashMap<String, (Option<String>, Loaded)>>,
    /// One compile at a time: workers wanting the same plugin wait for the
    /// first to load it instead of each compiling it again.
    loading: tokio::sync::Mutex<()>,
    /// Authors stored lately (a commit skips reading them).
    known: KnownAuthors,
    /// Authors resolved lately (identity resolution skips them unread).
    resolved: Arc<Resolved>,
    /// Where the runtime's calls leave their requests.
    egress: Arc<EgressLog>,
}

/// A plugin an account runs.
#[derive(Clone)]
enum Loaded {
    Channel(LoadedChannel),
    Source(LoadedSource),
}

/// The digest of plugin `name` as found on disk, manifest and component.
fn on_disk_digest(name: &str) -> Result<String, IngestError> {
    let (manifest, wasm) = crate::plugins::resolve(name).map_err(FindError::from)?;
    let manifest = format!("{manifest:?}");
    Ok(crate::runtime::sha256_hex(&[manifest.as_bytes(), &wasm].concat()))
}

impl Ingest {
    pub fn new(
        db: Db,
        sbox: SecretBox,
        runtime: Runtime,
        analyzers: Vec<AnalyzerPlugin>,
        options: IngestOptions,
    ) -> Self {
        let egress = crate::egress::attach(&runtime, &db);
        let known = KnownAuthors::with_do_not_track(sbox.clone());
        Ingest {
            inner: Arc::new(Inner {
                egress,
                db,
                sbox,
                runtime,
                analyzers,
                schedule: options.schedule,
                lease_ttl: options.lease_ttl,
                dev_reload: options.dev_reload,
                channels: Mutex::new(HashMap::new()),
                loading: tokio::sync::Mutex::new(()),
                known,
                resolved: Arc::default(),
            }),
        }
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    /// The egress log the runtime's calls report to (flush it before exiting).
    pub fn egress(&self) -> &EgressLog {
        &self.inner.egress
    }

    pub fn analyzers(&self) -> &[AnalyzerPlugin] {
        &self.inner.analyzers
    }

    /// The plugin runtime (background jobs load plugins with it).
    pub fn runtime(&self) -> &Runtime {
        &self.inner.runtime
    }

    /// The key that seals channel secrets (adding an account, checking an upgrade).
    pub fn secret_box(&self) -> &SecretBox {
        &self.inner.sbox
    }

    /// The polling rhythm (sources follow it as channels do).
    pub fn schedule(&self) -> &Schedule {
        &self.inner.schedule
    }

    /// How long a lease lasts without renewal (longer than any one plugin call).
    pub fn lease_ttl(&self) -> Duration {
        self.inner.lease_ttl
    }

    /// The stored account `name`, secrets opened (for calls the host makes on its behalf).
    pub async fn account(&self, name: &str) -> Result<StoredAccount, IngestError> {
        Ok(account::load(&self.inner.db, &self.inner.sbox, name).await?)
    }

    /// The channel plugin `name` (installed, bundled or a path), loaded on
    /// first use and again when an upgrade or rollback changes it.
    pub async fn channel_plugin(&self, name: &str) -> Result<LoadedChannel, IngestError> {
        match self.account_plugin(name).await? {
            Loaded::Channel(plugin) => Ok(plugin),
            Loaded::Source(plugin) => Err(IngestError::NotChannel(plugin.manifest.name.clone())),
        }
    }

    /// The source plugin `name`, loaded as [`Self::channel_plugin`] loads a channel.
    pub async fn source_plugin(&self, name: &str) -> Result<LoadedSource, IngestError> {
        match self.account_plugin(name).await? {
            Loaded::Source(plugin) => Ok(plugin),
            Loaded::Channel(plugin) => Err(IngestError::NotSource(plugin.manifest.name.clone())),
        }
    }

    async fn account_plugin(&self, name: &str) -> Result<Loaded, IngestError> {
        let installed = registry::active_digest(&self.inner.db, name).await?;
        if let Some((_, false)) = installed {
            return Err(FindError::Disabled(name.to_string()).into());
        }
        let digest = match installed {
            Some((digest, _)) => Some(digest),
            None if self.inner.dev_reload => Some(on_disk_digest(name)?),
            None => None,
        };
        let cached = || {
            let loaded = self.loaded();
            loaded
                .get(name)
                .filter(|(d, _)| *d == digest)
                .map(|(_, plugin)| plugin.clone())
        };
        if let Some(plugin) = cached() {
            return Ok(plugin);
        }
        let _one_at_a_time = self.inner.loading.lock().await;
        if let Some(plugin) = cached() {
            return Ok(plugin);
        }
        let found = registry::find(&self.inner.db, name).await?;
        let kind = found.manifest.kind;
        if kind == PluginKind::Analyzer {
            return Err(IngestError::NotChannel(found.manifest.name));
        }
        // Compiling takes seconds: off the async threads, which renew leases.
        let runtime = self.inner.runtime.clone();
        let spec = found.manifest.sandbox();
        let manifest = Arc::new(found.manifest);
        let plugin = tokio::task::spawn_blocking(move || match kind {
            PluginKind::Source => runtime
                .load_source(spec, &found.wasm)
                .map(|plugin| Loaded::Source(LoadedSource { manifest, plugin })),
            _ => runtime
                .load_channel(spec, &found.wasm)
                .map(|plugin| Loaded::Channel(LoadedChannel { manifest, plugin })),
        })
        .await
        .map_err(|e| IngestError::Join(e.to_string()))??;
        self.loaded().insert(name.to_string(), (digest, plugin.clone()));
        Ok(plugin)
    }

    fn loaded(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Option<String>, Loaded)>> {
        self.inner.channels.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Leases `name` for `owner` and catches it up completely (an admin's sync).
    pub async fn sync_now(
        &self,
        name: &str,
        owner: &str,
        progress: &(dyn Fn(&SyncReport) + Sync),
    ) -> Result<SyncReport, IngestError> {
        let lease = lease::acquire(&self.inner.db, name, AccountKind::Channel, owner, self.inner.lease_ttl).await?;
        self.sync(&lease, usize::MAX, progress).await
    }

    /// Polls the leased account for at most `max_pages` pages, committing each
    /// with its state, then records the outcome on the account and frees the
    /// lease. A failure is recorded on the account (unauthorized pauses it).
    pub async fn sync(
        &self,
        lease: &Lease,
        max_pages: usize,
        progress: &(dyn Fn(&SyncReport) + Sync),
    ) -> Result<SyncReport, IngestError> {
        let mut report = SyncReport::default();
        let stored = match self.account(&lease.name).await {
            Ok(stored) => stored,
            Err(e) => {
                self.release(lease, Outcome::Paused(e.to_string()), 0).await?;
                return Err(e);
            }
        };
        let mut stored = stored;
        let keep_alive = KeepAlive::start(self.inner.db.clone(), lease, self.inner.lease_ttl);
        let polled = self
            .poll_fresh(lease, &keep_alive, &mut stored, max_pages, &mut report, progress)
            .await;
        let result: Result<(), IngestError> = match polled {
            Ok(plugin) => {
                let mut result = Ok(());
                if !keep_alive.lost() {
                    // Its failures are its own (`channel_upkeep.last_error`): the
                    // account's polling goes on as it went.
                    match self.recheck(lease, &plugin, &stored).await {
                        Ok(rechecked) => report.rechecked = rechecked,
                        Err(e @ IngestError::Commit(CommitError::LeaseLost(_))) => result = Err(e),
                        Err(e) => tracing::warn!(channel = %lease.name, error = %e, "re-checking stored posts failed"),
                    }
                }
                result
            }
            Err(e) => Err(e),
        };
        drop(keep_alive);
        let outcome = match &result {
            Ok(()) => Outcome::Synced,
            Err(e) => match e.outcome() {
                Some(outcome) => outcome,
                // Not ours any more: the new holder records what happens next.
                None => return result.map(|()| report),
            },
        };
        let mut next = self.inner.schedule.next(&outcome, stored.failures, now_ms());
        if report.behind {
            // More is waiting: due again at once, behind every other due account.
            next.next_poll_at = now_ms();
        }
        lease::release(&self.inner.db, lease, &next).await?;
        result.map(|()| report)
    }

    /// Runs `call` on `stored` with its tokens refreshed when due and, when
    /// it fails as unauthorized with a token not just refreshed, once more
    /// after refreshing them: the sync's rule, for the calls outside a sync
    /// (a reply). A 401 means the network refused the call, so it did nothing.
    pub async fn with_fresh_tokens<T, F, Fut>(
        &self,
        manifest: &Manifest,
        stored: &mut StoredAccount,
        call: F,
    ) -> Result<T, IngestError>
    where
        F: Fn(StoredAccount) -> Fut,
        Fut: Future<Output = Result<T, IngestError>>,
    {
        let refreshed = self.refresh_credentials(manifest, stored, When::Due).await?;
        let result = call(stored.clone()).await;
        if !refreshed
            && result.as_ref().is_err_and(unauthorized)
            && self.refresh_credentials(manifest, stored, When::Now).await?
        {
            return call(stored.clone()).await;
        }
        result
    }

    /// Polls `stored` with its tokens refreshed when due and, refused once
    /// with a token not just refreshed, refreshes it and polls once more
    /// from the committed state. Returns the plugin, loaded once for the sync.
    async fn poll_fresh(
        &self,
        lease: &Lease,
        keep_alive: &KeepAlive,
        stored: &mut StoredAccount,
        max_pages: usize,
        report: &mut SyncReport,
        progress: &(dyn Fn(&SyncReport) + Sync),
    ) -> Result<LoadedChannel, IngestError> {
        let plugin = self.channel_plugin(&stored.plugin).await?;
        let manifest = &plugin.manifest;
        let refreshed = self.refresh_credentials(manifest, stored, When::Due).await?;
        let polled = self
            .poll_pages(lease, keep_alive, stored, max_pages, report, progress)
            .await;
        if !refreshed
            && polled.as_ref().is_err_and(unauthorized)
            && self.refresh_credentials(manifest, stored, When::Now).await?
        {
            self.poll_pages(lease, keep_alive, stored, max_pages, report, progress)
                .await?;
        } else {
            polled?;
        }
        Ok(plugin)
    }

    /// Refreshes the account's tokens that `when` makes due, `stored`
    /// read again when one changed; true when one did.
    async fn refresh_credentials(
        &self,
        manifest: &Manifest,
        stored: &mut StoredAccount,
        when: When,
    ) -> Result<bool, IngestError> {
        let refresher = Refresher {
            db: &self.inner.db,
            sbox: &self.inner.sbox,
            runtime: &self.inner.runtime,
        };
        match refresher.refresh(manifest, stored, when).await? {
            Some(fresh) => {
                *stored = fresh;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn poll_pages(
        &self,
        lease: &Lease,
        keep_alive: &KeepAlive,
        stored: &StoredAccount,
        max_pages: usize,
        report: &mut SyncReport,
        progress: &(dyn Fn(&SyncReport) + Sync),
    ) -> Result<(), IngestError> {
        let plugin = self.channel_plugin(&stored.plugin).await?;
        let channel = ChannelRef {
            id: stored.id,
            network: stored.network.clone(),
            lease_owner: Some(lease.owner.clone()),
        };
        let followup = FollowUp::start(
            self.inner.db.clone(),
            self.inner.resolved.clone(),
            self.inner.analyzers.clone(),
        );
        let mut poller = Poller::start(Polling {
            plugin: plugin.plugin,
            analyzers: self.inner.analyzers.clone(),
            taxonomy: analyze::taxonomy(&self.inner.db).await,
            account: stored.account.clone(),
            state: stored.state.clone(),
            max_pages,
            lease_lost: keep_alive.flag(),
        });
        let result = async {
            while let Some(pages) = poller.next(COMMIT_POSTS).await {
                let pages = pages?;
                // A malformed page is rejected whole, after the pages before it.
                let mut bad = None;
                let good = pages
                    .iter()
                    .position(|(out, _)| {
                        bad = check(&out.value.posts).err();
                        bad.is_some()
                    })
                    .unwrap_or(pages.len());
                if let Some((last, _)) = pages[..good].last() {
                    let rows: Vec<PageRows<'_>> = pages[..good]
                        .iter()
                        .map(|(out, analyses)| PageRows {
                            posts: &out.value.posts,
                            verified: &out.verified,
                            analyses,
                            changes: &out.changes,
                        })
                        .collect();
                    let mut kv = KvChanges::new();
                    for (out, _) in &pages[..good] {
                        kv.extend(out.kv_changes.clone());
                    }
                    let state = Some(last.value.state.as_str());
                    let committed =
                        commit_pages(&self.inner.db, &channel, &rows, state, &kv, &self.inner.known).await?;
                    report.pages += good;
                    report.new_posts += committed.new_posts.len();
                    report.duplicates += committed.duplicates;
                    report.behind = last.value.has_more;
                    progress(report);
                    self.erase_requested(&committed.applied);
                    followup.push(committed).await;
                }
                if let Some(e) = bad {
                    return Err(e.into());
                }
            }
            // Polling stopped early: the lease was lost.
            if keep_alive.lost() {
                return Err(IngestError::LeaseLost(lease.name.clone()));
            }
            Ok(())
        }
        .await;
        // Pages polled ahead of a failure are dropped, but a request in
        // flight must end before the lease is freed: no two nodes ever poll
        // one account at once.
        poller.stop().await;
        followup.finish().await;
        result
    }

    /// Makes the re-check of account `name`'s stored posts due now (the next
    /// sync runs it).
    pub async fn recheck_due(&self, name: &str) -> Result<(), IngestError> {
        let stored = self.account(name).await?;
        Ok(network_changes::make_due(&self.inner.db, stored.id).await?)
    }

    /// Asks account `name`'s plugin to forget user `external_user_id` (an
    /// erasure) and commits the key-value entries it removes. `None` when the
    /// plugin does not export `upkeep`; else the entries removed.
    pub async fn forget(&self, name: &str, external_user_id: &str) -> Result<Option<usize>, IngestError> {
        let stored = self.account(name).await?;
        let plugin = self.channel_plugin(&stored.plugin).await?;
        let (account, call, user) = (
            stored.account.clone(),
            plugin.plugin.clone(),
            external_user_id.to_string(),
        );
        let called = tokio::task::spawn_blocking(move || call.forget(&account, &user))
            .await
            .map_err(|e| IngestError::Join(e.to_string()))?;
        let Some(out) = called else { return Ok(None) };
        let out = out?;
        let channel = ChannelRef {
            id: stored.id,
            network: stored.network.clone(),
            lease_owner: None,
        };
        let removed = out.kv_changes.values().filter(|v| v.is_none()).count();
        // Only deletions: forgetting writes nothing new.
        let deletions: KvChanges = out.kv_changes.into_iter().filter(|(_, v)| v.is_none()).collect();
        commit_pages(&self.inner.db, &channel, &[], None, &deletions, &self.inner.known).await?;
        Ok(Some(removed))
    }

    /// Re-checks a batch of the account's stored posts, if its plugin exports
    /// `upkeep` and a run is due; records a failure on `channel_upkeep` and
    /// returns it.
    async fn recheck(
        &self,
        lease: &Lease,
        plugin: &LoadedChannel,
        stored: &StoredAccount,
    ) -> Result<Option<RecheckReport>, IngestError> {
        let db = &self.inner.db;
        let now = now_ms();
        let before = network_changes::upkeep(db, stored.id).await?;
        if !plugin.plugin.has_upkeep() || before.due_at > now {
            return Ok(None);
        }
        let spec = &plugin.manifest.upkeep;
        let every = i64::from(spec.every_minutes) * 60_000;
        let batch = spec.batch as usize;
        let since = window_start(spec.window_days, now);
        let (keys, posts): (Vec<_>, Vec<_>) =
            network_changes::stored_posts(db, stored.id, since, before.after, i64::from(spec.batch))
                .await?
                .into_iter()
                .unzip();
        let channel = ChannelRef {
            id: stored.id,
            network: stored.network.clone(),
            lease_owner: Some(lease.owner.clone()),
        };
        let mut report = RecheckReport {
            handed: posts.len(),
            ..RecheckReport::default()
        };
        if posts.is_empty() {
            let (next, wrapped) = next_upkeep(before, 0, 0, None, batch, every, now);
            report.wrapped = wrapped;
            commit_recheck(db, &channel, &[], &KvChanges::new(), next, now).await?;
            return Ok(Some(report));
        }
        let (account, call) = (stored.account.clone(), plugin.plugin.clone());
        let called = tokio::task::spawn_blocking(move || call.recheck(&account, &posts))
            .await
            .map_err(|e| IngestError::Join(e.to_string()))?;
        let out = match called {
            None => return Ok(None),
            Some(Ok(out)) => out,
            Some(Err(e)) => {
                let wait = match e.plugin_error() {
                    Some(PluginError::RateLimited(r)) => i64::try_from(r.retry_after_ms).unwrap_or(every),
                    _ => every,
                };
                let next = Upkeep {
                    due_at: now.saturating_add(wait),
                    ..before
                };
                let mut conn = db.pool().acquire().await?;
                network_changes::set_upkeep(&mut conn, stored.id, next, Some(&e.to_string()), now).await?;
                return Err(e.into());
            }
        };
        report.checked = out.value;
        let last = out.value.checked_sub(1).and_then(|i| keys.get(i).copied());
        let (next, wrapped) = next_upkeep(before, report.handed, out.value, last, batch, every, now);
        report.wrapped = wrapped;
        let applied = commit_recheck(db, &channel, &out.changes, &out.kv_changes, next, now).await?;
        report.deleted = applied.deleted;
        report.edited = applied.edited.len();
        changes::settle(db, &self.inner.analyzers, &applied, now).await;
        self.erase_requested(&applied);
        Ok(Some(report))
    }

    /// After a commit that recorded deletion requests: their erasures are
    /// started and run in the background (the network's call is answered
    /// meanwhile). A failure is logged; the next start resumes them.
    fn erase_requested(&self, applied: &Applied) {
        if applied.erasures_requested == 0 {
            return;
        }
        let ingest = self.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::privacy::erase::resume(ingest.db(), Some(&ingest)).await {
                tracing::error!(error = %e, "erasing after a deletion request; the next start resumes it");
            }
        });
    }

    async fn release(&self, lease: &Lease, outcome: Outcome, failures: i64) -> Result<(), sqlx::Error> {
        let next = self.inner.schedule.next(&outcome, failures, now_ms());
        lease::release(&self.inner.db, lease, &next).await
    }

    /// Runs every analyzer over the stored posts it has not seen (its call
    /// failed at ingest, or it was added since), then resolves and scores
    /// them as the follow-up would have; returns the analyses stored.
    pub async fn catch_up_analysis(&self) -> Result<usize, AnalyzeError> {
        let (mut stored, mut ids) = (0, Vec::new());
        for analyzer in &self.inner.analyzers {
            let (n, analysed) = catch_up(&self.inner.db, analyzer).await?;
            stored += n;
            ids.extend(analysed);
        }
        ids.sort_unstable();
        ids.dedup();
        if !ids.is_empty() {
            followup::resolve_and_score(&self.inner.db, &ids).await;
        }
        Ok(stored)
    }

    /// The account `name` and its plugin, ready to take a webhook call (the
    /// caller reads the body within the plugin's limit, then calls [`Self::webhook`]).
    pub async fn webhook_endpoint(&self, name: &str) -> Result<WebhookEndpoint, IngestError> {
        let stored = self.account(name).await?;
        let plugin = self.channel_plugin(&stored.plugin).await?;
        Ok(WebhookEndpoint {
            stored,
            plugin,
            public_url: None,
        })
    }

    /// Hands a webhook call to the account's plugin and stores the posts it
    /// carried (the cursor does not move). Returns what to answer the network.
    pub async fn webhook(
        &self,
        endpoint: WebhookEndpoint,
        request: WebhookRequest,
    ) -> Result<WebhookResponse, IngestError> {
        let WebhookEndpoint {
            stored,
            plugin,
            public_url,
        } = endpoint;
        let account = stored.account.clone();
        let out =
            tokio::task::spawn_blocking(move || plugin.handle_webhook_at(&account, &request, public_url.as_deref()))
                .await
                .map_err(|e| IngestError::Join(e.to_string()))??;
        let channel = ChannelRef {
            id: stored.id,
            network: stored.network,
            lease_owner: None,
        };
        let analyzers = self.inner.analyzers.clone();
        let posts = out.value.posts.clone();
        let taxonomy = analyze::taxonomy(&self.inner.db).await;
        let analyses = tokio::task::spawn_blocking(move || analyze_page(&analyzers, &posts, &taxonomy))
            .await
            .map_err(|e| IngestError::Join(e.to_string()))?;
        let page = [PageRows {
            posts: &out.value.posts,
            verified: &out.verified,
            analyses: &analyses,
            changes: &out.changes,
        }];
        let (db, known) = (&self.inner.db, &self.inner.known);
        let committed = commit_pages(db, &channel, &page, None, &out.kv_changes, known).await?;
        self.erase_requested(&committed.applied);
        let analyzers = &self.inner.analyzers;
        followup::follow_up(&self.inner.db, committed, &self.inner.resolved, analyzers).await;
        Ok(out.value.response)
    }
}

/// Whether a sync failed because the network refused the credential.
fn unauthorized(error: &IngestError) -> bool {
    matches!(error, IngestError::Call(e) if matches!(e.plugin_error(), Some(PluginError::Unauthorized(_))))
}

/// A channel account that takes webhook calls, with its loaded plugin.
pub struct WebhookEndpoint {
    stored: StoredAccount,
    plugin: LoadedChannel,
    public_url: Option<String>,
}

impl WebhookEndpoint {
    /// The same, on a server people reach at `public_url`: the base of the
    /// status links of deletion requests.
    pub fn at(self, public_url: Option<String>) -> WebhookEndpoint {
        WebhookEndpoint { public_url, ..self }
    }

    /// The largest webhook body the account's plugin accepts.
    pub fn max_body_bytes(&self) -> usize {
        self.plugin.manifest.webhook.max_body_bytes
    }
}
