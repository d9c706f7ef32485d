//! Per-plugin limits and the memory limiter that enforces them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What one plugin may use. Host defaults are the maximums; a manifest or an
/// admin can only lower them (see [`Limits::lowered_by`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "kebab-case", deny_unknown_fields)]
pub struct Limits {
    /// Linear memory per instance, in bytes.
    pub memory_bytes: u64,
    /// Wall-clock deadline of one channel call.
    #[serde(with = "millis", rename = "channel-timeout-ms")]
    pub channel_timeout: Duration,
    /// Wall-clock deadline of one analyzer batch.
    #[serde(with = "millis", rename = "analyzer-timeout-ms")]
    pub analyzer_timeout: Duration,
    /// Fuel (roughly, wasm instructions) of one analyzer batch.
    pub analyzer_fuel: u64,
    /// Posts in one page or webhook result.
    pub max_posts: usize,
    /// Bytes of one string field of the output (`raw` included).
    pub max_field_bytes: usize,
    /// Bytes of all strings of one call's output.
    pub max_output_bytes: usize,
    /// Outgoing HTTP requests per call.
    pub max_requests: usize,
    /// Deadline of one outgoing request.
    #[serde(with = "millis", rename = "request-timeout-ms")]
    pub request_timeout: Duration,
    /// Bytes of one outgoing request body.
    pub max_request_bytes: usize,
    /// Bytes of one response body.
    pub max_response_bytes: usize,
    /// Bytes of all response bodies of one call (the host holds them until
    /// the guest reads them).
    pub max_call_response_bytes: usize,
    /// Log lines kept per call; the rest are counted and dropped.
    pub max_log_lines: usize,
    /// Bytes of the key-value store of one plugin and account.
    pub max_kv_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            channel_timeout: Duration::from_secs(10),
            analyzer_timeout: Duration::from_secs(1),
            analyzer_fuel: 3_000_000_000,
            max_posts: 1_000,
            max_field_bytes: 256 << 10,
            max_output_bytes: 16 << 20,
            max_requests: 20,
            request_timeout: Duration::from_secs(8),
            max_request_bytes: 1 << 20,
            max_response_bytes: 8 << 20,
            max_call_response_bytes: 32 << 20,
            max_log_lines: 200,
            max_kv_bytes: 64 << 10,
        }
    }
}

impl Limits {
    /// These limits with each value lowered to `other`'s where that is lower.
    pub fn lowered_by(&self, other: &Limits) -> Limits {
        Limits {
            memory_bytes: self.memory_bytes.min(other.memory_bytes),
            channel_timeout: self.channel_timeout.min(other.channel_timeout),
            analyzer_timeout: self.analyzer_timeout.min(other.analyzer_timeout),
            analyzer_fuel: self.analyzer_fuel.min(other.analyzer_fuel),
            max_posts: self.max_posts.min(other.max_posts),
            max_field_bytes: self.max_field_bytes.min(other.max_field_bytes),
            max_output_bytes: self.max_output_bytes.min(other.max_output_bytes),
            max_requests: self.max_requests.min(other.max_requests),
            request_timeout: self.request_timeout.min(other.request_timeout),
            max_request_bytes: self.max_request_bytes.min(other.max_request_bytes),
            max_response_bytes: self.max_response_bytes.min(other.max_response_bytes),
            max_call_response_bytes: self.max_call_response_bytes.min(other.max_call_response_bytes),
            max_log_lines: self.max_log_lines.min(other.max_log_lines),
            max_kv_bytes: self.max_kv_bytes.min(other.max_kv_bytes),
        }
    }
}

mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

/// The error a limiter raises; found again in the trap to name the reason.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit} bytes exceeded (asked to grow to {desired} bytes)")]
pub struct MemoryLimitExceeded {
    pub limit: u64,
    pub desired: u64,
}

/// Enforces the memory limit of one store. Failing with an error (rather than
/// refusing the growth) stops the guest at once with our own message.
pub(crate) struct MemoryLimiter {
    pub limit: u64,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let desired = desired as u64;
        if desired > self.limit {
            return Err(MemoryLimitExceeded {
                limit: self.limit,
                desired,
            }
            .into());
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        // Tables hold function references; 100k is far above any real plugin.
        Ok(desired <= 100_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FailReason;
    use crate::call::Budget;
    use crate::testing::{component, run};

    /// Grows memory by `pages` (64 KiB each) and traps if the growth was refused.
    fn grow(pages: u32) -> String {
        component(&format!(
            "(if (i32.eq (memory.grow (i32.const {pages})) (i32.const -1)) (then unreachable))"
        ))
    }

    fn limits(memory_bytes: u64) -> Limits {
        Limits {
            memory_bytes,
            ..Limits::default()
        }
    }

    fn budget() -> Budget {
        Budget {
            timeout: Duration::from_secs(5),
            fuel: None,
        }
    }

    #[test]
    fn memory_may_grow_up_to_the_limit() {
        // One page to start with, three more: 256 KiB of a 256 KiB limit.
        let out = run(&grow(3), limits(256 << 10), budget());
        assert!(out.is_ok(), "{:?}", out.err());
    }

    #[test]
    fn growing_past_the_limit_stops_the_call_with_the_limiter_s_reason() {
        let err = run(&grow(4), limits(256 << 10), budget()).err().map(|e| e.reason);
        match err {
            Some(FailReason::MemoryLimit(m)) => assert_eq!(
                m,
                "memory limit of 262144 bytes exceeded (asked to grow to 327680 bytes)"
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_manifest_only_lowers_limits() {
        let host = Limits::default();
        let asked = Limits {
            memory_bytes: 1 << 40,
            max_posts: 10,
            ..Limits::default()
        };
        let got = host.lowered_by(&asked);
        assert_eq!((got.memory_bytes, got.max_posts), (host.memory_bytes, 10));
    }
}
