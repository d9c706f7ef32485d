//! Per contact: value from transactions, and churn risk combining the recent
//! social sentiment with recency, frequency and monetary value.
//!
//! ```text
//! social = 0.45 · min(negative posts in 7 days, 3) / 3
//!        + 0.25 · clamp(mean sentiment 30–180 days ago (0 if none) − mean sentiment last 30 days)
//!        + 0.30 · [a churn-risk intent ≥ 0.5 in 30 days]
//! recency   = clamp((days since last order − 30) / 335)          (0 without orders)
//! frequency = 1 − min(orders in 12 months, 4) / 4                 (0 without orders)
//! risk  = 0.5 · social + 0.3 · recency + 0.2 · frequency
//! churn = risk · (0.5 + 0.5 · value_pct)
//! ```
//!
//! `value_pct` (monetary) is the contact's cumulative share among customers
//! (contacts with a positive lifetime value) ordered by lifetime value: the
//! top customer has 1, a contact without purchases 0. So the same risk ranks a
//! valuable customer above an occasional one.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use super::dialect::{self, num};
use super::priority::value_band;
use super::{DAY_MS, InsightsError, NEGATIVE, Scope, plural};
use crate::store::{Db, placeholders};

/// Kinds of transaction that are orders (frequency, recency, lifetime value).
pub const ORDER_KINDS: &str = "'purchase', 'subscription'";
/// Kinds that take value back.
pub const REFUND_KINDS: &str = "'refund', 'return'";

pub mod weight {
    pub const NEGATIVE_POSTS: f64 = 0.45;
    pub const DECLINE: f64 = 0.25;
    pub const CHURN_INTENT: f64 = 0.30;
    pub const SOCIAL: f64 = 0.5;
    pub const RECENCY: f64 = 0.3;
    pub const FREQUENCY: f64 = 0.2;
}

/// Negative posts in [`NEGATIVE_WINDOW_DAYS`] that make the part full.
pub const NEGATIVE_POSTS_CAP: i64 = 3;
pub const NEGATIVE_WINDOW_DAYS: i64 = 7;
/// Recent sentiment: the last 30 days; earlier: 30 to 180 days ago.
pub const RECENT_DAYS: i64 = 30;
pub const EARLIER_DAYS: i64 = 180;
/// A churn-risk intent counts from this confidence.
pub const CHURN_INTENT_CONFIDENCE: f64 = 0.5;
/// Recency risk starts after 30 days without an order and is full at 365.
pub const RECENCY_GRACE_DAYS: i64 = 30;
pub const RECENCY_FULL_DAYS: i64 = 365;
/// Orders in 12 months that make frequency risk 0.
pub const FREQUENT_ORDERS: i64 = 4;
/// Orders "in 90 days" for the inbox's priority.
pub const RECENT_ORDER_DAYS: i64 = 90;

/// What a contact's churn risk is computed from (stored in `contact_scores`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ChurnSignals {
    pub negative_week: i64,
    pub recent_sentiment: Option<f64>,
    pub earlier_sentiment: Option<f64>,
    pub churn_intent: bool,
    pub days_since_order: Option<i64>,
    pub orders: i64,
    pub orders_year: i64,
    pub value_pct: f64,
    pub ltv: f64,
}

fn clamp01(x: f64) -> f64 {
    x.clamp(0.0, 1.0)
}

impl ChurnSignals {
    pub fn negative_posts(&self) -> f64 {
        self.negative_week.min(NEGATIVE_POSTS_CAP) as f64 / NEGATIVE_POSTS_CAP as f64
    }

    /// How far the mean sentiment fell: earlier (0 when none) minus recent.
    pub fn decline(&self) -> f64 {
        self.recent_sentiment
            .map_or(0.0, |r| clamp01(self.earlier_sentiment.unwrap_or(0.0) - r))
    }

    pub fn social(&self) -> f64 {
        weight::NEGATIVE_POSTS * self.negative_posts()
            + weight::DECLINE * self.decline()
            + weight::CHURN_INTENT * if self.churn_intent { 1.0 } else { 0.0 }
    }

    pub fn recency(&self) -> f64 {
        self.days_since_order.map_or(0.0, |d| {
            clamp01((d - RECENCY_GRACE_DAYS) as f64 / (RECENCY_FULL_DAYS - RECENCY_GRACE_DAYS) as f64)
        })
    }

