//! Custom signals and aspects (`crate::insights::custom`): the signals
//! analyzers declare (`custom_signals`), the brand's taxonomy (`taxonomy`),
//! and the per-post rows the inbox filters and trends read (`post_signals`,
//! `post_aspects`), built from the analysis insights read of each analyzer.

use std::collections::HashMap;

use sqlx::{AnyConnection, Row};

use super::{Scope, bound_analysis};
use crate::store::codec::{StoredMention, StoredReading};
use crate::store::dialect;
use crate::store::{Backend, Db, placeholders};

/// A declared custom signal.
#[derive(Clone, Debug, PartialEq)]
pub struct SignalRow {
    pub name: String,
    pub plugin: String,
    pub display_name: String,
    /// JSON: `{"score": {"min", "max"}}`, `{"label": [...]}` or `{"labels": [...]}`.
    pub kind: String,
}

/// Replaces what `plugin` declares.
pub async fn declare(db: &Db, plugin: &str, signals: &[SignalRow], now: i64) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM custom_signals WHERE plugin = $1")
        .bind(plugin)
        .execute(&mut *tx)
        .await?;
    for s in signals {
        sqlx::query(
            "INSERT INTO custom_signals (name, plugin, display_name, kind, updated_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&s.name)
        .bind(plugin)
        .bind(&s.display_name)
        .bind(&s.kind)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}

/// Every declared signal, by name and plugin.
pub async fn signals(db: &Db) -> Result<Vec<SignalRow>, sqlx::Error> {
    let rows = sqlx::query("SELECT name, plugin, display_name, kind FROM custom_signals ORDER BY name, plugin")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(SignalRow {
                name: r.try_get("name")?,
                plugin: r.try_get("plugin")?,
                display_name: r.try_get("display_name")?,
                kind: r.try_get("kind")?,
            })
        })
        .collect()
}

/// A taxonomy entry as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryRow {
    pub id: String,
    pub kind: String,
    pub name: String,
    /// JSON array of strings.
    pub synonyms: String,
}

pub async fn taxonomy(db: &Db) -> Result<Vec<EntryRow>, sqlx::Error> {
    let rows = sqlx::query("SELECT id, kind, name, synonyms FROM taxonomy ORDER BY kind, id")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(EntryRow {
                id: r.try_get("id")?,
                kind: r.try_get("kind")?,
                name: r.try_get("name")?,
                synonyms: r.try_get("synonyms")?,
            })
        })
        .collect()
}

