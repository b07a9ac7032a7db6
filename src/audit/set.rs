//! Several hub instances, one auditable story. Each hub keeps its own disclosure log (its own
//! instance id and signing key: two writers never share a Merkle tree, so neither can rewrite
//! what the other logged); an auditor opens the set of logs and asks them as one.
//!
//! Why not one shared log: a single tree written by several processes needs a single writer or a
//! consensus protocol, and a hub that cannot reach it could not work at all. Separate logs keep
//! each hub independent and each log provable on its own; what the set adds is the merged
//! answer, every entry tagged with the log (= hub instance) that wrote it.
//!
//! What a set shows after a hub dies mid-basis: a basis that hub A logged as `disclosed` but had
//! not acknowledged is redelivered by the broker to hub B, whose log does not know it, so B logs
//! `received`, `disclosed` (and `delivered`) again. The store keeps one copy (its PUT is
//! idempotent for the same content and answers with the first receipt), so the set holds two
//! honest accounts of one disclosure: A's, which may end without `delivered`, and B's. The
//! merged answer shows both, each under its own instance; [`SetEntry::log`] says whose is whose.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::export::{check_section, ExportCheck, ExportSummary};
use super::head::SignedTreeHead;
use super::keys::LogPublicKey;
use super::log::AuditLog;
use super::record::Entry;
use super::verify::{VerifyOptions, VerifyReport};
use super::{AuditError, Query, Result};

/// One entry of the merged answer: which log (hub instance) wrote it, and the entry.
#[derive(Debug, Clone, Serialize)]
pub struct SetEntry {
    /// The log id of the log holding the entry (the hub's `instance`).
    pub log: String,
    #[serde(flatten)]
    pub entry: Entry,
}

/// The answer to a [`Query`] over a [`LogSet`].
#[derive(Debug, Clone, Serialize)]
pub struct SetQueryResult {
    /// Merged by time; each log's entries in that log's own order.
    pub entries: Vec<SetEntry>,
    /// Entries read across all logs.
    pub records_read: u64,
    /// True when `limit` cut the answer short.
    pub truncated: bool,
}

/// A set of disclosure logs opened read-only, one per hub instance.
pub struct LogSet {
    logs: Vec<AuditLog>,
}

impl LogSet {
    /// Opens every directory as an existing log. Two logs with one id are refused: an id names
    /// one hub instance, and an auditor could not tell two such logs' entries apart.
    pub fn open_existing(dirs: &[PathBuf]) -> Result<LogSet> {
        let mut logs: Vec<AuditLog> = Vec::with_capacity(dirs.len());
        for dir in dirs {
            let log = AuditLog::open_evidence(dir)?;
            if let Some(other) = logs.iter().find(|l| l.log_id() == log.log_id()) {
                return Err(AuditError::Mismatch {
                    path: dir.clone(),
                    why: format!(
                        "has the same log id {:?} as {}: each hub instance needs its own id",
                        log.log_id(),
                        other.path().display()
                    ),
                });
            }
            logs.push(log);
        }
        Ok(LogSet { logs })
    }

    /// The logs, in the order given.
    pub fn logs(&self) -> &[AuditLog] {
        &self.logs
    }

    /// Asks every log the same question and merges the answers in time order. `after` is a
    /// position in one log and means nothing across logs: use `from` to page through a set.
    /// With a `limit`, each log is asked for at most `limit` entries, the merged list is cut to
    /// `limit`, and `truncated` says whether anything was left out.
    pub fn query(&self, q: &Query) -> Result<SetQueryResult> {
        if q.after.is_some() {
            return Err(AuditError::BadRecord(
                "--after is a position in one log; across logs, page with --from".into(),
            ));
        }
        let mut answers: Vec<std::collections::VecDeque<SetEntry>> = Vec::new();
        let mut records_read = 0;
        let mut truncated = false;
        for log in &self.logs {
            let res = log.query(q)?;
            records_read += res.records_read;
            truncated |= res.next_after.is_some();
            answers.push(
                res.entries
                    .into_iter()
                    .map(|entry| SetEntry {
                        log: log.log_id().to_owned(),
                        entry,
                    })
                    .collect(),
            );
        }
        // Merge by time, taking each log's entries in the log's own order: within one log the
        // sequence is the truth (a hub writes a basis's `received` and `disclosed` in one
        // batch, and their clocks need not agree with the order), across logs time is all there
        // is. Ties go to the log given first.
        let mut entries = Vec::with_capacity(answers.iter().map(|a| a.len()).sum());
        while let Some(next) = answers
            .iter()
            .enumerate()
            .filter_map(|(i, a)| a.front().map(|e| (e.entry.record.time, i)))
            .min()
            .map(|(_, i)| i)
        {
            entries.push(answers[next].pop_front().expect("front seen above"));
        }
        if q.limit > 0 && entries.len() > q.limit {
            entries.truncate(q.limit);
            truncated = true;
        }
        Ok(SetQueryResult {
            entries,
            records_read,
            truncated,
        })
    }

