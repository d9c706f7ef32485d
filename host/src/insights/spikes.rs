//! Spike detection per topic and per taxonomy entry (aspect) against a
//! trailing baseline, stored as alerts. An aspect's posts count with the
//! sentiment of what they say of it.
//!
//! Each of the last [`EVALUATED_DAYS`] UTC days (today included, so a spike
//! shows while it happens) is compared with the [`BASELINE_DAYS`] days before
//! it (days without posts count as 0):
//! - **volume**: at least [`MIN_POSTS`] posts, at least [`VOLUME_RATIO`] × the
//!   baseline mean, and above mean + [`VOLUME_SIGMAS`] · max(sd, √mean, 1)
//!   (the √mean floor is the spread of a Poisson count: a flat baseline has
//!   sd 0 and would otherwise alert on any rise);
//! - **negative share**: at least [`MIN_POSTS`] posts, a share of negative
//!   posts at least [`SHARE_MARGIN`] above the baseline share p0, with a
//!   binomial z-score `(p − p0) / √(p0 (1 − p0) / n)` of at least [`SHARE_Z`].
//!   p0 is smoothed with [`PRIOR_POSTS`] pseudo-posts at [`PRIOR_SHARE`] and is
//!   at least [`MIN_BASE_SHARE`], so a new or quiet topic is judged against a
//!   sensible share instead of 0.
//!
//! A day is only judged once the store holds posts from before its baseline
//! window (a new installation has no history to compare with; a new topic in
//! an installation with history is compared with zero posts, and fires when
//! it appears with enough posts).
//!
//! One alert per (topic or aspect, day), naming the signals that fired, with
//! example posts; recomputing updates the counts of that alert and never adds
//! another.

use std::collections::BTreeMap;

use super::{DAY_MS, InsightsError, NEGATIVE};
use crate::events::{Event, EventType, Outbox};
use crate::store::insights::spikes::{Spike, Subject};
use crate::store::{self, Db};

pub use crate::store::insights::spikes::Alert;

pub const EVALUATED_DAYS: i64 = 7;
pub const BASELINE_DAYS: i64 = 28;
pub const MIN_POSTS: i64 = 10;
pub const VOLUME_RATIO: f64 = 2.0;
pub const VOLUME_SIGMAS: f64 = 3.0;
pub const SHARE_MARGIN: f64 = 0.2;
pub const SHARE_Z: f64 = 3.0;
pub const PRIOR_POSTS: f64 = 20.0;
pub const PRIOR_SHARE: f64 = 0.1;
pub const MIN_BASE_SHARE: f64 = 0.05;
/// Example posts per alert.
pub const EXAMPLES: i64 = 3;

/// Posts of one day and how many of them are negative.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Day {
    pub posts: i64,
    pub negative: i64,
}

/// What a day is compared with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Baseline {
    /// Mean posts per day.
    pub mean: f64,
    pub sd: f64,
    /// Smoothed share of negative posts.
    pub share: f64,
}

impl Baseline {
    pub fn of(days: &[Day]) -> Baseline {
        let k = days.len().max(1) as f64;
        let mean = days.iter().map(|d| d.posts as f64).sum::<f64>() / k;
        let var = days.iter().map(|d| (d.posts as f64 - mean).powi(2)).sum::<f64>() / k;
        let (posts, negative) = days.iter().fold((0, 0), |(p, n), d| (p + d.posts, n + d.negative));
        let share = (negative as f64 + PRIOR_POSTS * PRIOR_SHARE) / (posts as f64 + PRIOR_POSTS);
        Baseline {
            mean,
            sd: var.sqrt(),
            share: share.max(MIN_BASE_SHARE),
        }
    }
}

/// The signals a day fires against its baseline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signals {
    pub volume: bool,
    pub negative_share: bool,
}

impl Signals {
    pub fn any(self) -> bool {
        self.volume || self.negative_share
    }