    pub fn frequency(&self) -> f64 {
        if self.orders == 0 {
            0.0
        } else {
            1.0 - self.orders_year.min(FREQUENT_ORDERS) as f64 / FREQUENT_ORDERS as f64
        }
    }

    /// The churn score in [0, 1].
    pub fn churn(&self) -> f64 {
        let risk =
            weight::SOCIAL * self.social() + weight::RECENCY * self.recency() + weight::FREQUENCY * self.frequency();
        risk * (0.5 + 0.5 * self.value_pct)
    }

    /// One line: `3 negative posts in 7 days; last order 210 days ago; ...`.
    pub fn explain(&self) -> String {
        let mut parts = Vec::new();
        if self.negative_week > 0 {
            parts.push(format!(
                "{} negative post{} in {NEGATIVE_WINDOW_DAYS} days",
                self.negative_week,
                plural(self.negative_week)
            ));
        }
        if self.decline() > 0.0 {
            let recent = self.recent_sentiment.unwrap_or(0.0);
            parts.push(match self.earlier_sentiment {
                Some(e) => format!("sentiment down from {e:.2} to {recent:.2}"),
                None => format!("sentiment {recent:.2} over {RECENT_DAYS} days"),
            });
        }
        if self.churn_intent {
            parts.push(format!("churn-risk intent in {RECENT_DAYS} days"));
        }
        match self.days_since_order {
            Some(d) if self.orders > 0 => {
                parts.push(format!("last order {d} day{} ago", plural(d)));
                if self.frequency() > 0.0 {
                    parts.push(format!(
                        "{} order{} in 12 months",
                        self.orders_year,
                        plural(self.orders_year)
                    ));
                }
            }
            _ => parts.push("no orders".into()),
        }
        if self.value_pct > 0.0 {
            parts.push(format!("{}, LTV {:.2}", value_band(self.value_pct), self.ltv));
        }
        parts.join("; ")
    }
}

/// `(SQL expression of lifetime value, orders, ... )` over `transactions`.
fn values_select(now: i64) -> String {
    let year = now - 365 * DAY_MS;
    let recent = now - RECENT_ORDER_DAYS * DAY_MS;
    format!(
        "SELECT contact_id, \
         ROUND(SUM(CASE WHEN kind IN ({ORDER_KINDS}) THEN ABS(amount) \
                        WHEN kind IN ({REFUND_KINDS}) THEN -ABS(amount) ELSE {zero} END) * 100) / 100 AS ltv, \
         SUM(CASE WHEN kind IN ({ORDER_KINDS}) AND occurred_at <= {now} THEN 1 ELSE 0 END) AS orders, \
         SUM(CASE WHEN kind IN ({ORDER_KINDS}) AND occurred_at > {year} AND occurred_at <= {now} THEN 1 ELSE 0 END) \
             AS orders_year, \
         SUM(CASE WHEN kind IN ({ORDER_KINDS}) AND occurred_at > {recent} AND occurred_at <= {now} THEN 1 ELSE 0 END) \
             AS recent_orders, \
         MAX(CASE WHEN kind IN ({ORDER_KINDS}) AND occurred_at <= {now} THEN occurred_at END) AS last_order_at \
         FROM transactions",
        zero = num(0.0),
    )
}

const VALUE_COLUMNS: [&str; 6] = [
    "ltv",
    "orders",
    "orders_year",
    "recent_orders",
    "last_order_at",
    "value_pct",
];

