//! Throughput of the whole check (safety + XSD + model + rules) beside libxml2's XSD validation
//! alone on the same bytes, in the same run, for documents of 1, 10 and 100 lines. Read the
//! figures as a ratio: full check time / XSD-only time.
//!
//! Documents are built from the hand-made outpatient basis in tests/data by repeating its line
//! (lineIds and payable amount kept consistent), so every layer sees a valid document.
//!
//! Run: `cargo bench --bench validate -- --measurement-time 3`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use invoice_hub::claim::{Amount, ClaimSpecification};
use invoice_hub::validate::{RuleContext, Validator};
use rust_decimal::Decimal;

fn document(lines: usize) -> Vec<u8> {
    let raw = std::fs::read(format!(
        "{}/tests/data/outpatient_patient_specific.xml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("test document");
    let mut claim = ClaimSpecification::from_xml(&raw).expect("valid test document");
    let line = claim.health_care_services_specification_line[0].clone();
    let net = line.healthcare_performed[0]
        .invoiced_amount_details
        .patient_care_invoice_net_amount
        .value()
        .expect("amount");
    claim.health_care_services_specification_line = (1..=lines)
        .map(|i| {
            let mut l = line.clone();
            l.healthcare_performed[0].line_id = i.to_string();
            l
        })
        .collect();
    claim.payable_amount = Amount::sek(net * Decimal::from(lines));
    claim.to_xml().into_bytes()
}

fn bench(c: &mut Criterion) {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let validator = Validator::new(RuleContext::new(today)).expect("schema compiles");
    for lines in [1usize, 10, 100] {
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
