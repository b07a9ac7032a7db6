//! The manifest: one JSON object per generated document (`DIR/manifest.jsonl`), so tests and
//! the policy engine know what each file is without parsing it: who sends it to whom, how big it
//! is, which rule was broken on purpose, and which sensitive features it carries.

use serde::{Deserialize, Serialize};

use super::people::IdKind;
use crate::claim::ClaimSpecification;

/// File name of the manifest inside the output directory.
pub const MANIFEST_FILE: &str = "manifest.jsonl";
/// File name of the protected-identities list (one patient id per line), which the policy
/// engine takes as a region's list of patients with protected identity.
pub const PROTECTED_FILE: &str = "protected-identities.txt";

/// One generated document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Position in the run (0-based); the id's counter is `index + 1`.
    pub index: u64,
    /// File name inside the output directory.
    pub file: String,
    /// `claimSpecification/id`.
    pub id: String,
    /// Supplier's organisation number: the region that sends the basis.
    pub sender: String,
    /// Customer's organisation number: the region that receives it.
    pub receiver: String,
    /// typeOfInvoice: `380` invoice, `381` credit note.
    #[serde(rename = "type")]
    pub type_of_invoice: String,
    /// Number of healthcarePerformed lines (lineIds).
    pub lines: u32,
    /// Number of patients (healthCareServicesSpecificationLine).
    pub patients: u32,
    pub bytes: u64,
    /// The one rule this document breaks on purpose (`ÖR5`, `ID-PERSONNUMMER`), or null for a
    /// document that must be valid.
    pub injected_rule: Option<String>,
    /// For a credit note: the id of the basis it credits (an earlier document of the run).
    pub credits: Option<String>,
    pub features: Features,
}

/// What a policy engine or an end-to-end test may want to select documents by.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Features {
    /// A line with a psychiatric medical field code (9xx).
    pub psychiatry: bool,
    /// A line under Riksavtal 4.4 (reveals an abortion).
    pub abortion: bool,
    /// A line with patientFeeReducedCategory 03 (reveals counselling/contraception).
    pub reduced_fee_03: bool,
    /// A line of primary care (careLevel 1).
    pub primary_care: bool,
    /// A patient who is an asylum seeker (county 99).
    pub asylum: bool,
    /// A patient with protected identity (listed in `protected-identities.txt`).
    pub protected_identity: bool,
    pub inpatient: bool,
    pub outpatient: bool,
    pub drg_pricing: bool,
    pub patient_specific_pricing: bool,
    pub credit_note: bool,
    /// The kinds of patient identifier on the basis, sorted, each once.
    pub patient_id_kinds: Vec<String>,
}

fn kind_name(k: IdKind) -> &'static str {
    match k {
        IdKind::Personnummer => "personnummer",
        IdKind::Samordningsnummer => "samordningsnummer",
        IdKind::Reservnummer => "reservnummer",
    }
}

impl Features {
    /// Read off the finished document, so the flags describe exactly what was written (an
    /// injected violation may have changed a field).
    pub fn of(claim: &ClaimSpecification, protected_identity: bool) -> Features {
        use super::codes::oid;
        let mut f = Features {
            protected_identity,
            credit_note: claim.is_credit_note(),
            ..Features::default()
        };
        let mut kinds = Vec::new();
        for line in &claim.health_care_services_specification_line {
            let info = &line.patient_information;
            kinds.push(match info.patient_identity.root.as_str() {
                oid::PERSONNUMMER => IdKind::Personnummer,
                oid::SAMORDNINGSNUMMER => IdKind::Samordningsnummer,
                _ => IdKind::Reservnummer,
            });
            if info.patient_other_information.county.code.as_deref() == Some("99") {
                f.asylum = true;
            }
            for p in &line.healthcare_performed {
                if p.activity.medical_field_code.starts_with('9') {
                    f.psychiatry = true;
                }
                if p.activity.care_level.as_deref() == Some("1") {
                    f.primary_care = true;
                }
                if p.payment_commitment
                    .as_ref()
                    .and_then(|c| c.agreement_in_riksavtalet.as_deref())
                    == Some("4.4")
                {
                    f.abortion = true;
                }
                if p.invoiced_amount_details
                    .patient_fee_reduced_category
                    .as_deref()
                    == Some("03")
                {
                    f.reduced_fee_03 = true;
                }
                if p.healthcare_category.is_inpatient() {
                    f.inpatient = true;
                } else {
                    f.outpatient = true;
                }
                if let Some(c) = &p.categorization {
                    f.drg_pricing |= c.drg_cost.is_some();
                    f.patient_specific_pricing |= !c.patient_specific_care.is_empty();
                }
            }
        }
        kinds.sort();
        kinds.dedup();
        f.patient_id_kinds = kinds.into_iter().map(|k| kind_name(k).into()).collect();
        f
    }
}
