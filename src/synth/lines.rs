//! One patient's care on a basis: the `healthCareServicesSpecificationLine` with its
//! `healthcarePerformed` lines, for each kind of care the contract distinguishes.
//!
//! Each kind carries the constraints the contract and the rules put on it, so a valid line is
//! valid by construction:
//! - inpatient (02): careContactId (ÖR11), inCare (ÖR51), an admission and a discharge not
//!   after the issue date (ÖR17, ÖR18, ÖR38) and an inpatient main diagnosis (ÖR31) — or, for a
//!   stay still going on, an invoicePeriod instead of a discharge (ÖR19–ÖR21);
//! - outpatient (01): a profession code (ÖR22, ÖR23);
//! - psychiatry (9xx): no diagnosis and no treatment (ÖR33), inpatient stays invoiced per period;
//! - primary care (careLevel 1): no diagnoses and no KVÅ (the contract's sensitive-content rules);
//! - abortion (Riksavtal 4.4) and counselling/contraception (reduced fee category 03).

use chrono::{Duration, NaiveDate};
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use super::amounts::{kr, price, Drg, Item, Pricing};
use super::codes::{self, field, oid, Condition};
use super::people::{Needs, Patient};
use crate::claim::regions::Region;
use crate::claim::{
    Activity, CareDiagnosis, Diagnosis, DiagnosisEntry, HealthCareServicesSpecificationLine,
    HealthcareCategory, HealthcareDischargeDateTime, HealthcarePerformed, HealthcareUnit,
    HealthcareVisitDateTime, InvoicePeriod, NumberOfDays, PaymentCommitment, Timespan, Treatment,
    CV, II,
};

/// The kinds of care a line can describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Outpatient,
    Inpatient,
    /// An inpatient stay still going on, invoiced for a period (no discharge yet).
    InpatientPeriod,
    PsychiatryOutpatient,
    PsychiatryInpatient,
    PrimaryCare,
    Abortion,
    Contraception,
}

impl Kind {
    /// Drawn with roughly the mix a region's out-of-county invoicing shows.
    pub(super) fn draw(rng: &mut ChaCha8Rng) -> Kind {
        match rng.gen_range(0..100) {
            0..=44 => Kind::Outpatient,
            45..=66 => Kind::Inpatient,
            67..=69 => Kind::InpatientPeriod,
            70..=76 => Kind::PsychiatryOutpatient,
            77..=78 => Kind::PsychiatryInpatient,
            79..=90 => Kind::PrimaryCare,
            91..=93 => Kind::Abortion,
            _ => Kind::Contraception,
        }
    }

    pub(super) fn needs(self) -> Needs {
        match self {
            Kind::Abortion => Needs {
                woman: true,
                min_age: 16,
                max_age: 45,
            },
            Kind::Contraception => Needs {
                woman: true,
                min_age: 15,
                max_age: 40,
            },
            Kind::PsychiatryInpatient | Kind::PsychiatryOutpatient => Needs {
                woman: false,
                min_age: 8,
                max_age: 80,
            },
            _ => Needs::any(),
        }
    }

    fn inpatient(self) -> bool {
        matches!(
            self,
            Kind::Inpatient | Kind::InpatientPeriod | Kind::PsychiatryInpatient
        )
    }

    /// A later contact for the same patient on the same basis.
    fn follow_up(self, rng: &mut ChaCha8Rng) -> Kind {
        match self {
            Kind::Inpatient | Kind::InpatientPeriod => {
                if rng.gen_bool(0.7) {
                    Kind::Outpatient
                } else {
                    Kind::Inpatient
                }
            }
            Kind::PsychiatryInpatient => Kind::PsychiatryOutpatient,
            k => k,
        }
    }
}

/// What every line of one basis shares.
pub(super) struct BasisContext<'a> {
    pub supplier: &'a Region,
    pub issue_date: NaiveDate,
    /// First day of the month the basis belongs to.
    pub month_start: NaiveDate,
}

/// The six healthcare regions ("sjukvårdsregioner") whose price lists the contract numbers 1–6.
fn price_list(county: &str) -> u8 {
    match county {
        "01" | "09" => 1,
        "03" | "04" | "17" | "18" | "19" | "20" | "21" => 2,
        "05" | "06" | "08" => 3,
        "07" | "10" | "12" => 4,
        "13" | "14" => 5,
        _ => 6,
    }
}

