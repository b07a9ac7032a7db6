//! Known violations: each entry breaks exactly one rule of an otherwise valid basis, and leaves
//! everything else as it was (amounts that follow from the changed one are kept consistent, so
//! breaking ÖR27 does not also break ÖR5 or ÖR6).
//!
//! Why so careful: the manifest names the rule each document breaks, and tests prove the
//! validator reports exactly that rule. An injection that broke two rules would make a test
//! pass for the wrong reason, or fail for no reason.

use chrono::Duration;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use super::codes::oid;
use super::people::luhn_check_digit;
use crate::claim::lexical;
use crate::claim::{
    Amount, CareDiagnosis, ClaimSpecification, Diagnosis, DiagnosisEntry, HealthcarePerformed, CV,
    II,
};

/// What an injection may need besides the document.
pub struct InjectContext {
    /// The validator's "today" (ÖR2 puts the issue date after it).
    pub today: chrono::NaiveDate,
}

type Apply = fn(&mut ClaimSpecification, &mut ChaCha8Rng, &InjectContext) -> bool;

/// One known violation.
pub struct Injection {
    /// The rule id the validator reports for it.
    pub rule: &'static str,
    /// Breaks the rule; returns false (and changes nothing) when the document has nothing this
    /// injection can break (e.g. no inpatient line for ÖR11).
    pub apply: Apply,
}

/// Every violation the generator knows how to inject.
pub const INJECTIONS: &[Injection] = &[
    Injection {
        rule: "ÖR1",
        apply: or1_empty_element,
    },
    Injection {
        rule: "ÖR2",
        apply: or2_issue_date_in_future,
    },
    Injection {
        rule: "ÖR3",
        apply: or3_supplier_org_missing,
    },
    Injection {
        rule: "ÖR4",
        apply: or4_type_of_invoice,
    },
    Injection {
        rule: "ÖR5",
        apply: or5_payable_amount,
    },
    Injection {
        rule: "ÖR7",
        apply: or7_patient_id_root,
    },
    Injection {
        rule: "ÖR8",
        apply: or8_county_length,
    },
    Injection {
        rule: "ÖR9",
        apply: or9_municipality_length,
    },
    Injection {
        rule: "ÖR10",
        apply: or10_gender,
    },
    Injection {
        rule: "ÖR11",
        apply: or11_no_care_contact_id,
    },
    Injection {
        rule: "ÖR12",
        apply: or12_type_of_agreement,
    },
    Injection {
        rule: "ÖR13",
        apply: or13_type_of_chapter,
    },
    Injection {
        rule: "ÖR14",
        apply: or14_type_of_reimbursement,
    },
    Injection {
        rule: "ÖR15",
        apply: or15_type_of_care,
    },
    Injection {
        rule: "ÖR16",
        apply: or16_type_of_visit,
    },
    Injection {
        rule: "ÖR17",
        apply: or17_visit_after_issue,
    },
    Injection {
        rule: "ÖR18",
        apply: or18_discharge_before_visit,
    },
    Injection {
        rule: "ÖR19",
        apply: or19_period_without_end,
    },
    Injection {
        rule: "ÖR20",
        apply: or20_period_after_issue,
    },
    Injection {
        rule: "ÖR21",
        apply: or21_period_reversed,
    },
    Injection {
        rule: "ÖR22",
        apply: or22_profession_code,
    },
    Injection {
        rule: "ÖR23",
        apply: or23_no_profession_code,
    },
    Injection {
        rule: "ÖR24",
        apply: or24_product_category,
    },
    Injection {
        rule: "ÖR25",
        apply: or25_price_list,
    },
    Injection {
        rule: "ÖR26",
        apply: or26_item_total,
    },
    Injection {
        rule: "ÖR27",
        apply: or27_gross,
    },
    Injection {
        rule: "ÖR28",
        apply: or28_net_amount,
    },
    Injection {
        rule: "ÖR29",
        apply: or29_reduced_category,
    },
    Injection {
        rule: "ÖR30",
        apply: or30_care_level,
    },
    Injection {
        rule: "ÖR31",
        apply: or31_no_inpatient_diagnosis,
    },
    Injection {
        rule: "ÖR33",
        apply: or33_psychiatry_with_diagnosis,
    },
    Injection {
        rule: "ÖR34",
        apply: or34_listing_root,
    },
    Injection {
        rule: "ÖR35",
        apply: or35_currency,
    },
    Injection {
        rule: "ÖR36",
        apply: or36_reason_for_credit,
    },
    Injection {
        rule: "ÖR37",
        apply: or37_id_prefix,
    },
    Injection {
        rule: "ÖR38",
        apply: or38_discharge_after_issue,
    },
    Injection {
        rule: "ÖR39",
        apply: or39_cv_without_code_system,
    },
    Injection {
        rule: "ÖR40",
        apply: or40_county_code,
    },
    Injection {
        rule: "ÖR41",
        apply: or41_municipality,
    },
    Injection {
        rule: "ÖR42",
        apply: or42_drg_code_with_code,
    },
    Injection {
        rule: "ÖR43",
        apply: or43_line_ids_not_ascending,
    },
    Injection {
        rule: "ÖR44",
        apply: or44_no_pricing,
    },
    Injection {
        rule: "ÖR45",
        apply: or45_drg_without_code,
    },
    Injection {
        rule: "ÖR46",
        apply: or46_customer_org_missing,
    },
    Injection {
        rule: "ÖR47",
        apply: or47_item_without_name,
    },
    Injection {
        rule: "ÖR48",
        apply: or48_gln_length,
    },
    Injection {
        rule: "ÖR48",
        apply: or48_org_hyphen,
    },
    Injection {
        rule: "ÖR49",
        apply: or49_medical_field_code,
    },
    Injection {
        rule: "ÖR50",
        apply: or50_agreement_in_riksavtalet,
    },
    Injection {
        rule: "ÖR51",
        apply: or51_no_in_care,
    },
    Injection {
        rule: "ÖR52",
        apply: or52_credit_without_reference,
    },
    Injection {
        rule: "ID-PERSONNUMMER",
        apply: id_personnummer_check_digit,
    },
    Injection {
        rule: "ID-SAMORDNINGSNUMMER",
        apply: id_samordningsnummer_check_digit,
    },
    Injection {
        rule: "ID-HSA",
        apply: id_hsa_form,
    },
    Injection {
        rule: "ID-ORGNR",
        apply: id_orgnr_check_digit,
    },
];

