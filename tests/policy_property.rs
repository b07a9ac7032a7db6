//! Over generated bases from every region (the example policy put in force for each): whatever
//! the policy decides, a `disclose` or `remove` outcome carries a document that satisfies the
//! contract, and every other outcome names its rules and a reason. And the policy's cheaper
//! check of a reduced document ([`Validator::recheck`]: its model and bytes, not a parse of them)
//! finds exactly what a full validation of the same bytes finds, whatever is left out.

use std::path::PathBuf;

use chrono::NaiveDate;
use invoice_hub::claim::regions::REGIONS;
use invoice_hub::claim::ProcessClaimSpecification;
use invoice_hub::policy::{Assessor, Outcome, Policy, PolicySet, REMOVABLE};
use invoice_hub::synth::{GenOptions, Generator};
use invoice_hub::validate::{RuleContext, Validator};
use proptest::prelude::*;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

/// Halland's example policy, once per region as the sending region.
fn every_region_policy() -> PolicySet {
    let file =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("deploy/policies/region-halland.toml");
    PolicySet::template(&Policy::load(&file).unwrap(), REGIONS.iter().map(|r| r.org))
}

fn setup() -> (Generator, Validator, Assessor) {
    let mut opts = GenOptions::new(2026, today());
    opts.lines = 1..=12;
    let validator = Validator::new(RuleContext::new(today())).unwrap();
    let assessor = Assessor::new(every_region_policy(), validator.clone());
    (Generator::new(opts).unwrap(), validator, assessor)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn disclosures_are_valid_and_refusals_explained(index in 0u64..50_000) {
        let (generator, validator, assessor) = setup();
        let doc = generator.generate(index);
        let report = validator.validate(&doc.xml);
        prop_assert!(report.is_valid(), "generated document invalid: {}", report.text());
        let claim = report.claim.unwrap();
        let d = assessor.assess(&doc.xml, &claim, today());
        prop_assert!(!d.rules.is_empty(), "a decision always names its rules");
        prop_assert!(d.board_decision.is_some());
        match d.outcome {
            Outcome::Disclose | Outcome::Remove => {
                let out = d.disclosed.as_ref().expect("a disclosed document");
                let again = validator.validate(out);
                prop_assert!(again.is_valid(), "{}:\n{}", d.text(), again.text());
                if d.outcome == Outcome::Disclose {
                    prop_assert_eq!(out, &doc.xml);
                } else {
                    prop_assert!(!d.removed.is_empty());
                }
            }
            Outcome::Withhold | Outcome::Reject => {
                prop_assert!(d.disclosed.is_none());
                prop_assert!(d.reason.as_deref().is_some_and(|r| !r.is_empty()), "{}", d.text());
            }
        }
        if doc.entry.features.abortion {
            prop_assert!(!d.outcome.discloses(), "abortion is withheld: {}", d.text());
        }
    }

    /// Every removable element, left out of every unit of care and patient of a generated basis
    /// one at a time (with nothing pruned after it, so some of them break a rule): the recheck
    /// and a full validation of the written bytes agree, finding for finding.
    #[test]
    fn a_recheck_finds_what_a_full_validation_finds(index in 0u64..50_000, pick in 0usize..1000) {
        let (generator, validator, _) = setup();
        let doc = generator.generate(index);
        let mut model = ProcessClaimSpecification::from_xml(&doc.xml).unwrap();
        let r = &REMOVABLE[pick % REMOVABLE.len()];
        for line in &mut model.claim_specification.health_care_services_specification_line {
            r.apply_patient(&mut line.patient_information.patient_other_information);
            for hp in &mut line.healthcare_performed {
                r.apply_performed(hp);
            }
        }
        let bytes = model.to_xml().into_bytes();
        let key = |f: &invoice_hub::validate::Finding| (f.rule.clone(), f.path.clone(), f.message.clone());
        let mut quick: Vec<_> = validator.recheck(&bytes, &model.claim_specification).iter().map(key).collect();
        let mut full: Vec<_> = validator.validate(&bytes).findings.iter().map(key).collect();
        quick.sort();
        full.sort();
        prop_assert_eq!(quick, full, "{} left out", r.path);
    }
}
