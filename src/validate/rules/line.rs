//! Rules on one `healthcarePerformed` (a contact or stay): its codes, dates and the fields a
//! kind of care requires. Amount arithmetic is in [`super::amounts`].
//!
//! Care dates, diagnoses, procedures and care units are personal data: messages name the
//! element and what was expected, and repeat only the basis's own issue date.

use super::{date, one_of, ov, v, ymd, At, Findings};
use crate::claim::{CareDiagnosis, ClaimSpecification, HealthcarePerformed, InvoicePeriod, CV};
use crate::validate::ids::{self, HSA_OID};

const AGREEMENTS: &[&str] = &["1", "2", "3"];
const CHAPTERS: &[&str] = &["1", "2", "3", "4", "5", "6", "7"];
const RIKSAVTAL: &[&str] = &["3.1", "3.2", "4.1", "4.3", "4.4"];
const REIMBURSEMENTS: &[&str] = &["1", "2"];
const TYPES_OF_CARE: &[&str] = &["01", "02"];
const TYPES_OF_VISIT: &[&str] = &["1", "2"];
/// ÖR22: the profession codes the contract allows.
pub(crate) const PROFESSION_CODES: &[&str] = &[
    "AP", "AT", "AU", "BM", "BA", "DT", "FT", "HK", "KP", "LG", "LK", "NA", "OP", "OT", "PS", "PT",
    "RC", "RS", "SG", "SF", "SJ", "TH", "TL", "US", "TP", "TO", "OV",
];
const PRODUCT_CATEGORIES: &[&str] = &["01", "02", "03", "04", "99"];
const PRICE_LISTS: &[&str] = &["1", "2", "3", "4", "5", "6"];
const FEE_CATEGORIES: &[&str] = &["01", "02", "03", "04", "05", "99"];
const CARE_LEVELS: &[&str] = &["1", "2", "3", "4"];
const CREDIT_REASONS: &[&str] = &["1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// A coded leaf from a closed list: reports `rule` when the value is not in `allowed`.
fn closed(
    value: Option<&str>,
    allowed: &[&str],
    rule: &'static str,
    at: &At,
    what: &str,
    out: &mut Findings,
) {
    if let Some(val) = value {
        if !allowed.contains(&val) {
            out.add(
                rule,
                at,
                format!("{what} is '{val}'; expected {}", one_of(allowed)),
            );
        }
    }
}

/// ÖR39: a coded value has both `code` and `codeSystem`.
pub(crate) fn cv_code_and_system(cv: &CV, at: &At, what: &str, out: &mut Findings) {
    if cv.code.is_none() {
        out.add(
            "ÖR39",
            &at.at("code"),
            format!("the {what} has no code; every coded value needs code and codeSystem"),
        );
    }
    if cv.code_system.is_none() {
        out.add(
            "ÖR39",
            &at.at("codeSystem"),
            format!("the {what} has no codeSystem; every coded value needs code and codeSystem"),
        );
    }
}

/// ÖR43: lineId values are unique and ascending through the whole basis. `seen` holds the
/// lineIds so far: under the contract, the highest one (as a number); under the official
/// Schematron, every one as written, since its sort key names an element that does not exist
/// and so only uniqueness is checked, comparing strings (`1` and `01` differ).
pub(super) fn check_line_id(
    hp: &HealthcarePerformed,
    at: &At,
    seen: &mut LineIds,
    out: &mut Findings,
) {
    if out.official() {
        if !seen.written.insert(hp.line_id.clone()) {
            out.add(
                "ÖR43",
                &at.at("lineId"),
                format!(
                    "lineId '{}' is used twice; every lineId must be unique",
                    hp.line_id
                ),
            );
        }
        return;
    }
    let Some(id) = crate::claim::lexical::integer(&hp.line_id) else {
        return;
    };
    if let Some(prev) = seen.highest {
        if id == prev {
            out.add(
                "ÖR43",
                &at.at("lineId"),
                format!("lineId {id} is used twice; every lineId must be unique"),
            );
            return;
        }
        if id < prev {
            out.add(
                "ÖR43",
                &at.at("lineId"),
                format!(
                    "lineId {id} comes after lineId {prev}; lineIds must be unique and ascending"
                ),
            );
            return;
        }
    }
    seen.highest = Some(id);
}

/// The lineIds ÖR43 has seen so far in a basis.
#[derive(Default)]
pub(super) struct LineIds {
    highest: Option<i64>,
    written: std::collections::HashSet<String>,
}

/// One line and what its rules share.
struct Line<'a> {
    c: &'a ClaimSpecification,
    hp: &'a HealthcarePerformed,
    at: &'a At<'a>,
    issued: Option<chrono::NaiveDate>,
    inpatient: bool,
    psychiatry: bool,
}

