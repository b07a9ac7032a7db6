//! A witness of logs it does not run: it keeps the latest signed tree head of each, and takes a
//! newer one only with a consistency proof from the head it holds.
//!
//! Why: whoever runs a log can copy its files. With file access alone, an operator can roll the
//! log back to an older copy, or truncate it and make metadata, heads and indexes agree again;
//! the result is consistent in itself and verifies. A head kept elsewhere is what shows it: the
//! log must still extend it. Every receiving region's store is a witness of the hub's log, so
//! no auditor has to have saved a head by hand, and `audit verify --witness URL` asks them.
//!
//! A witness refuses, loudly (an error in its log and a line in `<log>.refused.jsonl` beside
//! the held head), a head that is not signed with the log's configured key, one that shrinks
//! the log, one of the same size with another root (a fork), and one whose proof does not show
//! that it extends the held head. It never gives up the head it holds for one of those.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::head::SignedTreeHead;
use super::keys::LogPublicKey;
use super::proof::ConsistencyBundle;

/// What a log's writer sends a witness: a new head and, when the witness holds an older one,
/// the proof that the new one extends it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Submission {
    pub head: SignedTreeHead,
    /// From the head the witness holds to `head`; none when it holds nothing yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<ConsistencyBundle>,
}

/// What a witness did with a head it accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Accepted {
    /// The first head of this log it holds (trusted because the configured key signed it).
    First,
    /// A larger head, proven to extend the held one.
    Extended { from: u64 },
    /// The head it already holds (same size and root).
    Same,
}

/// Why a witness refused a head. Each is an alarm: the log's writer, or someone with its files,
/// tried to make the witness forget what it had seen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("this witness keeps no log {0:?} (its configuration names the logs and their keys)")]
    UnknownLog(String),
    #[error("the head of log {log_id:?} at size {size} is not signed with the log's key: {why}")]
    BadSignature {
        log_id: String,
        size: u64,
        why: String,
    },
    #[error(
        "log {log_id:?} shrank: this witness holds a head of size {held}, the new one has {new} \
         (a rollback or a truncation)"
    )]
    Shrinks { log_id: String, held: u64, new: u64 },
    #[error(
        "log {log_id:?} forked at size {size}: the new head's root differs from the one this \
         witness holds (the entries were rewritten)"
    )]
    Forks { log_id: String, size: u64 },
    #[error(
        "log {log_id:?}: no proof that the head of size {new} extends the one of size {held} \
         this witness holds: {why}"
    )]
    NotExtending {
        log_id: String,
        held: u64,
        new: u64,
        why: String,
    },
}

/// The pure rule: whether `key`'s log may go from `held` to `sub.head`.
pub fn judge(
    key: &LogPublicKey,
    held: Option<&SignedTreeHead>,
    sub: &Submission,
) -> Result<Accepted, Refusal> {
    let new = &sub.head;
    let log_id = new.log_id.clone();
    new.verify(key).map_err(|why| Refusal::BadSignature {
        log_id: log_id.clone(),
        size: new.tree_size,
        why,
    })?;
    let Some(held) = held else {
        return Ok(Accepted::First);
    };
    if new.tree_size < held.tree_size {
        return Err(Refusal::Shrinks {
            log_id,
            held: held.tree_size,
            new: new.tree_size,
        });
    }
    if new.tree_size == held.tree_size {
        return if new.root_hash == held.root_hash {
            Ok(Accepted::Same)
        } else {
            Err(Refusal::Forks {
                log_id,
                size: new.tree_size,
            })
        };
    }
    let not_extending = |why: String| Refusal::NotExtending {
        log_id: log_id.clone(),
        held: held.tree_size,
        new: new.tree_size,
        why,
    };
    let proof = sub
        .consistency
        .as_ref()
        .ok_or_else(|| not_extending("the submission has no consistency proof".into()))?;
    if proof.old.tree_size != held.tree_size || proof.old.root_hash != held.root_hash {
        return Err(not_extending(format!(
            "the proof starts from a head of size {} with another root",
            proof.old.tree_size
        )));
    }
    if proof.new != *new {
        return Err(not_extending("the proof ends at another head".into()));
    }
    proof.check(key).map_err(not_extending)?;
    Ok(Accepted::Extended {
        from: held.tree_size,
    })
}

