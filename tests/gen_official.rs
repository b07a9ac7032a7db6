//! What the generator makes, an official receiver accepts: 5 000 bases across the generator's
//! options (line counts, months, region subsets, seeds) pass the official Schematron profile —
//! R49 with its 138 codes above all — as well as the contract's. Before the official list, 412
//! of 1 000 generated bases failed R49 at any official receiver.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use invoice_hub::claim::regions::region;
use invoice_hub::synth::{GenOptions, Generator};
use invoice_hub::validate::{Profile, RuleContext, Validator};

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

/// The option sets, 1 000 bases each: seeds, line ranges, months and a region subset.
fn option_sets() -> Vec<GenOptions> {
    let mut sets = Vec::new();
    let month = |m| NaiveDate::from_ymd_opt(2026, m, 1).unwrap();
    for (seed, lines, m, regions) in [
        (1u64, 1..=1, 10, vec![]),
        (2, 1..=100, 10, vec![]),
        (3, 1..=5, 11, vec![]),
        (4, 50..=120, 9, vec![]),
        (
            5,
            1..=20,
            10,
            vec!["2321000016", "2321000115", "2321000131"],
        ),
    ] {
        let mut o = GenOptions::new(seed, today());
        o.lines = lines;
        o.month = month(m);
        o.regions = regions
            .iter()
            .map(|r| region(r).expect("a region"))
            .collect();
        sets.push(o);
    }
    sets
}

#[test]
fn five_thousand_generated_bases_pass_the_official_schematron_profile() {
    let official =
        Validator::new(RuleContext::new(today()).with_profile(Profile::OfficialSchematron))
            .unwrap();
    let contract = Validator::new(RuleContext::new(today())).unwrap();
    let mut failures = Vec::new();
    let mut fields: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0;
    for opts in option_sets() {
        let per_set = 1000;
        let generator = Generator::new(opts).unwrap();
        for i in 0..per_set {
            let g = generator.generate(i);
            total += 1;
            let claim = invoice_hub::claim::ClaimSpecification::from_xml(&g.xml).unwrap();
            for l in &claim.health_care_services_specification_line {
                for hp in &l.healthcare_performed {
                    *fields
                        .entry(hp.activity.medical_field_code.clone())
                        .or_default() += 1;
                }
            }
            for (name, v) in [("official", &official), ("contract", &contract)] {
                let r = v.validate(&g.xml);
                if !r.is_valid() && failures.len() < 10 {
                    failures.push(format!(
                        "{name}: {} (index {i}):\n{}",
                        g.file_name,
                        r.text()
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(total, 5000);
    // Realistic weights: psychiatry, primary care and the common specialities all appear, and
    // every code is one of the official list's.
    let register = invoice_hub::validate::rules::MedicalFieldCodes::embedded();
    assert!(fields.keys().all(|c| register.contains(c)), "{fields:?}");
    let share = |p: fn(&str) -> bool| {
        let n: usize = fields.iter().filter(|(c, _)| p(c)).map(|(_, n)| n).sum();
        n as f64 / fields.values().sum::<usize>() as f64
    };
    assert!(share(|c| c.starts_with('9')) > 0.03, "{fields:?}");
    assert!(share(|c| c.starts_with('0')) > 0.03, "{fields:?}");
    assert!(share(|c| c.starts_with('1')) > 0.2, "{fields:?}");
}