/// A leaf from a closed code list: where it is below the line, its name in messages, the codes
/// the contract allows, and how to read it (`None` when it, or what holds it, is absent).
struct Closed {
    rule: &'static str,
    path: &'static [&'static str],
    what: &'static str,
    allowed: &'static [&'static str],
    value: for<'h> fn(&'h HealthcarePerformed) -> Option<&'h str>,
}

/// One row of the line rules: a closed code list, or a check of its own.
enum Rule {
    Closed(Closed),
    Check(fn(&Line, &mut Findings)),
}

use Rule::{Check, Closed as List};

/// The line rules, in the order of the contract's table (findings come out in this order).
const RULES: &[Rule] = &[
    Check(care_contact), // ÖR11
    List(Closed {
        rule: "ÖR36",
        path: &["reasonForCredit"],
        what: "reasonForCredit",
        allowed: CREDIT_REASONS,
        value: |hp| ov(&hp.reason_for_credit),
    }),
    List(Closed {
        rule: "ÖR12",
        path: &["paymentCommitment", "typeOfAgreement"],
        what: "typeOfAgreement",
        allowed: AGREEMENTS,
        value: |hp| {
            hp.payment_commitment
                .as_ref()
                .and_then(|p| ov(&p.type_of_agreement))
        },
    }),
    List(Closed {
        rule: "ÖR13",
        path: &["paymentCommitment", "typeOfChapter"],
        what: "typeOfChapter (Riksavtal chapter)",
        allowed: CHAPTERS,
        value: |hp| {
            hp.payment_commitment
                .as_ref()
                .and_then(|p| ov(&p.type_of_chapter))
        },
    }),
    List(Closed {
        rule: "ÖR50",
        path: &["paymentCommitment", "agreementInRiksavtalet"],
        what: "agreementInRiksavtalet",
        allowed: RIKSAVTAL,
        value: |hp| {
            hp.payment_commitment
                .as_ref()
                .and_then(|p| ov(&p.agreement_in_riksavtalet))
        },
    }),
    List(Closed {
        rule: "ÖR14",
        path: &["paymentCommitment", "typeOfReimbursement"],
        what: "typeOfReimbursement",
        allowed: REIMBURSEMENTS,
        value: |hp| {
            hp.payment_commitment
                .as_ref()
                .and_then(|p| ov(&p.type_of_reimbursement))
        },
    }),
    Check(type_of_care_coded), // ÖR39
    List(Closed {
        rule: "ÖR15",
        path: &["healthcareCategory", "typeOfCare", "code"],
        what: "typeOfCare",
        allowed: TYPES_OF_CARE,
        value: |hp| ov(&hp.healthcare_category.type_of_care.code),
    }),
    List(Closed {
        rule: "ÖR16",
        path: &["healthcareCategory", "typeOfVisit"],
        what: "typeOfVisit",
        allowed: TYPES_OF_VISIT,
        value: |hp| ov(&hp.healthcare_category.type_of_visit),
    }),
    Check(dates),     // ÖR17–ÖR21, ÖR38, ÖR51
    Check(care_unit), // ID-HSA, ÖR22, ÖR23
    List(Closed {
        rule: "ÖR24",
        path: &["categorization", "productCategory"],
        what: "productCategory",
        allowed: PRODUCT_CATEGORIES,
        value: |hp| {
            hp.categorization
                .as_ref()
                .and_then(|c| ov(&c.product_category))
        },
    }),
    List(Closed {
        rule: "ÖR25",
        path: &["categorization", "priceList"],
        what: "priceList",
        allowed: PRICE_LISTS,
        value: |hp| hp.categorization.as_ref().and_then(|c| ov(&c.price_list)),
    }),
    Check(price_basis),           // ÖR44
    Check(drg_cost),              // ÖR45, ÖR42
    Check(patient_specific_care), // ÖR47
    List(Closed {
        rule: "ÖR29",
        path: &["invoicedAmountDetails", "patientFeeReducedCategory"],
        what: "patientFeeReducedCategory",
        allowed: FEE_CATEGORIES,
        value: |hp| ov(&hp.invoiced_amount_details.patient_fee_reduced_category),
    }),
    Check(medical_field_code),      // ÖR49
    Check(business_classification), // ÖR39
    List(Closed {
        rule: "ÖR30",
        path: &["activity", "careLevel"],
        what: "careLevel",
        allowed: CARE_LEVELS,
        value: |hp| ov(&hp.activity.care_level),
    }),
    Check(psychiatry_and_inpatient_diagnosis), // ÖR33, ÖR31
    Check(diagnosis_and_treatment_codes),      // ÖR39
];

