//! The bundled churn scorer: churn risk per contact, combining the recent
//! social sentiment with recency, frequency and monetary value. It is the
//! default model behind the `churn-risk` prediction; a vendor's model is
//! bound in its place the same way.
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
//! `value_pct` (the `value-percentile` feature) is the contact's cumulative
//! share among customers ordered by lifetime value: the top customer has 1, a
//! contact without purchases 0. So the same risk ranks a valuable customer
//! above an occasional one.
//!
//! Each part of the explanation is one factor, in a fixed order; the host
//! joins their notes with `; ` into the line agents read, e.g.
//! `3 negative posts in 7 days; last order 210 days ago; 1 order in 12 months`.

use socialcrm_sdk::scorer::{Descriptor, Factor, Prediction, ScoreRequest, Scorer, Subject, feature};

/// The one prediction this scorer makes.
pub const PREDICTION: &str = "churn-risk";

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
/// Recent sentiment: the last 30 days (earlier: 30 to 180 days ago).
pub const RECENT_DAYS: i64 = 30;
/// A churn-risk intent counts from this confidence.
pub const CHURN_INTENT_CONFIDENCE: f64 = 0.5;
/// Recency risk starts after 30 days without an order and is full at 365.
pub const RECENCY_GRACE_DAYS: i64 = 30;
pub const RECENCY_FULL_DAYS: i64 = 365;
/// Orders in 12 months that make frequency risk 0.
pub const FREQUENT_ORDERS: i64 = 4;

/// What a contact's churn risk is computed from, read from its features.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Signals {
    pub negative_week: i64,
    pub recent_sentiment: Option<f64>,
    pub earlier_sentiment: Option<f64>,
    pub churn_intent: bool,
    pub days_since_order: Option<i64>,
    pub orders: i64,
    pub orders_year: i64,
    /// In [0, 1].
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

fn plural(n: i64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// What the value share means: `top-10% customer`, ...
pub fn value_band(value_pct: f64) -> &'static str {
    if value_pct > 0.9 {
        "top-10% customer"
    } else if value_pct > 0.75 {
        "top-25% customer"
    } else if value_pct > 0.5 {
        "top-half customer"
    } else if value_pct > 0.0 {
        "customer"
    } else {
        "contact without purchases"
    }
}

/// Feature `name`, when the host gave it a finite value (NaN and infinities
/// count as absent).
fn value(subject: &Subject, name: &str) -> Option<f64> {
    feature(subject, name).filter(|v| v.is_finite())
}

/// A count or a number of days: features carry whole numbers as f64.
fn whole(subject: &Subject, name: &str) -> Option<i64> {
    value(subject, name).map(|v| v.round() as i64)
}

/// A count, 0 when absent and never negative.
fn count(subject: &Subject, name: &str) -> i64 {
    whole(subject, name).unwrap_or(0).max(0)
}

fn factor(feature: &str, contribution: f64, note: String) -> Factor {
    Factor {
        feature: feature.into(),
        contribution,
        note,
    }
}

impl Signals {
    /// The signals of `subject`; `currency` is the request's `value-currency`.
    pub fn of(subject: &Subject, currency: Option<&str>) -> Signals {
        Signals {
            negative_week: count(subject, "negative-posts-7d"),
            recent_sentiment: value(subject, "sentiment-30d"),
            earlier_sentiment: value(subject, "sentiment-30-180d"),
            churn_intent: value(subject, "churn-intent-30d").is_some_and(|c| c >= CHURN_INTENT_CONFIDENCE),
            days_since_order: whole(subject, "days-since-order"),
            orders: count(subject, "orders"),
            orders_year: count(subject, "orders-12m"),
            value_pct: value(subject, "value-percentile").map_or(0.0, clamp01),
            ltv: value(subject, "lifetime-value").unwrap_or(0.0),
            ltv_currency: currency.map(str::to_owned),
            unconverted: count(subject, "unconverted-transactions"),
        }
    }

    pub fn negative_posts(&self) -> f64 {
        self.negative_week.min(NEGATIVE_POSTS_CAP) as f64 / NEGATIVE_POSTS_CAP as f64
    }

