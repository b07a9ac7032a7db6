//! Every rule that adds up money: ÖR5 (payable amount = Σ net, 1 krona tolerance), ÖR6/ÖR28
//! (net from gross), ÖR26 (patient-specific total = count × price), ÖR27 (gross from the
//! price parts) and ÖR35 (every currency SEK, code system 1.0.4217; with ÖR39 when a
//! currency lacks code or codeSystem).
//!
//! Amounts are `rust_decimal::Decimal`, compared exactly unless the rule names a tolerance.
//! An amount that is not a decimal is the XSD's finding; a sum that needs it is then skipped.
//! Messages give both values so a clerk can see the difference.

use rust_decimal::Decimal;

use super::line::cv_code_and_system;
use super::{At, Findings};
use crate::claim::{Amount, ClaimSpecification, HealthcarePerformed};

const SEK: &str = "SEK";
const CURRENCY_OID: &str = "1.0.4217";

/// ÖR5 allows the payable amount to differ from the lines' sum by at most this (rounding of
/// the invoice total to whole kronor).
pub(crate) fn payable_tolerance() -> Decimal {
    Decimal::ONE
}

/// An amount for a message: at least two decimals (as amounts are written), never rounded.
fn kr(d: Decimal) -> String {
    if d.scale() < 2 {
        format!("{d:.2} SEK")
    } else {
        format!("{d} SEK")
    }
}

/// An optional amount: `Some(0)` when absent, `None` when present but not a decimal.
fn opt_value(a: &Option<Amount>) -> Option<Decimal> {
    match a {
        None => Some(Decimal::ZERO),
        Some(a) => a.value(),
    }
}

/// ÖR5 and ÖR35 for the payable amount.
pub(super) fn check_payable(c: &ClaimSpecification, out: &mut Findings) {
    let root = At::ROOT;
    let at_p = root.at("payableAmount");
    currency(&c.payable_amount, &at_p, out);
    let Some(payable) = c.payable_amount.value() else {
        return;
    };
    let mut sum = Decimal::ZERO;
    for l in &c.health_care_services_specification_line {
        for hp in &l.healthcare_performed {
            match hp
                .invoiced_amount_details
                .patient_care_invoice_net_amount
                .value()
                .and_then(|net| sum.checked_add(net))
            {
                Some(s) => sum = s,
                None => return,
            }
        }
    }
    let Some(diff) = payable.checked_sub(sum) else {
        return;
    };
    if diff.abs() > payable_tolerance() {
        out.add(
            "ÖR5",
            &at_p.at("amount"),
            format!(
                "payable amount {} differs from the sum of all lines' net amounts ({}) by {}; \
                 at most 1 SEK difference is allowed",
                kr(payable),
                kr(sum),
                kr(diff.abs())
            ),
        );
    }
}

/// numberOfPatientSpecificCare as a decimal: the schema's `xs:integer` takes counts far beyond
/// an `i64`, and ÖR26 must be checked for those too. `None` when it is absent or no integer
/// (the XSD's finding).
fn count(psc: &crate::claim::PatientSpecificCare) -> Option<Decimal> {
    if let Some(n) = psc.number_value() {
        return Some(Decimal::from(n));
    }
    let raw = psc.number_of_patient_specific_care.as_deref()?.trim();
    let digits = raw.strip_prefix(['+', '-']).unwrap_or(raw);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    crate::claim::lexical::decimal(raw)
}

