//! `signal_bindings`: which analyzer supplies each built-in signal (the
//! rules are `crate::insights::bindings`'s).

use sqlx::{AnyConnection, Row};

use crate::store::Db;

/// Every binding: (signal, analyzer, bound by, bound at), by signal.
pub async fn all(db: &Db) -> Result<Vec<(String, String, String, i64)>, sqlx::Error> {
    let rows = sqlx::query("SELECT signal, analyzer, bound_by, bound_at FROM signal_bindings ORDER BY signal")
        .fetch_all(db.pool())
        .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("signal")?,
                r.try_get("analyzer")?,
                r.try_get("bound_by")?,
                r.try_get("bound_at")?,
            ))
        })
        .collect()
}

pub async fn set(
    conn: &mut AnyConnection,
    signal: &str,
    analyzer: &str,
    actor: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO signal_bindings (signal, analyzer, bound_by, bound_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (signal) DO UPDATE SET analyzer = excluded.analyzer, bound_by = excluded.bound_by, \
         bound_at = excluded.bound_at",
    )
    .bind(signal)
    .bind(analyzer)
    .bind(actor)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
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
