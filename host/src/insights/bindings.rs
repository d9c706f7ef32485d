//! Signals and their bindings (docs/insights.md): which analyzer supplies
//! each built-in signal the insights read. The stored bindings are the one
//! source of truth: no query names a plugin, and any analyzer (a vendor's,
//! under its own name) can be bound. A fresh install binds the bundled
//! `sentiment` and `intent`. The analyzers bound run over new posts beside
//! those `--analyzer` names.
//!
//! Rebinding is compare-then-switch: the candidate analyses past posts in
//! the shadow (`analyzer reanalyze`), [`compare`] shows how it agrees with
//! the analyzer bound now, and [`bind`] refuses a candidate that analysed
//! none of the posts the bound one did, unless forced.

use serde::Serialize;
use serde_json::json;

use crate::plugins::{PluginKind, registry};
use crate::reanalysis::{self, Comparison, ReanalysisError};
use crate::store::insights::bindings as store;
use crate::store::{Db, audit, now_ms};

/// A built-in signal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    /// The sentiment score and label (inbox priority, churn, trends, spikes).
    Sentiment,
    /// Intents with their confidence (inbox priority, churn risk, advocacy).
    Intents,
    /// The topics of a post (trends, spikes, macro responses).
    Topics,
}

impl Signal {
    pub const ALL: [Signal; 3] = [Signal::Sentiment, Signal::Intents, Signal::Topics];

    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Sentiment => "sentiment",
            Signal::Intents => "intents",
            Signal::Topics => "topics",
        }
    }

    pub fn parse(text: &str) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The bundled analyzer a fresh install binds.
    fn bundled(self) -> &'static str {
        match self {
            Signal::Sentiment => "sentiment",
            Signal::Intents | Signal::Topics => "intent",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("`{0}` is not a signal: sentiment, intents or topics")]
    Signal(String),
    #[error("no analyzer `{name}`: {why}")]
    Analyzer { name: String, why: String },
    #[error("`{0}` is not an analyzer plugin")]
    NotAnalyzer(String),
    #[error("the stored binding of {signal} names `{analyzer}`, which is not a plugin name")]
    Stored { signal: String, analyzer: String },
    #[error(
        "`{candidate}` has analysed none of the {posts} posts `{bound}` analysed for {signal}: run `socialcrm analyzer \
         reanalyze {candidate}`, compare with `socialcrm analyzer compare-binding {signal} {candidate}`, then bind \
         (or bind with --force)"
    )]
    NotCompared {
        signal: &'static str,
        bound: String,
        candidate: String,
        posts: i64,
    },
    /// Boxed: a re-analysis error can hold an insights error, which holds this.
    #[error(transparent)]
    Compare(Box<ReanalysisError>),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// The analyzer of each built-in signal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bindings {
    pub sentiment: String,
    pub intents: String,
    pub topics: String,
}

/// One binding as the CLI and the API show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Binding {
    pub signal: Signal,
    pub analyzer: String,
    /// Who bound it (`install` for a fresh install's), and when (Unix ms).
    pub bound_by: String,
    pub bound_at: i64,
}

/// Plugin names are `[a-z0-9-]{1,64}`: what the queries may quote.
fn plugin_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Every built-in signal's binding, by signal.
pub async fn list(db: &Db) -> Result<Vec<Binding>, BindError> {
    let stored = store::all(db).await?;
    Signal::ALL
        .into_iter()
        .map(|signal| {
            let row = stored.iter().find(|(s, ..)| s == signal.as_str());
            let (analyzer, bound_by, bound_at) = match row {
                Some((_, analyzer, by, at)) => (analyzer.clone(), by.clone(), *at),
                None => (signal.bundled().to_string(), "install".to_string(), 0),
            };
            if !plugin_name(&analyzer) {
                return Err(BindError::Stored {
                    signal: signal.as_str().into(),
                    analyzer,
                });
            }
            Ok(Binding {
                signal,
                analyzer,
                bound_by,
                bound_at,
            })
        })
        .collect()
}

pub async fn load(db: &Db) -> Result<Bindings, BindError> {
    let list = list(db).await?;
    let of = |signal: Signal| {
        list.iter()
            .find(|b| b.signal == signal)
            .map_or_else(|| signal.bundled().to_string(), |b| b.analyzer.clone())
    };
    Ok(Bindings {
        sentiment: of(Signal::Sentiment),
        intents: of(Signal::Intents),
        topics: of(Signal::Topics),
    })
}