/// Breaks one rule: the one at `start` in [`INJECTIONS`], or, when the document has nothing
/// that rule could be broken on, the next one that applies. Returns the rule broken.
pub fn inject(
    claim: &mut ClaimSpecification,
    start: usize,
    rng: &mut ChaCha8Rng,
    ctx: &InjectContext,
) -> &'static str {
    for k in 0..INJECTIONS.len() {
        let inj = &INJECTIONS[(start + k) % INJECTIONS.len()];
        if (inj.apply)(claim, rng, ctx) {
            return inj.rule;
        }
    }
    unreachable!("ÖR5 applies to every basis")
}

// ---- helpers ---------------------------------------------------------------------------

/// A random healthcarePerformed satisfying `pred`, as (patient line, performed) indices.
fn choose(
    claim: &ClaimSpecification,
    rng: &mut ChaCha8Rng,
    pred: impl Fn(&HealthcarePerformed) -> bool,
) -> Option<(usize, usize)> {
    let mut found = Vec::new();
    for (i, l) in claim
        .health_care_services_specification_line
        .iter()
        .enumerate()
    {
        for (j, p) in l.healthcare_performed.iter().enumerate() {
            if pred(p) {
                found.push((i, j));
            }
        }
    }
    found.choose(rng).copied()
}