/// The line rules of one `healthcarePerformed`, row by row of [`RULES`].
pub(super) fn check(c: &ClaimSpecification, hp: &HealthcarePerformed, at: &At, out: &mut Findings) {
    let line = Line {
        c,
        hp,
        at,
        issued: date(&c.issue_date),
        inpatient: hp.healthcare_category.is_inpatient(),
        psychiatry: v(&hp.activity.medical_field_code).starts_with('9'),
    };
    for rule in RULES {
        match rule {
            Rule::Closed(list) => {
                let value = (list.value)(hp);
                below(at, list.path, &mut |at| {
                    closed(value, list.allowed, list.rule, at, list.what, out);
                });
            }
            Rule::Check(check) => check(&line, out),
        }
    }
}

/// Calls `f` with the place `path` names below `at`.
fn below(at: &At, path: &[&str], f: &mut dyn FnMut(&At)) {
    match path {
        [] => f(at),
        [first, rest @ ..] => below(&at.at(first), rest, f),
    }
}

/// ÖR11: inpatient care names its care contact (the official file compares untrimmed).
fn care_contact(l: &Line, out: &mut Findings) {
    let type_of_care = out.oval(&l.hp.healthcare_category.type_of_care.code);
    if type_of_care == Some("02") && l.hp.care_contact_id.is_none() {
        out.add(
            "ÖR11",
            &l.at.at("careContactId"),
            "careContactId is required for inpatient care (typeOfCare 02)".to_owned(),
        );
    }
}

/// ÖR39 for the type of care.
fn type_of_care_coded(l: &Line, out: &mut Findings) {
    let at = l.at.at("healthcareCategory");
    let toc = &l.hp.healthcare_category.type_of_care;
    cv_code_and_system(toc, &at.at("typeOfCare"), "type of care", out);
}

fn dates(l: &Line, out: &mut Findings) {
    timespan(l.c, l.hp, l.at, l.issued, l.inpatient, out);
}

