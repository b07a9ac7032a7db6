//! Every rule that adds up money: ÖR5 (payable amount = Σ net, 1 krona tolerance), ÖR28
//! (net from gross on every line; the contract's table also calls it ÖR6 where no charge is
//! given, and the official Schematron reports it as R28 throughout, so the project does too),
//! ÖR26 (patient-specific total = count × price), ÖR27 (gross from the price parts, on every
//! line) and ÖR35 (every currency SEK, code system 1.0.4217; with ÖR39 when a currency lacks
//! code or codeSystem).
//!
//! Amounts are `rust_decimal::Decimal`, compared exactly unless the rule names a tolerance.
//! Under the official Schematron's profile they are what that file makes of them: floating
//! point numbers, summed and rounded to two decimals before comparing ([`sums_to`]).
//! An amount that is not a decimal is the XSD's finding; a sum that needs it is then skipped.
//! Messages give both values so a clerk can see the difference.

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use super::line::cv_code_and_system;
use super::{At, Findings};
use crate::claim::{
    Amount, Categorization, ClaimSpecification, DrgCost, HealthcarePerformed, InvoicedAmountDetails,
};

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
    let off = if out.official() {
        // Rounded sides, an unrounded difference: 1.00 apart can come out as 1.0000000000000002.
        let net_sum: f64 = nets(c).map(float).sum();
        (round2(float(payable)) - round2(net_sum)).abs() > 1.0
    } else {
        diff.abs() > payable_tolerance()
    };
    if off {
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

    let gross = d.patient_care_invoice_gross_amount.value();
    net_from_gross(d, gross, &at_d, out);
    let cat = hp.categorization.as_ref();
    let psc_sum = match cat {
        Some(cat) => patient_specific(cat, &at.at("categorization"), out),
        None => Some(Decimal::ZERO),
    };
    gross_from_parts(hp, gross, psc_sum, at, out);
}

/// The net amounts of every line, in document order (stops at one that is not a decimal).
fn nets(c: &ClaimSpecification) -> impl Iterator<Item = Decimal> + '_ {
    c.health_care_services_specification_line
        .iter()
        .flat_map(|l| &l.healthcare_performed)
        .map_while(|hp| {
            hp.invoiced_amount_details
                .patient_care_invoice_net_amount
                .value()
        })
}

fn float(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(f64::NAN)
}

/// XPath's `round($x * 100) div 100`: half rounds up.
fn round2(x: f64) -> f64 {
    (x * 100.0 + 0.5).floor() / 100.0
}

/// Whether `value` equals the signed sum of `parts`, and that sum (exact, for the message):
/// exactly under the contract; under the official Schematron as that file computes it, in
/// floating point with both sides rounded to two decimals (so three-decimal amounts compare
/// after rounding). `None` when the exact sum overflows (no amount is that large).
fn sums_to(out: &Findings, value: Decimal, parts: &[(bool, Decimal)]) -> Option<(bool, Decimal)> {
    let mut exact = Decimal::ZERO;
    let mut approx = 0.0f64;
    for &(plus, p) in parts {
        exact = if plus {
            exact.checked_add(p)?
        } else {
            exact.checked_sub(p)?
        };
        approx += if plus { float(p) } else { -float(p) };
    }
    let equal = if out.official() {
        round2(float(value)) == round2(approx)
    } else {
        value == exact
    };
    Some((equal, exact))
}

/// ÖR28 on every line: net = gross + charge − allowance − discount. The contract's table names
/// the charge-less case ÖR6 too; the message says so.
fn net_from_gross(
    d: &InvoicedAmountDetails,
    gross: Option<Decimal>,
    at_d: &At,
    out: &mut Findings,
) {
    let (Some(gross), Some(net), Some(charge), Some(allowance), Some(discount)) = (
        gross,
        d.patient_care_invoice_net_amount.value(),
        opt_value(&d.patient_care_charge),
        opt_value(&d.patient_care_allowance),
        opt_value(&d.patient_care_discount),
    ) else {
        return;
    };
    let parts = [
        (true, gross),
        (true, charge),
        (false, allowance),
        (false, discount),
    ];
    let Some((false, expected)) = sums_to(out, net, &parts) else {
        return;
    };
    let formula = if d.patient_care_charge.is_some() {
        format!(
            "gross {} + charge {} − allowance {} − discount {}",
            kr(gross),
            kr(charge),
            kr(allowance),
            kr(discount)
        )
    } else {
        format!(
            "gross {} − allowance {} − discount {} (ÖR6 in the contract's table)",
            kr(gross),
            kr(allowance),
            kr(discount)
        )
    };
    out.add(
        "ÖR28",
        &at_d.at("patientCareInvoiceNetAmount").at("amount"),
        format!(
            "net amount {} does not equal {formula} = {}",
            kr(net),
            kr(expected)
        ),
    );
}

