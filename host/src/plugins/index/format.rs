//! The index file, `index.json` (format 1): an envelope holding the index
//! document as JSON text and an Ed25519 signature of exactly that text, so no
//! canonical JSON is needed and nothing in the document is read before the
//! signature verifies. docs/plugin-index.md describes every field.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use super::IndexError;
use crate::plugins::signing::{PublicKey, SigningKey};
use crate::plugins::{Permissions, PluginKind};

/// The format this host reads and writes.
pub const FORMAT: u32 = 1;

/// Signed before the document's text, so an index signature can never pass
/// for a package signature (those sign a hex digest) or anything else.
const CONTEXT: &[u8] = b"socialcrm-plugin-index-v1\0";

/// `index.json` as stored and served.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    format: u32,
    /// The [`Index`] as JSON text: what the signature covers, byte for byte.
    index: String,
    /// The id of the key that signed it (see `signing::key_id`).
    key_id: String,
    /// Base64 Ed25519 signature of the context string and `index`.
    signature: String,
}

/// The signed document: every plugin the index offers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Index {
    pub format: u32,
    /// When the publisher wrote this index (Unix ms); a host refuses an index
    /// older than one it has verified before.
    pub generated_at: i64,
    pub plugins: Vec<IndexPlugin>,
}

/// A plugin with its published versions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IndexPlugin {
    pub name: String,
    pub kind: PluginKind,
    #[serde(default)]
    pub network: Option<String>,
    #[serde(default)]
    pub description: String,
    /// Newest first.
    pub versions: Vec<Release>,
}

/// One published version of a plugin.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Release {
    #[schema(value_type = String)]
    pub version: Version,
    /// The `socialcrm:plugin` WIT versions it runs on (the manifest's `api`).
    #[schema(value_type = String)]
    pub api: VersionReq,
    /// The package, relative to the index's URL or absolute (http or https).
    pub url: String,
    /// Bytes of the package file: a download stops there.
    pub size: u64,
    /// Hex SHA-256 of the package file.
    pub sha256: String,
    /// The package's own digest (what its signature signs).
    pub package_digest: String,
    /// Key id of the publisher key that signed the package; null if unsigned.
    #[serde(default)]
    pub signer: Option<String>,
    /// What the plugin asks to do, as `plugin inspect` shows it.
    pub permissions: Permissions,
    /// When it was published (Unix ms).
    pub published_at: i64,
}

impl Index {
    pub fn empty() -> Index {
        Index {
            format: FORMAT,
            generated_at: 0,
            plugins: Vec::new(),
        }
    }

    /// The index file: this document signed with `key`.
    pub fn seal(&self, key: &SigningKey) -> Result<Vec<u8>, IndexError> {
        let index = serde_json::to_string(self).map_err(|e| IndexError::Write(e.to_string()))?;
        let envelope = Envelope {
            format: FORMAT,
            key_id: key.public().id(),
            signature: B64.encode(key.sign_bytes(&signed_bytes(&index))),
            index,
        };
        let mut text = serde_json::to_vec_pretty(&envelope).map_err(|e| IndexError::Write(e.to_string()))?;
        text.push(b'\n');
        Ok(text)
    }

    /// Reads index file `bytes` of index `source`, trusting nothing in them
    /// until the signature verifies with `key`.
    pub fn open(source: &str, bytes: &[u8], key: &PublicKey) -> Result<Index, IndexError> {
        let not_index = |reason: String| IndexError::NotIndex {
            index: source.to_string(),
            reason,
        };
        let envelope: Envelope = serde_json::from_slice(bytes).map_err(|e| not_index(e.to_string()))?;
        if envelope.format != FORMAT {
            return Err(IndexError::Format {
                index: source.to_string(),
                found: envelope.format,
            });
        }
        if envelope.key_id != key.id() {
            return Err(IndexError::WrongKey {
                index: source.to_string(),
                expected: key.id(),
                found: envelope.key_id,
            });
        }
        let signature = B64
            .decode(envelope.signature.trim())
            .map_err(|e| not_index(format!("signature: {e}")))?;
        if !key.verifies(&signed_bytes(&envelope.index), &signature) {
            return Err(IndexError::BadSignature {
                index: source.to_string(),
            });
        }
        let index: Index = serde_json::from_str(&envelope.index).map_err(|e| not_index(e.to_string()))?;
        if index.format != FORMAT {
            return Err(IndexError::Format {
                index: source.to_string(),
                found: index.format,
            });
        }
        Ok(index)
    }

    pub fn plugin(&self, name: &str) -> Option<&IndexPlugin> {
        self.plugins.iter().find(|p| p.name == name)
    }
}

impl IndexPlugin {
    /// The newest version that runs on a host providing WIT `host`.
    pub fn newest_for(&self, host: &Version) -> Option<&Release> {
        self.versions
            .iter()
            .filter(|r| r.api.matches(host))
            .max_by(|a, b| a.version.cmp(&b.version))
    }
}

fn signed_bytes(index: &str) -> Vec<u8> {
    [CONTEXT, index.as_bytes()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index() -> Index {
        Index {
            generated_at: 1,
            ..Index::empty()
        }
    }

    #[test]
    fn a_sealed_index_opens_with_its_key_only() {
        let key = SigningKey::generate("idx").unwrap();
        let sealed = index().seal(&key).unwrap();
        assert_eq!(Index::open("t", &sealed, &key.public()).unwrap(), index());
        let other = SigningKey::generate("other").unwrap();
        let err = Index::open("t", &sealed, &other.public()).unwrap_err();
        assert!(matches!(err, IndexError::WrongKey { .. }), "{err}");
    }

    #[test]
    fn a_changed_document_does_not_verify() {
        let key = SigningKey::generate("idx").unwrap();
        let sealed = String::from_utf8(index().seal(&key).unwrap()).unwrap();
        let tampered = sealed.replace(r#"\"generated_at\":1"#, r#"\"generated_at\":2"#);
        assert_ne!(tampered, sealed);
        let err = Index::open("t", tampered.as_bytes(), &key.public()).unwrap_err();
        assert!(matches!(err, IndexError::BadSignature { .. }), "{err}");
    }
}