/// Upserts every contact's value (one statement); unchanged rows are not
/// written. Returns the rows written.
pub(crate) async fn refresh_values(db: &Db, now: i64) -> Result<u64, InsightsError> {
    let sql = format!(
        "WITH v AS ({values} GROUP BY contact_id), \
         cv AS (SELECT c.id AS contact_id, COALESCE(v.ltv, {zero}) AS ltv, COALESCE(v.orders, 0) AS orders, \
                COALESCE(v.orders_year, 0) AS orders_year, COALESCE(v.recent_orders, 0) AS recent_orders, \
                v.last_order_at FROM contacts c LEFT JOIN v ON v.contact_id = c.id) \
         {upsert}",
        values = values_select(now),
        zero = num(0.0),
        upsert = dialect::upsert(
            "contact_scores",
            &["contact_id"],
            &VALUE_COLUMNS,
            &format!(
                "SELECT contact_id, ltv, orders, orders_year, recent_orders, last_order_at, \
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
pub(crate) async fn contacts_of_posts(db: &Db, post_ids: &[i64]) -> Result<Vec<i64>, InsightsError> {
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
    Ok(rows.iter().map(|r| r.try_get("contact_id")).collect::<Result<_, _>>()?)
}

/// Gives the contacts `ids` that have no score yet their value; their share
/// among customers is estimated against the stored scores (the next
/// recompute makes it exact).
pub(crate) async fn insert_missing_values(db: &Db, now: i64, ids: &[i64]) -> Result<u64, InsightsError> {
    let scope = Scope::Ids(ids.to_vec());
    let sql = format!(
        "WITH {scope_cte} \
         v AS ({values} WHERE {t_scope} GROUP BY contact_id), \
         cv AS (SELECT c.id AS contact_id, COALESCE(v.ltv, {zero}) AS ltv, COALESCE(v.orders, 0) AS orders, \
                COALESCE(v.orders_year, 0) AS orders_year, COALESCE(v.recent_orders, 0) AS recent_orders, \
                v.last_order_at FROM contacts c LEFT JOIN v ON v.contact_id = c.id \
                WHERE {c_scope} AND NOT EXISTS (SELECT 1 FROM contact_scores s WHERE s.contact_id = c.id)) \
         INSERT INTO contact_scores (contact_id, {cols}) \
         SELECT contact_id, ltv, orders, orders_year, recent_orders, last_order_at, \
                CASE WHEN ltv > 0 THEN \
                  CAST((SELECT COUNT(*) FROM contact_scores o WHERE o.ltv > 0 AND o.ltv <= cv.ltv) + 1 AS DOUBLE PRECISION) \
                  / ((SELECT COUNT(*) FROM contact_scores o WHERE o.ltv > 0) + 1) \
                ELSE {zero} END \
         FROM cv WHERE true ON CONFLICT (contact_id) DO NOTHING",
        scope_cte = scope.cte(),
        values = values_select(now),
        t_scope = scope.pred("contact_id"),
        c_scope = scope.pred("c.id"),
        zero = num(0.0),
        cols = VALUE_COLUMNS.join(", "),
    );
    let query = scope.bind(sqlx::query(db.backend().sql(sql)));
    Ok(query.execute(db.pool()).await?.rows_affected())
}

const CHURN_COLUMNS: [&str; 6] = [
    "negative_week",
    "recent_sentiment",
    "earlier_sentiment",
    "churn_intent",
    "days_since_order",
    "churn",
];

/// Updates the churn risk of every scored contact, or of `contacts` (one
/// statement); unchanged rows are not written. Returns the rows written.
pub(crate) async fn refresh_churn(db: &Db, now: i64, contacts: Option<&[i64]>) -> Result<u64, InsightsError> {
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
    let clamp = |x: &str| {
        format!(
            "CASE WHEN {x} < 0 THEN {z} WHEN {x} > 1 THEN {o} ELSE {x} END",
            z = num(0.0),
            o = num(1.0)
        )
    };
    let recency = format!(
        "CAST(days_since_order - {RECENCY_GRACE_DAYS} AS DOUBLE PRECISION) / {}",
        RECENCY_FULL_DAYS - RECENCY_GRACE_DAYS
    );
    let decline = format!("COALESCE(earlier_sentiment, {}) - recent_sentiment", num(0.0));
    let sql = format!(
        "WITH {scope_cte} \
         soc AS (SELECT ps.contact_id, \
                 SUM(CASE WHEN ps.created_at > {week} AND ps.sentiment <= {neg} THEN 1 ELSE 0 END) AS negative_week, \
                 AVG(CASE WHEN ps.created_at > {recent} THEN ps.sentiment END) AS recent_mean, \
                 AVG(CASE WHEN ps.created_at <= {recent} THEN ps.sentiment END) AS earlier_mean, \
                 MAX(CASE WHEN ps.created_at > {recent} AND ps.churn_risk >= {intent} THEN 1 ELSE 0 END) \
                   AS churn_intent \
                 FROM {soc_from} ps.created_at > {earlier} AND ps.created_at <= {now} GROUP BY ps.contact_id), \
         c1 AS (SELECT cs.contact_id, cs.orders, cs.orders_year, cs.value_pct, \
                COALESCE(soc.negative_week, 0) AS negative_week, \
                ROUND(soc.recent_mean * 1000000) / 1000000 AS recent_sentiment, \
                ROUND(soc.earlier_mean * 1000000) / 1000000 AS earlier_sentiment, \
                COALESCE(soc.churn_intent, 0) AS churn_intent, \
                CASE WHEN cs.last_order_at IS NULL THEN NULL ELSE ({now} - cs.last_order_at) / {DAY_MS} END \
                  AS days_since_order \
                FROM contact_scores cs LEFT JOIN soc ON soc.contact_id = cs.contact_id {cs_scope}), \
         c2 AS (SELECT c1.*, \
                CASE WHEN negative_week >= {cap} THEN {one} \
                     ELSE CAST(negative_week AS DOUBLE PRECISION) / {cap} END AS n, \
                CASE WHEN recent_sentiment IS NULL THEN {zero} ELSE {decline_c} END AS d, \
                CASE WHEN days_since_order IS NULL THEN {zero} ELSE {recency_c} END AS r, \
                CASE WHEN orders = 0 THEN {zero} \
                     ELSE {one} - CAST(CASE WHEN orders_year >= {freq} THEN {freq} ELSE orders_year END \
                                       AS DOUBLE PRECISION) / {freq} END AS f \
                FROM c1), \
         c3 AS (SELECT contact_id, negative_week, recent_sentiment, earlier_sentiment, churn_intent, days_since_order, \
                ({w_social} * ({w_neg} * n + {w_decline} * d + {w_intent} * churn_intent) \
                 + {w_recency} * r + {w_frequency} * f) * ({half} + {half} * value_pct) AS churn \
                FROM c2) \
         UPDATE contact_scores SET {set} FROM c3 \
         WHERE contact_scores.contact_id = c3.contact_id AND ({differs})",
        week = now - NEGATIVE_WINDOW_DAYS * DAY_MS,
        neg = num(NEGATIVE),
        recent = now - RECENT_DAYS * DAY_MS,
        earlier = now - EARLIER_DAYS * DAY_MS,
        intent = num(CHURN_INTENT_CONFIDENCE),
        cap = NEGATIVE_POSTS_CAP,
        one = num(1.0),
        zero = num(0.0),
        decline_c = clamp(&decline),
        recency_c = clamp(&recency),
        freq = FREQUENT_ORDERS,
        w_social = num(weight::SOCIAL),
        w_neg = num(weight::NEGATIVE_POSTS),
        w_decline = num(weight::DECLINE),
        w_intent = num(weight::CHURN_INTENT),
        w_recency = num(weight::RECENCY),
        w_frequency = num(weight::FREQUENCY),
        half = num(0.5),
        set = CHURN_COLUMNS
            .iter()
            .map(|c| format!("{c} = c3.{c}"))
            .collect::<Vec<_>>()
            .join(", "),
        differs = CHURN_COLUMNS
            .iter()
            .map(|c| format!("contact_scores.{c} IS DISTINCT FROM c3.{c}"))
            .collect::<Vec<_>>()
            .join(" OR "),
    );
    let mut query = sqlx::query(db.backend().sql(sql));
    if let Some(scope) = &scope {
        query = scope.bind(query);
    }
    Ok(query.execute(db.pool()).await?.rows_affected())
}

/// A contact's scores with the explanation of its churn risk.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ContactScore {
    pub contact_id: i64,
    pub external_id: String,
    pub name: Option<String>,
    pub churn: f64,
    pub signals: ChurnSignals,
    pub explanation: String,
}

const SCORE_COLUMNS: &str = "cs.contact_id, c.external_id, c.name, cs.churn, cs.negative_week, cs.recent_sentiment, \
     cs.earlier_sentiment, cs.churn_intent, cs.days_since_order, cs.orders, cs.orders_year, cs.value_pct, cs.ltv";

fn contact_score(row: &AnyRow) -> Result<ContactScore, sqlx::Error> {
    let signals = ChurnSignals {
        negative_week: row.try_get("negative_week")?,
        recent_sentiment: row.try_get("recent_sentiment")?,
        earlier_sentiment: row.try_get("earlier_sentiment")?,
        churn_intent: row.try_get::<i64, _>("churn_intent")? != 0,
        days_since_order: row.try_get("days_since_order")?,
        orders: row.try_get("orders")?,
        orders_year: row.try_get("orders_year")?,
        value_pct: row.try_get("value_pct")?,
        ltv: row.try_get("ltv")?,
    };
    Ok(ContactScore {
        contact_id: row.try_get("contact_id")?,
        external_id: row.try_get("external_id")?,
        name: row.try_get("name")?,
        churn: row.try_get("churn")?,
        explanation: signals.explain(),
        signals,
    })
}

/// The `limit` contacts most at risk, highest first (ties: lowest id).
pub async fn churn_ranking(db: &Db, limit: i64) -> Result<Vec<ContactScore>, InsightsError> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SCORE_COLUMNS} FROM contact_scores cs JOIN contacts c ON c.id = cs.contact_id \
         ORDER BY cs.churn DESC, cs.contact_id LIMIT $1"
    )))
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.iter().map(contact_score).collect::<Result<_, _>>()?)
}

