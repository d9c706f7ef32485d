//! What the networks say changed in stored posts (docs/network-deletions.md):
//! the posts a deletion or a departed user names, edits, the posts handed to
//! a re-check (`channel_upkeep` keeps where the last run stopped), and the
//! analyses of an edited post's posts for it to be analysed again.

use sqlx::{AnyConnection, Row};

use super::{Backend, Db, placeholders};
use crate::runtime::types::{AnalysisInput, StoredPost};
use crate::store::codec::{kind_from_name, ms_rfc3339};

/// Ids per statement.
const CHUNK: usize = 500;

/// The ids of the posts of channel `channel_id` with these external ids.
pub async fn post_ids(
    conn: &mut AnyConnection,
    backend: Backend,
    channel_id: i64,
    external_ids: &[&str],
) -> Result<Vec<i64>, sqlx::Error> {
    let mut ids = Vec::new();
    for chunk in external_ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT id FROM posts WHERE external_id IN {} AND channel_id = ${}",
            placeholders(1, chunk.len()),
            chunk.len() + 1
        );
        let mut q = sqlx::query(backend.sql(sql));
        for id in chunk {
            q = q.bind(*id);
        }
        for row in q.bind(channel_id).fetch_all(&mut *conn).await? {
            ids.push(row.try_get("id")?);
        }
    }
    Ok(ids)
}

/// The ids of the posts of channel `channel_id` by user `external_user_id`
/// of `network`.
pub async fn posts_of_user(
    conn: &mut AnyConnection,
    channel_id: i64,
    network: &str,
    external_user_id: &str,
) -> Result<Vec<i64>, sqlx::Error> {
    sqlx::query(
        "SELECT p.id FROM posts p JOIN identities i ON i.id = p.identity_id \
         WHERE i.network = $1 AND i.external_user_id = $2 AND p.channel_id = $3",
    )
    .bind(network)
    .bind(external_user_id)
    .bind(channel_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| r.try_get("id"))
    .collect()
}

/// Applies an edit of post `external_id` of channel `channel_id`: its text
/// (and raw payload when given) replaced, and what was derived from the old
/// text (analyses, scores, topics, advocacy events) deleted, so it is
/// analysed again. Returns the post's id, or `None` when nothing changed:
/// the post is unknown, a tombstone, or already reads `text`.
pub async fn edit(
    conn: &mut AnyConnection,
    channel_id: i64,
    external_id: &str,
    text: &str,
    raw: Option<&str>,
) -> Result<Option<i64>, sqlx::Error> {
    let row = sqlx::query(
        "UPDATE posts SET text = $1, raw = COALESCE($2, raw) \
         WHERE channel_id = $3 AND external_id = $4 AND tombstone IS NULL AND text <> $5 RETURNING id",
    )
    .bind(text)
    .bind(raw)
    .bind(channel_id)
    .bind(external_id)
    .bind(text)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    let id: i64 = row.try_get("id")?;
    for table in ["analyses", "post_scores", "post_topics", "advocacy_events"] {
        sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table} WHERE post_id = $1")))
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(Some(id))
}

/// What the analyzers see of posts `ids` (tombstones left out).
pub async fn analysis_inputs(db: &Db, ids: &[i64]) -> Result<Vec<(i64, AnalysisInput)>, sqlx::Error> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        let sql = format!(
            "SELECT id, text, kind, language FROM posts WHERE tombstone IS NULL AND id IN {} ORDER BY id",
            placeholders(1, chunk.len())
        );
        let mut q = sqlx::query(db.backend().sql(sql));
        for id in chunk {
            q = q.bind(*id);
        }
        for row in q.fetch_all(db.pool()).await? {
            out.push((
                row.try_get("id")?,
                AnalysisInput {
                    text: row.try_get("text")?,
                    kind: kind_from_name(&row.try_get::<String, _>("kind")?),
                    language: row.try_get("language")?,
                },
            ));
        }
    }
    Ok(out)
}

/// Where a channel's re-checks stand.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Upkeep {
    /// When the next run is due (Unix ms).
    pub due_at: i64,
    /// The last post handed over: (created_at, id).
    pub after: (i64, i64),
}

/// The re-check state of channel `channel_id`; a channel never re-checked is
/// due now, from the start of its window.
pub async fn upkeep(db: &Db, channel_id: i64) -> Result<Upkeep, sqlx::Error> {
    let row = sqlx::query("SELECT due_at, after_created_at, after_post_id FROM channel_upkeep WHERE channel_id = $1")
        .bind(channel_id)
        .fetch_optional(db.pool())
        .await?;
    Ok(match row {
        Some(r) => Upkeep {
            due_at: r.try_get("due_at")?,
            after: (r.try_get("after_created_at")?, r.try_get("after_post_id")?),
        },
        None => Upkeep::default(),
    })
}

/// Makes channel `channel_id`'s next re-check due now.
pub async fn make_due(db: &Db, channel_id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE channel_upkeep SET due_at = 0 WHERE channel_id = $1")
        .bind(channel_id)
        .execute(db.pool())
        .await?;
    Ok(())
}

/// Records where channel `channel_id`'s re-checks stand after a run.
pub async fn set_upkeep(
    conn: &mut AnyConnection,
    channel_id: i64,
    upkeep: Upkeep,
    error: Option<&str>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO channel_upkeep (channel_id, due_at, after_created_at, after_post_id, last_error, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (channel_id) DO UPDATE SET due_at = excluded.due_at, \
         after_created_at = excluded.after_created_at, after_post_id = excluded.after_post_id, \
         last_error = excluded.last_error, updated_at = excluded.updated_at",
    )
    .bind(channel_id)
    .bind(upkeep.due_at)
    .bind(upkeep.after.0)
    .bind(upkeep.after.1)
    .bind(error)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Up to `limit` posts of channel `channel_id` created at `since` or later
/// and after `after` (created_at, id), oldest first, tombstones left out:
/// each with its (created_at, id), the key of the next page.
pub async fn stored_posts(
    db: &Db,
    channel_id: i64,
    since: i64,
    after: (i64, i64),
    limit: i64,
) -> Result<Vec<((i64, i64), StoredPost)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT p.id, p.external_id, p.created_at, p.text, i.external_user_id FROM posts p \
         JOIN identities i ON i.id = p.identity_id \
         WHERE p.channel_id = $1 AND p.created_at >= $2 AND p.tombstone IS NULL \
         AND (p.created_at, p.id) > ($3, $4) ORDER BY p.created_at, p.id LIMIT $5",
    )
    .bind(channel_id)
    .bind(since)
    .bind(after.0)
    .bind(after.1)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            let created_at: i64 = r.try_get("created_at")?;
            Ok((
                (created_at, r.try_get("id")?),
                StoredPost {
                    external_id: r.try_get("external_id")?,
                    author_id: r.try_get("external_user_id")?,
                    created_at: ms_rfc3339(created_at),
                    text: r.try_get("text")?,
                },
            ))
        })
        .collect()
}
