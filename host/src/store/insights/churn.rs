//! `contact_scores`: each contact's value from `transactions` and the
//! features of its churn risk from its posts' scores (`crate::insights::churn`
//! and `crate::insights::predict` say what they are).

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::{Scope, quoted};
use crate::store::dialect::{self, num};
use crate::store::{DAY_MS, Db, currencies, placeholders};

/// The constants of the value formula and of the churn features.
#[derive(Clone, Copy, Debug)]
pub struct Formula<'a> {
    /// Transaction kinds that are orders, and those that take value back.
    pub order_kinds: &'a [&'a str],
    pub refund_kinds: &'a [&'a str],
    /// Orders in this many days are `recent_orders`.
    pub recent_order_days: i64,
    /// A post is negative at or below this sentiment.
    pub negative: f64,
    /// Negative posts in `negative_window_days` days.
    pub negative_window_days: i64,
    /// Recent sentiment: the last `recent_days`; earlier: up to `earlier_days` ago.
    pub recent_days: i64,
    pub earlier_days: i64,
    /// A churn-risk intent counts from this confidence.
    pub churn_intent_confidence: f64,
}

/// `(SQL expression of lifetime value, orders, ... )` over `transactions`:
/// the value in `base` of what converts into it, and a count of the orders
/// and refunds that do not.
fn values_select(f: &Formula, now: i64, base: Option<&str>) -> String {
    let year = now - 365 * DAY_MS;
    let recent = now - f.recent_order_days * DAY_MS;
    let (orders, refunds) = (quoted(f.order_kinds), quoted(f.refund_kinds));
    format!(
        "SELECT contact_id, \
         ROUND(SUM(CASE WHEN fx.rate IS NULL THEN {zero} \
                        WHEN kind IN ({orders}) THEN ABS(amount) * fx.rate \
                        WHEN kind IN ({refunds}) THEN -ABS(amount) * fx.rate ELSE {zero} END) * 100) / 100 AS ltv, \
         SUM(CASE WHEN fx.rate IS NULL AND kind IN ({orders}, {refunds}) THEN 1 ELSE 0 END) AS unconverted, \
         SUM(CASE WHEN kind IN ({orders}) AND occurred_at <= {now} THEN 1 ELSE 0 END) AS orders, \
         SUM(CASE WHEN kind IN ({orders}) AND occurred_at > {year} AND occurred_at <= {now} THEN 1 ELSE 0 END) \
             AS orders_year, \
         SUM(CASE WHEN kind IN ({orders}) AND occurred_at > {recent} AND occurred_at <= {now} THEN 1 ELSE 0 END) \
             AS recent_orders, \
         MAX(CASE WHEN kind IN ({orders}) AND occurred_at <= {now} THEN occurred_at END) AS last_order_at \
         FROM transactions t LEFT JOIN {fx} fx ON fx.currency = t.currency",
        zero = num(0.0),
        fx = currencies::rates_table(base),
    )
}

const VALUE_COLUMNS: [&str; 8] = [
    "ltv",
    "ltv_currency",
    "unconverted",
    "orders",
    "orders_year",
    "recent_orders",
    "last_order_at",
    "value_pct",
];

/// The value columns of `cv` other than the contact and `ltv`, from `v`.
fn value_columns(base: Option<&str>) -> String {
    format!(
        "{currency} AS ltv_currency, COALESCE(v.unconverted, 0) AS unconverted, COALESCE(v.orders, 0) AS orders, \
         COALESCE(v.orders_year, 0) AS orders_year, COALESCE(v.recent_orders, 0) AS recent_orders, v.last_order_at",
        currency = base.map_or_else(|| "CAST(NULL AS TEXT)".to_string(), |b| quoted(&[b])),
    )
}

/// Upserts every contact's value in `base` (one statement); unchanged rows
/// are not written. Returns the rows written.
pub async fn refresh_values(db: &Db, f: &Formula<'_>, now: i64, base: Option<&str>) -> Result<u64, sqlx::Error> {
    let sql = format!(
        "WITH v AS ({values} GROUP BY contact_id), \
         cv AS (SELECT c.id AS contact_id, COALESCE(v.ltv, {zero}) AS ltv, {columns} \
                FROM contacts c LEFT JOIN v ON v.contact_id = c.id) \
         {upsert}",
        values = values_select(f, now, base),
        columns = value_columns(base),
        zero = num(0.0),
        upsert = dialect::upsert(
            "contact_scores",
            &["contact_id"],
            &VALUE_COLUMNS,
            &format!(
                "SELECT contact_id, ltv, ltv_currency, unconverted, orders, orders_year, recent_orders, last_order_at, \
                 CASE WHEN ltv > 0 THEN CUME_DIST() OVER (PARTITION BY CASE WHEN ltv > 0 THEN 1 ELSE 0 END \
                 ORDER BY ltv) ELSE {} END AS value_pct FROM cv",
                num(0.0)
            ),
            "",
        ),
    );
    Ok(sqlx::query(AssertSqlSafe(sql))
        .execute(db.pool())
        .await?
        .rows_affected())
}

