//! The log itself: sled trees for entries, Merkle nodes, signed heads, metadata and indexes,
//! written together in one multi-tree transaction and flushed before an append returns.
//!
//! Layout (all integer keys big-endian, so sled's order is sequence order):
//! - `entries`: seq → canonical entry bytes (the leaf hash input);
//! - `nodes`: level (1 byte) ‖ index → hash of each completed perfect subtree (level 0 = leaves);
//! - `heads`: tree size → signed tree head (JSON);
//! - `meta`: `log_id`, `public_key`, `size`;
//! - `ix_*`: one tree per index, key = value ‖ seq, empty value (see [`super::index`]).
//!
//! There is deliberately no method that updates or removes anything.

use chrono::Utc;
use sled::transaction::{ConflictableTransactionError, Transactional};
use sled::Tree;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::durable::DurableDb;
use super::head::SignedTreeHead;
use super::index::{self, IndexKind};
use super::keys::{LogPublicKey, LogSigningKey};
use super::merkle::{self, Frontier, Hash, NodeSource};
use super::proof::{ConsistencyBundle, InclusionBundle};
use super::record::{truncate_micros, Entry, Record};
use super::{AuditError, Result};

/// How a writer opens (or creates) a log.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// This log's instance id (the hub or store instance); fixed at creation.
    pub log_id: String,
    /// The key that signs tree heads; its public half is fixed at creation.
    pub signing_key: LogSigningKey,
    /// Sign a tree head whenever the size crosses a multiple of this (0 = only on demand/close).
    pub checkpoint_every: u64,
}

impl LogConfig {
    /// A config with the default checkpoint interval (every 1 024 entries).
    pub fn new(log_id: impl Into<String>, signing_key: LogSigningKey) -> Self {
        LogConfig {
            log_id: log_id.into(),
            signing_key,
            checkpoint_every: 1024,
        }
    }
}

/// What an append made durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    pub seq: u64,
    pub leaf_hash: Hash,
}

/// The sled trees of one log.
pub(crate) struct Trees {
    pub entries: Tree,
    pub nodes: Tree,
    pub heads: Tree,
    pub meta: Tree,
    /// In [`IndexKind::ALL`] order.
    pub ix: Vec<Tree>,
}

impl Trees {
    pub fn index(&self, kind: IndexKind) -> &Tree {
        &self.ix[kind as usize]
    }
}

/// Reads perfect subtree hashes from the `nodes` tree.
pub(crate) struct SledNodes<'a>(pub &'a Tree);

pub(crate) fn node_key(level: u32, index: u64) -> [u8; 9] {
    let mut k = [0u8; 9];
    k[0] = level as u8;
    k[1..].copy_from_slice(&index.to_be_bytes());
    k
}

impl NodeSource for SledNodes<'_> {
    fn perfect(&self, level: u32, index: u64) -> Result<Hash> {
        let v = self.0.get(node_key(level, index))?.ok_or_else(|| {
            AuditError::NotFound(format!(
                "Merkle node level {level} index {index} is missing from the log"
            ))
        })?;
        v.as_ref()
            .try_into()
            .map_err(|_| AuditError::decode("Merkle node", "not 32 bytes"))
    }
}

const META_LOG_ID: &[u8] = b"log_id";
const META_PUBLIC_KEY: &[u8] = b"public_key";
const META_SIZE: &[u8] = b"size";

