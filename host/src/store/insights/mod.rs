//! The statements of insights (`crate::insights` holds the formulas and
//! passes their constants in): `post_scores` ([`priority`]), `contact_scores`
//! ([`churn`]), `post_topics` ([`trends`]), `alerts` ([`spikes`]) and
//! `advocacy_events` ([`advocacy`]). Scoring is set-based: a few statements
//! over a [`Scope`] of posts, not a query per post.

pub mod advocacy;
pub mod bindings;
pub mod churn;
pub mod custom;
pub mod predictions;
pub mod priority;
pub mod spikes;
pub mod trends;

use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, AssertSqlSafe, Row};

use super::{Backend, Db};

/// SQLite page cache (KiB) while a range of posts is scored, instead of the
/// default 2 MiB: the score and topic indexes take writes all over.
const SQLITE_CACHE_KIB: i64 = 65_536;

/// Which posts a statement covers: an id range `(lo, hi]` or a list of ids.
#[derive(Clone, Debug)]
pub enum Scope {
    Range(i64, i64),
    Ids(Vec<i64>),
}

impl Scope {
    /// A `WITH` entry naming the ids (`scope_ids(id)`), bound as `$1..$n`;
    /// empty for a range. Goes first so its parameters come first.
    fn cte(&self) -> String {
        match self {
            Scope::Range(..) => String::new(),
            Scope::Ids(ids) => {
                let values: Vec<String> = (1..=ids.len()).map(|i| format!("(${i})")).collect();
                format!("scope_ids(id) AS (VALUES {}),", values.join(", "))
            }
        }
    }

    /// The condition that `column` is in scope.
    fn pred(&self, column: &str) -> String {
        match self {
            Scope::Range(lo, hi) => format!("{column} > {lo} AND {column} <= {hi}"),
            Scope::Ids(_) => format!("{column} IN (SELECT id FROM scope_ids)"),
        }
    }

    fn bind<'q>(&'q self, mut query: Query<'q, Any, AnyArguments>) -> Query<'q, Any, AnyArguments> {
        if let Scope::Ids(ids) = self {
            for id in ids {
                query = query.bind(*id);
            }
        }
        query
    }
}

/// The CTE `{name}(post_id, id)`: per post in `scope`, the id of the
/// analysis insights read for `signal` (a built-in signal's name, not user
/// input). Its analyzer is the one bound (`signal_bindings`) for the post's
/// channel account, else for its language, else everywhere; its version the
/// one an admin made active for insights (`insights_versions`, see
/// `crate::reanalysis`), else the post's newest. So no query names a plugin,
/// and a new version's re-analysis changes no score until switched to.
fn bound_analysis(name: &str, signal: &str, scope: &Scope, m: &str) -> String {
    format!(
        "{name} AS {m}(SELECT a.post_id, \
         COALESCE(MAX(CASE WHEN a.version = iv.version THEN a.id END), MAX(a.id)) AS id \
         FROM posts p JOIN channel_accounts c ON c.id = p.channel_id \
         LEFT JOIN signal_bindings bc ON bc.signal = '{signal}' AND bc.scope = 'channel:' || c.name \
         LEFT JOIN signal_bindings bl ON bl.signal = '{signal}' AND bl.scope = 'language:' || p.language \
         LEFT JOIN signal_bindings bg ON bg.signal = '{signal}' AND bg.scope = '' \
         JOIN analyses a ON a.post_id = p.id AND a.plugin = COALESCE(bc.analyzer, bl.analyzer, bg.analyzer) \
         AND {a_scope} \
         LEFT JOIN insights_versions iv ON iv.plugin = a.plugin \
         WHERE {p_scope} GROUP BY a.post_id)",
        a_scope = scope.pred("a.post_id"),
        p_scope = scope.pred("p.id"),
    )
}

/// `'a', 'b'`: `values` as an `IN` list of string literals.
pub(crate) fn quoted(values: &[&str]) -> String {
    values.iter().map(|v| format!("'{v}'")).collect::<Vec<_>>().join(", ")
}

/// The lowest and highest post id, when there are posts.
pub async fn post_ids(db: &Db) -> Result<Option<(i64, i64)>, sqlx::Error> {
    let row = sqlx::query("SELECT MIN(id) AS lo, MAX(id) AS hi FROM posts")
        .fetch_one(db.pool())
        .await?;
    let (lo, hi): (Option<i64>, Option<i64>) = (row.try_get("lo")?, row.try_get("hi")?);
    Ok(lo.zip(hi))
}

/// On SQLite, a large page cache for the rest of a transaction that scores a
/// range of posts (`large`), or the default again; nothing on PostgreSQL.
pub async fn scoring_cache(conn: &mut AnyConnection, backend: Backend, large: bool) -> Result<(), sqlx::Error> {
    if backend == Backend::Sqlite {
        if large {
            sqlx::query(AssertSqlSafe(format!("PRAGMA cache_size = -{SQLITE_CACHE_KIB}")))
                .execute(conn)
                .await?;
        } else {
            sqlx::query("PRAGMA cache_size = -2000").execute(conn).await?;
        }
    }
    Ok(())
}

/// On PostgreSQL, fresh statistics for the planner after a bulk change of
/// the scores; returns whether it ran (SQLite needs none).
pub async fn analyze_scores(db: &Db) -> Result<bool, sqlx::Error> {
    if db.backend() != Backend::Postgres {
        return Ok(false);
    }
    sqlx::query("ANALYZE post_scores, post_topics, contact_scores")
        .execute(db.pool())
        .await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_name_their_posts() {
        assert_eq!(Scope::Range(0, 10).pred("p.id"), "p.id > 0 AND p.id <= 10");
        assert_eq!(Scope::Range(0, 10).cte(), "");
        let ids = Scope::Ids(vec![4, 9]);
        assert_eq!(ids.cte(), "scope_ids(id) AS (VALUES ($1), ($2)),");
        assert_eq!(ids.pred("a.post_id"), "a.post_id IN (SELECT id FROM scope_ids)");
    }
}