    /// Verifies every log. Each log is checked with the trusted key that is its own (found
    /// among `keys` by value); when keys are given and none is the log's, the log is checked
    /// against the first, and its report says the key does not match. Saved heads go to the log
    /// whose id they carry; a saved head of no log in the set is an error.
    pub fn verify(
        &self,
        keys: &[LogPublicKey],
        saved: &[SignedTreeHead],
    ) -> Result<Vec<VerifyReport>> {
        if let Some(h) = saved
            .iter()
            .find(|h| !self.logs.iter().any(|l| l.log_id() == h.log_id))
        {
            return Err(AuditError::NotFound(format!(
                "a saved head is of log {:?}, which is not in the set",
                h.log_id
            )));
        }
        self.logs
            .iter()
            .map(|log| {
                let public_key = keys
                    .iter()
                    .find(|k| **k == log.public_key())
                    .or(keys.first())
                    .copied();
                log.verify(&VerifyOptions {
                    public_key,
                    saved_heads: saved
                        .iter()
                        .filter(|h| h.log_id == log.log_id())
                        .cloned()
                        .collect(),
                })
            })
            .collect()
    }

    /// Exports the period from every log into one file: one section per log, each exactly a
    /// single log's export (header with its signed head, entries with proofs, closing count),
    /// so [`check_export_set`] can check each against its own key.
    pub fn export(
        &self,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        out: &mut dyn std::io::Write,
    ) -> Result<Vec<(String, ExportSummary)>> {
        self.logs
            .iter()
            .map(|log| Ok((log.log_id().to_owned(), log.export(from, to, &mut *out)?)))
            .collect()
    }

    /// The path of the log with this id.
    pub fn path_of(&self, log_id: &str) -> Option<&Path> {
        self.logs
            .iter()
            .find(|l| l.log_id() == log_id)
            .map(|l| l.path())
    }

    /// How many entries of each log a result holds, by log id (every log of the set listed).
    pub fn count_by_log(&self, res: &SetQueryResult) -> BTreeMap<String, usize> {
        let mut m: BTreeMap<String, usize> = self
            .logs
            .iter()
            .map(|l| (l.log_id().to_owned(), 0))
            .collect();
        for e in &res.entries {
            *m.entry(e.log.clone()).or_default() += 1;
        }
        m
    }
}

/// Checks an export file of one or more sections (one per log) offline: every section's head is
/// signed by one of `keys` (the key is picked by the signature), every entry is proved, every
/// count closes, and no log appears twice. Names the line of the first problem.
pub fn check_export_set(
    input: &mut dyn BufRead,
    keys: &[LogPublicKey],
) -> std::result::Result<Vec<ExportCheck>, String> {
    let mut lines = input.lines().enumerate().peekable();
    let mut out: Vec<ExportCheck> = Vec::new();
    while lines.peek().is_some() {
        let c = check_section(&mut lines, &|head: &SignedTreeHead| {
            keys.iter().copied().find(|k| head.verify(k).is_ok())
        })?;
        if out.iter().any(|o| o.log_id == c.log_id) {
            return Err(format!("log {:?} has two sections", c.log_id));
        }
        out.push(c);
    }
    if out.is_empty() {
        return Err("empty export file".into());
    }
    Ok(out)
}
