//! `posts`, their authors' `identities` and their `analyses`, as ingest
//! writes them: a polled page's rows in multi-row statements inside the
//! page's transaction, with its channel's (`channel_accounts`) next state.

use std::collections::HashMap;

use serde_json::json;
use sqlx::{Any, AnyConnection, AssertSqlSafe, Executor, Row};

use super::codec::{self, kind_from_name, kind_name};
use super::{Backend, Db, lookup_sql, now_ms, placeholders};
use crate::runtime::types::AnalysisInput;
use crate::runtime::types::{Analysis, Author, Direction, Post};

/// Rows per multi-row statement (well under every backend's parameter limit).
const CHUNK: usize = 500;

/// The name, key-value map and lease holder of channel `channel_id`, if it exists;
/// on PostgreSQL its row stays locked until the transaction ends, which keeps
/// a webhook and a poll from losing each other's key-value writes (SQLite
/// has one writer at a time anyway).
pub async fn lock_channel(
    conn: &mut AnyConnection,
    backend: Backend,
    channel_id: i64,
) -> Result<Option<LockedChannel>, sqlx::Error> {
    let lock = if backend == Backend::Postgres {
        " FOR UPDATE"
    } else {
        ""
    };
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT name, kv, lease_owner FROM channel_accounts WHERE id = $1{lock}"
    )))
    .bind(channel_id)
    .fetch_optional(conn)
    .await?;
    row.map(|r| {
        Ok(LockedChannel {
            name: r.try_get("name")?,
            kv: r.try_get("kv")?,
            lease_owner: r.try_get("lease_owner")?,
        })
    })
    .transpose()
}

/// A channel account locked for a commit.
#[derive(Clone, Debug)]
pub struct LockedChannel {
    pub name: String,
    /// The plugin's key-value map, as stored.
    pub kv: String,
    pub lease_owner: Option<String>,
}

/// Stores channel `channel_id`'s next `state` (unchanged when `None`) and key-value map.
pub async fn update_channel(
    conn: &mut AnyConnection,
    channel_id: i64,
    state: Option<&str>,
    kv: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE channel_accounts SET state = COALESCE($1, state), kv = $2, updated_at = $3 WHERE id = $4")
        .bind(state)
        .bind(kv)
        .bind(now)
        .bind(channel_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// An identities row as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredIdentity {
    pub id: i64,
    pub external_user_id: String,
    pub handle: String,
    pub display_name: Option<String>,
    pub profile_url: Option<String>,
    pub avatar_url: Option<String>,
    pub bio: Option<String>,
    pub followers: Option<i64>,
    /// JSON array of `{"name", "value"}` (with `"verified": true` on verified ones).
    pub fields: String,
    pub last_seen: i64,
}

/// The stored identities on `network` of the users `external_ids`.
pub async fn identities(db: &Db, network: &str, external_ids: &[&str]) -> Result<Vec<StoredIdentity>, sqlx::Error> {
    let mut found = Vec::with_capacity(external_ids.len());
    for chunk in external_ids.chunks(CHUNK) {
        let query = lookup_sql(
            db.backend(),
            "id, external_user_id, handle, display_name, profile_url, avatar_url, bio, followers, fields, last_seen",
            "identities",
            "external_user_id",
            1,
            chunk.len(),
            &format!("AND network = ${}", chunk.len() + 1),
        );
        // Planned for its values each time on PostgreSQL: a plan kept from
        // while the table was small scans it once it is not.
        let keep = db.backend() == Backend::Sqlite;
        let mut query = sqlx::query(db.backend().sql(query)).persistent(keep);
        for key in chunk {
            query = query.bind(*key);
        }
        for row in query.bind(network).fetch_all(db.pool()).await? {
            found.push(StoredIdentity {
                id: row.try_get("id")?,
                external_user_id: row.try_get("external_user_id")?,
                handle: row.try_get("handle")?,
                display_name: row.try_get("display_name")?,
                profile_url: row.try_get("profile_url")?,
                avatar_url: row.try_get("avatar_url")?,
                bio: row.try_get("bio")?,
                followers: row.try_get("followers")?,
                fields: row.try_get("fields")?,
                last_seen: row.try_get("last_seen")?,
            });
        }
    }
    Ok(found)
}

/// An author's profile to store on its identity.
#[derive(Clone, Copy, Debug)]
pub struct IdentityRow<'a> {
    pub author: &'a Author,
    pub followers: Option<i64>,
    /// JSON array of `{"name", "value"}` (with `"verified": true` on verified ones).
    pub fields: &'a str,
}

