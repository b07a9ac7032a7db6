//! Swedish identifier checks the contract's rules leave out: personnummer, samordningsnummer,
//! HSA-id and organisation number. They are pure functions over the identifier's text because
//! three parts need them: the validator (reported as `ID-PERSONNUMMER`, `ID-SAMORDNINGSNUMMER`,
//! `ID-HSA`, `ID-ORGNR`), the policy engine (which kind of patient id, birth date for age
//! bands) and the generator (making ids that pass).
//!
//! Nothing here formats an identifier into a message: [`IdProblem`] says what is wrong without
//! repeating the value, because patient identifiers must never reach logs or reports.

use chrono::NaiveDate;

/// Personnummer (Skatteverket): 12 digits `YYYYMMDDNNNC`.
pub const PERSONNUMMER_OID: &str = "1.2.752.129.2.1.3.1";
/// Samordningsnummer (Skatteverket): 12 digits, day of birth + 60.
pub const SAMORDNINGSNUMMER_OID: &str = "1.2.752.129.2.1.3.3";
/// HSA-id (the national directory of health-care units and staff).
pub const HSA_OID: &str = "1.2.752.129.2.1.4.1";
/// Swedish organisation number (10 digits, Luhn check digit).
pub const ORG_NUMBER_OID: &str = crate::claim::ORG_NUMBER_OID;
/// GLN, Global Location Number (13 digits).
pub const GLN_OID: &str = "2.51.1.6";

/// OIDs of code systems and identifiers in the contract that are certainly not a region's
/// reservnummer series: a patient identity under one of them is a mistake (ÖR7).
const NOT_PATIENT_ID_OIDS: &[&str] = &[
    ORG_NUMBER_OID,
    GLN_OID,
    HSA_OID,
    "1.2.752.129.2.2.1.18",  // county
    "1.2.752.129.2.2.1.17",  // municipality
    "1.2.752.129.2.2.1.1",   // gender
    "1.2.752.29.4.16",       // type of care
    "1.2.752.129.2.2.1.3",   // business classification
    "1.2.752.116.1.1.1.1.3", // ICD-10-SE
    "1.2.752.116.1.3.2.1.4", // KVÅ
    "1.2.752.129.2.2.3.1.1", // ATC
    "1.0.4217",              // currency
];

/// What is wrong with an identifier, in words that never repeat it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdProblem {
    /// Not the number of characters the identifier always has.
    Length { expected: usize, found: usize },
    /// A character that is not a digit where only digits belong.
    NotDigits,
    /// The digits do not form a real calendar date (for a samordningsnummer: after taking 60
    /// from the day).
    Date,
    /// A birth date after the date of checking.
    FutureDate,
    /// The last digit does not match the Luhn check digit of the others.
    CheckDigit,
    /// Not the shape the identifier has (HSA-id: `SE` + organisation number + `-` + letters
    /// and digits).
    Form,
}

impl std::fmt::Display for IdProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdProblem::Length { expected, found } => {
                write!(f, "has {found} characters, expected {expected}")
            }
            IdProblem::NotDigits => write!(f, "contains characters other than digits"),
            IdProblem::Date => write!(f, "does not contain a valid date of birth"),
            IdProblem::FutureDate => write!(f, "has a date of birth in the future"),
            IdProblem::CheckDigit => write!(f, "has a wrong check digit"),
            IdProblem::Form => write!(
                f,
                "is not of the form SE + 10-digit organisation number + '-' + letters/digits \
                 (e.g. SE2321000016-ABC1), at most 31 characters"
            ),
        }
    }
}

/// Which kind of patient identity an `IIType` root names (ÖR7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PatientIdKind {
    /// Swedish personal identity number.
    Personnummer,
    /// Coordination number for people not (yet) registered in Sweden.
    Samordningsnummer,
    /// A region's own reserve number, for patients without either: the region's own OID or
    /// its organisation number as root, format chosen by the region.
    Reservnummer,
}

impl PatientIdKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PatientIdKind::Personnummer => "personnummer",
            PatientIdKind::Samordningsnummer => "samordningsnummer",
            PatientIdKind::Reservnummer => "reservnummer",
        }
    }
}

/// The kind of patient id a `patientIdentity/root` names: the personnummer and
/// samordningsnummer OIDs, or a reservnummer series (any other well-formed OID that is not one
/// of the contract's own code systems, or a 10-digit organisation number). `None` when the
/// root is none of these (ÖR7).
pub fn kind_of_patient_id(root: &str) -> Option<PatientIdKind> {
    let root = root.trim();
    if root == PERSONNUMMER_OID {
        return Some(PatientIdKind::Personnummer);
    }
    if root == SAMORDNINGSNUMMER_OID {
        return Some(PatientIdKind::Samordningsnummer);
    }
    if NOT_PATIENT_ID_OIDS.contains(&root) {
        return None;
    }
    if is_oid(root) || (root.len() == 10 && all_digits(root)) {
        return Some(PatientIdKind::Reservnummer);
    }
    None
}

