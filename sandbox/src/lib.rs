//! socialcrm's plugin sandbox: one wasmtime Engine, a Linker with exactly
//! what plugins may import, and a fresh Store per call with memory, time,
//! fuel, output and network limits; and the plugin manifest (`plugin.toml`)
//! that says what a plugin asks for.
//!
//! A crate of its own so that a plugin's tests (the SDK's testkit) run the
//! real sandbox without building the host's database and server. The host
//! names it `socialcrm::runtime`.

mod account;
mod analyzer;
mod api;
mod bindings;
mod cache;
mod call;
mod channel;
mod egress;
mod engine;
mod error;
pub mod fixtures;
pub mod http;
mod limits;
pub mod manifest;
pub mod metrics;
mod output;
mod redact;
pub mod replay;
mod scorer;
mod source;
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

pub use account::Account;
pub use analyzer::AnalyzerPlugin;
pub use cache::{private_dir, sha256_hex};
pub use call::CallOutput;
pub use channel::ChannelPlugin;
pub use egress::{EgressCall, EgressSink};
pub use error::{CallError, FailReason, LoadError};
pub use http::{
    Credential, CredentialRule, HttpPolicy, NetworkTransport, Refresh, RequestRecord, SecretFill, Transport,
};
pub use limits::{Limits, MemoryLimitExceeded};
pub use output::MAX_FACTORS;
pub use redact::redact;
pub use scorer::ScorerPlugin;
pub use source::SourcePlugin;
pub use spec::SandboxSpec;
pub use state::{KvChanges, VerifiedFields};

use state::CallState;

/// The version of `socialcrm:plugin` this host implements.
pub const WIT_VERSION: &str = "1.2.0";

/// [`WIT_VERSION`], parsed (a constant that always parses).
pub fn wit_version() -> semver::Version {
    semver::Version::parse(WIT_VERSION).unwrap_or_else(|_| semver::Version::new(1, 0, 0))
}

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
    /// One linker per world, each with exactly that world's imports.
    channel_linker: Linker<CallState>,
    source_linker: Linker<CallState>,
    analyzer_linker: Linker<CallState>,
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

/// A loaded plugin of any kind.
pub enum Plugin {
    Channel(ChannelPlugin),
    Analyzer(AnalyzerPlugin),
    Source(SourcePlugin),
    Scorer(ScorerPlugin),
}

impl Runtime {
    pub fn new(options: RuntimeOptions) -> Result<Runtime, LoadError> {
        let runtime_error = |e: wasmtime::Error| LoadError::Runtime(format!("{e:#}"));
        let engine = engine::build(options.max_limits.memory_bytes).map_err(runtime_error)?;
        engine::start_ticker(&engine);
        let channel_linker = linker(&engine, World::Channel).map_err(runtime_error)?;
        let source_linker = linker(&engine, World::Source).map_err(runtime_error)?;
        let analyzer_linker = linker(&engine, World::Analyzer).map_err(runtime_error)?;
        Ok(Runtime {
            shared: Arc::new(Shared {
                engine,
                channel_linker,
                source_linker,
                analyzer_linker,
                cache_dir: options.cache_dir,
                transport: options.transport,
                max_limits: options.max_limits,
                egress: OnceLock::new(),
            }),
        })
    }

    /// How allowed requests leave the host: the host's own requests for a
    /// plugin (a token refresh) go the same way as the plugin's.
    pub fn transport(&self) -> Arc<dyn Transport> {
        self.shared.transport.clone()
    }

    /// Records requests the host made for a plugin with the calls' own.
    pub fn record_egress(&self, call: EgressCall) {
        egress::report(self.shared.egress.get(), call);
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

    pub fn load_source(&self, spec: SandboxSpec, wasm: &[u8]) -> Result<SourcePlugin, LoadError> {
        let (meta, component) = self.compile(spec, wasm)?;
        SourcePlugin::new(self.shared.clone(), meta, &component)
    }

    pub fn load_analyzer(&self, spec: SandboxSpec, wasm: &[u8]) -> Result<AnalyzerPlugin, LoadError> {
        let (meta, component) = self.compile(spec, wasm)?;
        AnalyzerPlugin::new(self.shared.clone(), meta, &component)
    }

    pub fn load_scorer(&self, spec: SandboxSpec, wasm: &[u8]) -> Result<ScorerPlugin, LoadError> {
        let (meta, component) = self.compile(spec, wasm)?;
        ScorerPlugin::new(self.shared.clone(), meta, &component)
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
        if let Some(api) = &spec.api {
            api::check(&component, &self.shared.engine, api).map_err(|reason| LoadError::Link {
                name: name.clone(),
                reason,
            })?;
        }
        let limits = self.shared.max_limits.lowered_by(&spec.limits);
        let meta = PluginMeta { spec, limits, digest };
        Ok((meta, component))
    }
}

/// The worlds of the contract; each is linked with its own imports only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum World {
    Channel,
    Analyzer,
    Source,
    Scorer,
}

impl World {
    fn name(self) -> &'static str {
        match self {
            World::Channel => "channel",
            World::Analyzer => "analyzer",
            World::Source => "crm-source",
            World::Scorer => "scorer",
        }
    }
}

