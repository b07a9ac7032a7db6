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

#[expect(
    clippy::too_many_lines,
    reason = "the line rules in the order of the contract's table; to become a rule table (issue 22, item 3)"
)]
pub(super) fn check(c: &ClaimSpecification, hp: &HealthcarePerformed, at: &At, out: &mut Findings) {
    let issued = date(&c.issue_date);
    let inpatient = hp.healthcare_category.is_inpatient();
    let psychiatry = v(&hp.activity.medical_field_code).starts_with('9');

    // ÖR11: inpatient care names its care contact (the official file compares untrimmed).
    let type_of_care = out.oval(&hp.healthcare_category.type_of_care.code);
    if type_of_care == Some("02") && hp.care_contact_id.is_none() {
        out.add(
            "ÖR11",
            &at.at("careContactId"),
            "careContactId is required for inpatient care (typeOfCare 02)".to_owned(),
        );
    }
    closed(
        ov(&hp.reason_for_credit),
        CREDIT_REASONS,
        "ÖR36",
        &at.at("reasonForCredit"),
        "reasonForCredit",
        out,
    );

    if let Some(pc) = &hp.payment_commitment {
        let at_pc = at.at("paymentCommitment");
        closed(
            ov(&pc.type_of_agreement),
            AGREEMENTS,
            "ÖR12",
            &at_pc.at("typeOfAgreement"),
            "typeOfAgreement",
            out,
        );
        closed(
            ov(&pc.type_of_chapter),
            CHAPTERS,
            "ÖR13",
            &at_pc.at("typeOfChapter"),
            "typeOfChapter (Riksavtal chapter)",
            out,
        );
        closed(
            ov(&pc.agreement_in_riksavtalet),
            RIKSAVTAL,
            "ÖR50",
            &at_pc.at("agreementInRiksavtalet"),
            "agreementInRiksavtalet",
            out,
        );
        closed(
            ov(&pc.type_of_reimbursement),
            REIMBURSEMENTS,
            "ÖR14",
            &at_pc.at("typeOfReimbursement"),
            "typeOfReimbursement",
            out,
        );
    }

    // Category.
    let at_cat = at.at("healthcareCategory");
    let toc = &hp.healthcare_category.type_of_care;
    let at_toc = at_cat.at("typeOfCare");
    cv_code_and_system(toc, &at_toc, "type of care", out);
    closed(
        ov(&toc.code),
        TYPES_OF_CARE,
        "ÖR15",
        &at_toc.at("code"),
        "typeOfCare",
        out,
    );
    closed(
        ov(&hp.healthcare_category.type_of_visit),
        TYPES_OF_VISIT,
        "ÖR16",
        &at_cat.at("typeOfVisit"),
        "typeOfVisit",
        out,
    );

    timespan(c, hp, at, issued, inpatient, out);

    // Care unit.
    let at_u = at.at("healthcareUnit");
    let unit = &hp.healthcare_unit;
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
        None if out.oval(&hp.healthcare_category.type_of_care.code) == Some("01") => out.add(
            "ÖR23",
            &at_u.at("professionCodeForHealthcare"),
            "professionCodeForHealthcare is required for outpatient care (typeOfCare 01)"
                .to_owned(),
        ),
        None => {}
    }

    // Pricing.
    if let Some(cat) = &hp.categorization {
        let at_c = at.at("categorization");
        closed(
            ov(&cat.product_category),
            PRODUCT_CATEGORIES,
            "ÖR24",
            &at_c.at("productCategory"),
            "productCategory",
            out,
        );
        closed(
            ov(&cat.price_list),
            PRICE_LISTS,
            "ÖR25",
            &at_c.at("priceList"),
            "priceList",
            out,
        );
        if cat.drg_cost.is_none() && cat.patient_specific_care.is_empty() {
            out.add(
                "ÖR44",
                &at_c,
                "categorization has neither a DRGCost nor any patientSpecificCare; one of them \
                 is required to show how the price was set"
                    .to_owned(),
            );
        }
        if let Some(drg) = &cat.drg_cost {
            let at_d = at_c.at("DRGCost");
            if drg.drg_price.is_none() {
                out.add(
                    "ÖR45",
                    &at_d.at("DRGPrice"),
                    "a DRGCost needs a DRGPrice".to_owned(),
                );
            }
            match &drg.drg_code {
                None => out.add(
                    "ÖR45",
                    &at_d.at("DRGCode"),
                    "a DRGCost needs a DRGCode".to_owned(),
                ),
                Some(code) => {
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
                            "DRGCode must hold the DRG in originalText and nothing else (no \
                             code, codeSystem, codeSystemName, codeSystemVersion or displayName)"
                                .to_owned(),
                        );
                    }
                }
            }
        }
        for (i, psc) in cat.patient_specific_care.iter().enumerate() {
            let mut missing: Vec<&str> = Vec::new();
            if psc.patient_specific_care_code.is_none() {
                missing.push("patientSpecificCareCode");
            }
            if psc.patient_specific_care_code_name.is_none() {
                missing.push("patientSpecificCareCodeName");
            }
            if psc.patient_specific_care_price.is_none() {
                missing.push("patientSpecificCarePrice");
            }
            if psc.number_of_patient_specific_care.is_none() {
                missing.push("numberOfPatientSpecificCare");
            }
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

    closed(
        ov(&hp.invoiced_amount_details.patient_fee_reduced_category),
        FEE_CATEGORIES,
        "ÖR29",
        &at.at("invoicedAmountDetails")
            .at("patientFeeReducedCategory"),
        "patientFeeReducedCategory",
        out,
    );

    // Activity.
    let at_a = at.at("activity");
    let act = &hp.activity;
    // Official: exactly three characters as written, no whitespace.
    let mfc = out.val(&act.medical_field_code);
    if !out.ctx.medical_field_codes().contains(mfc) {
        let n = out.ctx.medical_field_codes().len();
        out.add(
            "ÖR49",
            &at_a.at("medicalFieldCode"),
            format!(
                "the medical field code is not in the register of medical field codes \
                 ({n} codes); expected a 3-digit code from Socialstyrelsen's register"
            ),
        );
    }
    if let Some(bc) = &act.business_classification {
        cv_code_and_system(
            bc,
            &at_a.at("businessClassification"),
            "business classification",
            out,
        );
    }
    closed(
        ov(&act.care_level),
        CARE_LEVELS,
        "ÖR30",
        &at_a.at("careLevel"),
        "careLevel",
        out,
    );

    // Diagnoses and treatment.
    if psychiatry {
        if hp.diagnosis.is_some() {
            out.add(
                "ÖR33",
                &at.at("diagnosis"),
                "psychiatric care (medical field code 9xx) must not carry diagnoses".to_owned(),
            );
        }
        if hp.treatment.is_some() {
            out.add(
                "ÖR33",
                &at.at("treatment"),
                "psychiatric care (medical field code 9xx) must not carry treatment codes"
                    .to_owned(),
            );
        }
    } else if inpatient
        && hp.timespan.invoice_period.is_none()
        && hp
            .diagnosis
            .as_ref()
            .is_none_or(|d| d.inpatient_care_diagnosis.is_none())
    {
        // Psychiatry is exempt: ÖR33 forbids its diagnoses.
        out.add(
            "ÖR31",
            &at.at("diagnosis").at("inpatientCareDiagnosis"),
            "inpatient care needs an inpatient main diagnosis unless an invoicePeriod is given"
                .to_owned(),
        );
    }
    if let Some(d) = &hp.diagnosis {
        let at_d = at.at("diagnosis");
        for (name, cd) in [
            ("inpatientCareDiagnosis", &d.inpatient_care_diagnosis),
            ("outpatientCareDiagnosis", &d.outpatient_care_diagnosis),
        ] {
            if let Some(cd) = cd {
                diagnosis_codes(cd, &at_d.at(name), out);
            }
        }
    }
    if let Some(t) = &hp.treatment {
        let at_t = at.at("treatment");
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
