//! Run a plugin's built component in the real socialcrm host, against canned
//! HTTP responses or the crate's recorded fixtures (the file `socialcrm
//! plugin test` replays), from a plain `cargo test` (feature `testkit`).
//!
//! ```no_run
//! use socialcrm_sdk::testkit::{Canned, Harness, account};
//! let harness = Harness::new();
//! harness.respond("GET", "/api/v1/notifications", Canned::json(200, &serde_json::json!([])));
//! let plugin = harness.channel(env!("CARGO_MANIFEST_DIR")).unwrap();
//! let page = plugin.poll(&account(&[("instance", "https://example.social")], &[("access-token", "t")]), "").unwrap();
//! assert!(page.value.posts.is_empty());
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use anyhow::{Context, bail};
pub use socialcrm_sandbox::fixtures::{Fixtures, RecordedPage, SendCall, WebhookCall};
pub use socialcrm_sandbox::manifest::Manifest;
pub use socialcrm_sandbox::replay::{Recorded, Seen};
use socialcrm_sandbox::replay::{Replay, Script};
pub use socialcrm_sandbox::types::*;
pub use socialcrm_sandbox::{
    Account, AnalyzerPlugin, CallError, CallOutput, ChannelPlugin, FailReason, Limits, Runtime, RuntimeOptions,
    SourcePlugin, Transport,
};

