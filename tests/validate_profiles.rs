//! The two profiles, behaviour by behaviour: for each way the official Schematron differs from
//! the contract's text (`../shared/contract/schematron.md`, the conformance table in
//! docs/validation.md), a document and the rule ids each profile reports. Where the official
//! profile rejects what the contract accepts, the contract's validator must warn under the
//! official id: that warning is what a sending region reads before it sends.
//!
//! Each row of docs/validation.md's table names its case here by `name`.

use std::collections::BTreeSet;

use invoice_hub::claim::{ClaimSpecification, InvoicePeriod};
use invoice_hub::validate::{Origin, Profile, Report, RuleContext, Validator};

mod docs_support;
use docs_support::{hp, poi, replaced, sek, with, I, O};

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

fn validator(profile: Profile) -> Validator {
    Validator::new(RuleContext::new(today()).with_profile(profile))
        .expect("schema compiles")
        .with_official_warnings()
}

fn period(c: &mut ClaimSpecification, start: Option<&str>, end: Option<&str>) {
    hp(c, 0).timespan.invoice_period = Some(InvoicePeriod {
        start: start.map(str::to_owned),
        end: end.map(str::to_owned),
        ..Default::default()
    });
}

/// One behaviour: the rule ids each profile must report (exactly these, no others).
struct Case {
    name: &'static str,
    doc: Vec<u8>,
    contract: &'static [&'static str],
    official: &'static [&'static str],
}

fn case(
    name: &'static str,
    doc: Vec<u8>,
    contract: &'static [&'static str],
    official: &'static [&'static str],
) -> Case {
    Case {
        name,
        doc,
        contract,
        official,
    }
}

fn ids(r: &Report) -> BTreeSet<String> {
    r.findings.iter().map(|f| f.rule.clone()).collect()
}

