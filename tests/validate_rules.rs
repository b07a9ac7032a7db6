//! Every business rule ÖR1–ÖR52 (ÖR32 retired) and every identifier check, table-driven: one
//! document that breaks the rule (the report must name the rule at the exact element path) and
//! one that satisfies it, usually at the boundary (the report must not name the rule). Each
//! case starts from a valid hand-made document in tests/data and changes one thing, through
//! the typed model or by text replacement.

use invoice_hub::claim::{InvoicePeriod, CV};
use invoice_hub::validate::rules::MedicalFieldCodes;
use invoice_hub::validate::{Report, RuleContext, Validator};

mod docs_support;
use docs_support::{hp, poi, raw, replaced, sek, with, A, C, I, O};

/// The patient identities in the hand-made documents: no message may repeat them.
const PATIENT_IDS: &[&str] = &[
    "197803122386",
    "195209174522",
    "199004673142",
    "AS20260913M05",
];

const L1: &str = "/claimSpecification/healthCareServicesSpecificationLine[1]";
const HP1: &str =
    "/claimSpecification/healthCareServicesSpecificationLine[1]/healthcarePerformed[1]";
const HP2: &str =
    "/claimSpecification/healthCareServicesSpecificationLine[2]/healthcarePerformed[1]";
const POI1: &str =
    "/claimSpecification/healthCareServicesSpecificationLine[1]/patientInformation/patientOtherInformation";

fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()
}