/// Applies `f` to one random healthcarePerformed satisfying `pred`.
fn on_line(
    claim: &mut ClaimSpecification,
    rng: &mut ChaCha8Rng,
    pred: impl Fn(&HealthcarePerformed) -> bool,
    f: impl FnOnce(&mut HealthcarePerformed, &mut ChaCha8Rng),
) -> bool {
    match choose(claim, rng, pred) {
        Some((i, j)) => {
            f(
                &mut claim.health_care_services_specification_line[i].healthcare_performed[j],
                rng,
            );
            true
        }
        None => false,
    }
}

fn amount(a: &Amount) -> Decimal {
    a.value().unwrap_or(Decimal::ZERO)
}

fn add(a: &mut Amount, delta: Decimal) {
    *a = Amount::sek(amount(a) + delta);
}

fn date_of(s: &str) -> Option<chrono::NaiveDate> {
    lexical::date(s)
}

fn fmt(d: chrono::NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

fn outpatient(p: &HealthcarePerformed) -> bool {
    p.healthcare_category.type_of_care.code.as_deref() == Some("01")
}

fn inpatient(p: &HealthcarePerformed) -> bool {
    p.healthcare_category.type_of_care.code.as_deref() == Some("02")
}

fn discharged(p: &HealthcarePerformed) -> bool {
    inpatient(p) && p.timespan.healthcare_discharge_date_time.is_some()
}

fn period(p: &HealthcarePerformed) -> bool {
    p.timespan
        .invoice_period
        .as_ref()
        .is_some_and(|ip| ip.start.is_some() && ip.end.is_some())
}

fn psychiatry(p: &HealthcarePerformed) -> bool {
    p.activity.medical_field_code.starts_with('9')
}

// ---- the injections ------------------------------------------------------------------------

fn or1_empty_element(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    on_line(
        c,
        r,
        |_| true,
        |p, _| p.healthcare_unit.care_unit_name.clear(),
    )
}

fn or2_issue_date_in_future(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    ctx: &InjectContext,
) -> bool {
    let d = ctx.today + Duration::days(r.gen_range(1..=20));
    c.issue_date = fmt(d);
    if c.invoice_date_of_issue.is_some() {
        c.invoice_date_of_issue = Some(fmt(d));
    }
    true
}

/// The organisation number written with a hyphen (11 characters), as people write it.
fn hyphenated_org(p: &mut crate::claim::Party) -> bool {
    match p
        .identification
        .iter_mut()
        .find(|i| i.root == oid::ORG_NUMBER)
    {
        Some(i) if i.extension.len() == 10 => {
            i.extension.insert(6, '-');
            true
        }
        _ => false,
    }
}

/// ÖR3: the supplier's organisation number sent under another root, so the basis has none.
/// (A wrong length is ÖR48, as the official Schematron reports it: [`or48_org_hyphen`].)
fn or3_supplier_org_missing(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    org_under_other_root(&mut c.supplier_party, r)
}

/// ÖR46: the same for the customer.
fn or46_customer_org_missing(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    org_under_other_root(&mut c.customer_party, r)
}

fn org_under_other_root(p: &mut crate::claim::Party, r: &mut ChaCha8Rng) -> bool {
    let Some(id) = p
        .identification
        .iter_mut()
        .find(|i| i.root == oid::ORG_NUMBER)
    else {
        return false;
    };
    id.root = (*["1.3.6", "1.2.752.29.4.71", "2.51.1.6.1"]
        .choose(r)
        .unwrap())
    .into();
    true
}

/// ÖR48: a hyphenated organisation number (11 characters), the commonest wrong length.
fn or48_org_hyphen(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    if r.gen_bool(0.5) {
        hyphenated_org(&mut c.supplier_party)
    } else {
        hyphenated_org(&mut c.customer_party)
    }
}

fn or4_type_of_invoice(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    if c.type_of_invoice != "380" {
        return false;
    }
    c.type_of_invoice = (*["383", "384", "393"].choose(r).unwrap()).into();
    true
}

fn or5_payable_amount(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    let delta = Decimal::new(r.gen_range(150..=50_000), 2);
    let delta = if r.gen_bool(0.5) { delta } else { -delta };
    add(&mut c.payable_amount, delta);
    true
}

/// Net off by a few kronor on a line, with or without a patientCareCharge: ÖR28 (the contract's
/// table calls the charge-less case ÖR6 too; the official Schematron and the validator report
/// both as R28/ÖR28). The payable amount follows, so ÖR5 still holds.
fn net_off(c: &mut ClaimSpecification, r: &mut ChaCha8Rng) -> bool {
    let delta = Decimal::new(r.gen_range(1..=100) * 100, 2);
    let done = on_line(
        c,
        r,
        |_| true,
        |p, _| {
            add(
                &mut p.invoiced_amount_details.patient_care_invoice_net_amount,
                delta,
            )
        },
    );
    if done {
        add(&mut c.payable_amount, delta);
    }
    done
}

fn or28_net_amount(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    net_off(c, r)
}

/// One random patient (index into the lines) satisfying `pred`.
fn patient<'c>(
    c: &'c mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    pred: impl Fn(&crate::claim::PatientInformation) -> bool,
) -> Option<&'c mut crate::claim::PatientInformation> {
    let lines = &mut c.health_care_services_specification_line;
    let with: Vec<usize> = (0..lines.len())
        .filter(|&i| pred(&lines[i].patient_information))
        .collect();
    let i = *with.choose(r)?;
    Some(&mut lines[i].patient_information)
}