/// A witness's heads, one file per log in a directory: `<log_id>.json` the held head,
/// `<log_id>.refused.jsonl` every refusal with the head that was refused.
#[derive(Debug)]
pub struct Witness {
    dir: PathBuf,
    keys: BTreeMap<String, LogPublicKey>,
    /// One submission at a time: the held head is read, judged and replaced together.
    lock: Mutex<()>,
}

/// A failure to keep heads (I/O), as opposed to a refusal of one.
#[derive(Debug, thiserror::Error)]
#[error("witness {path}: {why}")]
pub struct WitnessError {
    pub path: PathBuf,
    pub why: String,
}

fn werr(path: &Path, why: impl std::fmt::Display) -> WitnessError {
    WitnessError {
        path: path.to_path_buf(),
        why: why.to_string(),
    }
}

/// A log id is used as a file name: letters, digits, '-', '_' and '.', not starting with '.'.
pub fn log_id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

impl Witness {
    /// Keeps heads in `dir` (created) for the logs of `keys` (log id → the key its heads are
    /// signed with).
    pub fn open(dir: &Path, keys: BTreeMap<String, LogPublicKey>) -> Result<Witness, WitnessError> {
        std::fs::create_dir_all(dir).map_err(|e| werr(dir, e))?;
        if let Some(bad) = keys.keys().find(|k| !log_id_ok(k)) {
            return Err(werr(dir, format!("{bad:?} is not a usable log id")));
        }
        Ok(Witness {
            dir: dir.to_path_buf(),
            keys,
            lock: Mutex::new(()),
        })
    }

    /// The logs this witness keeps.
    pub fn logs(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }

    fn file(&self, log_id: &str, ext: &str) -> PathBuf {
        self.dir.join(format!("{log_id}.{ext}"))
    }

    /// The head held for `log_id`, if any (refused for a log this witness does not keep).
    pub fn held(
        &self,
        log_id: &str,
    ) -> Result<Result<Option<SignedTreeHead>, Refusal>, WitnessError> {
        if !self.keys.contains_key(log_id) {
            return Ok(Err(Refusal::UnknownLog(log_id.to_string())));
        }
        let path = self.file(log_id, "json");
        match std::fs::read(&path) {
            Ok(b) => serde_json::from_slice(&b)
                .map(|h| Ok(Some(h)))
                .map_err(|e| werr(&path, e)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Ok(None)),
            Err(e) => Err(werr(&path, e)),
        }
    }

    /// Judges a submission for `log_id` and keeps the head if accepted; a refusal is recorded.
    pub fn submit(
        &self,
        log_id: &str,
        sub: &Submission,
    ) -> Result<Result<Accepted, Refusal>, WitnessError> {
        let _one = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let Some(key) = self.keys.get(log_id) else {
            return Ok(Err(Refusal::UnknownLog(log_id.to_string())));
        };
        if sub.head.log_id != log_id {
            return Ok(Err(Refusal::BadSignature {
                log_id: log_id.to_string(),
                size: sub.head.tree_size,
                why: format!("the head is of log {:?}", sub.head.log_id),
            }));
        }
        let held = match self.held(log_id)? {
            Ok(h) => h,
            Err(r) => return Ok(Err(r)),
        };
        match judge(key, held.as_ref(), sub) {
            Ok(Accepted::Same) => Ok(Ok(Accepted::Same)),
            Ok(a) => {
                self.keep(log_id, &sub.head)?;
                Ok(Ok(a))
            }
            Err(r) => {
                self.record_refusal(log_id, &r, &sub.head)?;
                Ok(Err(r))
            }
        }
    }