/// A linker with exactly what a plugin of `world` may import: WASI with
/// nothing behind it, and the world's own interfaces; `wasi:http`, `kv`,
/// `signing`, `verification` and `changes` for channels only; `wasi:http`
/// and `kv` for sources too.
fn linker(engine: &Engine, world: World) -> wasmtime::Result<Linker<CallState>> {
    let mut linker = Linker::new(engine);
    // Async WASI: a guest waiting on a clock, a request or a body stream
    // waits in a future that the call's deadline can drop.
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    match world {
        World::Channel => {
            wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
            // Interface by interface: the world's own `add_to_linker` would
            // link `wasi:http` a second time.
            use bindings::channel::socialcrm::plugin::{changes, conversations, kv, log, signing, types, verification};
            types::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |s| s)?;
            log::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |s| s)?;
            kv::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |s| s)?;
            signing::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |s| s)?;
            verification::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |s| s)?;
            changes::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |s| s)?;
            conversations::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |s| s)?;
        }
        World::Source => {
            wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
            use bindings::channel::socialcrm::plugin::{kv, log, types};
            types::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |s| s)?;
            log::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |s| s)?;
            kv::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |s| s)?;
        }
        // A scorer imports what an analyzer does (`log`), so it shares its linker.
        World::Analyzer | World::Scorer => {
            bindings::analyzer::AnalyzerSignals::add_to_linker::<_, HasSelf<CallState>>(&mut linker, |s| s)?;
        }
    }
    Ok(linker)
}

impl Shared {
    /// Links `component` as a plugin of `world`, naming what it imports that
    /// the world does not offer.
    fn instance_pre(
        &self,
        meta: &PluginMeta,
        component: &Component,
        world: World,
    ) -> Result<wasmtime::component::InstancePre<CallState>, LoadError> {
        let linker = match world {
            World::Channel => &self.channel_linker,
            World::Source => &self.source_linker,
            World::Analyzer | World::Scorer => &self.analyzer_linker,
        };
        linker.instantiate_pre(component).map_err(|e| LoadError::Link {
            name: meta.spec.id(),
            reason: format!("{e:#} (the {} world does not offer it)", world.name()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> Runtime {
        Runtime::new(RuntimeOptions::default()).expect("the runtime starts")
    }

    fn spec() -> SandboxSpec {
        SandboxSpec {
            name: "importer".into(),
            version: "1.0.0".into(),
            ..SandboxSpec::default()
        }
    }

    /// A component that imports `interface` with one function of type `func`.
    fn importing(interface: &str, function: &str, func: &str) -> Vec<u8> {
        let wat = format!(r#"(component (import "{interface}" (instance (export "{function}" (func {func})))))"#);
        wat::parse_str(wat).expect("the WAT parses")
    }

    fn kv() -> Vec<u8> {
        importing(
            &format!("socialcrm:plugin/kv@{WIT_VERSION}"),
            "get",
            "(param \"key\" string) (result (option (list u8)))",
        )
    }

    fn link_error(result: Result<impl Sized, LoadError>) -> String {
        match result {
            Err(e @ LoadError::Link { .. }) => e.to_string(),
            Err(e) => panic!("not a link error: {e}"),
            Ok(_) => panic!("loaded"),
        }
    }

    #[test]
    fn an_analyzer_importing_a_channel_interface_is_refused_naming_it() {
        let message = link_error(runtime().load_analyzer(spec(), &kv()));
        assert!(message.contains("socialcrm:plugin/kv@"), "{message}");
        assert!(message.contains("the analyzer world does not offer it"), "{message}");
    }

    #[test]
    fn a_scorer_importing_a_channel_interface_is_refused_naming_it() {
        // A scorer reads contacts' features: it may keep nothing and reach nothing.
        let message = link_error(runtime().load_scorer(spec(), &kv()));
        assert!(message.contains("socialcrm:plugin/kv@"), "{message}");
        assert!(message.contains("the scorer world does not offer it"), "{message}");
    }

    #[test]
    fn a_channel_may_import_the_key_value_store() {
        // It links; it is refused only for lacking the connector export.
        let message = link_error(runtime().load_channel(spec(), &kv()));
        assert!(message.contains("does not export the channel world"), "{message}");
    }

    #[test]
    fn an_import_newer_than_the_declared_api_is_refused_naming_both() {
        let verification = importing(
            &format!("socialcrm:plugin/verification@{WIT_VERSION}"),
            "verified-field",
            "(param \"author-id\" string) (param \"name\" string) (param \"value\" string)",
        );
        let declaring = |api: &str| SandboxSpec {
            api: Some(semver::VersionReq::parse(api).expect("a range")),
            ..spec()
        };
        let message = link_error(runtime().load_channel(declaring("^1.1"), &verification));
        assert!(
            message.contains("imports `socialcrm:plugin/verification@")
                && message.contains("new in socialcrm:plugin 1.2.0")
                && message.contains("api = \"^1.1\""),
            "{message}"
        );
        // Declared as it should be, it links (and lacks only its export).
        let message = link_error(runtime().load_channel(declaring("^1.2"), &verification));
        assert!(message.contains("does not export the channel world"), "{message}");
        // An interface of 1.0 fits any 1.x range.
        let message = link_error(runtime().load_channel(declaring("^1.0"), &kv()));
        assert!(message.contains("does not export the channel world"), "{message}");
    }
}