/// Upserts `rows` on (network, external user id), seen `now`; returns the
/// (id, external user id) of each.
pub async fn upsert_identities(
    conn: &mut AnyConnection,
    backend: Backend,
    network: &str,
    rows: &[IdentityRow<'_>],
    now: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let mut ids = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(CHUNK) {
        const COLUMNS: usize = 11;
        let mut query = sqlx::query(backend.sql(format!(
            "INSERT INTO identities (network, external_user_id, handle, display_name, profile_url, avatar_url, bio, \
             followers, fields, first_seen, last_seen) VALUES {} \
             ON CONFLICT (network, external_user_id) DO UPDATE SET handle = excluded.handle, \
             display_name = excluded.display_name, profile_url = excluded.profile_url, \
             avatar_url = excluded.avatar_url, bio = excluded.bio, followers = excluded.followers, \
             fields = excluded.fields, last_seen = excluded.last_seen RETURNING id, external_user_id",
            placeholders(chunk.len(), COLUMNS)
        )));
        for row in chunk {
            let author = row.author;
            query = query
                .bind(network)
                .bind(&author.external_id)
                .bind(&author.handle)
                .bind(&author.display_name)
                .bind(&author.profile_url)
                .bind(&author.avatar_url)
                .bind(&author.bio)
                .bind(row.followers)
                .bind(row.fields)
                .bind(now)
                .bind(now);
        }
        for row in query.fetch_all(&mut *conn).await? {
            ids.push((row.try_get("id")?, row.try_get("external_user_id")?));
        }
    }
    Ok(ids)
}

/// Inserts the (post, created-at) `rows` of channel `channel_id`, each
/// written by the identity `identities` holds for its author's external id,
/// ingested `now`; a post already stored is left alone. Returns the (id,
/// external id) of the posts inserted.
pub async fn insert_posts(
    conn: &mut AnyConnection,
    backend: Backend,
    channel_id: i64,
    rows: &[(&Post, i64)],
    identities: &HashMap<&str, i64>,
    now: i64,
) -> Result<Vec<(i64, String)>, sqlx::Error> {
    let mut inserted = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(CHUNK) {
        const COLUMNS: usize = 13;
        let mut query = sqlx::query(backend.sql(format!(
            "INSERT INTO posts (channel_id, external_id, identity_id, kind, direction, text, url, thread_id, \
             in_reply_to, created_at, language, raw, ingested_at) VALUES {} \
             ON CONFLICT (channel_id, external_id) DO NOTHING RETURNING id, external_id",
            placeholders(chunk.len(), COLUMNS)
        )));
        for (post, created_at) in chunk {
            let identity = identities
                .get(post.author.external_id.as_str())
                .copied()
                .unwrap_or_default();
            query = query
                .bind(channel_id)
                .bind(&post.external_id)
                .bind(identity)
                .bind(kind_name(post.kind))
                .bind(if post.direction == Direction::Inbound {
                    "inbound"
                } else {
                    "outbound"
                })
                .bind(&post.text)
                .bind(&post.url)
                .bind(&post.thread_id)
                .bind(&post.in_reply_to)
                .bind(*created_at)
                .bind(&post.language)
                .bind(&post.raw)
                .bind(now);
        }
        for row in query.fetch_all(&mut *conn).await? {
            inserted.push((row.try_get("id")?, row.try_get("external_id")?));
        }
    }
    Ok(inserted)
}

/// The newest post id (0 with none) and the number of posts.
pub async fn extent(conn: &mut AnyConnection) -> Result<(i64, i64), sqlx::Error> {
    let row = sqlx::query("SELECT COALESCE(MAX(id), 0) AS last, COUNT(*) AS total FROM posts")
        .fetch_one(conn)
        .await?;
    Ok((row.try_get("last")?, row.try_get("total")?))
}

/// A post row (`id, text, kind, language`) as an analyzer sees it.
fn input(row: &sqlx::any::AnyRow) -> Result<(i64, AnalysisInput), sqlx::Error> {
    Ok((
        row.try_get("id")?,
        AnalysisInput {
            text: row.try_get("text")?,
            kind: kind_from_name(&row.try_get::<String, _>("kind")?),
            language: row.try_get("language")?,
        },
    ))
}

/// Up to `limit` posts after id `after` that `plugin` analysed in no
/// version, in id order.
pub async fn unanalysed(
    db: &Db,
    plugin: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<(i64, AnalysisInput)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT p.id, p.text, p.kind, p.language FROM posts p WHERE p.id > $1 AND NOT EXISTS \
         (SELECT 1 FROM analyses a WHERE a.post_id = p.id AND a.plugin = $2) \
         ORDER BY p.id LIMIT $3",
    )
    .bind(after)
    .bind(plugin)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(input).collect()
}