/// The analyzers bound to any signal, each once.
pub async fn bound_analyzers(db: &Db) -> Result<Vec<String>, BindError> {
    let mut names: Vec<String> = list(db).await?.into_iter().map(|b| b.analyzer).collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Binds `signal` to the analyzer `name` (installed, or bundled), audited.
/// Insights read it from the next recompute; `serve` runs it over new posts
/// from its next start. Unless `force`, a candidate that analysed none of
/// the posts the bound analyzer did is refused ([`BindError::NotCompared`]).
pub async fn bind(db: &Db, signal: &str, name: &str, actor: &str, force: bool) -> Result<Binding, BindError> {
    let signal = Signal::parse(signal).ok_or_else(|| BindError::Signal(signal.to_string()))?;
    analyzer(db, name).await?;
    let before = bound(db, signal).await?;
    if before != name && !force {
        let c = compare_with(db, &before, name, 0).await?;
        let analysed = store::newest_analyses(db, &before).await?.map_or(0, |(_, posts)| posts);
        if c.compared == 0 && analysed > 0 {
            return Err(BindError::NotCompared {
                signal: signal.as_str(),
                bound: before,
                candidate: name.to_string(),
                posts: analysed,
            });
        }
    }
    let now = now_ms();
    let mut tx = db.begin().await?;
    store::set(&mut tx, signal.as_str(), name, actor, now).await?;
    let details = json!({"from": before, "to": name, "forced": force});
    audit(&mut *tx, actor, "analyzer.bind", signal.as_str(), &details).await?;
    tx.commit().await?;
    Ok(Binding {
        signal,
        analyzer: name.to_string(),
        bound_by: actor.to_string(),
        bound_at: now,
    })
}

/// Checks that `name` is an installed or bundled analyzer plugin.
async fn analyzer(db: &Db, name: &str) -> Result<(), BindError> {
    let unknown = |why: String| BindError::Analyzer {
        name: name.to_string(),
        why,
    };
    if !plugin_name(name) {
        return Err(unknown("a plugin name is 1 to 64 of a-z, 0-9 and `-`".into()));
    }
    let found = registry::find(db, name).await.map_err(|e| unknown(e.to_string()))?;
    if found.manifest.kind != PluginKind::Analyzer || found.manifest.name != name {
        return Err(BindError::NotAnalyzer(name.to_string()));
    }
    Ok(())
}

/// The analyzer bound to `signal` now.
async fn bound(db: &Db, signal: Signal) -> Result<String, BindError> {
    let now = load(db).await?;
    Ok(match signal {
        Signal::Sentiment => now.sentiment,
        Signal::Intents => now.intents,
        Signal::Topics => now.topics,
    })
}

/// How `candidate` agrees with the analyzer bound to `signal` over the posts
/// both analysed (the shadow analyses `analyzer reanalyze` makes), with up
/// to `examples` posts that changed: what to read before a rebinding.
pub async fn compare(db: &Db, signal: &str, candidate: &str, examples: i64) -> Result<Comparison, BindError> {
    let signal = Signal::parse(signal).ok_or_else(|| BindError::Signal(signal.to_string()))?;
    analyzer(db, candidate).await?;
    let before = bound(db, signal).await?;
    compare_with(db, &before, candidate, examples).await
}

/// `bound` (the version insights read: the pinned one, else its newest
/// analyses) against `candidate`'s newest analyses.
async fn compare_with(db: &Db, bound: &str, candidate: &str, examples: i64) -> Result<Comparison, BindError> {
    let from = match reanalysis::insights_version(db, bound).await? {
        Some(pinned) => pinned,
        None => store::newest_analyses(db, bound)
            .await?
            .map(|(v, _)| v)
            .unwrap_or_default(),
    };
    let to = store::newest_analyses(db, candidate)
        .await?
        .map(|(v, _)| v)
        .unwrap_or_default();
    reanalysis::compare_analyzers(db, (bound, &from), (candidate, &to), examples.max(0))
        .await
        .map_err(|e| BindError::Compare(Box::new(e)))
}
