//! `--invalid-rate`: each document the manifest marks as broken breaks exactly the rule it
//! names — the validator reports that rule and no other — and every unmarked document is valid.
//! This is what lets end-to-end tests prove each rule is caught under the right id.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use chrono::NaiveDate;
use invoice_hub::synth::inject::INJECTIONS;
use invoice_hub::synth::{GenOptions, Generator};
use invoice_hub::validate::{RuleContext, Validator};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

#[test]
fn every_injected_violation_is_reported_under_the_manifests_rule_and_nothing_else() {
    const COUNT: u64 = 3_000;
    let mut opts = GenOptions::new(77, today());
    opts.month = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    opts.invalid_rate = 0.2;
    let generator = Generator::new(opts).unwrap();
    let validator = Validator::new(RuleContext::new(today())).unwrap();
    let next = AtomicU64::new(0);
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let per_rule: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= COUNT {
                    break;
                }
                let g = generator.generate(i);
                let report = validator.validate(&g.xml);
                let found: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
                let ok = match &g.entry.injected_rule {
                    None => found.is_empty(),
                    Some(rule) => !found.is_empty() && found.iter().all(|f| f == rule),
                };
                if let Some(rule) = &g.entry.injected_rule {
                    *per_rule.lock().unwrap().entry(rule.clone()).or_default() += 1;
                }
                if !ok {
                    let mut f = failures.lock().unwrap();
                    if f.len() < 15 {
                        f.push(format!(
                            "{} injected {:?}, validator found:\n{}",
                            g.file_name,
                            g.entry.injected_rule,
                            if found.is_empty() {
                                "  nothing\n".to_string()
                            } else {
                                report.text()
                            }
                        ));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let per_rule = per_rule.into_inner().unwrap();
    let invalid: usize = per_rule.values().sum();
    assert!(
        (450..=750).contains(&invalid),
        "{invalid} of {COUNT} documents invalid at rate 0.2"
    );
    assert!(
        per_rule.len() >= 40,
        "only {} distinct rules injected: {per_rule:?}",
        per_rule.len()
    );
}

#[test]
fn every_injection_breaks_its_rule_on_some_document() {
    // Each injection on its own (start = its position), over documents until one applies: none
    // is dead code, and each is reported under its own id alone.
    let mut opts = GenOptions::new(5, today());
    opts.month = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    opts.lines = 3..=12;
    let generator = Generator::new(opts).unwrap();
    let validator = Validator::new(RuleContext::new(today())).unwrap();
    let ctx = invoice_hub::synth::inject::InjectContext { today: today() };
    let mut missing = Vec::new();
    for (k, inj) in INJECTIONS.iter().enumerate() {
        let mut done = false;
        for i in 0..200u64 {
            let mut claim =
                invoice_hub::claim::ClaimSpecification::from_xml(&generator.generate(i).xml)
                    .unwrap();
            let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(i);
            if !(inj.apply)(&mut claim, &mut rng, &ctx) {
                continue;
            }
            let report = validator.validate(claim.to_xml().as_bytes());
            let rules: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
            assert!(
                !rules.is_empty() && rules.iter().all(|r| *r == inj.rule),
                "injection {k} ({}) on document {i} gave {rules:?}:\n{}",
                inj.rule,
                report.text()
            );
            done = true;
            break;
        }
        if !done {
            missing.push(inj.rule);
        }
    }
    assert!(missing.is_empty(), "never applicable: {missing:?}");
}