/// A canned response.
#[derive(Clone, Debug)]
pub struct Canned {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Canned {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Canned {
        Canned {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    pub fn json(status: u16, body: &serde_json::Value) -> Canned {
        Canned::new(status, body.to_string()).header("content-type", "application/json")
    }

    pub fn header(mut self, name: &str, value: &str) -> Canned {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// A host with canned HTTP.
pub struct Harness {
    transport: Arc<Replay>,
    runtime: Runtime,
}

impl Default for Harness {
    fn default() -> Self {
        Harness::new()
    }
}

impl Harness {
    pub fn new() -> Harness {
        let transport = Arc::new(Replay::default());
        // Compiled components are cached across tests and runs (keyed by
        // digest), in a directory only this user can write to.
        let cache_dir = socialcrm_sandbox::private_dir(std::env::temp_dir().join("socialcrm-testkit-cache"));
        let runtime = Runtime::new(RuntimeOptions {
            transport: transport.clone(),
            cache_dir,
            ..RuntimeOptions::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        Harness { transport, runtime }
    }

    /// Queues `response` for `method path` (the path without its query):
    /// responses to one request are served in order, and the last repeats.
    pub fn respond(&self, method: &str, path: &str, response: Canned) {
        let mut headers = http::HeaderMap::new();
        for (name, value) in &response.headers {
            if let (Ok(n), Ok(v)) = (
                http::HeaderName::try_from(name.as_str()),
                http::HeaderValue::try_from(value.as_str()),
            ) {
                headers.append(n, v);
            }
        }
        self.transport.add(Recorded {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            query: None,
            response: socialcrm_sandbox::http::HttpResponse {
                status: response.status,
                headers,
                body: response.body.into(),
            },
        });
    }

    /// Answers from now on with `responses` only (a page or a send of the
    /// crate's [`fixtures`]), in place of everything queued before.
    pub fn play(&self, responses: &[Recorded]) {
        self.transport.play(Script::Recorded(responses.to_vec()));
    }

    /// Requests since the last [`Harness::play`] that nothing recorded answered.
    pub fn unmatched(&self) -> Vec<String> {
        self.transport.unmatched()
    }

    /// Every request the plugin made so far.
    pub fn requests(&self) -> Vec<Seen> {
        self.transport.seen()
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Loads the crate at `crate_dir`, built for wasm32-wasip2 (see [`built`]), with its `plugin.toml`.
    pub fn channel(&self, crate_dir: &str) -> anyhow::Result<ChannelPlugin> {
        let built = built(crate_dir)?;
        Ok(self.runtime.load_channel(built.manifest.sandbox(), &built.wasm)?)
    }

    /// Loads the crate at `crate_dir`, built for wasm32-wasip2 (see [`built`]), with its `plugin.toml`.
    pub fn source(&self, crate_dir: &str) -> anyhow::Result<SourcePlugin> {
        let built = built(crate_dir)?;
        Ok(self.runtime.load_source(built.manifest.sandbox(), &built.wasm)?)
    }

    /// Loads the crate at `crate_dir`, built for wasm32-wasip2 (see [`built`]), with its `plugin.toml`.
    pub fn analyzer(&self, crate_dir: &str) -> anyhow::Result<AnalyzerPlugin> {
        let built = built(crate_dir)?;
        Ok(self.runtime.load_analyzer(built.manifest.sandbox(), &built.wasm)?)
    }
}

/// The crate's recorded network, `conformance/conformance.toml`: the same
/// file `socialcrm plugin test` replays and `plugin test --record` writes.
pub fn fixtures(crate_dir: &str) -> anyhow::Result<Fixtures> {
    Ok(Fixtures::load(&Path::new(crate_dir).join("conformance"))?)
}

/// A plugin crate built for wasm32-wasip2, with its `plugin.toml`.
pub struct Built {
    pub manifest: Manifest,
    pub wasm: Vec<u8>,
}

/// The crate at `crate_dir` built for wasm32-wasip2 and its `plugin.toml`,
/// once per test process: the tests of a plugin share one build.
pub fn built(crate_dir: &str) -> anyhow::Result<Arc<Built>> {
    static BUILT: Mutex<BTreeMap<String, Arc<Built>>> = Mutex::new(BTreeMap::new());
    // Held while building, so parallel tests wait for one build.
    let mut cache = BUILT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(built) = cache.get(crate_dir) {
        return Ok(built.clone());
    }
    let dir = Path::new(crate_dir);
    let text =
        std::fs::read_to_string(dir.join("plugin.toml")).with_context(|| format!("reading {crate_dir}/plugin.toml"))?;
    let manifest = Manifest::parse(&text)?;
    let wasm_path = build(crate_dir)?;
    let wasm = std::fs::read(&wasm_path).with_context(|| format!("reading {}", wasm_path.display()))?;
    let built = Arc::new(Built { manifest, wasm });
    cache.insert(crate_dir.to_string(), built.clone());
    Ok(built)
}

/// A configuration as a plugin's native unit tests pass it.
pub fn config(pairs: &[(&str, &str)]) -> crate::Config {
    pairs
        .iter()
        .map(|(name, value)| crate::ConfigEntry {
            name: name.to_string(),
            value: value.to_string(),
        })
        .collect()
}

/// Panics unless `descriptor`, what a channel's `describe` answers natively,
/// says what `plugin_toml` says: the network, and, if it lists config fields
/// (it need not: the host takes them from plugin.toml), each one's name,
/// kind, required, secret and description, in order. Returns the manifest
/// for further checks.
#[cfg(feature = "channel")]
pub fn assert_describes(plugin_toml: &str, descriptor: &crate::channel::Descriptor) -> Manifest {
    use crate::channel::FieldKind;

    let manifest = Manifest::parse(plugin_toml).unwrap_or_else(|e| panic!("plugin.toml: {e}"));
    assert_eq!(Some(descriptor.network.as_str()), manifest.network.as_deref());
    if descriptor.config_fields.is_empty() {
        return manifest;
    }
    assert_eq!(descriptor.config_fields.len(), manifest.config.len(), "config fields");
    for (field, spec) in descriptor.config_fields.iter().zip(&manifest.config) {
        let kind = match spec.kind.as_str() {
            "url" => FieldKind::Url,
            "number" => FieldKind::Number,
            "boolean" => FieldKind::Boolean,
            "list" => FieldKind::List,
            _ => FieldKind::Text,
        };
        assert_eq!(
            (
                &field.name,
                field.required,
                field.secret,
                &field.description,
                field.kind
            ),
            (&spec.name, spec.required, spec.secret, &spec.description, kind)
        );
    }
    manifest
}

/// An account with these config values and secrets, allowed to reach loopback
/// (fake servers in tests listen there).
pub fn account(config: &[(&str, &str)], secrets: &[(&str, &str)]) -> Account {
    let map = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    Account {
        name: "test".into(),
        config: map(config),
        secrets: map(secrets),
        allow_private: true,
        ..Account::default()
    }
}

/// Builds the plugin crate at `crate_dir` for wasm32-wasip2 (release) and
/// returns the path of its `.wasm`. Cheap when nothing changed.
pub fn build(crate_dir: &str) -> anyhow::Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(Path::new(crate_dir).join("Cargo.toml"))
        .output()
        .context("running cargo")?;
    if !output.status.success() {
        bail!(
            "building {crate_dir} for wasm32-wasip2 failed (is the target installed? `rustup target add wasm32-wasip2`):\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let package = package_name(crate_dir)?;
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(message) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let is_ours =
            message["target"]["name"].as_str().map(|n| n.replace('-', "_")) == Some(package.replace('-', "_"));
        if message["reason"] == "compiler-artifact" && is_ours {
            let wasm = message["filenames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str())
                .find(|f| f.ends_with(".wasm"));
            if let Some(wasm) = wasm {
                return Ok(PathBuf::from(wasm));
            }
        }
    }
    bail!("cargo built {crate_dir} but reported no .wasm artifact; is it a `cdylib`?")
}

fn package_name(crate_dir: &str) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(Path::new(crate_dir).join("Cargo.toml"))?;
    let doc: toml::Table = text.parse()?;
    doc.get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_string)
        .context("Cargo.toml has no package.name")
}