/// ÖR6/ÖR28, ÖR26, ÖR27 and ÖR35 for one healthcarePerformed.
pub(super) fn check_line(hp: &HealthcarePerformed, at: &At, out: &mut Findings) {
    let d = &hp.invoiced_amount_details;
    let at_d = at.at("invoicedAmountDetails");

    // ÖR35 on every amount of the line.
    currency(
        &d.patient_care_invoice_gross_amount,
        &at_d.at("patientCareInvoiceGrossAmount"),
        out,
    );
    currency(
        &d.patient_care_invoice_net_amount,
        &at_d.at("patientCareInvoiceNetAmount"),
        out,
    );
    for (name, a) in [
        ("patientCareAllowance", &d.patient_care_allowance),
        ("patientCareDiscount", &d.patient_care_discount),
        ("patientCareCharge", &d.patient_care_charge),
        ("outPatientCareFee", &d.out_patient_care_fee),
        ("outPatientCareFeePaid", &d.out_patient_care_fee_paid),
        ("inpatientCareFee", &d.inpatient_care_fee),
    ] {
        if let Some(a) = a {
            currency(a, &at_d.at(name), out);
        }
    }

    // ÖR6 / ÖR28: net = gross + charge − allowance − discount (ÖR28 when a charge is given).
    let gross = d.patient_care_invoice_gross_amount.value();
    let net = d.patient_care_invoice_net_amount.value();
    if let (Some(gross), Some(net), Some(charge), Some(allowance), Some(discount)) = (
        gross,
        net,
        opt_value(&d.patient_care_charge),
        opt_value(&d.patient_care_allowance),
        opt_value(&d.patient_care_discount),
    ) {
        if let Some(expected) = gross
            .checked_add(charge)
            .and_then(|x| x.checked_sub(allowance))
            .and_then(|x| x.checked_sub(discount))
        {
            if net != expected {
                let (rule, formula) = if d.patient_care_charge.is_some() {
                    (
                        "ÖR28",
                        format!(
                            "gross {} + charge {} − allowance {} − discount {}",
                            kr(gross),
                            kr(charge),
                            kr(allowance),
                            kr(discount)
                        ),
                    )
                } else {
                    (
                        "ÖR6",
                        format!(
                            "gross {} − allowance {} − discount {}",
                            kr(gross),
                            kr(allowance),
                            kr(discount)
                        ),
                    )
                };
                out.add(
                    rule,
                    &at_d.at("patientCareInvoiceNetAmount").at("amount"),
                    format!(
                        "net amount {} does not equal {formula} = {}",
                        kr(net),
                        kr(expected)
                    ),
                );
            }
        }
    }

    let Some(cat) = &hp.categorization else {
        return;
    };
    let at_c = at.at("categorization");

    // ÖR26 per patient-specific item, and the sum of their totals for ÖR27.
    let mut psc_sum = Some(Decimal::ZERO);
    for (i, psc) in cat.patient_specific_care.iter().enumerate() {
        let at_s = at_c.nth("patientSpecificCare", i);
        if let Some(a) = &psc.patient_specific_care_price {
            currency(a, &at_s.at("patientSpecificCarePrice"), out);
        }
        if let Some(a) = &psc.patient_specific_care_total_amount {
            currency(a, &at_s.at("patientSpecificCareTotalAmount"), out);
        }
        let total = psc
            .patient_specific_care_total_amount
            .as_ref()
            .map(Amount::value);
        psc_sum = match (psc_sum, total) {
            (Some(s), Some(Some(t))) => s.checked_add(t),
            (Some(s), None) => Some(s),
            _ => None,
        };
        if let (Some(Some(total)), Some(n), Some(Some(price))) = (
            total,
            count(psc),
            psc.patient_specific_care_price.as_ref().map(Amount::value),
        ) {
            let at_total = at_s.at("patientSpecificCareTotalAmount");
            let at_t = at_total.at("amount");
            match price.checked_mul(n) {
                Some(expected) if total == expected => {}
                Some(expected) => out.add(
                    "ÖR26",
                    &at_t,
                    format!(
                        "total {} does not equal count {n} × price {} = {}",
                        kr(total),
                        kr(price),
                        kr(expected)
                    ),
                ),
                // No amount can be that large: a count or price tampered with to get past this
                // rule must not make it skip the check.
                None => out.add(
                    "ÖR26",
                    &at_t,
                    format!(
                        "total {} cannot equal count {n} × price {}: the product is beyond any \
                         amount",
                        kr(total),
                        kr(price)
                    ),
                ),
            }
        }
    }

    // ÖR27: gross = DRGPrice + extendedAllowanceCareTime + extendedAllowanceCost
    //               + Σ patientSpecificCareTotalAmount − outPatientCareFeePaid.
    let (drg_price, care_time, cost) = match &cat.drg_cost {
        Some(drg) => {
            let at_g = at_c.at("DRGCost");
            for (name, a) in [
                ("DRGPrice", &drg.drg_price),
                (
                    "extendedAllowanceCareTime",
                    &drg.extended_allowance_care_time,
                ),
                ("extendedAllowanceCost", &drg.extended_allowance_cost),
            ] {
                if let Some(a) = a {
                    currency(a, &at_g.at(name), out);
                }
            }
            (
                opt_value(&drg.drg_price),
                opt_value(&drg.extended_allowance_care_time),
                opt_value(&drg.extended_allowance_cost),
            )
        }
        None => (
            Some(Decimal::ZERO),
            Some(Decimal::ZERO),
            Some(Decimal::ZERO),
        ),
    };
    if let (Some(gross), Some(drg_price), Some(care_time), Some(cost), Some(psc_sum), Some(paid)) = (
        gross,
        drg_price,
        care_time,
        cost,
        psc_sum,
        opt_value(&d.out_patient_care_fee_paid),
    ) {
        let expected = drg_price
            .checked_add(care_time)
            .and_then(|x| x.checked_add(cost))
            .and_then(|x| x.checked_add(psc_sum))
            .and_then(|x| x.checked_sub(paid));
        if let Some(expected) = expected {
            if gross != expected {
                // Name only the parts the line has, so the sum reads like the document.
                let mut parts = String::new();
                let drg = cat.drg_cost.as_ref();
                for (label, value, present) in [
                    (
                        "DRG price",
                        drg_price,
                        drg.is_some_and(|g| g.drg_price.is_some()),
                    ),
                    (
                        "extended allowance for care time",
                        care_time,
                        drg.is_some_and(|g| g.extended_allowance_care_time.is_some()),
                    ),
                    (
                        "extended allowance for cost",
                        cost,
                        drg.is_some_and(|g| g.extended_allowance_cost.is_some()),
                    ),
                    (
                        "patient-specific totals",
                        psc_sum,
                        !cat.patient_specific_care.is_empty(),
                    ),
                ] {
                    if present {
                        if !parts.is_empty() {
                            parts.push_str(" + ");
                        }
                        parts.push_str(&format!("{label} {}", kr(value)));
                    }
                }
                if parts.is_empty() {
                    parts.push_str(&kr(Decimal::ZERO));
                }
                if d.out_patient_care_fee_paid.is_some() {
                    parts.push_str(&format!(" − patient fee paid {}", kr(paid)));
                }
                out.add(
                    "ÖR27",
                    &at_d.at("patientCareInvoiceGrossAmount").at("amount"),
                    format!(
                        "gross amount {} does not equal {parts} = {}",
                        kr(gross),
                        kr(expected)
                    ),
                );
            }
        }
    }
}

/// ÖR35: the currency is SEK with code system 1.0.4217 (and ÖR39 when code or codeSystem is
/// missing altogether).
fn currency(a: &Amount, at: &At, out: &mut Findings) {
    let at_c = at.at("currency");
    let c = &a.currency;
    cv_code_and_system(c, &at_c, "currency", out);
    let code = c.code.as_deref().map(str::trim);
    let system = c.code_system.as_deref().map(str::trim);
    if code != Some(SEK) || system != Some(CURRENCY_OID) {
        out.add(
            "ÖR35",
            &at_c,
            format!(
                "the currency is {} with code system {}; every amount must be in SEK, code \
                 system {CURRENCY_OID}",
                code.map_or("missing".to_owned(), |s| format!("'{s}'")),
                system.map_or("missing".to_owned(), |s| format!("'{s}'"))
            ),
        );
    }
}
