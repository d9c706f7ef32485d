//! `plugin publish`: adds a package to an index directory (the package file
//! beside `index.json`) and signs the index again. Serve the directory with
//! any static file server.

use std::path::Path;

use super::{Index, IndexError, IndexPlugin, Release};
use crate::plugins::signing::SigningKey;
use crate::plugins::{Package, Permissions};
use crate::runtime::sha256_hex;
use crate::store::now_ms;

pub const INDEX_FILE: &str = "index.json";

/// What `publish` did.
#[derive(Clone, Debug, PartialEq)]
pub struct Published {
    pub name: String,
    pub release: Release,
    /// The same package was already published: nothing changed.
    pub unchanged: bool,
}

/// Publishes the package file `package_path` in index directory `dir`,
/// signing the index with `key`; package URLs are `base_url`/FILE, or the
/// file name (relative to the index) without one. Publishing the same
/// package again changes nothing; another package under a published version
/// is refused.
pub fn publish(
    dir: &Path,
    package_path: &Path,
    key: &SigningKey,
    base_url: Option<&str>,
) -> Result<Published, IndexError> {
    let io = |what: &Path, e: std::io::Error| IndexError::Io(format!("{}: {e}", what.display()));
    let bytes = std::fs::read(package_path).map_err(|e| io(package_path, e))?;
    let shown = package_path.display().to_string();
    let package = Package::from_reader(&shown, &bytes[..]).map_err(|source| IndexError::Package {
        what: shown.clone(),
        source,
    })?;
    if let Some(sig) = &package.signature
        && !sig.verifies(&package)
    {
        return Err(IndexError::Io(format!(
            "{shown}: its signature does not verify; sign it again before publishing"
        )));
    }
    let m = &package.manifest;
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let index_path = dir.join(INDEX_FILE);
    let mut index = match std::fs::read(&index_path) {
        Ok(existing) => Index::open(&index_path.display().to_string(), &existing, &key.public())?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Index::empty(),
        Err(e) => return Err(io(&index_path, e)),
    };
    let sha256 = sha256_hex(&bytes);
    if let Some(published) = index
        .plugin(&m.name)
        .and_then(|p| p.versions.iter().find(|r| r.version == m.version))
    {
        if published.sha256 == sha256 {
            return Ok(Published {
                name: m.name.clone(),
                release: published.clone(),
                unchanged: true,
            });
        }
        return Err(IndexError::Republish {
            name: m.name.clone(),
            version: m.version.to_string(),
            published: published.sha256.clone(),
        });
    }
    let file = package.file_name();
    let file_path = dir.join(&file);
    match std::fs::read(&file_path) {
        Ok(there) if there != bytes => {
            return Err(IndexError::Io(format!(
                "{} exists with other content and is not in the index; not overwriting it",
                file_path.display()
            )));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => write_atomically(&file_path, &bytes)?,
        Err(e) => return Err(io(&file_path, e)),
    }
    let release = Release {
        version: m.version.clone(),
        api: m.api.clone(),
        url: match base_url {
            Some(base) => format!("{}/{file}", base.trim_end_matches('/')),
            None => file,
        },
        size: bytes.len() as u64,
        sha256,
        package_digest: package.digest(),
        signer: package.signature.as_ref().map(|s| s.key_id.clone()),
        permissions: Permissions::of(m),
        published_at: now_ms(),
    };
    let position = index.plugins.iter().position(|p| p.name == m.name);
    let plugin = match position {
        Some(i) => &mut index.plugins[i],
        None => {
            index.plugins.push(IndexPlugin {
                name: m.name.clone(),
                kind: m.kind,
                network: None,
                description: String::new(),
                versions: Vec::new(),
            });
            index.plugins.sort_by(|a, b| a.name.cmp(&b.name));
            let i = index.plugins.iter().position(|p| p.name == m.name).unwrap_or_default();
            &mut index.plugins[i]
        }
    };
    if plugin.kind != m.kind {
        return Err(IndexError::Io(format!(
            "{} is published as a {:?} plugin; this package is a {:?} plugin",
            m.name, plugin.kind, m.kind
        )));
    }
    plugin.versions.push(release.clone());
    plugin.versions.sort_by(|a, b| b.version.cmp(&a.version));
    // The plugin is described as its newest version describes itself.
    if plugin.versions.first().is_some_and(|r| r.version == m.version) {
        plugin.network = m.network.clone();
        plugin.description = m.description.clone();
    }
    // Strictly newer than the index it replaces, so hosts take it as newer.
    index.generated_at = now_ms().max(index.generated_at + 1);
    write_atomically(&index_path, &index.seal(key)?)?;
    Ok(Published {
        name: m.name.clone(),
        release,
        unchanged: false,
    })
}

/// Writes through a temporary file, so a reader never sees half a file.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), IndexError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| IndexError::Io(format!("{}: {e}", path.display())))
}