fn resident(p: &crate::claim::PatientInformation) -> bool {
    p.patient_other_information.county.code.as_deref() != Some("99")
}

fn or7_patient_id_root(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    let root: &str = ["personnummer", oid::HSA, oid::ORG_NUMBER]
        .choose(r)
        .unwrap();
    let root = root.to_string();
    match patient(c, r, |_| true) {
        Some(p) => {
            p.patient_identity.root = root;
            true
        }
        None => false,
    }
}

fn or8_county_length(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    let longer = r.gen_bool(0.5);
    // Not an asylum seeker's line: their codes go without a code system, and a changed code
    // would then also break ÖR40/ÖR41, which are checked whatever the length.
    match patient(c, r, |p| {
        p.patient_other_information.county.code_system.is_some()
    }) {
        Some(p) => {
            let code = p
                .patient_other_information
                .county
                .code
                .get_or_insert_with(String::new);
            if longer {
                code.insert(0, '0');
            } else {
                code.pop();
            }
            true
        }
        None => false,
    }
}

fn or9_municipality_length(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    let longer = r.gen_bool(0.5);
    // Not an asylum seeker's line: their codes go without a code system, and a changed code
    // would then also break ÖR40/ÖR41, which are checked whatever the length.
    match patient(c, r, |p| {
        p.patient_other_information.county.code_system.is_some()
    }) {
        Some(p) => {
            let code = p
                .patient_other_information
                .municipality
                .code
                .get_or_insert_with(String::new);
            if longer {
                code.push('1');
            } else {
                code.pop();
            }
            true
        }
        None => false,
    }
}

fn or40_county_code(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    let code: &str = ["02", "11", "15", "16", "26"].choose(r).unwrap();
    let code = code.to_string();
    match patient(c, r, resident) {
        Some(p) => {
            p.patient_other_information.county.code = Some(code);
            true
        }
        None => false,
    }
}

fn or41_municipality(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    let wrong_system = r.gen_bool(0.5);
    match patient(c, r, resident) {
        Some(p) => {
            let o = &mut p.patient_other_information;
            if wrong_system {
                o.municipality.code_system = Some(oid::COUNTY.into());
            } else {
                // A municipality of another county.
                let other = if o.county.code.as_deref() == Some("01") {
                    "1480"
                } else {
                    "0180"
                };
                o.municipality.code = Some(other.into());
            }
            true
        }
        None => false,
    }
}

