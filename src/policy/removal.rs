//! Which elements a policy may leave out, and leaving them out.
//!
//! Paths are relative to a `healthCareServicesSpecificationLine` and written as in the document
//! (`healthcarePerformed/diagnosis`). Only optional elements are listed: the schema's required
//! elements are in [`REQUIRED`] so that a policy naming one gets a precise refusal when it is
//! read, and a removal that breaks a business rule (ÖR23, ÖR31, …) is caught afterwards by
//! validating the reduced document again.

use crate::claim::{HealthcarePerformed, PatientOtherInformation};

/// Where a removable element sits: on the patient of a line, or on one unit of care.
#[derive(Clone, Copy)]
enum Target {
    Patient(fn(&mut PatientOtherInformation) -> bool),
    Performed(fn(&mut HealthcarePerformed) -> bool),
}

/// One element a policy may name in `remove`.
pub struct Removable {
    pub path: &'static str,
    target: Target,
}

fn take<T>(o: &mut Option<T>) -> bool {
    o.take().is_some()
}

fn clear<T>(v: &mut Vec<T>) -> bool {
    !std::mem::take(v).is_empty()
}

macro_rules! removable {
    ($( $path:expr => $kind:ident |$x:ident| $body:expr ),* $(,)?) => {
        /// Every element a policy may remove, relative to a line.
        pub const REMOVABLE: &[Removable] = &[
            $( Removable { path: $path, target: Target::$kind(|$x| $body) } ),*
        ];
    };
}

removable! {
    "patientInformation/patientOtherInformation/listingLocalAuthoritiesNumber" => Patient |o| take(&mut o.listing_local_authorities_number),
    "patientInformation/patientOtherInformation/LMACardNumber" => Patient |o| take(&mut o.lma_card_number),
    "patientInformation/patientOtherInformation/gender" => Patient |o| take(&mut o.gender),
    "patientInformation/patientOtherInformation/EUCardNumber" => Patient |o| take(&mut o.eu_card_number),
    "patientInformation/patientOtherInformation/unspecified" => Patient |o| clear(&mut o.unspecified),
    "healthcarePerformed/careContactId" => Performed |h| take(&mut h.care_contact_id),
    "healthcarePerformed/unspecified" => Performed |h| clear(&mut h.unspecified),
    "healthcarePerformed/paymentCommitment" => Performed |h| take(&mut h.payment_commitment),
    "healthcarePerformed/paymentCommitment/agreementInRiksavtalet" => Performed |h| h.payment_commitment.as_mut().is_some_and(|p| take(&mut p.agreement_in_riksavtalet)),
    "healthcarePerformed/healthcareCategory/typeOfVisit" => Performed |h| take(&mut h.healthcare_category.type_of_visit),
    "healthcarePerformed/timespan/healthcareVisitDateTime/careVisitTime" => Performed |h| take(&mut h.timespan.healthcare_visit_date_time.care_visit_time),
    "healthcarePerformed/timespan/healthcareDischargeDateTime/careDischargeTime" => Performed |h| h.timespan.healthcare_discharge_date_time.as_mut().is_some_and(|d| take(&mut d.care_discharge_time)),
    "healthcarePerformed/healthcareUnit/careUnitId" => Performed |h| take(&mut h.healthcare_unit.care_unit_id),
    "healthcarePerformed/healthcareUnit/professionCodeForHealthcare" => Performed |h| take(&mut h.healthcare_unit.profession_code_for_healthcare),
    "healthcarePerformed/healthcareUnit/unspecified" => Performed |h| clear(&mut h.healthcare_unit.unspecified),
    "healthcarePerformed/categorization/DRGCost/DRGCode" => Performed |h| h.categorization.as_mut().and_then(|c| c.drg_cost.as_mut()).is_some_and(|d| take(&mut d.drg_code)),
    "healthcarePerformed/invoicedAmountDetails/patientFeeReducedCategory" => Performed |h| take(&mut h.invoiced_amount_details.patient_fee_reduced_category),
    "healthcarePerformed/invoicedAmountDetails/patientFreePassCauseIndicator" => Performed |h| take(&mut h.invoiced_amount_details.patient_free_pass_cause_indicator),
    "healthcarePerformed/activity/businessClassification" => Performed |h| take(&mut h.activity.business_classification),
    "healthcarePerformed/activity/careLevel" => Performed |h| take(&mut h.activity.care_level),
    "healthcarePerformed/diagnosis" => Performed |h| take(&mut h.diagnosis),
    "healthcarePerformed/diagnosis/inpatientCareDiagnosis" => Performed |h| h.diagnosis.as_mut().is_some_and(|d| take(&mut d.inpatient_care_diagnosis)),
    "healthcarePerformed/diagnosis/outpatientCareDiagnosis" => Performed |h| h.diagnosis.as_mut().is_some_and(|d| take(&mut d.outpatient_care_diagnosis)),
    "healthcarePerformed/diagnosis/inpatientCareDiagnosis/biDiagnosis" => Performed |h| h.diagnosis.as_mut().and_then(|d| d.inpatient_care_diagnosis.as_mut()).is_some_and(|c| clear(&mut c.bi_diagnosis)),
    "healthcarePerformed/diagnosis/outpatientCareDiagnosis/biDiagnosis" => Performed |h| h.diagnosis.as_mut().and_then(|d| d.outpatient_care_diagnosis.as_mut()).is_some_and(|c| clear(&mut c.bi_diagnosis)),
    "healthcarePerformed/treatment" => Performed |h| take(&mut h.treatment),
    "healthcarePerformed/treatment/typeOfTreatment" => Performed |h| h.treatment.as_mut().is_some_and(|t| clear(&mut t.type_of_treatment)),
    "healthcarePerformed/treatment/ATC" => Performed |h| h.treatment.as_mut().is_some_and(|t| clear(&mut t.atc)),
}

