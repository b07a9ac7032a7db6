//! The Merkle tree of RFC 9162 (Certificate Transparency 2.0), §2.1: leaf hash
//! SHA-256(0x00 ‖ entry), node hash SHA-256(0x01 ‖ left ‖ right), the tree over n leaves split at
//! the largest power of two below n; inclusion proofs (§2.1.3) and consistency proofs (§2.1.4),
//! and their verification, which needs nothing but hashes.
//!
//! Why a compact range ([`Frontier`]): appending must not recompute the tree. The frontier keeps
//! the roots of the perfect subtrees that make up the current tree (one per set bit of the size),
//! so an append costs O(log n) hashes, and every perfect subtree it completes is stored once so
//! that proofs later cost O(log² n) lookups ([`NodeSource`]).

use sha2::{Digest as _, Sha256};

use super::{AuditError, Result};

/// A SHA-256 output.
pub type Hash = [u8; 32];

/// RFC 9162 leaf hash: SHA-256(0x00 ‖ data).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

/// RFC 9162 interior node hash: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The hash of the empty tree: SHA-256 of nothing.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly below `n` (n ≥ 2): where RFC 9162 splits a tree.
pub fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// MTH over a list of leaf hashes, straight from the definition. The reference the incremental
/// code is tested against, and what `verify` would use if it could not trust stored nodes.
pub fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// Where proofs get the hash of a perfect subtree: the root of leaves
/// `[index << level, (index + 1) << level)`. The log reads them from its node tree.
pub trait NodeSource {
    fn perfect(&self, level: u32, index: u64) -> Result<Hash>;
}

impl NodeSource for [Hash] {
    fn perfect(&self, level: u32, index: u64) -> Result<Hash> {
        let start = (index << level) as usize;
        let end = ((index + 1) << level) as usize;
        if end > self.len() {
            return Err(AuditError::NotFound(format!(
                "no subtree at level {level} index {index}"
            )));
        }
        Ok(mth(&self[start..end]))
    }
}

/// MTH(D[start:end]) for a range that occurs in the tree (start aligned to the split), using the
/// stored perfect subtrees: O(log n) lookups along the right edge.
pub fn subtree_hash<S: NodeSource + ?Sized>(src: &S, start: u64, end: u64) -> Result<Hash> {
    let n = end - start;
    if n == 0 {
        return Ok(empty_root());
    }
    if n.is_power_of_two() && start.is_multiple_of(n) {
        return src.perfect(n.trailing_zeros(), start / n);
    }
    let k = split(n);
    let l = subtree_hash(src, start, start + k)?;
    let r = subtree_hash(src, start + k, end)?;
    Ok(node_hash(&l, &r))
}

/// RFC 9162 §2.1.3.1 PATH(m, D[n]): the inclusion proof of leaf `m` in the tree of size `n`.
pub fn inclusion_path<S: NodeSource + ?Sized>(src: &S, m: u64, n: u64) -> Result<Vec<Hash>> {
    if m >= n {
        return Err(AuditError::NotFound(format!(
            "entry {m} is not in a tree of size {n}"
        )));
    }
    let mut out = Vec::new();
    path_rec(src, m, 0, n, &mut out)?;
    Ok(out)
}

fn path_rec<S: NodeSource + ?Sized>(
    src: &S,
    m: u64,
    start: u64,
    end: u64,
    out: &mut Vec<Hash>,
) -> Result<()> {
    let n = end - start;
    if n <= 1 {
        return Ok(());
    }
    let k = split(n);
    if m - start < k {
        path_rec(src, m, start, start + k, out)?;
        out.push(subtree_hash(src, start + k, end)?);
    } else {
        path_rec(src, m, start + k, end, out)?;
        out.push(subtree_hash(src, start, start + k)?);
    }
    Ok(())
}