fn or44_no_pricing(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    // The price items go, and with them every amount that followed from them (gross, net, the
    // fee paid, adjustments, the payable amount), so only ÖR44 breaks.
    let mut removed_net = Decimal::ZERO;
    let done = on_line(
        c,
        r,
        |p| p.categorization.is_some(),
        |p, _| {
            let cat = p.categorization.as_mut().expect("chosen");
            cat.drg_cost = None;
            cat.patient_specific_care.clear();
            let d = &mut p.invoiced_amount_details;
            removed_net = amount(&d.patient_care_invoice_net_amount);
            d.patient_care_invoice_gross_amount = Amount::sek(Decimal::ZERO);
            d.patient_care_invoice_net_amount = Amount::sek(Decimal::ZERO);
            d.out_patient_care_fee_paid = None;
            d.patient_care_allowance = None;
            d.patient_care_discount = None;
            d.patient_care_charge = None;
        },
    );
    if done {
        add(&mut c.payable_amount, -removed_net);
    }
    done
}

fn or49_medical_field_code(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    // Not in the register and not starting with 9, so ÖR33 stays out of it.
    on_line(
        c,
        r,
        |p| !psychiatry(p) || !inpatient(p),
        |p, r| {
            p.activity.medical_field_code =
                (*["199", "010", "300", "499"].choose(r).unwrap()).into()
        },
    )
}

fn or10_gender(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    let lines = &mut c.health_care_services_specification_line;
    let i = r.gen_range(0..lines.len());
    match &mut lines[i]
        .patient_information
        .patient_other_information
        .gender
    {
        Some(g) => {
            g.code = Some((*["3", "M", "K", "12"].choose(r).unwrap()).into());
            true
        }
        None => false,
    }
}

fn or11_no_care_contact_id(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    on_line(c, r, inpatient, |p, _| p.care_contact_id = None)
}

fn payment(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    f: impl FnOnce(&mut crate::claim::PaymentCommitment),
) -> bool {
    on_line(
        c,
        r,
        |p| p.payment_commitment.is_some(),
        |p, _| f(p.payment_commitment.as_mut().expect("chosen for it")),
    )
}

fn or12_type_of_agreement(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    payment(c, r, |pc| pc.type_of_agreement = Some("4".into()))
}

fn or13_type_of_chapter(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    payment(c, r, |pc| pc.type_of_chapter = Some("8".into()))
}

fn or14_type_of_reimbursement(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    payment(c, r, |pc| pc.type_of_reimbursement = Some("3".into()))
}

fn or15_type_of_care(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    on_line(c, r, outpatient, |p, _| {
        p.healthcare_category.type_of_care.code = Some("03".into())
    })
}

fn or16_type_of_visit(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    on_line(
        c,
        r,
        |p| p.healthcare_category.type_of_visit.is_some(),
        |p, _| p.healthcare_category.type_of_visit = Some("3".into()),
    )
}

fn or17_visit_after_issue(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    let Some(issue) = date_of(&c.issue_date) else {
        return false;
    };
    on_line(
        c,
        r,
        |p| {
            outpatient(p)
                && p.timespan.healthcare_discharge_date_time.is_none()
                && p.timespan.invoice_period.is_none()
        },
        |p, r| {
            p.timespan.healthcare_visit_date_time.care_visit_date =
                fmt(issue + Duration::days(r.gen_range(1..=5)))
        },
    )
}

fn or18_discharge_before_visit(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    on_line(c, r, discharged, |p, r| {
        let visit = date_of(&p.timespan.healthcare_visit_date_time.care_visit_date)
            .expect("generated date");
        p.timespan
            .healthcare_discharge_date_time
            .as_mut()
            .expect("chosen for it")
            .care_discharge_date = fmt(visit - Duration::days(r.gen_range(1..=3)));
    })
}

fn or19_period_without_end(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    on_line(c, r, period, |p, _| {
        p.timespan.invoice_period.as_mut().expect("chosen").end = None
    })
}

fn or20_period_after_issue(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    let Some(issue) = date_of(&c.issue_date) else {
        return false;
    };
    on_line(c, r, period, |p, r| {
        p.timespan.invoice_period.as_mut().expect("chosen").end =
            Some(fmt(issue + Duration::days(r.gen_range(1..=10))))
    })
}

