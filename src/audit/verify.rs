//! Full verification: recompute every leaf hash and the tree from the entries alone, check every
//! signed head (signature and root at its size), check that every entry sits at its own seq and
//! that the indexes say exactly what the entries say — and name the first bad entry.
//!
//! Why recompute rather than trust stored nodes: the stored nodes are a cache for proofs; an
//! attacker with write access to the database file could change them along with an entry. Only the
//! signed heads (and heads an auditor saved outside the log) are trusted, and they are checked
//! against what the entries themselves hash to.

use serde::Serialize;
use std::collections::BTreeMap;

use super::head::SignedTreeHead;
use super::index::{self, IndexKind};
use super::keys::LogPublicKey;
use super::log::{node_key, read_size, AuditLog, Tables};
use super::merkle::{self, Frontier, Hash};
use super::record::Entry;
use super::Result;

/// Stop collecting after this many problems: the first one is what matters.
const MAX_PROBLEMS: usize = 50;

/// What to check besides the log itself.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The key the auditor trusts; without it, the key stored in the log is used (which only
    /// proves internal consistency).
    pub public_key: Option<LogPublicKey>,
    /// Heads saved earlier outside the log: the log must still extend each of them.
    pub saved_heads: Vec<SignedTreeHead>,
}

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The entry concerned, when there is one.
    pub seq: Option<u64>,
    pub what: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.seq {
            Some(s) => write!(f, "entry {s}: {}", self.what),
            None => f.write_str(&self.what),
        }
    }
}

/// The outcome of [`AuditLog::verify`].
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub log_id: String,
    pub entries: u64,
    pub heads_checked: usize,
    pub saved_heads_checked: usize,
    pub index_keys: u64,
    /// Root recomputed from the entries (hex).
    pub root_hash: String,
    /// In the order found; empty when the log verifies. The first names the first bad entry.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// True when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }

    /// The first problem, if any.
    pub fn first(&self) -> Option<&Problem> {
        self.problems.first()
    }
}

struct Found(Vec<Problem>);

impl Found {
    fn add(&mut self, seq: Option<u64>, what: impl Into<String>) {
        if self.0.len() < MAX_PROBLEMS {
            self.0.push(Problem {
                seq,
                what: what.into(),
            });
        }
    }
}

impl AuditLog {
    /// Recompute and check everything; see the module docs. Storage errors are errors;
    /// everything wrong with the content is a [`Problem`] in the report. The passes share one
    /// read transaction; the entries are read once.
    pub fn verify(&self, opts: &VerifyOptions) -> Result<VerifyReport> {
        let mut found = Found(Vec::new());
        let key = opts.public_key.unwrap_or(self.public_key());
        if key != self.public_key() {
            found.add(
                None,
                "the public key stored in the log is not the key given to verify with",
            );
        }
        let t = self.tables()?;
        let (claims, heads_checked) = self.stored_heads(&t, &key, &mut found)?;
        let (claims, saved_checked) = saved_heads(claims, opts, &key, &mut found);
        let mut walk = Walk::default();
        for kv in t.entries.iter()? {
            let (k, v) = kv?;
            walk.entry(&t, k.as_slice(), &v, &claims, &mut found)?;
        }
        walk.against_size(read_size(&t.meta)?, &claims, &mut found);
        self.saved_heads_by_consistency(opts, &key, &mut found)?;

        // Every index key must point at an entry that has that value.
        let mut total = 0u64;
        for ix in &t.ix {
            total += ix.len()?;
        }
        if walk.index_missing || total != walk.index_keys {
            find_stray_index_keys(&t, &mut found)?;
        }
        Ok(VerifyReport {
            log_id: self.log_id().to_owned(),
            entries: walk.count,
            heads_checked,
            saved_heads_checked: saved_checked,
            index_keys: total,
            root_hash: hex::encode(walk.frontier.root()),
            problems: found.0,
        })
    }

