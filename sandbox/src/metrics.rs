//! The names of what the sandbox records; the host's recorder exports them
//! (docs/api.md lists every metric).

/// Seconds per plugin call, labels `plugin` and `call` (histogram).
pub const PLUGIN_CALL_SECONDS: &str = "socialcrm_plugin_call_seconds";
/// Plugin calls that failed in the sandbox, labels `plugin`, `call` and `reason`
/// (timeout, fuel, memory, trap, request-refused, output, config, instantiate, plugin).
pub const PLUGIN_CALL_FAILURES: &str = "socialcrm_plugin_call_failures_total";
/// Outgoing requests of plugin calls, labels `plugin`, `host` and `outcome`
/// (the HTTP status, `refused` by the host's policy, or `error` on the way).
pub const PLUGIN_REQUESTS: &str = "socialcrm_plugin_requests_total";
/// Plugin log lines, labels `plugin` and `level` (`dropped`: over the per-call cap).
pub const PLUGIN_LOG_LINES: &str = "socialcrm_plugin_log_lines_total";
