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
    /// everything wrong with the content is a [`Problem`] in the report.
    #[expect(
        clippy::too_many_lines,
        reason = "one pass over the log checks entries, nodes, heads and indexes together, so a large log is read once; to be split into its passes (issue 22, item 3)"
    )]
    pub fn verify(&self, opts: &VerifyOptions) -> Result<VerifyReport> {
        let mut found = Found(Vec::new());
        let key = opts.public_key.unwrap_or(self.public_key());
        if key != self.public_key() {
            found.add(
                None,
                "the public key stored in the log is not the key given to verify with",
            );
        }

        // Roots that must hold at given sizes, with where the claim came from.
        let mut expect: BTreeMap<u64, Vec<(Hash, String)>> = BTreeMap::new();
        let mut heads_checked = 0;
        let t = self.tables()?;
        for kv in t.heads.iter()? {
            let (k, v) = kv?;
            let size = k
                .as_slice()
                .try_into()
                .map(u64::from_be_bytes)
                .unwrap_or(u64::MAX);
            match SignedTreeHead::from_bytes(&v) {
                Err(e) => found.add(None, format!("stored tree head at size {size}: {e}")),
                Ok(h) => {
                    heads_checked += 1;
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
                    match (h.verify(&key), h.root()) {
                        (Err(e), _) => found.add(None, e),
                        (Ok(()), Err(e)) => found.add(None, e.to_string()),
                        (Ok(()), Ok(root)) => expect
                            .entry(h.tree_size)
                            .or_default()
                            .push((root, format!("the signed head of size {}", h.tree_size))),
                    }
                }
            }
        }
        let mut saved_checked = 0;
        for h in &opts.saved_heads {
            match (h.verify(&key), h.root()) {
                (Err(e), _) => found.add(None, format!("saved head: {e}")),
                (Ok(()), Err(e)) => found.add(None, format!("saved head: {e}")),
                (Ok(()), Ok(root)) => {
                    saved_checked += 1;
                    expect.entry(h.tree_size).or_default().push((
                        root,
                        format!(
                            "the saved head of size {} (signed {})",
                            h.tree_size, h.timestamp
                        ),
                    ));
                }
            }
        }
        if expect.contains_key(&0) {
            let empty = merkle::empty_root();
            for (root, what) in &expect[&0] {
                if *root != empty {
                    found.add(None, format!("{what} does not match the empty log"));
                }
            }
        }

        // Walk the entries in key order.
        let mut f = Frontier::new();
        let mut tree_ok = true;
        let mut count = 0u64;
        let mut index_keys = 0u64;
        let mut index_missing = false;
        for kv in t.entries.iter()? {
            let (k, v) = kv?;
            let Some(kseq) = k.as_slice().try_into().ok().map(u64::from_be_bytes) else {
                found.add(
                    None,
                    format!("an entry key is not 8 bytes: {}", hex::encode(&k)),
                );
                tree_ok = false;
                continue;
            };
            count += 1;
            if tree_ok && kseq != f.size() {
                found.add(
                    Some(f.size()),
                    format!("is missing (the next stored entry is {kseq}): entries were deleted"),
                );
                tree_ok = false;
            }
            let entry = match Entry::decode(&v) {
                Ok(e) => Some(e),
                Err(e) => {
                    found.add(
                        Some(kseq),
                        format!("cannot be read: {e}: the entry was changed"),
                    );
                    None
                }
            };
            if let Some(e) = &entry {
                if e.seq != kseq {
                    found.add(
                        Some(kseq),
                        format!(
                            "the entry stored here says it is entry {}: entries were moved or reordered",
                            e.seq
                        ),
                    );
                }
            }
            let leaf = merkle::leaf_hash(&v);
            match t.nodes.get(&node_key(0, kseq))? {
                Some(stored) if stored == leaf => {}
                Some(_) => found.add(
                    Some(kseq),
                    "its hash differs from the leaf hash the tree stored when it was appended: \
                     the entry was changed (or the stored tree was, if the signed heads still match)",
                ),
                None => found.add(Some(kseq), "the tree has no leaf for it"),
            }
            if tree_ok {
                for n in f.push(leaf).into_iter().skip(1) {
                    match t.nodes.get(&node_key(n.level, n.index))? {
                        Some(stored) if stored == n.hash => {}
                        _ => found.add(
                            Some(n.index << n.level),
                            format!(
                                "the stored Merkle node level {} index {} (entries {}..{}) \
                                 differs from the entries' hashes",
                                n.level,
                                n.index,
                                n.index << n.level,
                                ((n.index + 1) << n.level) - 1
                            ),
                        ),
                    }
                }
                if let Some(claims) = expect.get(&f.size()) {
                    let root = f.root();
                    for (r, what) in claims {
                        if *r != root {
                            found.add(
                                None,
                                format!(
                                    "{what} does not match the entries 0..{}: the log was \
                                     rewritten after it was signed",
                                    f.size() - 1
                                ),
                            );
                        }
                    }
                }
            }
            if let Some(e) = &entry {
                for (kind, key) in index::keys_for(e) {
                    index_keys += 1;
                    if !t.index(kind).contains(&key)? {
                        index_missing = true;
                        found.add(
                            Some(kseq),
                            format!("is missing from the {} index", kind.name()),
                        );
                    }
                }
            }
        }

        let size = read_size(&t.meta)?;
        if count < size {
            found.add(
                Some(count),
                format!(
                    "the log recorded {size} entries but only {count} are stored: entries \
                     from the tail were removed"
                ),
            );
        } else if count > size {
            found.add(
                None,
                format!("the log recorded {size} entries but {count} are stored"),
            );
        }
        for (s, claims) in expect.range(count.saturating_add(1)..) {
            for (_, what) in claims {
                found.add(
                    Some(count),
                    format!(
                        "{what} covers {s} entries but the log holds only {count}: the log was \
                         truncated or replaced with an older copy"
                    ),
                );
            }
        }
        if !tree_ok {
            for (s, claims) in expect.range(..=count) {
                if *s > f.size() {
                    for (_, what) in claims {
                        found.add(
                            None,
                            format!("{what} could not be checked: entries are missing"),
                        );
                    }
                }
            }
        }
        // Saved heads also by consistency proof from the log's own latest head, as an auditor
        // would do offline.
        if let Some(latest) = self.latest_head()? {
            for h in &opts.saved_heads {
                if h.verify(&key).is_err() {
                    continue;
                }
                let check = self
                    .consistency_proof(h, &latest)
                    .map_err(|e| e.to_string())
                    .and_then(|b| b.check(&key));
                if let Err(e) = check {
                    found.add(
                        None,
                        format!(
                            "consistency proof from the saved head of size {} to the log's head \
                             of size {} fails: {e}",
                            h.tree_size, latest.tree_size
                        ),
                    );
                }
            }
        }

        // Every index key must point at an entry that has that value.
        let mut total = 0u64;
        for ix in &t.ix {
            total += ix.len()?;
        }
        if index_missing || total != index_keys {
            find_stray_index_keys(&t, &mut found)?;
        }

        Ok(VerifyReport {
            log_id: self.log_id().to_owned(),
            entries: count,
            heads_checked,
            saved_heads_checked: saved_checked,
            index_keys: total,
            root_hash: hex::encode(f.root()),
            problems: found.0,
        })
    }
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
