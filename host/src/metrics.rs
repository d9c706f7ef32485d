//! Prometheus metrics: the process-wide recorder, installed on first use, and
//! the names of what the host records (one place, so `/metrics` is documented
//! by this file and docs/api.md).

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

pub use socialcrm_sandbox::metrics::{PLUGIN_CALL_FAILURES, PLUGIN_CALL_SECONDS, PLUGIN_LOG_LINES, PLUGIN_REQUESTS};
/// Posts stored by ingest (new ones only), label `network`.
pub const INGEST_POSTS: &str = "socialcrm_ingest_posts_total";
/// Posts delivered again and recognised as stored, label `network`.
pub const INGEST_DUPLICATES: &str = "socialcrm_ingest_duplicates_total";
/// Committed pages waiting for analysis, linking and scoring (gauge).
pub const FOLLOWUP_QUEUE: &str = "socialcrm_followup_queue_pages";
/// Egress records dropped because the log's queue was full.
pub const EGRESS_DROPPED: &str = "socialcrm_egress_dropped_total";
/// Webhook calls refused with 429 (too many at once, or too fast), label `channel`.
pub const WEBHOOKS_REFUSED: &str = "socialcrm_webhooks_refused_total";
/// HTTP responses, label `status` (the code).
pub const HTTP_RESPONSES: &str = "socialcrm_http_responses_total";

/// Latency buckets (seconds): plugin calls take from microseconds to the timeout.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// The recorder's handle; installs the recorder the first time. `None` when
/// another recorder was installed first (then metrics go there).
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets(&BUCKETS)
                .and_then(|b| b.install_recorder())
                .map_err(|e| tracing::warn!(error = %e, "metrics are not recorded"))
                .ok()
        })
        .as_ref()
}

/// Every metric in the Prometheus text format.
pub fn render() -> String {
    handle().map(PrometheusHandle::render).unwrap_or_default()
}
