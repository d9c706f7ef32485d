//! Finding a plugin by name or path: a directory with `plugin.toml` and
//! `plugin.wasm`, a bare `.wasm` (an analyzer, for trying one out), or the name
//! of a bundled plugin (`target/plugins/NAME` beside the binary, or under
//! `$SOCIALCRM_PLUGIN_DIR`).

use std::path::{Path, PathBuf};

use super::{Manifest, ManifestError};

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(
        "no plugin `{name}`: looked in {looked}; build the bundled plugins with `cargo xtask build-plugins` or give a path"
    )]
    NotFound { name: String, looked: String },
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}: {source}")]
    Manifest { path: PathBuf, source: ManifestError },
}

/// Resolves `name_or_path` to a manifest and its wasm bytes.
pub fn resolve(name_or_path: &str) -> Result<(Manifest, Vec<u8>), ResolveError> {
    let path = Path::new(name_or_path);
    if path.is_dir() {
        return read_dir(path);
    }
    if path.is_file() {
        let beside = path.with_file_name("plugin.toml");
        let manifest = if beside.is_file() {
            read_manifest(&beside)?
        } else {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("plugin");
            trial_manifest(stem)
        };
        return Ok((manifest, read(path)?));
    }
    if let Some(dir) = bundled_dir(name_or_path) {
        return read_dir(&dir);
    }
    Err(ResolveError::NotFound {
        name: name_or_path.to_string(),
        looked: search_dirs()
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// The directory of the bundled plugin `name`, when one is found.
pub fn bundled_dir(name: &str) -> Option<PathBuf> {
    search_dirs()
        .into_iter()
        .map(|dir| dir.join(name))
        .find(|dir| dir.join("plugin.toml").is_file())
}

fn search_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("SOCIALCRM_PLUGIN_DIR") {
        dirs.push(PathBuf::from(dir));
    }
    if let Some(exe_dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        dirs.push(exe_dir.join("plugins"));
        dirs.push(exe_dir.join("../plugins"));
        // A test binary (`target/debug/deps/`) finds `target/plugins` too.
        if exe_dir.ends_with("deps") {
            dirs.push(exe_dir.join("../../plugins"));
        }
    }
    dirs
}

fn read_dir(dir: &Path) -> Result<(Manifest, Vec<u8>), ResolveError> {
    let manifest = read_manifest(&dir.join("plugin.toml"))?;
    Ok((manifest, read(&dir.join("plugin.wasm"))?))
}

/// Reads and validates the manifest at `path`.
pub fn read_manifest(path: &Path) -> Result<Manifest, ResolveError> {
    let text = std::fs::read_to_string(path).map_err(|source| ResolveError::Io {
        path: path.into(),
        source,
    })?;
    Manifest::parse(&text).map_err(|source| ResolveError::Manifest {
        path: path.into(),
        source,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, ResolveError> {
    std::fs::read(path).map_err(|source| ResolveError::Io {
        path: path.into(),
        source,
    })
}

/// The manifest of a bare analyzer `.wasm` tried from the command line.
fn trial_manifest(stem: &str) -> Manifest {
    let name: String = stem
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    Manifest {
        name,
        version: semver::Version::new(0, 0, 0),
        kind: super::PluginKind::Analyzer,
        api: semver::VersionReq::STAR,
        network: None,
        description: String::new(),
        authors: Vec::new(),
        license: None,
        allowed_hosts: Vec::new(),
        credential: None,
        credentials: Vec::new(),
        secret_fill: Vec::new(),
        config: Vec::new(),
        limits: Default::default(),
        webhook: Default::default(),
        upkeep: Default::default(),
        scorer: Default::default(),
    }
}