    /// The log's own signed heads: each must be signed with `key`, stored under its size and name
    /// this log; their roots become claims the entries must meet.
    fn stored_heads(
        &self,
        t: &Tables,
        key: &LogPublicKey,
        found: &mut Found,
    ) -> Result<(Claims, usize)> {
        let mut claims = Claims::new();
        let mut checked = 0;
        for kv in t.heads.iter()? {
            let (k, v) = kv?;
            let size = k
                .as_slice()
                .try_into()
                .map(u64::from_be_bytes)
                .unwrap_or(u64::MAX);
            let h = match SignedTreeHead::from_bytes(&v) {
                Err(e) => {
                    found.add(None, format!("stored tree head at size {size}: {e}"));
                    continue;
                }
                Ok(h) => h,
            };
            checked += 1;
            if h.tree_size != size {
                found.add(
                    None,
                    format!(
                        "tree head stored under size {size} says size {}",
                        h.tree_size
                    ),
                );
            }
            if h.log_id != self.log_id() {
                found.add(
                    None,
                    format!("tree head of size {} names log {:?}", h.tree_size, h.log_id),
                );
            }
            match (h.verify(key), h.root()) {
                (Err(e), _) => found.add(None, e),
                (Ok(()), Err(e)) => found.add(None, e.to_string()),
                (Ok(()), Ok(root)) => claims
                    .entry(h.tree_size)
                    .or_default()
                    .push((root, format!("the signed head of size {}", h.tree_size))),
            }
        }
        Ok((claims, checked))
    }

    /// Saved heads also by consistency proof from the log's own latest head, as an auditor would
    /// do offline.
    fn saved_heads_by_consistency(
        &self,
        opts: &VerifyOptions,
        key: &LogPublicKey,
        found: &mut Found,
    ) -> Result<()> {
        let Some(latest) = self.latest_head()? else {
            return Ok(());
        };
        for h in &opts.saved_heads {
            if h.verify(key).is_err() {
                continue;
            }
            let check = self
                .consistency_proof(h, &latest)
                .map_err(|e| e.to_string())
                .and_then(|b| b.check(key));
            if let Err(e) = check {
                found.add(
                    None,
                    format!(
                        "consistency proof from the saved head of size {} to the log's head of \
                         size {} fails: {e}",
                        h.tree_size, latest.tree_size
                    ),
                );
            }
        }
        Ok(())
    }
}

/// Roots that must hold at given sizes, each with where the claim came from.
type Claims = BTreeMap<u64, Vec<(Hash, String)>>;

/// Heads saved by an auditor: each must verify with `key`; their roots join the claims. The
/// empty log's claims are checked here (no entry will reach size 0).
fn saved_heads(
    mut claims: Claims,
    opts: &VerifyOptions,
    key: &LogPublicKey,
    found: &mut Found,
) -> (Claims, usize) {
    let mut checked = 0;
    for h in &opts.saved_heads {
        match (h.verify(key), h.root()) {
            (Err(e), _) => found.add(None, format!("saved head: {e}")),
            (Ok(()), Err(e)) => found.add(None, format!("saved head: {e}")),
            (Ok(()), Ok(root)) => {
                checked += 1;
                claims.entry(h.tree_size).or_default().push((
                    root,
                    format!(
                        "the saved head of size {} (signed {})",
                        h.tree_size, h.timestamp
                    ),
                ));
            }
        }
    }
    let empty = merkle::empty_root();
    for (root, what) in claims.get(&0).into_iter().flatten() {
        if *root != empty {
            found.add(None, format!("{what} does not match the empty log"));
        }
    }
    (claims, checked)
}

/// The walk over the entries in key order: the tree rebuilt as it goes, and what it counted.
#[derive(Default)]
struct Walk {
    frontier: Frontier,
    /// Cleared at the first gap: nodes and roots past it cannot be recomputed.
    broken: bool,
    count: u64,
    index_keys: u64,
    index_missing: bool,
}

impl Walk {
    /// One stored entry: its key and place, its content, its leaf, the nodes it completes, the
    /// claims met at its size, and its index keys.
    fn entry(
        &mut self,
        t: &Tables,
        key: &[u8],
        v: &[u8],
        claims: &Claims,
        found: &mut Found,
    ) -> Result<()> {
        let Some(kseq) = key.try_into().ok().map(u64::from_be_bytes) else {
            found.add(
                None,
                format!("an entry key is not 8 bytes: {}", hex::encode(key)),
            );
            self.broken = true;
            return Ok(());
        };
        self.count += 1;
        if !self.broken && kseq != self.frontier.size() {
            found.add(
                Some(self.frontier.size()),
                format!("is missing (the next stored entry is {kseq}): entries were deleted"),
            );
            self.broken = true;
        }
        let entry = decoded(kseq, v, found);
        let leaf = merkle::leaf_hash(v);
        match t.nodes.get(&node_key(0, kseq))? {
            Some(stored) if stored == leaf => {}
            Some(_) => found.add(
                Some(kseq),
                "its hash differs from the leaf hash the tree stored when it was appended: \
                 the entry was changed (or the stored tree was, if the signed heads still match)",
            ),
            None => found.add(Some(kseq), "the tree has no leaf for it"),
        }
        if !self.broken {
            self.grow(t, leaf, claims, found)?;
        }
        if let Some(e) = &entry {
            for (kind, key) in index::keys_for(e) {
                self.index_keys += 1;
                if !t.index(kind).contains(&key)? {
                    self.index_missing = true;
                    found.add(
                        Some(kseq),
                        format!("is missing from the {} index", kind.name()),
                    );
                }
            }
        }
        Ok(())
    }