fn or21_period_reversed(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    on_line(
        c,
        r,
        |p| {
            period(p) && {
                let ip = p.timespan.invoice_period.as_ref().expect("period");
                ip.start < ip.end
            }
        },
        |p, _| {
            let ip = p.timespan.invoice_period.as_mut().expect("chosen");
            std::mem::swap(&mut ip.start, &mut ip.end);
        },
    )
}

fn or22_profession_code(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    on_line(
        c,
        r,
        |p| p.healthcare_unit.profession_code_for_healthcare.is_some(),
        |p, r| {
            p.healthcare_unit.profession_code_for_healthcare =
                Some((*["XX", "LÄ", "DR", "lk"].choose(r).unwrap()).into())
        },
    )
}

fn or23_no_profession_code(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    on_line(c, r, outpatient, |p, _| {
        p.healthcare_unit.profession_code_for_healthcare = None
    })
}

fn categorized(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    f: impl FnOnce(&mut crate::claim::Categorization, &mut ChaCha8Rng),
) -> bool {
    on_line(
        c,
        r,
        |p| p.categorization.is_some(),
        |p, r| f(p.categorization.as_mut().expect("chosen"), r),
    )
}

fn or24_product_category(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    categorized(c, r, |cat, _| cat.product_category = Some("05".into()))
}

fn or25_price_list(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    categorized(c, r, |cat, _| cat.price_list = Some("7".into()))
}

fn or26_item_total(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    // The count changes, the total (and so gross, net and payable) stays: only ÖR26 breaks.
    on_line(
        c,
        r,
        |p| {
            p.categorization
                .as_ref()
                .is_some_and(|cat| !cat.patient_specific_care.is_empty())
        },
        |p, r| {
            let items = &mut p
                .categorization
                .as_mut()
                .expect("chosen")
                .patient_specific_care;
            let k = r.gen_range(0..items.len());
            let n = items[k]
                .number_of_patient_specific_care
                .as_deref()
                .and_then(lexical::integer)
                .unwrap_or(1);
            items[k].number_of_patient_specific_care = Some((n + 1).to_string());
        },
    )
}

fn or27_gross(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    // Gross and net move together (ÖR6 holds) and so does the payable amount (ÖR5 holds).
    let delta = Decimal::new(r.gen_range(1..=100) * 100, 2);
    let done = on_line(
        c,
        r,
        |p| p.categorization.is_some(),
        |p, _| {
            let d = &mut p.invoiced_amount_details;
            add(&mut d.patient_care_invoice_gross_amount, delta);
            add(&mut d.patient_care_invoice_net_amount, delta);
        },
    );
    if done {
        add(&mut c.payable_amount, delta);
    }
    done
}

fn or29_reduced_category(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    on_line(
        c,
        r,
        |_| true,
        |p, r| {
            p.invoiced_amount_details.patient_fee_reduced_category =
                Some((*["06", "3", "00", "98"].choose(r).unwrap()).into())
        },
    )
}

fn or30_care_level(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    on_line(
        c,
        r,
        |_| true,
        |p, _| p.activity.care_level = Some("5".into()),
    )
}

fn or31_no_inpatient_diagnosis(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    on_line(
        c,
        r,
        |p| {
            inpatient(p)
                && p.timespan.invoice_period.is_none()
                && p.diagnosis
                    .as_ref()
                    .is_some_and(|d| d.inpatient_care_diagnosis.is_some())
        },
        |p, _| p.diagnosis = None,
    )
}

fn or33_psychiatry_with_diagnosis(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    on_line(
        c,
        r,
        |p| psychiatry(p) && outpatient(p),
        |p, r| {
            let code = *["F32.1", "F41.1", "F20.0", "F90.0"].choose(r).unwrap();
            p.diagnosis = Some(Diagnosis {
                inpatient_care_diagnosis: None,
                outpatient_care_diagnosis: Some(CareDiagnosis {
                    main_diagnosis: DiagnosisEntry {
                        diagnosis_code: CV {
                            code: Some(code.into()),
                            code_system: Some(oid::ICD10SE.into()),
                            ..CV::default()
                        },
                        ..Default::default()
                    },
                    bi_diagnosis: Vec::new(),
                    ..Default::default()
                }),
                ..Default::default()
            })
        },
    )
}