    /// How far the mean sentiment fell: earlier (0 when none) minus recent.
    pub fn decline(&self) -> f64 {
        self.recent_sentiment
            .map_or(0.0, |r| clamp01(self.earlier_sentiment.unwrap_or(0.0) - r))
    }

    fn intent(&self) -> f64 {
        if self.churn_intent { 1.0 } else { 0.0 }
    }

    pub fn social(&self) -> f64 {
        weight::NEGATIVE_POSTS * self.negative_posts()
            + weight::DECLINE * self.decline()
            + weight::CHURN_INTENT * self.intent()
    }

    pub fn recency(&self) -> f64 {
        self.days_since_order.map_or(0.0, |d| {
            clamp01((d as f64 - RECENCY_GRACE_DAYS as f64) / (RECENCY_FULL_DAYS - RECENCY_GRACE_DAYS) as f64)
        })
    }

    pub fn frequency(&self) -> f64 {
        if self.orders == 0 {
            0.0
        } else {
            1.0 - self.orders_year.min(FREQUENT_ORDERS) as f64 / FREQUENT_ORDERS as f64
        }
    }

    /// The risk before weighting by value.
    pub fn risk(&self) -> f64 {
        weight::SOCIAL * self.social() + weight::RECENCY * self.recency() + weight::FREQUENCY * self.frequency()
    }

    /// How value weighs the risk: from 0.5 (no purchases) to 1 (top customer).
    pub fn multiplier(&self) -> f64 {
        0.5 + 0.5 * self.value_pct
    }

    /// The churn score in [0, 1] (0 rather than NaN).
    pub fn churn(&self) -> f64 {
        let churn = self.risk() * self.multiplier();
        if churn.is_nan() { 0.0 } else { clamp01(churn) }
    }

    /// One factor per part of the explanation, in the explanation's order.
    /// The social, recency and frequency parts contribute their weighted
    /// share of the score (they add up to it); the value factor contributes
    /// how much the value weighting raised the score above that of a contact
    /// without purchases (`risk · 0.5 · value_pct`), so it overlaps them.
    /// Notes that only inform (`no orders`, unconverted transactions)
    /// contribute 0.
    pub fn factors(&self) -> Vec<Factor> {
        let m = self.multiplier();
        let mut factors = Vec::new();
        if self.negative_week > 0 {
            factors.push(factor(
                "negative-posts-7d",
                weight::SOCIAL * weight::NEGATIVE_POSTS * self.negative_posts() * m,
                format!(
                    "{} negative post{} in {NEGATIVE_WINDOW_DAYS} days",
                    self.negative_week,
                    plural(self.negative_week)
                ),
            ));
        }
        if self.decline() > 0.0 {
            let recent = self.recent_sentiment.unwrap_or(0.0);
            let note = match self.earlier_sentiment {
                Some(e) => format!("sentiment down from {e:.2} to {recent:.2}"),
                None => format!("sentiment {recent:.2} over {RECENT_DAYS} days"),
            };
            factors.push(factor(
                "sentiment-30d",
                weight::SOCIAL * weight::DECLINE * self.decline() * m,
                note,
            ));
        }
        if self.churn_intent {
            factors.push(factor(
                "churn-intent-30d",
                weight::SOCIAL * weight::CHURN_INTENT * m,
                format!("churn-risk intent in {RECENT_DAYS} days"),
            ));
        }
        match self.days_since_order {
            Some(d) if self.orders > 0 => {
                factors.push(factor(
                    "days-since-order",
                    weight::RECENCY * self.recency() * m,
                    format!("last order {d} day{} ago", plural(d)),
                ));
                if self.frequency() > 0.0 {
                    factors.push(factor(
                        "orders-12m",
                        weight::FREQUENCY * self.frequency() * m,
                        format!("{} order{} in 12 months", self.orders_year, plural(self.orders_year)),
                    ));
                }
            }
            _ => factors.push(factor("orders", 0.0, "no orders".into())),
        }
        if self.value_pct > 0.0 {
            let currency = self
                .ltv_currency
                .as_deref()
                .map(|c| format!(" {c}"))
                .unwrap_or_default();
            factors.push(factor(
                "value-percentile",
                self.risk() * 0.5 * self.value_pct,
                format!("{}, LTV {:.2}{currency}", value_band(self.value_pct), self.ltv),
            ));
        }
        if self.unconverted > 0 {
            factors.push(factor(
                "unconverted-transactions",
                0.0,
                format!(
                    "{} transaction{} in currencies without a rate not counted",
                    self.unconverted,
                    plural(self.unconverted)
                ),
            ));
        }
        factors
    }
}

