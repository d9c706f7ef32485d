//! `post_scores`: the priority of each inbound post (the formula is
//! `crate::insights::priority`'s), and the inbox read from it.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use super::{Scope, bound_analysis};
use crate::store::dialect::{self, num};
use crate::store::{Backend, Db, HOUR_MS};

/// The constants of the priority formula (the analyzers it reads are the
/// bound ones, see [`bound_analysis`]).
#[derive(Clone, Copy, Debug)]
pub struct Formula<'a> {
    /// Points of each part of the base score.
    pub negativity: f64,
    pub intent: f64,
    pub value: f64,
    pub churn: f64,
    pub recent_orders: f64,
    pub reach: f64,
    pub waiting_per_hour: f64,
    /// How much each intent asks for an answer; others weigh 0.
    pub intent_weights: &'a [(&'a str, f64)],
    /// Recent orders beyond this add nothing.
    pub recent_orders_cap: i64,
    /// Follower thresholds of the reach steps.
    pub reach_steps: &'a [i64],
}

/// What a post's priority is computed from.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Signals {
    pub sentiment: Option<f64>,
    pub intent: Option<String>,
    pub intent_confidence: Option<f64>,
    pub value_pct: f64,
    pub ltv: f64,
    pub recent_orders: i64,
    /// The churn risk of the author's contact (0 when unknown).
    pub author_churn: f64,
    pub followers: Option<i64>,
    /// Whether the author is linked to a contact.
    pub known: bool,
}

/// The [`Signals`] of a row with the `post_scores` columns `sentiment`,
/// `intent`, `intent_confidence`, `value_pct`, `ltv`, `recent_orders`,
/// `author_churn`, `followers` and `contact_id` (under those names).
pub fn signals(row: &AnyRow) -> Result<Signals, sqlx::Error> {
    Ok(Signals {
        sentiment: row.try_get("sentiment")?,
        intent: row.try_get("intent")?,
        intent_confidence: row.try_get("intent_confidence")?,
        value_pct: row.try_get("value_pct")?,
        ltv: row.try_get("ltv")?,
        recent_orders: row.try_get("recent_orders")?,
        author_churn: row.try_get("author_churn")?,
        followers: row.try_get("followers")?,
        known: row.try_get::<Option<i64>, _>("contact_id")?.is_some(),
    })
}

/// `CASE` giving the weight of the intent named by `column`.
fn weight_case(f: &Formula, column: &str) -> String {
    let arms: Vec<String> = f
        .intent_weights
        .iter()
        .map(|(name, w)| format!("WHEN '{name}' THEN {}", num(*w)))
        .collect();
    format!("CASE {column} {} ELSE {} END", arms.join(" "), num(0.0))
}

fn reach_case(f: &Formula, column: &str) -> String {
    let n = f.reach_steps.len() as f64;
    let arms: Vec<String> = f
        .reach_steps
        .iter()
        .enumerate()
        .rev()
        .map(|(i, s)| format!("WHEN {column} >= {s} THEN {}", num((i + 1) as f64 / n)))
        .collect();
    format!("CASE {} ELSE {} END", arms.join(" "), num(0.0))
}

/// Upserts the scores of the inbound posts in `scope` (one statement); a row
/// whose every value is unchanged is not written. Returns rows written.
pub async fn score_posts(
    conn: &mut AnyConnection,
    backend: Backend,
    scope: &Scope,
    f: &Formula<'_>,
) -> Result<u64, sqlx::Error> {
    let query = scope.bind(sqlx::query(backend.sql(score_sql(backend, scope, f))));
    Ok(query.execute(conn).await?.rows_affected())
}

