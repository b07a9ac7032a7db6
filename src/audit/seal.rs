//! The seal: a signed tree head over the whole log, written in the same transaction as every
//! append, so the log always carries the writer's signature over exactly what it holds.
//!
//! Checkpoint heads (every 1 024 entries, at close, on demand) are the ones published to
//! witnesses and used in proofs; between two of them the newest entries are covered by the seal
//! alone. When a writer opens the log it checks, before it signs anything, that the entries past
//! the last checkpoint head are the ones the seal was signed over ([`check`]): leaf hashes
//! recomputed from the stored entries on top of the stored tree at the head's size must give the
//! seal's root. Entries rewritten past the last head, an entry added or removed, or a seal
//! missing from a log with an unsigned tail stop the writer — it never signs what it cannot show
//! it wrote. (A whole older copy, or a truncation with seal, heads and indexes made to match,
//! is consistent in itself: witnesses catch those, see [`super::witness`].)

use std::path::Path;

use super::head::SignedTreeHead;
use super::keys::LogPublicKey;
use super::log::Tables;
use super::merkle::{self, Frontier, Hash};
use super::{AuditError, Result};

/// The key of the seal in the `meta` table.
pub(crate) const META_SEAL: &[u8] = b"seal";

/// Why a log's tail is not proven to be its writer's.
fn unproven(path: &Path, from: u64, to: u64, why: impl std::fmt::Display) -> AuditError {
    AuditError::UnprovenTail {
        path: path.to_path_buf(),
        from,
        to,
        why: why.to_string(),
    }
}

/// Checks that the log's entries past its last signed head are what its seal was signed over.
/// `size` is the size the metadata gives; `key` the log's public key.
pub(crate) fn check(path: &Path, t: &Tables, size: u64, key: &LogPublicKey) -> Result<()> {
    let head = last_head(path, t, size, key)?;
    let signed = head.as_ref().map_or(0, |h| h.tree_size);
    let fail = |why: String| unproven(path, signed, size, why);
    let seal = match t.meta.get(META_SEAL)? {
        Some(v) => SignedTreeHead::from_bytes(&v)?,
        // A log written before seals existed: proven only if its last head covers everything.
        None if signed == size => return Ok(()),
        None => {
            return Err(fail(
                "there is no seal over them (it was removed, or the entries were added by \
                 something other than this log's writer)"
                    .into(),
            ))
        }
    };
    seal.verify(key)
        .map_err(|e| fail(format!("the seal does not verify ({e})")))?;
    if seal.tree_size != size {
        return Err(fail(format!(
            "the seal covers {} entries, the log holds {size}",
            seal.tree_size
        )));
    }
    if hex::encode(tail_root(t, head.as_ref(), size).map_err(fail)?) != seal.root_hash {
        return Err(fail(
            "they are not the entries the seal was signed over: an entry was changed, added or \
             removed after it was written"
                .into(),
        ));
    }
    Ok(())
}

/// The last signed head, checked: signed with `key`, not past the log's end.
fn last_head(
    path: &Path,
    t: &Tables,
    size: u64,
    key: &LogPublicKey,
) -> Result<Option<SignedTreeHead>> {
    let Some((_, v)) = t.heads.last()? else {
        return Ok(None);
    };
    let h = SignedTreeHead::from_bytes(&v)?;
    h.verify(key).map_err(|e| {
        unproven(
            path,
            h.tree_size,
            size,
            format!("the last signed head does not verify ({e})"),
        )
    })?;
    if h.tree_size > size {
        return Err(unproven(
            path,
            size,
            h.tree_size,
            format!(
                "the log holds {size} entries, fewer than its last signed head's {}",
                h.tree_size
            ),
        ));
    }
    Ok(Some(h))
}

/// The root of the first `size` entries: the stored tree up to `head` (checked against its
/// root), then leaf hashes recomputed from the stored entries.
fn tail_root(
    t: &Tables,
    head: Option<&SignedTreeHead>,
    size: u64,
) -> std::result::Result<Hash, String> {
    let signed = head.map_or(0, |h| h.tree_size);
    let mut f = Frontier::load(&t.nodes, signed)
        .map_err(|e| format!("the stored tree is damaged ({e})"))?;
    if head.is_some_and(|h| hex::encode(f.root()) != h.root_hash) {
        return Err(format!(
            "the stored tree does not give the last signed head's root (size {signed})"
        ));
    }
    for seq in signed..size {
        let bytes = t
            .entries
            .get(&seq.to_be_bytes())
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("entry {seq} is missing"))?;
        f.push(merkle::leaf_hash(&bytes));
    }
    Ok(f.root())
}