pub struct Churn;

impl Scorer for Churn {
    fn describe() -> Descriptor {
        Descriptor {
            predicts: vec![PREDICTION.into()],
            description: "Churn risk in [0, 1] from recent social sentiment, order recency and frequency, \
                          weighted by customer value"
                .into(),
        }
    }

    /// One prediction per subject, in order. The host only asks for what
    /// `describe` predicts; any other prediction scores every subject 0
    /// without factors rather than failing the batch.
    fn score(request: ScoreRequest) -> Vec<Prediction> {
        if request.prediction != PREDICTION {
            return request
                .subjects
                .iter()
                .map(|_| Prediction {
                    score: 0.0,
                    factors: Vec::new(),
                })
                .collect();
        }
        let currency = request.value_currency.as_deref();
        request
            .subjects
            .iter()
            .map(|subject| {
                let signals = Signals::of(subject, currency);
                Prediction {
                    score: signals.churn(),
                    factors: signals.factors(),
                }
            })
            .collect()
    }
}

socialcrm_sdk::export_scorer!(Churn);

#[cfg(test)]
mod tests {
    use socialcrm_sdk::scorer::Feature;

    use super::*;

    fn subject(features: &[(&str, f64)]) -> Subject {
        Subject {
            features: features
                .iter()
                .map(|&(name, value)| Feature {
                    name: name.into(),
                    value,
                })
                .collect(),
            tags: Vec::new(),
        }
    }

    fn request(currency: Option<&str>, subjects: Vec<Subject>) -> ScoreRequest {
        ScoreRequest {
            prediction: PREDICTION.into(),
            value_currency: currency.map(str::to_owned),
            subjects,
        }
    }

    /// The one prediction of a one-subject batch.
    fn score_one(currency: Option<&str>, features: &[(&str, f64)]) -> Prediction {
        let mut predictions = <Churn as Scorer>::score(request(currency, vec![subject(features)]));
        assert_eq!(predictions.len(), 1);
        predictions.remove(0)
    }

    /// The line the host shows: the notes joined with `; `.
    fn explanation(p: &Prediction) -> String {
        p.factors.iter().map(|f| f.note.as_str()).collect::<Vec<_>>().join("; ")
    }

