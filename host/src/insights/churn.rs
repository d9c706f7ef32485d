//! Per contact: value from transactions, the features a churn model reads
//! (recent social sentiment, recency, frequency, monetary value), and the
//! churn risk the bound scorer made of them (`super::predict`).
//!
//! The bundled scorer, `plugins/churn`, is the default model:
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

use super::{InsightsError, NEGATIVE};
use crate::store::insights::churn::{ContactScoreRow, Formula};
use crate::store::{self, Db};

/// Kinds of transaction that are orders (frequency, recency, lifetime value).
pub const ORDER_KINDS: [&str; 2] = ["purchase", "subscription"];
/// Kinds that take value back.
pub const REFUND_KINDS: [&str; 2] = ["refund", "return"];

/// Negative posts in this many days are the `negative-posts-7d` feature.
pub const NEGATIVE_WINDOW_DAYS: i64 = 7;
/// Recent sentiment: the last 30 days; earlier: 30 to 180 days ago.
pub const RECENT_DAYS: i64 = 30;
pub const EARLIER_DAYS: i64 = 180;
/// A churn-risk intent counts from this confidence.
pub const CHURN_INTENT_CONFIDENCE: f64 = 0.5;
/// Orders "in 90 days" for the inbox's priority.
pub const RECENT_ORDER_DAYS: i64 = 90;

/// The features of a contact's churn risk (stored in `contact_scores`).
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
    /// Lifetime value in `ltv_currency`, the reporting currency.
    pub ltv: f64,
    pub ltv_currency: Option<String>,
    /// Orders and refunds in currencies without a rate, left out of `ltv`.
    pub unconverted: i64,
    pub posts_90d: i64,
}

/// The windows above, as the statements that build the features take them.
pub(crate) const FORMULA: Formula<'static> = Formula {
    order_kinds: &ORDER_KINDS,
    refund_kinds: &REFUND_KINDS,
    recent_order_days: RECENT_ORDER_DAYS,
    negative: NEGATIVE,
    negative_window_days: NEGATIVE_WINDOW_DAYS,
    recent_days: RECENT_DAYS,
    earlier_days: EARLIER_DAYS,
    churn_intent_confidence: CHURN_INTENT_CONFIDENCE,
};

/// One reason the scorer gave for a churn risk.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Factor {
    pub feature: String,
    /// How much it added to the score (negative: took away).
    pub contribution: f64,
    pub note: String,
}

/// A contact's scores with the explanation of its churn risk.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ContactScore {
    pub contact_id: i64,
    pub external_id: String,
    pub name: Option<String>,
    pub churn: f64,
    pub signals: ChurnSignals,
    /// The scorer's factors, as it ordered them.
    pub factors: Vec<Factor>,
    /// The factors' notes, `; `-separated.
    pub explanation: String,
    /// `name version` of the scorer that made `churn`; none before the first.
    pub scorer: Option<String>,
}

/// The factors' notes as one line.
pub fn explain(factors: &[Factor]) -> String {
    factors.iter().map(|f| f.note.as_str()).collect::<Vec<_>>().join("; ")
}

fn contact_score(row: ContactScoreRow) -> ContactScore {
    let signals = ChurnSignals {
        negative_week: row.negative_week,
        recent_sentiment: row.recent_sentiment,
        earlier_sentiment: row.earlier_sentiment,
        churn_intent: row.churn_intent,
        days_since_order: row.days_since_order,
        orders: row.orders,
        orders_year: row.orders_year,
        value_pct: row.value_pct,
        ltv: row.ltv,
        ltv_currency: row.ltv_currency,
        unconverted: row.unconverted,
        posts_90d: row.posts_90d,
    };
    // Written by the host from a checked scorer answer; unreadable only if
    // edited by hand, and then shown without factors.
    let factors: Vec<Factor> = serde_json::from_str(&row.churn_factors).unwrap_or_default();
    ContactScore {
        contact_id: row.contact_id,
        external_id: row.external_id,
        name: row.name,
        churn: row.churn,
        explanation: explain(&factors),
        factors,
        signals,
        scorer: row.churn_scorer,
    }
}

/// The `limit` contacts most at risk, highest first (ties: lowest id).
pub async fn churn_ranking(db: &Db, limit: i64) -> Result<Vec<ContactScore>, InsightsError> {
    let rows = store::insights::churn::ranking(db, limit).await?;
    Ok(rows.into_iter().map(contact_score).collect())
}

/// One contact's scores, when scored.
pub async fn contact_scores(db: &Db, contact_id: i64) -> Result<Option<ContactScore>, InsightsError> {
    let row = store::insights::churn::of_contact(db, contact_id).await?;
    Ok(row.map(contact_score))
}