    /// `volume`, `negative-share` or `volume,negative-share`.
    pub fn names(self) -> String {
        let mut names = Vec::new();
        if self.volume {
            names.push("volume");
        }
        if self.negative_share {
            names.push("negative-share");
        }
        names.join(",")
    }
}

/// Whether `day` is a spike against `baseline`.
pub fn judge(day: Day, baseline: &Baseline) -> Signals {
    if day.posts < MIN_POSTS {
        return Signals::default();
    }
    let n = day.posts as f64;
    let spread = baseline.sd.max(baseline.mean.sqrt()).max(1.0);
    let volume = n >= VOLUME_RATIO * baseline.mean && n >= baseline.mean + VOLUME_SIGMAS * spread;
    let p = day.negative as f64 / n;
    let p0 = baseline.share;
    let z = (p - p0) / (p0 * (1.0 - p0) / n).sqrt();
    let negative_share = p >= p0 + SHARE_MARGIN && z >= SHARE_Z;
    Signals { volume, negative_share }
}

/// `shipping: 30 posts on 2026-11-30 vs 6.0 a day before; 80% negative vs 16%`.
pub fn message(subject: &str, bucket_start: i64, day: Day, baseline: &Baseline) -> String {
    format!(
        "{subject}: {} posts on {} vs {:.1} a day over the {BASELINE_DAYS} days before; {:.0}% negative vs {:.0}%",
        day.posts,
        super::date(bucket_start),
        baseline.mean,
        100.0 * day.negative as f64 / day.posts.max(1) as f64,
        100.0 * baseline.share
    )
}

/// A spike found in the stored counts: `(kind, subject, day start, day, baseline, signals)`.
type Found = (Subject, String, i64, Day, Baseline, Signals);

/// Looks for spikes in the last [`EVALUATED_DAYS`] days before `now` and
/// upserts one alert per topic or aspect and day. Returns the alerts written.
pub(crate) async fn detect(db: &Db, now: i64) -> Result<u64, InsightsError> {
    let today = now.div_euclid(DAY_MS) * DAY_MS;
    let first = today - (EVALUATED_DAYS - 1) * DAY_MS;
    let from = first - BASELINE_DAYS * DAY_MS;
    let oldest = store::insights::spikes::oldest_scored(db).await?;
    let Some(oldest) = oldest else {
        return Ok(0);
    };
    // The first day whose whole baseline window lies within the history.
    let judged_from = first.max(oldest.div_euclid(DAY_MS) * DAY_MS + BASELINE_DAYS * DAY_MS);
    let mut by_subject: BTreeMap<(Subject, String), BTreeMap<i64, Day>> = BTreeMap::new();
    for kind in Subject::ALL {
        for row in store::insights::spikes::subject_days(db, kind, from, now, NEGATIVE).await? {
            by_subject.entry((kind, row.subject)).or_default().insert(
                row.day,
                Day {
                    posts: row.posts,
                    negative: row.negative,
                },
            );
        }
    }
    let mut found: Vec<Found> = Vec::new();
    for (&(kind, ref subject), days) in &by_subject {
        let mut start = judged_from;
        while start <= today {
            let day = days.get(&start).copied().unwrap_or_default();
            let history: Vec<Day> = (1..=BASELINE_DAYS)
                .map(|k| days.get(&(start - k * DAY_MS)).copied().unwrap_or_default())
                .collect();
            let baseline = Baseline::of(&history);
            let signals = judge(day, &baseline);
            if signals.any() {
                found.push((kind, subject.clone(), start, day, baseline, signals));
            }
            start += DAY_MS;
        }
    }
    let outbox = Outbox::of(db).await?;
    let mut written = 0;
    for (kind, subject, start, day, baseline, signals) in found {
        // The posts that show it: the most negative for a negative-share
        // spike, else those the inbox ranks first.
        let examples =
            store::insights::spikes::examples(db, kind, &subject, start, signals.negative_share, EXAMPLES).await?;
        let named = match kind {
            Subject::Topic => subject.clone(),
            Subject::Aspect => format!("aspect {subject}"),
        };
        let spike = Spike {
            kind,
            subject: &subject,
            bucket_start: start,
            signals: signals.names(),
            posts: day.posts,
            negative: day.negative,
            baseline_posts: baseline.mean,
            baseline_negative_share: baseline.share,
            examples: &examples,
            message: message(&named, start, day, &baseline),
        };
        let mut tx = db.begin().await?;
        if let Some((id, new)) = store::insights::spikes::upsert_alert(&mut tx, &spike).await? {
            written += 1;
            if new {
                outbox.write(&mut tx, [raised(id, &spike)]).await?;
            }
        }
        tx.commit().await?;
    }
    Ok(written)
}

