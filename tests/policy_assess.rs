//! The policy engine applied to real documents: every condition, every action, and how they
//! combine. Documents are the hand-made ones in tests/data, changed through the model.

use std::path::PathBuf;

use chrono::NaiveDate;
use invoice_hub::claim::{ClaimSpecification, ProcessClaimSpecification, CV};
use invoice_hub::policy::{Assessor, Decision, Outcome, PolicySet};
use invoice_hub::validate::{RuleContext, Validator};

const SKANE: &str = "2321000255";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

fn validator() -> Validator {
    Validator::new(RuleContext::new(today())).unwrap()
}

fn sample(name: &str) -> ClaimSpecification {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    ClaimSpecification::from_xml(&std::fs::read(path).unwrap()).unwrap()
}

/// The outpatient sample: Skåne → Stockholm, one unit of care, medical field 107, care level 2,
/// diagnosis I48.9, KVÅ AF037, agreement 4.1, personnummer of a woman born 1978, care unit
/// SE2321000255-E12345.
fn outpatient() -> ClaimSpecification {
    sample("outpatient_patient_specific.xml")
}

/// A policy for Skåne with the given rules after the header.
fn policy_text(rules: &str) -> String {
    format!(
        "id = \"skane-test\"\nversion = \"1\"\nregion = \"{SKANE}\"\n\
         [board_decision]\nreference = \"RS 2026/1 §1\"\ndate = \"2026-01-10\"\n\
         [validity]\nfrom = \"2026-01-01\"\n{rules}"
    )
}

struct Fixture {
    _dir: tempfile::TempDir,
    assessor: Assessor,
}

fn fixture(rules: &str, protected: Option<&str>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let mut text = policy_text(rules);
    if let Some(ids) = protected {
        std::fs::write(dir.path().join("protected.txt"), ids).unwrap();
        text = text.replacen(
            "[board_decision]",
            "protected_identities = \"protected.txt\"\n[board_decision]",
            1,
        );
    }
    let path = dir.path().join("skane.toml");
    std::fs::write(&path, text).unwrap();
    let set = PolicySet::load(&[path]).unwrap_or_else(|e| panic!("{e}"));
    Fixture {
        _dir: dir,
        assessor: Assessor::new(set, validator()),
    }
}

fn assess_with(f: &Fixture, claim: &ClaimSpecification) -> Decision {
    let raw = claim.to_xml().into_bytes();
    f.assessor.assess(&raw, claim, today())
}

fn assess(rules: &str, claim: &ClaimSpecification) -> Decision {
    assess_with(&fixture(rules, None), claim)
}

const DEFAULT: &str = "[[rule]]\nid = \"D\"\ndescription = \"default\"\naction = \"disclose\"\n";

fn withhold_when(cond: &str) -> String {
    format!(
        "[[rule]]\nid = \"C\"\ndescription = \"test\"\naction = \"withhold\"\nwhen = {{ {cond} }}\n{DEFAULT}"
    )
}

fn cv(code: &str, system: &str) -> CV {
    CV {
        code: Some(code.into()),
        code_system: Some(system.into()),
        ..CV::default()
    }
}

type Mutation = fn(&mut ClaimSpecification);

fn unchanged(_: &mut ClaimSpecification) {}

fn first(c: &mut ClaimSpecification) -> &mut invoice_hub::claim::HealthcarePerformed {
    &mut c.health_care_services_specification_line[0].healthcare_performed[0]
}

