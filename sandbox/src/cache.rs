//! Compiled-artifact cache: a component is compiled once and deserialized on
//! later starts, keyed by the SHA-256 of its wasm.

use std::path::PathBuf;

use sha2::{Digest, Sha256};
use wasmtime::{Engine, component::Component};

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// `dir` (created if absent, readable by this user only) when no other user
/// can write to it, else `None`. A compiled artifact is loaded as machine
/// code: a cache in a shared place (the temporary directory) that someone
/// else could write to would run their code, so it is not used.
pub fn private_dir(dir: PathBuf) -> Option<PathBuf> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        let _ = std::fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir);
        // Not followed: a symbolic link put in the way is refused.
        let meta = std::fs::symlink_metadata(&dir).ok()?;
        let probe = dir.join(format!(".owner-{}", std::process::id()));
        std::fs::write(&probe, b"").ok()?;
        let mine = std::fs::metadata(&probe).map(|m| m.uid()).ok();
        let _ = std::fs::remove_file(&probe);
        if !meta.is_dir() || Some(meta.uid()) != mine || meta.mode() & 0o022 != 0 {
            tracing::warn!(dir = %dir.display(), "not caching compiled plugins: another user can write to the directory");
            return None;
        }
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir)
}

/// Compiles `wasm` (whose hex SHA-256 is `digest`), through the cache directory when there is one.
pub fn compile(engine: &Engine, dir: Option<&PathBuf>, wasm: &[u8], digest: &str) -> wasmtime::Result<Component> {
    let Some(dir) = dir else {
        return Component::new(engine, wasm);
    };
    let path = dir.join(format!("{digest}.cwasm"));
    if path.exists() {
        // SAFETY: callers pass a directory that only this user can write to
        // (see `private_dir`), written only by `store` below; wasmtime checks
        // that the artifact matches this engine's version and settings.
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

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn a_cache_others_can_write_to_is_not_used() {
        let tmp = tempfile::tempdir().unwrap();
        let fresh = private_dir(tmp.path().join("a/cache")).expect("a new directory is private");
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);

        let shared = tmp.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(private_dir(shared.clone()), None);
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(private_dir(shared.clone()), Some(shared));

        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&fresh, &link).unwrap();
        assert_eq!(private_dir(link), None, "a symbolic link is not followed");
    }
}
