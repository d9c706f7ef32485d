//! socialcrm's plugin sandbox: one wasmtime Engine, a Linker with exactly
//! what plugins may import, and a fresh Store per call with memory, time,
//! fuel, output and network limits; and the plugin manifest (`plugin.toml`)
//! that says what a plugin asks for.
//!
//! A crate of its own so that a plugin's tests (the SDK's testkit) run the
//! real sandbox without building the host's database and server. The host
//! names it `socialcrm::runtime`.

mod analyzer;
mod bindings;
mod cache;
mod call;
mod channel;
mod egress;
mod engine;
mod error;
pub mod http;
mod limits;
pub mod manifest;
pub mod metrics;
mod output;
mod redact;
mod spec;
mod state;
mod stderr;
#[cfg(test)]
mod testing;
pub mod types;

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use wasmtime::Engine;
use wasmtime::component::{Component, HasSelf, Linker};

pub use analyzer::AnalyzerPlugin;
pub use cache::sha256_hex;
pub use call::CallOutput;
pub use channel::{Account, ChannelPlugin};
pub use egress::{EgressCall, EgressSink};
pub use error::{CallError, FailReason, LoadError};
pub use http::{Credential, HttpPolicy, NetworkTransport, RequestRecord, SecretFill, Transport};
pub use limits::{Limits, MemoryLimitExceeded};
pub use spec::SandboxSpec;
pub use state::{KvChanges, VerifiedFields};

use state::CallState;

/// The version of `socialcrm:plugin` this host implements.
pub const WIT_VERSION: &str = "1.2.0";

/// How a [`Runtime`] is set up.
pub struct RuntimeOptions {
    /// Where compiled artifacts are cached; `None` compiles on every load.
    pub cache_dir: Option<PathBuf>,
    /// How allowed requests leave the host.
    pub transport: Arc<dyn Transport>,
    /// The host's maximums; plugins and admins may only lower them.
    pub max_limits: Limits,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            cache_dir: None,
            transport: Arc::new(NetworkTransport),
            max_limits: Limits::default(),
        }
    }
}

/// Loads plugins and runs their calls. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    shared: Arc<Shared>,
}

pub(crate) struct Shared {
    engine: Engine,
    linker: Linker<CallState>,
    cache_dir: Option<PathBuf>,
    transport: Arc<dyn Transport>,
    max_limits: Limits,
    /// Where calls' requests go: set once by the host that keeps them.
    egress: OnceLock<Arc<dyn EgressSink>>,
}

/// What the host knows of a loaded plugin.
#[derive(Clone, Debug)]
pub struct PluginMeta {
    pub spec: SandboxSpec,
    /// The limits in force: the plugin's request within the host's maximums.
    pub limits: Limits,
    /// Hex SHA-256 of the wasm.
    pub digest: String,
}

/// A loaded plugin of either kind.
pub enum Plugin {
    Channel(ChannelPlugin),
    Analyzer(AnalyzerPlugin),
}

impl Runtime {
    pub fn new(options: RuntimeOptions) -> Result<Runtime, LoadError> {
        let runtime_error = |e: wasmtime::Error| LoadError::Runtime(format!("{e:#}"));
        let engine = engine::build(options.max_limits.memory_bytes).map_err(runtime_error)?;
        engine::start_ticker(&engine);
        let mut linker = Linker::new(&engine);
        // Async WASI: a guest waiting on a clock, a request or a body stream
        // waits in a future that the call's deadline can drop.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(runtime_error)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(runtime_error)?;
        // The channel world's imports are a superset of the analyzer's.
        bindings::channel::Channel::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |s| s)
            .map_err(runtime_error)?;
        Ok(Runtime {
            shared: Arc::new(Shared {
                engine,
                linker,
                cache_dir: options.cache_dir,
                transport: options.transport,
                max_limits: options.max_limits,
                egress: OnceLock::new(),
            }),
        })
    }

    /// Sends the requests of every later call, failed or not, to `sink`;
    /// only the first sink set is kept (false when one was set before).
    pub fn record_egress_to(&self, sink: Arc<dyn EgressSink>) -> bool {
        self.shared.egress.set(sink).is_ok()
    }

    /// The engine, for tools that measure it.
    pub fn engine(&self) -> &Engine {
        &self.shared.engine
    }

    pub fn load_channel(&self, spec: SandboxSpec, wasm: &[u8]) -> Result<ChannelPlugin, LoadError> {
        let (meta, component) = self.compile(spec, wasm)?;
        ChannelPlugin::new(self.shared.clone(), meta, &component)
    }

    pub fn load_analyzer(&self, spec: SandboxSpec, wasm: &[u8]) -> Result<AnalyzerPlugin, LoadError> {
        let (meta, component) = self.compile(spec, wasm)?;
        AnalyzerPlugin::new(self.shared.clone(), meta, &component)
    }

    fn compile(&self, spec: SandboxSpec, wasm: &[u8]) -> Result<(PluginMeta, Component), LoadError> {
        let name = spec.id();
        match wasm.get(..8) {
            Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => return Err(LoadError::CoreModule(name)),
            Some([0, b'a', b's', b'm', ..]) => {}
            _ => return Err(LoadError::NotWasm(name)),
        }
        let digest = sha256_hex(wasm);
        let component =
            cache::compile(&self.shared.engine, self.shared.cache_dir.as_ref(), wasm, &digest).map_err(|e| {
                LoadError::Invalid {
                    name: name.clone(),
                    reason: format!("{e:#}"),
                }
            })?;
        let limits = self.shared.max_limits.lowered_by(&spec.limits);
        let meta = PluginMeta { spec, limits, digest };
        Ok((meta, component))
    }
}

impl Shared {
    /// Links `component`, naming what it imports that the host does not offer.
    fn instance_pre(
        &self,
        meta: &PluginMeta,
        component: &Component,
    ) -> Result<wasmtime::component::InstancePre<CallState>, LoadError> {
        self.linker.instantiate_pre(component).map_err(|e| LoadError::Link {
            name: meta.spec.id(),
            reason: format!("{e:#}"),
        })
    }
}
