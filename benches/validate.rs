//! Throughput of the whole check (safety + XSD + model + rules) beside libxml2's XSD validation
//! alone on the same bytes, in the same run, for documents of 1, 10 and 100 lines. Read the
//! figures as a ratio: full check time / XSD-only time.
//!
//! Documents come from the generator (`invoice_hub::synth`, seed 2026, index 0) with exactly 1, 10
//! and 100 healthcarePerformed lines: realistic mixes of outpatient, inpatient, DRG and
//! patient-specific pricing, every layer sees a valid document. Criterion reports time per
//! document (documents/s = 1 / time) and MB/s (throughput in bytes).
//!
//! Run: `cargo bench --bench validate -- --measurement-time 3 --warm-up-time 1`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use invoice_hub::synth::{GenOptions, Generator};
use invoice_hub::validate::{RuleContext, Validator};

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

/// A generated valid document with exactly `lines` lines.
fn document(lines: u32) -> Vec<u8> {
    let mut opts = GenOptions::new(2026, today());
    opts.month = chrono::NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    opts.lines = lines..=lines;
    let g = Generator::new(opts).expect("options").generate(0);
    assert_eq!(g.entry.lines, lines);
    g.xml
}

fn bench(c: &mut Criterion) {
    let validator = Validator::new(RuleContext::new(today())).expect("schema compiles");
    for lines in [1u32, 10, 100] {
        let doc = document(lines);
        let report = validator.validate(&doc);
        assert!(
            report.is_valid(),
            "benchmark document invalid:\n{}",
            report.text()
        );

        let mut group = c.benchmark_group(format!("validate_{lines}_lines"));
        group.throughput(Throughput::Bytes(doc.len() as u64));
        group.bench_with_input(BenchmarkId::new("xsd_only", doc.len()), &doc, |b, doc| {
            b.iter(|| {
                let f = validator.schema().validate(doc, 50);
                assert!(f.is_empty());
            })
        });
        group.bench_with_input(BenchmarkId::new("full", doc.len()), &doc, |b, doc| {
            b.iter(|| {
                let r = validator.validate(doc);
                assert!(r.is_valid());
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