    /// Adds `leaf` to the tree: every node it completes must be the stored one, and every claim
    /// at the new size must be its root.
    fn grow(&mut self, t: &Tables, leaf: Hash, claims: &Claims, found: &mut Found) -> Result<()> {
        for n in self.frontier.push(leaf).into_iter().skip(1) {
            match t.nodes.get(&node_key(n.level, n.index))? {
                Some(stored) if stored == n.hash => {}
                _ => found.add(
                    Some(n.index << n.level),
                    format!(
                        "the stored Merkle node level {} index {} (entries {}..{}) differs from \
                         the entries' hashes",
                        n.level,
                        n.index,
                        n.index << n.level,
                        ((n.index + 1) << n.level) - 1
                    ),
                ),
            }
        }
        let size = self.frontier.size();
        let root = self.frontier.root();
        for (r, what) in claims.get(&size).into_iter().flatten() {
            if *r != root {
                found.add(
                    None,
                    format!(
                        "{what} does not match the entries 0..{}: the log was rewritten after it \
                         was signed",
                        size - 1
                    ),
                );
            }
        }
        Ok(())
    }

    /// After the walk: the count against the size the log recorded, and the claims the entries
    /// never reached (a truncation, an older copy) or could not be checked past a gap.
    fn against_size(&self, size: u64, claims: &Claims, found: &mut Found) {
        let count = self.count;
        if count < size {
            found.add(
                Some(count),
                format!(
                    "the log recorded {size} entries but only {count} are stored: entries from \
                     the tail were removed"
                ),
            );
        } else if count > size {
            found.add(
                None,
                format!("the log recorded {size} entries but {count} are stored"),
            );
        }
        for (s, claimed) in claims.range(count.saturating_add(1)..) {
            for (_, what) in claimed {
                found.add(
                    Some(count),
                    format!(
                        "{what} covers {s} entries but the log holds only {count}: the log was \
                         truncated or replaced with an older copy"
                    ),
                );
            }
        }
        if self.broken {
            for (s, claimed) in claims.range(..=count) {
                if *s > self.frontier.size() {
                    for (_, what) in claimed {
                        found.add(
                            None,
                            format!("{what} could not be checked: entries are missing"),
                        );
                    }
                }
            }
        }
    }
}

/// The entry stored under `kseq`, if it reads and says it is that entry.
fn decoded(kseq: u64, v: &[u8], found: &mut Found) -> Option<Entry> {
    let e = match Entry::decode(v) {
        Ok(e) => e,
        Err(e) => {
            found.add(
                Some(kseq),
                format!("cannot be read: {e}: the entry was changed"),
            );
            return None;
        }
    };
    if e.seq != kseq {
        found.add(
            Some(kseq),
            format!(
                "the entry stored here says it is entry {}: entries were moved or reordered",
                e.seq
            ),
        );
    }
    Some(e)
}

fn find_stray_index_keys(t: &Tables, found: &mut Found) -> Result<()> {
    for kind in IndexKind::ALL {
        for kv in t.index(kind).iter()? {
            let (k, _) = kv?;
            let Some(seq) = index::seq_of(&k) else {
                found.add(
                    None,
                    format!("a key in the {} index is too short", kind.name()),
                );
                continue;
            };
            let ok = match t.entries.get(&seq.to_be_bytes())? {
                None => {
                    found.add(
                        Some(seq),
                        format!(
                            "the {} index points at this entry, which does not exist",
                            kind.name()
                        ),
                    );
                    continue;
                }
                Some(v) => match Entry::decode(&v) {
                    Ok(e) => index::keys_for(&e)
                        .iter()
                        .any(|(kk, key)| *kk == kind && key.as_slice() == k.as_slice()),
                    Err(_) => true, // already reported as an unreadable entry
                },
            };
            if !ok {
                found.add(
                    Some(seq),
                    format!(
                        "the {} index points at this entry, which does not have that {} \
                             (index entry pointing at the wrong record)",
                        kind.name(),
                        kind.name()
                    ),
                );
            }
        }
    }
    Ok(())
}