/// Elements the contract's schema requires: a policy may not name them in `remove`.
pub const REQUIRED: &[&str] = &[
    "patientInformation",
    "patientInformation/patientIdentity",
    "patientInformation/patientOtherInformation",
    "patientInformation/patientOtherInformation/county",
    "patientInformation/patientOtherInformation/municipality",
    "healthcarePerformed",
    "healthcarePerformed/lineId",
    "healthcarePerformed/healthcareCategory",
    "healthcarePerformed/healthcareCategory/typeOfCare",
    "healthcarePerformed/healthcareCategory/plannedHealthcare",
    "healthcarePerformed/timespan",
    "healthcarePerformed/timespan/healthcareVisitDateTime",
    "healthcarePerformed/timespan/healthcareVisitDateTime/careVisitDate",
    "healthcarePerformed/timespan/healthcareDischargeDateTime/careDischargeDate",
    "healthcarePerformed/healthcareUnit",
    "healthcarePerformed/healthcareUnit/careUnitName",
    "healthcarePerformed/invoicedAmountDetails",
    "healthcarePerformed/invoicedAmountDetails/patientCareInvoiceGrossAmount",
    "healthcarePerformed/invoicedAmountDetails/patientCareInvoiceNetAmount",
    "healthcarePerformed/activity",
    "healthcarePerformed/activity/medicalFieldCode",
    "healthcarePerformed/diagnosis/inpatientCareDiagnosis/mainDiagnosis",
    "healthcarePerformed/diagnosis/outpatientCareDiagnosis/mainDiagnosis",
];

/// The removable element at `path`, if any.
pub(super) fn find(path: &str) -> Option<&'static Removable> {
    REMOVABLE.iter().find(|r| r.path == path)
}

impl Removable {
    /// Whether this element belongs to the patient (once per line) rather than to a unit of care.
    pub fn is_patient_level(&self) -> bool {
        matches!(self.target, Target::Patient(_))
    }

    /// Leaves the element out of the patient's information; true if it was there.
    pub fn apply_patient(&self, o: &mut PatientOtherInformation) -> bool {
        match self.target {
            Target::Patient(f) => f(o),
            Target::Performed(_) => false,
        }
    }

    /// Leaves the element out of one unit of care; true if it was there.
    pub fn apply_performed(&self, h: &mut HealthcarePerformed) -> bool {
        match self.target {
            Target::Performed(f) => f(h),
            Target::Patient(_) => false,
        }
    }

    /// The path below the line's patient or unit of care, for absolute paths in reports.
    pub fn tail(&self) -> &'static str {
        self.path
            .strip_prefix("healthcarePerformed/")
            .or_else(|| self.path.strip_prefix("patientInformation/"))
            .unwrap_or(self.path)
    }
}

/// Containers a removal can leave empty; the contract forbids empty elements (ÖR1), so an
/// emptied container goes too. Returns the names of the containers dropped.
pub(super) fn prune(h: &mut HealthcarePerformed) -> Vec<&'static str> {
    let mut dropped = Vec::new();
    if h.diagnosis.as_ref().is_some_and(|d| {
        d.inpatient_care_diagnosis.is_none()
            && d.outpatient_care_diagnosis.is_none()
            && d.extensions.is_empty()
    }) {
        h.diagnosis = None;
        dropped.push("diagnosis");
    }
    if h.treatment.as_ref().is_some_and(|t| {
        t.type_of_treatment.is_empty()
            && t.atc.is_empty()
            && t.unspecified.is_empty()
            && t.extensions.is_empty()
    }) {
        h.treatment = None;
        dropped.push("treatment");
    }
    if h.payment_commitment.as_ref().is_some_and(|p| {
        p.remittance_number.is_none()
            && p.payment_commitment_number.is_none()
            && p.type_of_agreement.is_none()
            && p.type_of_chapter.is_none()
            && p.agreement_in_riksavtalet.is_none()
            && p.type_of_reimbursement.is_none()
            && p.unspecified.is_empty()
            && p.extensions.is_empty()
    }) {
        h.payment_commitment = None;
        dropped.push("paymentCommitment");
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removable_and_required_are_disjoint_and_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for r in REMOVABLE {
            assert!(seen.insert(r.path), "{} twice", r.path);
            assert!(!REQUIRED.contains(&r.path), "{} both", r.path);
        }
    }

    #[test]
    fn tails_drop_the_owner() {
        assert_eq!(
            find("healthcarePerformed/diagnosis").unwrap().tail(),
            "diagnosis"
        );
        assert_eq!(
            find("patientInformation/patientOtherInformation/gender")
                .unwrap()
                .tail(),
            "patientOtherInformation/gender"
        );
    }
}
