//! What each rule tests, in one line: the `Test:` of an ERROR comment in the contract's form
//! and the rule column of docs/validation.md. The wording follows the contract's table
//! (`../shared/contract/claim-specification.md`), not the official file's XPath, which the
//! project does not ship.

/// The rule's test, by its number (ÖRn / Rn).
pub fn test_of(number: u8) -> Option<&'static str> {
    let t = match number {
        1 => "no empty elements",
        2 => "issueDate is not in the future",
        3 => "the supplier has an identification with root 1.3.7",
        4 => "typeOfInvoice is 380 or 381",
        5 => "payableAmount differs from the sum of patientCareInvoiceNetAmount by at most 1",
        6 | 28 => "net = gross + patientCareCharge - patientCareAllowance - patientCareDiscount",
        7 => "exactly one kind of patient id",
        8 => "county has exactly 2 characters",
        9 => "municipality has exactly 4 characters",
        10 => "gender is 0, 1, 2 or 9",
        11 => "careContactId is given for inpatient care (typeOfCare 02)",
        12 => "typeOfAgreement is 1-3",
        13 => "typeOfChapter is 1-7",
        14 => "typeOfReimbursement is 1-2",
        15 => "typeOfCare is 01 or 02",
        16 => "typeOfVisit is 1 or 2",
        17 => "careVisitDate is not later than issueDate",
        18 => "careDischargeDate is not earlier than careVisitDate",
        19 => "invoicePeriod has start and end",
        20 => "invoicePeriod is not later than issueDate",
        21 => "invoicePeriod end is not before its start",
        22 => "professionCodeForHealthcare is in the contract's list",
        23 => "professionCodeForHealthcare is given for outpatient care (typeOfCare 01)",
        24 => "productCategory is 01, 02, 03, 04 or 99",
        25 => "priceList is 1-6",
        26 => "patientSpecificCareTotalAmount = numberOfPatientSpecificCare * patientSpecificCarePrice",
        27 => "gross = DRGPrice + extendedAllowanceCareTime + extendedAllowanceCost + sum(patientSpecificCareTotalAmount) - outPatientCareFeePaid",
        29 => "patientFeeReducedCategory is 01-05 or 99",
        30 => "careLevel is 1-4",
        31 => "inpatient care has an inpatient main diagnosis unless invoicePeriod is given",
        33 => "no diagnosis or treatment when medicalFieldCode starts with 9",
        34 => "listingLocalAuthoritiesNumber has the HSA-id root",
        35 => "every currency is SEK with codeSystem 1.0.4217",
        36 => "reasonForCredit is 1-9",
        37 => "id starts with ZVF and has 23 characters",
        38 => "careDischargeDate is not later than issueDate",
        39 => "every coded value has code and codeSystem",
        40 => "county code and code system are valid",
        41 => "municipality code and code system are valid",
        42 => "DRGCode has originalText and nothing else",
        43 => "lineId values are unique and ascending",
        44 => "categorization has a patientSpecificCare or a DRGCost",
        45 => "a DRGCost has DRGPrice and DRGCode",
        46 => "the customer has an identification with root 1.3.7",
        47 => "a patientSpecificCare has code, code name, price and count",
        48 => "an organisation number has 10 characters, a GLN (2.51.1.6) 13",
        49 => "medicalFieldCode is in the register of medical field codes",
        50 => "agreementInRiksavtalet is 3.1, 3.2, 4.1, 4.3 or 4.4",
        51 => "inCare is given for inpatient care",
        52 => "referenceToProcessClaimSpecificationId is given on a credit note (381)",
        _ => return None,
    };
    Some(t)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_rule_but_the_retired_one_has_a_test() {
        for n in 1..=52u8 {
            assert_eq!(super::test_of(n).is_some(), n != 32, "R{n}");
        }
    }
}
