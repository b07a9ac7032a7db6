//! The log itself: tables for entries, Merkle nodes, signed heads, metadata and indexes, written
//! together in one durable transaction ([`crate::db`]) before an append returns.
//!
//! Layout (all integer keys big-endian, so key order is sequence order):
//! - `entries`: seq → canonical entry bytes (the leaf hash input);
//! - `nodes`: level (1 byte) ‖ index → hash of each completed perfect subtree (level 0 = leaves);
//! - `heads`: tree size → signed tree head (JSON);
//! - `meta`: `log_id`, `public_key`, `size`, `seal` (a signed head at `size`, see
//!   [`super::seal`]);
//! - `ix_*`: one table per index, key = value ‖ seq, empty value (see [`super::index`]).
//!
//! There is deliberately no method that updates or removes anything.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::db::{self, Db, Durability, Snapshot, Table, View};

use super::head::SignedTreeHead;
use super::index::{self, IndexKind};
use super::keys::{LogPublicKey, LogSigningKey};
use super::merkle::{self, Frontier, Hash, NodeSource};
use super::proof::{ConsistencyBundle, InclusionBundle};
use super::record::{truncate_micros, Entry, Record};
use super::{seal, AuditError, Result};

/// How a writer opens (or creates) a log.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// This log's instance id (the hub or store instance); fixed at creation.
    pub log_id: String,
    /// The key that signs tree heads; its public half is fixed at creation.
    pub signing_key: LogSigningKey,
    /// Sign a tree head whenever the size crosses a multiple of this (0 = only on demand/close).
    pub checkpoint_every: u64,
    /// The id of the patient key its records' patient hashes are made with
    /// ([`super::PatientKey::id`]): recorded at first open, and a later writer with another key is
    /// refused (its hashes would not join the earlier ones). `None` leaves the log as it is.
    pub patient_key_id: Option<String>,
}

impl LogConfig {
    /// A config with the default checkpoint interval (every 1 024 entries).
    pub fn new(log_id: impl Into<String>, signing_key: LogSigningKey) -> Self {
        LogConfig {
            log_id: log_id.into(),
            signing_key,
            checkpoint_every: 1024,
            patient_key_id: None,
        }
    }

    /// The same config, recording that patients are hashed with `key`.
    pub fn with_patient_key(mut self, key: &super::PatientKey) -> Self {
        self.patient_key_id = Some(key.id());
        self
    }
}

/// What an append made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    pub leaf_hash: Hash,
}

pub(crate) const ENTRIES: Table = db::table("entries");
pub(crate) const NODES: Table = db::table("nodes");
pub(crate) const HEADS: Table = db::table("heads");
pub(crate) const META: Table = db::table("meta");

/// The table of one index.
pub(crate) fn index_table(kind: IndexKind) -> Table {
    db::table(kind.tree_name())
}

/// Every table of a log.
fn all_tables() -> Vec<Table> {
    let mut t = vec![ENTRIES, NODES, HEADS, META];
    t.extend(IndexKind::ALL.iter().map(|k| index_table(*k)));
    t
}

/// Every table of a log, from one snapshot.
pub(crate) struct Tables {
    pub entries: View,
    pub nodes: View,
    pub heads: View,
    pub meta: View,
    /// In [`IndexKind::ALL`] order.
    pub ix: Vec<View>,
}

impl Tables {
    pub(crate) fn index(&self, kind: IndexKind) -> &View {
        &self.ix[kind as usize]
    }
}

/// Reads perfect subtree hashes from the `nodes` table.
pub(crate) struct StoredNodes(pub View);