/// The care unit: its HSA-id (when it is one), ÖR22's profession codes, ÖR23 for outpatient care.
fn care_unit(l: &Line, out: &mut Findings) {
    let at_u = l.at.at("healthcareUnit");
    let unit = &l.hp.healthcare_unit;
    if let Some(id) = &unit.care_unit_id {
        if v(&id.root) == HSA_OID {
            if let Err(problem) = ids::check_hsa_id(&id.extension) {
                out.add(
                    "ID-HSA",
                    &at_u.at("careUnitId").at("extension"),
                    format!("the care unit's HSA-id {problem}"),
                );
            }
        }
    }
    match ov(&unit.profession_code_for_healthcare) {
        Some(code) => closed(
            Some(code),
            PROFESSION_CODES,
            "ÖR22",
            &at_u.at("professionCodeForHealthcare"),
            "professionCodeForHealthcare",
            out,
        ),
        None if out.oval(&l.hp.healthcare_category.type_of_care.code) == Some("01") => out.add(
            "ÖR23",
            &at_u.at("professionCodeForHealthcare"),
            "professionCodeForHealthcare is required for outpatient care (typeOfCare 01)"
                .to_owned(),
        ),
        None => {}
    }
}

/// ÖR44: a categorization says how the price was set.
fn price_basis(l: &Line, out: &mut Findings) {
    let Some(cat) = &l.hp.categorization else {
        return;
    };
    if cat.drg_cost.is_none() && cat.patient_specific_care.is_empty() {
        out.add(
            "ÖR44",
            &l.at.at("categorization"),
            "categorization has neither a DRGCost nor any patientSpecificCare; one of them \
             is required to show how the price was set"
                .to_owned(),
        );
    }
}

/// ÖR45: a DRGCost has its price and code; ÖR42: the code is the DRG in originalText only.
fn drg_cost(l: &Line, out: &mut Findings) {
    let Some(drg) =
        l.hp.categorization
            .as_ref()
            .and_then(|c| c.drg_cost.as_ref())
    else {
        return;
    };
    let at_c = l.at.at("categorization");
    let at_d = at_c.at("DRGCost");
    if drg.drg_price.is_none() {
        out.add(
            "ÖR45",
            &at_d.at("DRGPrice"),
            "a DRGCost needs a DRGPrice".to_owned(),
        );
    }
    let Some(code) = &drg.drg_code else {
        out.add(
            "ÖR45",
            &at_d.at("DRGCode"),
            "a DRGCost needs a DRGCode".to_owned(),
        );
        return;
    };
    let others = code.code.is_some()
        || code.code_system.is_some()
        || code.code_system_name.is_some()
        || code.code_system_version.is_some()
        || code.display_name.is_some()
        // The official file counts extension elements among the others.
        || (out.official() && !code.extensions.is_empty());
    if code.original_text.is_none() || others {
        out.add(
            "ÖR42",
            &at_d.at("DRGCode"),
            "DRGCode must hold the DRG in originalText and nothing else (no code, codeSystem, \
             codeSystemName, codeSystemVersion or displayName)"
                .to_owned(),
        );
    }
}

/// ÖR47: each patientSpecificCare has code, code name, price and count.
fn patient_specific_care(l: &Line, out: &mut Findings) {
    let Some(cat) = &l.hp.categorization else {
        return;
    };
    let at_c = l.at.at("categorization");
    for (i, psc) in cat.patient_specific_care.iter().enumerate() {
        let missing: Vec<&str> = [
            (
                psc.patient_specific_care_code.is_none(),
                "patientSpecificCareCode",
            ),
            (
                psc.patient_specific_care_code_name.is_none(),
                "patientSpecificCareCodeName",
            ),
            (
                psc.patient_specific_care_price.is_none(),
                "patientSpecificCarePrice",
            ),
            (
                psc.number_of_patient_specific_care.is_none(),
                "numberOfPatientSpecificCare",
            ),
        ]
        .into_iter()
        .filter_map(|(absent, name)| absent.then_some(name))
        .collect();
        if !missing.is_empty() {
            out.add(
                "ÖR47",
                &at_c.nth("patientSpecificCare", i),
                format!(
                    "patientSpecificCare lacks {}; code, code name, price and count are all \
                     required",
                    one_of(&missing).replace(" or ", " and ")
                ),
            );
        }
    }
}

