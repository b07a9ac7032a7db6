//! The hand-made documents in tests/data and the ways rule tests change them: through the
//! typed model ([`with`]) or by replacing text once ([`replaced`]), so a test says only what it
//! changes.
#![allow(dead_code)]

use invoice_hub::claim::{
    Amount, ClaimSpecification, HealthcarePerformed, PatientOtherInformation,
};
use rust_decimal::Decimal;

/// Outpatient care priced per patient-specific code (one line).
pub(crate) const O: &str = "outpatient_patient_specific.xml";
/// Inpatient care priced by DRG (two lines, line ids 1 and 2).
pub(crate) const I: &str = "inpatient_drg.xml";
pub(crate) const C: &str = "credit_note_381.xml";
/// An asylum seeker's basis with extension elements, default namespace.
pub(crate) const A: &str = "asylum_extensions_default_ns.xml";

pub(crate) fn raw(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

pub(crate) fn model(name: &str) -> ClaimSpecification {
    ClaimSpecification::from_xml(raw(name).as_bytes()).unwrap()
}

/// A document changed through the model.
pub(crate) fn with(name: &str, f: impl FnOnce(&mut ClaimSpecification)) -> Vec<u8> {
    let mut c = model(name);
    f(&mut c);
    c.to_xml().into_bytes()
}

/// A document changed by replacing text (exactly once).
pub(crate) fn replaced(name: &str, from: &str, to: &str) -> Vec<u8> {
    let r = raw(name);
    assert!(r.contains(from), "{name} does not contain {from}");
    r.replacen(from, to, 1).into_bytes()
}

/// The first healthcarePerformed of a line.
pub(crate) fn hp(c: &mut ClaimSpecification, line: usize) -> &mut HealthcarePerformed {
    &mut c.health_care_services_specification_line[line].healthcare_performed[0]
}

pub(crate) fn poi(c: &mut ClaimSpecification, line: usize) -> &mut PatientOtherInformation {
    &mut c.health_care_services_specification_line[line]
        .patient_information
        .patient_other_information
}

pub(crate) fn sek(s: &str) -> Amount {
    Amount::sek(s.parse::<Decimal>().unwrap())
}
