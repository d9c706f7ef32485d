//! Why loading a plugin or one call of it failed. Every message names the plugin.

use std::collections::BTreeMap;
use std::time::Duration;

use super::redact::redact;
use super::types::{LogLine, PluginError};

/// A component that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}: not a WebAssembly file (no `\\0asm` header)")]
    NotWasm(String),
    #[error(
        "{0}: a core WebAssembly module, not a component; build for wasm32-wasip2 or run `wasm-tools component new`"
    )]
    CoreModule(String),
    #[error("{name}: invalid component: {reason}")]
    Invalid { name: String, reason: String },
    #[error("{name}: {reason}")]
    Link { name: String, reason: String },
    #[error("cannot start the plugin runtime: {0}")]
    Runtime(String),
}

/// Why one call failed. Nothing from a failed call is kept.
#[derive(Debug, thiserror::Error)]
pub enum FailReason {
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("ran out of fuel ({0} units)")]
    OutOfFuel(u64),
    #[error("{0}")]
    MemoryLimit(String),
    #[error("trapped: {0}")]
    Trap(String),
    #[error("request refused: {0}")]
    RequestRefused(String),
    #[error("output over limit: {0}")]
    OutputLimit(String),
    #[error("invalid output: {0}")]
    InvalidOutput(String),
    #[error("account configuration: {0}")]
    Config(String),
    #[error("cannot instantiate: {0}")]
    Instantiate(String),
    #[error("{0}")]
    Plugin(PluginError),
}

impl FailReason {
    /// A short name for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            FailReason::Timeout(_) => "timeout",
            FailReason::OutOfFuel(_) => "fuel",
            FailReason::MemoryLimit(_) => "memory",
            FailReason::Trap(_) => "trap",
            FailReason::RequestRefused(_) => "request-refused",
            FailReason::OutputLimit(_) | FailReason::InvalidOutput(_) => "output",
            FailReason::Config(_) => "config",
            FailReason::Instantiate(_) => "instantiate",
            FailReason::Plugin(_) => "plugin",
        }
    }
}

impl FailReason {
    /// This reason with every value of `secrets` taken out of its text.
    pub(crate) fn redacted(self, secrets: &BTreeMap<String, String>) -> FailReason {
        let r = |text: String| redact(&text, secrets).into_owned();
        match self {
            FailReason::MemoryLimit(m) => FailReason::MemoryLimit(r(m)),
            FailReason::Trap(m) => FailReason::Trap(r(m)),
            FailReason::RequestRefused(m) => FailReason::RequestRefused(r(m)),
            FailReason::OutputLimit(m) => FailReason::OutputLimit(r(m)),
            FailReason::InvalidOutput(m) => FailReason::InvalidOutput(r(m)),
            FailReason::Config(m) => FailReason::Config(r(m)),
            FailReason::Instantiate(m) => FailReason::Instantiate(r(m)),
            FailReason::Plugin(e) => FailReason::Plugin(e.map_text(r)),
            other @ (FailReason::Timeout(_) | FailReason::OutOfFuel(_)) => other,
        }
    }
}

/// A failed call of plugin `plugin`.
#[derive(Debug, thiserror::Error)]
#[error("plugin {plugin}: {function}: {reason}")]
pub struct CallError {
    pub plugin: String,
    pub function: &'static str,
    pub reason: FailReason,
    /// What the plugin logged before it failed.
    pub logs: Vec<LogLine>,
}

impl CallError {
    /// The plugin's own error, when the call ran and the plugin reported one.
    pub fn plugin_error(&self) -> Option<&PluginError> {
        match &self.reason {
            FailReason::Plugin(e) => Some(e),
            _ => None,
        }
    }
}