/// Contacts confirmed-linked to the authors of the inbound posts `post_ids`.
pub async fn contacts_of_posts(db: &Db, post_ids: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
    if post_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT DISTINCT l.contact_id FROM posts p JOIN identity_links l ON l.identity_id = p.identity_id \
         WHERE l.status = 'confirmed' AND p.direction = 'inbound' AND p.id IN {} ORDER BY l.contact_id",
        placeholders(1, post_ids.len())
    );
    let mut query = sqlx::query(db.backend().sql(sql));
    for id in post_ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter().map(|r| r.try_get("contact_id")).collect()
}

/// Gives the contacts `ids` that have no score yet their value; their share
/// among customers is estimated against the stored scores (the next
/// recompute makes it exact).
pub async fn insert_missing_values(
    db: &Db,
    f: &Formula<'_>,
    now: i64,
    base: Option<&str>,
    ids: &[i64],
) -> Result<u64, sqlx::Error> {
    let scope = Scope::Ids(ids.to_vec());
    let sql = format!(
        "WITH {scope_cte} \
         v AS ({values} WHERE {t_scope} GROUP BY contact_id), \
         cv AS (SELECT c.id AS contact_id, COALESCE(v.ltv, {zero}) AS ltv, {columns} \
                FROM contacts c LEFT JOIN v ON v.contact_id = c.id \
                WHERE {c_scope} AND NOT EXISTS (SELECT 1 FROM contact_scores s WHERE s.contact_id = c.id)) \
         INSERT INTO contact_scores (contact_id, {cols}) \
         SELECT contact_id, ltv, ltv_currency, unconverted, orders, orders_year, recent_orders, last_order_at, \
                CASE WHEN ltv > 0 THEN \
                  CAST((SELECT COUNT(*) FROM contact_scores o WHERE o.ltv > 0 AND o.ltv <= cv.ltv) + 1 AS DOUBLE PRECISION) \
                  / ((SELECT COUNT(*) FROM contact_scores o WHERE o.ltv > 0) + 1) \
                ELSE {zero} END \
         FROM cv WHERE true ON CONFLICT (contact_id) DO NOTHING",
        scope_cte = scope.cte(),
        values = values_select(f, now, base),
        columns = value_columns(base),
        t_scope = scope.pred("contact_id"),
        c_scope = scope.pred("c.id"),
        zero = num(0.0),
        cols = VALUE_COLUMNS.join(", "),
    );
    let query = scope.bind(sqlx::query(db.backend().sql(sql)));
    Ok(query.execute(db.pool()).await?.rows_affected())
}

const FEATURE_COLUMNS: [&str; 6] = [
    "negative_week",
    "recent_sentiment",
    "earlier_sentiment",
    "churn_intent",
    "days_since_order",
    "posts_90d",
];

/// Posts in this many days are the `posts-90d` feature.
const POSTS_DAYS: i64 = 90;

/// Updates the social and recency features of every scored contact, or of
/// `contacts` (one statement); unchanged rows are not written. Returns the
/// rows written. The churn risk itself is the bound scorer's
/// (`crate::insights::predict`).
pub async fn refresh_features(
    db: &Db,
    f: &Formula<'_>,
    now: i64,
    contacts: Option<&[i64]>,
) -> Result<u64, sqlx::Error> {
    let scope = contacts.map(|ids| Scope::Ids(ids.to_vec()));
    // For a few contacts, walk their posts by the contact index (`CROSS JOIN`
    // fixes that order on SQLite, which would otherwise read every post of
    // the last 180 days by time).
    let (scope_cte, soc_from, cs_scope) = match &scope {
        Some(s) => (
            s.cte(),
            "scope_ids CROSS JOIN post_scores ps WHERE ps.contact_id = scope_ids.id AND",
            format!("WHERE {}", s.pred("cs.contact_id")),
        ),
        None => (
            String::new(),
            "post_scores ps WHERE ps.contact_id IS NOT NULL AND",
            String::new(),
        ),
    };
    let sql = format!(
        "WITH {scope_cte} \
         soc AS (SELECT ps.contact_id, \
                 SUM(CASE WHEN ps.created_at > {week} AND ps.sentiment <= {neg} THEN 1 ELSE 0 END) AS negative_week, \
                 AVG(CASE WHEN ps.created_at > {recent} THEN ps.sentiment END) AS recent_mean, \
                 AVG(CASE WHEN ps.created_at <= {recent} THEN ps.sentiment END) AS earlier_mean, \
                 MAX(CASE WHEN ps.created_at > {recent} AND ps.churn_risk >= {intent} THEN 1 ELSE 0 END) \
                   AS churn_intent, \
                 SUM(CASE WHEN ps.created_at > {posts_since} THEN 1 ELSE 0 END) AS posts_90d \
                 FROM {soc_from} ps.created_at > {earlier} AND ps.created_at <= {now} GROUP BY ps.contact_id), \
         c1 AS (SELECT cs.contact_id, \
                COALESCE(soc.negative_week, 0) AS negative_week, \
                ROUND(soc.recent_mean * 1000000) / 1000000 AS recent_sentiment, \
                ROUND(soc.earlier_mean * 1000000) / 1000000 AS earlier_sentiment, \
                COALESCE(soc.churn_intent, 0) AS churn_intent, \
                CASE WHEN cs.last_order_at IS NULL THEN NULL ELSE ({now} - cs.last_order_at) / {DAY_MS} END \
                  AS days_since_order, \
                COALESCE(soc.posts_90d, 0) AS posts_90d \
                FROM contact_scores cs LEFT JOIN soc ON soc.contact_id = cs.contact_id {cs_scope}) \
         UPDATE contact_scores SET {set} FROM c1 \
         WHERE contact_scores.contact_id = c1.contact_id AND ({differs})",
        week = now - f.negative_window_days * DAY_MS,
        neg = num(f.negative),
        recent = now - f.recent_days * DAY_MS,
        earlier = now - f.earlier_days * DAY_MS,
        posts_since = now - POSTS_DAYS * DAY_MS,
        intent = num(f.churn_intent_confidence),
        set = FEATURE_COLUMNS
            .iter()
            .map(|c| format!("{c} = c1.{c}"))
            .collect::<Vec<_>>()
            .join(", "),
        differs = FEATURE_COLUMNS
            .iter()
            .map(|c| format!("contact_scores.{c} IS DISTINCT FROM c1.{c}"))
            .collect::<Vec<_>>()
            .join(" OR "),
    );
    let mut query = sqlx::query(db.backend().sql(sql));
    if let Some(scope) = &scope {
        query = scope.bind(query);
    }
    Ok(query.execute(db.pool()).await?.rows_affected())
}