pub async fn put_entry(conn: &mut AnyConnection, e: &EntryRow, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO taxonomy (id, kind, name, synonyms, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, synonyms = excluded.synonyms, \
         updated_at = excluded.updated_at",
    )
    .bind(&e.id)
    .bind(&e.kind)
    .bind(&e.name)
    .bind(&e.synonyms)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes entry `id`; false when there was none.
pub async fn remove_entry(conn: &mut AnyConnection, id: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM taxonomy WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The analysis of one post and analyzer that insights read.
#[derive(Clone)]
struct Read {
    pinned: bool,
    id: i64,
    signals: String,
    /// Read only from the analysis bound to aspects for the post.
    aspects: Option<String>,
    created_at: i64,
    identity_id: i64,
}

/// A row of `post_signals` to write.
struct SignalOut {
    post: i64,
    plugin: String,
    name: String,
    score: Option<f64>,
    label: Option<String>,
    at: i64,
}

/// Rebuilds `post_signals` and `post_aspects` of the posts in `scope`, in
/// the caller's transaction: signals from each analyzer's analysis insights
/// read (the version pinned for insights, else its newest), aspects from the
/// analysis bound to `aspects` for the post (see [`bound_analysis`]), so two
/// analyzers never count one mention twice. Returns the rows written.
pub async fn refresh(conn: &mut AnyConnection, backend: Backend, scope: &Scope) -> Result<u64, sqlx::Error> {
    let with = match scope.cte() {
        cte if cte.is_empty() => String::new(),
        cte => format!("WITH {}", cte.trim_end_matches(',')),
    };
    for table in ["post_signals", "post_aspects"] {
        let sql = format!("{with} DELETE FROM {table} WHERE {}", scope.pred("post_id"));
        scope.bind(sqlx::query(backend.sql(sql))).execute(&mut *conn).await?;
    }
    let sql = format!(
        "WITH {cte} {na} SELECT a.id, a.post_id, a.plugin, a.version, a.signals, a.aspects, p.created_at, \
         p.identity_id, CASE WHEN na.id = a.id THEN 1 ELSE 0 END AS aspects_bound \
         FROM analyses a JOIN posts p ON p.id = a.post_id LEFT JOIN na ON na.post_id = a.post_id \
         WHERE {a_scope} AND (a.signals <> '[]' OR a.aspects <> '[]') ORDER BY a.id",
        cte = scope.cte(),
        na = bound_analysis("na", "aspects", scope, dialect::materialized(backend)),
        a_scope = scope.pred("a.post_id"),
    );
    let rows = scope.bind(sqlx::query(backend.sql(sql))).fetch_all(&mut *conn).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let pinned: HashMap<String, String> = sqlx::query("SELECT plugin, version FROM insights_versions")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("plugin")?, r.try_get("version")?)))
        .collect::<Result<_, sqlx::Error>>()?;
    // Per post and analyzer: the pinned version's analysis, else the newest.
    let mut read: HashMap<(i64, String), Read> = HashMap::new();
    for r in &rows {
        let (post, plugin, version): (i64, String, String) =
            (r.try_get("post_id")?, r.try_get("plugin")?, r.try_get("version")?);
        let candidate = Read {
            pinned: pinned.get(&plugin) == Some(&version),
            id: r.try_get("id")?,
            signals: r.try_get("signals")?,
            aspects: (r.try_get::<i64, _>("aspects_bound")? == 1)
                .then(|| r.try_get("aspects"))
                .transpose()?,
            created_at: r.try_get("created_at")?,
            identity_id: r.try_get("identity_id")?,
        };
        read.entry((post, plugin))
            .and_modify(|best| {
                if (candidate.pinned, candidate.id) > (best.pinned, best.id) {
                    *best = candidate.clone();
                }
            })
            .or_insert(candidate);
    }
    let (mut signals, mut aspects) = (Vec::new(), Vec::new());
    for ((post, plugin), r) in read {
        let at = r.created_at;
        let row = |name: &str, score, label| SignalOut {
            post,
            plugin: plugin.clone(),
            name: name.to_string(),
            score,
            label,
            at,
        };
        // Written by the host from checked answers; a row edited by hand into
        // something else is read as empty.
        let readings: Vec<StoredReading> = serde_json::from_str(&r.signals).unwrap_or_default();
        for reading in readings {
            match (reading.score, reading.label, reading.labels) {
                (Some(score), ..) => signals.push(row(&reading.name, Some(score), None)),
                (None, Some(label), _) => signals.push(row(&reading.name, None, Some(label))),
                (None, None, Some(labels)) => {
                    signals.extend(labels.into_iter().map(|l| row(&reading.name, None, Some(l))));
                }
                (None, None, None) => {}
            }
        }
        let mentions: Vec<StoredMention> = r
            .aspects
            .as_deref()
            .map(|a| serde_json::from_str(a).unwrap_or_default())
            .unwrap_or_default();
        let mut seen = Vec::new();
        for m in mentions {
            // One row per entry a post mentions: the first mention's sentiment.
            if !seen.contains(&m.entry) {
                seen.push(m.entry.clone());
                aspects.push((
                    post,
                    r.identity_id,
                    plugin.clone(),
                    m.entry,
                    m.sentiment.map(f64::from),
                    at,
                ));
            }
        }
    }
    let mut written = 0;
    for chunk in signals.chunks(1000) {
        let sql = format!(
            "INSERT INTO post_signals (post_id, plugin, name, score, label, value, created_at) VALUES {}",
            placeholders(chunk.len(), 7)
        );
        let mut query = sqlx::query(backend.sql(sql)).persistent(false);
        for s in chunk {
            let value = match (s.score, &s.label) {
                (_, Some(label)) => label.clone(),
                (Some(score), None) => format!("{score:.2}"),
                (None, None) => String::new(),
            };
            query = query
                .bind(s.post)
                .bind(&s.plugin)
                .bind(&s.name)
                .bind(s.score)
                .bind(&s.label)
                .bind(value)
                .bind(s.at);
        }
        written += query.execute(&mut *conn).await?.rows_affected();
    }
    for chunk in aspects.chunks(1000) {
        let sql = format!(
            "INSERT INTO post_aspects (post_id, identity_id, plugin, entry, sentiment, created_at) VALUES {}",
            placeholders(chunk.len(), 6)
        );
        let mut query = sqlx::query(backend.sql(sql)).persistent(false);
        for (post, identity, plugin, entry, sentiment, at) in chunk {
            query = query
                .bind(*post)
                .bind(*identity)
                .bind(plugin)
                .bind(entry)
                .bind(*sentiment)
                .bind(*at);
        }
        written += query.execute(&mut *conn).await?.rows_affected();
    }
    Ok(written)
}