#[test]
fn every_condition_matches_when_it_should_and_only_then() {
    let cases: Vec<(&str, Mutation, bool)> = vec![
        ("medical_field_code = [\"10\"]", unchanged, true),
        ("medical_field_code = [\"9\"]", unchanged, false),
        ("icd10 = [\"I48\"]", unchanged, true),
        ("icd10 = [\"I40-I49\"]", unchanged, true),
        ("icd10 = [\"I50-I59\"]", unchanged, false),
        ("icd10 = [\"F\"]", unchanged, false),
        ("kva = [\"AF\"]", unchanged, true),
        ("kva = [\"ZZ\"]", unchanged, false),
        ("atc = [\"C01\"]", unchanged, false),
        (
            "atc = [\"C01\"]",
            |c| {
                first(c)
                    .treatment
                    .as_mut()
                    .unwrap()
                    .atc
                    .push(cv("C01BD01", "1.2.752.129.2.2.3.1.1"))
            },
            true,
        ),
        ("agreement_in_riksavtalet = [\"4.1\"]", unchanged, true),
        ("agreement_in_riksavtalet = [\"4.4\"]", unchanged, false),
        ("patient_fee_reduced_category = [\"03\"]", unchanged, false),
        (
            "patient_fee_reduced_category = [\"03\"]",
            |c| {
                first(c)
                    .invoiced_amount_details
                    .patient_fee_reduced_category = Some("03".into())
            },
            true,
        ),
        ("type_of_care = [\"01\"]", unchanged, true),
        ("type_of_care = [\"02\"]", unchanged, false),
        ("care_level = [\"2\"]", unchanged, true),
        ("care_level = [\"1\"]", unchanged, false),
        ("business_classification = [\"1030\"]", unchanged, true),
        ("business_classification = [\"9999\"]", unchanged, false),
        ("patient_id = [\"personnummer\"]", unchanged, true),
        (
            "patient_id = [\"samordningsnummer\", \"reservnummer\"]",
            unchanged,
            false,
        ),
        (
            "patient_id = [\"reservnummer\"]",
            |c| {
                c.health_care_services_specification_line[0]
                    .patient_information
                    .patient_identity
                    .root = "1.2.752.97.3.1.3".into()
            },
            true,
        ),
        ("asylum_seeker = true", unchanged, false),
        ("asylum_seeker = false", unchanged, true),
        (
            "asylum_seeker = true",
            |c| {
                let o = &mut c.health_care_services_specification_line[0]
                    .patient_information
                    .patient_other_information;
                o.county = CV {
                    code: Some("99".into()),
                    ..CV::default()
                };
                o.municipality = CV {
                    code: Some("9901".into()),
                    ..CV::default()
                };
                o.lma_card_number = Some("12345678".into());
            },
            true,
        ),
        ("age = { min = 40, max = 50 }", unchanged, true),
        ("age = { max = 17 }", unchanged, false),
        ("age = { min = 49 }", unchanged, false),
        (
            "age = { max = 17 }",
            |c| {
                c.health_care_services_specification_line[0]
                    .patient_information
                    .patient_identity
                    .extension = "201501152381".into()
            },
            true,
        ),
        (
            "age = { min = 0 }",
            |c| {
                c.health_care_services_specification_line[0]
                    .patient_information
                    .patient_identity
                    .root = "1.2.752.97.3.1.3".into()
            },
            false,
        ),
        ("care_unit = [\"SE2321000255-E12345\"]", unchanged, true),
        ("care_unit = [\"SE2321000255-OTHER\"]", unchanged, false),
        ("receiver = [\"2321000016\"]", unchanged, true),
        ("receiver = [\"2321000115\"]", unchanged, false),
        (
            "all = [{ care_level = [\"2\"] }, { type_of_care = [\"01\"] }]",
            unchanged,
            true,
        ),
        (
            "all = [{ care_level = [\"2\"] }, { type_of_care = [\"02\"] }]",
            unchanged,
            false,
        ),
        (
            "any = [{ care_level = [\"1\"] }, { type_of_care = [\"01\"] }]",
            unchanged,
            true,
        ),
        (
            "any = [{ care_level = [\"1\"] }, { type_of_care = [\"02\"] }]",
            unchanged,
            false,
        ),
        ("not = { care_level = [\"2\"] }", unchanged, false),
        ("not = { care_level = [\"1\"] }", unchanged, true),
        (
            "care_level = [\"2\"], type_of_care = [\"02\"]",
            unchanged,
            false,
        ),
        (
            "care_level = [\"2\"], type_of_care = [\"01\"]",
            unchanged,
            true,
        ),
    ];
    for (cond, mutate, expect) in cases {
        let mut claim = outpatient();
        mutate(&mut claim);
        let d = assess(&withhold_when(cond), &claim);
        let matched = d.rules.iter().any(|r| r.id == "C");
        assert_eq!(matched, expect, "condition `{cond}`:\n{}", d.text());
        let expected = if expect {
            Outcome::Withhold
        } else {
            Outcome::Disclose
        };
        assert_eq!(d.outcome, expected, "condition `{cond}`:\n{}", d.text());
    }
}

