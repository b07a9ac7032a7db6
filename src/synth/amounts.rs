//! Prices and the amounts that follow from them, computed exactly with `rust_decimal` so every
//! generated line satisfies the amount rules to the öre:
//!
//! - ÖR26: patientSpecificCareTotalAmount = numberOfPatientSpecificCare × patientSpecificCarePrice
//! - ÖR27: gross = DRGPrice + extendedAllowanceCareTime + extendedAllowanceCost
//!   + Σ patientSpecificCareTotalAmount − outPatientCareFeePaid
//! - ÖR6/ÖR28: net = gross + patientCareCharge − patientCareAllowance − patientCareDiscount
//! - ÖR5 (per basis): payableAmount = Σ net (the generator is exact; the rule allows 1 krona).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use super::codes::PriceItem;
use crate::claim::{
    Amount, Categorization, DrgCost, InvoicedAmountDetails, PatientSpecificCare, CV,
};

/// Kronor and öre as an exact decimal with two places.
pub(super) fn kr(ore: i64) -> Decimal {
    Decimal::new(ore, 2)
}

/// A price drawn from a range in whole kronor, now and then with 50 öre.
pub(super) fn price(rng: &mut ChaCha8Rng, min: i64, max: i64) -> Decimal {
    let k = rng.gen_range(min..=max);
    let ore = if rng.gen_bool(0.15) { 50 } else { 0 };
    kr(k * 100 + ore)
}

/// A DRG-priced stay.
#[derive(Debug, Clone)]
pub(super) struct Drg {
    pub code: &'static str,
    pub price: Decimal,
    /// Extra for a stay longer than the DRG's trim point.
    pub extended_care_time: Option<Decimal>,
    /// Extra for an exceptionally costly stay.
    pub extended_cost: Option<Decimal>,
}

/// One patient-specific price item.
#[derive(Debug, Clone)]
pub(super) struct Item {
    pub code: &'static str,
    pub name: &'static str,
    pub count: i64,
    pub price: Decimal,
}

impl Item {
    pub(super) fn draw(rng: &mut ChaCha8Rng, item: &PriceItem, count: i64) -> Item {
        Item {
            code: item.code,
            name: item.name,
            count,
            price: price(rng, item.min, item.max),
        }
    }

    pub(super) fn total(&self) -> Decimal {
        self.price * Decimal::from(self.count)
    }
}

/// Everything that sets a line's amounts.
#[derive(Debug, Clone, Default)]
pub(super) struct Pricing {
    pub product_category: &'static str,
    pub price_list: Option<u8>,
    pub drg: Option<Drg>,
    pub items: Vec<Item>,
    /// The outpatient fee the patient owes and what was actually paid (deducted from gross).
    pub fee: Option<Decimal>,
    pub fee_paid: Option<Decimal>,
    pub allowance: Option<Decimal>,
    pub discount: Option<Decimal>,
    pub charge: Option<Decimal>,
    pub reduced_category: Option<&'static str>,
    pub free_pass: Option<bool>,
    pub inpatient_fee: Option<Decimal>,
}

fn opt(d: Option<Decimal>) -> Decimal {
    d.unwrap_or(Decimal::ZERO)
}

impl Pricing {
    /// ÖR27.
    pub(super) fn gross(&self) -> Decimal {
        let drg = self.drg.as_ref().map_or(Decimal::ZERO, |d| {
            d.price + opt(d.extended_care_time) + opt(d.extended_cost)
        });
        let items: Decimal = self.items.iter().map(Item::total).sum();
        drg + items - opt(self.fee_paid)
    }

    /// ÖR6/ÖR28.
    pub(super) fn net(&self) -> Decimal {
        self.gross() + opt(self.charge) - opt(self.allowance) - opt(self.discount)
    }

