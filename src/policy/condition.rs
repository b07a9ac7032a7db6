//! Conditions: what a rule's `when` table can ask of one unit of care.
//!
//! A condition is a TOML table of tests that must all hold; `all`, `any` and `not` combine
//! conditions. An absent `when` matches everything (a region's default rule). Unknown keys are
//! refused when the file is read, so a misspelt test can never silently match nothing.

use serde::Deserialize;

use super::facts::{normalise_icd, LineFacts};
use crate::validate::ids::PatientIdKind;

/// One `when` table. Every field that is present must hold.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// medicalFieldCode starts with one of these (`"9"` = psychiatry).
    pub medical_field_code: Option<Vec<String>>,
    /// Some ICD-10-SE diagnosis on the contact starts with one of these prefixes (`"F"`), or
    /// falls in a range (`"O00-O08"`, inclusive, subcodes included).
    pub icd10: Option<Vec<String>>,
    /// Some KVÅ procedure code starts with one of these.
    pub kva: Option<Vec<String>>,
    /// Some ATC code starts with one of these.
    pub atc: Option<Vec<String>>,
    /// agreementInRiksavtalet is one of these (`"4.4"` reveals an abortion).
    pub agreement_in_riksavtalet: Option<Vec<String>>,
    /// patientFeeReducedCategory is one of these (`"03"` reveals counselling/contraception).
    pub patient_fee_reduced_category: Option<Vec<String>>,
    /// typeOfCare code: `"01"` outpatient, `"02"` inpatient.
    pub type_of_care: Option<Vec<String>>,
    /// careLevel: `"1"` primary care … `"4"` national highly specialised care.
    pub care_level: Option<Vec<String>>,
    /// businessClassification code is one of these.
    pub business_classification: Option<Vec<String>>,
    /// The kind of patient identifier.
    pub patient_id: Option<Vec<PatientIdKind>>,
    /// Whether the patient is an asylum seeker (county 99, municipality 9901 or an LMA card).
    pub asylum_seeker: Option<bool>,
    /// The patient's age at the visit, in whole years, within this band. A patient whose
    /// identifier carries no birth date (reserve numbers) is in no band.
    pub age: Option<AgeBand>,
    /// The care unit's HSA-id is one of these.
    pub care_unit: Option<Vec<String>>,
    /// The receiving region's organisation number is one of these.
    pub receiver: Option<Vec<String>>,
    /// Every one of these holds.
    pub all: Option<Vec<Condition>>,
    /// At least one of these holds.
    pub any: Option<Vec<Condition>>,
    /// This does not hold.
    pub not: Option<Box<Condition>>,
}

/// An inclusive age band; either end may be left open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgeBand {
    pub min: Option<u32>,
    pub max: Option<u32>,
}

fn one_of(list: &Option<Vec<String>>, value: Option<&str>) -> bool {
    match list {
        None => true,
        Some(list) => value.is_some_and(|v| list.iter().any(|x| x == v)),
    }
}

fn prefix_of<'s>(list: &Option<Vec<String>>, mut values: impl Iterator<Item = &'s str>) -> bool {
    match list {
        None => true,
        Some(list) => values.any(|v| list.iter().any(|p| v.starts_with(p.as_str()))),
    }
}

/// Whether a normalised ICD code matches a prefix or an inclusive range of the policy.
fn icd_matches(pattern: &str, code: &str) -> bool {
    match pattern.split_once('-') {
        Some((lo, hi)) => {
            let (lo, hi) = (normalise_icd(lo), normalise_icd(hi));
            let head = |n: usize| &code[..n.min(code.len())];
            head(lo.len()) >= lo.as_str() && head(hi.len()) <= hi.as_str()
        }
        None => code.starts_with(&normalise_icd(pattern)),
    }
}

