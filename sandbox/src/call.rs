//! One call: a fresh Store with its limits, the guest call, and the verdict.
//!
//! A call has two clocks. The epoch deadline traps wasm that runs too long;
//! the call's timer drops the whole call future when the deadline passes while
//! the guest waits in a host call (a clock, a request, a body it never
//! finishes), which no epoch can interrupt. Dropping the future drops the
//! instance, its pending requests and its fiber stack; the Store is dropped
//! right after, so its poisoned state never serves another call.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap};

use super::egress::{self, EgressCall};
use super::error::{CallError, FailReason};
use super::http::{HttpPolicy, OutgoingHooks, RequestRecord};
use super::limits::MemoryLimitExceeded;
use super::state::{CallState, KvChanges, VerifiedFields};
use super::types::{Change, LogLine};
use super::{PluginMeta, Shared, engine};

/// What a successful call returned, with what it did on the way.
#[derive(Debug)]
pub struct CallOutput<T> {
    pub value: T,
    /// Key-value writes to commit together with the value.
    pub kv_changes: KvChanges,
    /// Profile fields the plugin marked as verified by the network.
    pub verified: VerifiedFields,
    /// Deletions and edits the plugin reported (`changes`), to apply with the value.
    pub changes: Vec<Change>,
    /// Every outgoing request the plugin made.
    pub requests: Vec<RequestRecord>,
    /// What the plugin logged (also sent to the host's log).
    pub logs: Vec<LogLine>,
    pub fuel_used: u64,
    pub duration: Duration,
}

impl<T> CallOutput<T> {
    /// The same output with its value mapped by `f`.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> CallOutput<U> {
        CallOutput {
            value: f(self.value),
            kv_changes: self.kv_changes,
            verified: self.verified,
            changes: self.changes,
            requests: self.requests,
            logs: self.logs,
            fuel_used: self.fuel_used,
            duration: self.duration,
        }
    }
}

impl<T, E> CallOutput<Result<T, E>> {
    /// The plugin's own error with what it logged, or the output with its
    /// value unwrapped.
    pub(crate) fn transpose(self) -> Result<CallOutput<T>, (E, Vec<LogLine>)> {
        let CallOutput {
            value,
            kv_changes,
            verified,
            changes,
            requests,
            logs,
            fuel_used,
            duration,
        } = self;
        match value {
            Ok(value) => Ok(CallOutput {
                value,
                kv_changes,
                verified,
                changes,
                requests,
                logs,
                fuel_used,
                duration,
            }),
            Err(e) => Err((e, logs)),
        }
    }
}

/// The time and fuel one call may use.
pub(crate) struct Budget {
    pub timeout: Duration,
    /// `None`: no fuel limit (the deadline still applies).
    pub fuel: Option<u64>,
}

/// Fuel of a call without a fuel limit: more than any deadline lets it burn.
const UNMETERED_FUEL: u64 = i64::MAX as u64;

/// What one call is: its function, the account it runs for, its budget, and
/// what it may reach and read.
pub(crate) struct CallSpec<'a> {
    pub function: &'static str,
    pub account: Option<&'a str>,
    pub budget: Budget,
    pub policy: Arc<HttpPolicy>,
    pub kv: BTreeMap<String, Vec<u8>>,
    /// The server's public URL, for the status links of `erasure-requested`.
    pub public_url: Option<&'a str>,
}

impl CallSpec<'_> {
    /// A call of pure computation (analyzers, scorers): no account, no
    /// network, nothing to read; an analyzer batch's fuel and time.
    pub(crate) fn pure(function: &'static str, limits: &crate::Limits) -> CallSpec<'static> {
        CallSpec {
            function,
            account: None,
            budget: Budget {
                timeout: limits.analyzer_timeout,
                fuel: Some(limits.analyzer_fuel),
            },
            // These worlds have no `wasi:http`; the policy is empty all the same.
            policy: Arc::new(HttpPolicy::default()),
            kv: BTreeMap::new(),
            public_url: None,
        }
    }
}

