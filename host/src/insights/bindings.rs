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
    /// The taxonomy entries a post mentions, with the sentiment of what it
    /// says of each (trends, spikes and macro responses per aspect).
    Aspects,
}

impl Signal {
    pub const ALL: [Signal; 4] = [Signal::Sentiment, Signal::Intents, Signal::Topics, Signal::Aspects];

    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Sentiment => "sentiment",
            Signal::Intents => "intents",
            Signal::Topics => "topics",
            Signal::Aspects => "aspects",
        }
    }

    pub fn parse(text: &str) -> Option<Signal> {
        Signal::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// The bundled analyzer a fresh install binds.
    fn bundled(self) -> &'static str {
        match self {
            Signal::Sentiment | Signal::Aspects => "sentiment",
            Signal::Intents | Signal::Topics => "intent",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("`{0}` is not a signal: sentiment, intents, topics or aspects")]
    Signal(String),
    #[error("no analyzer `{name}`: {why}")]
    Analyzer { name: String, why: String },
    #[error("`{0}` is not an analyzer plugin")]
    NotAnalyzer(String),
    #[error(
        "`{0}` is not a binding scope: `channel:NAME` (a channel account), `language:CODE` (a language as networks \
         report it, such as `de` or `pt-br`) or nothing (everywhere)"
    )]
    Scope(String),
    #[error("no channel account `{0}`")]
    Channel(String),
    #[error("{signal} has no binding for `{scope}`")]
    NotBound { signal: &'static str, scope: String },
    #[error("the binding of {0} everywhere can be changed, not removed")]
    Everywhere(&'static str),
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

/// One binding as the CLI and the API show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Binding {
    pub signal: Signal,
    /// Where it holds: `channel:NAME`, `language:CODE`, or null for
    /// everywhere. Per post, a channel's binding comes first, then its
    /// language's, then the one everywhere.
    pub scope: Option<String>,
    pub analyzer: String,
    /// Who bound it (`install` for a fresh install's), and when (Unix ms).
    pub bound_by: String,
    pub bound_at: i64,
}

/// Plugin names are `[a-z0-9-]{1,64}`.
fn plugin_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A language code as networks report one: `de`, `pt-br`, `zh-hant`.
fn language_code(code: &str) -> bool {
    let mut parts = code.split('-');
    let primary = parts.next().unwrap_or_default();
    (2..=3).contains(&primary.len())
        && primary.bytes().all(|b| b.is_ascii_lowercase())
        && parts.clone().count() <= 3
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Every binding: each signal's everywhere (the bundled analyzer when none
/// is stored), then the scoped ones.
pub async fn list(db: &Db) -> Result<Vec<Binding>, BindError> {
    let stored = store::all(db).await?;
    let mut out = Vec::new();
    for signal in Signal::ALL {
        let everywhere = stored
            .iter()
            .find(|b| b.signal == signal.as_str() && b.scope.is_empty());
        out.push(match everywhere {
            Some(b) => binding(signal, b)?,
            None => Binding {
                signal,
                scope: None,
                analyzer: signal.bundled().to_string(),
                bound_by: "install".to_string(),
                bound_at: 0,
            },
        });
    }
    for signal in Signal::ALL {
        for b in stored
            .iter()
            .filter(|b| b.signal == signal.as_str() && !b.scope.is_empty())
        {
            out.push(binding(signal, b)?);
        }
    }
    Ok(out)
}

fn binding(signal: Signal, b: &store::Stored) -> Result<Binding, BindError> {
    if !plugin_name(&b.analyzer) {
        return Err(BindError::Stored {
            signal: signal.as_str().into(),
            analyzer: b.analyzer.clone(),
        });
    }
    Ok(Binding {
        signal,
        scope: (!b.scope.is_empty()).then(|| b.scope.clone()),
        analyzer: b.analyzer.clone(),
        bound_by: b.bound_by.clone(),
        bound_at: b.bound_at,
    })
}

/// The analyzers bound to any signal anywhere, each once: what runs over
/// new posts.
pub async fn bound_analyzers(db: &Db) -> Result<Vec<String>, BindError> {
    let mut names: Vec<String> = list(db).await?.into_iter().map(|b| b.analyzer).collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// Checks `scope` (None or "" is everywhere): a known channel account or a
/// well-formed language code. Returns it as stored.
async fn scope_of(db: &Db, scope: Option<&str>) -> Result<String, BindError> {
    let scope = scope.unwrap_or_default();
    if scope.is_empty() {
        return Ok(String::new());
    }
    match scope.split_once(':') {
        Some(("channel", name)) if (1..=128).contains(&name.chars().count()) && !name.chars().any(|c| c < ' ') => {
            if crate::store::accounts::id(db.pool(), name).await?.is_none() {
                return Err(BindError::Channel(name.to_string()));
            }
        }
        Some(("language", code)) if language_code(code) => {}
        _ => return Err(BindError::Scope(scope.to_string())),
    }
    Ok(scope.to_string())
}

/// Binds `signal` in `scope` (see [`Binding::scope`]) to the analyzer `name`
/// (installed, or bundled), audited. Insights read it from the next
/// recompute; `serve` runs it over new posts from its next start. Unless
/// `force`, a candidate that analysed none of the posts the analyzer in
/// effect there did is refused ([`BindError::NotCompared`]).
pub async fn bind(
    db: &Db,
    signal: &str,
    scope: Option<&str>,
    name: &str,
    actor: &str,
    force: bool,
) -> Result<Binding, BindError> {
    let signal = Signal::parse(signal).ok_or_else(|| BindError::Signal(signal.to_string()))?;
    let scope = scope_of(db, scope).await?;
    analyzer(db, name).await?;
    let before = bound(db, signal, &scope).await?;
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
    let row = store::Stored {
        signal: signal.as_str().to_string(),
        scope,
        analyzer: name.to_string(),
        bound_by: actor.to_string(),
        bound_at: now_ms(),
    };
    let mut tx = db.begin().await?;
    store::set(&mut tx, &row).await?;
    let details = json!({"from": before, "to": name, "forced": force, "scope": row.scope});
    audit(&mut *tx, actor, "analyzer.bind", signal.as_str(), &details).await?;
    tx.commit().await?;
    binding(signal, &row)
}

/// Removes the binding of `signal` in `scope` (a channel's or a language's;
/// the one everywhere can only be changed), audited: its posts read the
/// next binding in line from the next recompute.
pub async fn unbind(db: &Db, signal: &str, scope: &str, actor: &str) -> Result<(), BindError> {
    let signal = Signal::parse(signal).ok_or_else(|| BindError::Signal(signal.to_string()))?;
    if scope.is_empty() {
        return Err(BindError::Everywhere(signal.as_str()));
    }
    let mut tx = db.begin().await?;
    if !store::remove(&mut tx, signal.as_str(), scope).await? {
        return Err(BindError::NotBound {
            signal: signal.as_str(),
            scope: scope.to_string(),
        });
    }
    audit(
        &mut *tx,
        actor,
        "analyzer.unbind",
        signal.as_str(),
        &json!({"scope": scope}),
    )
    .await?;
    tx.commit().await?;
    Ok(())
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

/// The analyzer in effect for `signal` in `scope`: its own binding, else the
/// one everywhere.
async fn bound(db: &Db, signal: Signal, scope: &str) -> Result<String, BindError> {
    let list = list(db).await?;
    let of = |scope: Option<&str>| {
        list.iter()
            .find(|b| b.signal == signal && b.scope.as_deref() == scope)
            .map(|b| b.analyzer.clone())
    };
    Ok(of(Some(scope))
        .or_else(|| of(None))
        .unwrap_or_else(|| signal.bundled().to_string()))
}

/// How `candidate` agrees with the analyzer bound to `signal` over the posts
/// both analysed (the shadow analyses `analyzer reanalyze` makes), with up
/// to `examples` posts that changed: what to read before a rebinding.
pub async fn compare(
    db: &Db,
    signal: &str,
    scope: Option<&str>,
    candidate: &str,
    examples: i64,
) -> Result<Comparison, BindError> {
    let signal = Signal::parse(signal).ok_or_else(|| BindError::Signal(signal.to_string()))?;
    let scope = scope_of(db, scope).await?;
    analyzer(db, candidate).await?;
    let before = bound(db, signal, &scope).await?;
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