/// One contact's scores, when scored.
pub async fn contact_scores(db: &Db, contact_id: i64) -> Result<Option<ContactScore>, InsightsError> {
    let row = sqlx::query(AssertSqlSafe(format!(
        "SELECT {SCORE_COLUMNS} FROM contact_scores cs JOIN contacts c ON c.id = cs.contact_id \
         WHERE cs.contact_id = $1"
    )))
    .bind(contact_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.as_ref().map(contact_score).transpose()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lapsed_and_angry() -> ChurnSignals {
        ChurnSignals {
            negative_week: 3,
            recent_sentiment: Some(-0.6),
            earlier_sentiment: None,
            churn_intent: false,
            days_since_order: Some(210),
            orders: 1,
            orders_year: 1,
            value_pct: 0.5,
            ltv: 80.0,
        }
    }

    #[test]
    fn combines_social_and_transactions() {
        let s = lapsed_and_angry();
        assert_eq!(s.negative_posts(), 1.0);
        assert!((s.decline() - 0.6).abs() < 1e-12);
        assert!((s.recency() - 180.0 / 335.0).abs() < 1e-12);
        assert_eq!(s.frequency(), 0.75);
        let risk = 0.5 * (0.45 + 0.25 * 0.6) + 0.3 * 180.0 / 335.0 + 0.2 * 0.75;
        assert!((s.churn() - risk * 0.75).abs() < 1e-12);
        assert_eq!(
            s.explain(),
            "3 negative posts in 7 days; sentiment -0.60 over 30 days; last order 210 days ago; \
             1 order in 12 months; customer, LTV 80.00"
        );
    }

    #[test]
    fn a_loyal_happy_customer_has_little_risk() {
        let s = ChurnSignals {
            recent_sentiment: Some(0.6),
            earlier_sentiment: Some(0.5),
            days_since_order: Some(12),
            orders: 9,
            orders_year: 5,
            value_pct: 1.0,
            ltv: 3000.0,
            ..ChurnSignals::default()
        };
        assert_eq!(s.churn(), 0.0);
        assert_eq!(s.explain(), "last order 12 days ago; top-10% customer, LTV 3000.00");
        // Nothing known: no risk, and it says so.
        assert_eq!(ChurnSignals::default().churn(), 0.0);
        assert_eq!(ChurnSignals::default().explain(), "no orders");
    }

    #[test]
    fn value_weighs_the_same_risk() {
        let low = ChurnSignals {
            value_pct: 0.1,
            ..lapsed_and_angry()
        };
        let top = ChurnSignals {
            value_pct: 1.0,
            ..lapsed_and_angry()
        };
        assert!(top.churn() > low.churn());
        let declining = ChurnSignals {
            recent_sentiment: Some(-0.2),
            earlier_sentiment: Some(0.5),
            ..ChurnSignals::default()
        };
        assert!((declining.decline() - 0.7).abs() < 1e-12);
        assert_eq!(declining.explain(), "sentiment down from 0.50 to -0.20; no orders");
    }
}
