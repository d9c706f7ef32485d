//! Priority of each inbound post for the inbox.
//!
//! ```text
//! priority(now) = base + 0.5 · waiting_hours
//! base = 30 · max(0, −sentiment)
//!      + 25 · intent weight × confidence  (the strongest intent)
//!      + 25 · value_pct                   (author's contact among customers by lifetime value)
//!      + 10 · min(orders in 90 days, 3) / 3
//!      + 10 · reach                       (0.2 per order of magnitude of followers from 10, 1 at 100,000)
//! ```
//!
//! Waiting time grows continuously, so what is stored is `base` and the key
//! `base − 0.5 · created_at_hours`: ordering by the key (descending) equals
//! ordering by `base + 0.5 · waiting_hours` at any moment, and the priority at
//! `now` is `key + 0.5 · now_hours`. The inbox is one index scan.

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::dialect::{self, num};
use super::{HOUR_MS, INTENT_PLUGIN, InsightsError, SENTIMENT_PLUGIN, Scope, grouped, plural};
use crate::store::{Backend, Db};

/// Points of each part of the base score (at most 100 together).
pub mod weight {
    /// Negativity: `max(0, −sentiment)`.
    pub const NEGATIVITY: f64 = 30.0;
    /// The strongest intent: its weight ([`super::INTENT_WEIGHTS`]) × confidence.
    pub const INTENT: f64 = 25.0;
    /// The author's value: share of customers with a lifetime value at most theirs.
    pub const VALUE: f64 = 25.0;
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

/// The weight of intent `name`.
pub fn intent_weight(name: &str) -> f64 {
    INTENT_WEIGHTS.iter().find(|(n, _)| *n == name).map_or(0.0, |(_, w)| *w)
}

/// Reach in [0, 1]: 0.2 per order of magnitude of followers from 10.
pub fn reach(followers: Option<i64>) -> f64 {
    let f = followers.unwrap_or(0);
    REACH_STEPS.iter().filter(|&&s| f >= s).count() as f64 / REACH_STEPS.len() as f64
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
    pub followers: Option<i64>,
    /// Whether the author is linked to a contact.
    pub known: bool,
}

/// The parts of the base score, in points.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Parts {
    pub negativity: f64,
    pub intent: f64,
    pub value: f64,
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
        self.negativity + self.intent + self.value + self.recent_orders + self.reach
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

/// `CASE` giving the weight of the intent named by `column`.
fn weight_case(column: &str) -> String {
    let arms: Vec<String> = INTENT_WEIGHTS
        .iter()
        .map(|(name, w)| format!("WHEN '{name}' THEN {}", num(*w)))
        .collect();
    format!("CASE {column} {} ELSE {} END", arms.join(" "), num(0.0))
}

fn reach_case(column: &str) -> String {
    let n = REACH_STEPS.len() as f64;
    let arms: Vec<String> = REACH_STEPS
        .iter()
        .enumerate()
        .rev()
        .map(|(i, s)| format!("WHEN {column} >= {s} THEN {}", num((i + 1) as f64 / n)))
        .collect();
    format!("CASE {} ELSE {} END", arms.join(" "), num(0.0))
}

/// Upserts the scores of the inbound posts in `scope` (one statement); a row
/// whose every value is unchanged is not written. Returns rows written.
pub(crate) async fn score_posts(
    tx: &mut Transaction<'static, Any>,
    backend: Backend,
    scope: &Scope,
) -> Result<u64, InsightsError> {
    let query = scope.bind(sqlx::query(backend.sql(score_sql(backend, scope))));
    Ok(query.execute(&mut **tx).await?.rows_affected())
}

/// The statement of [`score_posts`]. (The author's contact comes from a
/// join, not a correlated subquery: on PostgreSQL the subquery's per-row
/// cost tripled the statement's time. Every join to a big table also names
/// the range of posts, so PostgreSQL reads that range, not the table.)
///
/// The strongest intent is the label with the highest weight × confidence
/// (ties: the order of [`INTENT_WEIGHTS`]); a label of weight 0 (praise) is
/// the intent only when no label of positive weight is present. Labels the
/// table does not know are ignored.
pub(crate) fn score_sql(backend: Backend, scope: &Scope) -> String {
    let (intents_from, object_only) = dialect::intents_from(backend, "a.intents");
    let (name, conf) = (dialect::intent_name(backend), dialect::intent_confidence(backend));
    let zero = num(0.0);
    // Per label: the best confidence (c0, c1, ...) and its score (s0, s1, ...).
    let labels: Vec<String> = INTENT_WEIGHTS
        .iter()
        .enumerate()
        .map(|(k, (label, _))| format!("MAX(CASE WHEN name = '{label}' THEN conf END) AS c{k}"))
        .collect();
    let score = |k: usize| format!("COALESCE(ib.c{k}, {zero}) * {}", num(INTENT_WEIGHTS[k].1));
    let scores: Vec<String> = (0..INTENT_WEIGHTS.len())
        .map(|k| score(k).replace("ib.", "ia."))
        .collect();
    let pick = |what: &dyn Fn(usize) -> String| {
        let mut arms: Vec<String> = INTENT_WEIGHTS
            .iter()
            .enumerate()
            .filter(|(_, (_, w))| *w > 0.0)
            .map(|(k, _)| format!("WHEN ib.m > 0 AND {} = ib.m THEN {}", score(k), what(k)))
            .collect();
        arms.extend(
            INTENT_WEIGHTS
                .iter()
                .enumerate()
                .filter(|(_, (_, w))| *w == 0.0)
                .map(|(k, _)| format!("WHEN ib.m = 0 AND ib.c{k} > 0 THEN {}", what(k))),
        );
        format!("CASE {} END", arms.join(" "))
    };
    let label_of = |name: &str| INTENT_WEIGHTS.iter().position(|(n, _)| *n == name).unwrap_or(0);
    let base = format!(
        "{neg} * CASE WHEN b.sentiment < 0 THEN -b.sentiment ELSE {zero} END \
         + {int} * COALESCE(b.intent_confidence * {weight}, {zero}) \
         + {val} * COALESCE(cs.value_pct, {zero}) \
         + {rec} * CASE WHEN COALESCE(cs.recent_orders, 0) >= {cap} THEN {one} \
                   ELSE CAST(COALESCE(cs.recent_orders, 0) AS DOUBLE PRECISION) / {cap} END \
         + {rea} * {reach}",
        neg = num(weight::NEGATIVITY),
        int = num(weight::INTENT),
        weight = weight_case("b.intent"),
        val = num(weight::VALUE),
        rec = num(weight::RECENT_ORDERS),
        cap = RECENT_ORDERS_CAP,
        one = num(1.0),
        rea = num(weight::REACH),
        reach = reach_case("b.followers"),
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
        "base",
        "priority_key",
    ];
    let select = format!(
        "SELECT post_id, identity_id, contact_id, created_at, sentiment, intent, intent_confidence, churn_risk, \
         question, praise, followers, value_pct, ltv, recent_orders, base, \
         base - {wait} * CAST(created_at AS DOUBLE PRECISION) / {hour} AS priority_key FROM s",
        wait = num(weight::WAITING_PER_HOUR),
        hour = num(HOUR_MS as f64),
    );
    format!(
        "WITH {scope_cte} \
         au AS {m}(SELECT identity_id, MIN(contact_id) AS contact_id FROM identity_links \
                WHERE status = 'confirmed' AND identity_id IN (SELECT identity_id FROM posts WHERE {id_scope}) \
                GROUP BY identity_id), \
         ns AS {m}(SELECT post_id, {pick_s} AS id FROM analyses WHERE plugin = '{SENTIMENT_PLUGIN}' AND {a_scope} \
                GROUP BY post_id), \
         ni AS {m}(SELECT post_id, {pick_i} AS id FROM analyses WHERE plugin = '{INTENT_PLUGIN}' AND {a_scope} \
                GROUP BY post_id), \
         ix AS (SELECT ni.post_id, {name} AS name, {conf} AS conf \
                FROM ni JOIN analyses a ON a.id = ni.id AND a.plugin = '{INTENT_PLUGIN}' AND {ra_scope}, \
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
               LEFT JOIN ns ON ns.post_id = p.id LEFT JOIN analyses sa ON sa.id = ns.id AND sa.plugin = '{SENTIMENT_PLUGIN}' AND {sa_scope} \
               LEFT JOIN ib ON ib.post_id = p.id \
               WHERE p.direction = 'inbound' AND {p_scope}), \
         s AS (SELECT b.*, COALESCE(cs.value_pct, {zero}) AS value_pct, COALESCE(cs.ltv, {zero}) AS ltv, \
               COALESCE(cs.recent_orders, 0) AS recent_orders, {base} AS base \
               FROM b LEFT JOIN contact_scores cs ON cs.contact_id = b.contact_id) \
         {upsert}",
        scope_cte = scope.cte(),
        id_scope = scope.pred("id"),
        a_scope = scope.pred("post_id"),
        p_scope = scope.pred("p.id"),
        labels = labels.join(", "),
        greatest = dialect::greatest(backend, &scores),
        intent = pick(&|k| format!("'{}'", INTENT_WEIGHTS[k].0)),
        intent_confidence = pick(&|k| format!("ib.c{k}")),
        churn = label_of("churn-risk"),
        question = label_of("question"),
        praise = label_of("praise"),
        m = dialect::materialized(backend),
        pick_s = super::analysis_id(SENTIMENT_PLUGIN),
        pick_i = super::analysis_id(INTENT_PLUGIN),
        ra_scope = scope.pred("a.post_id"),
        sa_scope = scope.pred("sa.post_id"),
        upsert = dialect::upsert("post_scores", &["post_id"], &columns, &select, &scope.pred("o.post_id")),
    )
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

/// Signals of a `post_scores` row (aliased `ps`).
pub(crate) fn signals(row: &AnyRow) -> Result<Signals, sqlx::Error> {
    Ok(Signals {
        sentiment: row.try_get("sentiment")?,
        intent: row.try_get("intent")?,
        intent_confidence: row.try_get("intent_confidence")?,
        value_pct: row.try_get("value_pct")?,
        ltv: row.try_get("ltv")?,
        recent_orders: row.try_get("recent_orders")?,
        followers: row.try_get("followers")?,
        known: row.try_get::<Option<i64>, _>("contact_id")?.is_some(),
    })
}

/// The `limit` scored posts of inbox status `status` (e.g. `open`) with the
/// highest priority at `now`, highest first (ties: newest first). One walk
/// down the priority index (`CROSS JOIN` keeps SQLite from starting at the
/// posts of that status instead and sorting them all).
pub async fn inbox(db: &Db, status: &str, limit: i64, now: i64) -> Result<Vec<InboxItem>, InsightsError> {
    let rows = sqlx::query(
        "SELECT ps.post_id, ps.base, ps.priority_key, ps.created_at, ps.contact_id, ps.sentiment, ps.intent, \
         ps.intent_confidence, ps.value_pct, ps.ltv, ps.recent_orders, ps.followers, \
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
            let signals = signals(row)?;
            let created_at: i64 = row.try_get("created_at")?;
            Ok(InboxItem {
                post_id: row.try_get("post_id")?,
                priority: priority_at(row.try_get("priority_key")?, now),
                base: row.try_get("base")?,
                created_at,
                network: row.try_get("network")?,
                handle: row.try_get("handle")?,
                contact_id: row.try_get("contact_id")?,
                contact_name: row.try_get("contact_name")?,
                text: row.try_get("text")?,
                explanation: explain(&signals, created_at, now),
                signals,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(Into::into)
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
        // 21 + 20.25 + 25 + 6.67 + 2
        assert!((complaint - 74.916_666).abs() < 1e-3, "{complaint}");
        assert_eq!(praise, 10.0);
        // And still does when the praise has waited five days longer.
        assert!(complaint > praise + weight::WAITING_PER_HOUR * 24.0 * 5.0);
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
            "top-10% customer, LTV 3000.00 (+25.0), negative -0.70 (+21.0), complaint 0.90 (+20.2), \
             2 orders in 90 days (+6.7), 40 followers (+2.0), waiting 2 h (+1.0)"
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