/// ÖR49: the medical field code is in the register (official: exactly as written).
fn medical_field_code(l: &Line, out: &mut Findings) {
    let mfc = out.val(&l.hp.activity.medical_field_code);
    if !out.ctx.medical_field_codes().contains(mfc) {
        let n = out.ctx.medical_field_codes().len();
        out.add(
            "ÖR49",
            &l.at.at("activity").at("medicalFieldCode"),
            format!(
                "the medical field code is not in the register of medical field codes \
                 ({n} codes); expected a 3-digit code from Socialstyrelsen's register"
            ),
        );
    }
}

/// ÖR39 for the business classification.
fn business_classification(l: &Line, out: &mut Findings) {
    if let Some(bc) = &l.hp.activity.business_classification {
        let at = l.at.at("activity");
        let at = at.at("businessClassification");
        cv_code_and_system(bc, &at, "business classification", out);
    }
}

/// ÖR33: psychiatric care carries no diagnoses or treatment codes; ÖR31: other inpatient care
/// has a main diagnosis unless an invoice period is given.
fn psychiatry_and_inpatient_diagnosis(l: &Line, out: &mut Findings) {
    let hp = l.hp;
    if l.psychiatry {
        if hp.diagnosis.is_some() {
            out.add(
                "ÖR33",
                &l.at.at("diagnosis"),
                "psychiatric care (medical field code 9xx) must not carry diagnoses".to_owned(),
            );
        }
        if hp.treatment.is_some() {
            out.add(
                "ÖR33",
                &l.at.at("treatment"),
                "psychiatric care (medical field code 9xx) must not carry treatment codes"
                    .to_owned(),
            );
        }
    } else if l.inpatient
        && hp.timespan.invoice_period.is_none()
        && hp
            .diagnosis
            .as_ref()
            .is_none_or(|d| d.inpatient_care_diagnosis.is_none())
    {
        // Psychiatry is exempt: ÖR33 forbids its diagnoses.
        out.add(
            "ÖR31",
            &l.at.at("diagnosis").at("inpatientCareDiagnosis"),
            "inpatient care needs an inpatient main diagnosis unless an invoicePeriod is given"
                .to_owned(),
        );
    }
}

/// ÖR39 for every diagnosis, procedure and ATC code.
fn diagnosis_and_treatment_codes(l: &Line, out: &mut Findings) {
    if let Some(d) = &l.hp.diagnosis {
        let at_d = l.at.at("diagnosis");
        for (name, cd) in [
            ("inpatientCareDiagnosis", &d.inpatient_care_diagnosis),
            ("outpatientCareDiagnosis", &d.outpatient_care_diagnosis),
        ] {
            if let Some(cd) = cd {
                diagnosis_codes(cd, &at_d.at(name), out);
            }
        }
    }
    if let Some(t) = &l.hp.treatment {
        let at_t = l.at.at("treatment");
        for (i, cv) in t.type_of_treatment.iter().enumerate() {
            cv_code_and_system(cv, &at_t.nth("typeOfTreatment", i), "procedure (KVÅ)", out);
        }
        for (i, cv) in t.atc.iter().enumerate() {
            cv_code_and_system(cv, &at_t.nth("ATC", i), "ATC code", out);
        }
    }
}

fn diagnosis_codes(cd: &CareDiagnosis, at: &At, out: &mut Findings) {
    cv_code_and_system(
        &cd.main_diagnosis.diagnosis_code,
        &at.at("mainDiagnosis").at("diagnosisCode"),
        "diagnosis",
        out,
    );
    for (i, bi) in cd.bi_diagnosis.iter().enumerate() {
        cv_code_and_system(
            &bi.diagnosis_code,
            &at.nth("biDiagnosis", i).at("diagnosisCode"),
            "diagnosis",
            out,
        );
    }
}