/// The statement of [`score_posts`]. (The author's contact comes from a
/// join, not a correlated subquery: on PostgreSQL the subquery's per-row
/// cost tripled the statement's time. Every join to a big table also names
/// the range of posts, so PostgreSQL reads that range, not the table.)
///
/// The strongest intent is the label with the highest weight × confidence
/// (ties: the order of [`Formula::intent_weights`]); a label of weight 0
/// (praise) is the intent only when no label of positive weight is present.
/// Labels the table does not know are ignored.
fn score_sql(backend: Backend, scope: &Scope, f: &Formula) -> String {
    let m = dialect::materialized(backend);
    let (intents_from, object_only) = dialect::intents_from(backend, "a.intents");
    let (name, conf) = (dialect::intent_name(backend), dialect::intent_confidence(backend));
    let zero = num(0.0);
    // Per label: the best confidence (c0, c1, ...) and its score (s0, s1, ...).
    let labels: Vec<String> = f
        .intent_weights
        .iter()
        .enumerate()
        .map(|(k, (label, _))| format!("MAX(CASE WHEN name = '{label}' THEN conf END) AS c{k}"))
        .collect();
    let score = |k: usize| format!("COALESCE(ib.c{k}, {zero}) * {}", num(f.intent_weights[k].1));
    let scores: Vec<String> = (0..f.intent_weights.len())
        .map(|k| score(k).replace("ib.", "ia."))
        .collect();
    let pick = |what: &dyn Fn(usize) -> String| {
        let mut arms: Vec<String> = f
            .intent_weights
            .iter()
            .enumerate()
            .filter(|(_, (_, w))| *w > 0.0)
            .map(|(k, _)| format!("WHEN ib.m > 0 AND {} = ib.m THEN {}", score(k), what(k)))
            .collect();
        arms.extend(
            f.intent_weights
                .iter()
                .enumerate()
                .filter(|(_, (_, w))| *w == 0.0)
                .map(|(k, _)| format!("WHEN ib.m = 0 AND ib.c{k} > 0 THEN {}", what(k))),
        );
        format!("CASE {} END", arms.join(" "))
    };
    let label_of = |name: &str| f.intent_weights.iter().position(|(n, _)| *n == name).unwrap_or(0);
    let base = format!(
        "{neg} * CASE WHEN b.sentiment < 0 THEN -b.sentiment ELSE {zero} END \
         + {int} * COALESCE(b.intent_confidence * {weight}, {zero}) \
         + {val} * COALESCE(cs.value_pct, {zero}) \
         + {chu} * COALESCE(cs.churn, {zero}) \
         + {rec} * CASE WHEN COALESCE(cs.recent_orders, 0) >= {cap} THEN {one} \
                   ELSE CAST(COALESCE(cs.recent_orders, 0) AS DOUBLE PRECISION) / {cap} END \
         + {rea} * {reach}",
        neg = num(f.negativity),
        int = num(f.intent),
        weight = weight_case(f, "b.intent"),
        val = num(f.value),
        chu = num(f.churn),
        rec = num(f.recent_orders),
        cap = f.recent_orders_cap,
        one = num(1.0),
        rea = num(f.reach),
        reach = reach_case(f, "b.followers"),
    );
    let columns = [
        "identity_id",
        "contact_id",
        "created_at",
        "sentiment",
        "intent",
        "intent_confidence",
        "churn_risk",
        "question",
        "praise",
        "followers",
        "value_pct",
        "ltv",
        "recent_orders",
        "author_churn",
        "base",
        "priority_key",
    ];
    let select = format!(
        "SELECT post_id, identity_id, contact_id, created_at, sentiment, intent, intent_confidence, churn_risk, \
         question, praise, followers, value_pct, ltv, recent_orders, author_churn, base, \
         base - {wait} * CAST(created_at AS DOUBLE PRECISION) / {hour} AS priority_key FROM s",
        wait = num(f.waiting_per_hour),
        hour = num(HOUR_MS as f64),
    );
    format!(
        "WITH {scope_cte} \
         au AS {m}(SELECT identity_id, MIN(contact_id) AS contact_id FROM identity_links \
                WHERE status = 'confirmed' AND identity_id IN (SELECT identity_id FROM posts WHERE {id_scope}) \
                GROUP BY identity_id), \
         {ns}, {ni}, \
         ix AS (SELECT ni.post_id, {name} AS name, {conf} AS conf \
                FROM ni JOIN analyses a ON a.id = ni.id AND {ra_scope}, \
                {intents_from} WHERE {object_only}), \
         ia AS (SELECT post_id, {labels} FROM ix WHERE conf IS NOT NULL GROUP BY post_id), \
         ib AS {m}(SELECT ia.*, {greatest} AS m FROM ia), \
         b AS (SELECT p.id AS post_id, p.identity_id, p.created_at, i.followers, \
               au.contact_id, \
               sa.sentiment, {intent} AS intent, {intent_confidence} AS intent_confidence, \
               COALESCE(ib.c{churn}, {zero}) AS churn_risk, COALESCE(ib.c{question}, {zero}) AS question, \
               COALESCE(ib.c{praise}, {zero}) AS praise \
               FROM posts p JOIN identities i ON i.id = p.identity_id \
               LEFT JOIN au ON au.identity_id = p.identity_id \
               LEFT JOIN ns ON ns.post_id = p.id LEFT JOIN analyses sa ON sa.id = ns.id AND {sa_scope} \
               LEFT JOIN ib ON ib.post_id = p.id \
               WHERE p.direction = 'inbound' AND {p_scope}), \
         s AS (SELECT b.*, COALESCE(cs.value_pct, {zero}) AS value_pct, COALESCE(cs.ltv, {zero}) AS ltv, \
               COALESCE(cs.recent_orders, 0) AS recent_orders, COALESCE(cs.churn, {zero}) AS author_churn, \
               {base} AS base \
               FROM b LEFT JOIN contact_scores cs ON cs.contact_id = b.contact_id) \
         {upsert}",
        scope_cte = scope.cte(),
        id_scope = scope.pred("id"),
        p_scope = scope.pred("p.id"),
        labels = labels.join(", "),
        greatest = dialect::greatest(backend, &scores),
        intent = pick(&|k| format!("'{}'", f.intent_weights[k].0)),
        intent_confidence = pick(&|k| format!("ib.c{k}")),
        churn = label_of("churn-risk"),
        question = label_of("question"),
        praise = label_of("praise"),
        ns = bound_analysis("ns", "sentiment", scope, m),
        ni = bound_analysis("ni", "intents", scope, m),
        ra_scope = scope.pred("a.post_id"),
        sa_scope = scope.pred("sa.post_id"),
        upsert = dialect::upsert("post_scores", &["post_id"], &columns, &select, &scope.pred("o.post_id")),
    )
}