pub(crate) fn node_key(level: u32, index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = level as u8;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

impl NodeSource for StoredNodes {
    fn perfect(&self, level: u32, index: u64) -> Result<Hash> {
        self.0.perfect(level, index)
    }
}

impl NodeSource for View {
    fn perfect(&self, level: u32, index: u64) -> Result<Hash> {
        let v = self.get(&node_key(level, index))?.ok_or_else(|| {
            AuditError::NotFound(format!(
                "Merkle node level {level} index {index} is missing from the log"
            ))
        })?;
        v.as_slice()
            .try_into()
            .map_err(|_| AuditError::decode("Merkle node", "not 32 bytes"))
    }
}

const META_LOG_ID: &[u8] = b"log_id";
const META_PUBLIC_KEY: &[u8] = b"public_key";
const META_SIZE: &[u8] = b"size";
const META_PATIENT_KEY_ID: &[u8] = b"patient_key_id";

/// The disclosure log (or a store's access log). `Send + Sync`: appends are serialised inside.
pub struct AuditLog {
    path: PathBuf,
    db: Db,
    log_id: String,
    public: LogPublicKey,
    signer: Option<LogSigningKey>,
    checkpoint_every: u64,
    state: Mutex<Frontier>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("path", &self.path)
            .field("log_id", &self.log_id)
            .field("public_key", &self.public)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Open the log in `dir` for writing, creating it if it does not exist. An existing log must
    /// have the same log id and public key.
    pub fn open(dir: &Path, cfg: LogConfig) -> Result<Self> {
        let db = Db::open(dir, &all_tables())?;
        let public = cfg.signing_key.public();
        let snap = db.read()?;
        match snap.table(META)?.get(META_LOG_ID)? {
            None => {
                if !snap.table(ENTRIES)?.is_empty()? {
                    return Err(AuditError::Mismatch {
                        path: dir.to_owned(),
                        why: "has entries but no log id".into(),
                    });
                }
                db.write(Durability::Durable, |w| {
                    w.insert(META, META_LOG_ID, cfg.log_id.as_bytes())?;
                    w.insert(META, META_PUBLIC_KEY, &public.to_bytes())?;
                    w.insert(META, META_SIZE, &0u64.to_be_bytes())?;
                    Ok::<_, AuditError>(())
                })?;
            }
            Some(id) => {
                if id != cfg.log_id.as_bytes() {
                    return Err(AuditError::Mismatch {
                        path: dir.to_owned(),
                        why: format!(
                            "belongs to log id {:?}, not {:?}",
                            String::from_utf8_lossy(&id),
                            cfg.log_id
                        ),
                    });
                }
            }
        }
        let held_key = snap.table(META)?.get(META_PATIENT_KEY_ID)?;
        drop(snap);
        if let Some(id) = &cfg.patient_key_id {
            match held_key {
                None => db.write(Durability::Durable, |w| {
                    w.insert(META, META_PATIENT_KEY_ID, id.as_bytes())?;
                    Ok::<_, AuditError>(())
                })?,
                Some(held) if held != id.as_bytes() => {
                    return Err(AuditError::Mismatch {
                        path: dir.to_owned(),
                        why: format!(
                            "hashes its patients with the patient key of id {}, and the key given \
                             has id {id}: entries under two keys would not join (give the \
                             federation's patient key)",
                            String::from_utf8_lossy(&held)
                        ),
                    })
                }
                Some(_) => {}
            }
        }
        let log = Self::finish_open(dir, db, Some(cfg.signing_key), cfg.checkpoint_every)?;
        if log.public != public {
            return Err(AuditError::Mismatch {
                path: dir.to_owned(),
                why: "was created with another signing key".into(),
            });
        }
        // Before this writer signs anything: are the entries past the last head its own?
        log.check_tail()?;
        Ok(log)
    }

    /// Open an existing log (for auditors and the CLI). With a signing key it can sign heads on
    /// demand; the key must be the log's. Fails if `dir` holds no log.
    pub fn open_existing(dir: &Path, signing_key: Option<LogSigningKey>) -> Result<Self> {
        if !Db::exists(dir) {
            return Err(AuditError::NotFound(format!(
                "{}: no disclosure log here",
                dir.display()
            )));
        }
        let db = Db::open(dir, &all_tables())?;
        if db.read()?.table(META)?.get(META_LOG_ID)?.is_none() {
            return Err(AuditError::NotFound(format!(
                "{}: no disclosure log here (no log id)",
                dir.display()
            )));
        }
        let log = Self::finish_open(dir, db, signing_key, 0)?;
        if let Some(k) = &log.signer {
            if k.public() != log.public {
                return Err(AuditError::Mismatch {
                    path: dir.to_owned(),
                    why: "the given signing key is not this log's".into(),
                });
            }
        }
        Ok(log)
    }

    /// Open an existing log as evidence: a private copy of it ([`Db::open_copy`]), so that
    /// verifying or querying leaves the log's files exactly as they were, and works on a
    /// read-only copy of them. What the answer names is `dir`, never the copy.
    pub fn open_evidence(dir: &Path) -> Result<Self> {
        if !Db::exists(dir) {
            return Err(AuditError::NotFound(format!(
                "{}: no disclosure log here",
                dir.display()
            )));
        }
        let db = Db::open_copy(dir, &all_tables())?;
        if db.read()?.table(META)?.get(META_LOG_ID)?.is_none() {
            return Err(AuditError::NotFound(format!(
                "{}: no disclosure log here (no log id)",
                dir.display()
            )));
        }
        Self::finish_open(dir, db, None, 0)
    }

    fn finish_open(
        dir: &Path,
        db: Db,
        signer: Option<LogSigningKey>,
        checkpoint_every: u64,
    ) -> Result<Self> {
        let snap = db.read()?;
        let meta = snap.table(META)?;
        let log_id = String::from_utf8(meta.get(META_LOG_ID)?.unwrap_or_default())
            .map_err(|e| AuditError::decode("log id", e))?;
        let pk = meta
            .get(META_PUBLIC_KEY)?
            .ok_or_else(|| AuditError::decode("log metadata", "no public key"))?;
        let public =
            LogPublicKey::from_bytes(&pk).map_err(|e| AuditError::decode("log public key", e))?;
        let size = read_size(&meta)?;
        // A damaged node store must not stop an auditor from opening the log to verify it.
        let frontier = Frontier::load(&StoredNodes(snap.table(NODES)?), size).unwrap_or_default();
        drop((meta, snap));
        Ok(AuditLog {
            path: dir.to_owned(),
            db,
            log_id,
            public,
            signer,
            checkpoint_every,
            state: Mutex::new(frontier),
        })
    }

    /// Whether the entries past the last signed head are the ones the log's seal was signed
    /// over ([`super::seal`]); a writer opening the log checks this before it signs anything.
    pub fn check_tail(&self) -> Result<()> {
        let t = self.tables()?;
        seal::check(&self.path, &t, read_size(&t.meta)?, &self.public)
    }

    /// This log's instance id.
    pub fn log_id(&self) -> &str {
        &self.log_id
    }

    /// The id of the patient key this log's patient hashes are made with, when it records one
    /// (logs written before 2026-12-03 do not).
    pub fn patient_key_id(&self) -> Result<Option<String>> {
        let v = self.db.read()?.table(META)?.get(META_PATIENT_KEY_ID)?;
        Ok(v.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    /// The public key heads are signed with.
    pub fn public_key(&self) -> LogPublicKey {
        self.public
    }

    /// Where the log lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Number of entries.
    pub fn size(&self) -> u64 {
        self.lock().size()
    }

    /// The current root hash.
    pub fn root(&self) -> Hash {
        self.lock().root()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Frontier> {
        // A panic while holding the lock cannot leave a half-applied frontier (it is only replaced
        // after a successful commit), so a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Append one record; returns once it is durable.
    pub fn append(&self, record: &Record) -> Result<Appended> {
        Ok(self.append_batch(std::slice::from_ref(record))?[0])
    }

    /// Append many records with one transaction and one flush (group commit); returns once all
    /// are durable, in order.
    pub fn append_batch(&self, records: &[Record]) -> Result<Vec<Appended>> {
        let signer = self.signer.as_ref().ok_or(AuditError::ReadOnly)?;
        for r in records {
            if r.basis_id.is_empty() {
                return Err(AuditError::BadRecord("basis id is empty".into()));
            }
        }
        let mut state = self.lock();
        let mut f = state.clone();
        let old_size = f.size();
        // Every key and value of the transaction, as (table, key, value).
        let mut writes: Vec<(Table, Vec<u8>, Vec<u8>)> = Vec::new();
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            let mut record = r.clone();
            record.time = truncate_micros(record.time);
            let entry = Entry {
                seq: f.size(),
                record,
            };
            let bytes = entry.encode();
            let leaf = merkle::leaf_hash(&bytes);
            for (kind, key) in index::keys_for(&entry) {
                writes.push((index_table(kind), key, Vec::new()));
            }
            writes.push((ENTRIES, entry.seq.to_be_bytes().to_vec(), bytes));
            for n in f.push(leaf) {
                writes.push((NODES, node_key(n.level, n.index).to_vec(), n.hash.to_vec()));
            }
            out.push(Appended {
                seq: entry.seq,
                leaf_hash: leaf,
            });
        }
        let new_size = f.size();
        if self.checkpoint_every > 0
            && old_size / self.checkpoint_every != new_size / self.checkpoint_every
        {
            let h = SignedTreeHead::sign(
                signer,
                &self.log_id,
                new_size,
                &f.root(),
                crate::clock::now(),
            );
            writes.push((HEADS, new_size.to_be_bytes().to_vec(), h.to_bytes()));
        }
        writes.push((META, META_SIZE.to_vec(), new_size.to_be_bytes().to_vec()));
        // The seal: the writer's signature over exactly what this commit leaves in the log.
        let seal = SignedTreeHead::sign(
            signer,
            &self.log_id,
            new_size,
            &f.root(),
            crate::clock::now(),
        );
        writes.push((META, seal::META_SEAL.to_vec(), seal.to_bytes()));
        self.db.write(Durability::Durable, |w| {
            for (t, k, v) in &writes {
                w.insert(*t, k, v)?;
            }
            Ok::<_, AuditError>(())
        })?;
        *state = f;
        Ok(out)
    }

    /// Sign a head at the current size (or return the one already signed at this size) and make
    /// it durable. Called on demand and by [`AuditLog::close`].
    pub fn sign_head(&self) -> Result<SignedTreeHead> {
        let signer = self.signer.as_ref().ok_or(AuditError::ReadOnly)?;
        let state = self.lock();
        let size = state.size();
        if let Some(h) = self.head_at(size)? {
            return Ok(h);
        }
        let h = SignedTreeHead::sign(
            signer,
            &self.log_id,
            size,
            &state.root(),
            crate::clock::now(),
        );
        self.db.write(Durability::Durable, |w| {
            w.insert(HEADS, &size.to_be_bytes(), &h.to_bytes())
        })?;
        Ok(h)
    }

    /// Sign a final head if entries were added since the last one, and flush.
    pub fn close(self) -> Result<Option<SignedTreeHead>> {
        let head = if self.signer.is_some() {
            let latest = self.latest_head()?.map(|h| h.tree_size);
            if latest != Some(self.size()) {
                Some(self.sign_head()?)
            } else {
                None
            }
        } else {
            None
        };
        self.db.flush()?;
        Ok(head)
    }

    /// The signed head at exactly `size`, if one was signed.
    pub fn head_at(&self, size: u64) -> Result<Option<SignedTreeHead>> {
        self.view(HEADS)?
            .get(&size.to_be_bytes())?
            .map(|v| SignedTreeHead::from_bytes(&v))
            .transpose()
    }

    /// The most recent signed head.
    pub fn latest_head(&self) -> Result<Option<SignedTreeHead>> {
        self.view(HEADS)?
            .last()?
            .map(|(_, v)| SignedTreeHead::from_bytes(&v))
            .transpose()
    }

    /// Every signed head, oldest first.
    pub fn heads(&self) -> Result<Vec<SignedTreeHead>> {
        self.view(HEADS)?
            .iter()?
            .map(|kv| SignedTreeHead::from_bytes(&kv?.1))
            .collect()
    }

    /// The entry at `seq`.
    pub fn get(&self, seq: u64) -> Result<Option<Entry>> {
        self.view(ENTRIES)?
            .get(&seq.to_be_bytes())?
            .map(|v| Entry::decode(&v))
            .transpose()
    }

    /// MTH of the first `size` entries, from stored nodes.
    pub fn root_at(&self, size: u64) -> Result<Hash> {
        merkle::subtree_hash(&self.nodes()?, 0, size)
    }

    /// An inclusion proof of entry `seq` against the signed head `head` (which must cover it).
    pub fn inclusion_proof(&self, seq: u64, head: &SignedTreeHead) -> Result<InclusionBundle> {
        let entry = self
            .get(seq)?
            .ok_or_else(|| AuditError::NotFound(format!("no entry {seq}")))?;
        if seq >= head.tree_size {
            return Err(AuditError::NotFound(format!(
                "entry {seq} is newer than the signed head (size {}); sign a new head first",
                head.tree_size
            )));
        }
        let path = merkle::inclusion_path(&self.nodes()?, seq, head.tree_size)?;
        Ok(InclusionBundle::new(entry, path, head.clone()))
    }

    /// An inclusion proof of `seq` against the latest signed head that covers it; with a signing
    /// key, a fresh head is signed if none does yet.
    pub fn prove_entry(&self, seq: u64) -> Result<InclusionBundle> {
        let head = match self.latest_head()? {
            Some(h) if h.tree_size > seq => h,
            _ if self.signer.is_some() => self.sign_head()?,
            _ => {
                return Err(AuditError::NotFound(format!(
                    "no signed head covers entry {seq} yet (give the signing key to sign one)"
                )))
            }
        };
        self.inclusion_proof(seq, &head)
    }

    /// A consistency proof from an earlier head (e.g. one an auditor saved) to `new`.
    pub fn consistency_proof(
        &self,
        old: &SignedTreeHead,
        new: &SignedTreeHead,
    ) -> Result<ConsistencyBundle> {
        if old.tree_size > new.tree_size {
            return Err(AuditError::ProofFailed(format!(
                "the saved head covers {} entries but the log's head only {}: the log was \
                 truncated or replaced with an older copy",
                old.tree_size, new.tree_size
            )));
        }
        if new.tree_size > self.size() {
            return Err(AuditError::NotFound(format!(
                "the log has {} entries, fewer than the head's {}",
                self.size(),
                new.tree_size
            )));
        }
        let path = merkle::consistency_path(&self.nodes()?, old.tree_size, new.tree_size)?;
        Ok(ConsistencyBundle::new(old.clone(), new.clone(), path))
    }

    /// Make everything written so far durable (appends already do this).
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }

    /// One table as of now.
    pub(crate) fn view(&self, t: Table) -> Result<View> {
        Ok(self.db.read()?.table(t)?)
    }

    /// A consistent view of every table, for reads that span several.
    pub(crate) fn snapshot(&self) -> Result<Snapshot> {
        Ok(self.db.read()?)
    }

    /// Every table from one snapshot (verification reads them all).
    pub(crate) fn tables(&self) -> Result<Tables> {
        let snap = self.snapshot()?;
        Ok(Tables {
            entries: snap.table(ENTRIES)?,
            nodes: snap.table(NODES)?,
            heads: snap.table(HEADS)?,
            meta: snap.table(META)?,
            ix: IndexKind::ALL
                .iter()
                .map(|k| snap.table(index_table(*k)))
                .collect::<std::result::Result<_, _>>()?,
        })
    }

    fn nodes(&self) -> Result<StoredNodes> {
        Ok(StoredNodes(self.view(NODES)?))
    }
}

pub(crate) fn read_size(meta: &View) -> Result<u64> {
    match meta.get(META_SIZE)? {
        None => Ok(0),
        Some(v) => {
            let a: [u8; 8] = v
                .as_slice()
                .try_into()
                .map_err(|_| AuditError::decode("log metadata size", "not 8 bytes"))?;
            Ok(u64::from_be_bytes(a))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<AuditLog>();
    }
}