impl Condition {
    /// Whether this condition holds for one unit of care.
    pub fn holds(&self, f: &LineFacts<'_>) -> bool {
        prefix_of(
            &self.medical_field_code,
            std::iter::once(f.medical_field_code),
        ) && self
            .icd10
            .as_ref()
            .is_none_or(|ps| f.icd10.iter().any(|c| ps.iter().any(|p| icd_matches(p, c))))
            && prefix_of(&self.kva, f.kva.iter().copied())
            && prefix_of(&self.atc, f.atc.iter().copied())
            && one_of(&self.agreement_in_riksavtalet, f.agreement_in_riksavtalet)
            && one_of(
                &self.patient_fee_reduced_category,
                f.patient_fee_reduced_category,
            )
            && one_of(&self.type_of_care, f.type_of_care)
            && one_of(&self.care_level, f.care_level)
            && one_of(&self.business_classification, f.business_classification)
            && self
                .patient_id
                .as_ref()
                .is_none_or(|kinds| kinds.contains(&f.id_kind))
            && self.asylum_seeker.is_none_or(|a| a == f.asylum_seeker)
            && self.age.is_none_or(|band| {
                f.age.is_some_and(|age| {
                    band.min.is_none_or(|m| age >= m) && band.max.is_none_or(|m| age <= m)
                })
            })
            && one_of(&self.care_unit, f.care_unit)
            && one_of(&self.receiver, f.receiver)
            && self
                .all
                .as_ref()
                .is_none_or(|cs| cs.iter().all(|c| c.holds(f)))
            && self
                .any
                .as_ref()
                .is_none_or(|cs| cs.iter().any(|c| c.holds(f)))
            && self.not.as_ref().is_none_or(|c| !c.holds(f))
    }

    /// Problems a reader of the policy should fix: empty lists (which would match nothing),
    /// inverted ranges and bands, malformed organisation numbers. Each is (key, message).
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        self.collect_problems("when", &mut out);
        out
    }

    fn collect_problems(&self, at: &str, out: &mut Vec<(String, String)>) {
        let lists: [(&str, Option<usize>); 10] = [
            (
                "medical_field_code",
                self.medical_field_code.as_ref().map(Vec::len),
            ),
            ("icd10", self.icd10.as_ref().map(Vec::len)),
            ("kva", self.kva.as_ref().map(Vec::len)),
            ("atc", self.atc.as_ref().map(Vec::len)),
            (
                "agreement_in_riksavtalet",
                self.agreement_in_riksavtalet.as_ref().map(Vec::len),
            ),
            (
                "patient_fee_reduced_category",
                self.patient_fee_reduced_category.as_ref().map(Vec::len),
            ),
            ("type_of_care", self.type_of_care.as_ref().map(Vec::len)),
            ("care_level", self.care_level.as_ref().map(Vec::len)),
            ("care_unit", self.care_unit.as_ref().map(Vec::len)),
            ("receiver", self.receiver.as_ref().map(Vec::len)),
        ];
        for (key, len) in lists {
            if len == Some(0) {
                out.push((
                    format!("{at}.{key}"),
                    "an empty list matches nothing; leave the key out instead".into(),
                ));
            }
        }
        for p in self.icd10.iter().flatten() {
            if let Some((lo, hi)) = p.split_once('-') {
                if normalise_icd(lo) > normalise_icd(hi) || lo.trim().is_empty() {
                    out.push((
                        format!("{at}.icd10"),
                        format!("range '{p}' is empty (its start is after its end)"),
                    ));
                }
            }
        }
        if let Some(AgeBand {
            min: Some(lo),
            max: Some(hi),
        }) = self.age
        {
            if lo > hi {
                out.push((
                    format!("{at}.age"),
                    format!("min {lo} is greater than max {hi}"),
                ));
            }
        }
        for r in self.receiver.iter().flatten() {
            if r.len() != 10 || !r.bytes().all(|b| b.is_ascii_digit()) {
                out.push((
                    format!("{at}.receiver"),
                    format!("'{r}' is not a 10-digit organisation number"),
                ));
            }
        }
        for (i, c) in self.all.iter().flatten().enumerate() {
            c.collect_problems(&format!("{at}.all[{i}]"), out);
        }
        for (i, c) in self.any.iter().flatten().enumerate() {
            c.collect_problems(&format!("{at}.any[{i}]"), out);
        }
        if let Some(c) = &self.not {
            c.collect_problems(&format!("{at}.not"), out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icd_prefixes_and_ranges() {
        assert!(icd_matches("F", "F321"));
        assert!(icd_matches("O00-O08", "O04"));
        assert!(icd_matches("O00-O08", "O089"));
        assert!(icd_matches("O00-O08", "O00"));
        assert!(!icd_matches("O00-O08", "O09"));
        assert!(!icd_matches("O00-O08", "N99"));
        assert!(icd_matches("Z30.0-Z30.9", "Z302"));
    }
}