/// A post as [`score_posts`] scored it, with its channel.
#[derive(Clone, Debug, PartialEq)]
pub struct ScoredPost {
    pub post_id: i64,
    pub channel: String,
    pub created_at: i64,
    pub base: f64,
    pub priority_key: f64,
    pub contact_id: Option<i64>,
    pub signals: Signals,
}

/// The scores of the posts `ids` that have one, in the caller's transaction.
pub async fn scored(conn: &mut AnyConnection, backend: Backend, ids: &[i64]) -> Result<Vec<ScoredPost>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT ps.post_id, ps.base, ps.priority_key, ps.created_at, ps.contact_id, ps.sentiment, ps.intent, \
         ps.intent_confidence, ps.value_pct, ps.ltv, ps.recent_orders, ps.author_churn, ps.followers, c.name AS channel \
         FROM post_scores ps JOIN posts p ON p.id = ps.post_id JOIN channel_accounts c ON c.id = p.channel_id \
         WHERE ps.post_id IN {} ORDER BY ps.post_id",
        dialect::placeholders(1, ids.len())
    );
    // A list of ids differs each time: not kept prepared.
    let mut query = sqlx::query(backend.sql(sql)).persistent(false);
    for id in ids {
        query = query.bind(id);
    }
    let rows = query.fetch_all(conn).await?;
    rows.iter()
        .map(|row| {
            Ok(ScoredPost {
                post_id: row.try_get("post_id")?,
                channel: row.try_get("channel")?,
                created_at: row.try_get("created_at")?,
                base: row.try_get("base")?,
                priority_key: row.try_get("priority_key")?,
                contact_id: row.try_get("contact_id")?,
                signals: signals(row)?,
            })
        })
        .collect()
}

/// A scored post of the inbox, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct InboxRow {
    pub post_id: i64,
    pub base: f64,
    pub priority_key: f64,
    pub created_at: i64,
    pub network: String,
    pub handle: String,
    pub contact_id: Option<i64>,
    pub contact_name: Option<String>,
    pub text: String,
    pub signals: Signals,
}

/// The `limit` scored posts of inbox status `status` (e.g. `open`) by stored
/// key, highest first (ties: newest first). One walk down the priority index
/// (`CROSS JOIN` keeps SQLite from starting at the posts of that status
/// instead and sorting them all).
pub async fn inbox(db: &Db, status: &str, limit: i64) -> Result<Vec<InboxRow>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT ps.post_id, ps.base, ps.priority_key, ps.created_at, ps.contact_id, ps.sentiment, ps.intent, \
         ps.intent_confidence, ps.value_pct, ps.ltv, ps.recent_orders, ps.author_churn, ps.followers, \
         i.network, i.handle, c.name AS contact_name, p.text \
         FROM post_scores ps CROSS JOIN posts p JOIN identities i ON i.id = ps.identity_id \
         LEFT JOIN contacts c ON c.id = ps.contact_id \
         WHERE p.id = ps.post_id AND p.inbox_status = $1 ORDER BY ps.priority_key DESC, ps.post_id DESC LIMIT $2",
    )
    .bind(status)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(InboxRow {
                post_id: row.try_get("post_id")?,
                base: row.try_get("base")?,
                priority_key: row.try_get("priority_key")?,
                created_at: row.try_get("created_at")?,
                network: row.try_get("network")?,
                handle: row.try_get("handle")?,
                contact_id: row.try_get("contact_id")?,
                contact_name: row.try_get("contact_name")?,
                text: row.try_get("text")?,
                signals: signals(row)?,
            })
        })
        .collect()
}