fn cases() -> Vec<Case> {
    vec![
        // R49: the official list of 138 codes, exactly three characters as written.
        case("r49-official-code", with(O, |c| hp(c, 0).activity.medical_field_code = "003".into()), &[], &[]),
        case("r49-reconstructed-code", with(O, |c| hp(c, 0).activity.medical_field_code = "010".into()), &["ÖR49"], &["R49"]),
        case("r49-untrimmed", with(O, |c| hp(c, 0).activity.medical_field_code = " 107".into()), &[], &["R49"]),
        // R48: every wrong length of an organisation number, and a second 1.3.7 identification.
        case("r48-hyphen", with(O, |c| c.supplier_party.identification[0].extension = "232100-0255".into()), &["ÖR48"], &["R48"]),
        case(
            "r48-two-org-numbers",
            with(O, |c| c.customer_party.identification[1].root = "1.3.7".into()),
            &["ÖR48"],
            &["R48"],
        ),
        // R28 on every line, with or without a charge (the contract's table also says R6).
        case(
            "r28-without-charge",
            with(I, |c| hp(c, 0).invoiced_amount_details.patient_care_invoice_net_amount = sek("47999.99")),
            &["ÖR28"],
            &["R28"],
        ),
        // R6, R7, R32 have no assert in the official file; nor have the identifier checks.
        case(
            "r7-absent",
            with(I, |c| c.health_care_services_specification_line[0].patient_information.patient_identity.root = "personnummer".into()),
            &["ÖR7"],
            &[],
        ),
        case(
            "identifier-checks-absent",
            replaced(I, "<c:extension>195209174522</c:extension>", "<c:extension>195209174523</c:extension>"),
            &["ID-PERSONNUMMER"],
            &[],
        ),
        // R20: strict, and passing when either date is earlier than the issue date.
        case("r20-ends-on-issue-date", with(O, |c| period(c, Some("20261115"), Some("20261115"))), &[], &["R20"]),
        case("r20-start-before-end-after", with(O, |c| period(c, Some("20261101"), Some("20261120"))), &["ÖR20"], &[]),
        case("r20-both-before", with(O, |c| period(c, Some("20261101"), Some("20261114"))), &[], &[]),
        // R43: uniqueness only, ids compared as strings.
        case("r43-descending", replaced(I, "<c:lineId>1</c:lineId>", "<c:lineId>3</c:lineId>"), &["ÖR43"], &[]),
        case("r43-1-and-01", replaced(I, "<c:lineId>2</c:lineId>", "<c:lineId>01</c:lineId>"), &["ÖR43"], &[]),
        case("r43-duplicate", replaced(I, "<c:lineId>2</c:lineId>", "<c:lineId>1</c:lineId>"), &["ÖR43"], &["R43"]),
        // R27 on every line, also one without categorization.
        case("r27-without-categorization", with(O, |c| hp(c, 0).categorization = None), &["ÖR27"], &["R27"]),
        // R40 / R41: the official file checks the code system only.
        case(
            "r40-county-not-in-list",
            with(O, |c| poi(c, 0).county.code = Some("02".into())),
            &["ÖR40"],
            &[],
        ),
        case(
            "r41-municipality-in-other-county",
            with(O, |c| poi(c, 0).municipality.code = Some("1280".into())),
            &["ÖR41"],
            &[],
        ),
        case(
            "r40-code-system",
            with(O, |c| poi(c, 0).county.code_system = Some("1.2.752.129.2.2.1.17".into())),
            &["ÖR40"],
            &["R40"],
        ),
        case(
            "r8-and-r40-together",
            with(O, |c| {
                let county = &mut poi(c, 0).county;
                county.code = Some("1".into());
                county.code_system = None;
            }),
            &["ÖR40", "ÖR8"],
            &["R40", "R8"],
        ),
        // Arithmetic: floating point, rounded to two decimals before comparing.
        case(
            "r5-one-krona-through-rounding",
            with(O, |c| {
                let d = &mut hp(c, 0).invoiced_amount_details;
                // 16.10 − 15.10 is 1.0000000000000018 in floating point.
                d.patient_care_discount = Some(sek("2284.90"));
                d.patient_care_invoice_net_amount = sek("15.10");
                c.payable_amount = sek("16.10");
            }),
            &[],
            &["R5"],
        ),
        case(
            "r28-three-decimals",
            replaced(I, "<c:amount>48000.00</c:amount>", "<c:amount>48000.004</c:amount>"),
            &["ÖR28"],
            &[],
        ),
        // Whitespace: R11, R23, R34, R35 compare untrimmed; R1 counts whitespace as content and
        // attributes as nothing.
        case(
            "r11-untrimmed-type-of-care",
            with(I, |c| {
                let p = hp(c, 0);
                p.healthcare_category.type_of_care.code = Some(" 02".into());
                p.care_contact_id = None;
            }),
            &["ÖR11"],
            &[],
        ),
        case(
            "r23-untrimmed-type-of-care",
            with(O, |c| {
                let p = hp(c, 0);
                p.healthcare_category.type_of_care.code = Some("01 ".into());
                p.healthcare_unit.profession_code_for_healthcare = None;
            }),
            &["ÖR23"],
            &[],
        ),
        case(
            "r34-untrimmed-root",
            replaced(I, "<c:root>1.2.752.129.2.1.4.1</c:root>\n            <c:extension>SE2321000016-0001", "<c:root> 1.2.752.129.2.1.4.1</c:root>\n            <c:extension>SE2321000016-0001"),
            &[],
            &["R34"],
        ),
        case("r35-untrimmed-currency", replaced(O, "<urn1:code>SEK</urn1:code>", "<urn1:code> SEK</urn1:code>"), &[], &["R35"]),
        case(
            "r1-whitespace-only",
            replaced(O, "<urn1:invoiceId>F2026-118832</urn1:invoiceId>", "<urn1:invoiceId> </urn1:invoiceId>"),
            &["ÖR1"],
            &[],
        ),
        case(
            "r1-attributes-only",
            replaced(O, "</urn:claimSpecification>", "</urn:claimSpecification>\n  <x:flag xmlns:x=\"urn:example:ext\" level=\"1\"/>"),
            &[],
            &["R1"],
        ),
        // R42 counts extension elements among the DRGCode's children.
        case(
            "r42-extension-in-drg-code",
            replaced(I, "<c:originalText>F62C</c:originalText>", "<c:originalText>F62C</c:originalText><x:note xmlns:x=\"urn:example:ext\">grouper 2026</x:note>"),
            &[],
            &["R42"],
        ),
        // R2 and R17 are the same in both (dates compare alike once the XSD holds them).
        case("r2-future", with(O, |c| c.issue_date = "20261123".into()), &["ÖR2"], &["R2"]),
        case(
            "r17-visit-after-issue",
            with(O, |c| hp(c, 0).timespan.healthcare_visit_date_time.care_visit_date = "20261116".into()),
            &["ÖR17"],
            &["R17"],
        ),
    ]
}

