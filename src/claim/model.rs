//! The contract's types, one struct per complex type, fields in the schema's sequence order.
//!
//! Field names are the snake_case of the XML element names, so a path in a report maps to a
//! field without a table. Leaves are `String`s holding the value exactly as received: the
//! contract types most leaves as `xs:string` and leaves the real constraints to the ÖR rules,
//! which must be able to see (and report) a malformed value instead of the reader rejecting it.

use serde::{Deserialize, Serialize};

use super::element::Element;
use super::map::model;
use super::ClaimError;

model! {
    /// `ProcessClaimSpecificationType`: one invoice basis (or credit note).
    pub struct ClaimSpecification {
        /// "ZVF" + supplier org number + YYMM + 6-digit counter (ÖR37).
        "id" one id: String,
        /// DateType `YYYYMMDD`.
        "issueDate" one issue_date: String,
        /// TimeType `hhmmss`.
        "issueTime" opt issue_time: Option<String>,
        /// 380 invoice, 381 credit note.
        "typeOfInvoice" one type_of_invoice: String,
        "invoiceId" opt invoice_id: Option<String>,
        "invoiceDateOfIssue" opt invoice_date_of_issue: Option<String>,
        /// On a credit note: the invoice credited.
        "referenceToInvoice" opt reference_to_invoice: Option<String>,
        /// On a credit note: the id of the original basis (ÖR52).
        "referenceToProcessClaimSpecificationId" opt reference_to_process_claim_specification_id: Option<String>,
        /// Equals the invoice total (ÖR5).
        "payableAmount" one payable_amount: Amount,
        "unspecified" many unspecified: Vec<Unspecified>,
        "supplierParty" one supplier_party: Party,
        "customerParty" one customer_party: Party,
        "healthCareServicesSpecificationLine" many health_care_services_specification_line: Vec<HealthCareServicesSpecificationLine>,
    }

    /// `IIType`: an identifier qualified by the OID of its issuing system.
    #[allow(clippy::upper_case_acronyms)]
    pub struct II {
        "root" one root: String,
        "extension" one extension: String,
    }

    /// `CVType`: a coded value; which parts are required depends on the code (ÖR39, ÖR42).
    #[allow(clippy::upper_case_acronyms)]
    pub struct CV {
        "code" opt code: Option<String>,
        "codeSystem" opt code_system: Option<String>,
        "codeSystemName" opt code_system_name: Option<String>,
        "codeSystemVersion" opt code_system_version: Option<String>,
        "displayName" opt display_name: Option<String>,
        "originalText" opt original_text: Option<String>,
    }

    /// `AmountType`: a decimal amount with its currency (always SEK, ÖR35).
    pub struct Amount {
        "amount" one amount: String,
        "currency" one currency: CV,
    }

    /// `UnspecifiedType`: free fields regions agree on among themselves.
    pub struct Unspecified {
        "text" one text: String,
        "type" opt r#type: Option<String>,
    }

    /// `ContactType`.
    pub struct Contact {
        "name" opt name: Option<String>,
        "telephone" opt telephone: Option<String>,
        "electronicMail" opt electronic_mail: Option<String>,
    }

    /// Supplier or customer party. Upstream has one type per role that differ only in the
    /// contact element's name, so one struct carries both: a supplier has `seller_contact`,
    /// a customer `buyer_contact`.
    pub struct Party {
        /// Organisation number (root 1.3.7), optionally a GLN second (ÖR3, ÖR46, ÖR48).
        "identification" many identification: Vec<II>,
        "sellerContact" opt seller_contact: Option<Contact>,
        "buyerContact" opt buyer_contact: Option<Contact>,
    }

    /// One patient's care on this basis.
    pub struct HealthCareServicesSpecificationLine {
        "patientInformation" one patient_information: PatientInformation,
        "healthcarePerformed" many healthcare_performed: Vec<HealthcarePerformed>,
    }

    /// Who the patient is; personal data under health-care secrecy.
    pub struct PatientInformation {
        /// Personnummer, samordningsnummer or reservnummer (ÖR7).
        "patientIdentity" one patient_identity: II,
        "patientOtherInformation" one patient_other_information: PatientOtherInformation,
    }

    /// Where the patient lives and is listed, and the cards asylum seekers and EU citizens carry.
    pub struct PatientOtherInformation {
        "county" one county: CV,
        "municipality" one municipality: CV,
        "listingLocalAuthoritiesNumber" opt listing_local_authorities_number: Option<II>,
        "LMACardNumber" opt lma_card_number: Option<String>,
        "gender" opt gender: Option<CV>,
        "EUCardNumber" opt eu_card_number: Option<String>,
        "unspecified" many unspecified: Vec<Unspecified>,
    }

    /// One contact or stay that is invoiced.
    pub struct HealthcarePerformed {
        /// positiveInteger, unique and ascending within the basis (ÖR43).
        "lineId" one line_id: String,
        /// Required for inpatient care (ÖR11).
        "careContactId" opt care_contact_id: Option<String>,
        "referenceToLineId" opt reference_to_line_id: Option<String>,
        "reasonForCredit" opt reason_for_credit: Option<String>,
        "unspecified" many unspecified: Vec<Unspecified>,
        "paymentCommitment" opt payment_commitment: Option<PaymentCommitment>,
        "healthcareCategory" one healthcare_category: HealthcareCategory,
        "timespan" one timespan: Timespan,
        "healthcareUnit" one healthcare_unit: HealthcareUnit,
        "categorization" opt categorization: Option<Categorization>,
        "invoicedAmountDetails" one invoiced_amount_details: InvoicedAmountDetails,
        "activity" one activity: Activity,
        "diagnosis" opt diagnosis: Option<Diagnosis>,
        "treatment" opt treatment: Option<Treatment>,
    }

    /// Under which agreement the care is paid for.
    pub struct PaymentCommitment {
        "remittanceNumber" opt remittance_number: Option<String>,
        "paymentCommitmentNumber" opt payment_commitment_number: Option<String>,
        "typeOfAgreement" opt type_of_agreement: Option<String>,
        "typeOfChapter" opt type_of_chapter: Option<String>,
        /// 4.4 reveals an abortion: the policy part treats it as sensitive.
        "agreementInRiksavtalet" opt agreement_in_riksavtalet: Option<String>,
        "typeOfReimbursement" opt type_of_reimbursement: Option<String>,
        "unspecified" many unspecified: Vec<Unspecified>,
    }

    /// Outpatient or inpatient, planned or not.
    pub struct HealthcareCategory {
        /// 01 outpatient, 02 inpatient.
        "typeOfCare" one type_of_care: CV,
        /// xs:boolean; see [`HealthcareCategory::public_care_value`].
        "publicCare" opt public_care: Option<String>,
        /// xs:boolean; see [`HealthcareCategory::planned_healthcare_value`].
        "plannedHealthcare" one planned_healthcare: String,
        "typeOfVisit" opt type_of_visit: Option<String>,
        "unspecified" many unspecified: Vec<Unspecified>,
    }

    /// When the care happened and for how long.
    pub struct Timespan {
        "healthcareVisitDateTime" one healthcare_visit_date_time: HealthcareVisitDateTime,
        "healthcareDischargeDateTime" opt healthcare_discharge_date_time: Option<HealthcareDischargeDateTime>,
        "invoicePeriod" opt invoice_period: Option<InvoicePeriod>,
        "numberOfDays" opt number_of_days: Option<NumberOfDays>,
    }

    /// Admission or visit date (and time).
    pub struct HealthcareVisitDateTime {
        "careVisitDate" one care_visit_date: String,
        "careVisitTime" opt care_visit_time: Option<String>,
    }

    /// Discharge date (and time) of a stay.
    pub struct HealthcareDischargeDateTime {
        "careDischargeDate" one care_discharge_date: String,
        "careDischargeTime" opt care_discharge_time: Option<String>,
    }

    /// The part of a long stay invoiced now (ÖR19–ÖR21).
    pub struct InvoicePeriod {
        "start" opt start: Option<String>,
        "end" opt end: Option<String>,
    }

    /// Days on leave and in care (inCare required for inpatient care, ÖR51).
    pub struct NumberOfDays {
        "onLeave" opt on_leave: Option<String>,
        "inCare" opt in_care: Option<String>,
    }

    /// The care unit that gave the care.
    pub struct HealthcareUnit {
        /// HSA-id, e.g. SE2321000115-094882.
        "careUnitId" opt care_unit_id: Option<II>,
        "careUnitName" one care_unit_name: String,
        /// Required for outpatient care (ÖR22, ÖR23).
        "professionCodeForHealthcare" opt profession_code_for_healthcare: Option<String>,
        "unspecified" many unspecified: Vec<Unspecified>,
    }

    /// How the price was set: DRG or patient-specific pricing (ÖR44).
    pub struct Categorization {
        "productCategory" opt product_category: Option<String>,
        "priceList" opt price_list: Option<String>,
        "DRGCost" opt drg_cost: Option<DrgCost>,
        "patientSpecificCare" many patient_specific_care: Vec<PatientSpecificCare>,
    }

    /// A DRG-priced stay (ÖR27, ÖR42, ÖR45).
    pub struct DrgCost {
        /// Only `originalText` is set (ÖR42).
        "DRGCode" opt drg_code: Option<CV>,
        "DRGPrice" opt drg_price: Option<Amount>,
        "extendedAllowanceCareTime" opt extended_allowance_care_time: Option<Amount>,
        "extendedAllowanceCost" opt extended_allowance_cost: Option<Amount>,
    }

    /// One patient-specific price item (ÖR26, ÖR47).
    pub struct PatientSpecificCare {
        "patientSpecificCareCode" opt patient_specific_care_code: Option<String>,
        "patientSpecificCareCodeName" opt patient_specific_care_code_name: Option<String>,
        /// xs:integer.
        "numberOfPatientSpecificCare" opt number_of_patient_specific_care: Option<String>,
        "patientSpecificCarePrice" opt patient_specific_care_price: Option<Amount>,
        "patientSpecificCareTotalAmount" opt patient_specific_care_total_amount: Option<Amount>,
        "unspecified" many unspecified: Vec<Unspecified>,
    }

    /// What this line costs and how that was reached (ÖR5, ÖR6/ÖR28, ÖR27).
    pub struct InvoicedAmountDetails {
        "patientCareInvoiceGrossAmount" one patient_care_invoice_gross_amount: Amount,
        "patientCareInvoiceNetAmount" one patient_care_invoice_net_amount: Amount,
        "patientCareAllowance" opt patient_care_allowance: Option<Amount>,
        "patientCareDiscount" opt patient_care_discount: Option<Amount>,
        "patientCareCharge" opt patient_care_charge: Option<Amount>,
        "outPatientCareFee" opt out_patient_care_fee: Option<Amount>,
        "outPatientCareFeePaid" opt out_patient_care_fee_paid: Option<Amount>,
        /// 03 reveals counselling/contraception: sensitive for the policy part.
        "patientFeeReducedCategory" opt patient_fee_reduced_category: Option<String>,
        /// xs:boolean.
        "patientFreePassCauseIndicator" opt patient_free_pass_cause_indicator: Option<String>,
        "inpatientCareFee" opt inpatient_care_fee: Option<Amount>,
        "unspecified" many unspecified: Vec<Unspecified>,
    }

    /// The medical field and level of care.
    pub struct Activity {
        /// 3 digits; 9xx is psychiatry (ÖR33, ÖR49).
        "medicalFieldCode" one medical_field_code: String,
        "businessClassification" opt business_classification: Option<CV>,
        "careLevel" opt care_level: Option<String>,
        "unspecified" many unspecified: Vec<Unspecified>,
    }

    /// Diagnoses, inpatient and/or outpatient (never for psychiatry, ÖR33).
    pub struct Diagnosis {
        "inpatientCareDiagnosis" opt inpatient_care_diagnosis: Option<CareDiagnosis>,
        "outpatientCareDiagnosis" opt outpatient_care_diagnosis: Option<CareDiagnosis>,
    }

    /// A main diagnosis and any secondary ones.
    pub struct CareDiagnosis {
        "mainDiagnosis" one main_diagnosis: DiagnosisEntry,
        "biDiagnosis" many bi_diagnosis: Vec<DiagnosisEntry>,
    }

    /// One diagnosis: an ICD-10-SE code.
    pub struct DiagnosisEntry {
        "diagnosisCode" one diagnosis_code: CV,
    }

    /// Procedures (KVÅ) and drugs (ATC).
    pub struct Treatment {
        "typeOfTreatment" many type_of_treatment: Vec<CV>,
        "ATC" many atc: Vec<CV>,
        "unspecified" many unspecified: Vec<Unspecified>,
    }
}
