//! Signed tree heads: the log's commitment, at a size, to every entry before it. An auditor who
//! saved a head can later prove that the log still extends it (consistency proof), and anyone
//! with the public key can check an entry against it (inclusion proof).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::keys::{LogPublicKey, LogSigningKey};
use super::merkle::Hash;
use super::record::{format_time, truncate_micros};
use super::{AuditError, Result};

/// Domain separation for the signed message, so the signature means nothing elsewhere.
const CONTEXT: &[u8] = b"invoice-hub/audit/tree-head/v1\0";

/// `{tree_size, root_hash, timestamp, log_id, signature}`, signed with Ed25519 over
/// context ‖ len(log_id) ‖ log_id ‖ tree_size ‖ timestamp (µs) ‖ root (integers big-endian).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedTreeHead {
    /// The log instance (hub or store instance id).
    pub log_id: String,
    pub tree_size: u64,
    /// MTH of the first `tree_size` entries, lowercase hex.
    pub root_hash: String,
    /// When it was signed (UTC, microseconds).
    pub timestamp: String,
    /// Ed25519 signature, lowercase hex.
    pub signature: String,
}

impl SignedTreeHead {
    /// Sign a head.
    pub fn sign(
        key: &LogSigningKey,
        log_id: &str,
        tree_size: u64,
        root: &Hash,
        at: DateTime<Utc>,
    ) -> Self {
        let at = truncate_micros(at);
        let msg = message(log_id, tree_size, root, &at);
        SignedTreeHead {
            log_id: log_id.to_owned(),
            tree_size,
            root_hash: hex::encode(root),
            timestamp: format_time(&at),
            signature: hex::encode(key.sign(&msg)),
        }
    }

    /// The root as bytes.
    pub fn root(&self) -> Result<Hash> {
        let v = hex::decode(&self.root_hash)
            .map_err(|e| AuditError::decode("tree head root_hash", e))?;
        v.try_into()
            .map_err(|_| AuditError::decode("tree head root_hash", "not 32 bytes"))
    }

    /// Check the signature with `key`; on success the head's fields can be trusted as the log's.
    pub fn verify(&self, key: &LogPublicKey) -> std::result::Result<(), String> {
        let root = self.root().map_err(|e| e.to_string())?;
        let at = super::record::parse_time(&self.timestamp)?;
        if format_time(&at) != self.timestamp {
            return Err("tree head timestamp is not in canonical form".into());
        }
        let sig = hex::decode(&self.signature).map_err(|_| "signature is not hex".to_string())?;
        key.verify(&message(&self.log_id, self.tree_size, &root, &at), &sig)
            .map_err(|e| format!("tree head of size {}: {e}", self.tree_size))
    }

    /// Read a head saved as JSON (e.g. by `invoice-hub audit head > saved.json`).
    pub fn load(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| AuditError::io(path, e))?;
        serde_json::from_str(&text)
            .map_err(|e| AuditError::decode(format!("{}: tree head", path.display()), e))
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("head serialises")
    }

    pub(crate) fn from_bytes(b: &[u8]) -> Result<Self> {
        serde_json::from_slice(b).map_err(|e| AuditError::decode("stored tree head", e))
    }
}

fn message(log_id: &str, tree_size: u64, root: &Hash, at: &DateTime<Utc>) -> Vec<u8> {
    let mut m = Vec::with_capacity(CONTEXT.len() + log_id.len() + 56);
    m.extend_from_slice(CONTEXT);
    m.extend_from_slice(&(log_id.len() as u64).to_be_bytes());
    m.extend_from_slice(log_id.as_bytes());
    m.extend_from_slice(&tree_size.to_be_bytes());
    m.extend_from_slice(&at.timestamp_micros().to_be_bytes());
    m.extend_from_slice(root);
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_head_verifies_and_any_change_breaks_it() {
        let k = LogSigningKey::from_seed([3; 32]);
        let h = SignedTreeHead::sign(&k, "hub-a", 10, &[5; 32], crate::clock::now());
        h.verify(&k.public()).unwrap();
        let mut bad = h.clone();
        bad.tree_size = 11;
        assert!(bad.verify(&k.public()).is_err());
        let mut bad = h.clone();
        bad.log_id = "hub-b".into();
        assert!(bad.verify(&k.public()).is_err());
        let other = LogSigningKey::from_seed([4; 32]);
        assert!(h.verify(&other.public()).is_err());
        let back = SignedTreeHead::from_bytes(&h.to_bytes()).unwrap();
        back.verify(&k.public()).unwrap();
    }
}
