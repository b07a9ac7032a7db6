//! Over generated bases from every region (the example policy put in force for each): whatever
//! the policy decides, a `disclose` or `remove` outcome carries a document that satisfies the
//! contract, and every other outcome names its rules and a reason.

use std::path::PathBuf;

use chrono::NaiveDate;
use invoice_hub::claim::regions::REGIONS;
use invoice_hub::policy::{Assessor, Outcome, Policy, PolicySet};
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
}