/// ÖR35 on the categorization's amounts and ÖR26 per patient-specific item; returns the sum of
/// their totals for ÖR27 (`None` when one is not a decimal).
fn patient_specific(cat: &Categorization, at_c: &At, out: &mut Findings) -> Option<Decimal> {
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
            count_times_price(total, n, price, &at_s, out);
        }
    }
    psc_sum
}

/// ÖR26: total = count × price.
fn count_times_price(total: Decimal, n: Decimal, price: Decimal, at_s: &At, out: &mut Findings) {
    let at_total = at_s.at("patientSpecificCareTotalAmount");
    let at_t = at_total.at("amount");
    match price.checked_mul(n) {
        Some(expected) => {
            let equal = if out.official() {
                round2(float(total)) == round2(float(price) * float(n))
            } else {
                total == expected
            };
            if !equal {
                out.add(
                    "ÖR26",
                    &at_t,
                    format!(
                        "total {} does not equal count {n} × price {} = {}",
                        kr(total),
                        kr(price),
                        kr(expected)
                    ),
                );
            }
        }
        // No amount can be that large: a count or price tampered with to get past this rule
        // must not make it skip the check.
        None => out.add(
            "ÖR26",
            &at_t,
            format!(
                "total {} cannot equal count {n} × price {}: the product is beyond any amount",
                kr(total),
                kr(price)
            ),
        ),
    }
}

/// ÖR27 on every line, with or without a categorization (as the official file checks it):
/// gross = DRGPrice + extendedAllowanceCareTime + extendedAllowanceCost
///         + Σ patientSpecificCareTotalAmount − outPatientCareFeePaid.
#[expect(
    clippy::too_many_lines,
    reason = "one term of the gross formula after the other, each with its own finding"
)]
fn gross_from_parts(
    hp: &HealthcarePerformed,
    gross: Option<Decimal>,
    psc_sum: Option<Decimal>,
    at: &At,
    out: &mut Findings,
) {
    let d = &hp.invoiced_amount_details;
    let drg = hp.categorization.as_ref().and_then(|c| c.drg_cost.as_ref());
    if let Some(drg) = drg {
        let at_c = at.at("categorization");
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
    }
    let part =
        |f: fn(&DrgCost) -> &Option<Amount>| drg.map_or(Some(Decimal::ZERO), |g| opt_value(f(g)));
    let (Some(gross), Some(drg_price), Some(care_time), Some(cost), Some(psc_sum), Some(paid)) = (
        gross,
        part(|g| &g.drg_price),
        part(|g| &g.extended_allowance_care_time),
        part(|g| &g.extended_allowance_cost),
        psc_sum,
        opt_value(&d.out_patient_care_fee_paid),
    ) else {
        return;
    };
    let parts = [
        (true, drg_price),
        (true, care_time),
        (true, cost),
        (true, psc_sum),
        (false, paid),
    ];
    let Some((false, expected)) = sums_to(out, gross, &parts) else {
        return;
    };
    // Name only the parts the line has, so the sum reads like the document.
    let has = |f: fn(&DrgCost) -> &Option<Amount>| drg.is_some_and(|g| f(g).is_some());
    let psc_present = hp
        .categorization
        .as_ref()
        .is_some_and(|c| !c.patient_specific_care.is_empty());
    let mut terms: Vec<String> = [
        ("DRG price", drg_price, has(|g| &g.drg_price)),
        (
            "extended allowance for care time",
            care_time,
            has(|g| &g.extended_allowance_care_time),
        ),
        (
            "extended allowance for cost",
            cost,
            has(|g| &g.extended_allowance_cost),
        ),
        ("patient-specific totals", psc_sum, psc_present),
    ]
    .into_iter()
    .filter(|t| t.2)
    .map(|(label, value, _)| format!("{label} {}", kr(value)))
    .collect();
    if terms.is_empty() {
        terms.push(kr(Decimal::ZERO));
    }
    let mut parts_text = terms.join(" + ");
    if d.out_patient_care_fee_paid.is_some() {
        parts_text.push_str(&format!(" − patient fee paid {}", kr(paid)));
    }
    out.add(
        "ÖR27",
        &at.at("invoicedAmountDetails")
            .at("patientCareInvoiceGrossAmount")
            .at("amount"),
        format!(
            "gross amount {} does not equal {parts_text} = {}",
            kr(gross),
            kr(expected)
        ),
    );
}

/// ÖR35: the currency is SEK with code system 1.0.4217 (and ÖR39 when code or codeSystem is
/// missing altogether).
fn currency(a: &Amount, at: &At, out: &mut Findings) {
    let at_c = at.at("currency");
    let c = &a.currency;
    cv_code_and_system(c, &at_c, "currency", out);
    let code = out.oval(&c.code);
    let system = out.oval(&c.code_system);
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
