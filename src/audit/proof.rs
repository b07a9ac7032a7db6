//! Proofs as self-contained JSON documents an auditor can keep and check offline with only the
//! log's public key: an inclusion proof says "this entry is entry N of the log whose signed head
//! is H"; a consistency proof says "the log at head H2 still contains, unchanged, everything it
//! held at the earlier head H1" (so nothing was edited, removed or replaced in between).

use serde::{Deserialize, Serialize};

use super::head::SignedTreeHead;
use super::keys::LogPublicKey;
use super::merkle::{self, Hash};
use super::record::Entry;

/// Inclusion proof of one entry against a signed head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionBundle {
    /// Always "inclusion".
    pub kind: String,
    /// The entry itself; its leaf hash is recomputed from its canonical encoding.
    pub entry: Entry,
    pub leaf_index: u64,
    pub tree_size: u64,
    /// RFC 9162 audit path, lowercase hex, leaf to root.
    pub audit_path: Vec<String>,
    pub head: SignedTreeHead,
}

impl InclusionBundle {
    pub(crate) fn new(entry: Entry, path: Vec<Hash>, head: SignedTreeHead) -> Self {
        InclusionBundle {
            kind: "inclusion".into(),
            leaf_index: entry.seq,
            tree_size: head.tree_size,
            entry,
            audit_path: path.iter().map(hex::encode).collect(),
            head,
        }
    }

    /// Check offline: the head's signature, then the entry's path to the head's root.
    pub fn check(&self, key: &LogPublicKey) -> Result<(), String> {
        if self.kind != "inclusion" {
            return Err(format!("not an inclusion proof (kind {:?})", self.kind));
        }
        self.head.verify(key)?;
        if self.head.tree_size != self.tree_size {
            return Err(format!(
                "proof is for size {} but the head is for size {}",
                self.tree_size, self.head.tree_size
            ));
        }
        if self.entry.seq != self.leaf_index {
            return Err(format!(
                "entry says seq {} but the proof is for leaf {}",
                self.entry.seq, self.leaf_index
            ));
        }
        let path = decode_path(&self.audit_path)?;
        let root = self.head.root().map_err(|e| e.to_string())?;
        merkle::verify_inclusion(
            self.leaf_index,
            self.tree_size,
            &self.entry.leaf_hash(),
            &path,
            &root,
        )
    }
}

/// Consistency proof between two signed heads of the same log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyBundle {
    /// Always "consistency".
    pub kind: String,
    pub old: SignedTreeHead,
    pub new: SignedTreeHead,
    /// RFC 9162 consistency path, lowercase hex.
    pub path: Vec<String>,
}

impl ConsistencyBundle {
    pub(crate) fn new(old: SignedTreeHead, new: SignedTreeHead, path: Vec<Hash>) -> Self {
        ConsistencyBundle {
            kind: "consistency".into(),
            old,
            new,
            path: path.iter().map(hex::encode).collect(),
        }
    }

    /// Check offline: both signatures, the same log id, then the path between the two roots.
    pub fn check(&self, key: &LogPublicKey) -> Result<(), String> {
        if self.kind != "consistency" {
            return Err(format!("not a consistency proof (kind {:?})", self.kind));
        }
        self.old.verify(key)?;
        self.new.verify(key)?;
        if self.old.log_id != self.new.log_id {
            return Err(format!(
                "heads of different logs ({:?}, {:?})",
                self.old.log_id, self.new.log_id
            ));
        }
        let path = decode_path(&self.path)?;
        merkle::verify_consistency(
            self.old.tree_size,
            self.new.tree_size,
            &self.old.root().map_err(|e| e.to_string())?,
            &self.new.root().map_err(|e| e.to_string())?,
            &path,
        )
    }
}

pub(crate) fn decode_path(p: &[String]) -> Result<Vec<Hash>, String> {
    p.iter()
        .enumerate()
        .map(|(i, h)| {
            hex::decode(h)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| format!("proof element {i} is not 32 bytes of hex"))
        })
        .collect()
}
