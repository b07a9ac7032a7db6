//! Bodies at rest: AES-256-GCM under a key kept outside the data directory.
//!
//! Each body gets a fresh random 96-bit nonce, stored in front of the ciphertext, and the basis
//! id as associated data, so a ciphertext moved to another id in the database fails to open
//! instead of being served as a different basis.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

use super::StoreError;

const NONCE_LEN: usize = 12;

/// The body key. Deliberately not `Debug`: key material must never reach a log line.
pub struct BodyKey {
    cipher: Aes256Gcm,
}

impl BodyKey {
    /// Reads a key file: 64 hex digits (whitespace around them ignored). Refuses a file others
    /// may read.
    pub fn load(path: &Path) -> Result<BodyKey, StoreError> {
        let bytes = read_secret_hex(path, 32)?;
        let cipher = Aes256Gcm::new_from_slice(&bytes).map_err(|_| StoreError::Key {
            path: path.to_path_buf(),
            message: "not a 32-byte key".into(),
        })?;
        Ok(BodyKey { cipher })
    }

    /// Encrypts `plain` for basis `id`: `nonce ‖ ciphertext+tag`.
    pub fn seal(&self, id: &str, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: id.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of an in-memory buffer does not fail");
        let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out
    }

    /// Decrypts what [`seal`](Self::seal) made for the same id; `None` if it was altered, moved to
    /// another id, or sealed under another key.
    pub fn open(&self, id: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: id.as_bytes(),
                },
            )
            .ok()
    }
}

/// Reads a hex-encoded secret of exactly `len` bytes from a file only its owner may read.
pub fn read_secret_hex(path: &Path, len: usize) -> Result<Vec<u8>, StoreError> {
    use std::os::unix::fs::PermissionsExt;
    let key_err = |message: String| StoreError::Key {
        path: path.to_path_buf(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            key_err(
                "missing (create the store's keys with `invoice-hub store --config FILE --init`)"
                    .into(),
            )
        } else {
            StoreError::io(path, e)
        }
    })?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(key_err(format!(
            "mode {:o} lets others read it; chmod 600",
            meta.permissions().mode() & 0o777
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| StoreError::io(path, e))?;
    let bytes =
        hex::decode(text.trim()).map_err(|_| key_err(format!("not {} hex digits", len * 2)))?;
    if bytes.len() != len {
        return Err(key_err(format!("not {} hex digits", len * 2)));
    }
    Ok(bytes)
}

/// Writes a fresh random secret of `len` bytes as hex, mode 0600, unless the file exists.
/// Returns whether it wrote one.
pub fn create_secret_hex(path: &Path, len: usize) -> Result<bool, StoreError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if path.exists() {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
    }
    let mut secret = vec![0u8; len];
    rand::thread_rng().fill_bytes(&mut secret);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| StoreError::io(path, e))?;
    f.write_all(format!("{}\n", hex::encode(&secret)).as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| StoreError::io(path, e))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> BodyKey {
        BodyKey {
            cipher: Aes256Gcm::new_from_slice(&[7u8; 32]).unwrap(),
        }
    }

    #[test]
    fn sealed_bodies_open_only_under_their_own_id() {
        let k = key();
        let s = k.seal("ZVF1", b"197803122386");
        assert!(!s.windows(12).any(|w| w == b"197803122386"));
        assert_eq!(k.open("ZVF1", &s).unwrap(), b"197803122386");
        assert!(k.open("ZVF2", &s).is_none());
        let mut t = s.clone();
        t[20] ^= 1;
        assert!(k.open("ZVF1", &t).is_none());
        // A fresh nonce per body: the same plaintext never gives the same ciphertext.
        assert_ne!(k.seal("ZVF1", b"x"), k.seal("ZVF1", b"x"));
    }

    #[test]
    fn key_files_must_be_private_and_well_formed() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        assert!(create_secret_hex(&p, 32).unwrap());
        assert!(!create_secret_hex(&p, 32).unwrap());
        assert!(BodyKey::load(&p).is_ok());
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = BodyKey::load(&p).err().unwrap().to_string();
        assert!(e.contains("chmod 600") && e.contains("/k"), "{e}");
        std::fs::write(&p, "abcd").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = BodyKey::load(&p).err().unwrap().to_string();
        assert!(e.contains("64 hex digits") && !e.contains("abcd"), "{e}");
    }
}