fn validator() -> Validator {
    Validator::new(RuleContext::new(today())).expect("schema compiles")
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

fn period(start: Option<&str>, end: Option<&str>) -> Option<InvoicePeriod> {
    Some(InvoicePeriod {
        start: start.map(str::to_owned),
        end: end.map(str::to_owned),
        ..Default::default()
    })
}

/// A rule broken at a path, or satisfied.
struct Case {
    rule: &'static str,
    /// `Some(path)`: the document breaks `rule` there. `None`: it satisfies `rule`.
    breaks_at: Option<String>,
    what: &'static str,
    doc: Vec<u8>,
}

fn breaks(rule: &'static str, path: impl Into<String>, what: &'static str, doc: Vec<u8>) -> Case {
    Case {
        rule,
        breaks_at: Some(path.into()),
        what,
        doc,
    }
}

fn keeps(rule: &'static str, what: &'static str, doc: Vec<u8>) -> Case {
    Case {
        rule,
        breaks_at: None,
        what,
        doc,
    }
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();

    // ÖR1: no empty elements anywhere.
    v.push(breaks(
        "ÖR1",
        "/claimSpecification/invoiceId",
        "empty invoiceId",
        replaced(
            O,
            "<urn1:invoiceId>F2026-118832</urn1:invoiceId>",
            "<urn1:invoiceId></urn1:invoiceId>",
        ),
    ));
    v.push(breaks(
        "ÖR1",
        format!("{HP1}/unspecified[1]/text"),
        "self-closing text in a repeated element",
        replaced(A, "<text>Tolk närvarande</text>", "<text/>"),
    ));
    v.push(breaks(
        "ÖR1",
        format!("{POI1}/asylumCase/office/name"),
        "empty extension element",
        replaced(A, "<name>Göteborg</name>", "<name>  </name>"),
    ));
    v.push(keeps(
        "ÖR1",
        "extension element carrying only attributes",
        replaced(
            A,
            "<mv:caseNumber>",
            "<mv:flag mv:urgent=\"yes\"/><mv:caseNumber>",
        ),
    ));

    // ÖR2: issueDate not in the future.
    v.push(breaks(
        "ÖR2",
        "/claimSpecification/issueDate",
        "issued tomorrow",
        with(O, |c| c.issue_date = "20261123".into()),
    ));
    v.push(keeps(
        "ÖR2",
        "issued today",
        with(O, |c| c.issue_date = "20261122".into()),
    ));

    // ÖR3 (supplier), ÖR46 (customer), ÖR48 (GLN), ID-ORGNR.
    v.push(breaks(
        "ÖR3",
        "/claimSpecification/supplierParty/identification[1]/root",
        "supplier without root 1.3.7",
        with(O, |c| {
            c.supplier_party.identification[0].root = "1.3.8".into()
        }),
    ));
    // A wrong length is R48 in the official Schematron's report, and so in ours.
    v.push(breaks(
        "ÖR48",
        "/claimSpecification/supplierParty/identification[1]/extension",
        "supplier org number of 9 characters",
        with(O, |c| {
            c.supplier_party.identification[0].extension = "232100025".into()
        }),
    ));
    v.push(keeps(
        "ÖR3",
        "supplier with org number",
        raw(O).into_bytes(),
    ));
    v.push(breaks(
        "ÖR48",
        "/claimSpecification/customerParty/identification[1]/extension",
        "customer org number of 11 characters",
        with(O, |c| {
            c.customer_party.identification[0].extension = "23210000160".into()
        }),
    ));
    v.push(breaks(
        "ÖR46",
        "/claimSpecification/customerParty/identification[1]/root",
        "customer with only a GLN",
        with(O, |c| {
            c.customer_party.identification.remove(0);
        }),
    ));
    v.push(keeps(
        "ÖR46",
        "customer with org number and GLN",
        raw(O).into_bytes(),
    ));
    v.push(breaks(
        "ÖR48",
        "/claimSpecification/customerParty/identification[2]/extension",
        "GLN of 12 characters",
        with(O, |c| {
            c.customer_party.identification[1].extension = "735000000001".into()
        }),
    ));
    v.push(breaks(
        "ÖR48",
        "/claimSpecification/customerParty/identification[2]/root",
        "second identification that is not a GLN",
        with(O, |c| {
            c.customer_party.identification[1].root = "1.2.752.97".into()
        }),
    ));
    v.push(keeps(
        "ÖR48",
        "second identification a 13-digit GLN",
        raw(O).into_bytes(),
    ));
    v.push(breaks(
        "ID-ORGNR",
        "/claimSpecification/supplierParty/identification[1]/extension",
        "supplier org number with wrong check digit",
        with(O, |c| {
            c.supplier_party.identification[0].extension = "2321000256".into()
        }),
    ));
    v.push(keeps(
        "ID-ORGNR",
        "Region Gotland's org number",
        with(O, |c| {
            c.customer_party.identification[0].extension = "2120000803".into()
        }),
    ));

    // ÖR4: typeOfInvoice.
    v.push(breaks(
        "ÖR4",
        "/claimSpecification/typeOfInvoice",
        "type 383",
        with(O, |c| c.type_of_invoice = "383".into()),
    ));
    v.push(keeps("ÖR4", "credit note 381", raw(C).into_bytes()));

    // ÖR5: payable amount vs Σ net, 1 krona tolerance.
    v.push(breaks(
        "ÖR5",
        "/claimSpecification/payableAmount/amount",
        "payable 1.01 above the lines",
        with(O, |c| c.payable_amount = sek("2301.01")),
    ));
    v.push(keeps(
        "ÖR5",
        "payable exactly 1 krona above the lines",
        with(O, |c| c.payable_amount = sek("2301.00")),
    ));
    v.push(keeps(
        "ÖR5",
        "two lines summed (inpatient)",
        raw(I).into_bytes(),
    ));

    // ÖR6 / ÖR28: net = gross + charge − allowance − discount, reported as ÖR28 on every line
    // (as the official Schematron does).
    v.push(breaks(
        "ÖR28",
        format!("{HP1}/invoicedAmountDetails/patientCareInvoiceNetAmount/amount"),
        "net one öre below gross − allowance",
        with(I, |c| {
            hp(c, 0)
                .invoiced_amount_details
                .patient_care_invoice_net_amount = sek("47999.99")
        }),
    ));
    v.push(keeps(
        "ÖR28",
        "net = gross − allowance",
        raw(I).into_bytes(),
    ));
    v.push(breaks(
        "ÖR28",
        format!("{HP1}/invoicedAmountDetails/patientCareInvoiceNetAmount/amount"),
        "charge not added to net",
        with(O, |c| {
            hp(c, 0).invoiced_amount_details.patient_care_charge = Some(sek("100.00"))
        }),
    ));
    v.push(keeps(
        "ÖR28",
        "charge and discount in the net",
        with(O, |c| {
            let d = &mut hp(c, 0).invoiced_amount_details;
            d.patient_care_charge = Some(sek("100.00"));
            d.patient_care_discount = Some(sek("50.00"));
            d.patient_care_invoice_net_amount = sek("2350.00");
            c.payable_amount = sek("2350.00");
        }),
    ));

    // ÖR7: kind of patient id.
    v.push(breaks(
        "ÖR7",
        format!("{L1}/patientInformation/patientIdentity/root"),
        "patient identity under the org-number OID",
        with(O, |c| {
            c.health_care_services_specification_line[0]
                .patient_information
                .patient_identity
                .root = "1.3.7".into()
        }),
    ));
    v.push(breaks(
        "ÖR7",
        format!("{L1}/patientInformation/patientIdentity/root"),
        "patient identity root that is no OID",
        with(O, |c| {
            c.health_care_services_specification_line[0]
                .patient_information
                .patient_identity
                .root = "personnummer".into()
        }),
    ));
    v.push(keeps(
        "ÖR7",
        "reservnummer under a region OID",
        raw(A).into_bytes(),
    ));
    v.push(keeps("ÖR7", "samordningsnummer", raw(I).into_bytes()));

    // ÖR8, ÖR9: county 2, municipality 4 characters.
    v.push(breaks(
        "ÖR8",
        format!("{POI1}/county/code"),
        "county of 1 character",
        with(O, |c| poi(c, 0).county.code = some("1")),
    ));
    v.push(keeps("ÖR8", "county 01", raw(O).into_bytes()));
    v.push(breaks(
        "ÖR9",
        format!("{POI1}/municipality/code"),
        "municipality of 3 characters",
        with(O, |c| poi(c, 0).municipality.code = some("180")),
    ));
    v.push(keeps("ÖR9", "municipality 9901", raw(A).into_bytes()));

    // ÖR10: gender.
    v.push(breaks(
        "ÖR10",
        format!("{POI1}/gender/code"),
        "gender 3",
        with(O, |c| poi(c, 0).gender.as_mut().unwrap().code = some("3")),
    ));
    v.push(keeps(
        "ÖR10",
        "gender 9",
        with(O, |c| poi(c, 0).gender.as_mut().unwrap().code = some("9")),
    ));

    // ÖR11: careContactId for inpatient care.
    v.push(breaks(
        "ÖR11",
        format!("{HP1}/careContactId"),
        "inpatient without careContactId",
        with(I, |c| hp(c, 0).care_contact_id = None),
    ));
    v.push(keeps(
        "ÖR11",
        "outpatient without careContactId",
        raw(O).into_bytes(),
    ));

    // ÖR12–ÖR14, ÖR50: payment commitment codes.
    let pc = |f: fn(&mut invoice_hub::claim::PaymentCommitment)| {
        with(O, move |c| f(hp(c, 0).payment_commitment.as_mut().unwrap()))
    };
    v.push(breaks(
        "ÖR12",
        format!("{HP1}/paymentCommitment/typeOfAgreement"),
        "agreement 4",
        pc(|p| p.type_of_agreement = some("4")),
    ));
    v.push(keeps(
        "ÖR12",
        "agreement 3",
        pc(|p| p.type_of_agreement = some("3")),
    ));
    v.push(breaks(
        "ÖR13",
        format!("{HP1}/paymentCommitment/typeOfChapter"),
        "chapter 8",
        pc(|p| p.type_of_chapter = some("8")),
    ));
    v.push(keeps(
        "ÖR13",
        "chapter 7",
        pc(|p| p.type_of_chapter = some("7")),
    ));
    v.push(breaks(
        "ÖR14",
        format!("{HP1}/paymentCommitment/typeOfReimbursement"),
        "reimbursement 3",
        pc(|p| p.type_of_reimbursement = some("3")),
    ));
    v.push(keeps(
        "ÖR14",
        "reimbursement 2",
        pc(|p| p.type_of_reimbursement = some("2")),
    ));
    v.push(breaks(
        "ÖR50",
        format!("{HP1}/paymentCommitment/agreementInRiksavtalet"),
        "Riksavtal 4.2",
        pc(|p| p.agreement_in_riksavtalet = some("4.2")),
    ));
    v.push(keeps(
        "ÖR50",
        "Riksavtal 4.4",
        pc(|p| p.agreement_in_riksavtalet = some("4.4")),
    ));

    // ÖR15, ÖR16: type of care and visit.
    v.push(breaks(
        "ÖR15",
        format!("{HP1}/healthcareCategory/typeOfCare/code"),
        "type of care 03",
        with(O, |c| {
            hp(c, 0).healthcare_category.type_of_care.code = some("03")
        }),
    ));
    v.push(keeps("ÖR15", "inpatient 02", raw(I).into_bytes()));
    v.push(breaks(
        "ÖR16",
        format!("{HP1}/healthcareCategory/typeOfVisit"),
        "visit 3",
        with(O, |c| {
            hp(c, 0).healthcare_category.type_of_visit = some("3")
        }),
    ));
    v.push(keeps(
        "ÖR16",
        "return visit 2",
        with(O, |c| {
            hp(c, 0).healthcare_category.type_of_visit = some("2")
        }),
    ));

    // ÖR17, ÖR18, ÖR38: care dates against each other and the issue date.
    v.push(breaks(
        "ÖR17",
        format!("{HP1}/timespan/healthcareVisitDateTime/careVisitDate"),
        "visit after issue",
        with(O, |c| {
            hp(c, 0).timespan.healthcare_visit_date_time.care_visit_date = "20261116".into()
        }),
    ));
    v.push(keeps(
        "ÖR17",
        "visit on the issue date",
        with(O, |c| {
            hp(c, 0).timespan.healthcare_visit_date_time.care_visit_date = "20261115".into()
        }),
    ));
    let discharge = |d: &'static str| {
        with(I, move |c| {
            hp(c, 0)
                .timespan
                .healthcare_discharge_date_time
                .as_mut()
                .unwrap()
                .care_discharge_date = d.into()
        })
    };
    let at_discharge = format!("{HP1}/timespan/healthcareDischargeDateTime/careDischargeDate");
    v.push(breaks(
        "ÖR18",
        at_discharge.clone(),
        "discharged before admission",
        discharge("20261002"),
    ));
    v.push(keeps(
        "ÖR18",
        "discharged on the admission day",
        discharge("20261003"),
    ));
    v.push(breaks(
        "ÖR38",
        at_discharge.clone(),
        "discharged after the issue date",
        discharge("20261117"),
    ));
    v.push(keeps(
        "ÖR38",
        "discharged on the issue date",
        discharge("20261116"),
    ));

    // ÖR19–ÖR21: invoice period.
    let with_period = |s: Option<&'static str>, e: Option<&'static str>| {
        with(I, move |c| hp(c, 0).timespan.invoice_period = period(s, e))
    };
    let at_period = format!("{HP1}/timespan/invoicePeriod");
    v.push(breaks(
        "ÖR19",
        format!("{at_period}/end"),
        "period without end",
        with_period(Some("20261003"), None),
    ));
    v.push(breaks(
        "ÖR19",
        format!("{at_period}/start"),
        "period without start",
        with_period(None, Some("20261008")),
    ));
    v.push(keeps(
        "ÖR19",
        "period with start and end",
        with_period(Some("20261003"), Some("20261008")),
    ));
    v.push(breaks(
        "ÖR20",
        format!("{at_period}/end"),
        "period ending after the issue date",
        with_period(Some("20261003"), Some("20261117")),
    ));
    v.push(keeps(
        "ÖR20",
        "period ending on the issue date",
        with_period(Some("20261003"), Some("20261116")),
    ));
    v.push(breaks(
        "ÖR21",
        format!("{at_period}/end"),
        "period ending before it starts",
        with_period(Some("20261008"), Some("20261003")),
    ));
    v.push(keeps(
        "ÖR21",
        "one-day period",
        with_period(Some("20261008"), Some("20261008")),
    ));

    // ÖR22, ÖR23: profession code.
    let at_prof = format!("{HP1}/healthcareUnit/professionCodeForHealthcare");
    v.push(breaks(
        "ÖR22",
        at_prof.clone(),
        "profession XX",
        with(O, |c| {
            hp(c, 0).healthcare_unit.profession_code_for_healthcare = some("XX")
        }),
    ));
    v.push(keeps(
        "ÖR22",
        "profession OV",
        with(O, |c| {
            hp(c, 0).healthcare_unit.profession_code_for_healthcare = some("OV")
        }),
    ));
    v.push(breaks(
        "ÖR23",
        at_prof,
        "outpatient without profession",
        with(O, |c| {
            hp(c, 0).healthcare_unit.profession_code_for_healthcare = None
        }),
    ));
    v.push(keeps(
        "ÖR23",
        "inpatient without profession",
        raw(I).into_bytes(),
    ));

    // ÖR24, ÖR25: product category, price list.
    v.push(breaks(
        "ÖR24",
        format!("{HP1}/categorization/productCategory"),
        "product category 05",
        with(O, |c| {
            hp(c, 0).categorization.as_mut().unwrap().product_category = some("05")
        }),
    ));
    v.push(keeps("ÖR24", "product category 99", raw(A).into_bytes()));
    v.push(breaks(
        "ÖR25",
        format!("{HP1}/categorization/priceList"),
        "price list 7",
        with(O, |c| {
            hp(c, 0).categorization.as_mut().unwrap().price_list = some("7")
        }),
    ));
    v.push(keeps(
        "ÖR25",
        "price list 6",
        with(O, |c| {
            hp(c, 0).categorization.as_mut().unwrap().price_list = some("6")
        }),
    ));

    // ÖR26, ÖR27: prices add up.
    v.push(breaks(
        "ÖR26",
        format!(
            "{HP1}/categorization/patientSpecificCare[2]/patientSpecificCareTotalAmount/amount"
        ),
        "total not count × price",
        with(O, |c| {
            let s = &mut hp(c, 0)
                .categorization
                .as_mut()
                .unwrap()
                .patient_specific_care[1];
            s.number_of_patient_specific_care = some("2");
        }),
    ));
    for (count, what) in [
        ("9223372036854775807", "count × price beyond any amount"),
        ("99999999999999999999999", "count beyond a 64-bit integer"),
    ] {
        v.push(breaks(
            "ÖR26",
            format!(
                "{HP1}/categorization/patientSpecificCare[2]/patientSpecificCareTotalAmount/amount"
            ),
            what,
            with(O, move |c| {
                let s = &mut hp(c, 0)
                    .categorization
                    .as_mut()
                    .unwrap()
                    .patient_specific_care[1];
                s.number_of_patient_specific_care = some(count);
                s.patient_specific_care_price = Some(sek("9999999999999999999999.99"));
            }),
        ));
    }
    v.push(keeps(
        "ÖR26",
        "count 3 × 600 = 1800",
        with(O, |c| {
            let h = hp(c, 0);
            let s = &mut h.categorization.as_mut().unwrap().patient_specific_care[1];
            s.number_of_patient_specific_care = some("3");
            s.patient_specific_care_total_amount = Some(sek("1800.00"));
            let d = &mut h.invoiced_amount_details;
            d.patient_care_invoice_gross_amount = sek("3500.00");
            d.patient_care_invoice_net_amount = sek("3500.00");
            c.payable_amount = sek("3500.00");
        }),
    ));
    v.push(breaks(
        "ÖR27",
        format!("{HP1}/invoicedAmountDetails/patientCareInvoiceGrossAmount/amount"),
        "DRG price one öre higher than the gross",
        with(I, |c| {
            let drg = hp(c, 0)
                .categorization
                .as_mut()
                .unwrap()
                .drg_cost
                .as_mut()
                .unwrap();
            drg.drg_price = Some(sek("45230.01"));
        }),
    ));
    v.push(breaks(
        "ÖR27",
        format!("{HP1}/invoicedAmountDetails/patientCareInvoiceGrossAmount/amount"),
        "patient fee paid not taken off",
        with(O, |c| {
            hp(c, 0).invoiced_amount_details.out_patient_care_fee_paid = None
        }),
    ));
    v.push(keeps(
        "ÖR27",
        "DRG with extended allowance",
        raw(I).into_bytes(),
    ));
    v.push(keeps(
        "ÖR27",
        "patient-specific minus fee paid",
        raw(O).into_bytes(),
    ));

    // ÖR29, ÖR30: fee category, care level.
    v.push(breaks(
        "ÖR29",
        format!("{HP1}/invoicedAmountDetails/patientFeeReducedCategory"),
        "fee category 06",
        with(A, |c| {
            hp(c, 0)
                .invoiced_amount_details
                .patient_fee_reduced_category = some("06")
        }),
    ));
    v.push(keeps(
        "ÖR29",
        "fee category 05",
        with(A, |c| {
            hp(c, 0)
                .invoiced_amount_details
                .patient_fee_reduced_category = some("05")
        }),
    ));
    v.push(breaks(
        "ÖR30",
        format!("{HP1}/activity/careLevel"),
        "care level 5",
        with(O, |c| hp(c, 0).activity.care_level = some("5")),
    ));
    v.push(keeps(
        "ÖR30",
        "care level 4",
        with(O, |c| hp(c, 0).activity.care_level = some("4")),
    ));

    // ÖR31: inpatient main diagnosis unless invoicePeriod.
    v.push(breaks(
        "ÖR31",
        format!("{HP1}/diagnosis/inpatientCareDiagnosis"),
        "inpatient without diagnosis",
        with(I, |c| hp(c, 0).diagnosis = None),
    ));
    v.push(keeps(
        "ÖR31",
        "inpatient without diagnosis but with an invoice period",
        with(I, |c| {
            let h = hp(c, 0);
            h.diagnosis = None;
            h.timespan.invoice_period = period(Some("20261003"), Some("20261008"));
        }),
    ));

    // ÖR33: psychiatry carries no diagnosis and no treatment.
    v.push(breaks(
        "ÖR33",
        format!("{HP1}/diagnosis"),
        "psychiatry with a diagnosis",
        with(O, |c| {
            let h = hp(c, 0);
            h.activity.medical_field_code = "901".into();
            h.treatment = None;
        }),
    ));
    v.push(breaks(
        "ÖR33",
        format!("{HP1}/treatment"),
        "psychiatry with a KVÅ code",
        with(O, |c| {
            let h = hp(c, 0);
            h.activity.medical_field_code = "931".into();
            h.diagnosis = None;
        }),
    ));
    v.push(keeps(
        "ÖR33",
        "psychiatric inpatient care without diagnosis or treatment",
        with(I, |c| {
            let h = hp(c, 0);
            h.activity.medical_field_code = "901".into();
            h.diagnosis = None;
            h.treatment = None;
        }),
    ));

    // ÖR34: listing region is an HSA-id.
    v.push(breaks(
        "ÖR34",
        format!("{POI1}/listingLocalAuthoritiesNumber/root"),
        "listing under the org-number OID",
        with(I, |c| {
            poi(c, 0)
                .listing_local_authorities_number
                .as_mut()
                .unwrap()
                .root = "1.3.7".into()
        }),
    ));
    v.push(keeps(
        "ÖR34",
        "listing under the HSA OID",
        raw(I).into_bytes(),
    ));

    // ÖR35: SEK, 1.0.4217.
    v.push(breaks(
        "ÖR35",
        "/claimSpecification/payableAmount/currency",
        "payable in EUR",
        with(O, |c| c.payable_amount.currency.code = some("EUR")),
    ));
    v.push(breaks(
        "ÖR35",
        format!("{HP1}/categorization/DRGCost/DRGPrice/currency"),
        "DRG price with another code system",
        with(I, |c| {
            hp(c, 0)
                .categorization
                .as_mut()
                .unwrap()
                .drg_cost
                .as_mut()
                .unwrap()
                .drg_price
                .as_mut()
                .unwrap()
                .currency
                .code_system = some("1.0.4218")
        }),
    ));
    v.push(keeps("ÖR35", "every amount in SEK", raw(I).into_bytes()));

    // ÖR36: reason for credit.
    v.push(breaks(
        "ÖR36",
        format!("{HP1}/reasonForCredit"),
        "reason 10",
        with(C, |c| hp(c, 0).reason_for_credit = some("10")),
    ));
    v.push(keeps(
        "ÖR36",
        "reason 9",
        with(C, |c| hp(c, 0).reason_for_credit = some("9")),
    ));

    // ÖR37: basis id.
    v.push(breaks(
        "ÖR37",
        "/claimSpecification/id",
        "id of 22 characters",
        with(O, |c| c.id = "ZVF2321000255261100012".into()),
    ));
    v.push(breaks(
        "ÖR37",
        "/claimSpecification/id",
        "id not starting with ZVF",
        with(O, |c| c.id = "ZVX23210002552611000123".into()),
    ));
    v.push(keeps("ÖR37", "23 characters from ZVF", raw(O).into_bytes()));

    // ÖR39: coded values have code and codeSystem.
    v.push(breaks(
        "ÖR39",
        format!("{POI1}/gender/codeSystem"),
        "gender without code system",
        with(O, |c| poi(c, 0).gender.as_mut().unwrap().code_system = None),
    ));
    v.push(breaks(
        "ÖR39",
        format!("{HP1}/treatment/typeOfTreatment[1]/code"),
        "procedure without code",
        with(O, |c| {
            hp(c, 0).treatment.as_mut().unwrap().type_of_treatment[0].code = None
        }),
    ));
    v.push(breaks(
        "ÖR39",
        format!("{HP1}/diagnosis/inpatientCareDiagnosis/biDiagnosis[1]/diagnosisCode/codeSystem"),
        "secondary diagnosis without code system",
        with(I, |c| {
            hp(c, 0)
                .diagnosis
                .as_mut()
                .unwrap()
                .inpatient_care_diagnosis
                .as_mut()
                .unwrap()
                .bi_diagnosis[0]
                .diagnosis_code
                .code_system = None
        }),
    ));
    v.push(keeps(
        "ÖR39",
        "county and municipality without code system, DRG code with only originalText",
        raw(A).into_bytes(),
    ));
    v.push(keeps(
        "ÖR39",
        "DRG code with only originalText",
        raw(I).into_bytes(),
    ));

    // ÖR40, ÖR41: county and municipality codes and systems.
    v.push(breaks(
        "ÖR40",
        format!("{POI1}/county/code"),
        "county 02 (no such county)",
        with(O, |c| {
            poi(c, 0).county.code = some("02");
            poi(c, 0).municipality.code = some("0280");
        }),
    ));
    v.push(breaks(
        "ÖR40",
        format!("{POI1}/county/codeSystem"),
        "county with the municipality code system",
        with(O, |c| {
            poi(c, 0).county.code_system = some("1.2.752.129.2.2.1.17")
        }),
    ));
    v.push(breaks(
        "ÖR40",
        format!("{POI1}/county/codeSystem"),
        "county 99 with a code system",
        with(A, |c| {
            poi(c, 0).county.code_system = some("1.2.752.129.2.2.1.18")
        }),
    ));
    v.push(keeps("ÖR40", "county 01 and 99", raw(A).into_bytes()));
    v.push(keeps("ÖR40", "county 01", raw(O).into_bytes()));
    v.push(breaks(
        "ÖR41",
        format!("{POI1}/municipality/code"),
        "municipality of another county",
        with(O, |c| poi(c, 0).municipality.code = some("0380")),
    ));
    v.push(breaks(
        "ÖR41",
        format!("{POI1}/municipality/codeSystem"),
        "municipality without code system",
        with(O, |c| {
            poi(c, 0).municipality.code_system = None;
        }),
    ));
    v.push(keeps(
        "ÖR41",
        "municipality of the county",
        with(O, |c| poi(c, 0).municipality.code = some("0188")),
    ));
    v.push(keeps(
        "ÖR41",
        "9901 without code system",
        raw(A).into_bytes(),
    ));

    // ÖR42: DRGCode carries originalText only.
    let drg_code = |f: fn(&mut CV)| {
        with(I, move |c| {
            f(hp(c, 0)
                .categorization
                .as_mut()
                .unwrap()
                .drg_cost
                .as_mut()
                .unwrap()
                .drg_code
                .as_mut()
                .unwrap())
        })
    };
    v.push(breaks(
        "ÖR42",
        format!("{HP1}/categorization/DRGCost/DRGCode"),
        "DRG code with a code",
        drg_code(|cv| cv.code = some("F62C")),
    ));
    v.push(breaks(
        "ÖR42",
        format!("{HP1}/categorization/DRGCost/DRGCode"),
        "DRG code without originalText",
        drg_code(|cv| {
            cv.original_text = None;
            cv.display_name = some("Hjärtsvikt");
        }),
    ));
    v.push(keeps(
        "ÖR42",
        "DRG code in originalText",
        raw(I).into_bytes(),
    ));

    // ÖR43: lineIds unique and ascending.
    v.push(breaks(
        "ÖR43",
        format!("{HP2}/lineId"),
        "lineId used twice",
        with(I, |c| hp(c, 1).line_id = "1".into()),
    ));
    v.push(breaks(
        "ÖR43",
        format!("{HP2}/lineId"),
        "lineIds descending",
        with(I, |c| {
            hp(c, 0).line_id = "7".into();
            hp(c, 1).line_id = "3".into();
        }),
    ));
    v.push(keeps(
        "ÖR43",
        "ascending with a gap",
        with(I, |c| hp(c, 1).line_id = "5".into()),
    ));

    // ÖR44, ÖR45, ÖR47: how the price was set.
    v.push(breaks(
        "ÖR44",
        format!("{HP1}/categorization"),
        "categorization with neither DRG nor patient-specific care",
        with(O, |c| {
            hp(c, 0)
                .categorization
                .as_mut()
                .unwrap()
                .patient_specific_care
                .clear()
        }),
    ));
    v.push(keeps("ÖR44", "DRG only", raw(I).into_bytes()));
    v.push(keeps("ÖR44", "patient-specific only", raw(O).into_bytes()));
    v.push(breaks(
        "ÖR45",
        format!("{HP1}/categorization/DRGCost/DRGPrice"),
        "DRG cost without price",
        with(I, |c| {
            hp(c, 0)
                .categorization
                .as_mut()
                .unwrap()
                .drg_cost
                .as_mut()
                .unwrap()
                .drg_price = None
        }),
    ));
    v.push(breaks(
        "ÖR45",
        format!("{HP1}/categorization/DRGCost/DRGCode"),
        "DRG cost without code",
        with(I, |c| {
            hp(c, 0)
                .categorization
                .as_mut()
                .unwrap()
                .drg_cost
                .as_mut()
                .unwrap()
                .drg_code = None
        }),
    ));
    v.push(keeps(
        "ÖR45",
        "DRG cost with price and code",
        raw(I).into_bytes(),
    ));
    v.push(breaks(
        "ÖR47",
        format!("{HP1}/categorization/patientSpecificCare[2]"),
        "patient-specific care without its name",
        with(O, |c| {
            hp(c, 0)
                .categorization
                .as_mut()
                .unwrap()
                .patient_specific_care[1]
                .patient_specific_care_code_name = None
        }),
    ));
    v.push(keeps(
        "ÖR47",
        "complete patient-specific care",
        raw(O).into_bytes(),
    ));

    // ÖR49: the medical field code register.
    v.push(breaks(
        "ÖR49",
        format!("{HP1}/activity/medicalFieldCode"),
        "code 999 not in the register",
        with(O, |c| hp(c, 0).activity.medical_field_code = "999".into()),
    ));
    v.push(breaks(
        "ÖR49",
        format!("{HP1}/activity/medicalFieldCode"),
        "two-digit code",
        with(O, |c| hp(c, 0).activity.medical_field_code = "10".into()),
    ));
    v.push(keeps(
        "ÖR49",
        "internal medicine 101",
        with(O, |c| hp(c, 0).activity.medical_field_code = "101".into()),
    ));

    // ÖR51: inCare for inpatient care.
    v.push(breaks(
        "ÖR51",
        format!("{HP1}/timespan/numberOfDays/inCare"),
        "inpatient without days in care",
        with(I, |c| hp(c, 0).timespan.number_of_days = None),
    ));
    v.push(keeps(
        "ÖR51",
        "inpatient with days in care",
        raw(I).into_bytes(),
    ));

    // ÖR52: credit note refers to its original.
    v.push(breaks(
        "ÖR52",
        "/claimSpecification/referenceToProcessClaimSpecificationId",
        "credit note without reference",
        with(C, |c| c.reference_to_process_claim_specification_id = None),
    ));
    v.push(keeps(
        "ÖR52",
        "credit note with reference",
        raw(C).into_bytes(),
    ));
    v.push(keeps(
        "ÖR52",
        "invoice without reference",
        raw(O).into_bytes(),
    ));

    // Identifier checks.
    let identity = |name: &'static str, line: usize, ext: &'static str| {
        with(name, move |c| {
            c.health_care_services_specification_line[line]
                .patient_information
                .patient_identity
                .extension = ext.into()
        })
    };
    v.push(breaks(
        "ID-PERSONNUMMER",
        format!("{L1}/patientInformation/patientIdentity/extension"),
        "wrong check digit",
        identity(O, 0, "197803122387"),
    ));
    v.push(breaks(
        "ID-PERSONNUMMER",
        format!("{L1}/patientInformation/patientIdentity/extension"),
        "no such date",
        identity(O, 0, "197802302386"),
    ));
    v.push(breaks(
        "ID-PERSONNUMMER",
        format!("{L1}/patientInformation/patientIdentity/extension"),
        "10 digits",
        identity(O, 0, "7803122386"),
    ));
    v.push(breaks(
        "ID-PERSONNUMMER",
        format!("{L1}/patientInformation/patientIdentity/extension"),
        "a samordningsnummer under the personnummer OID",
        identity(O, 0, "199004673142"),
    ));
    v.push(keeps(
        "ID-PERSONNUMMER",
        "valid personnummer",
        raw(O).into_bytes(),
    ));
    v.push(breaks(
        "ID-SAMORDNINGSNUMMER",
        "/claimSpecification/healthCareServicesSpecificationLine[2]/patientInformation/patientIdentity/extension",
        "wrong check digit",
        identity(I, 1, "199004673143"),
    ));
    v.push(breaks(
        "ID-SAMORDNINGSNUMMER",
        "/claimSpecification/healthCareServicesSpecificationLine[2]/patientInformation/patientIdentity/extension",
        "a personnummer under the samordningsnummer OID",
        identity(I, 1, "197803122386"),
    ));
    v.push(keeps(
        "ID-SAMORDNINGSNUMMER",
        "valid samordningsnummer",
        raw(I).into_bytes(),
    ));
    v.push(breaks(
        "ID-HSA",
        format!("{HP1}/healthcareUnit/careUnitId/extension"),
        "care unit HSA-id without hyphen",
        with(O, |c| {
            hp(c, 0)
                .healthcare_unit
                .care_unit_id
                .as_mut()
                .unwrap()
                .extension = "SE2321000255E12345".into()
        }),
    ));
    v.push(breaks(
        "ID-HSA",
        format!("{POI1}/listingLocalAuthoritiesNumber/extension"),
        "listing HSA-id with an underscore",
        with(I, |c| {
            poi(c, 0)
                .listing_local_authorities_number
                .as_mut()
                .unwrap()
                .extension = "SE2321000016_0001".into()
        }),
    ));
    v.push(keeps(
        "ID-HSA",
        "HSA-ids of the form SE<org>-<alnum>",
        raw(I).into_bytes(),
    ));
    v
}

