//! Disclosure log benchmarks.
//!
//! - `append/one_at_a_time` vs `append/batch_of_64`: durable appends (each call returns after
//!   its transaction's fsync), in entries/s; the ratio is what group commit buys.
//! - `verify/10000`: a full `verify` of a 10 000-entry log (the default run).
//! - `verify/1000000`: the same for 1 000 000 entries, only when `AUDIT_BENCH_1M=1` is set. It
//!   builds the log first (minutes) and a criterion run of 10 samples would take many more, so it
//!   is a separate timed measurement of `AUDIT_BENCH_1M_RUNS` (default 2) full verifications,
//!   printed beside a 10 000-entry verification timed the same way in the same run:
//!   `AUDIT_BENCH_1M=1 cargo bench --bench audit -- verify/`.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use invoice_hub::audit::{AuditLog, LogConfig, LogSigningKey, PatientKey, VerifyOptions};
use std::path::Path;

#[path = "support/log_record.rs"]
mod log_record;
use log_record::record;

fn open(dir: &Path) -> AuditLog {
    AuditLog::open(
        dir,
        LogConfig {
            log_id: "hub-bench".into(),
            signing_key: LogSigningKey::from_seed([1; 32]),
            checkpoint_every: 4096,
            patient_key_id: None,
        },
    )
    .unwrap()
}

fn build(dir: &Path, n: u64, pk: &PatientKey) -> AuditLog {
    let log = open(dir);
    let mut i = 0;
    while i < n {
        let end = (i + 10_000).min(n);
        let recs: Vec<_> = (i..end).map(|j| record(j, pk)).collect();
        log.append_batch(&recs).unwrap();
        i = end;
    }
    log.sign_head().unwrap();
    log
}

fn appends(c: &mut Criterion) {
    let pk = PatientKey::from_bytes(&[7; 32]).unwrap();
    let d = tempfile::tempdir().unwrap();
    let log = open(d.path());
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(1));
    let mut i = 0u64;
    g.bench_function("one_at_a_time", |b| {
        b.iter_batched(
            || {
                i += 1;
                record(i, &pk)
            },
            |r| log.append(&r).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.throughput(Throughput::Elements(64));
    g.bench_function("batch_of_64", |b| {
        b.iter_batched(
            || {
                let recs: Vec<_> = (i..i + 64).map(|j| record(j, &pk)).collect();
                i += 64;
                recs
            },
            |recs| log.append_batch(&recs).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

fn verify(c: &mut Criterion) {
    let pk = PatientKey::from_bytes(&[7; 32]).unwrap();
    let mut g = c.benchmark_group("verify");
    g.sample_size(10);
    let d = tempfile::tempdir().unwrap();
    let log = build(d.path(), 10_000, &pk);
    g.throughput(Throughput::Elements(10_000));
    g.bench_function("10000", |b| {
        b.iter(|| {
            let r = log.verify(&VerifyOptions::default()).unwrap();
            assert!(r.ok());
            r
        })
    });
    g.finish();
    if std::env::var_os("AUDIT_BENCH_1M").is_some() {
        let runs: u32 = std::env::var("AUDIT_BENCH_1M_RUNS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2);
        let small = timed_verify(&log, runs);
        drop(log);
        let d = tempfile::tempdir().unwrap();
        let t = std::time::Instant::now();
        let big = build(d.path(), 1_000_000, &pk);
        let built = t.elapsed();
        let large = timed_verify(&big, runs);
        println!(
            "verify/1000000: build {:.1} s (batches of 10 000); verify {:.2} s (mean of {runs}), \
             {:.2} µs/entry; verify/10000 same run {:.3} s, {:.2} µs/entry; per-entry ratio {:.2}",
            built.as_secs_f64(),
            large,
            large * 1e6 / 1_000_000.0,
            small,
            small * 1e6 / 10_000.0,
            (large / 1_000_000.0) / (small / 10_000.0)
        );
    }
}

/// Mean seconds of `runs` full verifications.
fn timed_verify(log: &AuditLog, runs: u32) -> f64 {
    let mut total = 0.0;
    for _ in 0..runs {
        let t = std::time::Instant::now();
        let r = log.verify(&VerifyOptions::default()).unwrap();
        total += t.elapsed().as_secs_f64();
        assert!(r.ok(), "{:?}", r.first());
    }
    total / runs as f64
}

criterion_group!(benches, appends, verify);
criterion_main!(benches);