/// The disclosure log (or a store's access log). `Send + Sync`: appends are serialised inside.
pub struct AuditLog {
    path: PathBuf,
    db: DurableDb,
    pub(crate) t: Trees,
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
        let db = open_db(dir)?;
        let t = open_trees(&db)?;
        let public = cfg.signing_key.public();
        match t.meta.get(META_LOG_ID)? {
            None => {
                if !t.entries.is_empty() {
                    return Err(AuditError::Mismatch {
                        path: dir.to_owned(),
                        why: "has entries but no log id".into(),
                    });
                }
                t.meta
                    .transaction(|m| {
                        m.insert(META_LOG_ID, cfg.log_id.as_bytes())?;
                        m.insert(META_PUBLIC_KEY, &public.to_bytes()[..])?;
                        m.insert(META_SIZE, &0u64.to_be_bytes()[..])?;
                        Ok::<_, ConflictableTransactionError<AuditError>>(())
                    })
                    .map_err(AuditError::from)?;
                db.flush()?;
            }
            Some(id) => {
                if id.as_ref() != cfg.log_id.as_bytes() {
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
        let log = Self::finish_open(dir, db, t, Some(cfg.signing_key), cfg.checkpoint_every)?;
        if log.public != public {
            return Err(AuditError::Mismatch {
                path: dir.to_owned(),
                why: "was created with another signing key".into(),
            });
        }
        Ok(log)
    }

    /// Open an existing log (for auditors and the CLI). With a signing key it can sign heads on
    /// demand; the key must be the log's. Fails if `dir` holds no log.
    pub fn open_existing(dir: &Path, signing_key: Option<LogSigningKey>) -> Result<Self> {
        if !dir.join("conf").exists() && !dir.join("db").exists() {
            return Err(AuditError::NotFound(format!(
                "{}: no disclosure log here",
                dir.display()
            )));
        }
        let db = open_db(dir)?;
        let t = open_trees(&db)?;
        if t.meta.get(META_LOG_ID)?.is_none() {
            return Err(AuditError::NotFound(format!(
                "{}: no disclosure log here (no log id)",
                dir.display()
            )));
        }
        let log = Self::finish_open(dir, db, t, signing_key, 0)?;
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

    fn finish_open(
        dir: &Path,
        db: DurableDb,
        t: Trees,
        signer: Option<LogSigningKey>,
        checkpoint_every: u64,
    ) -> Result<Self> {
        let log_id = String::from_utf8(
            t.meta
                .get(META_LOG_ID)?
                .map(|v| v.to_vec())
                .unwrap_or_default(),
        )
        .map_err(|e| AuditError::decode("log id", e))?;
        let pk = t
            .meta
            .get(META_PUBLIC_KEY)?
            .ok_or_else(|| AuditError::decode("log metadata", "no public key"))?;
        let public =
            LogPublicKey::from_bytes(&pk).map_err(|e| AuditError::decode("log public key", e))?;
        let size = read_size(&t.meta)?;
        // A damaged node store must not stop an auditor from opening the log to verify it.
        let frontier = Frontier::load(&SledNodes(&t.nodes), size).unwrap_or_default();
        Ok(AuditLog {
            path: dir.to_owned(),
            db,
            t,
            log_id,
            public,
            signer,
            checkpoint_every,
            state: Mutex::new(frontier),
        })
    }

    /// This log's instance id.
    pub fn log_id(&self) -> &str {
        &self.log_id
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
        let mut entries = sled::Batch::default();
        let mut nodes = sled::Batch::default();
        let mut heads = sled::Batch::default();
        let mut meta = sled::Batch::default();
        let mut ix: Vec<sled::Batch> = IndexKind::ALL.iter().map(|_| Default::default()).collect();
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
                ix[kind as usize].insert(key, &[][..]);
            }
            entries.insert(&entry.seq.to_be_bytes()[..], bytes);
            for n in f.push(leaf) {
                nodes.insert(&node_key(n.level, n.index)[..], &n.hash[..]);
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
            let h = SignedTreeHead::sign(signer, &self.log_id, new_size, &f.root(), Utc::now());
            heads.insert(&new_size.to_be_bytes()[..], h.to_bytes());
        }
        meta.insert(META_SIZE, &new_size.to_be_bytes()[..]);

        let mut trees: Vec<&Tree> =
            vec![&self.t.entries, &self.t.nodes, &self.t.heads, &self.t.meta];
        trees.extend(self.t.ix.iter());
        let mut batches = vec![entries, nodes, heads, meta];
        batches.extend(ix);
        trees[..]
            .transaction(|tx| {
                for (view, batch) in tx.iter().zip(&batches) {
                    view.apply_batch(batch)?;
                }
                Ok::<_, ConflictableTransactionError<AuditError>>(())
            })
            .map_err(AuditError::from)?;
        self.db.flush()?;
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
        let h = SignedTreeHead::sign(signer, &self.log_id, size, &state.root(), Utc::now());
        self.t.heads.insert(size.to_be_bytes(), h.to_bytes())?;
        self.db.flush()?;
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
        self.t
            .heads
            .get(size.to_be_bytes())?
            .map(|v| SignedTreeHead::from_bytes(&v))
            .transpose()
    }

    /// The most recent signed head.
    pub fn latest_head(&self) -> Result<Option<SignedTreeHead>> {
        self.t
            .heads
            .last()?
            .map(|(_, v)| SignedTreeHead::from_bytes(&v))
            .transpose()
    }

    /// Every signed head, oldest first.
    pub fn heads(&self) -> Result<Vec<SignedTreeHead>> {
        self.t
            .heads
            .iter()
            .map(|kv| SignedTreeHead::from_bytes(&kv?.1))
            .collect()
    }

    /// The entry at `seq`.
    pub fn get(&self, seq: u64) -> Result<Option<Entry>> {
        self.t
            .entries
            .get(seq.to_be_bytes())?
            .map(|v| Entry::decode(&v))
            .transpose()
    }

    /// MTH of the first `size` entries, from stored nodes.
    pub fn root_at(&self, size: u64) -> Result<Hash> {
        merkle::subtree_hash(&SledNodes(&self.t.nodes), 0, size)
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
        let path = merkle::inclusion_path(&SledNodes(&self.t.nodes), seq, head.tree_size)?;
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
        let path =
            merkle::consistency_path(&SledNodes(&self.t.nodes), old.tree_size, new.tree_size)?;
        Ok(ConsistencyBundle::new(old.clone(), new.clone(), path))
    }

    /// Make everything written so far durable (appends already do this).
    pub fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}

pub(crate) fn read_size(meta: &Tree) -> Result<u64> {
    match meta.get(META_SIZE)? {
        None => Ok(0),
        Some(v) => {
            let a: [u8; 8] = v
                .as_ref()
                .try_into()
                .map_err(|_| AuditError::decode("log metadata size", "not 8 bytes"))?;
            Ok(u64::from_be_bytes(a))
        }
    }
}

/// sled's page cache per database. sled's default (1 GiB) lets a process grow with everything it
/// ever wrote: `make bench` saw the hub's peak RSS go 118 → 230 → 336 MiB from 1 000 to 20 000
/// bases. Appends and the lookups the hub makes (recent entries, one basis id) need little cache.
pub const SLED_CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// Open the sled database (with a bounded cache, [`SLED_CACHE_BYTES`]), waiting a little if
/// another handle is still letting go of its file lock: sled releases it from a background
/// thread shortly after the last handle is dropped, so a restart (or an auditor's command right
/// after the hub stopped) can otherwise fail spuriously. A lock that is really held (a running
/// hub) still fails, after about five seconds. The store opens its database here too.
pub(crate) fn open_db(dir: &Path) -> std::result::Result<DurableDb, sled::Error> {
    let mut tries = 0;
    loop {
        match sled::Config::new()
            .path(dir)
            .cache_capacity(SLED_CACHE_BYTES)
            .open()
        {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock") && tries < 50 =>
            {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            Ok(db) => return Ok(DurableDb::new(db, dir)?),
            Err(e) => return Err(e),
        }
    }
}

fn open_trees(db: &sled::Db) -> Result<Trees> {
    Ok(Trees {
        entries: db.open_tree("entries")?,
        nodes: db.open_tree("nodes")?,
        heads: db.open_tree("heads")?,
        meta: db.open_tree("meta")?,
        ix: IndexKind::ALL
            .iter()
            .map(|k| db.open_tree(k.tree_name()))
            .collect::<std::result::Result<_, _>>()?,
    })
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
