//! Typed views of the lexical values the model keeps as strings. They return `None` for a
//! value that does not parse, so a rule can report it instead of the reader refusing the basis.

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::{Amount, HealthcareCategory, InvoicedAmountDetails, NumberOfDays, PatientSpecificCare};

/// `xs:decimal`: optional sign, digits, optional fraction; no exponent, surrounding whitespace
/// allowed (the schema collapses it).
pub fn decimal(s: &str) -> Option<Decimal> {
    let t = s.trim();
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits(int) || !digits(frac) {
        return None;
    }
    let normal = t.strip_prefix('+').unwrap_or(t);
    normal.parse::<Decimal>().ok()
}

/// `xs:boolean`: `true`, `false`, `1`, `0`.
pub fn boolean(s: &str) -> Option<bool> {
    match s.trim() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

/// `xs:integer` (and positiveInteger's lexical space, sign allowed), as i64.
pub fn integer(s: &str) -> Option<i64> {
    let t = s.trim();
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.strip_prefix('+').unwrap_or(t).parse().ok()
}

/// The contract's `DateType`: exactly `YYYYMMDD`, years 19xx or 20xx, a real calendar date.
pub fn date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    if b.len() != 8
        || !b.iter().all(u8::is_ascii_digit)
        || !(s.starts_with("19") || s.starts_with("20"))
    {
        return None;
    }
    let y = s[0..4].parse().ok()?;
    let m = s[4..6].parse().ok()?;
    let d = s[6..8].parse().ok()?;
    NaiveDate::from_ymd_opt(y, m, d)
}

/// The contract's `TimeType`: exactly `hhmmss`, returned as seconds since midnight.
pub fn time(s: &str) -> Option<u32> {
    let b = s.as_bytes();
    if b.len() != 6 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let h: u32 = s[0..2].parse().ok()?;
    let m: u32 = s[2..4].parse().ok()?;
    let sec: u32 = s[4..6].parse().ok()?;
    (h < 24 && m < 60 && sec < 60).then_some(h * 3600 + m * 60 + sec)
}

impl Amount {
    /// The amount as a decimal, for the amount rules (ÖR5, ÖR6, ÖR26–ÖR28), which compare exactly.
    pub fn value(&self) -> Option<Decimal> {
        decimal(&self.amount)
    }

    /// A SEK amount as written by this project (two decimals, currency SEK/1.0.4217).
    pub fn sek(value: Decimal) -> Amount {
        Amount {
            amount: format!("{:.2}", value),
            currency: super::CV {
                code: Some("SEK".into()),
                code_system: Some("1.0.4217".into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }
}

impl HealthcareCategory {
    pub fn planned_healthcare_value(&self) -> Option<bool> {
        boolean(&self.planned_healthcare)
    }

    pub fn public_care_value(&self) -> Option<bool> {
        self.public_care.as_deref().and_then(boolean)
    }

    /// Inpatient care (typeOfCare 02) carries extra requirements (ÖR11, ÖR31, ÖR51).
    pub fn is_inpatient(&self) -> bool {
        self.type_of_care.code.as_deref().map(str::trim) == Some("02")
    }
}

impl InvoicedAmountDetails {
    pub fn patient_free_pass_cause_indicator_value(&self) -> Option<bool> {
        self.patient_free_pass_cause_indicator
            .as_deref()
            .and_then(boolean)
    }
}

impl PatientSpecificCare {
    pub fn number_value(&self) -> Option<i64> {
        self.number_of_patient_specific_care
            .as_deref()
            .and_then(integer)
    }
}

impl NumberOfDays {
    pub fn in_care_value(&self) -> Option<i64> {
        self.in_care.as_deref().and_then(integer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_follow_xs_decimal() {
        assert_eq!(decimal("12.50"), Some(Decimal::new(1250, 2)));
        assert_eq!(decimal(" -3 "), Some(Decimal::new(-3, 0)));
        assert_eq!(decimal("+.5"), Some(Decimal::new(5, 1)));
        assert_eq!(decimal("1e5"), None);
        assert_eq!(decimal("."), None);
        assert_eq!(decimal(""), None);
        assert_eq!(decimal("1,5"), None);
    }

    #[test]
    fn dates_follow_date_type() {
        assert_eq!(date("20240229"), NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(date("20230229"), None);
        assert_eq!(date("2024-02-01"), None);
        assert_eq!(date("18991231"), None);
        assert_eq!(time("235959"), Some(86399));
        assert_eq!(time("240000"), None);
    }

    #[test]
    fn booleans_and_integers() {
        assert_eq!(boolean("1"), Some(true));
        assert_eq!(boolean("false"), Some(false));
        assert_eq!(boolean("yes"), None);
        assert_eq!(integer("007"), Some(7));
        assert_eq!(integer("1.0"), None);
    }
}