pub(crate) fn run<T>(
    shared: &Shared,
    meta: &PluginMeta,
    spec: CallSpec<'_>,
    call: impl AsyncFnOnce(&mut Store<CallState>) -> wasmtime::Result<T>,
) -> Result<CallOutput<T>, CallError> {
    let CallSpec {
        function,
        account,
        budget,
        policy,
        kv,
        public_url,
    } = spec;
    let plugin = meta.spec.name.clone();
    let secrets = policy.clone();
    let fail = |reason: FailReason, logs: Vec<LogLine>| {
        let reason = reason.redacted(&secrets.secrets);
        let labels = [
            ("plugin", plugin.clone()),
            ("call", function.to_string()),
            ("reason", reason.kind().to_string()),
        ];
        metrics::counter!(crate::metrics::PLUGIN_CALL_FAILURES, &labels).increment(1);
        CallError {
            plugin: plugin.clone(),
            function,
            reason,
            logs,
        }
    };
    let records = Arc::new(Mutex::new(Vec::new()));
    let hooks = OutgoingHooks {
        policy,
        limits: meta.limits.clone(),
        transport: shared.transport.clone(),
        records: records.clone(),
        sent: 0,
        received: Arc::default(),
    };
    let mut store = Store::new(
        &shared.engine,
        CallState::new(meta.spec.name.clone(), account.map(str::to_string), hooks, kv).with_public_url(public_url),
    );
    store.limiter(|s| &mut s.limiter);
    // A new store's deadline has already passed: set it before instantiating.
    store.set_epoch_deadline(engine::ticks(budget.timeout));
    let fuel = budget.fuel.unwrap_or(UNMETERED_FUEL);
    store
        .set_fuel(fuel)
        .map_err(|e| fail(FailReason::Instantiate(e.to_string()), Vec::new()))?;

    let start = Instant::now();
    let result = block_on(async {
        match tokio::time::timeout(budget.timeout, call(&mut store)).await {
            Ok(result) => result,
            Err(_) => Err(wasmtime::Error::from(Trap::Interrupt)),
        }
    });
    let duration = start.elapsed();
    metrics::histogram!(crate::metrics::PLUGIN_CALL_SECONDS, "plugin" => plugin.clone(), "call" => function)
        .record(duration.as_secs_f64());
    let fuel_used = fuel.saturating_sub(store.get_fuel().unwrap_or(0));
    let requests = records.lock().map(|mut r| std::mem::take(&mut *r)).unwrap_or_default();
    if !requests.is_empty() {
        let call = EgressCall {
            plugin: plugin.clone(),
            version: meta.spec.version.clone(),
            account: account.map(str::to_string),
            function,
            requests: requests.clone(),
        };
        egress::report(shared.egress.get(), call);
    }
    let value = match result {
        Ok(value) => value,
        Err(e) => {
            let stderr = store.data().stderr.contents();
            let logs = store.data_mut().take_logs();
            return Err(fail(classify(&e, &budget, &stderr), logs));
        }
    };
    if let Some(why) = requests.iter().find_map(|r| r.refused.clone()) {
        return Err(fail(FailReason::RequestRefused(why), store.data_mut().take_logs()));
    }
    let changes = match store.data_mut().take_changes() {
        Ok(changes) => changes,
        Err(why) => return Err(fail(FailReason::OutputLimit(why), store.data_mut().take_logs())),
    };
    let kv_changes = store.data_mut().take_kv_changes();
    let verified = store.data_mut().take_verified();
    let logs = store.data_mut().take_logs();
    Ok(CallOutput {
        value,
        kv_changes,
        verified,
        changes,
        requests,
        logs,
        fuel_used,
        duration,
    })
}

/// Drives a call's future to its end from synchronous code: on the caller's
/// multi-thread runtime (the caller may be one of its workers or blocking
/// threads), else on the ambient runtime of `wasmtime_wasi`.
fn block_on<F: Future>(future: F) -> F::Output {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(future))
        }
        _ => wasmtime_wasi::runtime::in_tokio(future),
    }
}

fn classify(e: &wasmtime::Error, budget: &Budget, stderr: &[u8]) -> FailReason {
    if let Some(limit) = e.downcast_ref::<MemoryLimitExceeded>() {
        return FailReason::MemoryLimit(limit.to_string());
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => FailReason::Timeout(budget.timeout),
        Some(Trap::OutOfFuel) => FailReason::OutOfFuel(budget.fuel.unwrap_or(UNMETERED_FUEL)),
        _ => {
            // A Rust guest prints its panic message to stderr before trapping.
            let said = String::from_utf8_lossy(stderr);
            let said = said.trim();
            if said.is_empty() {
                FailReason::Trap(format!("{e:#}"))
            } else {
                FailReason::Trap(format!("{e:#}; the plugin wrote: {}", last_chars(said, 1_000)))
            }
        }
    }
}

fn last_chars(s: &str, n: usize) -> &str {
    let mut start = s.len().saturating_sub(n);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Limits;
    use crate::testing::{component, run};

    fn budget(timeout_ms: u64, fuel: Option<u64>) -> Budget {
        Budget {
            timeout: Duration::from_millis(timeout_ms),
            fuel,
        }
    }

    fn reason(wat: &str, budget: Budget) -> FailReason {
        match run(wat, Limits::default(), budget) {
            Ok(_) => panic!("the call succeeded"),
            Err(e) => e.reason,
        }
    }

    #[test]
    fn a_call_that_returns_succeeds_and_reports_its_fuel() {
        let out = run(&component("(nop)"), Limits::default(), budget(1_000, Some(1_000)));
        let out = out.unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.fuel_used > 0 && out.fuel_used < 1_000,
            "fuel used: {}",
            out.fuel_used
        );
    }

    #[test]
    fn unreachable_is_a_trap() {
        match reason(&component("(unreachable)"), budget(1_000, None)) {
            FailReason::Trap(m) => assert!(m.contains("unreachable"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_loop_without_a_fuel_limit_is_stopped_by_the_deadline() {
        let looping = component("(loop (br 0))");
        assert!(matches!(
            reason(&looping, budget(50, None)),
            FailReason::Timeout(d) if d == Duration::from_millis(50)
        ));
    }

    #[test]
    fn a_loop_with_a_fuel_limit_runs_out_of_fuel_first() {
        let looping = component("(loop (br 0))");
        assert!(matches!(
            reason(&looping, budget(60_000, Some(100_000))),
            FailReason::OutOfFuel(100_000)
        ));
    }

    #[test]
    fn the_tail_of_stderr_is_cut_on_a_character() {
        let said = "é".repeat(600);
        let tail = last_chars(&said, 1_000);
        assert!(tail.len() <= 1_000 && tail.chars().all(|c| c == 'é'));
        assert_eq!(last_chars("short", 1_000), "short");
    }
}
