//! The floors the exchange's cost is held against, measured in this process in the same run:
//!
//! - **XSD only**: libxml2's schema validation alone of the same documents the end-to-end point
//!   sends, one after the other on one thread — the least the hub must spend per basis (it must
//!   at least validate). Its CPU time is the thread's own (`/proc/thread-self/stat`), so the
//!   rest of the machine does not count.
//! - **The disclosure log**: durable appends (each call returns after its commit's fsync) in
//!   batches of 1, 64 and 512 records, the records the hub writes per basis, on a fresh log
//!   in the bench's work directory (the same disk the hub's log is on).

use std::path::Path;
use std::time::Instant;

use invoice_hub::audit::{AuditLog, LogConfig, LogSigningKey, PatientKey, Record};
use invoice_hub::validate::xsd::Schema;
use invoice_hub::validate::MAX_XSD_FINDINGS;
use serde::Serialize;

use crate::load::Basis;
use crate::log_record::record;

/// libxml2 XSD-only validation of a set of documents.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct XsdOnly {
    pub docs: usize,
    /// CPU milliseconds per document on the validating thread.
    pub cpu_ms_per_doc: f64,
}

/// Durable appends at one batch size.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct LogRate {
    pub batch: usize,
    pub records: usize,
    pub appends_per_sec: f64,
}

/// CPU seconds of the calling thread so far.
fn thread_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    (11..=12)
        .filter_map(|i| f.get(i)?.parse::<f64>().ok())
        .sum::<f64>()
        / 100.0
}

/// Validates every basis against the embedded schema, as the hub's first check does.
pub(crate) fn xsd_only(bases: &[Basis]) -> XsdOnly {
    let schema = Schema::embedded().expect("the embedded schema compiles");
    let docs: Vec<Vec<u8>> = bases
        .iter()
        .map(|b| std::fs::read(&b.path).expect("a generated basis"))
        .collect();
    let t0 = thread_cpu_secs();
    for d in &docs {
        let findings = schema.validate(d, MAX_XSD_FINDINGS);
        assert!(findings.is_empty(), "a generated basis is schema-invalid");
    }
    let secs = thread_cpu_secs() - t0;
    XsdOnly {
        docs: docs.len(),
        cpu_ms_per_doc: secs * 1e3 / docs.len().max(1) as f64,
    }
}

/// Durable appends per second at batch sizes 1, 64 and 512 (`scale` shrinks the counts for the
/// smoke run).
pub(crate) fn log_rates(dir: &Path, scale: usize) -> Vec<LogRate> {
    let _ = std::fs::remove_dir_all(dir);
    let log = AuditLog::open(
        dir,
        LogConfig::new("hub-bench", LogSigningKey::from_seed([1; 32])),
    )
    .expect("a fresh log");
    let pk = PatientKey::from_bytes(&[7; 32]).unwrap();
    let mut next = 0usize;
    let mut out = Vec::new();
    for (batch, records) in [(1usize, 300usize), (64, 12_800), (512, 51_200)] {
        let records = (records / scale).max(batch);
        let batches: Vec<Vec<Record>> = (0..records / batch)
            .map(|k| {
                let from = next + k * batch;
                (from..from + batch)
                    .map(|j| record(j as u64, &pk))
                    .collect()
            })
            .collect();
        next += records / batch * batch;
        let t = Instant::now();
        let mut done = 0;
        for recs in &batches {
            log.append_batch(recs).expect("a durable append");
            done += recs.len();
        }
        let secs = t.elapsed().as_secs_f64();
        out.push(LogRate {
            batch,
            records: done,
            appends_per_sec: done as f64 / secs,
        });
        eprintln!(
            "bench: log appends in batches of {batch}: {:.0}/s",
            done as f64 / secs
        );
    }
    drop(log);
    let _ = std::fs::remove_dir_all(dir);
    out
}
