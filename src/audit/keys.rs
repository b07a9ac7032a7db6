//! The log's keys: the Ed25519 key that signs tree heads (private, 0600), its public half (what an
//! auditor needs to check anything offline), and the deployment secret that turns a patient id
//! into a [`PatientHash`]. Secrets live in files outside the log directory, are never printed
//! (their `Debug` says `[redacted]`), and a key file readable by group or others is refused.

use crate::claim::normalise_patient_id;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signer as _, Verifier as _};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{AuditError, PatientHash, Result};

/// File names written by [`keygen`].
pub const SIGNING_KEY_FILE: &str = "log-signing.key";
/// Public key file written by [`keygen`].
pub const PUBLIC_KEY_FILE: &str = "log-signing.pub";
/// Patient HMAC key file written by [`keygen`].
pub const PATIENT_KEY_FILE: &str = "patient-hmac.key";

/// The private key that signs tree heads.
#[derive(Clone)]
pub struct LogSigningKey(ed25519_dalek::SigningKey);

impl fmt::Debug for LogSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "LogSigningKey([redacted], public {})",
            self.public().key_id()
        )
    }
}

impl LogSigningKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        LogSigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// A key from 32 seed bytes (tests, benches).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        LogSigningKey(ed25519_dalek::SigningKey::from_bytes(&seed))
    }

    /// Load a PKCS#8 PEM (`BEGIN PRIVATE KEY`) or raw 32-byte key file, mode 0600.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = read_secret(path)?;
        let bad = |why: String| AuditError::BadKey {
            path: path.to_owned(),
            what: "Ed25519 signing key",
            why,
        };
        if bytes.len() == 32 {
            let seed: [u8; 32] = bytes.try_into().expect("32 bytes");
            return Ok(Self::from_seed(seed));
        }
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| bad("neither 32 raw bytes nor PEM text".into()))?;
        ed25519_dalek::SigningKey::from_pkcs8_pem(text)
            .map(LogSigningKey)
            .map_err(|e| bad(format!("PKCS#8 PEM expected: {e}")))
    }

    /// The public half.
    pub fn public(&self) -> LogPublicKey {
        LogPublicKey(self.0.verifying_key())
    }

    pub(crate) fn sign(&self, msg: &[u8]) -> [u8; 64] {
        self.0.sign(msg).to_bytes()
    }

    fn to_pem(&self) -> Result<String> {
        self.0
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .map(|z| z.to_string())
            .map_err(|e| AuditError::BadRecord(format!("cannot encode signing key: {e}")))
    }
}

/// The public key that checks tree-head signatures: all an auditor needs besides the proofs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct LogPublicKey(ed25519_dalek::VerifyingKey);

impl fmt::Debug for LogPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LogPublicKey({})", self.key_id())
    }
}

impl LogPublicKey {
    /// Load a SPKI PEM (`BEGIN PUBLIC KEY`) or raw 32-byte public key file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| AuditError::io(path, e))?;
        let bad = |why: String| AuditError::BadKey {
            path: path.to_owned(),
            what: "Ed25519 public key",
            why,
        };
        if bytes.len() == 32 {
            return Self::from_bytes(&bytes).map_err(bad);
        }
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| bad("neither 32 raw bytes nor PEM text".into()))?;
        ed25519_dalek::VerifyingKey::from_public_key_pem(text)
            .map(LogPublicKey)
            .map_err(|e| bad(format!("SPKI PEM expected: {e}")))
    }

    /// From the 32 raw bytes.
    pub fn from_bytes(b: &[u8]) -> std::result::Result<Self, String> {
        let a: [u8; 32] = b.try_into().map_err(|_| "expected 32 bytes".to_string())?;
        ed25519_dalek::VerifyingKey::from_bytes(&a)
            .map(LogPublicKey)
            .map_err(|e| format!("not an Ed25519 point: {e}"))
    }

    /// The 32 raw bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// SPKI PEM text.
    pub fn to_pem(&self) -> String {
        self.0
            .to_public_key_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .expect("an Ed25519 public key encodes")
    }

    /// A short, printable fingerprint: hex SHA-256 of the raw key, first 16 bytes.
    pub fn key_id(&self) -> String {
        hex::encode(&Sha256::digest(self.0.as_bytes())[..16])
    }

    pub(crate) fn verify(&self, msg: &[u8], sig: &[u8]) -> std::result::Result<(), String> {
        let sig = ed25519_dalek::Signature::from_slice(sig)
            .map_err(|_| "signature is not 64 bytes".to_string())?;
        self.0
            .verify(msg, &sig)
            .map_err(|_| "signature does not verify with this public key".to_string())
    }
}

/// The deployment secret for patient hashes. Held outside the log, so a copy of the log alone
/// cannot be searched for a guessed personal number.
#[derive(Clone)]
pub struct PatientKey(Vec<u8>);

impl fmt::Debug for PatientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PatientKey([redacted])")
    }
}

impl PatientKey {
    /// From secret bytes (at least 32).
    pub fn from_bytes(b: &[u8]) -> std::result::Result<Self, String> {
        if b.len() < 32 {
            return Err("a patient key needs at least 32 bytes".into());
        }
        Ok(PatientKey(b.to_vec()))
    }