#[test]
fn each_behaviour_gets_each_profiles_verdict_and_rule_ids() {
    let contract = validator(Profile::Contract);
    let official = validator(Profile::OfficialSchematron);
    let mut failures = Vec::new();
    let all = cases();
    for c in &all {
        let want_c: BTreeSet<String> = c.contract.iter().map(|s| s.to_string()).collect();
        let want_o: BTreeSet<String> = c.official.iter().map(|s| s.to_string()).collect();
        let rc = contract.validate(&c.doc);
        let ro = official.validate(&c.doc);
        if ids(&rc) != want_c || ids(&ro) != want_o {
            failures.push(format!(
                "{}: contract {:?} (want {want_c:?}), official {:?} (want {want_o:?})\n{}{}",
                c.name,
                ids(&rc),
                ids(&ro),
                rc.text(),
                ro.text()
            ));
        }
        // The official profile reports only what an official receiver reports.
        assert!(
            ro.findings.iter().all(|f| f.origin.official()),
            "{}",
            c.name
        );
        assert!(ro.warnings.is_empty(), "{}", c.name);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(all.len() >= 30);
}

#[test]
fn the_contract_profile_warns_where_an_official_receiver_rejects() {
    let contract = validator(Profile::Contract);
    for c in cases() {
        let r = contract.validate(&c.doc);
        let warned: BTreeSet<&str> = r.warnings.iter().map(|w| w.rule.as_str()).collect();
        // Every official id without a contract finding of the same number is warned about.
        let expected: BTreeSet<&str> = c
            .official
            .iter()
            .copied()
            .filter(|o| {
                !c.contract
                    .iter()
                    .any(|k| k.trim_start_matches("ÖR") == o.trim_start_matches('R'))
            })
            .collect();
        assert_eq!(warned, expected, "{}: {:?}", c.name, r.warnings);
        for w in &r.warnings {
            assert!(
                w.message
                    .starts_with("a receiver running the official Schematron will reject this:"),
                "{w}"
            );
        }
    }
}

#[test]
fn the_projects_own_checks_are_marked_as_such() {
    let contract = validator(Profile::Contract);
    let origin = |doc: Vec<u8>, rule: &str| {
        contract
            .validate(&doc)
            .findings
            .into_iter()
            .find(|f| f.rule == rule)
            .unwrap_or_else(|| panic!("no {rule}"))
            .origin
    };
    let county = with(O, |c| poi(c, 0).county.code = Some("02".into()));
    assert_eq!(origin(county.clone(), "ÖR40"), Origin::Project);
    let text = contract.validate(&county).text();
    assert!(text.contains("not in the official Schematron"), "{text}");
    let system = with(O, |c| poi(c, 0).county.code_system = None);
    assert_eq!(origin(system, "ÖR40"), Origin::Schematron);
    let id = replaced(
        I,
        "<c:extension>195209174522</c:extension>",
        "<c:extension>195209174523</c:extension>",
    );
    assert_eq!(origin(id, "ID-PERSONNUMMER"), Origin::Project);
    let root = with(I, |c| {
        c.health_care_services_specification_line[0]
            .patient_information
            .patient_identity
            .root = "personnummer".into()
    });
    assert_eq!(origin(root, "ÖR7"), Origin::Contract);
}

#[test]
fn the_error_comment_reads_like_an_official_producers() {
    let contract = validator(Profile::Contract);
    let doc = with(O, |c| c.payable_amount = sek("2310.00"));
    let comment = contract.validate(&doc).to_response().comment.unwrap();
    let line = comment.lines().nth(1).unwrap();
    assert!(
        line.starts_with("Error: payable amount 2310.00 SEK"),
        "{line}"
    );
    assert!(
        line.contains(
            " / Location: /urn1:ProcessClaimSpecification/urn1:claimSpecification/urn2:payableAmount/urn2:amount / Id: R5 / Test: "
        ),
        "{line}"
    );
    let county = with(O, |c| poi(c, 0).county.code = Some("02".into()));
    let comment = contract.validate(&county).to_response().comment.unwrap();
    assert!(
        comment.contains("Id: R40 / Test: county code and code system are valid (not in the official Schematron)"),
        "{comment}"
    );
}
