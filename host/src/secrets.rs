//! Secrets at rest: channel credentials are sealed with ChaCha20-Poly1305
//! under a key created in the data directory at first start (mode 0600), or
//! given base64-encoded in `SOCIALCRM_SECRET_KEY` (several nodes share one).

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};

const KEY_FILE: &str = "secret.key";
const NONCE_LEN: usize = 12;

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
}

impl SecretBox {
    /// The key from `SOCIALCRM_SECRET_KEY`, else from (or newly created in) `data_dir`.
    pub fn load_or_create(data_dir: &Path) -> Result<SecretBox, SecretError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        if let Ok(text) = std::env::var("SOCIALCRM_SECRET_KEY") {
            let bytes = b64.decode(text.trim()).map_err(|_| SecretError::BadKey)?;
            return SecretBox::from_key(&bytes).ok_or(SecretError::BadKey);
        }
        let path = data_dir.join(KEY_FILE);
        let io = |source| SecretError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        if path.exists() {
            let bytes = b64
                .decode(std::fs::read_to_string(&path).map_err(io)?.trim())
                .map_err(|_| SecretError::BadKey)?;
            return SecretBox::from_key(&bytes).ok_or(SecretError::BadKey);
        }
        std::fs::create_dir_all(data_dir).map_err(io)?;
        let key = ChaCha20Poly1305::generate_key(&mut OsRng);
        write_private(&path, b64.encode(key).as_bytes()).map_err(io)?;
        Ok(SecretBox {
            cipher: ChaCha20Poly1305::new(&key),
        })
    }

    pub fn from_key(bytes: &[u8]) -> Option<SecretBox> {
        (bytes.len() == 32).then(|| SecretBox {
            cipher: ChaCha20Poly1305::new(Key::from_slice(bytes)),
        })
    }

    /// base64(nonce ‖ ciphertext) of the secrets as JSON.
    pub fn seal(&self, secrets: &BTreeMap<String, String>) -> String {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let plain = serde_json::to_vec(secrets).unwrap_or_default();
        // Encryption with a fresh nonce and an in-memory buffer cannot fail.
        let sealed = self.cipher.encrypt(&nonce, plain.as_slice()).unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend(sealed);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    pub fn open(&self, sealed: &str) -> Result<BTreeMap<String, String>, SecretError> {
        if sealed.is_empty() {
            return Ok(BTreeMap::new());
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| SecretError::Decrypt)?;
        if bytes.len() < NONCE_LEN {
            return Err(SecretError::Decrypt);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| SecretError::Decrypt)?;
        serde_json::from_slice(&plain).map_err(|_| SecretError::Decrypt)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_and_detects_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let sbox = SecretBox::load_or_create(dir.path()).unwrap();
        let secrets: BTreeMap<String, String> = [("access-token".to_string(), "t0k3n".to_string())].into();
        let sealed = sbox.seal(&secrets);
        assert!(!sealed.contains("t0k3n"));
        assert_ne!(sealed, sbox.seal(&secrets), "a fresh nonce each time");
        assert_eq!(sbox.open(&sealed).unwrap(), secrets);

        let again = SecretBox::load_or_create(dir.path()).unwrap();
        assert_eq!(
            again.open(&sealed).unwrap(),
            secrets,
            "the key persists in the data directory"
        );

        let mut bytes = base64::engine::general_purpose::STANDARD.decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert!(matches!(sbox.open(&tampered), Err(SecretError::Decrypt)));
        assert!(matches!(
            SecretBox::from_key(&[7; 32]).unwrap().open(&sealed),
            Err(SecretError::Decrypt)
        ));
    }
}
