//! Export of a period for long-term archiving (at least five years): JSON lines holding the
//! signed head that covers the period, then every entry of the period with its inclusion proof
//! against that head, then a closing line with the count. The file can be checked offline, years
//! later, with nothing but the log's public key ([`check_export`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};

use super::head::SignedTreeHead;
use super::keys::LogPublicKey;
use super::log::{AuditLog, StoredNodes, NODES};
use super::merkle;
use super::proof::decode_path;
use super::record::{format_time, Entry};
use super::{AuditError, Query, Result};

/// One line of an export file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum ExportLine {
    /// First line: the period and the head every entry is proved against.
    Header {
        format: String,
        log_id: String,
        from: Option<String>,
        to: Option<String>,
        exported_at: String,
        head: SignedTreeHead,
    },
    /// An entry of the period and its audit path to the head's root.
    Entry {
        entry: Box<Entry>,
        audit_path: Vec<String>,
    },
    /// Last line: how many entries, so a cut-off file is noticed.
    End { count: u64 },
}

const FORMAT: &str = "invoice-hub-audit-export-1";

/// What [`export`] wrote.
#[derive(Debug, Clone)]
pub struct ExportSummary {
    pub count: u64,
    pub head: SignedTreeHead,
    /// Entries in the period newer than the head, left out (sign a head to include them).
    pub left_out: u64,
}

impl AuditLog {
    /// Write the entries with `from <= time < to` (each bound optional) to `out` as JSON lines.
    /// Uses the latest signed head (signing a fresh one first when this log has its signing key).
    pub fn export(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        out: &mut dyn Write,
    ) -> Result<ExportSummary> {
        let head = match self.sign_head() {
            Ok(h) => h,
            Err(AuditError::ReadOnly) => self.latest_head()?.ok_or_else(|| {
                AuditError::NotFound("the log has no signed head to export against".into())
            })?,
            Err(e) => return Err(e),
        };
        let io = |e: std::io::Error| AuditError::io("export output", e);
        let header = ExportLine::Header {
            format: FORMAT.into(),
            log_id: self.log_id().to_owned(),
            from: from.map(|t| format_time(&t)),
            to: to.map(|t| format_time(&t)),
            exported_at: format_time(&crate::clock::now()),
            head: head.clone(),
        };
        writeln!(
            out,
            "{}",
            serde_json::to_string(&header).expect("serialises")
        )
        .map_err(io)?;
        let nodes = StoredNodes(self.view(NODES)?);
        let (mut count, mut left_out) = (0u64, 0u64);
        let mut q = Query {
            from,
            to,
            limit: 10_000,
            ..Query::default()
        };
        loop {
            let page = self.query(&q)?;
            for e in page.entries {
                if e.seq >= head.tree_size {
                    left_out += 1;
                    continue;
                }
                let path = merkle::inclusion_path(&nodes, e.seq, head.tree_size)?;
                let line = ExportLine::Entry {
                    entry: Box::new(e),
                    audit_path: path.iter().map(hex::encode).collect(),
                };
                writeln!(out, "{}", serde_json::to_string(&line).expect("serialises"))
                    .map_err(io)?;
                count += 1;
            }
            match page.next_after {
                Some(a) => q.after = Some(a),
                None => break,
            }
        }
        writeln!(
            out,
            "{}",
            serde_json::to_string(&ExportLine::End { count }).expect("serialises")
        )
        .map_err(io)?;
        out.flush().map_err(io)?;
        Ok(ExportSummary {
            count,
            head,
            left_out,
        })
    }
}

/// What a successful [`check_export`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportCheck {
    pub log_id: String,
    pub entries: u64,
    pub head_size: u64,
}

/// Check an export offline with the public key: the head's signature, every entry's inclusion
/// proof, every entry inside the stated period, and the closing count. Names the bad line.
pub fn check_export(
    input: &mut dyn BufRead,
    key: &LogPublicKey,
) -> std::result::Result<ExportCheck, String> {
    let mut lines = input.lines().enumerate();
    check_section(&mut lines, &|_: &SignedTreeHead| Some(*key))
}

/// Checks one section (header … closing line) of an export read line by line (`(index, line)`,
/// index from 0 over the whole file, for error messages). `key_for` picks the key the section's
/// head must be signed with; none means no key given is this log's.
pub(crate) fn check_section<I>(
    lines: &mut I,
    key_for: &dyn Fn(&SignedTreeHead) -> Option<LogPublicKey>,
) -> std::result::Result<ExportCheck, String>
where
    I: Iterator<Item = (usize, std::io::Result<String>)>,
{
    let (n, first) = lines.next().ok_or("empty export file")?;
    let hl = n + 1;
    let first = first.map_err(|e| format!("line {hl}: {e}"))?;
    let ExportLine::Header {
        format,
        log_id,
        from,
        to,
        head,
        ..
    } = serde_json::from_str(&first)
        .map_err(|e| format!("line {hl}: not an export header: {e}"))?
    else {
        return Err(format!("line {hl}: not an export header"));
    };
    if format != FORMAT {
        return Err(format!("line {hl}: unknown export format {format:?}"));
    }
    let key = key_for(&head).ok_or_else(|| {
        format!(
            "line {hl}: the head of log {:?} is signed by none of the keys given",
            head.log_id
        )
    })?;
    head.verify(&key).map_err(|e| format!("line {hl}: {e}"))?;
    if head.log_id != log_id {
        return Err(format!("line {hl}: the head is of another log"));
    }
    let parse = |s: &Option<String>| -> std::result::Result<Option<DateTime<Utc>>, String> {
        s.as_deref()
            .map(super::record::parse_time)
            .transpose()
            .map_err(|e| format!("line {hl}: {e}"))
    };
    let (from, to) = (parse(&from)?, parse(&to)?);
    let root = head.root().map_err(|e| format!("line {hl}: {e}"))?;
    let mut count = 0u64;
    let mut seen = std::collections::HashSet::new();
    for (i, line) in lines {
        let ln = i + 1;
        let line = line.map_err(|e| format!("line {ln}: {e}"))?;
        match serde_json::from_str::<ExportLine>(&line).map_err(|e| format!("line {ln}: {e}"))? {
            ExportLine::Header { .. } => return Err(format!("line {ln}: a second header")),
            ExportLine::Entry { entry, audit_path } => {
                let path = decode_path(&audit_path).map_err(|e| format!("line {ln}: {e}"))?;
                merkle::verify_inclusion(
                    entry.seq,
                    head.tree_size,
                    &entry.leaf_hash(),
                    &path,
                    &root,
                )
                .map_err(|e| format!("line {ln} (entry {}): {e}", entry.seq))?;
                let t = entry.record.time;
                if from.is_some_and(|f| t < f) || to.is_some_and(|x| t >= x) {
                    return Err(format!(
                        "line {ln} (entry {}): outside the exported period",
                        entry.seq
                    ));
                }
                if !seen.insert(entry.seq) {
                    return Err(format!("line {ln}: entry {} appears twice", entry.seq));
                }
                count += 1;
            }
            ExportLine::End { count: c } => {
                if c != count {
                    return Err(format!(
                        "line {ln}: the export says {c} entries but holds {count}"
                    ));
                }
                return Ok(ExportCheck {
                    log_id,
                    entries: count,
                    head_size: head.tree_size,
                });
            }
        }
    }
    Err("the export has no closing line: it was cut off".into())
}
