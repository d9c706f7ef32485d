//! Publisher keys and package signatures: Ed25519 over [`Package::digest`]
//! (the SHA-256 of manifest and wasm). Key and signature files are small TOML
//! documents with base64 values.

use std::path::Path;

use base64::engine::general_purpose::STANDARD as B64;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Package;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: not a socialcrm {what}: {reason}")]
    Invalid {
        path: String,
        what: &'static str,
        reason: String,
    },
    #[error("cannot generate a key: the system's random source failed")]
    Random,
}

/// A publisher's signing key (keep it private). File: `name`, `private-key`
/// (base64 PKCS#8).
pub struct SigningKey {
    pub name: String,
    pair: Ed25519KeyPair,
    pkcs8: Vec<u8>,
}

/// A publisher's public key, as admins trust it. File: `name`, `public-key`
/// (base64 of the raw 32 bytes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PublicKey {
    pub name: String,
    #[serde(with = "base64_bytes")]
    pub public_key: Vec<u8>,
}

/// `plugin.sig`: which key signed the package, and the signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Signature {
    pub key_id: String,
    #[serde(with = "base64_bytes")]
    pub public_key: Vec<u8>,
    #[serde(with = "base64_bytes")]
    pub signature: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct SigningKeyFile {
    name: String,
    #[serde(with = "base64_bytes")]
    private_key: Vec<u8>,
}

/// A key's id: the first 16 hex digits of the SHA-256 of the public key.
pub fn key_id(public_key: &[u8]) -> String {
    hex::encode(&Sha256::digest(public_key)[..8])
}

impl SigningKey {
    pub fn generate(name: &str) -> Result<SigningKey, KeyError> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| KeyError::Random)?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(|_| KeyError::Random)?;
        Ok(SigningKey {
            name: name.to_string(),
            pair,
            pkcs8: pkcs8.as_ref().to_vec(),
        })
    }

    pub fn read(path: &Path) -> Result<SigningKey, KeyError> {
        let file: SigningKeyFile = read_toml(path, "signing key")?;
        let pair = Ed25519KeyPair::from_pkcs8(&file.private_key).map_err(|e| KeyError::Invalid {
            path: path.display().to_string(),
            what: "signing key",
            reason: e.to_string(),
        })?;
        Ok(SigningKey {
            name: file.name,
            pair,
            pkcs8: file.private_key,
        })
    }

    pub fn to_text(&self) -> String {
        let file = SigningKeyFile {
            name: self.name.clone(),
            private_key: self.pkcs8.clone(),
        };
        toml::to_string(&file).unwrap_or_default()
    }

    pub fn public(&self) -> PublicKey {
        PublicKey {
            name: self.name.clone(),
            public_key: self.pair.public_key().as_ref().to_vec(),
        }
    }

    /// Ed25519 signature of `message` (documents other than packages, such
    /// as a plugin index).
    pub fn sign_bytes(&self, message: &[u8]) -> Vec<u8> {
        self.pair.sign(message).as_ref().to_vec()
    }

    /// Signs `package` (replacing any signature it had).
    pub fn sign(&self, package: &mut Package) {
        let public_key = self.pair.public_key().as_ref().to_vec();
        package.signature = Some(Signature {
            key_id: key_id(&public_key),
            public_key,
            signature: self.pair.sign(package.digest().as_bytes()).as_ref().to_vec(),
        });
    }
}

impl PublicKey {
    pub fn read(path: &Path) -> Result<PublicKey, KeyError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
            path: shown.clone(),
            source,
        })?;
        PublicKey::parse(&text, &shown)
    }

    pub fn id(&self) -> String {
        key_id(&self.public_key)
    }

    pub fn to_text(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Reads a key from its file's text; `what` names it in errors.
    pub fn parse(text: &str, what: &str) -> Result<PublicKey, KeyError> {
        let invalid = |reason: String| KeyError::Invalid {
            path: what.to_string(),
            what: "public key",
            reason,
        };
        let key: PublicKey = toml::from_str(text).map_err(|e| invalid(e.message().to_string()))?;
        if key.public_key.len() != 32 {
            return Err(invalid(format!(
                "an Ed25519 public key has 32 bytes, this one {}",
                key.public_key.len()
            )));
        }
        Ok(key)
    }

    /// Whether `signature` is this key's Ed25519 signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.public_key)
            .verify(message, signature)
            .is_ok()
    }
}

impl Signature {
    pub fn parse(bytes: &[u8]) -> Result<Signature, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
        let sig: Signature = toml::from_str(text).map_err(|e| e.message().to_string())?;
        if sig.key_id != key_id(&sig.public_key) {
            return Err(format!("key id {} does not match its public key", sig.key_id));
        }
        Ok(sig)
    }

    pub fn to_text(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Whether this signature is valid for `package` (its key trusted or not).
    pub fn verifies(&self, package: &Package) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.public_key)
            .verify(package.digest().as_bytes(), &self.signature)
            .is_ok()
    }
}

fn read_toml<T: serde::de::DeserializeOwned>(path: &Path, what: &'static str) -> Result<T, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| KeyError::Invalid {
        path: path.display().to_string(),
        what,
        reason: e.message().to_string(),
    })
}

mod base64_bytes {
    use base64::Engine as _;

    use super::B64;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&B64.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        B64.decode(text.trim()).map_err(serde::de::Error::custom)
    }
}
