//! Where the requests of every call go once it ends, failed or not: a sink
//! the host installs (the egress log in the database) and a counter per
//! plugin, host and outcome. The runtime itself keeps nothing.

use std::sync::Arc;

use super::http::RequestRecord;

/// One call's outgoing requests, as the audit trail keeps them.
#[derive(Clone, Debug)]
pub struct EgressCall {
    pub plugin: String,
    pub version: String,
    /// The channel account the call ran for; `None` for calls without one.
    pub account: Option<String>,
    pub function: &'static str,
    pub requests: Vec<RequestRecord>,
}

/// Takes the requests of each call. Called on the caller's thread at the end
/// of the call: implementations hand the records off, never block.
pub trait EgressSink: Send + Sync + 'static {
    fn record(&self, call: EgressCall);
}

/// Counts each request in `/metrics`, then hands the call to `sink`.
pub(crate) fn report(sink: Option<&Arc<dyn EgressSink>>, call: EgressCall) {
    for r in &call.requests {
        let outcome = match (&r.refused, &r.error, r.status) {
            (Some(_), _, _) => "refused".to_string(),
            (None, Some(_), _) => "error".to_string(),
            (None, None, Some(status)) => status.to_string(),
            (None, None, None) => "none".to_string(),
        };
        let labels = [
            ("plugin", call.plugin.clone()),
            ("host", r.host.clone()),
            ("outcome", outcome),
        ];
        metrics::counter!(crate::metrics::PLUGIN_REQUESTS, &labels).increment(1);
    }
    if let Some(sink) = sink {
        sink.record(call);
    }
}