/// RFC 9162 §2.1.4.1 PROOF(m, D[n]): the consistency proof between the tree of size `m` and the
/// tree of size `n` (0 < m ≤ n; empty when m = n).
pub fn consistency_path<S: NodeSource + ?Sized>(src: &S, m: u64, n: u64) -> Result<Vec<Hash>> {
    if m > n {
        return Err(AuditError::NotFound(format!(
            "no consistency proof from size {m} to the smaller size {n}"
        )));
    }
    let mut out = Vec::new();
    if m == 0 || m == n {
        return Ok(out);
    }
    subproof(src, m, 0, n, true, &mut out)?;
    Ok(out)
}

fn subproof<S: NodeSource + ?Sized>(
    src: &S,
    m: u64,
    start: u64,
    end: u64,
    b: bool,
    out: &mut Vec<Hash>,
) -> Result<()> {
    let n = end - start;
    if m == n {
        if !b {
            out.push(subtree_hash(src, start, end)?);
        }
        return Ok(());
    }
    let k = split(n);
    if m <= k {
        subproof(src, m, start, start + k, b, out)?;
        out.push(subtree_hash(src, start + k, end)?);
    } else {
        subproof(src, m - k, start + k, end, false, out)?;
        out.push(subtree_hash(src, start, start + k)?);
    }
    Ok(())
}