    /// Writes the held head durably: a new file, synced, renamed over the old one.
    fn keep(&self, log_id: &str, head: &SignedTreeHead) -> Result<(), WitnessError> {
        let path = self.file(log_id, "json");
        let tmp = self.file(log_id, "json.new");
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&serde_json::to_vec_pretty(head).expect("a head serialises"))?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(&self.dir)?.sync_all()
        };
        write().map_err(|e| werr(&path, e))
    }

    fn record_refusal(
        &self,
        log_id: &str,
        r: &Refusal,
        head: &SignedTreeHead,
    ) -> Result<(), WitnessError> {
        tracing::error!(log = log_id, "WITNESS REFUSED A HEAD: {r}");
        let path = self.file(log_id, "refused.jsonl");
        let line = serde_json::json!({
            "at": super::record::format_time(&crate::clock::now()),
            "refusal": r.to_string(),
            "head": head,
        });
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| werr(&path, e))?;
        writeln!(f, "{line}")
            .and_then(|()| f.sync_all())
            .map_err(|e| werr(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::keys::LogSigningKey;
    use crate::audit::merkle::{self, Hash};

    fn head(k: &LogSigningKey, leaves: &[Hash]) -> SignedTreeHead {
        SignedTreeHead::sign(
            k,
            "hub-a",
            leaves.len() as u64,
            &merkle::mth(leaves),
            crate::clock::now(),
        )
    }

    fn leaves(n: u8) -> Vec<Hash> {
        (0..n).map(|i| merkle::leaf_hash(&[i])).collect()
    }

    /// The proof the writer would send, made from the leaves (the log makes it from its nodes).
    fn proof(old: &SignedTreeHead, new: &SignedTreeHead, all: &[Hash]) -> ConsistencyBundle {
        struct L<'a>(&'a [Hash]);
        impl merkle::NodeSource for L<'_> {
            fn perfect(&self, level: u32, index: u64) -> crate::audit::Result<Hash> {
                let w = 1usize << level;
                let s = index as usize * w;
                Ok(merkle::mth(&self.0[s..s + w]))
            }
        }
        let path = merkle::consistency_path(&L(all), old.tree_size, new.tree_size).unwrap();
        ConsistencyBundle::new(old.clone(), new.clone(), path)
    }

    #[test]
    fn a_witness_takes_only_heads_that_extend_what_it_holds() {
        let k = LogSigningKey::from_seed([7; 32]);
        let d = tempfile::tempdir().unwrap();
        let w = Witness::open(d.path(), [("hub-a".to_string(), k.public())].into()).unwrap();
        let all = leaves(13);
        let h5 = head(&k, &all[..5]);
        let h13 = head(&k, &all);
        let first = Submission {
            head: h5.clone(),
            consistency: None,
        };
        assert_eq!(w.submit("hub-a", &first).unwrap(), Ok(Accepted::First));
        assert_eq!(w.submit("hub-a", &first).unwrap(), Ok(Accepted::Same));

        // A larger head without a proof, or with a proof from elsewhere, is refused.
        let bare = Submission {
            head: h13.clone(),
            consistency: None,
        };
        assert!(matches!(
            w.submit("hub-a", &bare).unwrap(),
            Err(Refusal::NotExtending { .. })
        ));
        let ok = Submission {
            head: h13.clone(),
            consistency: Some(proof(&h5, &h13, &all)),
        };
        assert_eq!(
            w.submit("hub-a", &ok).unwrap(),
            Ok(Accepted::Extended { from: 5 })
        );
        assert_eq!(w.held("hub-a").unwrap().unwrap(), Some(h13.clone()));

        // Rollback: the older head again.
        assert!(matches!(
            w.submit("hub-a", &first).unwrap(),
            Err(Refusal::Shrinks {
                held: 13,
                new: 5,
                ..
            })
        ));
        // Fork: the same size, another entry.
        let mut forked = all.clone();
        forked[12] = merkle::leaf_hash(b"rewritten");
        let fork = Submission {
            head: head(&k, &forked),
            consistency: None,
        };
        assert!(matches!(
            w.submit("hub-a", &fork).unwrap(),
            Err(Refusal::Forks { size: 13, .. })
        ));
        // A re-signed log: another key.
        let other = LogSigningKey::from_seed([8; 32]);
        let resigned = Submission {
            head: head(&other, &leaves(20)),
            consistency: None,
        };
        assert!(matches!(
            w.submit("hub-a", &resigned).unwrap(),
            Err(Refusal::BadSignature { .. })
        ));
        // Unknown logs are not kept; the held head survived every refusal; refusals are kept.
        assert!(matches!(
            w.submit("hub-b", &first).unwrap(),
            Err(Refusal::UnknownLog(_))
        ));
        assert_eq!(w.held("hub-a").unwrap().unwrap(), Some(h13));
        let refused = std::fs::read_to_string(d.path().join("hub-a.refused.jsonl")).unwrap();
        assert_eq!(refused.lines().count(), 4, "{refused}");
    }
}
