//! Insights: what social posts and CRM transactions mean together.
//!
//! One module per job (formulas and thresholds in docs/insights.md):
//! - [`priority`]: a score per inbound post for the inbox (sentiment, intent,
//!   the author's value, reach, waiting time), ordered by a stored key;
//! - [`custom`]: custom signals analyzers declare, and the brand's taxonomy
//!   they match posts against (aspects);
//! - [`churn`]: per contact, value from transactions and the features of
//!   churn risk;
//! - [`predict`]: the churn risk the bound scorer plugin makes of them;
//! - [`trends`]: sentiment over time per topic and per segment;
//! - [`spikes`]: volume and negative-share spikes against a trailing baseline,
//!   stored as alerts with example posts;
//! - [`advocacy`]: advocacy events, the points ledger and the advocates ranking.
//!
//! [`recompute`] refreshes every stored score with a few set-based statements
//! (posts in id ranges of [`POST_CHUNK`], each range in one transaction so a
//! SQLite writer is never held for long); [`refresh_posts`] scores new posts
//! after analysis. The statements are `crate::store::insights`'s; each module
//! here passes them its formula's constants. Both are idempotent: running them again with the same
//! data and `now` changes nothing.

pub mod advocacy;
pub mod bindings;
pub mod churn;
pub mod custom;
pub mod predict;
pub mod priority;
pub mod schedule;
pub mod spikes;
pub mod trends;

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::crm::currency;
use crate::events::{EventType, Outbox};
use crate::store::Db;
use crate::store::insights::{self as queries, Scope};

/// Stored times are Unix milliseconds.
pub use crate::store::{DAY_MS, HOUR_MS};

pub use advocacy::{AdvocacyEvent, Advocate, advocates};
pub use churn::{ContactScore, churn_ranking};
pub use priority::{InboxItem, inbox};
pub use spikes::{Alert, alerts};
pub use trends::{Bucket, TrendPoint, TrendQuery, trend};

