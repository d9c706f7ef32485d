//! Priority of each inbound post for the inbox.
//!
//! ```text
//! priority(now) = base + 0.5 · waiting_hours
//! base = 30 · max(0, −sentiment)
//!      + 25 · intent weight × confidence  (the strongest intent)
//!      + 15 · value_pct                   (author's contact among customers by lifetime value)
//!      + 10 · churn                       (the author's contact's churn risk, from the bound scorer)
//!      + 10 · min(orders in 90 days, 3) / 3
//!      + 10 · reach                       (0.2 per order of magnitude of followers from 10, 1 at 100,000)
//! ```
//!
//! Waiting time grows continuously, so what is stored is `base` and the key
//! `base − 0.5 · created_at_hours`: ordering by the key (descending) equals
//! ordering by `base + 0.5 · waiting_hours` at any moment, and the priority at
//! `now` is `key + 0.5 · now_hours`. The inbox is one index scan.

use serde::Serialize;

use super::{HOUR_MS, InsightsError, grouped, plural};
use crate::events::{Event, EventType};
use crate::store::insights::priority::{Formula, ScoredPost};
use crate::store::{self, Db};

/// What a post's priority is computed from (`signals` reads them from a row).
pub use crate::store::insights::priority::{Signals, signals};

/// Points of each part of the base score (at most 100 together).
pub mod weight {
    /// Negativity: `max(0, −sentiment)`.
    pub const NEGATIVITY: f64 = 30.0;
    /// The strongest intent: its weight ([`super::INTENT_WEIGHTS`]) × confidence.
    pub const INTENT: f64 = 25.0;
    /// The author's value: share of customers with a lifetime value at most theirs.
    pub const VALUE: f64 = 15.0;
    /// The churn risk of the author's contact ([`crate::insights::predict`]).
    pub const CHURN: f64 = 10.0;
    /// Orders in the last 90 days, up to [`super::RECENT_ORDERS_CAP`].
    pub const RECENT_ORDERS: f64 = 10.0;
    /// Reach from followers.
    pub const REACH: f64 = 10.0;
    /// Points per hour of waiting (12 a day).
    pub const WAITING_PER_HOUR: f64 = 0.5;
}

/// How much each intent asks for an answer (× its confidence). Others: 0.
pub const INTENT_WEIGHTS: [(&str, f64); 6] = [
    ("churn-risk", 1.0),
    ("complaint", 0.9),
    ("support-request", 0.8),
    ("question", 0.6),
    ("purchase-intent", 0.6),
    ("praise", 0.0),
];

/// Recent orders beyond this add nothing.
pub const RECENT_ORDERS_CAP: i64 = 3;

/// Follower thresholds of reach 0.2, 0.4, ... 1.0.
pub const REACH_STEPS: [i64; 5] = [10, 100, 1_000, 10_000, 100_000];

/// The formula above, as the statement that scores posts takes it.
pub(crate) const FORMULA: Formula<'static> = Formula {
    negativity: weight::NEGATIVITY,
    intent: weight::INTENT,
    value: weight::VALUE,
    churn: weight::CHURN,
    recent_orders: weight::RECENT_ORDERS,
    reach: weight::REACH,
    waiting_per_hour: weight::WAITING_PER_HOUR,
    intent_weights: &INTENT_WEIGHTS,
    recent_orders_cap: RECENT_ORDERS_CAP,
    reach_steps: &REACH_STEPS,
};

/// The weight of intent `name`.
pub fn intent_weight(name: &str) -> f64 {
    INTENT_WEIGHTS.iter().find(|(n, _)| *n == name).map_or(0.0, |(_, w)| *w)
}

/// Reach in [0, 1]: 0.2 per order of magnitude of followers from 10.
pub fn reach(followers: Option<i64>) -> f64 {
    let f = followers.unwrap_or(0);
    REACH_STEPS.iter().filter(|&&s| f >= s).count() as f64 / REACH_STEPS.len() as f64
}

/// The parts of the base score, in points.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Parts {
    pub negativity: f64,
    pub intent: f64,
    pub value: f64,
    pub churn: f64,
    pub recent_orders: f64,
    pub reach: f64,
}

