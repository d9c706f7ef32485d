//! Secrets at rest: channel credentials are sealed with ChaCha20-Poly1305
//! under a key created in the data directory at first start (mode 0600), or
//! given base64-encoded in `SOCIALCRM_SECRET_KEY` (several nodes share one).
//! Each sealed blob is bound to its owner (the channel account's name, as
//! associated data): copied to another account, it does not open.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

const KEY_FILE: &str = "secret.key";
const NONCE_LEN: usize = 12;
/// The prefix of a blob bound to its owner; blobs sealed before binding have none.
const BOUND: &str = "v2:";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("SOCIALCRM_SECRET_KEY must be 32 bytes, base64-encoded")]
    BadKey,
    #[error("the secret key file {path}: {source}")]
    KeyFile { path: String, source: std::io::Error },
    #[error("stored secrets cannot be decrypted: wrong secret key, or the data was altered")]
    Decrypt,
}

/// Seals and opens secrets.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
    /// HMAC-SHA256 under a key derived from the box's: keyed hashes ([`SecretBox::keyed_hash`]).
    mac: ring::hmac::Key,
}

impl SecretBox {
    /// The key from `SOCIALCRM_SECRET_KEY`, else from (or newly created in) `data_dir`.
    pub fn load_or_create(data_dir: &Path) -> Result<SecretBox, SecretError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        if let Ok(text) = std::env::var("SOCIALCRM_SECRET_KEY") {
            return SecretBox::from_base64(&text);
        }
        let path = data_dir.join(KEY_FILE);
        let io = |source| SecretError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        if path.exists() {
            return SecretBox::from_base64(&std::fs::read_to_string(&path).map_err(io)?);
        }
        std::fs::create_dir_all(data_dir).map_err(io)?;
        let key = ChaCha20Poly1305::generate_key(&mut OsRng);
        write_private(&path, b64.encode(key).as_bytes()).map_err(io)?;
        SecretBox::from_key(&key).ok_or(SecretError::BadKey)
    }

    pub fn from_key(bytes: &[u8]) -> Option<SecretBox> {
        (bytes.len() == 32).then(|| SecretBox {
            cipher: ChaCha20Poly1305::new(Key::from_slice(bytes)),
            mac: mac_key(bytes),
        })
    }

    /// HMAC-SHA256 of `value` in `domain` (hex): a value that can be
    /// recognised again but not read back, as the do-not-track list keeps
    /// handles. A domain keeps hashes of one use from matching another's.
    pub fn keyed_hash(&self, domain: &str, value: &str) -> String {
        let mut ctx = ring::hmac::Context::with_key(&self.mac);
        ctx.update(domain.as_bytes());
        ctx.update(&[0]);
        ctx.update(value.as_bytes());
        hex::encode(ctx.sign().as_ref())
    }

    /// A fresh key, base64-encoded (what `SOCIALCRM_SECRET_KEY` and the key file hold).
    pub fn new_key() -> String {
        base64::engine::general_purpose::STANDARD.encode(ChaCha20Poly1305::generate_key(&mut OsRng))
    }

    /// `v2:` base64(nonce ‖ ciphertext) of the secrets as JSON, bound to `owner`.
    pub fn seal(&self, secrets: &BTreeMap<String, String>, owner: &str) -> String {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let plain = serde_json::to_vec(secrets).unwrap_or_default();
        let payload = Payload {
            msg: &plain,
            aad: owner.as_bytes(),
        };
        // Encryption with a fresh nonce and an in-memory buffer cannot fail.
        let sealed = self.cipher.encrypt(&nonce, payload).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend(sealed);
        format!("{BOUND}{}", base64::engine::general_purpose::STANDARD.encode(out))
    }

    /// The secrets `owner`'s blob holds. A blob sealed before binding opens
    /// too (see [`SecretBox::is_bound`]: the caller seals it again, bound).
    pub fn open(&self, sealed: &str, owner: &str) -> Result<BTreeMap<String, String>, SecretError> {
        if sealed.is_empty() {
            return Ok(BTreeMap::new());
        }
        let (text, aad) = match sealed.strip_prefix(BOUND) {
            Some(text) => (text, owner.as_bytes()),
            None => (sealed, &b""[..]),
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| SecretError::Decrypt)?;
        if bytes.len() < NONCE_LEN {
            return Err(SecretError::Decrypt);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let payload = Payload { msg: ciphertext, aad };
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| SecretError::Decrypt)?;
        serde_json::from_slice(&plain).map_err(|_| SecretError::Decrypt)
    }

    /// Whether `sealed` is bound to its owner (or empty).
    pub fn is_bound(sealed: &str) -> bool {
        sealed.is_empty() || sealed.starts_with(BOUND)
    }

    /// A box for `key` (base64), as `SOCIALCRM_SECRET_KEY` gives it.
    pub fn from_base64(key: &str) -> Result<SecretBox, SecretError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(key.trim())
            .map_err(|_| SecretError::BadKey)?;
        SecretBox::from_key(&bytes).ok_or(SecretError::BadKey)
    }

    /// Writes `key` (base64) beside the data directory's key file, before
    /// any secret depends on it: if a rotation stops after resealing, this
    /// file holds the key the secrets need.
    pub fn stage_key(data_dir: &Path, key: &str) -> Result<PathBuf, SecretError> {
        let staged = data_dir.join(format!("{KEY_FILE}.rotating"));
        let io = |source| SecretError::KeyFile {
            path: staged.display().to_string(),
            source,
        };
        let _ = std::fs::remove_file(&staged);
        write_private(&staged, key.as_bytes()).map_err(io)?;
        Ok(staged)
    }

    /// Makes the staged key the data directory's key (one rename).
    pub fn commit_key(data_dir: &Path, staged: &Path) -> Result<(), SecretError> {
        let path = data_dir.join(KEY_FILE);
        std::fs::rename(staged, &path).map_err(|source| SecretError::KeyFile {
            path: path.display().to_string(),
            source,
        })
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

/// The keyed-hash key: HMAC-SHA256 of a fixed label under the secret key, so
/// the cipher's key is never also an HMAC key.
fn mac_key(secret: &[u8]) -> ring::hmac::Key {
    let derived = ring::hmac::sign(
        &ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret),
        b"socialcrm keyed hashes v1",
    );
    ring::hmac::Key::new(ring::hmac::HMAC_SHA256, derived.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_detects_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let sbox = SecretBox::load_or_create(dir.path()).unwrap();
        let secrets: BTreeMap<String, String> = [("access-token".to_string(), "t0k3n".to_string())].into();
        let sealed = sbox.seal(&secrets, "brand");
        assert!(!sealed.contains("t0k3n"));
        assert_ne!(sealed, sbox.seal(&secrets, "brand"), "a fresh nonce each time");
        assert_eq!(sbox.open(&sealed, "brand").unwrap(), secrets);
        assert!(
            matches!(sbox.open(&sealed, "other-account"), Err(SecretError::Decrypt)),
            "a blob copied to another account does not open"
        );

        let again = SecretBox::load_or_create(dir.path()).unwrap();
        assert_eq!(
            again.open(&sealed, "brand").unwrap(),
            secrets,
            "the key persists in the data directory"
        );

        let b64 = base64::engine::general_purpose::STANDARD;
        let mut bytes = b64.decode(sealed.trim_start_matches(BOUND)).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("{BOUND}{}", b64.encode(bytes));
        assert!(matches!(sbox.open(&tampered, "brand"), Err(SecretError::Decrypt)));
        assert!(matches!(
            SecretBox::from_key(&[7; 32]).unwrap().open(&sealed, "brand"),
            Err(SecretError::Decrypt)
        ));
    }

    #[test]
    fn a_blob_sealed_before_binding_still_opens_and_is_known_as_unbound() {
        let sbox = SecretBox::from_key(&[7; 32]).unwrap();
        let secrets: BTreeMap<String, String> = [("token".to_string(), "t".to_string())].into();
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut legacy = nonce.to_vec();
        legacy.extend(
            sbox.cipher
                .encrypt(&nonce, serde_json::to_vec(&secrets).unwrap().as_slice())
                .unwrap(),
        );
        let legacy = base64::engine::general_purpose::STANDARD.encode(legacy);
        assert!(!SecretBox::is_bound(&legacy));
        assert_eq!(sbox.open(&legacy, "anyone").unwrap(), secrets);
        assert!(SecretBox::is_bound(&sbox.seal(&secrets, "brand")));
    }
}
