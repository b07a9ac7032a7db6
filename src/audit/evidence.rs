//! Evidence an auditor is handed, checked offline with only public keys. A file is either an
//! export (JSON lines opening with a header, one section per log) or a proof document (one
//! inclusion or consistency bundle, or an array of them). Which it is, is decided here from its
//! content, so every reader of evidence (the CLI, a test, a future page) decides it the same way.

use std::fmt;
use std::io::{BufRead, Read};

use super::export::ExportCheck;
use super::set::check_export_set;
use super::{ConsistencyBundle, Event, InclusionBundle, LogPublicKey, SignedTreeHead};

/// One thing a piece of evidence proved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proved {
    /// One section of an export: every entry proved against the section's signed head.
    Export(ExportCheck),
    /// One entry is in a log at a signed head.
    Inclusion {
        seq: u64,
        basis_id: String,
        event: Event,
        log_id: String,
        tree_size: u64,
    },
    /// A log at a signed head extends an older head of itself unchanged.
    Consistency {
        log_id: String,
        old_size: u64,
        size: u64,
    },
}

impl fmt::Display for Proved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Proved::Export(c) => write!(
                f,
                "export of log {:?}: {} entries proved against the signed head of size {}",
                c.log_id, c.entries, c.head_size
            ),
            Proved::Inclusion {
                seq,
                basis_id,
                event,
                log_id,
                tree_size,
            } => write!(
                f,
                "entry {seq} (basis {basis_id}, {event}) is in log {log_id:?} at the signed head \
                 of size {tree_size}"
            ),
            Proved::Consistency {
                log_id,
                old_size,
                size,
            } => write!(
                f,
                "log {log_id:?} at size {size} extends its head of size {old_size} unchanged"
            ),
        }
    }
}

/// Why evidence did not check.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    /// The file could not be read: nothing was checked.
    #[error("reading: {0}")]
    Read(#[from] std::io::Error),
    /// The evidence was read and does not hold (or is not evidence); the message names what.
    #[error("{0}")]
    Invalid(String),
}

/// Checks a file of evidence against `keys` (a section's or a proof's head picks its key by its
/// signature; with one key, that key, so its check names the problem). Every part must hold:
/// a file with several parts is one answer.
pub fn check_evidence(
    input: &mut dyn BufRead,
    keys: &[LogPublicKey],
) -> Result<Vec<Proved>, EvidenceError> {
    let mut first = String::new();
    input.read_line(&mut first)?;
    if first.contains("\"kind\":\"header\"") {
        let mut all = std::io::BufReader::new(std::io::Cursor::new(first).chain(input));
        return check_export_set(&mut all, keys)
            .map(|sections| sections.into_iter().map(Proved::Export).collect())
            .map_err(EvidenceError::Invalid);
    }
    let mut text = first;
    input.read_to_string(&mut text)?;
    check_document(&text, keys).map_err(EvidenceError::Invalid)
}

/// A proof document: one bundle, or an array of them (the one that fails is named by place).
fn check_document(text: &str, keys: &[LogPublicKey]) -> Result<Vec<Proved>, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not a proof document: {e}"))?;
    match v {
        serde_json::Value::Array(items) => {
            let n = items.len();
            items
                .into_iter()
                .enumerate()
                .map(|(i, it)| {
                    check_bundle(it, keys).map_err(|e| format!("proof {} of {n}: {e}", i + 1))
                })
                .collect()
        }
        v => Ok(vec![check_bundle(v, keys)?]),
    }
}

fn check_bundle(v: serde_json::Value, keys: &[LogPublicKey]) -> Result<Proved, String> {
    match v.get("kind").and_then(|k| k.as_str()) {
        Some("inclusion") => {
            let b: InclusionBundle =
                serde_json::from_value(v).map_err(|e| format!("inclusion proof: {e}"))?;
            b.check(key_for(keys, &b.head)?)?;
            Ok(Proved::Inclusion {
                seq: b.entry.seq,
                basis_id: b.entry.record.basis_id,
                event: b.entry.record.event,
                log_id: b.head.log_id,
                tree_size: b.tree_size,
            })
        }
        Some("consistency") => {
            let b: ConsistencyBundle =
                serde_json::from_value(v).map_err(|e| format!("consistency proof: {e}"))?;
            b.check(key_for(keys, &b.new)?)?;
            Ok(Proved::Consistency {
                log_id: b.new.log_id,
                old_size: b.old.tree_size,
                size: b.new.tree_size,
            })
        }
        other => Err(format!("unknown proof kind {other:?}")),
    }
}

/// The key among `keys` that signed `head`; with one key, that key (its check names the problem).
fn key_for<'k>(
    keys: &'k [LogPublicKey],
    head: &SignedTreeHead,
) -> Result<&'k LogPublicKey, String> {
    match keys {
        [one] => Ok(one),
        _ => keys.iter().find(|k| head.verify(k).is_ok()).ok_or_else(|| {
            format!(
                "the head of log {:?} is signed by none of the keys given",
                head.log_id
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid(text: &str) -> String {
        match check_evidence(&mut text.as_bytes(), &[]) {
            Err(EvidenceError::Invalid(m)) => m,
            other => panic!("{text:?} gave {other:?}"),
        }
    }

    #[test]
    fn what_is_not_evidence_is_named() {
        assert!(invalid("hello").starts_with("not a proof document"));
        assert_eq!(
            invalid(r#"{"kind":"x"}"#),
            r#"unknown proof kind Some("x")"#
        );
        assert_eq!(
            invalid(r#"[{"kind":"x"}]"#),
            r#"proof 1 of 1: unknown proof kind Some("x")"#
        );
        assert!(invalid(r#"{"kind":"inclusion"}"#).starts_with("inclusion proof:"));
    }

    #[test]
    fn a_file_opening_with_an_export_header_is_checked_as_an_export() {
        // Not a valid header: the export checker, not the proof reader, names the problem.
        let m = invalid("{\"kind\":\"header\",\"x\":1}\n");
        assert!(!m.starts_with("not a proof document"), "{m}");
    }
}