impl Parts {
    pub fn of(s: &Signals) -> Parts {
        let intent = match (&s.intent, s.intent_confidence) {
            (Some(name), Some(c)) => c * intent_weight(name),
            _ => 0.0,
        };
        Parts {
            negativity: weight::NEGATIVITY * s.sentiment.map_or(0.0, |x| if x < 0.0 { -x } else { 0.0 }),
            intent: weight::INTENT * intent,
            value: weight::VALUE * s.value_pct,
            churn: weight::CHURN * s.author_churn,
            recent_orders: weight::RECENT_ORDERS
                * if s.recent_orders >= RECENT_ORDERS_CAP {
                    1.0
                } else {
                    s.recent_orders as f64 / RECENT_ORDERS_CAP as f64
                },
            reach: weight::REACH * reach(s.followers),
        }
    }

    /// The base score (the priority of a post that has not waited).
    pub fn base(&self) -> f64 {
        self.negativity + self.intent + self.value + self.churn + self.recent_orders + self.reach
    }
}

/// The stored sort key of a post with `base` created at `created_at` (ms).
pub fn key(base: f64, created_at: i64) -> f64 {
    base - weight::WAITING_PER_HOUR * created_at as f64 / HOUR_MS as f64
}

/// The priority at `now` of a post with sort key `key`.
pub fn priority_at(key: f64, now: i64) -> f64 {
    key + weight::WAITING_PER_HOUR * now as f64 / HOUR_MS as f64
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

/// One line: each part that adds points, largest first, then the wait.
/// `complaint 0.90 (+20.2), top-10% customer, LTV 2499.00 (+25.0), negative -0.70 (+21.0), waiting 2 h (+1.0)`
pub fn explain(s: &Signals, created_at: i64, now: i64) -> String {
    let p = Parts::of(s);
    let mut parts: Vec<(f64, String)> = Vec::new();
    if p.negativity > 0.0 {
        parts.push((p.negativity, format!("negative {:.2}", s.sentiment.unwrap_or(0.0))));
    }
    if let (Some(name), Some(c)) = (&s.intent, s.intent_confidence)
        && p.intent > 0.0
    {
        parts.push((p.intent, format!("{name} {c:.2}")));
    }
    if p.value > 0.0 {
        parts.push((p.value, format!("{}, LTV {:.2}", value_band(s.value_pct), s.ltv)));
    }
    if p.churn > 0.0 {
        parts.push((p.churn, format!("churn risk {:.2}", s.author_churn)));
    }
    if p.recent_orders > 0.0 {
        parts.push((
            p.recent_orders,
            format!("{} order{} in 90 days", s.recent_orders, plural(s.recent_orders)),
        ));
    }
    if p.reach > 0.0 {
        let f = s.followers.unwrap_or(0);
        parts.push((p.reach, format!("{} follower{}", grouped(f), plural(f))));
    }
    parts.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut out: Vec<String> = parts
        .into_iter()
        .map(|(pts, what)| format!("{what} (+{pts:.1})"))
        .collect();
    if out.is_empty() {
        out.push(if s.known {
            "no urgency signals".to_string()
        } else {
            "no urgency signals, unknown author".to_string()
        });
    }
    let hours = ((now - created_at).max(0)) as f64 / HOUR_MS as f64;
    out.push(format!(
        "waiting {} (+{:.1})",
        waited(now - created_at),
        weight::WAITING_PER_HOUR * hours
    ));
    out.join(", ")
}

/// `45 min`, `5 h`, `3 d`.
fn waited(ms: i64) -> String {
    let minutes = ms.max(0) / 60_000;
    if minutes < 60 {
        format!("{minutes} min")
    } else if minutes < 48 * 60 {
        format!("{} h", minutes / 60)
    } else {
        format!("{} d", minutes / (24 * 60))
    }
}

/// One post of the inbox, with its priority now and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InboxItem {
    pub post_id: i64,
    pub priority: f64,
    pub base: f64,
    pub created_at: i64,
    pub network: String,
    pub handle: String,
    pub contact_id: Option<i64>,
    pub contact_name: Option<String>,
    pub text: String,
    pub signals: Signals,
    pub explanation: String,
}

/// The `post.analyzed` event of a post just scored, its priority as at `now`.
pub fn analyzed(s: &ScoredPost, now: i64) -> Event {
    let priority = priority_at(s.priority_key, now);
    let data = serde_json::json!({
        "post_id": s.post_id,
        "channel": s.channel,
        "created_at": s.created_at,
        "sentiment": s.signals.sentiment,
        "intent": s.signals.intent,
        "intent_confidence": s.signals.intent_confidence,
        "priority": priority,
        "contact_id": s.contact_id,
        "explanation": explain(&s.signals, s.created_at, now),
    });
    Event {
        intent: s.signals.intent.clone(),
        priority: Some(priority),
        ..Event::new(EventType::PostAnalyzed, data).channel(s.channel.as_str())
    }
}