/// RFC 9162 §2.1.3.2: does `path` prove that `leaf` is entry `index` of the tree of `size` with
/// `root`? Returns a reason when it does not.
pub fn verify_inclusion(
    index: u64,
    size: u64,
    leaf: &Hash,
    path: &[Hash],
    root: &Hash,
) -> std::result::Result<(), String> {
    if index >= size {
        return Err(format!("entry {index} is outside a tree of size {size}"));
    }
    let (mut fnn, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if sn == 0 {
            return Err("inclusion proof is longer than the tree is deep".into());
        }
        if fnn & 1 == 1 || fnn == sn {
            r = node_hash(p, &r);
            if fnn & 1 == 0 {
                while fnn & 1 == 0 && fnn != 0 {
                    fnn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fnn >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err("inclusion proof is shorter than the tree is deep".into());
    }
    if &r != root {
        return Err(format!(
            "entry {index} does not lead to the root of the tree of size {size}"
        ));
    }
    Ok(())
}

/// RFC 9162 §2.1.4.2: does `path` prove that the tree (`first`, `first_root`) is a prefix of the
/// tree (`second`, `second_root`)? Returns a reason when it does not.
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    path: &[Hash],
) -> std::result::Result<(), String> {
    if first > second {
        return Err(format!(
            "the later tree (size {second}) is smaller than the earlier one (size {first}): \
             entries were removed"
        ));
    }
    if first == second {
        if !path.is_empty() {
            return Err("consistency proof between equal sizes must be empty".into());
        }
        if first_root != second_root {
            return Err(format!(
                "two different roots for the same tree size {first}: the log was rewritten"
            ));
        }
        return Ok(());
    }
    if first == 0 {
        return if path.is_empty() {
            Ok(())
        } else {
            Err("consistency proof from the empty tree must be empty".into())
        };
    }
    if path.is_empty() {
        return Err("consistency proof is empty".into());
    }
    let mut path: Vec<Hash> = path.to_vec();
    if first.is_power_of_two() {
        path.insert(0, *first_root);
    }
    let (mut fnn, mut sn) = (first - 1, second - 1);
    while fnn & 1 == 1 {
        fnn >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return Err("consistency proof is longer than expected".into());
        }
        if fnn & 1 == 1 || fnn == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fnn & 1 == 0 {
                while fnn & 1 == 0 && fnn != 0 {
                    fnn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnn >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err("consistency proof is shorter than expected".into());
    }
    if &fr != first_root {
        return Err(format!(
            "the earlier tree of size {first} is not a prefix of the later one: the log was \
             rewritten or replaced"
        ));
    }
    if &sr != second_root {
        return Err(format!(
            "the proof does not lead to the root of the later tree of size {second}"
        ));
    }
    Ok(())
}

/// A perfect subtree completed by an append: store it under (level, index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewNode {
    pub level: u32,
    pub index: u64,
    pub hash: Hash,
}

/// The right frontier (compact range [0, size)) of the tree: the roots of its perfect subtrees,
/// largest first. Enough to append and to compute the root without reading old leaves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuild the frontier of a tree of `size` from stored perfect subtrees.
    pub fn load<S: NodeSource + ?Sized>(src: &S, size: u64) -> Result<Self> {
        let mut nodes = Vec::new();
        let mut start = 0u64;
        for level in (0..64u32).rev() {
            if size & (1u64 << level) != 0 {
                nodes.push(src.perfect(level, start >> level)?);
                start += 1u64 << level;
            }
        }
        Ok(Frontier { size, nodes })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Append a leaf; returns the leaf and every perfect subtree it completes, to be stored.
    pub fn push(&mut self, leaf: Hash) -> Vec<NewNode> {
        let mut out = vec![NewNode {
            level: 0,
            index: self.size,
            hash: leaf,
        }];
        let mut carry = leaf;
        let mut level = 0u32;
        while self.size & (1u64 << level) != 0 {
            let left = self.nodes.pop().expect("frontier has a node per set bit");
            carry = node_hash(&left, &carry);
            level += 1;
            out.push(NewNode {
                level,
                index: ((self.size + 1) >> level) - 1,
                hash: carry,
            });
        }
        self.nodes.push(carry);
        self.size += 1;
        out
    }

    /// MTH of the whole tree.
    pub fn root(&self) -> Hash {
        let mut it = self.nodes.iter().rev();
        match it.next() {
            None => empty_root(),
            Some(last) => it.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(&(i as u64).to_be_bytes()))
            .collect()
    }

    #[test]
    fn frontier_matches_the_definition_at_every_size() {
        let ls = leaves(70);
        let mut f = Frontier::new();
        assert_eq!(f.root(), empty_root());
        for (i, l) in ls.iter().enumerate() {
            let new = f.push(*l);
            for nn in new {
                let start = (nn.index << nn.level) as usize;
                let end = ((nn.index + 1) << nn.level) as usize;
                assert!(end == i + 1, "completed node must end at the new leaf");
                assert_eq!(nn.hash, mth(&ls[start..end]));
            }
            assert_eq!(f.root(), mth(&ls[..=i]), "size {}", i + 1);
            assert_eq!(Frontier::load(&ls[..=i], (i + 1) as u64).unwrap(), f);
        }
    }

    #[test]
    fn known_answer_for_two_leaves() {
        // Root over two leaves, by hand: H(01 ‖ H(00‖a) ‖ H(00‖b)).
        let a = leaf_hash(b"a");
        let b = leaf_hash(b"b");
        let mut h = Sha256::new();
        h.update([1u8]);
        h.update(a);
        h.update(b);
        let expect: Hash = h.finalize().into();
        assert_eq!(mth(&[a, b]), expect);
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn every_inclusion_proof_verifies_and_a_wrong_one_fails() {
        let ls = leaves(40);
        for n in 1..=40u64 {
            let root = mth(&ls[..n as usize]);
            for m in 0..n {
                let p = inclusion_path(&ls[..], m, n).unwrap();
                verify_inclusion(m, n, &ls[m as usize], &p, &root).unwrap();
                assert!(verify_inclusion(m, n, &leaf_hash(b"x"), &p, &root).is_err());
                if n > 1 {
                    let other = (m + 1) % n;
                    assert!(verify_inclusion(other, n, &ls[m as usize], &p, &root).is_err());
                }
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_forked_one_fails() {
        let ls = leaves(40);
        let mut forked = ls.clone();
        forked[5] = leaf_hash(b"changed");
        for n in 1..=40u64 {
            let rn = mth(&ls[..n as usize]);
            for m in 0..=n {
                let rm = mth(&ls[..m as usize]);
                let p = consistency_path(&ls[..], m, n).unwrap();
                verify_consistency(m, n, &rm, &rn, &p).unwrap();
                if m > 5 {
                    // The earlier head was of the forked history: must not be a prefix.
                    let fm = mth(&forked[..m as usize]);
                    assert!(verify_consistency(m, n, &fm, &rn, &p).is_err(), "{m} {n}");
                }
            }
        }
        assert!(verify_consistency(5, 3, &ls[0], &ls[0], &[]).is_err());
    }
}