fn or34_listing_root(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    let lines = &mut c.health_care_services_specification_line;
    let with: Vec<usize> = (0..lines.len())
        .filter(|&i| {
            lines[i]
                .patient_information
                .patient_other_information
                .listing_local_authorities_number
                .is_some()
        })
        .collect();
    match with.choose(r) {
        Some(&i) => {
            let l = lines[i]
                .patient_information
                .patient_other_information
                .listing_local_authorities_number
                .as_mut()
                .expect("chosen");
            l.root = oid::ORG_NUMBER.into();
            true
        }
        None => false,
    }
}

fn or35_currency(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    on_line(
        c,
        r,
        |_| true,
        |p, r| {
            let cur = &mut p
                .invoiced_amount_details
                .patient_care_invoice_gross_amount
                .currency;
            if r.gen_bool(0.5) {
                cur.code = Some((*["EUR", "NOK", "DKK", "sek"].choose(r).unwrap()).into());
            } else {
                cur.code_system = Some("1.0.4218".into());
            }
        },
    )
}

fn or36_reason_for_credit(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    on_line(
        c,
        r,
        |_| true,
        |p, r| p.reason_for_credit = Some((*["0", "10", "A"].choose(r).unwrap()).into()),
    )
}

fn or37_id_prefix(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    if r.gen_bool(0.5) {
        c.id.replace_range(0..3, "ZVX");
    } else {
        c.id.pop();
    }
    true
}

fn or38_discharge_after_issue(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    let Some(issue) = date_of(&c.issue_date) else {
        return false;
    };
    on_line(c, r, discharged, |p, r| {
        p.timespan
            .healthcare_discharge_date_time
            .as_mut()
            .expect("chosen")
            .care_discharge_date = fmt(issue + Duration::days(r.gen_range(1..=5)));
    })
}

fn or39_cv_without_code_system(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    on_line(
        c,
        r,
        |_| true,
        |p, _| p.healthcare_category.type_of_care.code_system = None,
    )
}

fn drg(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    f: impl FnOnce(&mut crate::claim::DrgCost),
) -> bool {
    on_line(
        c,
        r,
        |p| {
            p.categorization
                .as_ref()
                .is_some_and(|cat| cat.drg_cost.is_some())
        },
        |p, _| {
            f(p.categorization
                .as_mut()
                .and_then(|cat| cat.drg_cost.as_mut())
                .expect("chosen"))
        },
    )
}

fn or42_drg_code_with_code(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    drg(c, r, |d| {
        if let Some(code) = d.drg_code.as_mut() {
            code.code = code.original_text.clone();
        }
    })
}

fn or43_line_ids_not_ascending(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    let mut all: Vec<&mut HealthcarePerformed> = c
        .health_care_services_specification_line
        .iter_mut()
        .flat_map(|l| l.healthcare_performed.iter_mut())
        .collect();
    if all.len() < 2 {
        return false;
    }
    let k = r.gen_range(0..all.len() - 1);
    if r.gen_bool(0.5) {
        // Out of order.
        let a = all[k].line_id.clone();
        let b = std::mem::replace(&mut all[k + 1].line_id, a);
        all[k].line_id = b;
    } else {
        // A duplicate.
        all[k + 1].line_id = all[k].line_id.clone();
    }
    true
}

fn or45_drg_without_code(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    drg(c, r, |d| d.drg_code = None)
}

fn or47_item_without_name(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    on_line(
        c,
        r,
        |p| {
            p.categorization
                .as_ref()
                .is_some_and(|cat| !cat.patient_specific_care.is_empty())
        },
        |p, r| {
            let items = &mut p
                .categorization
                .as_mut()
                .expect("chosen")
                .patient_specific_care;
            let k = r.gen_range(0..items.len());
            items[k].patient_specific_care_code_name = None;
        },
    )
}