#[test]
fn disclose_sends_the_document_exactly_as_received() {
    let claim = outpatient();
    let raw = std::fs::read(format!(
        "{}/tests/data/outpatient_patient_specific.xml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let f = fixture(DEFAULT, None);
    let d = f.assessor.assess(&raw, &claim, today());
    assert_eq!(d.outcome, Outcome::Disclose);
    assert_eq!(d.disclosed.as_deref(), Some(&raw[..]));
    assert_eq!(d.rule_ids(), vec!["D"]);
    assert_eq!(d.policy_id.as_deref(), Some("skane-test"));
    assert_eq!(d.policy_version.as_deref(), Some("1"));
    assert_eq!(d.board_decision.as_ref().unwrap().reference, "RS 2026/1 §1");
    assert!(d.reason.is_none());
}

fn reread(d: &Decision) -> ClaimSpecification {
    let bytes = d.disclosed.as_ref().expect("a disclosed document");
    let report = validator().validate(bytes);
    assert!(
        report.is_valid(),
        "disclosed document invalid:\n{}",
        report.text()
    );
    ProcessClaimSpecification::from_xml(bytes)
        .unwrap()
        .claim_specification
}

const PERFORMED: &str =
    "/claimSpecification/healthCareServicesSpecificationLine[1]/healthcarePerformed[1]";

#[test]
fn remove_leaves_out_exactly_the_named_elements_and_the_result_is_valid() {
    let rules = format!(
        "[[rule]]\nid = \"R\"\ndescription = \"r\"\naction = \"remove\"\n\
         remove = [\"healthcarePerformed/diagnosis\", \
         \"patientInformation/patientOtherInformation/gender\"]\n{DEFAULT}"
    );
    let claim = outpatient();
    let d = assess(&rules, &claim);
    assert_eq!(d.outcome, Outcome::Remove, "{}", d.text());
    assert_eq!(
        d.removed,
        vec![
            format!("{PERFORMED}/diagnosis"),
            "/claimSpecification/healthCareServicesSpecificationLine[1]/patientInformation/patientOtherInformation/gender".to_string(),
        ]
    );
    assert_eq!(d.rule_ids(), vec!["R", "D"]);
    let out = reread(&d);
    let mut expected = claim.clone();
    first(&mut expected).diagnosis = None;
    expected.health_care_services_specification_line[0]
        .patient_information
        .patient_other_information
        .gender = None;
    assert_eq!(out, expected);
}

#[test]
fn removals_of_several_rules_are_unioned_and_emptied_containers_go_too() {
    let rules = format!(
        "[[rule]]\nid = \"R1\"\ndescription = \"r1\"\naction = \"remove\"\n\
         remove = [\"healthcarePerformed/diagnosis/outpatientCareDiagnosis\"]\n\
         [[rule]]\nid = \"R2\"\ndescription = \"r2\"\naction = \"remove\"\n\
         remove = [\"healthcarePerformed/treatment/typeOfTreatment\"]\nwhen = {{ kva = [\"AF\"] }}\n\
         {DEFAULT}"
    );
    let d = assess(&rules, &outpatient());
    assert_eq!(d.outcome, Outcome::Remove);
    for p in [
        "diagnosis",
        "diagnosis/outpatientCareDiagnosis",
        "treatment",
        "treatment/typeOfTreatment",
    ] {
        assert!(
            d.removed.contains(&format!("{PERFORMED}/{p}")),
            "{p} not in {:?}",
            d.removed
        );
    }
    let out = reread(&d);
    assert!(first(&mut out.clone()).diagnosis.is_none());
    assert!(first(&mut out.clone()).treatment.is_none());
}

#[test]
fn a_removal_of_what_the_basis_does_not_have_discloses_it_unchanged() {
    let rules = format!(
        "[[rule]]\nid = \"R\"\ndescription = \"r\"\naction = \"remove\"\n\
         remove = [\"patientInformation/patientOtherInformation/LMACardNumber\"]\n{DEFAULT}"
    );
    let claim = outpatient();
    let d = assess(&rules, &claim);
    assert_eq!(d.outcome, Outcome::Disclose);
    assert!(d.removed.is_empty());
    assert_eq!(d.rule_ids(), vec!["R", "D"]);
    assert_eq!(d.disclosed.unwrap(), claim.to_xml().into_bytes());
}

#[test]
fn the_most_restrictive_action_wins() {
    let rule = |id: &str, action: &str| {
        let extra = if action == "remove" {
            "remove = [\"healthcarePerformed/diagnosis\"]\n"
        } else {
            ""
        };
        format!("[[rule]]\nid = \"{id}\"\ndescription = \"{id} says {action}\"\naction = \"{action}\"\n{extra}")
    };
    let cases = [
        (vec![("A", "disclose")], Outcome::Disclose),
        (vec![("A", "disclose"), ("B", "remove")], Outcome::Remove),
        (
            vec![("A", "remove"), ("B", "withhold"), ("C", "disclose")],
            Outcome::Withhold,
        ),
        (
            vec![("A", "withhold"), ("B", "reject"), ("C", "remove")],
            Outcome::Reject,
        ),
        (vec![("A", "reject"), ("B", "disclose")], Outcome::Reject),
    ];
    for (rules, expected) in cases {
        let text: String = rules.iter().map(|(id, a)| rule(id, a)).collect();
        let d = assess(&text, &outpatient());
        assert_eq!(d.outcome, expected, "{text}\n{}", d.text());
        let ids: Vec<&str> = rules.iter().map(|(id, _)| *id).collect();
        assert_eq!(d.rule_ids(), ids, "every matching rule is listed");
        assert_eq!(d.disclosed.is_some(), expected.discloses());
        if !expected.discloses() {
            let reason = d.reason.as_deref().unwrap();
            for (id, a) in &rules {
                let says = format!("rule {id}: {id} says {a}");
                assert_eq!(
                    reason.contains(&says),
                    Outcome::from(
                        serde_json::from_value::<invoice_hub::policy::Action>(serde_json::json!(a))
                            .unwrap()
                    ) == expected,
                    "{reason}"
                );
            }
        }
    }
}

#[test]
fn a_stated_reason_is_what_the_sender_is_told() {
    let rules = format!(
        "[[rule]]\nid = \"W\"\ndescription = \"d\"\naction = \"withhold\"\n\
         reason = \"needs the unit manager's review\"\n{DEFAULT}"
    );
    let d = assess(&rules, &outpatient());
    assert_eq!(
        d.reason.as_deref(),
        Some("rule W: needs the unit manager's review")
    );
}

#[test]
fn nothing_is_disclosed_without_a_rule_that_allows_it() {
    let rules = "[[rule]]\nid = \"P\"\ndescription = \"psychiatry\"\naction = \"disclose\"\nwhen = { medical_field_code = [\"9\"] }\n";
    let d = assess(rules, &outpatient());
    assert_eq!(d.outcome, Outcome::Withhold);
    assert_eq!(d.rule_ids(), vec!["NO-RULE"]);
    assert!(d.disclosed.is_none());
    assert!(d.reason.unwrap().contains("no rule of policy skane-test"));
}

#[test]
fn a_sender_without_a_policy_in_force_is_withheld() {
    let mut claim = outpatient();
    claim.supplier_party.identification[0].extension = "2321000115".into();
    let d = assess(DEFAULT, &claim);
    assert_eq!(d.outcome, Outcome::Withhold);
    assert_eq!(d.rule_ids(), vec!["NO-POLICY"]);
    assert!(d.policy_id.is_none());

    // Skåne's policy, but on a day before it comes into force.
    let f = fixture(DEFAULT, None);
    let claim = outpatient();
    let raw = claim.to_xml().into_bytes();
    let d = f
        .assessor
        .assess(&raw, &claim, NaiveDate::from_ymd_opt(2025, 12, 31).unwrap());
    assert_eq!(d.rule_ids(), vec!["NO-POLICY"]);
}

#[test]
fn the_version_in_force_on_the_day_decides() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = policy_text(DEFAULT).replace(
        "[validity]\nfrom = \"2026-01-01\"",
        "[validity]\nfrom = \"2026-01-01\"\nto = \"2026-06-30\"",
    );
    let v2 = policy_text(&withhold_when("care_level = [\"2\"]"))
        .replace("version = \"1\"", "version = \"2\"")
        .replace("from = \"2026-01-01\"", "from = \"2026-07-01\"");
    std::fs::write(dir.path().join("a.toml"), v1).unwrap();
    std::fs::write(dir.path().join("b.toml"), v2).unwrap();
    let set = PolicySet::load(&[dir.path().to_path_buf()]).unwrap();
    let assessor = Assessor::new(set, validator());
    let claim = outpatient();
    let raw = claim.to_xml().into_bytes();
    let in_june = assessor.assess(&raw, &claim, NaiveDate::from_ymd_opt(2026, 6, 30).unwrap());
    assert_eq!(
        (in_june.policy_version.as_deref(), in_june.outcome),
        (Some("1"), Outcome::Disclose)
    );
    let in_july = assessor.assess(&raw, &claim, NaiveDate::from_ymd_opt(2026, 7, 1).unwrap());
    assert_eq!(
        (in_july.policy_version.as_deref(), in_july.outcome),
        (Some("2"), Outcome::Withhold)
    );
}

#[test]
fn a_protected_identity_is_always_withheld_and_never_named() {
    let f = fixture(DEFAULT, Some("# test\n19780312-2386\n"));
    let d = assess_with(&f, &outpatient());
    assert_eq!(d.outcome, Outcome::Withhold);
    assert_eq!(d.rule_ids(), vec!["D", "PROTECTED-IDENTITY"]);
    let shown = format!("{}{}", d.text(), serde_json::to_string(&d).unwrap());
    assert!(
        !shown.contains("19780312") && !shown.contains("2386"),
        "{shown}"
    );
    // Another patient goes through.
    let f = fixture(DEFAULT, Some("191212121212\n"));
    assert_eq!(assess_with(&f, &outpatient()).outcome, Outcome::Disclose);
}

#[test]
fn rules_match_per_unit_of_care_and_remove_only_there() {
    let mut claim = sample("inpatient_drg.xml");
    let lines = claim.health_care_services_specification_line.len();
    assert!(lines >= 2, "the sample has two lines");
    // Only the second line's first unit of care is psychiatric (no diagnosis, no treatment, as
    // ÖR33 demands), and gets a reduced-fee category the rule removes.
    let second = &mut claim.health_care_services_specification_line[1].healthcare_performed[0];
    second.activity.medical_field_code = "901".into();
    second.diagnosis = None;
    second.treatment = None;
    second.invoiced_amount_details.patient_fee_reduced_category = Some("03".into());
    second.timespan.invoice_period = Some(invoice_hub::claim::InvoicePeriod {
        start: Some(
            second
                .timespan
                .healthcare_visit_date_time
                .care_visit_date
                .clone(),
        ),
        end: Some(
            second
                .timespan
                .healthcare_visit_date_time
                .care_visit_date
                .clone(),
        ),
        ..Default::default()
    });
    claim.health_care_services_specification_line[0].healthcare_performed[0]
        .invoiced_amount_details
        .patient_fee_reduced_category = Some("01".into());
    let rules = format!(
        "[[rule]]\nid = \"PSY\"\ndescription = \"p\"\naction = \"remove\"\n\
         remove = [\"healthcarePerformed/invoicedAmountDetails/patientFeeReducedCategory\"]\n\
         when = {{ medical_field_code = [\"9\"] }}\n{DEFAULT}"
    );
    let d = assess(&rules, &claim);
    assert_eq!(d.outcome, Outcome::Remove, "{}", d.text());
    assert_eq!(
        d.rules[0].matched,
        vec!["/claimSpecification/healthCareServicesSpecificationLine[2]/healthcarePerformed[1]"]
    );
    let out = reread(&d);
    let cat = |c: &ClaimSpecification, i: usize| {
        c.health_care_services_specification_line[i].healthcare_performed[0]
            .invoiced_amount_details
            .patient_fee_reduced_category
            .clone()
    };
    assert_eq!(
        cat(&out, 0).as_deref(),
        Some("01"),
        "the somatic line keeps its category"
    );
    assert_eq!(cat(&out, 1), None);
}

#[test]
fn the_same_input_gives_the_same_decision() {
    let text = std::fs::read_to_string(format!(
        "{}/deploy/policies/region-halland.toml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let rules_start = text.find("[[rule]]").unwrap();
    let claim = outpatient();
    let a = assess(&text[rules_start..], &claim);
    let b = assess(&text[rules_start..], &claim);
    assert_eq!(a, b);
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
}

#[test]
fn the_example_policy_loads_and_speaks_for_halland() {
    let dir: PathBuf = format!("{}/deploy/policies", env!("CARGO_MANIFEST_DIR")).into();
    let set = PolicySet::load(&[dir]).unwrap_or_else(|e| panic!("{e}"));
    let p = set
        .in_force("2321000115", today())
        .expect("Halland's policy in force");
    assert!(p.rules.len() >= 6);
    assert!(!p.protected.is_empty());
    assert!(p.board_decision.reference.contains("RS"));
}

#[test]
fn a_removal_that_would_break_the_contract_withholds_instead() {
    // Removing the inpatient main diagnosis breaks ÖR31 (inpatient care without an invoice
    // period needs one): the basis must not be sent broken.
    let claim = sample("inpatient_drg.xml");
    assert!(validator().validate(claim.to_xml().as_bytes()).is_valid());
    let rules = format!(
        "[[rule]]\nid = \"R\"\ndescription = \"no inpatient diagnoses\"\naction = \"remove\"\n\
         remove = [\"healthcarePerformed/diagnosis/inpatientCareDiagnosis\"]\n\
         when = {{ type_of_care = [\"02\"] }}\n{DEFAULT}"
    );
    let d = assess(&rules, &claim);
    assert_eq!(d.outcome, Outcome::Withhold, "{}", d.text());
    assert!(d.rule_ids().contains(&"REVALIDATION".to_string()));
    assert!(d.disclosed.is_none());
    let reason = d.reason.unwrap();
    assert!(reason.contains("ÖR31"), "{reason}");
}

#[test]
fn a_release_after_review_discloses_as_received_or_with_the_policys_removals() {
    let rules = format!(
        "[[rule]]\nid = \"W\"\ndescription = \"w\"\naction = \"withhold\"\n\
         [[rule]]\nid = \"R\"\ndescription = \"r\"\naction = \"remove\"\n\
         remove = [\"healthcarePerformed/diagnosis\"]\n{DEFAULT}"
    );
    let f = fixture(&rules, None);
    let claim = outpatient();
    let raw = claim.to_xml().into_bytes();
    let d = f.assessor.assess(&raw, &claim, today());
    assert_eq!(d.outcome, Outcome::Withhold);

    // As received: the bytes as they came, every rule that matched still named.
    let as_is = f.assessor.assess_released(&raw, &claim, today(), false);
    assert_eq!(as_is.outcome, Outcome::Disclose);
    assert_eq!(as_is.disclosed.as_deref(), Some(&raw[..]));
    assert_eq!(as_is.rule_ids(), vec!["W", "R", "D"]);
    assert!(as_is.reason.is_none() && as_is.removed.is_empty());

    // With the removals: the `remove` rule applies, the overridden `withhold` does not.
    let reduced = f.assessor.assess_released(&raw, &claim, today(), true);
    assert_eq!(reduced.outcome, Outcome::Remove, "{}", reduced.text());
    assert_eq!(reduced.removed, vec![format!("{PERFORMED}/diagnosis")]);
    let mut expected = claim.clone();
    first(&mut expected).diagnosis = None;
    assert_eq!(reread(&reduced), expected);

    // A rejection is not the reviewer's to override.
    let reject = "[[rule]]\nid = \"X\"\ndescription = \"x\"\naction = \"reject\"\n";
    let f = fixture(reject, None);
    let d = f.assessor.assess_released(&raw, &claim, today(), false);
    assert_eq!(d.outcome, Outcome::Reject);
    assert!(d.disclosed.is_none());
}
