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

use super::priority::value_band;
use super::{InsightsError, NEGATIVE, plural};
use crate::store::insights::churn::{ContactScoreRow, Formula};
use crate::store::{self, Db};

/// Kinds of transaction that are orders (frequency, recency, lifetime value).
pub const ORDER_KINDS: [&str; 2] = ["purchase", "subscription"];
/// Kinds that take value back.
pub const REFUND_KINDS: [&str; 2] = ["refund", "return"];

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
    /// Lifetime value in `ltv_currency`, the reporting currency.
    pub ltv: f64,
    pub ltv_currency: Option<String>,
    /// Orders and refunds in currencies without a rate, left out of `ltv`.
    pub unconverted: i64,
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
            let currency = self
                .ltv_currency
                .as_deref()
                .map(|c| format!(" {c}"))
                .unwrap_or_default();
            parts.push(format!("{}, LTV {:.2}{currency}", value_band(self.value_pct), self.ltv));
        }
        if self.unconverted > 0 {
            parts.push(format!(
                "{} transaction{} in currencies without a rate not counted",
                self.unconverted,
                plural(self.unconverted)
            ));
        }
        parts.join("; ")
    }
}

/// The formula above, as the statements that score contacts take it.
pub(crate) const FORMULA: Formula<'static> = Formula {
    order_kinds: &ORDER_KINDS,
    refund_kinds: &REFUND_KINDS,
    recent_order_days: RECENT_ORDER_DAYS,
    negative: NEGATIVE,
    negative_window_days: NEGATIVE_WINDOW_DAYS,
    negative_posts_cap: NEGATIVE_POSTS_CAP,
    recent_days: RECENT_DAYS,
    earlier_days: EARLIER_DAYS,
    churn_intent_confidence: CHURN_INTENT_CONFIDENCE,
    recency_grace_days: RECENCY_GRACE_DAYS,
    recency_full_days: RECENCY_FULL_DAYS,
    frequent_orders: FREQUENT_ORDERS,
    w_negative_posts: weight::NEGATIVE_POSTS,
    w_decline: weight::DECLINE,
    w_churn_intent: weight::CHURN_INTENT,
    w_social: weight::SOCIAL,
    w_recency: weight::RECENCY,
    w_frequency: weight::FREQUENCY,
};

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
    };
    ContactScore {
        contact_id: row.contact_id,
        external_id: row.external_id,
        name: row.name,
        churn: row.churn,
        explanation: signals.explain(),
        signals,
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
            ltv_currency: Some("EUR".into()),
            unconverted: 0,
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
             1 order in 12 months; customer, LTV 80.00 EUR"
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
