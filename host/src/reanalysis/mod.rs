//! Re-analysis: a new version of an analyzer re-runs over the stored posts
//! as a background job, and insights keep reading the version an admin made
//! active for them until the admin switches, after comparing the two.
//!
//! - A job (`reanalysis_jobs`) analyses posts up to the newest one at its
//!   start, in id order and in batches; each batch's analyses and the job's
//!   cursor commit in one transaction, so a job resumes after a crash from its
//!   last batch without redoing or missing posts. Like channel polling, a job
//!   is leased (owner, expiry) so one node works it at a time ([`job`]).
//! - `insights_versions` names the version insights read per analyzer; a
//!   post without an analysis of it is read at its newest analysis (see
//!   `store::insights`).
//! - [`compare`] sets the two versions side by side over the posts both analysed.
//!
//! An upgrade of an installed analyzer queues a job by itself
//! ([`QueueOnUpgrade`]); `socialcrm serve` works queued jobs ([`work`]).

pub mod compare;
mod job;

use std::future::Future;
use std::pin::Pin;

use semver::Version;
use serde::Serialize;
use serde_json::json;
use sqlx::{Any, AnyConnection, Transaction};

use crate::ingest::AnalyzeError;
use crate::insights::{InsightsError, RecomputeReport};
use crate::plugins::registry::{self, FindError, RegistryError};
use crate::plugins::{Manifest, PluginKind};
use crate::runtime::{AnalyzerPlugin, LoadError, Runtime};
use crate::store::reanalysis::{self as stored, NewJob};
pub use crate::store::reanalysis::{Job, JobStatus};
use crate::store::{Db, audit, now_ms, posts};

pub use compare::{Comparison, Example, LabelCount, LabelPair, compare, compare_analyzers};
pub use job::{RunOptions, Worker, run, work};

