//! Assessments per second: the example policy (put in force for the sending region) applied to
//! generated bases of 1, 10 and 100 lines, beside the validation of the same bytes in the same
//! run, so the figure reads as "the policy costs this fraction of the check before it".
//!
//! Run: `cargo bench --bench policy -- --measurement-time 3 --warm-up-time 1`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use invoice_hub::policy::{Assessor, Policy, PolicySet};
use invoice_hub::synth::{GenOptions, Generator};
use invoice_hub::validate::{RuleContext, Validator};

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

fn bench(c: &mut Criterion) {
    let validator = Validator::new(RuleContext::new(today())).expect("schema compiles");
    let file = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("deploy/policies/region-halland.toml");
    let example = Policy::load(&file).expect("the example policy loads");
    let set = PolicySet::template(
        &example,
        invoice_hub::claim::regions::REGIONS.iter().map(|r| r.org),
    );
    let assessor = Assessor::new(set, validator.clone());
    for lines in [1u32, 10, 100] {
        let mut opts = GenOptions::new(2026, today());
        opts.lines = lines..=lines;
        let doc = Generator::new(opts).unwrap().generate(0).xml;
        let claim = validator.validate(&doc).claim.expect("valid");
        let mut group = c.benchmark_group(format!("policy_{lines}_lines"));
        group.bench_with_input(BenchmarkId::new("validate", doc.len()), &doc, |b, doc| {
            b.iter(|| validator.validate(doc))
        });
        group.bench_with_input(BenchmarkId::new("assess", doc.len()), &doc, |b, doc| {
            b.iter(|| assessor.assess(doc, &claim, today()))
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