/// Whether `s` is a dotted-decimal OID: at least two arcs, the first 0, 1 or 2, no leading
/// zeros.
pub fn is_oid(s: &str) -> bool {
    let mut arcs = 0;
    for (i, arc) in s.split('.').enumerate() {
        if arc.is_empty() || !all_digits(arc) || (arc.len() > 1 && arc.starts_with('0')) {
            return false;
        }
        if i == 0 && !matches!(arc, "0" | "1" | "2") {
            return false;
        }
        arcs += 1;
    }
    arcs >= 2
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The Luhn (mod 10) check Swedish personnummer, samordningsnummer and organisation numbers
/// use: weights 2, 1, 2, 1, … from the left over the 10 digits, digit sums added, total
/// divisible by 10. `false` for anything that is not all ASCII digits.
pub fn luhn_ok(digits: &str) -> bool {
    if !all_digits(digits) {
        return false;
    }
    let n = digits.len();
    let sum: u32 = digits
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            // Weight 2 on every other digit counting from the check digit's left neighbour.
            let v = if (n - 1 - i) % 2 == 1 { d * 2 } else { d };
            v / 10 + v % 10
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Checks a 12-digit personnummer or samordningsnummer; `day_offset` is 0 or 60.
fn check_twelve(s: &str, day_offset: u32) -> Result<NaiveDate, IdProblem> {
    let s = s.trim();
    if s.len() != 12 {
        return Err(IdProblem::Length {
            expected: 12,
            found: s.chars().count(),
        });
    }
    if !all_digits(s) {
        return Err(IdProblem::NotDigits);
    }
    let y: i32 = s[0..4].parse().map_err(|_| IdProblem::Date)?;
    let m: u32 = s[4..6].parse().map_err(|_| IdProblem::Date)?;
    let d: u32 = s[6..8].parse().map_err(|_| IdProblem::Date)?;
    if d <= day_offset || !(1800..=2099).contains(&y) {
        return Err(IdProblem::Date);
    }
    let date = NaiveDate::from_ymd_opt(y, m, d - day_offset).ok_or(IdProblem::Date)?;
    if !luhn_ok(&s[2..]) {
        return Err(IdProblem::CheckDigit);
    }
    Ok(date)
}

/// Checks a personnummer written as 12 digits `YYYYMMDDNNNC` (the contract's form): a real
/// date of birth and the Luhn check digit over the last 10. Returns the date of birth.
pub fn check_personnummer(s: &str) -> Result<NaiveDate, IdProblem> {
    check_twelve(s, 0)
}

/// Checks a samordningsnummer, 12 digits with the day of birth + 60 (61–91), and the Luhn check
/// digit over the last 10. Returns the date of birth.
pub fn check_samordningsnummer(s: &str) -> Result<NaiveDate, IdProblem> {
    check_twelve(s, 60)
}

pub fn personnummer_ok(s: &str) -> bool {
    check_personnummer(s).is_ok()
}

pub fn samordningsnummer_ok(s: &str) -> bool {
    check_samordningsnummer(s).is_ok()
}

/// The date of birth in a patient identity, when its kind carries one and it is valid
/// (personnummer, samordningsnummer; a reservnummer's format is the region's own).
pub fn birth_date(kind: PatientIdKind, extension: &str) -> Option<NaiveDate> {
    match kind {
        PatientIdKind::Personnummer => check_personnummer(extension).ok(),
        PatientIdKind::Samordningsnummer => check_samordningsnummer(extension).ok(),
        PatientIdKind::Reservnummer => None,
    }
}

/// The date of birth of a patient identity given as in the document (`root`, `extension`), for
/// age bands: `None` for a reservnummer or an id that does not check out.
pub fn patient_birth_date(root: &str, extension: &str) -> Option<NaiveDate> {
    kind_of_patient_id(root).and_then(|k| birth_date(k, extension))
}

/// Checks an organisation number: 10 digits, the last a Luhn check digit.
pub fn check_org_number(s: &str) -> Result<(), IdProblem> {
    let s = s.trim();
    if s.len() != 10 {
        return Err(IdProblem::Length {
            expected: 10,
            found: s.chars().count(),
        });
    }
    if !all_digits(s) {
        return Err(IdProblem::NotDigits);
    }
    if !luhn_ok(s) {
        return Err(IdProblem::CheckDigit);
    }
    Ok(())
}

pub fn org_number_ok(s: &str) -> bool {
    check_org_number(s).is_ok()
}

/// Longest HSA-id the national directory issues.
pub const HSA_ID_MAX_LEN: usize = 31;

/// Checks the form of an HSA-id: `SE`, the 10-digit organisation number of the care giver
/// that issued it, `-`, then one or more ASCII letters and digits (e.g. `SE2321000115-094882`),
/// at most [`HSA_ID_MAX_LEN`] characters. Only the form: whether the id exists is the
/// directory's business.
pub fn check_hsa_id(s: &str) -> Result<(), IdProblem> {
    let s = s.trim();
    let b = s.as_bytes();
    let ok = b.len() <= HSA_ID_MAX_LEN
        && b.len() >= 14
        && &b[0..2] == b"SE"
        && b[2..12].iter().all(u8::is_ascii_digit)
        && b[12] == b'-'
        && b[13..].iter().all(u8::is_ascii_alphanumeric);
    if ok {
        Ok(())
    } else {
        Err(IdProblem::Form)
    }
}

pub fn hsa_id_ok(s: &str) -> bool {
    check_hsa_id(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_regions_organisation_number_has_a_valid_check_digit() {
        for r in crate::claim::regions::REGIONS {
            assert_eq!(r.org.len(), 10, "{}", r.name);
            assert!(org_number_ok(r.org), "{} {}", r.name, r.org);
        }
    }

    #[test]
    fn luhn_on_known_numbers() {
        // Skatteverket's example personnummer 811218-9876 and the regions' org numbers.
        assert!(luhn_ok("8112189876"));
        assert!(!luhn_ok("8112189875"));
        assert!(luhn_ok("2321000016"));
        assert!(luhn_ok("2120000803"));
        assert!(!luhn_ok("2321000017"));
        assert!(!luhn_ok(""));
        assert!(!luhn_ok("12a4"));
    }

    #[test]
    fn personnummer_date_and_check_digit() {
        assert_eq!(
            check_personnummer("198112189876"),
            Ok(NaiveDate::from_ymd_opt(1981, 12, 18).unwrap())
        );
        assert!(personnummer_ok("197803122386"));
        assert_eq!(
            check_personnummer("198112189875"),
            Err(IdProblem::CheckDigit)
        );
        assert_eq!(
            check_personnummer("8112189876"),
            Err(IdProblem::Length {
                expected: 12,
                found: 10
            })
        );
        assert_eq!(
            check_personnummer("19811218-987"),
            Err(IdProblem::NotDigits)
        );
        // 30 February does not exist, whatever the check digit says.
        assert_eq!(check_personnummer("198102309876"), Err(IdProblem::Date));
        // A samordningsnummer is not a personnummer.
        assert_eq!(check_personnummer("199004673142"), Err(IdProblem::Date));
    }

    #[test]
    fn samordningsnummer_day_plus_sixty() {
        assert_eq!(
            check_samordningsnummer("199004673142"),
            Ok(NaiveDate::from_ymd_opt(1990, 4, 7).unwrap())
        );
        assert_eq!(
            check_samordningsnummer("198112189876"),
            Err(IdProblem::Date)
        );
        assert_eq!(
            check_samordningsnummer("199004673143"),
            Err(IdProblem::CheckDigit)
        );
        // Day 60 + 0 is no date.
        assert_eq!(
            check_samordningsnummer("199004603142"),
            Err(IdProblem::Date)
        );
    }

    #[test]
    fn hsa_ids() {
        assert!(hsa_id_ok("SE2321000115-094882"));
        assert!(hsa_id_ok("SE2321000131-E000000011"));
        assert!(!hsa_id_ok("SE2321000115094882"));
        assert!(!hsa_id_ok("2321000115-094882"));
        assert!(!hsa_id_ok("SE232100011-094882"));
        assert!(!hsa_id_ok("SE2321000115-"));
        assert!(!hsa_id_ok("SE2321000115-09 4882"));
        assert!(!hsa_id_ok("SE2321000115-0948820000000000000"));
    }

    #[test]
    fn org_numbers() {
        assert_eq!(check_org_number("2321000255"), Ok(()));
        assert_eq!(check_org_number("2321000256"), Err(IdProblem::CheckDigit));
        assert_eq!(check_org_number("232100025X"), Err(IdProblem::NotDigits));
        assert!(!org_number_ok("232100025"));
    }

    #[test]
    fn patient_id_kinds() {
        assert_eq!(
            kind_of_patient_id("1.2.752.129.2.1.3.1"),
            Some(PatientIdKind::Personnummer)
        );
        assert_eq!(
            kind_of_patient_id(" 1.2.752.129.2.1.3.3 "),
            Some(PatientIdKind::Samordningsnummer)
        );
        assert_eq!(
            kind_of_patient_id("1.2.752.97.3.1.3"),
            Some(PatientIdKind::Reservnummer)
        );
        assert_eq!(
            kind_of_patient_id("2321000016"),
            Some(PatientIdKind::Reservnummer)
        );
        assert_eq!(kind_of_patient_id("1.3.7"), None);
        assert_eq!(kind_of_patient_id(HSA_OID), None);
        assert_eq!(kind_of_patient_id("personnummer"), None);
        assert_eq!(kind_of_patient_id("1..2"), None);
        assert_eq!(kind_of_patient_id("7.1"), None);
        assert_eq!(kind_of_patient_id(""), None);
    }

    #[test]
    fn birth_dates_for_age_bands() {
        assert_eq!(
            birth_date(PatientIdKind::Samordningsnummer, "199004673142"),
            NaiveDate::from_ymd_opt(1990, 4, 7)
        );
        assert_eq!(
            birth_date(PatientIdKind::Reservnummer, "198112189876"),
            None
        );
    }
}
