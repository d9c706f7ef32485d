//! When an account is polled next, from how its last sync ended.

use std::time::Duration;

use crate::runtime::CallError;
use crate::runtime::types::PluginError;

/// How a sync ended, as the schedule sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Caught up: poll again after the regular interval.
    Synced,
    /// The network asked to wait this long.
    RateLimited(Duration, String),
    /// Worth retrying later: a timeout, a trap, a network error, a lost lease.
    Failed(String),
    /// Needs an admin (bad credentials or config): not polled until fixed.
    Paused(String),
}

impl Outcome {
    pub fn from_error(error: &CallError) -> Outcome {
        match error.plugin_error() {
            Some(PluginError::Unauthorized(_) | PluginError::InvalidConfig(_)) => Outcome::Paused(error.to_string()),
            Some(PluginError::RateLimited(r)) => {
                Outcome::RateLimited(Duration::from_millis(r.retry_after_ms), error.to_string())
            }
            _ => Outcome::Failed(error.to_string()),
        }
    }
}

/// The polling rhythm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    /// Between two catch-ups of a healthy account.
    pub interval: Duration,
    /// The first retry after a failure; doubled after each further failure.
    pub backoff: Duration,
    /// The longest wait after failures.
    pub max_backoff: Duration,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            interval: Duration::from_secs(60),
            backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(30 * 60),
        }
    }
}

/// What the account row says after a sync.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Next {
    pub status: &'static str,
    /// Unix ms; `i64::MAX` for a paused account.
    pub next_poll_at: i64,
    /// Failures in a row.
    pub failures: i64,
    pub last_error: Option<String>,
}

impl Schedule {
    /// The account's next state after `outcome`, `failures` having failed in a row before it.
    pub fn next(&self, outcome: &Outcome, failures: i64, now_ms: i64) -> Next {
        let at = |wait: Duration| now_ms.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
        match outcome {
            Outcome::Synced => Next {
                status: "active",
                next_poll_at: at(self.interval),
                failures: 0,
                last_error: None,
            },
            // Waiting as told is not a failure: the backoff does not grow.
            Outcome::RateLimited(wait, error) => Next {
                status: "rate-limited",
                next_poll_at: at(*wait),
                failures,
                last_error: Some(error.clone()),
            },
            Outcome::Failed(error) => {
                let failures = failures.saturating_add(1);
                let doublings = u32::try_from(failures - 1).unwrap_or(u32::MAX).min(20);
                let wait = self.backoff.saturating_mul(1 << doublings).min(self.max_backoff);
                Next {
                    status: "failing",
                    next_poll_at: at(wait),
                    failures,
                    last_error: Some(error.clone()),
                }
            }
            Outcome::Paused(error) => Next {
                status: "paused",
                next_poll_at: i64::MAX,
                failures: failures.saturating_add(1),
                last_error: Some(error.clone()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets_on_success() {
        let s = Schedule {
            interval: Duration::from_secs(60),
            backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(100),
        };
        let failed = Outcome::Failed("timed out".into());
        let waits: Vec<i64> = (0..5).map(|f| s.next(&failed, f, 0).next_poll_at).collect();
        assert_eq!(waits, [10_000, 20_000, 40_000, 80_000, 100_000]);
        assert_eq!(s.next(&failed, 4, 0).failures, 5);
        let ok = s.next(&Outcome::Synced, 5, 1_000);
        assert_eq!((ok.status, ok.next_poll_at, ok.failures), ("active", 61_000, 0));
        assert_eq!(ok.last_error, None);
    }

    #[test]
    fn rate_limits_wait_as_told_and_pauses_wait_for_an_admin() {
        let s = Schedule::default();
        let limited = s.next(&Outcome::RateLimited(Duration::from_millis(1234), "429".into()), 2, 10);
        assert_eq!(
            (limited.status, limited.next_poll_at, limited.failures),
            ("rate-limited", 1244, 2)
        );
        let paused = s.next(&Outcome::Paused("unauthorized".into()), 0, 10);
        assert_eq!((paused.status, paused.next_poll_at), ("paused", i64::MAX));
        assert_eq!(paused.last_error.as_deref(), Some("unauthorized"));
        // No overflow however long the streak.
        assert_eq!(
            s.next(&Outcome::Failed("x".into()), i64::MAX, i64::MAX - 5)
                .next_poll_at,
            i64::MAX
        );
    }
}
