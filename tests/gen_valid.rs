//! The generator's promise to every other part: at invalid-rate 0 every document passes the
//! full validator (safety limits, libxml2 XSD, business rules ÖR1–ÖR52, identifier checks).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use chrono::NaiveDate;
use invoice_hub::synth::{GenOptions, Generator};
use invoice_hub::validate::{RuleContext, Validator};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

#[test]
fn ten_thousand_documents_at_invalid_rate_0_are_all_valid() {
    const COUNT: u64 = 10_000;
    let mut opts = GenOptions::new(20261123, today());
    opts.month = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    let generator = Generator::new(opts).unwrap();
    let validator = Validator::new(RuleContext::new(today())).unwrap();
    let next = AtomicU64::new(0);
    let failures: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let seen = Mutex::new((0u64, 0u64, 0u64)); // documents, lines, credit notes
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                let (mut docs, mut lines, mut credit) = (0, 0, 0);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= COUNT {
                        break;
                    }
                    let g = generator.generate(i);
                    assert_eq!(g.entry.injected_rule, None);
                    docs += 1;
                    lines += u64::from(g.entry.lines);
                    credit += u64::from(g.entry.type_of_invoice == "381");
                    let report = validator.validate(&g.xml);
                    if !report.is_valid() {
                        let mut f = failures.lock().unwrap();
                        if f.len() < 10 {
                            f.push(format!("{} (index {i}):\n{}", g.file_name, report.text()));
                        }
                    }
                }
                let mut t = seen.lock().unwrap();
                t.0 += docs;
                t.1 += lines;
                t.2 += credit;
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "generated documents the validator refuses:\n{}",
        failures.join("\n")
    );
    let (docs, lines, credit) = seen.into_inner().unwrap();
    assert_eq!(docs, COUNT);
    assert!(credit > COUNT / 50, "{credit} credit notes");
    assert!(lines > COUNT * 2, "{lines} lines");
}