fn describe(r: &Report) -> String {
    if r.findings.is_empty() {
        "  (no findings)\n".into()
    } else {
        r.findings.iter().map(|f| format!("  {f}\n")).collect()
    }
}

#[test]
fn every_rule_is_caught_at_its_path_and_satisfied_at_its_boundary() {
    let v = validator();
    let mut failures = Vec::new();
    for case in cases() {
        let r = v.validate(&case.doc);
        // Structural changes must not make the document schema-invalid, or the case would
        // test the XSD instead of the rule.
        let not_rules: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.rule == "XSD" || f.rule == "XML" || f.rule == "MODEL")
            .collect();
        if !not_rules.is_empty() {
            failures.push(format!(
                "{} ({}): the case document is not schema-valid:\n{}",
                case.rule,
                case.what,
                describe(&r)
            ));
            continue;
        }
        for f in &r.findings {
            for id in PATIENT_IDS {
                if f.message.contains(id) {
                    failures.push(format!(
                        "{} ({}): message repeats a patient id: {f}",
                        case.rule, case.what
                    ));
                }
            }
        }
        match &case.breaks_at {
            Some(path) => {
                if !r
                    .findings
                    .iter()
                    .any(|f| f.rule == case.rule && &f.path == path)
                {
                    failures.push(format!(
                        "{} ({}): expected {} at {path}, got:\n{}",
                        case.rule,
                        case.what,
                        case.rule,
                        describe(&r)
                    ));
                }
            }
            None => {
                if r.findings.iter().any(|f| f.rule == case.rule) {
                    failures.push(format!(
                        "{} ({}): expected no {} finding, got:\n{}",
                        case.rule,
                        case.what,
                        case.rule,
                        describe(&r)
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_table_covers_every_rule_both_ways() {
    let cases = cases();
    // ÖR32 is retired; ÖR6's formula is reported as ÖR28, as the official Schematron does.
    let mut rules: Vec<String> = (1..=52)
        .filter(|n| *n != 32 && *n != 6)
        .map(|n| format!("ÖR{n}"))
        .collect();
    rules.extend(
        [
            "ID-PERSONNUMMER",
            "ID-SAMORDNINGSNUMMER",
            "ID-HSA",
            "ID-ORGNR",
        ]
        .map(String::from),
    );
    for rule in &rules {
        assert!(
            cases
                .iter()
                .any(|c| c.rule == rule && c.breaks_at.is_some()),
            "no case breaks {rule}"
        );
        assert!(
            cases
                .iter()
                .any(|c| c.rule == rule && c.breaks_at.is_none()),
            "no case satisfies {rule}"
        );
    }
}

#[test]
fn the_hand_made_documents_break_no_rule() {
    let v = validator();
    for name in [O, I, C, A] {
        let r = v.validate(raw(name).as_bytes());
        assert!(r.is_valid(), "{name}:\n{}", describe(&r));
    }
}

#[test]
fn messages_give_both_amounts() {
    let v = validator();
    let r = v.validate(&with(O, |c| c.payable_amount = sek("2305.50")));
    let f = r.findings.iter().find(|f| f.rule == "ÖR5").expect("ÖR5");
    assert!(
        f.message.contains("2305.50")
            && f.message.contains("2300.00")
            && f.message.contains("5.50"),
        "{f}"
    );
    let r = v.validate(&with(I, |c| {
        hp(c, 0)
            .invoiced_amount_details
            .patient_care_invoice_net_amount = sek("47999.99")
    }));
    let f = r.findings.iter().find(|f| f.rule == "ÖR28").expect("ÖR28");
    assert!(
        f.message.contains("47999.99")
            && f.message.contains("48000.00")
            && f.message.contains("ÖR6 in the contract's table"),
        "{f}"
    );
}

#[test]
fn a_deployments_code_list_replaces_the_built_in_one() {
    let dir = std::env::temp_dir().join(format!("ih-mvo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mvo.txt");
    std::fs::write(&file, "# local register\n999 Test field\n107 Kardiologi\n").unwrap();
    let ctx = RuleContext::new(today())
        .with_medical_field_codes_file(&file)
        .unwrap();
    assert_eq!(ctx.medical_field_codes().len(), 2);
    let v = Validator::new(ctx).unwrap();
    // 999 is now known; 107 (the document's own code) still is.
    let doc = with(O, |c| hp(c, 0).activity.medical_field_code = "999".into());
    let r = v.validate(&doc);
    assert!(
        !r.findings.iter().any(|f| f.rule == "ÖR49"),
        "{}",
        describe(&r)
    );
    assert!(v.validate(raw(O).as_bytes()).is_valid());
    // 101, in the built-in list, is not in this one.
    let doc = with(O, |c| hp(c, 0).activity.medical_field_code = "101".into());
    assert!(v.validate(&doc).findings.iter().any(|f| f.rule == "ÖR49"));

    // A broken file names itself and the line.
    std::fs::write(&file, "107\n12 too short\n").unwrap();
    let e = RuleContext::new(today())
        .with_medical_field_codes_file(&file)
        .unwrap_err()
        .to_string();
    assert!(e.contains("mvo.txt:2:"), "{e}");
    let e = RuleContext::new(today())
        .with_medical_field_codes_file(&dir.join("missing.txt"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.txt"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(MedicalFieldCodes::embedded().contains("101"));
}

#[test]
fn findings_on_one_document_are_all_reported() {
    // Three independent problems in one basis: each is reported, none hides the others.
    let v = validator();
    let doc = with(I, |c| {
        c.type_of_invoice = "383".into();
        hp(c, 0).care_contact_id = None;
        hp(c, 1).activity.care_level = some("9");
    });
    let r = v.validate(&doc);
    let rules: Vec<&str> = r.findings.iter().map(|f| f.rule.as_str()).collect();
    for rule in ["ÖR4", "ÖR11", "ÖR30"] {
        assert!(rules.contains(&rule), "{rule} missing: {rules:?}");
    }
}

#[test]
fn the_cli_reports_rules_as_json_and_takes_a_code_list() {
    use std::process::Command;
    let dir = std::env::temp_dir().join(format!("ih-rules-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let doc = dir.join("basis.xml");
    std::fs::write(
        &doc,
        with(O, |c| hp(c, 0).activity.medical_field_code = "888".into()),
    )
    .unwrap();
    let run = |extra: &[&std::ffi::OsStr]| {
        Command::new(env!("CARGO_BIN_EXE_invoice-hub"))
            .args(["validate", "--format", "json", "--today", "20261122"])
            .args(extra)
            .arg(&doc)
            .output()
            .unwrap()
    };

    // Built-in list: 888 is unknown, reported as ÖR49 with its path, exit 1.
    let o = run(&[]);
    assert_eq!(o.status.code(), Some(1));
    let line: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(line["result"], "ERROR");
    assert_eq!(line["errors"][0]["rule"], "ÖR49");
    assert_eq!(
        line["errors"][0]["path"],
        format!("{HP1}/activity/medicalFieldCode")
    );

    // A deployment's list that has 888: valid, exit 0.
    let list = dir.join("mvo.txt");
    std::fs::write(&list, "888 Lokal verksamhet\n").unwrap();
    let o = run(&["--medical-field-codes".as_ref(), list.as_os_str()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );

    // A broken list: usage error naming the file and line, exit 2.
    std::fs::write(&list, "888\nabc\n").unwrap();
    let o = run(&["--medical-field-codes".as_ref(), list.as_os_str()]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("mvo.txt:2"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