    /// Load a key file (hex text of at least 32 bytes, or at least 32 raw bytes), mode 0600.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = read_secret(path)?;
        let bad = |why: String| AuditError::BadKey {
            path: path.to_owned(),
            what: "patient HMAC key",
            why,
        };
        let from_hex = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| hex::decode(t.trim()).ok());
        match from_hex {
            Some(k) => Self::from_bytes(&k).map_err(bad),
            None => Self::from_bytes(&bytes).map_err(bad),
        }
    }

    /// The key's id: the first 8 bytes (hex) of the HMAC of a fixed label, so that a log can
    /// record which key its patient hashes were made with and a query with another key is
    /// refused instead of answering "nothing about this patient". It says nothing about the key
    /// and nothing about any patient.
    pub fn id(&self) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(b"invoice-hub patient key id v1");
        hex::encode(&mac.finalize().into_bytes()[..8])
    }

    /// HMAC-SHA-256 of the normalised id (see [`crate::claim::normalise_patient_id`]).
    pub fn hash(&self, patient_id: &str) -> PatientHash {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(normalise_patient_id(patient_id).as_bytes());
        PatientHash(mac.finalize().into_bytes().into())
    }
}

/// Read a secret file, refusing one that group or others can read.
fn read_secret(path: &Path) -> Result<Vec<u8>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| AuditError::io(path, e))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(AuditError::BadKey {
                path: path.to_owned(),
                what: "secret key file",
                why: format!("mode {mode:o} lets others read it; chmod 600 it"),
            });
        }
    }
    std::fs::read(path).map_err(|e| AuditError::io(path, e))
}

/// Write a new file that must not exist yet, with `mode`.
fn write_new(path: &Path, contents: &[u8], mode: u32) -> Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut f = opts.open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            AuditError::WouldOverwrite(path.to_owned())
        } else {
            AuditError::io(path, e)
        }
    })?;
    f.write_all(contents)
        .and_then(|_| f.sync_all())
        .map_err(|e| AuditError::io(path, e))
}

/// The files [`keygen`] wrote.
#[derive(Debug, Clone)]
pub struct KeygenOutput {
    pub signing_key: PathBuf,
    pub public_key: PathBuf,
    pub patient_key: PathBuf,
    pub key_id: String,
}

/// Make a signing key (0600), its public key and a patient HMAC key (0600) in `dir`, refusing to
/// overwrite any of them (checked before anything is written).
pub fn keygen(dir: &Path) -> Result<KeygenOutput> {
    std::fs::create_dir_all(dir).map_err(|e| AuditError::io(dir, e))?;
    let out = KeygenOutput {
        signing_key: dir.join(SIGNING_KEY_FILE),
        public_key: dir.join(PUBLIC_KEY_FILE),
        patient_key: dir.join(PATIENT_KEY_FILE),
        key_id: String::new(),
    };
    for p in [&out.signing_key, &out.public_key, &out.patient_key] {
        if p.exists() {
            return Err(AuditError::WouldOverwrite(p.clone()));
        }
    }
    let sk = LogSigningKey::generate();
    let mut pk = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut pk);
    write_new(&out.signing_key, sk.to_pem()?.as_bytes(), 0o600)?;
    write_new(&out.public_key, sk.public().to_pem().as_bytes(), 0o644)?;
    write_new(
        &out.patient_key,
        format!("{}\n", hex::encode(pk)).as_bytes(),
        0o600,
    )?;
    Ok(KeygenOutput {
        key_id: sk.public().key_id(),
        ..out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_writes_loadable_keys_and_refuses_to_overwrite() {
        let d = tempfile::tempdir().unwrap();
        let out = keygen(d.path()).unwrap();
        let sk = LogSigningKey::load(&out.signing_key).unwrap();
        let pk = LogPublicKey::load(&out.public_key).unwrap();
        assert_eq!(sk.public(), pk);
        let sig = sk.sign(b"m");
        pk.verify(b"m", &sig).unwrap();
        assert!(pk.verify(b"n", &sig).is_err());
        PatientKey::load(&out.patient_key).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let m = std::fs::metadata(&out.signing_key)
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(m & 0o777, 0o600);
        }
        assert!(matches!(
            keygen(d.path()),
            Err(AuditError::WouldOverwrite(_))
        ));
        assert!(!format!("{sk:?}").contains(&hex::encode(sk.0.to_bytes())));
    }

    #[test]
    fn a_world_readable_secret_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("k");
        std::fs::write(&p, hex::encode([9u8; 32])).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
            let e = PatientKey::load(&p).unwrap_err().to_string();
            assert!(e.contains("chmod 600"), "{e}");
        }
    }

    #[test]
    fn patient_hash_normalises_and_depends_on_the_key() {
        let a = PatientKey::from_bytes(&[1; 32]).unwrap();
        let b = PatientKey::from_bytes(&[2; 32]).unwrap();
        assert_eq!(a.hash("19121212-1212"), a.hash(" 191212121212 "));
        assert_ne!(a.hash("191212121212"), b.hash("191212121212"));
        assert_ne!(a.hash("191212121212"), a.hash("191212121213"));
        assert_eq!(format!("{a:?}"), "PatientKey([redacted])");
    }
}