    fn assert_same(a: &Prediction, b: &Prediction) {
        assert_eq!(a.score, b.score);
        let parts = |p: &Prediction| {
            p.factors
                .iter()
                .map(|f| (f.feature.clone(), f.contribution, f.note.clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(parts(a), parts(b));
    }

    const LAPSED_AND_ANGRY: [(&str, f64); 6] = [
        ("negative-posts-7d", 3.0),
        ("sentiment-30d", -0.6),
        ("days-since-order", 210.0),
        ("orders", 1.0),
        ("orders-12m", 1.0),
        ("lifetime-value", 80.0),
    ];

    fn lapsed_and_angry(value_pct: f64) -> Vec<(&'static str, f64)> {
        let mut features = LAPSED_AND_ANGRY.to_vec();
        features.push(("value-percentile", value_pct));
        features
    }

    #[test]
    fn combines_social_and_transactions() {
        let p = score_one(Some("EUR"), &lapsed_and_angry(0.5));
        let risk = 0.5 * (0.45 + 0.25 * 0.6) + 0.3 * 180.0 / 335.0 + 0.2 * 0.75;
        assert!((p.score - risk * 0.75).abs() < 1e-12);
        assert_eq!(
            explanation(&p),
            "3 negative posts in 7 days; sentiment -0.60 over 30 days; last order 210 days ago; \
             1 order in 12 months; customer, LTV 80.00 EUR"
        );
        let features: Vec<&str> = p.factors.iter().map(|f| f.feature.as_str()).collect();
        assert_eq!(
            features,
            [
                "negative-posts-7d",
                "sentiment-30d",
                "days-since-order",
                "orders-12m",
                "value-percentile"
            ]
        );
        // The social, recency and frequency shares add up to the score; the
        // value factor is what the weighting added over no purchases.
        let shares: f64 = p.factors[..4].iter().map(|f| f.contribution).sum();
        assert!((shares - p.score).abs() < 1e-12);
        assert!((p.factors[0].contribution - 0.5 * 0.45 * 0.75).abs() < 1e-12);
        assert!((p.factors[4].contribution - risk * 0.5 * 0.5).abs() < 1e-12);
    }

    #[test]
    fn a_loyal_happy_customer_has_little_risk() {
        let p = score_one(
            None,
            &[
                ("sentiment-30d", 0.6),
                ("sentiment-30-180d", 0.5),
                ("days-since-order", 12.0),
                ("orders", 9.0),
                ("orders-12m", 5.0),
                ("value-percentile", 1.0),
                ("lifetime-value", 3000.0),
            ],
        );
        assert_eq!(p.score, 0.0);
        assert_eq!(explanation(&p), "last order 12 days ago; top-10% customer, LTV 3000.00");
        // Nothing known: no risk, and it says so.
        let p = score_one(None, &[]);
        assert_eq!(p.score, 0.0);
        assert_eq!(explanation(&p), "no orders");
        assert_eq!(p.factors[0].feature, "orders");
        assert_eq!(p.factors[0].contribution, 0.0);
    }

    #[test]
    fn value_weighs_the_same_risk() {
        let low = score_one(Some("EUR"), &lapsed_and_angry(0.1));
        let top = score_one(Some("EUR"), &lapsed_and_angry(1.0));
        assert!(top.score > low.score);
        let declining = score_one(None, &[("sentiment-30d", -0.2), ("sentiment-30-180d", 0.5)]);
        // risk = 0.5 · 0.25 · 0.7, weighted by 0.5 without purchases.
        assert!((declining.score - 0.5 * 0.25 * 0.7 * 0.5).abs() < 1e-12);
        assert_eq!(explanation(&declining), "sentiment down from 0.50 to -0.20; no orders");
    }

    #[test]
    fn ignores_nan_and_keeps_one_prediction_per_subject_in_order() {
        let clean = subject(&lapsed_and_angry(0.5));
        let mut poisoned = clean.clone();
        poisoned.features.extend([
            Feature {
                name: "churn-intent-30d".into(),
                value: f64::NAN,
            },
            Feature {
                name: "sentiment-30-180d".into(),
                value: f64::INFINITY,
            },
        ]);
        let nan_only = subject(&[("value-percentile", f64::NAN), ("days-since-order", f64::NAN)]);
        let predictions = <Churn as Scorer>::score(request(
            Some("EUR"),
            vec![subject(&[]), poisoned, nan_only, clean.clone()],
        ));
        assert_eq!(predictions.len(), 4);
        let expected = <Churn as Scorer>::score(request(Some("EUR"), vec![clean]));
        // Empty first, then the poisoned contact scored as if clean, last the clean one.
        assert_eq!(explanation(&predictions[0]), "no orders");
        assert_same(&predictions[1], &expected[0]);
        assert_eq!(predictions[2].score, 0.0);
        assert_eq!(explanation(&predictions[2]), "no orders");
        assert_same(&predictions[3], &expected[0]);
        assert!(predictions.iter().all(|p| (0.0..=1.0).contains(&p.score)));
    }

    #[test]
    fn other_predictions_score_zero() {
        let p = <Churn as Scorer>::score(ScoreRequest {
            prediction: "upsell".into(),
            value_currency: None,
            subjects: vec![subject(&lapsed_and_angry(1.0)), subject(&[])],
        });
        assert_eq!(p.len(), 2);
        assert!(p.iter().all(|p| p.score == 0.0 && p.factors.is_empty()));
        assert_eq!(<Churn as Scorer>::describe().predicts, [PREDICTION]);
    }
}