fn date(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

fn time(rng: &mut ChaCha8Rng, from_h: u32, to_h: u32) -> String {
    format!(
        "{:02}{:02}00",
        rng.gen_range(from_h..=to_h),
        rng.gen_range(0..4) * 15
    )
}

fn cv(code: &str, system: &str) -> CV {
    CV {
        code: Some(code.into()),
        code_system: Some(system.into()),
        ..CV::default()
    }
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    items.choose(rng).expect("non-empty table")
}

/// The care unit: HSA-id `SE<supplier org>-<unit>`, the same id for the same clinic and town.
fn unit(ctx: &BasisContext, clinic: (&str, &str), town_idx: usize) -> HealthcareUnit {
    let towns = codes::municipalities(ctx.supplier.county);
    let (_, town) = towns[town_idx % towns.len()];
    HealthcareUnit {
        care_unit_id: Some(II {
            root: oid::HSA.into(),
            extension: format!(
                "SE{}-E{}{:02}",
                ctx.supplier.org,
                clinic.0,
                town_idx % towns.len()
            ),
            ..Default::default()
        }),
        care_unit_name: format!("{} {town}", clinic.1),
        profession_code_for_healthcare: None,
        unspecified: Vec::new(),
        ..Default::default()
    }
}

/// Builds one patient's line with `count` healthcarePerformed, numbered from `first_line_id`.
/// Returns the line and the kinds of care used.
pub(super) fn patient_line(
    rng: &mut ChaCha8Rng,
    ctx: &BasisContext,
    patient: &Patient,
    first: Kind,
    count: u32,
    first_line_id: u32,
) -> HealthCareServicesSpecificationLine {
    let mut performed = Vec::with_capacity(count as usize);
    let mut kind = first;
    for i in 0..count {
        if i > 0 {
            kind = kind.follow_up(rng);
        }
        performed.push(performed_line(rng, ctx, patient, kind, first_line_id + i));
    }
    HealthCareServicesSpecificationLine {
        patient_information: patient.information(),
        healthcare_performed: performed,
        ..Default::default()
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "one line of a basis built field by field in the contract's element order; split, the order would be scattered"
)]
fn performed_line(
    rng: &mut ChaCha8Rng,
    ctx: &BasisContext,
    patient: &Patient,
    kind: Kind,
    line_id: u32,
) -> HealthcarePerformed {
    let issue = ctx.issue_date;
    let somatic = pick(rng, codes::SOMATIC);
    let (clinic, field_code) = match kind {
        Kind::Outpatient | Kind::Inpatient | Kind::InpatientPeriod => {
            let f = field::somatic(somatic.field);
            (f, f.0)
        }
        Kind::PsychiatryInpatient | Kind::PsychiatryOutpatient => {
            let f = *pick(rng, field::PSYCHIATRY);
            (f, f.0)
        }
        Kind::PrimaryCare => {
            let f = *pick(rng, field::PRIMARY_CARE);
            (f, f.0)
        }
        Kind::Abortion => (field::GYNAECOLOGY, field::GYNAECOLOGY.0),
        Kind::Contraception => (field::YOUTH_CLINIC, field::YOUTH_CLINIC.0),
    };
    let town_idx = rng.gen_range(0..6);
    let mut healthcare_unit = unit(ctx, clinic, town_idx);
    if !kind.inpatient() {
        let professions = match kind {
            Kind::PrimaryCare => codes::PROFESSIONS_PRIMARY,
            Kind::PsychiatryOutpatient => codes::PROFESSIONS_PSYCHIATRY,
            Kind::Abortion | Kind::Contraception => codes::PROFESSIONS_MIDWIFE,
            _ => codes::PROFESSIONS_SPECIALIST,
        };
        healthcare_unit.profession_code_for_healthcare = Some((*pick(rng, professions)).into());
    }

    // When: an outpatient visit within the two months before issue; a stay discharged before
    // issue; a long stay still going on, invoiced from its start or the month's start.
    let mut timespan = Timespan::default();
    let mut care_contact_id = None;
    let mut in_care_days = None;
    let visit;
    match kind {
        Kind::Inpatient => {
            let discharge = issue - Duration::days(rng.gen_range(1..=40));
            let los = 1 + (rng.gen::<f64>().powi(3) * 24.0) as i64;
            visit = discharge - Duration::days(los);
            timespan.healthcare_discharge_date_time = Some(HealthcareDischargeDateTime {
                care_discharge_date: date(discharge),
                care_discharge_time: rng.gen_bool(0.5).then(|| time(rng, 9, 16)),
                ..Default::default()
            });
            in_care_days = Some(los);
        }
        Kind::InpatientPeriod | Kind::PsychiatryInpatient => {
            visit = issue - Duration::days(rng.gen_range(20..=200));
            let start = visit.max(ctx.month_start - Duration::days(30));
            let end = issue - Duration::days(rng.gen_range(0..=3));
            let end = end.max(start);
            timespan.invoice_period = Some(InvoicePeriod {
                start: Some(date(start)),
                end: Some(date(end)),
                ..Default::default()
            });
            in_care_days = Some((end - start).num_days() + 1);
        }
        _ => {
            visit = issue - Duration::days(rng.gen_range(1..=60));
        }
    }
    timespan.healthcare_visit_date_time = HealthcareVisitDateTime {
        care_visit_date: date(visit),
        care_visit_time: rng.gen_bool(0.7).then(|| time(rng, 7, 20)),
        ..Default::default()
    };
    if let Some(days) = in_care_days {
        care_contact_id = Some(format!(
            "VT-{}-{:07}",
            visit.format("%Y"),
            rng.gen_range(1..10_000_000)
        ));
        timespan.number_of_days = Some(NumberOfDays {
            on_leave: (days > 14 && rng.gen_bool(0.3)).then(|| rng.gen_range(1..=3).to_string()),
            in_care: Some(days.to_string()),
            ..Default::default()
        });
    }

    let planned = match kind {
        Kind::Inpatient => rng.gen_bool(0.35),
        Kind::PrimaryCare => rng.gen_bool(0.3),
        _ => rng.gen_bool(0.6),
    };
    let healthcare_category = HealthcareCategory {
        type_of_care: cv(
            if kind.inpatient() { "02" } else { "01" },
            oid::TYPE_OF_CARE,
        ),
        public_care: rng.gen_bool(0.9).then(|| "true".into()),
        planned_healthcare: if planned { "true" } else { "false" }.into(),
        type_of_visit: (!kind.inpatient())
            .then(|| if rng.gen_bool(0.6) { "1" } else { "2" }.into()),
        unspecified: Vec::new(),
        ..Default::default()
    };

    let payment_commitment = Some(payment_commitment(rng, kind, planned));
    let pricing = pricing(
        rng,
        kind,
        somatic,
        patient,
        visit,
        in_care_days,
        price_list(ctx.supplier.county),
    );
    let (diagnosis, treatment) = clinical(rng, kind, somatic);
    let care_level = match kind {
        Kind::PrimaryCare => "1",
        Kind::Inpatient | Kind::InpatientPeriod => {
            if rng.gen_bool(0.1) {
                "4"
            } else if rng.gen_bool(0.5) {
                "3"
            } else {
                "2"
            }
        }
        _ => {
            if rng.gen_bool(0.8) {
                "2"
            } else {
                "3"
            }
        }
    };

    HealthcarePerformed {
        line_id: line_id.to_string(),
        care_contact_id,
        reference_to_line_id: None,
        reason_for_credit: None,
        unspecified: Vec::new(),
        payment_commitment,
        healthcare_category,
        timespan,
        healthcare_unit,
        categorization: Some(pricing.categorization()),
        invoiced_amount_details: pricing.details(),
        activity: Activity {
            medical_field_code: field_code.into(),
            business_classification: None,
            care_level: Some(care_level.into()),
            unspecified: Vec::new(),
            ..Default::default()
        },
        diagnosis,
        treatment,
        ..Default::default()
    }
}

fn payment_commitment(rng: &mut ChaCha8Rng, kind: Kind, planned: bool) -> PaymentCommitment {
    let mut pc = PaymentCommitment::default();
    if rng.gen_bool(0.2) {
        pc.payment_commitment_number = Some(format!("BF{:08}", rng.gen_range(0..100_000_000)));
    }
    if rng.gen_bool(0.1) {
        pc.remittance_number = Some(format!("R{:06}", rng.gen_range(0..1_000_000)));
    }
    let (agreement, chapter, riks): (&str, Option<&str>, Option<&str>) = match kind {
        Kind::Abortion => ("1", Some("4"), Some("4.4")),
        Kind::Contraception | Kind::PrimaryCare => ("1", Some("4"), Some("4.1")),
        _ if !planned => ("1", Some("3"), Some("3.1")),
        _ => match rng.gen_range(0..10) {
            0..=3 => ("1", Some("1"), None),
            4 => ("1", Some("2"), None),
            5..=6 => ("1", Some("4"), Some("4.1")),
            7 => ("1", Some("3"), Some("3.2")),
            8 => ("2", None, None),
            _ => ("3", None, None),
        },
    };
    pc.type_of_agreement = Some(agreement.into());
    pc.type_of_chapter = chapter.map(Into::into);
    pc.agreement_in_riksavtalet = riks.map(Into::into);
    pc.type_of_reimbursement = Some(if agreement == "1" && rng.gen_bool(0.9) {
        "1".into()
    } else {
        "2".into()
    });
    pc
}

fn items(rng: &mut ChaCha8Rng, table: &[codes::PriceItem], max_extra: usize) -> Vec<Item> {
    // The first item is always a visit (the first entries of each table), so the gross always
    // exceeds the fee paid.
    let first = rng.gen_range(0..table.len().min(2));
    let mut out = vec![Item::draw(rng, &table[first], 1)];
    for _ in 0..rng.gen_range(0..=max_extra) {
        let it = &table[rng.gen_range(0..table.len())];
        if out.iter().any(|o| o.code == it.code) {
            continue;
        }
        let count = if rng.gen_bool(0.8) {
            1
        } else {
            rng.gen_range(2..=4)
        };
        out.push(Item::draw(rng, it, count));
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn pricing(
    rng: &mut ChaCha8Rng,
    kind: Kind,
    condition: &Condition,
    patient: &Patient,
    visit: NaiveDate,
    in_care_days: Option<i64>,
    price_list: u8,
) -> Pricing {
    let mut p = Pricing {
        price_list: rng.gen_bool(0.8).then_some(price_list),
        ..Pricing::default()
    };
    let age = patient.age_on(visit);
    match kind {
        Kind::Inpatient | Kind::InpatientPeriod => {
            let days = in_care_days.unwrap_or(1);
            p.product_category = "02";
            p.drg = Some(Drg {
                code: pick::<&str>(rng, condition.drg),
                price: price(rng, 18_000, 160_000),
                extended_care_time: (days > 10)
                    .then(|| kr((days - 10) * rng.gen_range(3000..=6000) * 100)),
                extended_cost: rng.gen_bool(0.04).then(|| price(rng, 50_000, 400_000)),
            });
            if rng.gen_bool(0.15) {
                let extra = pick(rng, codes::ITEMS_INPATIENT_EXTRA);
                let count = rng.gen_range(1..=3);
                p.items.push(Item::draw(rng, extra, count));
            }
            p.inpatient_fee = rng.gen_bool(0.7).then(|| kr(days * 10_000));
        }
        Kind::PsychiatryInpatient => {
            let days = in_care_days.unwrap_or(1);
            p.product_category = "02";
            p.items
                .push(Item::draw(rng, &codes::ITEM_PSYCHIATRY_DAY, days));
            p.inpatient_fee = rng.gen_bool(0.7).then(|| kr(days * 10_000));
        }
        _ => {
            p.product_category = if rng.gen_bool(0.95) { "01" } else { "99" };
            p.items = match kind {
                Kind::PrimaryCare => items(rng, codes::ITEMS_PRIMARY, 1),
                Kind::PsychiatryOutpatient => items(rng, codes::ITEMS_PSYCHIATRY, 1),
                Kind::Abortion => vec![Item::draw(rng, &codes::ITEM_ABORTION, 1)],
                Kind::Contraception => vec![Item::draw(rng, &codes::ITEM_CONTRACEPTION, 1)],
                _ => items(rng, codes::ITEMS_SPECIALIST, 3),
            };
            let fee = kr(rng.gen_range(2..=4) * 100 * 100);
            let (reduced, paid) = if kind == Kind::Contraception {
                (Some("03"), Decimal::ZERO)
            } else if age < 20 {
                (rng.gen_bool(0.8).then_some("02"), Decimal::ZERO)
            } else if age >= 85 {
                (Some("05"), Decimal::ZERO)
            } else if rng.gen_bool(0.06) {
                p.free_pass = Some(true);
                (Some("01"), Decimal::ZERO)
            } else {
                (None, fee)
            };
            p.fee = Some(fee);
            p.fee_paid = Some(paid);
            p.reduced_category = reduced;
        }
    }
    p.adjustments(rng);
    p
}

fn diagnosis_entry(code: &str) -> DiagnosisEntry {
    DiagnosisEntry {
        diagnosis_code: cv(code, oid::ICD10SE),
        ..Default::default()
    }
}

fn care_diagnosis(rng: &mut ChaCha8Rng, main: &str) -> CareDiagnosis {
    let mut bi: Vec<DiagnosisEntry> = Vec::new();
    for _ in 0..rng.gen_range(0..=2) {
        let b = *pick(rng, codes::BI_DIAGNOSES);
        if b != main
            && !bi
                .iter()
                .any(|e| e.diagnosis_code.code.as_deref() == Some(b))
        {
            bi.push(diagnosis_entry(b));
        }
    }
    CareDiagnosis {
        main_diagnosis: diagnosis_entry(main),
        bi_diagnosis: bi,
        ..Default::default()
    }
}

fn clinical(
    rng: &mut ChaCha8Rng,
    kind: Kind,
    c: &Condition,
) -> (Option<Diagnosis>, Option<Treatment>) {
    let treatment = |rng: &mut ChaCha8Rng, kva: &[&str], atc: &[&str]| {
        let kva: Vec<CV> = kva
            .iter()
            .filter(|_| rng.gen_bool(0.6))
            .map(|k| cv(k, oid::KVA))
            .collect();
        let atc: Vec<CV> = atc
            .iter()
            .filter(|_| rng.gen_bool(0.5))
            .map(|a| cv(a, oid::ATC))
            .collect();
        (!kva.is_empty() || !atc.is_empty()).then_some(Treatment {
            type_of_treatment: kva,
            atc,
            unspecified: Vec::new(),
            ..Default::default()
        })
    };
    match kind {
        Kind::PsychiatryInpatient | Kind::PsychiatryOutpatient => (None, None),
        Kind::PrimaryCare => (None, treatment(rng, &[], c.atc)),
        Kind::Outpatient => (
            Some(Diagnosis {
                inpatient_care_diagnosis: None,
                outpatient_care_diagnosis: Some(care_diagnosis(rng, c.icd)),
                ..Default::default()
            }),
            treatment(rng, c.kva, c.atc),
        ),
        Kind::Inpatient => (
            Some(Diagnosis {
                inpatient_care_diagnosis: Some(care_diagnosis(rng, c.icd)),
                outpatient_care_diagnosis: None,
                ..Default::default()
            }),
            treatment(rng, c.kva, c.atc),
        ),
        // A stay still going on may carry its diagnosis or wait for discharge (ÖR31 allows
        // either with an invoicePeriod).
        Kind::InpatientPeriod => (
            rng.gen_bool(0.5).then(|| Diagnosis {
                inpatient_care_diagnosis: Some(care_diagnosis(rng, c.icd)),
                outpatient_care_diagnosis: None,
                ..Default::default()
            }),
            treatment(rng, c.kva, c.atc),
        ),
        Kind::Abortion => (
            Some(Diagnosis {
                inpatient_care_diagnosis: None,
                outpatient_care_diagnosis: Some(CareDiagnosis {
                    main_diagnosis: diagnosis_entry(codes::ABORTION_ICD),
                    bi_diagnosis: Vec::new(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            Some(Treatment {
                type_of_treatment: Vec::new(),
                atc: codes::ABORTION_ATC
                    .iter()
                    .map(|a| cv(a, oid::ATC))
                    .collect(),
                unspecified: Vec::new(),
                ..Default::default()
            }),
        ),
        Kind::Contraception => (
            Some(Diagnosis {
                inpatient_care_diagnosis: None,
                outpatient_care_diagnosis: Some(CareDiagnosis {
                    main_diagnosis: diagnosis_entry(pick::<&str>(rng, codes::CONTRACEPTION_ICD)),
                    bi_diagnosis: Vec::new(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            treatment(rng, &[], codes::CONTRACEPTION_ATC),
        ),
    }
}