/// The `alert.raised` event of new alert `id`.
fn raised(id: i64, spike: &Spike<'_>) -> Event {
    let data = serde_json::json!({
        "alert_id": id,
        "kind": "spike",
        "scope": spike.kind.as_str(),
        "subject": spike.subject,
        "bucket_start": spike.bucket_start,
        "signals": spike.signals.split(',').collect::<Vec<_>>(),
        "posts": spike.posts,
        "negative": spike.negative,
        "baseline_posts": spike.baseline_posts,
        "baseline_negative_share": spike.baseline_negative_share,
        "examples": spike.examples,
        "message": spike.message,
    });
    Event::new(EventType::AlertRaised, data)
}

/// The newest `limit` alerts (by day, then id).
pub async fn alerts(db: &Db, limit: i64) -> Result<Vec<Alert>, InsightsError> {
    Ok(store::insights::spikes::alerts(db, limit).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flat(posts: i64, negative: i64) -> Vec<Day> {
        vec![Day { posts, negative }; BASELINE_DAYS as usize]
    }

    #[test]
    fn a_flat_series_is_no_spike() {
        let b = Baseline::of(&flat(12, 3));
        assert_eq!(b.mean, 12.0);
        assert_eq!(b.sd, 0.0);
        assert!(!judge(Day { posts: 12, negative: 3 }, &b).any());
        // A rise within the Poisson spread of a flat baseline is no spike either.
        assert!(!judge(Day { posts: 20, negative: 5 }, &b).any());
    }

    #[test]
    fn volume_and_negative_share_fire_separately() {
        let b = Baseline::of(&flat(6, 1));
        assert!((b.share - (28.0 + 2.0) / (168.0 + 20.0)).abs() < 1e-12);
        assert_eq!(
            judge(
                Day {
                    posts: 30,
                    negative: 24
                },
                &b
            ),
            Signals {
                volume: true,
                negative_share: true
            }
        );
        assert_eq!(judge(Day { posts: 30, negative: 5 }, &b).names(), "volume");
        assert_eq!(
            judge(
                Day {
                    posts: 12,
                    negative: 10
                },
                &b
            )
            .names(),
            "negative-share"
        );
        // Too few posts to say anything.
        assert!(!judge(Day { posts: 9, negative: 9 }, &b).any());
    }

    #[test]
    fn a_new_topic_is_judged_against_the_prior() {
        let b = Baseline::of(&flat(0, 0));
        assert_eq!(b.mean, 0.0);
        assert!((b.share - 0.1).abs() < 1e-12);
        assert!(judge(Day { posts: 10, negative: 1 }, &b).volume);
        assert!(!judge(Day { posts: 10, negative: 1 }, &b).negative_share);
    }

    #[test]
    fn messages_say_what_and_against_what() {
        let b = Baseline::of(&flat(6, 1));
        assert_eq!(
            message(
                "shipping",
                1_795_564_800_000,
                Day {
                    posts: 30,
                    negative: 24
                },
                &b
            ),
            "shipping: 30 posts on 2026-11-25 vs 6.0 a day over the 28 days before; 80% negative vs 16%"
        );
    }
}