/// The `limit` scored posts of inbox status `status` (e.g. `open`) with the
/// highest priority at `now`, highest first (ties: newest first).
pub async fn inbox(db: &Db, status: &str, limit: i64, now: i64) -> Result<Vec<InboxItem>, InsightsError> {
    let rows = store::insights::priority::inbox(db, status, limit).await?;
    Ok(rows
        .into_iter()
        .map(|row| InboxItem {
            post_id: row.post_id,
            priority: priority_at(row.priority_key, now),
            base: row.base,
            created_at: row.created_at,
            network: row.network,
            handle: row.handle,
            contact_id: row.contact_id,
            contact_name: row.contact_name,
            text: row.text,
            explanation: explain(&row.signals, row.created_at, now),
            signals: row.signals,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complaint_from_top_customer() -> Signals {
        Signals {
            sentiment: Some(-0.7),
            intent: Some("complaint".into()),
            intent_confidence: Some(0.9),
            value_pct: 1.0,
            ltv: 3000.0,
            recent_orders: 2,
            author_churn: 0.4,
            followers: Some(40),
            known: true,
        }
    }

    fn praise_from_unknown() -> Signals {
        Signals {
            sentiment: Some(0.8),
            intent: Some("praise".into()),
            intent_confidence: Some(0.95),
            followers: Some(250_000),
            ..Signals::default()
        }
    }

    #[test]
    fn a_top_customers_complaint_outranks_praise_from_an_unknown_account() {
        let complaint = Parts::of(&complaint_from_top_customer()).base();
        let praise = Parts::of(&praise_from_unknown()).base();
        // 21 + 20.25 + 15 + 4 + 6.67 + 2
        assert!((complaint - 68.916_666).abs() < 1e-3, "{complaint}");
        assert_eq!(praise, 10.0);
        // And still does when the praise has waited four days longer.
        assert!(complaint > praise + weight::WAITING_PER_HOUR * 24.0 * 4.0);
    }

    #[test]
    fn the_key_orders_like_the_priority_at_any_time() {
        let posts = [(40.0, 10 * HOUR_MS), (45.0, 20 * HOUR_MS), (20.0, 0)];
        for now in [20 * HOUR_MS, 100 * HOUR_MS, 10_000 * HOUR_MS] {
            let by_key: Vec<f64> = posts.iter().map(|(b, t)| key(*b, *t)).collect();
            let by_priority: Vec<f64> = posts
                .iter()
                .map(|(b, t)| b + weight::WAITING_PER_HOUR * (now - t) as f64 / HOUR_MS as f64)
                .collect();
            for i in 0..posts.len() {
                assert!((priority_at(by_key[i], now) - by_priority[i]).abs() < 1e-6);
                for j in 0..posts.len() {
                    assert_eq!(by_key[i] > by_key[j], by_priority[i] > by_priority[j]);
                }
            }
        }
    }

    #[test]
    fn reach_steps_by_orders_of_magnitude() {
        assert_eq!(reach(None), 0.0);
        assert_eq!(reach(Some(9)), 0.0);
        assert_eq!(reach(Some(10)), 0.2);
        assert_eq!(reach(Some(12_400)), 0.8);
        assert_eq!(reach(Some(5_000_000)), 1.0);
        assert_eq!(intent_weight("complaint"), 0.9);
        assert_eq!(intent_weight("unknown-label"), 0.0);
    }

    #[test]
    fn explains_largest_part_first() {
        let now = 100 * HOUR_MS;
        assert_eq!(
            explain(&complaint_from_top_customer(), now - 2 * HOUR_MS, now),
            "negative -0.70 (+21.0), complaint 0.90 (+20.2), top-10% customer, LTV 3000.00 (+15.0), \
             2 orders in 90 days (+6.7), churn risk 0.40 (+4.0), 40 followers (+2.0), waiting 2 h (+1.0)"
        );
        assert_eq!(
            explain(&praise_from_unknown(), now - 30 * 60_000, now),
            "250,000 followers (+10.0), waiting 30 min (+0.2)"
        );
        assert_eq!(
            explain(&Signals::default(), now - 72 * HOUR_MS, now),
            "no urgency signals, unknown author, waiting 3 d (+36.0)"
        );
    }
}