    /// Adds, now and then, an allowance, discount or charge that stays well inside the gross.
    pub(super) fn adjustments(&mut self, rng: &mut ChaCha8Rng) {
        let gross = self.gross();
        let part = |rng: &mut ChaCha8Rng, pct: i64| {
            (gross * Decimal::new(rng.gen_range(1..=pct), 2)).round_dp(2)
        };
        if rng.gen_bool(0.08) {
            self.allowance = Some(part(rng, 10));
        }
        if rng.gen_bool(0.05) {
            self.discount = Some(part(rng, 5));
        }
        if rng.gen_bool(0.05) {
            self.charge = Some(kr(rng.gen_range(1..=20) * 5000));
        }
    }

    pub(super) fn categorization(&self) -> Categorization {
        Categorization {
            product_category: Some(self.product_category.into()),
            price_list: self.price_list.map(|p| p.to_string()),
            drg_cost: self.drg.as_ref().map(|d| DrgCost {
                drg_code: Some(CV {
                    original_text: Some(d.code.into()),
                    ..CV::default()
                }),
                drg_price: Some(Amount::sek(d.price)),
                extended_allowance_care_time: d.extended_care_time.map(Amount::sek),
                extended_allowance_cost: d.extended_cost.map(Amount::sek),
                ..Default::default()
            }),
            patient_specific_care: self
                .items
                .iter()
                .map(|i| PatientSpecificCare {
                    patient_specific_care_code: Some(i.code.into()),
                    patient_specific_care_code_name: Some(i.name.into()),
                    number_of_patient_specific_care: Some(i.count.to_string()),
                    patient_specific_care_price: Some(Amount::sek(i.price)),
                    patient_specific_care_total_amount: Some(Amount::sek(i.total())),
                    unspecified: Vec::new(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    pub(super) fn details(&self) -> InvoicedAmountDetails {
        InvoicedAmountDetails {
            patient_care_invoice_gross_amount: Amount::sek(self.gross()),
            patient_care_invoice_net_amount: Amount::sek(self.net()),
            patient_care_allowance: self.allowance.map(Amount::sek),
            patient_care_discount: self.discount.map(Amount::sek),
            patient_care_charge: self.charge.map(Amount::sek),
            out_patient_care_fee: self.fee.map(Amount::sek),
            out_patient_care_fee_paid: self.fee_paid.map(Amount::sek),
            patient_fee_reduced_category: self.reduced_category.map(Into::into),
            patient_free_pass_cause_indicator: self
                .free_pass
                .map(|b| if b { "true" } else { "false" }.into()),
            inpatient_care_fee: self.inpatient_fee.map(Amount::sek),
            unspecified: Vec::new(),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn gross_and_net_follow_the_rules_exactly() {
        let p = Pricing {
            product_category: "02",
            drg: Some(Drg {
                code: "F62C",
                price: kr(4_523_050),
                extended_care_time: Some(kr(310_000)),
                extended_cost: None,
            }),
            items: vec![Item {
                code: "IVA01",
                name: "Intensivvårdsdygn",
                count: 3,
                price: kr(2_500_050),
            }],
            fee_paid: Some(kr(30_000)),
            allowance: Some(kr(33_000)),
            charge: Some(kr(10_000)),
            ..Pricing::default()
        };
        assert_eq!(p.gross(), kr(4_523_050 + 310_000 + 7_500_150 - 30_000));
        assert_eq!(p.net(), p.gross() + kr(10_000) - kr(33_000));
        let d = p.details();
        assert_eq!(d.patient_care_invoice_gross_amount.amount, "123032.00");
    }

    #[test]
    fn adjustments_keep_net_positive() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..2000 {
            let mut p = Pricing {
                items: vec![Item {
                    code: "BES01",
                    name: "x",
                    count: 1,
                    price: price(&mut rng, 600, 900),
                }],
                fee_paid: Some(kr(40_000)),
                ..Pricing::default()
            };
            p.adjustments(&mut rng);
            assert!(p.net() > Decimal::ZERO);
            assert_eq!(p.net().scale(), 2);
        }
    }
}
