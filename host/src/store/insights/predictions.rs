//! What scorers read and write in `contact_scores`: each contact's features
//! (built by `churn::refresh_values` and `churn::refresh_features`), its CRM
//! tags, and the churn risk with its factors (`crate::insights::predict`).

use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::store::{Db, placeholders};

/// One contact's stored features and its current churn risk.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureRow {
    pub contact_id: i64,
    pub ltv: f64,
    pub value_pct: f64,
    pub orders: i64,
    pub orders_year: i64,
    pub recent_orders: i64,
    pub days_since_order: Option<i64>,
    pub unconverted: i64,
    pub negative_week: i64,
    pub recent_sentiment: Option<f64>,
    pub earlier_sentiment: Option<f64>,
    pub churn_intent: i64,
    pub posts_90d: i64,
    /// What is stored now: the score, its factors (JSON) and the scorer.
    pub churn: f64,
    pub churn_factors: String,
    pub churn_scorer: Option<String>,
}

const COLUMNS: &str = "contact_id, ltv, value_pct, orders, orders_year, recent_orders, days_since_order, unconverted, \
     negative_week, recent_sentiment, earlier_sentiment, churn_intent, posts_90d, churn, churn_factors, churn_scorer";

fn feature_row(r: &AnyRow) -> Result<FeatureRow, sqlx::Error> {
    Ok(FeatureRow {
        contact_id: r.try_get("contact_id")?,
        ltv: r.try_get("ltv")?,
        value_pct: r.try_get("value_pct")?,
        orders: r.try_get("orders")?,
        orders_year: r.try_get("orders_year")?,
        recent_orders: r.try_get("recent_orders")?,
        days_since_order: r.try_get("days_since_order")?,
        unconverted: r.try_get("unconverted")?,
        negative_week: r.try_get("negative_week")?,
        recent_sentiment: r.try_get("recent_sentiment")?,
        earlier_sentiment: r.try_get("earlier_sentiment")?,
        churn_intent: r.try_get("churn_intent")?,
        posts_90d: r.try_get("posts_90d")?,
        churn: r.try_get("churn")?,
        churn_factors: r.try_get("churn_factors")?,
        churn_scorer: r.try_get("churn_scorer")?,
    })
}

/// Up to `limit` scored contacts after `after`, by id: a page of a pass over all.
pub async fn page(db: &Db, after: i64, limit: i64) -> Result<Vec<FeatureRow>, sqlx::Error> {
    let rows = sqlx::query(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM contact_scores WHERE contact_id > $1 ORDER BY contact_id LIMIT $2"
    )))
    .bind(after)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    rows.iter().map(feature_row).collect()
}

/// The scored contacts among `ids`, by id.
pub async fn of_contacts(db: &Db, ids: &[i64]) -> Result<Vec<FeatureRow>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM contact_scores WHERE contact_id IN {} ORDER BY contact_id",
        placeholders(1, ids.len())
    );
    let mut query = sqlx::query(db.backend().sql(sql));
    for id in ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter().map(feature_row).collect()
}

/// The `tags` custom field of the source records of `ids`: (contact, the
/// field's JSON object), as sources store it (`shopify` writes `a, b`).
pub async fn custom_fields(db: &Db, ids: &[i64]) -> Result<Vec<(i64, String)>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT contact_id, custom_fields FROM source_contacts WHERE active = 1 AND contact_id IN {} \
         ORDER BY contact_id",
        placeholders(1, ids.len())
    );
    let mut query = sqlx::query(db.backend().sql(sql));
    for id in ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(db.pool()).await?;
    rows.iter()
        .map(|r| Ok((r.try_get("contact_id")?, r.try_get("custom_fields")?)))
        .collect()
}

/// A contact's new churn risk.
#[derive(Clone, Debug, PartialEq)]
pub struct Scored {
    pub contact_id: i64,
    pub churn: f64,
    pub factors: String,
    pub scorer: String,
}

/// Writes `scored` (one statement per 200), skipping rows that would not
/// change. Returns the rows written.
pub async fn write(db: &Db, scored: &[Scored]) -> Result<u64, sqlx::Error> {
    let mut written = 0;
    let mut tx = db.begin().await?;
    for chunk in scored.chunks(200) {
        let sql = format!(
            "WITH v(contact_id, churn, churn_factors, churn_scorer) AS (VALUES {}) \
             UPDATE contact_scores SET churn = v.churn, churn_factors = v.churn_factors, \
             churn_scorer = v.churn_scorer FROM v WHERE contact_scores.contact_id = v.contact_id \
             AND (contact_scores.churn IS DISTINCT FROM v.churn \
                  OR contact_scores.churn_factors IS DISTINCT FROM v.churn_factors \
                  OR contact_scores.churn_scorer IS DISTINCT FROM v.churn_scorer)",
            placeholders(chunk.len(), 4)
        );
        let mut query = sqlx::query(db.backend().sql(sql));
        for s in chunk {
            query = query
                .bind(s.contact_id)
                .bind(s.churn)
                .bind(s.factors.as_str())
                .bind(s.scorer.as_str());
        }
        written += query.execute(&mut *tx).await?.rows_affected();
    }
    tx.commit().await?;
    Ok(written)
}

/// The scored posts of the contacts `ids`: their priority weighs the
/// contact's churn risk.
pub async fn posts_of(db: &Db, ids: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT post_id FROM post_scores WHERE contact_id IN {} ORDER BY post_id",
        placeholders(1, ids.len())
    );
    let mut query = sqlx::query_scalar(db.backend().sql(sql));
    for id in ids {
        query = query.bind(*id);
    }
    query.fetch_all(db.pool()).await
}
