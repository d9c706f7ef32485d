//! `socialcrm plugin build`: compiles a plugin crate for wasm32-wasip2, puts
//! the component beside its `plugin.toml` as `plugin.wasm`, and loads it in
//! the sandbox as the manifest's kind, so a wrong world, a missing export or
//! an import newer than the manifest's `api` shows now, not on install.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::plugins::{self, Manifest};
use crate::runtime::{Plugin, Runtime, sha256_hex};

/// A built plugin, loaded.
pub struct Built {
    pub manifest: Manifest,
    /// The component, loaded in the runtime `build` was given.
    pub plugin: Plugin,
    /// `DIR/plugin.wasm`.
    pub wasm: PathBuf,
    pub bytes: usize,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("{0}")]
    Plugin(#[from] plugins::ResolveError),
    #[error("cannot run cargo: {0}")]
    Cargo(std::io::Error),
    #[error("cargo build failed ({status}); its output is above")]
    Failed { status: std::process::ExitStatus },
    #[error("cargo built no .wasm for {0} (is its crate-type `cdylib`?)")]
    NoWasm(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("the built component does not load as a {kind}: {reason}")]
    Load { kind: &'static str, reason: String },
}

/// Builds the crate in `dir` (release, wasm32-wasip2) with `cargo`, whose
/// diagnostics go to this process's stderr, and loads it in `runtime`.
pub fn build(dir: &Path, cargo: &Path, runtime: &Runtime) -> Result<Built, BuildError> {
    let manifest = plugins::read_manifest(&dir.join("plugin.toml"))?;
    let output = Command::new(cargo)
        .current_dir(dir)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
        ])
        .stderr(Stdio::inherit())
        .output()
        .map_err(BuildError::Cargo)?;
    if !output.status.success() {
        return Err(BuildError::Failed { status: output.status });
    }
    let built = last_wasm(&String::from_utf8_lossy(&output.stdout))
        .ok_or_else(|| BuildError::NoWasm(dir.display().to_string()))?;
    let wasm = dir.join("plugin.wasm");
    let bytes = std::fs::read(&built).map_err(|source| BuildError::Io {
        path: built.clone(),
        source,
    })?;
    std::fs::write(&wasm, &bytes).map_err(|source| BuildError::Io {
        path: wasm.clone(),
        source,
    })?;
    let plugin = plugins::load(runtime, &manifest, &bytes).map_err(|e| BuildError::Load {
        kind: manifest.kind.name(),
        reason: e.to_string(),
    })?;
    Ok(Built {
        manifest,
        plugin,
        wasm,
        bytes: bytes.len(),
        sha256: sha256_hex(&bytes),
    })
}

/// The `.wasm` of the last artifact cargo reported in its JSON messages.
fn last_wasm(messages: &str) -> Option<PathBuf> {
    messages
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact")
        .flat_map(|m| {
            m["filenames"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|f| f.as_str().map(PathBuf::from))
                .collect::<Vec<_>>()
        })
        .rfind(|f| f.extension().is_some_and(|e| e == "wasm"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_component_among_cargo_s_messages() {
        let messages = [
            r#"{"reason":"compiler-artifact","filenames":["/t/deps/libserde.rlib"]}"#,
            "not json",
            r#"{"reason":"compiler-artifact","filenames":["/t/wasm32-wasip2/release/acme.wasm","/t/wasm32-wasip2/release/libacme.rlib"]}"#,
            r#"{"reason":"build-finished","success":true}"#,
        ]
        .join("\n");
        assert_eq!(
            last_wasm(&messages),
            Some(PathBuf::from("/t/wasm32-wasip2/release/acme.wasm"))
        );
        assert_eq!(last_wasm(r#"{"reason":"build-finished"}"#), None);
    }
}
