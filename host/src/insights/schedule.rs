//! Scheduled scoring in `socialcrm serve`: [`super::recompute`] every
//! interval, so contact values, churn windows, advocacy events and spike
//! alerts follow time and new data without anyone running a command.

use std::time::Duration;

use tokio::sync::watch;

use crate::store::{Db, now_ms};

/// Recomputes every `interval` (the first one an interval after the start)
/// until `stop` turns true; an interval of zero disables it. A recompute in
/// progress when `stop` turns true is dropped: each of its ranges commits on
/// its own, and the next run redoes what was left (it is idempotent).
pub async fn run(db: Db, interval: Duration, mut stop: watch::Receiver<bool>) {
    if interval.is_zero() {
        return;
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        tokio::select! {
            result = super::recompute(&db, now_ms()) => match result {
                Ok(r) => tracing::info!(
                    posts = r.posts_changed,
                    events = r.events_added,
                    alerts = r.alerts_changed,
                    took_ms = r.took.as_millis() as u64,
                    "insights recomputed"
                ),
                Err(e) => tracing::warn!(error = %e, "scheduled insights recompute failed; retried next interval"),
            },
            _ = stop.wait_for(|s| *s) => return,
        }
    }
}