/// A post is negative at or below this sentiment (VADER's label threshold,
/// the one the sentiment plugin uses for its `negative` label).
pub const NEGATIVE: f64 = -0.05;
/// Posts per statement of [`recompute`] (an id range).
pub const POST_CHUNK: i64 = 50_000;
/// Post ids per statement of [`refresh_posts`].
const ID_CHUNK: usize = 500;
/// Posts to score again after churn risks changed, listed by id up to this
/// many (see `post_scopes`).
const LISTED_POSTS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum InsightsError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Bindings(#[from] bindings::BindError),
    #[error(transparent)]
    Predict(#[from] predict::PredictError),
    #[error("the time range is empty: `since` ({since}) must be before `until` ({until})")]
    EmptyRange { since: i64, until: i64 },
    #[error("a trend of {0} buckets is too long: narrow the range or use weekly buckets")]
    TooManyBuckets(i64),
    #[error("signal `{0}` is not NAME, NAME>=NUMBER or NAME:LABEL")]
    SignalFilter(String),
}

/// What a [`recompute`] changed (rows inserted, updated or deleted).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct RecomputeReport {
    pub contacts_changed: u64,
    pub posts_changed: u64,
    pub topics_changed: u64,
    pub churn_changed: u64,
    pub events_added: u64,
    pub alerts_changed: u64,
    /// What went wrong without stopping the rest (a failing scorer).
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub took: Duration,
    /// How long each step took: values, posts, churn, advocacy, spikes, analyze.
    #[serde(skip)]
    pub steps: Vec<(&'static str, Duration)>,
}

impl RecomputeReport {
    /// Whether nothing changed.
    pub fn is_unchanged(&self) -> bool {
        RecomputeReport {
            took: Duration::ZERO,
            steps: Vec::new(),
            warnings: Vec::new(),
            ..self.clone()
        } == RecomputeReport::default()
    }
}

/// Refreshes every stored score as of `now` (Unix ms): contact values, post
/// priorities and topics, churn, advocacy events, spike alerts.
pub async fn recompute(db: &Db, now: i64) -> Result<RecomputeReport, InsightsError> {
    let started = Instant::now();
    let mut step = Instant::now();
    let mut lap = |report: &mut RecomputeReport, name: &'static str| {
        report.steps.push((name, step.elapsed()));
        step = Instant::now();
    };
    let base = currency::reporting(db).await?.map(|r| r.currency);
    let mut report = RecomputeReport {
        contacts_changed: queries::churn::refresh_values(db, &churn::FORMULA, now, base.as_deref()).await?,
        ..RecomputeReport::default()
    };
    lap(&mut report, "values");
    if let Some((lo, hi)) = queries::post_ids(db).await? {
        let mut start = lo - 1;
        while start < hi {
            let scope = Scope::Range(start, (start + POST_CHUNK).min(hi));
            let mut tx = db.begin().await?;
            queries::scoring_cache(&mut tx, db.backend(), true).await?;
            report.posts_changed +=
                queries::priority::score_posts(&mut tx, db.backend(), &scope, &priority::FORMULA).await?;
            report.topics_changed += queries::trends::refresh_topics(&mut tx, db.backend(), &scope).await?;
            queries::custom::refresh(&mut tx, db.backend(), &scope).await?;
            queries::scoring_cache(&mut tx, db.backend(), false).await?;
            tx.commit().await?;
            start += POST_CHUNK;
        }
    }
    lap(&mut report, "posts");
    report.churn_changed = queries::churn::refresh_features(db, &churn::FORMULA, now, None).await?;
    match rescore(db, None).await {
        Ok(changed) => report.churn_changed += changed,
        Err(e) => {
            tracing::warn!(error = %e, "churn risk not rescored");
            report.warnings.push(format!("churn risk not rescored: {e}"));
        }
    }
    lap(&mut report, "churn");
    report.events_added = queries::advocacy::record_events(db, &advocacy::RULES, now).await?;
    lap(&mut report, "advocacy");
    report.alerts_changed = spikes::detect(db, now).await?;
    lap(&mut report, "spikes");
    if queries::analyze_scores(db).await? {
        lap(&mut report, "analyze");
    }
    report.took = started.elapsed();
    Ok(report)
}

/// Scores the posts `post_ids` (new posts, after analysis): their priority and
/// topics, and the churn risk of their authors' contacts. A contact not scored
/// yet gets its value first (its share among customers estimated against the
/// stored scores until the next [`recompute`]). Outbound posts are skipped.
/// Returns the post scores written.
pub async fn refresh_posts(db: &Db, post_ids: &[i64], now: i64) -> Result<u64, InsightsError> {
    let outbox = Outbox::of(db).await?;
    // Read when a contact first needs its value: inferring it scans the
    // transactions, which most commits need not do.
    let mut base: Option<Option<String>> = None;
    let mut written = 0;
    for ids in post_ids.chunks(ID_CHUNK) {
        let contacts = queries::churn::contacts_of_posts(db, ids).await?;
        if !contacts.is_empty() {
            if base.is_none() {
                base = Some(currency::reporting(db).await?.map(|r| r.currency));
            }
            let base = base.as_ref().and_then(Option::as_deref);
            queries::churn::insert_missing_values(db, &churn::FORMULA, now, base, &contacts).await?;
        }
        let scope = Scope::Ids(ids.to_vec());
        let mut tx = db.begin().await?;
        written += queries::priority::score_posts(&mut tx, db.backend(), &scope, &priority::FORMULA).await?;
        queries::trends::refresh_topics(&mut tx, db.backend(), &scope).await?;
        queries::custom::refresh(&mut tx, db.backend(), &scope).await?;
        if outbox.wants(EventType::PostAnalyzed) {
            let scored = queries::priority::scored(&mut tx, db.backend(), ids).await?;
            outbox
                .write(&mut tx, scored.iter().map(|s| priority::analyzed(s, now)))
                .await?;
        }
        tx.commit().await?;
        if !contacts.is_empty() {
            refresh_contacts(db, &contacts, now).await?;
        }
    }
    Ok(written)
}

