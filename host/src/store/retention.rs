//! The rows each kind of data under retention covers (docs/retention.md), and
//! those past a cutoff: counted, listed oldest first, and removed by id in
//! the caller's transaction. Every removal checks the rule again, so rows
//! listed before the write lock and changed since are left alone.

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, AssertSqlSafe, Row};
use utoipa::ToSchema;

use super::tombstones::{self, Why};
use super::{Backend, Db, placeholders};

/// A kind of data with a retention period of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A post's payload as the network sent it (`posts.raw`), counted from
    /// when it was ingested; replaced by `{}`, the post stays.
    RawPayloads,
    /// A post's text, counted from when it was written on the network: the
    /// post becomes a tombstone (`expired`), its analyses and scores go.
    PostText,
    /// Analyses no insight reads (an analyzer's earlier versions), counted
    /// from when they were made.
    Analyses,
    /// The egress log: plugins' outgoing requests.
    Egress,
    /// The audit log.
    Audit,
    /// Receipts of finished erasures, counted from when they finished.
    ErasureReceipts,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::RawPayloads,
        Kind::PostText,
        Kind::Analyses,
        Kind::Egress,
        Kind::Audit,
        Kind::ErasureReceipts,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::RawPayloads => "raw-payloads",
            Kind::PostText => "post-text",
            Kind::Analyses => "analyses",
            Kind::Egress => "egress",
            Kind::Audit => "audit",
            Kind::ErasureReceipts => "erasure-receipts",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    fn table(self) -> &'static str {
        match self {
            Kind::RawPayloads | Kind::PostText => "posts",
            Kind::Analyses => "analyses",
            Kind::Egress => "egress",
            Kind::Audit => "audit_log",
            Kind::ErasureReceipts => "erasures",
        }
    }

    /// The condition that row `t` is past the cutoff bound as `$n`. The posts'
    /// conditions are those of their partial indexes (migration 0018), so
    /// rows already done leave the index and a run reads only what is due.
    fn past(self, n: usize) -> String {
        match self {
            Kind::RawPayloads => format!("t.raw <> '{{}}' AND t.ingested_at < ${n}"),
            Kind::PostText => format!("t.tombstone IS NULL AND t.created_at < ${n}"),
            // Insights read the analysis of the version an admin chose for
            // them, else the newest of the post and plugin: both stay.
            Kind::Analyses => format!(
                "t.created_at < ${n} \
                 AND t.version <> COALESCE((SELECT v.version FROM insights_versions v WHERE v.plugin = t.plugin), '') \
                 AND EXISTS (SELECT 1 FROM analyses n WHERE n.plugin = t.plugin AND n.post_id = t.post_id AND n.id > t.id)"
            ),
            Kind::Egress | Kind::Audit => format!("t.at < ${n}"),
            Kind::ErasureReceipts => format!("t.status = 'done' AND t.finished_at < ${n}"),
        }
    }

    /// The order rows are taken in: the indexed time, so the oldest go first.
    fn order(self) -> &'static str {
        match self {
            Kind::RawPayloads => "t.ingested_at",
            Kind::PostText => "t.created_at",
            Kind::Analyses => "t.id",
            Kind::Egress | Kind::Audit => "t.at",
            Kind::ErasureReceipts => "t.finished_at",
        }
    }
}

/// The rows of `kind` past `cutoff` (Unix ms).
pub async fn count(db: &Db, kind: Kind, cutoff: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {} t WHERE {}",
        kind.table(),
        kind.past(1)
    )))
    .bind(cutoff)
    .fetch_one(db.pool())
    .await
}

/// The ids of up to `limit` rows of `kind` past `cutoff`, oldest first. A
/// read: the write that follows takes the lock only for the removal.
pub async fn due(db: &Db, kind: Kind, cutoff: i64, limit: i64) -> Result<Vec<i64>, sqlx::Error> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT t.id FROM {} t WHERE {} ORDER BY {} LIMIT $2",
        kind.table(),
        kind.past(1),
        kind.order()
    )))
    .bind(cutoff)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(|r| r.try_get("id")).collect()
}

/// What [`remove`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Removed {
    /// Rows deleted, or posts blanked or made tombstones.
    pub rows: u64,
    /// Contacts whose churn risk had a score from posts that are now
    /// tombstones: refreshed by the caller after the commit.
    pub contacts: Vec<i64>,
}

/// Ids per statement.
const CHUNK: usize = 500;

/// Removes the rows of `kind` among `ids` that are still past `cutoff`, in
/// the caller's transaction.
pub async fn remove(
    conn: &mut AnyConnection,
    backend: Backend,
    kind: Kind,
    cutoff: i64,
    ids: &[i64],
) -> Result<Removed, sqlx::Error> {
    let mut out = Removed::default();
    for chunk in ids.chunks(CHUNK) {
        let (list, past) = (placeholders(1, chunk.len()), kind.past(chunk.len() + 1));
        let sql = match kind {
            Kind::RawPayloads => format!("UPDATE posts AS t SET raw = '{{}}' WHERE t.id IN {list} AND {past}"),
            Kind::PostText => format!("SELECT t.id FROM posts t WHERE t.id IN {list} AND {past}"),
            _ => format!("DELETE FROM {} AS t WHERE t.id IN {list} AND {past}", kind.table()),
        };
        let mut query = sqlx::query(backend.sql(sql));
        for id in chunk {
            query = query.bind(*id);
        }
        let query = query.bind(cutoff);
        if kind == Kind::PostText {
            let expired: Vec<i64> = query
                .fetch_all(&mut *conn)
                .await?
                .iter()
                .map(|r| r.try_get("id"))
                .collect::<Result<_, _>>()?;
            let done = tombstones::tombstone(conn, backend, &expired, Why::Expired).await?;
            out.rows += done.posts;
            out.contacts.extend(done.contacts);
        } else {
            out.rows += query.execute(&mut *conn).await?.rows_affected();
        }
    }
    out.contacts.sort_unstable();
    out.contacts.dedup();
    Ok(out)
}
