//! Tombstones: posts whose text and raw payload are gone (erased, deleted by
//! their author on the network, or past their retention). The row stays, so
//! replies, threads and the (channel, external id) key that stops a re-ingest
//! still hold; every score derived from the post goes with its text.

use std::collections::BTreeSet;

use sqlx::{AnyConnection, Row};

use super::{Backend, placeholders};

/// Why a post is a tombstone (`posts.tombstone`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Why {
    /// A data subject's erasure.
    Erased,
    /// Deleted by its author on the network.
    Deleted,
    /// Past the retention period of post text.
    Expired,
}

impl Why {
    pub fn as_str(self) -> &'static str {
        match self {
            Why::Erased => "erased",
            Why::Deleted => "deleted",
            Why::Expired => "expired",
        }
    }
}

/// What [`tombstone`] changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tombstoned {
    /// Posts that became tombstones (already tombstones are not counted).
    pub posts: u64,
    /// Contacts that had a score from these posts: their churn risk is
    /// refreshed by the caller after the commit.
    pub contacts: Vec<i64>,
}

/// Ids per statement.
const CHUNK: usize = 500;

/// Makes tombstones of `post_ids` in the caller's transaction: text and raw
/// payload blanked, URL and language cleared, and their analyses, scores,
/// topics and advocacy events deleted, and their ids dropped from alerts'
/// examples with the alert's counts taken again from the topics that remain.
/// Idempotent.
pub async fn tombstone(
    conn: &mut AnyConnection,
    backend: Backend,
    post_ids: &[i64],
    why: Why,
) -> Result<Tombstoned, sqlx::Error> {
    let mut out = Tombstoned::default();
    let mut contacts = BTreeSet::new();
    for ids in post_ids.chunks(CHUNK) {
        let list = placeholders(1, ids.len());
        let bound = |sql: String| {
            let mut q = sqlx::query(backend.sql(sql));
            for id in ids {
                q = q.bind(*id);
            }
            q
        };
        for row in bound(format!(
            "SELECT DISTINCT contact_id FROM post_scores WHERE contact_id IS NOT NULL AND post_id IN {list}"
        ))
        .fetch_all(&mut *conn)
        .await?
        {
            contacts.insert(row.try_get::<i64, _>("contact_id")?);
        }
        // (topic, day start) of the topics these posts counted in.
        let days: BTreeSet<(String, i64)> = bound(format!(
            "SELECT topic, created_at FROM post_topics WHERE post_id IN {list}"
        ))
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            Ok((
                r.try_get("topic")?,
                r.try_get::<i64, _>("created_at")?.div_euclid(super::DAY_MS) * super::DAY_MS,
            ))
        })
        .collect::<Result<_, sqlx::Error>>()?;
        let n = ids.len();
        let mut q = sqlx::query(backend.sql(format!(
            "UPDATE posts SET text = '', raw = '{{}}', url = NULL, language = NULL, tombstone = ${} \
             WHERE id IN {list} AND (tombstone IS NULL OR tombstone <> ${} OR text <> '' OR raw <> '{{}}')",
            n + 1,
            n + 2
        )));
        for id in ids {
            q = q.bind(*id);
        }
        out.posts += q
            .bind(why.as_str())
            .bind(why.as_str())
            .execute(&mut *conn)
            .await?
            .rows_affected();
        for table in ["analyses", "post_scores", "post_topics", "advocacy_events"] {
            bound(format!("DELETE FROM {table} WHERE post_id IN {list}"))
                .execute(&mut *conn)
                .await?;
        }
        drop_from_alerts(conn, backend, ids, &days).await?;
    }
    out.contacts = contacts.into_iter().collect();
    Ok(out)
}

/// Drops `ids` from the examples of alerts and counts the alerts of `days`
/// (topic, day) again from `post_topics`.
async fn drop_from_alerts(
    conn: &mut AnyConnection,
    backend: Backend,
    ids: &[i64],
    days: &BTreeSet<(String, i64)>,
) -> Result<(), sqlx::Error> {
    let gone: BTreeSet<i64> = ids.iter().copied().collect();
    let alerts = sqlx::query("SELECT id, subject, bucket_start, examples FROM alerts")
        .fetch_all(&mut *conn)
        .await?;
    for alert in alerts {
        let id: i64 = alert.try_get("id")?;
        let key: (String, i64) = (alert.try_get("subject")?, alert.try_get("bucket_start")?);
        let examples: Vec<i64> = serde_json::from_str(&alert.try_get::<String, _>("examples")?).unwrap_or_default();
        let kept: Vec<i64> = examples.iter().copied().filter(|e| !gone.contains(e)).collect();
        if kept.len() == examples.len() && !days.contains(&key) {
            continue;
        }
        let negative = super::dialect::num(crate::insights::NEGATIVE);
        let counts = sqlx::query(backend.sql(format!(
            "SELECT COUNT(*) AS posts, COALESCE(SUM(CASE WHEN sentiment <= {negative} THEN 1 ELSE 0 END), 0) AS negative \
             FROM post_topics WHERE topic = $1 AND created_at >= $2 AND created_at < $3"
        )))
        .bind(&key.0)
        .bind(key.1)
        .bind(key.1 + super::DAY_MS)
        .fetch_one(&mut *conn)
        .await?;
        sqlx::query("UPDATE alerts SET examples = $1, posts = $2, negative = $3, updated_at = $4 WHERE id = $5")
            .bind(serde_json::to_string(&kept).unwrap_or_else(|_| "[]".into()))
            .bind(counts.try_get::<i64, _>("posts")?)
            .bind(counts.try_get::<i64, _>("negative")?)
            .bind(super::now_ms())
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}