/// Refreshes the churn features of `contacts` and their risk (after posts
/// that count in it came or went). A failing scorer is logged, not an
/// error: the next [`recompute`] tries again.
pub async fn refresh_contacts(db: &Db, contacts: &[i64], now: i64) -> Result<u64, InsightsError> {
    let mut changed = queries::churn::refresh_features(db, &churn::FORMULA, now, Some(contacts)).await?;
    match rescore(db, Some(contacts)).await {
        Ok(rescored) => changed += rescored,
        Err(e) => tracing::warn!(error = %e, "churn risk not rescored; `insights recompute` tries again"),
    }
    Ok(changed)
}

/// Runs the bound scorer over `contacts` (or all), then scores again the
/// posts of those whose risk changed, since it weighs in their priority.
/// Returns the contacts whose risk changed.
async fn rescore(db: &Db, contacts: Option<&[i64]>) -> Result<u64, InsightsError> {
    let rescored = predict::rescore(db, contacts).await?;
    let posts = queries::predictions::posts_of(db, &rescored.changed).await?;
    for scope in post_scopes(&posts) {
        let mut tx = db.begin().await?;
        queries::priority::score_posts(&mut tx, db.backend(), &scope, &priority::FORMULA).await?;
        tx.commit().await?;
    }
    Ok(rescored.changed.len() as u64)
}

/// Post ids listed, for a few (a commit's); else the id ranges of
/// [`POST_CHUNK`] that hold them, which PostgreSQL plans far better than
/// hundreds of listed ids.
fn post_scopes(ids: &[i64]) -> Vec<Scope> {
    if ids.len() <= LISTED_POSTS {
        return if ids.is_empty() {
            Vec::new()
        } else {
            vec![Scope::Ids(ids.to_vec())]
        };
    }
    let mut ranges: Vec<Scope> = Vec::new();
    for &id in ids {
        let start = (id - 1).div_euclid(POST_CHUNK) * POST_CHUNK;
        if !matches!(ranges.last(), Some(Scope::Range(lo, _)) if *lo == start) {
            ranges.push(Scope::Range(start, start + POST_CHUNK));
        }
    }
    ranges
}

/// `1,234` style grouping for counts in explanations.
pub(crate) fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// `2026-11-30`: the UTC date of `ms`.
pub fn date(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .map(|t| {
            let d = t.date();
            format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
        })
        .unwrap_or_else(|_| ms.to_string())
}

/// `s` when `n` is not 1.
pub(crate) fn plural(n: i64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_utc() {
        assert_eq!(date(1_795_564_800_000), "2026-11-25");
        assert_eq!(date(1_795_564_799_999), "2026-11-24");
    }

    #[test]
    fn many_posts_are_scored_again_by_range() {
        assert!(post_scopes(&[]).is_empty());
        assert!(matches!(&post_scopes(&[3, 9])[..], [Scope::Ids(ids)] if ids == &[3, 9]));
        let many: Vec<i64> = (1..=70).chain([POST_CHUNK + 5, 3 * POST_CHUNK]).collect();
        let ranges: Vec<(i64, i64)> = post_scopes(&many)
            .into_iter()
            .map(|s| match s {
                Scope::Range(lo, hi) => (lo, hi),
                Scope::Ids(_) => (-1, -1),
            })
            .collect();
        // Ranges are (lo, hi]: the last id of a chunk is in it.
        assert_eq!(
            ranges,
            [
                (0, POST_CHUNK),
                (POST_CHUNK, 2 * POST_CHUNK),
                (2 * POST_CHUNK, 3 * POST_CHUNK)
            ]
        );
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(12_400), "12,400");
        assert_eq!(grouped(1_234_567), "1,234,567");
        assert_eq!(grouped(-1_000), "-1,000");
    }
}
