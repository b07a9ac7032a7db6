//! How the contract's values read to a person: dates with hyphens, amounts in kronor, and codes
//! with their meaning where the contract's code lists give one (`claim-specification.md`).

use rust_decimal::Decimal;

use super::html::Lang;

/// `YYYYMMDD` → `YYYY-MM-DD`; anything else as it is.
pub(super) fn date(d: &str) -> String {
    let d = d.trim();
    if d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}", &d[..4], &d[4..6], &d[6..])
    } else {
        d.to_string()
    }
}

/// `hhmmss` → `hh:mm`.
pub(super) fn time(t: &str) -> String {
    let t = t.trim();
    if t.len() >= 4 && t.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}:{}", &t[..2], &t[2..4])
    } else {
        t.to_string()
    }
}

/// An RFC 3339 UTC instant as `YYYY-MM-DD hh:mm` Swedish time.
pub(super) fn instant(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => t
            .with_timezone(&chrono_tz::Europe::Stockholm)
            .format("%Y-%m-%d %H:%M")
            .to_string(),
        Err(_) => rfc3339.to_string(),
    }
}

/// An amount as written in the basis, in kronor: `1 234,50 kr` / `SEK 1,234.50`. A value that
/// is not a decimal is shown as written.
pub(super) fn amount(lang: Lang, a: &str) -> String {
    match crate::claim::lexical::decimal(a) {
        Some(d) => money(lang, d),
        None => a.trim().to_string(),
    }
}

pub(super) fn money(lang: Lang, d: Decimal) -> String {
    let s = format!("{:.2}", d.round_dp(2).abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    let (group, point) = match lang {
        Lang::Sv => ('\u{a0}', ','),
        Lang::En => (',', '.'),
    };
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(group);
        }
        grouped.push(c);
    }
    let sign = if d.is_sign_negative() && !d.is_zero() {
        "−"
    } else {
        ""
    };
    match lang {
        Lang::Sv => format!("{sign}{grouped}{point}{frac}\u{a0}kr"),
        Lang::En => format!("{sign}SEK\u{a0}{grouped}{point}{frac}"),
    }
}

/// A personnummer (12 digits) as `YYYYMMDD-NNNN`; other identities as they are.
pub(super) fn person(id: &str) -> String {
    let id = id.trim();
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}", &id[..8], &id[8..])
    } else {
        id.to_string()
    }
}

/// The meaning of a code in one of the contract's code lists, or `None` when the list does not
/// give one (the code is then shown alone).
pub(super) fn meaning(lang: Lang, list: CodeList, code: &str) -> Option<&'static str> {
    let code = code.trim();
    let t = |sv, en| Some(lang.t(sv, en));
    match (list, code) {
        (CodeList::TypeOfInvoice, "380") => t("Faktura", "Invoice"),
        (CodeList::TypeOfInvoice, "381") => t("Kreditfaktura", "Credit note"),
        (CodeList::TypeOfCare, "01") => t("Öppenvård", "Outpatient care"),
        (CodeList::TypeOfCare, "02") => t("Slutenvård", "Inpatient care"),
        (CodeList::Gender, "0") => t("Okänt", "Unknown"),
        (CodeList::Gender, "1") => t("Man", "Man"),
        (CodeList::Gender, "2") => t("Kvinna", "Woman"),
        (CodeList::Gender, "9") => t("Ej tillämpligt", "Undetermined"),
        (CodeList::TypeOfVisit, "1") => t("Nybesök", "New visit"),
        (CodeList::TypeOfVisit, "2") => t("Återbesök", "Return visit"),
        (CodeList::TypeOfAgreement, "1") => t("Riksavtalet", "The national agreement"),
        (CodeList::TypeOfAgreement, "2") => t("Regionalt avtal", "Regional agreement"),
        (CodeList::TypeOfAgreement, "3") => t("Avtal mellan regioner", "Inter-county agreement"),
        (CodeList::TypeOfChapter, "1") => t("Hemregionens initiativ", "Home region's initiative"),
        (CodeList::TypeOfChapter, "2") => t("Vårdgaranti", "Care guarantee"),
        (CodeList::TypeOfChapter, "3") => t("Akut vård", "Emergency care"),
        (CodeList::TypeOfChapter, "4") => t("Patientens val", "Patient's choice"),
        (CodeList::TypeOfChapter, "5") => t("Medicinsk service", "Medical service"),
        (CodeList::TypeOfChapter, "6") => t("Hjälpmedel", "Aids"),
        (CodeList::TypeOfChapter, "7") => t("Sjukresor", "Transport"),
        (CodeList::TypeOfReimbursement, "1") => t("Riksavtalets regler", "The agreement's rules"),
        (CodeList::TypeOfReimbursement, "2") => {
            t("Hemregionens eget avtal", "The home region's own contract")
        }
        (CodeList::CareLevel, "1") => t("Primärvård", "Primary care"),
        (CodeList::CareLevel, "2") => t("Länssjukvård", "County care"),
        (CodeList::CareLevel, "3") => t("Regionsjukvård", "Regional care"),
        (CodeList::CareLevel, "4") => t(
            "Nationell högspecialiserad vård",
            "National highly specialised care",
        ),
        (CodeList::County, c) => crate::claim::regions::region(c)
            .filter(|r| r.county == c)
            .map(|r| r.name),
        _ => None,
    }
}

/// The code lists [`meaning`] knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CodeList {
    TypeOfInvoice,
    TypeOfCare,
    Gender,
    TypeOfVisit,
    TypeOfAgreement,
    TypeOfChapter,
    TypeOfReimbursement,
    CareLevel,
    County,
}

/// `code (meaning)`, or the code alone.
pub(super) fn coded(lang: Lang, list: CodeList, code: &str) -> String {
    match meaning(lang, list, code) {
        Some(m) => format!("{} ({m})", code.trim()),
        None => code.trim().to_string(),
    }
}

/// `xs:boolean` as yes / no.
pub(super) fn yes_no(lang: Lang, b: &str) -> String {
    match crate::claim::lexical::boolean(b) {
        Some(true) => lang.t("Ja", "Yes").to_string(),
        Some(false) => lang.t("Nej", "No").to_string(),
        None => b.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_people_write_them() {
        assert_eq!(date("20261203"), "2026-12-03");
        assert_eq!(date("2026-12"), "2026-12");
        assert_eq!(time("134500"), "13:45");
        assert_eq!(
            amount(Lang::Sv, "1234567.5"),
            "1\u{a0}234\u{a0}567,50\u{a0}kr"
        );
        assert_eq!(amount(Lang::En, "-812"), "−SEK\u{a0}812.00");
        assert_eq!(amount(Lang::Sv, "12x"), "12x");
        assert_eq!(person("196107044170"), "19610704-4170");
        assert_eq!(
            coded(Lang::En, CodeList::TypeOfCare, "02"),
            "02 (Inpatient care)"
        );
        assert_eq!(
            coded(Lang::Sv, CodeList::County, "13"),
            "13 (Region Halland)"
        );
        assert_eq!(coded(Lang::Sv, CodeList::Gender, "7"), "7");
        assert_eq!(instant("2026-12-03T08:00:00Z"), "2026-12-03 09:00");
    }
}
