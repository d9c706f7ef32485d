//! Admission of webhook calls, per channel: a cap on calls in flight and a
//! rate, both answered with 429 and `Retry-After`. The caller is
//! unauthenticated: without these, anyone could hold every plugin instance
//! slot and blocking thread, or flood a channel with calls to its plugin.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How much of the host one channel's webhook callers may take.
#[derive(Clone, Copy, Debug)]
pub struct HookLimits {
    /// Calls of one channel in its plugin at once.
    pub max_in_flight: usize,
    /// Calls of one channel admitted per second, on average.
    pub per_second: NonZeroU32,
    /// Calls admitted at once after a quiet spell.
    pub burst: NonZeroU32,
}

impl Default for HookLimits {
    fn default() -> Self {
        HookLimits {
            max_in_flight: 8,
            per_second: NonZeroU32::new(50).unwrap_or(NonZeroU32::MIN),
            burst: NonZeroU32::new(100).unwrap_or(NonZeroU32::MIN),
        }
    }
}

/// Why a call was not admitted, and when to try again.
#[derive(Debug, PartialEq, Eq)]
pub struct Busy {
    pub why: &'static str,
    pub retry_after: Duration,
}

pub struct HookGate {
    limits: HookLimits,
    in_flight: Mutex<HashMap<String, Arc<Semaphore>>>,
    rate: DefaultKeyedRateLimiter<String>,
}

impl HookGate {
    pub fn new(limits: HookLimits) -> HookGate {
        HookGate {
            limits,
            in_flight: Mutex::new(HashMap::new()),
            rate: RateLimiter::keyed(Quota::per_second(limits.per_second).allow_burst(limits.burst)),
        }
    }

    /// Admits one call of `channel` (an existing channel: keys stay few), or
    /// says why not. The call holds the permit until it has been answered.
    pub fn admit(&self, channel: &str) -> Result<OwnedSemaphorePermit, Busy> {
        let slots = {
            let mut map = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
            map.entry(channel.to_string())
                .or_insert_with(|| Arc::new(Semaphore::new(self.limits.max_in_flight)))
                .clone()
        };
        let permit = slots.try_acquire_owned().map_err(|_| Busy {
            why: "too many calls of this channel at once",
            retry_after: Duration::from_secs(1),
        })?;
        self.rate.check_key(&channel.to_string()).map_err(|not_until| Busy {
            why: "too many calls of this channel",
            retry_after: not_until.wait_time_from(DefaultClock::default().now()),
        })?;
        Ok(permit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_in_flight: usize, per_second: u32, burst: u32) -> HookLimits {
        HookLimits {
            max_in_flight,
            per_second: NonZeroU32::new(per_second).unwrap(),
            burst: NonZeroU32::new(burst).unwrap(),
        }
    }

    #[test]
    fn calls_in_flight_are_capped_per_channel() {
        let gate = HookGate::new(limits(2, 1_000, 1_000));
        let first = gate.admit("a").unwrap();
        let _second = gate.admit("a").unwrap();
        let busy = gate.admit("a").unwrap_err();
        assert_eq!(busy.why, "too many calls of this channel at once");
        assert_eq!(busy.retry_after, Duration::from_secs(1));
        let _other = gate.admit("b").expect("another channel has its own slots");
        drop(first);
        let _again = gate.admit("a").expect("a slot is free again");
    }

    #[test]
    fn the_rate_is_kept_per_channel_after_the_burst() {
        let gate = HookGate::new(limits(100, 1, 3));
        for _ in 0..3 {
            let _permit = gate.admit("a").expect("within the burst");
        }
        let busy = gate.admit("a").unwrap_err();
        assert_eq!(busy.why, "too many calls of this channel");
        assert!(
            busy.retry_after > Duration::ZERO && busy.retry_after <= Duration::from_secs(1),
            "{busy:?}"
        );
        let _other = gate.admit("b").expect("another channel has its own rate");
    }
}
