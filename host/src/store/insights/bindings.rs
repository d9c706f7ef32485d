//! `signal_bindings`: which analyzer supplies each built-in signal (the
//! rules are `crate::insights::bindings`'s).

use sqlx::{AnyConnection, Row};

use crate::store::Db;

/// A stored binding: `scope` is '' (everywhere), `channel:NAME` or
/// `language:CODE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub signal: String,
    pub scope: String,
    pub analyzer: String,
    pub bound_by: String,
    pub bound_at: i64,
}

/// Every binding, by signal and scope.
pub async fn all(db: &Db) -> Result<Vec<Stored>, sqlx::Error> {
    let rows =
        sqlx::query("SELECT signal, scope, analyzer, bound_by, bound_at FROM signal_bindings ORDER BY signal, scope")
            .fetch_all(db.pool())
            .await?;
    rows.iter()
        .map(|r| {
            Ok(Stored {
                signal: r.try_get("signal")?,
                scope: r.try_get("scope")?,
                analyzer: r.try_get("analyzer")?,
                bound_by: r.try_get("bound_by")?,
                bound_at: r.try_get("bound_at")?,
            })
        })
        .collect()
}

pub async fn set(conn: &mut AnyConnection, b: &Stored) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO signal_bindings (signal, scope, analyzer, bound_by, bound_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (signal, scope) DO UPDATE SET analyzer = excluded.analyzer, bound_by = excluded.bound_by, \
         bound_at = excluded.bound_at",
    )
    .bind(&b.signal)
    .bind(&b.scope)
    .bind(&b.analyzer)
    .bind(&b.bound_by)
    .bind(b.bound_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Removes the binding of `signal` in `scope`; whether there was one.
pub async fn remove(conn: &mut AnyConnection, signal: &str, scope: &str) -> Result<bool, sqlx::Error> {
    let done = sqlx::query("DELETE FROM signal_bindings WHERE signal = $1 AND scope = $2")
        .bind(signal)
        .bind(scope)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// The version of `plugin`'s newest analysis, with how many posts that
/// version analysed; `None` when it analysed nothing.
pub async fn newest_analyses(db: &Db, plugin: &str) -> Result<Option<(String, i64)>, sqlx::Error> {
    let newest: Option<String> =
        sqlx::query_scalar("SELECT version FROM analyses WHERE plugin = $1 ORDER BY created_at DESC, id DESC LIMIT 1")
            .bind(plugin)
            .fetch_optional(db.pool())
            .await?;
    let Some(version) = newest else {
        return Ok(None);
    };
    let posts = analysed(db, plugin, &version).await?;
    Ok(Some((version, posts)))
}

/// How many posts version `version` of `plugin` analysed.
pub async fn analysed(db: &Db, plugin: &str, version: &str) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM analyses WHERE plugin = $1 AND version = $2")
        .bind(plugin)
        .bind(version)
        .fetch_one(db.pool())
        .await
}