/// A contact's stored scores, with its external id and name.
#[derive(Clone, Debug, PartialEq)]
pub struct ContactScoreRow {
    pub contact_id: i64,
    pub external_id: String,
    pub name: Option<String>,
    pub churn: f64,
    pub negative_week: i64,
    pub recent_sentiment: Option<f64>,
    pub earlier_sentiment: Option<f64>,
    pub churn_intent: bool,
    pub days_since_order: Option<i64>,
    pub orders: i64,
    pub orders_year: i64,
    pub value_pct: f64,
    pub ltv: f64,
    pub ltv_currency: Option<String>,
    pub unconverted: i64,
    pub posts_90d: i64,
    /// The scorer's factors (JSON) and `name version`.
    pub churn_factors: String,
    pub churn_scorer: Option<String>,
}

const SCORE_COLUMNS: &str = "cs.contact_id, c.external_id, c.name, cs.churn, cs.negative_week, cs.recent_sentiment, \
     cs.earlier_sentiment, cs.churn_intent, cs.days_since_order, cs.orders, cs.orders_year, cs.value_pct, cs.ltv, \
     cs.ltv_currency, cs.unconverted, cs.posts_90d, cs.churn_factors, cs.churn_scorer";

fn contact_score(row: &AnyRow) -> Result<ContactScoreRow, sqlx::Error> {
    Ok(ContactScoreRow {
        negative_week: row.try_get("negative_week")?,
        recent_sentiment: row.try_get("recent_sentiment")?,
        earlier_sentiment: row.try_get("earlier_sentiment")?,
        churn_intent: row.try_get::<i64, _>("churn_intent")? != 0,
        days_since_order: row.try_get("days_since_order")?,
        orders: row.try_get("orders")?,
        orders_year: row.try_get("orders_year")?,
        value_pct: row.try_get("value_pct")?,
        ltv: row.try_get("ltv")?,
        ltv_currency: row.try_get("ltv_currency")?,
        unconverted: row.try_get("unconverted")?,
        posts_90d: row.try_get("posts_90d")?,
        churn_factors: row.try_get("churn_factors")?,
        churn_scorer: row.try_get("churn_scorer")?,
        contact_id: row.try_get("contact_id")?,
        external_id: row.try_get("external_id")?,
        name: row.try_get("name")?,
        churn: row.try_get("churn")?,
    })
}

/// The `limit` contacts most at risk, highest first (ties: lowest id).
pub async fn ranking(db: &Db, limit: i64) -> Result<Vec<ContactScoreRow>, sqlx::Error> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SCORE_COLUMNS} FROM contact_scores cs JOIN contacts c ON c.id = cs.contact_id \
         ORDER BY cs.churn DESC, cs.contact_id LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(contact_score).collect()
}

/// One contact's scores, when scored.
pub async fn of_contact(db: &Db, contact_id: i64) -> Result<Option<ContactScoreRow>, sqlx::Error> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SCORE_COLUMNS} FROM contact_scores cs JOIN contacts c ON c.id = cs.contact_id \
         WHERE cs.contact_id = $1"
    )))
    .bind(contact_id)
    .fetch_optional(db.pool())
    .await?;
    row.as_ref().map(contact_score).transpose()
}