fn or48_gln_length(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    let gln = format!("735{:09}", r.gen_range(0..1_000_000_000u32));
    c.customer_party.identification.truncate(1);
    c.customer_party.identification.push(II {
        root: oid::GLN.into(),
        extension: gln,
        ..Default::default()
    });
    true
}

fn or50_agreement_in_riksavtalet(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    payment(c, r, |pc| pc.agreement_in_riksavtalet = Some("4.2".into()))
}

fn or51_no_in_care(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    on_line(c, r, inpatient, |p, _| p.timespan.number_of_days = None)
}

fn or52_credit_without_reference(
    c: &mut ClaimSpecification,
    _: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    c.type_of_invoice = "381".into();
    c.reference_to_process_claim_specification_id = None;
    true
}

/// Changes the check digit of one patient's id whose root is `root`.
fn wrong_check_digit(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, root: &str) -> bool {
    let lines = &mut c.health_care_services_specification_line;
    let with: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].patient_information.patient_identity.root == root)
        .collect();
    let Some(&i) = with.choose(r) else {
        return false;
    };
    let id = &mut lines[i].patient_information.patient_identity.extension;
    let last = id.pop().and_then(|ch| ch.to_digit(10)).unwrap_or(0);
    let wrong = (last + r.gen_range(1..=9)) % 10;
    id.push(char::from_digit(wrong, 10).expect("digit"));
    true
}

fn id_personnummer_check_digit(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    wrong_check_digit(c, r, oid::PERSONNUMMER)
}

fn id_samordningsnummer_check_digit(
    c: &mut ClaimSpecification,
    r: &mut ChaCha8Rng,
    _: &InjectContext,
) -> bool {
    if wrong_check_digit(c, r, oid::SAMORDNINGSNUMMER) {
        return true;
    }
    // No samordningsnummer on this basis: turn a personnummer into one (day + 60) whose check
    // digit is wrong.
    let lines = &mut c.health_care_services_specification_line;
    let Some(line) = lines
        .iter_mut()
        .find(|l| l.patient_information.patient_identity.root == oid::PERSONNUMMER)
    else {
        return false;
    };
    let pid = &mut line.patient_information.patient_identity;
    let day: u32 = pid.extension[6..8].parse().unwrap_or(1);
    let body = format!(
        "{}{:02}{}",
        &pid.extension[2..6],
        day + 60,
        &pid.extension[8..11]
    );
    let right = luhn_check_digit(&body);
    let wrong = (right + 1 + r.gen_range(0..9)) % 10;
    pid.root = oid::SAMORDNINGSNUMMER.into();
    pid.extension = format!("{}{}{wrong}", &pid.extension[0..2], body);
    true
}

fn id_hsa_form(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    on_line(
        c,
        r,
        |p| p.healthcare_unit.care_unit_id.is_some(),
        |p, r| {
            let id = &mut p
                .healthcare_unit
                .care_unit_id
                .as_mut()
                .expect("chosen")
                .extension;
            *id = match r.gen_range(0..3) {
                // The hyphen lost.
                0 => id.replacen('-', "", 1),
                // Country prefix lost.
                1 => id[2..].to_string(),
                // A character HSA-ids never hold.
                _ => format!("{id}_1"),
            };
        },
    )
}

fn id_orgnr_check_digit(c: &mut ClaimSpecification, r: &mut ChaCha8Rng, _: &InjectContext) -> bool {
    let Some(org) = c
        .customer_party
        .identification
        .iter_mut()
        .find(|i| i.root == oid::ORG_NUMBER)
    else {
        return false;
    };
    let last = org
        .extension
        .pop()
        .and_then(|ch| ch.to_digit(10))
        .unwrap_or(0);
    let wrong = (last + r.gen_range(1..=9)) % 10;
    org.extension
        .push(char::from_digit(wrong, 10).expect("digit"));
    true
}
