//! `.scpkg` packages: one tar archive holding `plugin.toml`, `plugin.wasm` and,
//! when signed, `plugin.sig`. What a signature covers is [`Package::digest`].

use std::io::Read;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::signing::Signature;
use super::{Manifest, ManifestError};

/// Bytes of a package a host reads at most (the wasm dominates).
pub const MAX_PACKAGE_BYTES: u64 = 64 << 20;

/// A plugin package, read and validated.
#[derive(Clone, Debug)]
pub struct Package {
    /// `plugin.toml` exactly as packed (the signature covers these bytes).
    pub manifest_text: String,
    pub manifest: Manifest,
    pub wasm: Vec<u8>,
    pub signature: Option<Signature>,
}

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not a plugin package (a .scpkg is a tar archive): {reason}")]
    NotPackage { path: String, reason: String },
    #[error("{path}: the package has no `{entry}`")]
    Missing { path: String, entry: &'static str },
    #[error("{path}: unexpected entry `{entry}`; a package holds plugin.toml, plugin.wasm and plugin.sig only")]
    Unexpected { path: String, entry: String },
    #[error("{path}: larger than {MAX_PACKAGE_BYTES} bytes")]
    TooLarge { path: String },
    #[error("{path}: {source}")]
    Manifest { path: String, source: ManifestError },
    #[error("{path}: plugin.sig: {reason}")]
    Signature { path: String, reason: String },
}

impl Package {
    /// Reads the package file at `path`.
    pub fn read(path: &Path) -> Result<Package, PackageError> {
        let shown = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|source| PackageError::Io {
            path: shown.clone(),
            source,
        })?;
        Package::from_reader(&shown, file)
    }

    /// Reads a package from `input`; `path` names it in errors.
    pub fn from_reader(path: &str, input: impl Read) -> Result<Package, PackageError> {
        let not_package = |e: std::io::Error| PackageError::NotPackage {
            path: path.to_string(),
            reason: e.to_string(),
        };
        let mut archive = tar::Archive::new(input.take(MAX_PACKAGE_BYTES + 1));
        let (mut manifest, mut wasm, mut sig) = (None, None, None);
        let mut total = 0u64;
        for entry in archive.entries().map_err(not_package)? {
            let mut entry = entry.map_err(not_package)?;
            let name = entry.path().map_err(not_package)?.display().to_string();
            total += entry.size();
            if total > MAX_PACKAGE_BYTES {
                return Err(PackageError::TooLarge { path: path.to_string() });
            }
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).map_err(not_package)?;
            match name.trim_start_matches("./") {
                "plugin.toml" => manifest = Some(bytes),
                "plugin.wasm" => wasm = Some(bytes),
                "plugin.sig" => sig = Some(bytes),
                other => {
                    return Err(PackageError::Unexpected {
                        path: path.to_string(),
                        entry: other.to_string(),
                    });
                }
            }
        }
        let missing = |entry| PackageError::Missing {
            path: path.to_string(),
            entry,
        };
        let manifest_text =
            String::from_utf8(manifest.ok_or_else(|| missing("plugin.toml"))?).map_err(|_| PackageError::Manifest {
                path: path.to_string(),
                source: ManifestError::Syntax("not UTF-8 text".into()),
            })?;
        let wasm = wasm.ok_or_else(|| missing("plugin.wasm"))?;
        let signature = sig
            .map(|bytes| {
                Signature::parse(&bytes).map_err(|reason| PackageError::Signature {
                    path: path.to_string(),
                    reason,
                })
            })
            .transpose()?;
        let manifest = Manifest::parse(&manifest_text).map_err(|source| PackageError::Manifest {
            path: path.to_string(),
            source,
        })?;
        Ok(Package {
            manifest_text,
            manifest,
            wasm,
            signature,
        })
    }

    /// Packs the `plugin.toml` and `plugin.wasm` of directory `dir`, unsigned.
    pub fn from_dir(dir: &Path) -> Result<Package, PackageError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read(&path).map_err(|source| PackageError::Io {
                path: path.display().to_string(),
                source,
            })
        };
        let shown = dir.display().to_string();
        let manifest_text = String::from_utf8(read("plugin.toml")?).map_err(|_| PackageError::Manifest {
            path: shown.clone(),
            source: ManifestError::Syntax("not UTF-8 text".into()),
        })?;
        let manifest = Manifest::parse(&manifest_text).map_err(|source| PackageError::Manifest {
            path: shown.clone(),
            source,
        })?;
        Ok(Package {
            manifest_text,
            manifest,
            wasm: read("plugin.wasm")?,
            signature: None,
        })
    }

    /// The file name packages are written as: `NAME-VERSION.scpkg`.
    pub fn file_name(&self) -> String {
        format!("{}-{}.scpkg", self.manifest.name, self.manifest.version)
    }

    /// Hex SHA-256 over the manifest's and the wasm's own SHA-256: what a
    /// signature signs (hashing each part first makes the split unambiguous).
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"socialcrm-package-v1\0");
        hasher.update(Sha256::digest(self.manifest_text.as_bytes()));
        hasher.update(Sha256::digest(&self.wasm));
        hex::encode(hasher.finalize())
    }

    /// The archive's bytes, reproducible: fixed order, times and modes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, std::io::Error> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut add = |name: &str, bytes: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            header.set_cksum();
            builder.append_data(&mut header, name, bytes)
        };
        add("plugin.toml", self.manifest_text.as_bytes())?;
        add("plugin.wasm", &self.wasm)?;
        if let Some(sig) = &self.signature {
            add("plugin.sig", sig.to_text().as_bytes())?;
        }
        builder.into_inner()
    }

    /// Writes the archive to `path` (through a temporary file, so a crash
    /// never leaves half a package).
    pub fn write(&self, path: &Path) -> Result<(), std::io::Error> {
        let tmp = path.with_extension("scpkg.tmp");
        std::fs::write(&tmp, self.to_bytes()?)?;
        std::fs::rename(&tmp, path)
    }
}
