//! Compiled-artifact cache: a component is compiled once and deserialized on
//! later starts, keyed by the SHA-256 of its wasm.

use std::path::PathBuf;

use sha2::{Digest, Sha256};
use wasmtime::{Engine, component::Component};

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Compiles `wasm` (whose hex SHA-256 is `digest`), through the cache directory when there is one.
pub fn compile(engine: &Engine, dir: Option<&PathBuf>, wasm: &[u8], digest: &str) -> wasmtime::Result<Component> {
    let Some(dir) = dir else {
        return Component::new(engine, wasm);
    };
    let path = dir.join(format!("{digest}.cwasm"));
    if path.exists() {
        // SAFETY: the cache directory belongs to the host (it is in the data
        // directory, written only by `store` below); wasmtime checks that the
        // artifact matches this engine's version and settings and errors if not.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(component) => return Ok(component),
            Err(e) => tracing::info!(path = %path.display(), error = %e, "stale compiled artifact, recompiling"),
        }
    }
    let component = Component::new(engine, wasm)?;
    if let Err(e) = store(&component, &path) {
        tracing::warn!(path = %path.display(), error = %e, "cannot cache compiled plugin");
    }
    Ok(component)
}

fn store(component: &Component, path: &PathBuf) -> anyhow::Result<()> {
    let bytes = component.serialize()?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    // Write then rename, so a crash never leaves a truncated artifact behind
    // (and concurrent writers never see each other's half-written file).
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp{}-{n}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