/// ÖR17–ÖR21, ÖR38, ÖR51.
#[expect(
    clippy::too_many_lines,
    reason = "the date rules of one line (ÖR17–ÖR21, ÖR38, ÖR51) in the contract's order"
)]
fn timespan(
    c: &ClaimSpecification,
    hp: &HealthcarePerformed,
    at: &At,
    issued: Option<chrono::NaiveDate>,
    inpatient: bool,
    out: &mut Findings,
) {
    let ts = &hp.timespan;
    let at_ts = at.at("timespan");
    let visit = date(&ts.healthcare_visit_date_time.care_visit_date);
    // The official file compares the two dates as strings, as written.
    let later = if out.official() {
        ts.healthcare_visit_date_time.care_visit_date.as_str() > c.issue_date.as_str()
    } else {
        matches!((visit, issued), (Some(visit), Some(issued)) if visit > issued)
    };
    if later {
        out.add(
            "ÖR17",
            &at_ts.at("healthcareVisitDateTime").at("careVisitDate"),
            format!(
                "the care visit date is later than the basis's issue date {}",
                c.issue_date.trim()
            ),
        );
    }
    if let Some(dis) = &ts.healthcare_discharge_date_time {
        let at_ddt = at_ts.at("healthcareDischargeDateTime");
        let at_dis = at_ddt.at("careDischargeDate");
        if let Some(discharged) = date(&dis.care_discharge_date) {
            if visit.is_some_and(|visit| discharged < visit) {
                out.add(
                    "ÖR18",
                    &at_dis,
                    "the discharge date is earlier than the care visit (admission) date".to_owned(),
                );
            }
            if issued.is_some_and(|issued| discharged > issued) {
                out.add(
                    "ÖR38",
                    &at_dis,
                    format!(
                        "the discharge date is later than the basis's issue date {}",
                        ymd(issued.expect("checked"))
                    ),
                );
            }
        }
    }
    if let Some(p) = &ts.invoice_period {
        let at_p = at_ts.at("invoicePeriod");
        match (&p.start, &p.end) {
            (None, _) => out.add(
                "ÖR19",
                &at_p.at("start"),
                "invoicePeriod needs both start and end; start is missing".to_owned(),
            ),
            (_, None) => out.add(
                "ÖR19",
                &at_p.at("end"),
                "invoicePeriod needs both start and end; end is missing".to_owned(),
            ),
            _ => {}
        }
        let start = p.start.as_deref().and_then(date);
        let end = p.end.as_deref().and_then(date);
        if out.official() {
            invoice_period_official(p, &c.issue_date, &at_p, out);
        } else if let Some(issued) = issued {
            for (name, d) in [("start", start), ("end", end)] {
                if d.is_some_and(|d| d > issued) {
                    out.add(
                        "ÖR20",
                        &at_p.at(name),
                        format!(
                            "the invoice period's {name} is later than the basis's issue date {}",
                            ymd(issued)
                        ),
                    );
                }
            }
        }
        if let (Some(start), Some(end)) = (start, end) {
            if end < start {
                out.add(
                    "ÖR21",
                    &at_p.at("end"),
                    "the invoice period ends before it starts".to_owned(),
                );
            }
        }
    }
    if inpatient
        && ts
            .number_of_days
            .as_ref()
            .is_none_or(|n| n.in_care.is_none())
    {
        out.add(
            "ÖR51",
            &at_ts.at("numberOfDays").at("inCare"),
            "numberOfDays/inCare (days in care) is required for inpatient care (typeOfCare 02)"
                .to_owned(),
        );
    }
}

/// R20 as the official file tests it: `end < issueDate or start < issueDate`, as strings —
/// strict, and passing when either date is earlier. A period that ends on the issue date
/// fails; one with only its start before the issue date passes.
fn invoice_period_official(p: &InvoicePeriod, issue_date: &str, at: &At, out: &mut Findings) {
    let earlier = |d: &Option<String>| d.as_deref().is_some_and(|d| d < issue_date);
    if !(earlier(&p.end) || earlier(&p.start)) {
        out.add(
            "ÖR20",
            &at.at("end"),
            format!(
                "neither the invoice period's end nor its start is before the basis's issue \
                 date {issue_date}"
            ),
        );
    }
}
