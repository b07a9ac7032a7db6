//! What a policy condition can ask about one unit of care: the facts of one `healthcarePerformed`
//! together with its patient (the enclosing line) and the basis (the receiving region).
//!
//! Conditions are evaluated per unit of care, not per basis, so a rule about psychiatry removes
//! diagnoses from the psychiatric contacts only, and a basis with one sensitive line out of a
//! hundred is judged on that line.

use chrono::{Datelike, NaiveDate};

use crate::claim::{
    lexical, ClaimSpecification, HealthCareServicesSpecificationLine, HealthcarePerformed, CV,
};
use crate::validate::ids::{self, PatientIdKind};

/// The facts of one unit of care. Borrowed from the document: building them allocates only the
/// lists of codes.
#[derive(Debug, Clone)]
pub struct LineFacts<'a> {
    /// The receiving region (customer party's organisation number).
    pub receiver: Option<&'a str>,
    pub id_kind: PatientIdKind,
    /// Whole years at the care visit, when the identifier carries a birth date.
    pub age: Option<u32>,
    pub asylum_seeker: bool,
    pub medical_field_code: &'a str,
    pub type_of_care: Option<&'a str>,
    pub care_level: Option<&'a str>,
    pub business_classification: Option<&'a str>,
    pub agreement_in_riksavtalet: Option<&'a str>,
    pub patient_fee_reduced_category: Option<&'a str>,
    pub care_unit: Option<&'a str>,
    /// ICD-10-SE codes, inpatient and outpatient, main and secondary, normalised (no dot,
    /// upper case).
    pub icd10: Vec<String>,
    pub kva: Vec<&'a str>,
    pub atc: Vec<&'a str>,
}

fn code(cv: &CV) -> Option<&str> {
    cv.code.as_deref().map(str::trim)
}

impl<'a> LineFacts<'a> {
    pub fn of(
        claim: &'a ClaimSpecification,
        line: &'a HealthCareServicesSpecificationLine,
        performed: &'a HealthcarePerformed,
    ) -> LineFacts<'a> {
        let patient = &line.patient_information;
        let other = &patient.patient_other_information;
        // The basis has passed ÖR7; a root that names no kind is the region's own numbering.
        let id_kind = ids::kind_of_patient_id(&patient.patient_identity.root)
            .unwrap_or(PatientIdKind::Reservnummer);
        let visit = lexical::date(
            performed
                .timespan
                .healthcare_visit_date_time
                .care_visit_date
                .trim(),
        );
        let age = ids::birth_date(id_kind, &patient.patient_identity.extension)
            .zip(visit)
            .and_then(|(born, at)| years_between(born, at));
        let asylum_seeker = code(&other.county) == Some("99")
            || code(&other.municipality) == Some("9901")
            || other.lma_card_number.is_some();
        let mut icd10 = Vec::new();
        if let Some(d) = &performed.diagnosis {
            for cd in [&d.inpatient_care_diagnosis, &d.outpatient_care_diagnosis]
                .into_iter()
                .flatten()
            {
                for entry in std::iter::once(&cd.main_diagnosis).chain(&cd.bi_diagnosis) {
                    if let Some(c) = code(&entry.diagnosis_code) {
                        icd10.push(normalise_icd(c));
                    }
                }
            }
        }
        let (kva, atc) = match &performed.treatment {
            Some(t) => (
                t.type_of_treatment.iter().filter_map(code).collect(),
                t.atc.iter().filter_map(code).collect(),
            ),
            None => (Vec::new(), Vec::new()),
        };
        let activity = &performed.activity;
        LineFacts {
            receiver: claim.customer_party.organisation_number(),
            id_kind,
            age,
            asylum_seeker,
            medical_field_code: activity.medical_field_code.trim(),
            type_of_care: code(&performed.healthcare_category.type_of_care),
            care_level: activity.care_level.as_deref().map(str::trim),
            business_classification: activity.business_classification.as_ref().and_then(code),
            agreement_in_riksavtalet: performed
                .payment_commitment
                .as_ref()
                .and_then(|p| p.agreement_in_riksavtalet.as_deref())
                .map(str::trim),
            patient_fee_reduced_category: performed
                .invoiced_amount_details
                .patient_fee_reduced_category
                .as_deref()
                .map(str::trim),
            care_unit: performed
                .healthcare_unit
                .care_unit_id
                .as_ref()
                .map(|i| i.extension.trim()),
            icd10,
            kva,
            atc,
        }
    }
}

/// ICD-10-SE codes arrive as `F32.1` or `F321`; policies compare them without the dot.
pub(super) fn normalise_icd(code: &str) -> String {
    code.chars()
        .filter(|c| !matches!(c, '.' | ' ' | '-'))
        .flat_map(char::to_uppercase)
        .collect()
}

fn years_between(born: NaiveDate, at: NaiveDate) -> Option<u32> {
    let mut years = at.year() - born.year();
    if (at.month(), at.day()) < (born.month(), born.day()) {
        years -= 1;
    }
    u32::try_from(years).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_counts_whole_years() {
        let d = |s| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(years_between(d("2000-06-15"), d("2018-06-14")), Some(17));
        assert_eq!(years_between(d("2000-06-15"), d("2018-06-15")), Some(18));
        assert_eq!(years_between(d("2020-01-01"), d("2019-01-01")), None);
    }

    #[test]
    fn icd_codes_lose_their_dot() {
        assert_eq!(normalise_icd("f32.1"), "F321");
        assert_eq!(normalise_icd("O04"), "O04");
    }
}