#[derive(Debug, thiserror::Error)]
pub enum ReanalysisError {
    #[error("{0} is a channel plugin, not an analyzer")]
    NotAnalyzer(String),
    #[error("{name} {version} is neither installed nor bundled (see `socialcrm plugin list`)")]
    UnknownVersion { name: String, version: String },
    #[error("{name} has no analyses of version {version} to read")]
    NoAnalyses { name: String, version: String },
    #[error("no re-analysis job {0} (see `socialcrm analyzer jobs`)")]
    NoJob(i64),
    #[error("re-analysis job {id} is being worked by {owner}; try again in {seconds} s")]
    Held { id: i64, owner: String, seconds: i64 },
    #[error("re-analysis job {0} was taken over by another node or cancelled")]
    Lost(i64),
    #[error("plugin `{0}` is disabled (`socialcrm plugin enable {0}`)")]
    Disabled(String),
    #[error(transparent)]
    Find(#[from] FindError),
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("cannot load the analyzer: {0}")]
    Load(#[from] LoadError),
    #[error(transparent)]
    Analyze(#[from] AnalyzeError),
    #[error(transparent)]
    Insights(#[from] InsightsError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// Queues a re-analysis of `plugin`'s history by `to_version` (default: the
/// version the ingest runs: installed and active, else bundled). It is
/// compared with the version insights read, which is pinned now if it was
/// not yet, so the new analyses change no score until [`switch`]. A job of
/// the same version still running is returned instead of a second one.
pub async fn start(db: &Db, plugin: &str, to_version: Option<&Version>, actor: &str) -> Result<Job, ReanalysisError> {
    let to = match to_version {
        Some(v) => {
            // Checks that the version exists before queueing work for it.
            analyzer_source(db, plugin, &v.to_string()).await?;
            v.to_string()
        }
        None => {
            let found = registry::find(db, plugin).await?;
            if found.manifest.kind != PluginKind::Analyzer {
                return Err(ReanalysisError::NotAnalyzer(plugin.to_string()));
            }
            found.manifest.version.to_string()
        }
    };
    let from = match insights_version(db, plugin).await? {
        Some(pinned) if pinned != to => Some(pinned),
        _ => previous_version(db, plugin, &to).await?,
    };
    let mut tx = db.begin().await?;
    let id = queue(&mut tx, plugin, from.as_deref(), &to, actor).await?;
    tx.commit().await?;
    get(db, id).await
}

/// Queues an upgraded analyzer's re-analysis in the upgrade's transaction
/// (`registry::upgrade` and `approve` call it).
pub struct QueueOnUpgrade;

impl registry::OnActivate for QueueOnUpgrade {
    fn activated<'a>(
        &'a self,
        tx: &'a mut Transaction<'static, Any>,
        manifest: &'a Manifest,
        previous: &'a str,
        actor: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<(), sqlx::Error>> + Send + 'a>> {
        Box::pin(async move {
            if manifest.kind == PluginKind::Analyzer {
                // History is re-analysed in the background; insights keep reading
                // the previous version until an admin switches (`socialcrm analyzer`).
                queue_after_upgrade(tx, &manifest.name, previous, &manifest.version.to_string(), actor).await?;
            }
            Ok(())
        })
    }
}

/// After an analyzer upgrade from `from` to `to`, in the upgrade's own
/// transaction (so a version is never active without its re-analysis): pins
/// insights to `from` unless a version is pinned already, and queues the
/// re-analysis.
async fn queue_after_upgrade(
    conn: &mut AnyConnection,
    plugin: &str,
    from: &str,
    to: &str,
    actor: &str,
) -> Result<i64, sqlx::Error> {
    let from = match stored::insights_version(&mut *conn, plugin).await? {
        Some(pinned) => pinned,
        None => from.to_string(),
    };
    queue(conn, plugin, Some(&from), to, actor).await
}

/// Inserts a running job (or finds the running one of `to`), pinning `from`
/// for insights when nothing is pinned. Returns the job's id.
async fn queue(
    conn: &mut AnyConnection,
    plugin: &str,
    from: Option<&str>,
    to: &str,
    actor: &str,
) -> Result<i64, sqlx::Error> {
    if let Some(id) = stored::running(conn, plugin, to).await? {
        return Ok(id);
    }
    let now = now_ms();
    if let Some(from) = from {
        stored::pin_insights_version(conn, plugin, from, actor, now).await?;
    }
    let (last, total) = posts::extent(conn).await?;
    let job = NewJob {
        plugin,
        from_version: from,
        to_version: to,
        last_post_id: last,
        posts_total: total,
        created_by: actor,
        created_at: now,
    };
    let id = stored::insert(conn, &job).await?;
    let details = json!({"job": id, "from": from, "to": to, "posts": total});
    audit(conn, actor, "analyzer.reanalyze", &format!("plugin:{plugin}"), &details).await?;
    Ok(id)
}

/// The newest version below `to` (else above it) that analysed posts.
async fn previous_version(db: &Db, plugin: &str, to: &str) -> Result<Option<String>, sqlx::Error> {
    let mut versions: Vec<Version> = posts::analysis_versions_besides(db, plugin, to)
        .await?
        .iter()
        .filter_map(|v| Version::parse(v).ok())
        .collect();
    versions.sort();
    let to = Version::parse(to).ok();
    let below = versions.iter().rev().find(|v| Some(*v) < to.as_ref());
    Ok(below.or(versions.last()).map(Version::to_string))
}

/// The job `id`.
pub async fn get(db: &Db, id: i64) -> Result<Job, ReanalysisError> {
    stored::get(db, id).await?.ok_or(ReanalysisError::NoJob(id))
}

/// Jobs, newest first; only those of `plugin` when given.
pub async fn list(db: &Db, plugin: Option<&str>, limit: i64) -> Result<Vec<Job>, ReanalysisError> {
    Ok(stored::list(db, plugin, limit).await?)
}

/// Cancels a running job (its worker stops at its next batch); the analyses
/// written so far stay. Returns the job.
pub async fn cancel(db: &Db, id: i64, actor: &str) -> Result<Job, ReanalysisError> {
    let mut tx = db.begin().await?;
    if stored::cancel(&mut tx, id, now_ms()).await? {
        audit(&mut *tx, actor, "analyzer.cancel", &format!("job:{id}"), &json!({})).await?;
    }
    tx.commit().await?;
    get(db, id).await
}

/// The version insights read for `plugin`, if one is pinned.
pub async fn insights_version(db: &Db, plugin: &str) -> Result<Option<String>, sqlx::Error> {
    stored::insights_version(db.pool(), plugin).await
}

/// What a [`switch`] did.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Switched {
    pub plugin: String,
    pub from_version: Option<String>,
    pub to_version: String,
    /// The recompute that rescored every post with the version switched to.
    pub recompute: RecomputeReport,
}

/// Makes `version` of `plugin` the one insights read, then rescores
/// everything (`insights::recompute` as of `now`: priorities, topics, churn,
/// advocacy and alerts all follow from sentiment and intents). Refused for a
/// version that analysed nothing.
pub async fn switch(
    db: &Db,
    plugin: &str,
    version: &Version,
    actor: &str,
    now: i64,
) -> Result<Switched, ReanalysisError> {
    let version = version.to_string();
    if !posts::any_analysis(db, plugin, &version).await? {
        return Err(ReanalysisError::NoAnalyses {
            name: plugin.to_string(),
            version,
        });
    }
    let from = insights_version(db, plugin).await?;
    let mut tx = db.begin().await?;
    stored::set_insights_version(&mut tx, plugin, &version, actor, now_ms()).await?;
    let details = json!({"from": from, "to": version});
    audit(
        &mut *tx,
        actor,
        "analyzer.switch",
        &format!("plugin:{plugin}"),
        &details,
    )
    .await?;
    tx.commit().await?;
    let recompute = crate::insights::recompute(db, now).await?;
    Ok(Switched {
        plugin: plugin.to_string(),
        from_version: from,
        to_version: version,
        recompute,
    })
}

/// The analyzer `plugin` at `version`: the installed version, else the
/// bundled plugin (or path) when it is that version.
async fn analyzer_source(db: &Db, plugin: &str, version: &str) -> Result<registry::Found, ReanalysisError> {
    let found = match registry::version(db, plugin, version).await? {
        Some((installed, _)) if !installed.enabled => return Err(ReanalysisError::Disabled(plugin.to_string())),
        Some((installed, wasm)) => registry::Found {
            manifest: installed.manifest,
            wasm,
            digest: Some(installed.digest),
        },
        None => match registry::find(db, plugin).await {
            Ok(found) if found.manifest.version.to_string() == version => found,
            Ok(_) | Err(FindError::Resolve(_)) => {
                return Err(ReanalysisError::UnknownVersion {
                    name: plugin.to_string(),
                    version: version.to_string(),
                });
            }
            Err(e) => return Err(e.into()),
        },
    };
    if found.manifest.kind != PluginKind::Analyzer {
        return Err(ReanalysisError::NotAnalyzer(plugin.to_string()));
    }
    Ok(found)
}

/// Loads the analyzer `plugin` at `version` (see [`analyzer_source`]).
async fn load(db: &Db, runtime: &Runtime, plugin: &str, version: &str) -> Result<AnalyzerPlugin, ReanalysisError> {
    let found = analyzer_source(db, plugin, version).await?;
    Ok(runtime.load_analyzer(found.manifest.sandbox(), &found.wasm)?)
}