/// Up to `limit` posts with ids in (`after`, `last`], in id order: the id
/// of each, and what `version` of `plugin` is to analyse (`None` for a post
/// that version analysed already).
pub async fn to_reanalyse(
    db: &Db,
    plugin: &str,
    version: &str,
    after: i64,
    last: i64,
    limit: i64,
) -> Result<Vec<(i64, Option<AnalysisInput>)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT p.id, p.text, p.kind, p.language, b.id AS has FROM posts p LEFT JOIN analyses b \
         ON b.post_id = p.id AND b.plugin = $1 AND b.version = $2 \
         WHERE p.id > $3 AND p.id <= $4 ORDER BY p.id LIMIT $5",
    )
    .bind(plugin)
    .bind(version)
    .bind(after)
    .bind(last)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            if row.try_get::<Option<i64>, _>("has")?.is_none() {
                let (id, input) = input(row)?;
                Ok((id, Some(input)))
            } else {
                Ok((row.try_get("id")?, None))
            }
        })
        .collect()
}

/// One multi-row insert of (post id, analysis); rows already there are left alone.
pub async fn insert_analyses<'e>(
    executor: impl Executor<'e, Database = Any>,
    backend: Backend,
    plugin: &str,
    version: &str,
    rows: &[(i64, &Analysis)],
) -> Result<usize, sqlx::Error> {
    if rows.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "INSERT INTO analyses (post_id, plugin, version, sentiment, label, intents, topics, language, signals, \
         aspects, created_at) VALUES {} ON CONFLICT (post_id, plugin, version) DO NOTHING",
        placeholders(rows.len(), 11)
    );
    let now = now_ms();
    // Not kept prepared on PostgreSQL: sqlx's `Any` binds a missing f64 as a
    // float4 NULL, and a statement prepared with it then refuses an f64 value
    // ("incorrect binary data format"); analyzers without sentiment (intent)
    // and with it (sentiment) send the same statement.
    let keep = backend == Backend::Sqlite;
    let mut query = sqlx::query(backend.sql(sql)).persistent(keep);
    for (post_id, a) in rows {
        let intents: Vec<_> = a
            .intents
            .iter()
            .map(|l| json!({"name": l.name, "confidence": l.confidence}))
            .collect();
        query = query
            .bind(*post_id)
            .bind(plugin)
            .bind(version)
            .bind(a.sentiment.map(f64::from))
            .bind(&a.label)
            .bind(serde_json::Value::from(intents).to_string())
            .bind(serde_json::Value::from(a.topics.clone()).to_string())
            .bind(&a.language)
            .bind(codec::signals_json(&a.signals))
            .bind(codec::aspects_json(&a.aspects))
            .bind(now);
    }
    Ok(query.execute(executor).await?.rows_affected() as usize)
}

/// The versions of `plugin` other than `version` that analysed posts
/// (a value that does not decode is left out).
pub async fn analysis_versions_besides(db: &Db, plugin: &str, version: &str) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query("SELECT DISTINCT version FROM analyses WHERE plugin = $1 AND version <> $2")
        .bind(plugin)
        .bind(version)
        .fetch_all(db.pool())
        .await?;
    Ok(rows.iter().filter_map(|r| r.try_get("version").ok()).collect())
}

/// Whether `version` of `plugin` analysed any post.
pub async fn any_analysis(db: &Db, plugin: &str, version: &str) -> Result<bool, sqlx::Error> {
    let any = sqlx::query("SELECT 1 AS one FROM analyses WHERE plugin = $1 AND version = $2 LIMIT 1")
        .bind(plugin)
        .bind(version)
        .fetch_optional(db.pool())
        .await?;
    Ok(any.is_some())
}

/// Refreshes the planner's statistics of `analyses` after a bulk write (on
/// PostgreSQL; SQLite needs none): without them the planner picked nested
/// loops that made the comparison of two versions and the recompute of a
/// switch take minutes for 20,000 posts.
pub async fn refresh_analyses_statistics(db: &Db) -> Result<(), sqlx::Error> {
    if db.backend() == Backend::Postgres {
        sqlx::query("ANALYZE analyses").execute(db.pool()).await?;
    }
    Ok(())
}
