//! Synthetic patients and their identifiers: personnummer and samordningsnummer with a real date
//! and Luhn check digit, reservnummer under a region's own OID, asylum seekers with an LMA card.
//!
//! The numbers are made up, but made up the way the real ones are, so the identifier checks
//! (`ID-PERSONNUMMER`, `ID-SAMORDNINGSNUMMER`) see valid values and an injected violation is
//! exactly one wrong digit.

use chrono::{Datelike, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::codes::{self, oid};
use crate::claim::{PatientInformation, PatientOtherInformation, CV, II};

/// Which kind of patient identifier a patient carries (ÖR7: exactly one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IdKind {
    Personnummer,
    Samordningsnummer,
    Reservnummer,
}

/// One patient on a basis.
#[derive(Debug, Clone)]
pub struct Patient {
    pub kind: IdKind,
    pub id: String,
    pub birth: NaiveDate,
    /// 1 man, 2 woman (the contract's gender code).
    pub gender: u8,
    pub asylum: bool,
    /// A patient with protected identity: should not be invoiced through the service at all;
    /// the generator marks a few so the policy engine has something to withhold.
    pub protected: bool,
    pub county: &'static str,
    pub municipality: &'static str,
    /// HSA-id of the home region when the patient is listed in its primary care.
    pub listing: Option<String>,
    pub lma: Option<String>,
}

/// What a line's care demands of the patient it is given to.
#[derive(Debug, Clone, Copy, Default)]
pub struct Needs {
    /// Only women (abortion, contraception).
    pub woman: bool,
    /// Age range in whole years at the care date.
    pub min_age: u32,
    pub max_age: u32,
}

impl Needs {
    pub fn any() -> Needs {
        Needs {
            woman: false,
            min_age: 1,
            max_age: 95,
        }
    }
}

/// Luhn check digit over the nine digits before it (the last ten of a personnummer).
pub fn luhn_check_digit(nine: &str) -> u8 {
    let sum: u32 = nine
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            let v = if i % 2 == 0 { d * 2 } else { d };
            v / 10 + v % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// A personnummer (or, with `day_offset` 60, a samordningsnummer): YYYYMMDD + 3-digit birth
/// number (odd for men, even for women in its last digit) + Luhn check digit.
pub fn person_number(birth: NaiveDate, day_offset: u32, birth_no: u32, gender: u8) -> String {
    let mut n = birth_no % 1000;
    if (gender == 1) != (n % 2 == 1) {
        n ^= 1;
    }
    let body = format!(
        "{:02}{:02}{:02}{:03}",
        birth.year() % 100,
        birth.month(),
        birth.day() + day_offset,
        n
    );
    let check = luhn_check_digit(&body);
    format!("{:04}{}{check}", birth.year(), &body[2..])
}

impl Patient {
    /// A patient living in `county` (or an asylum seeker when `asylum`), born so that `needs`
    /// holds on `care_date`.
    pub fn random(
        rng: &mut ChaCha8Rng,
        county: &'static str,
        customer_org: &str,
        asylum: bool,
        needs: Needs,
        care_date: NaiveDate,
    ) -> Patient {
        let gender = if needs.woman || rng.gen_bool(0.52) {
            2
        } else {
            1
        };
        let max_age = needs.max_age.max(needs.min_age);
        // Older patients are more frequent in hospital care: square-root skew towards max.
        let span = (max_age - needs.min_age) as f64;
        let age = needs.min_age + (span * rng.gen::<f64>().sqrt()).round() as u32;
        let age = if asylum { age.min(70) } else { age };
        let days_into_year = rng.gen_range(1..=364);
        let birth = care_date
            .checked_sub_signed(chrono::Duration::days(
                i64::from(age) * 365 + i64::from(age / 4) + days_into_year,
            ))
            .unwrap_or(care_date);
        let birth = if birth.year() < 1920 {
            NaiveDate::from_ymd_opt(1920, birth.month(), birth.day().min(28)).unwrap_or(birth)
        } else {
            birth
        };
        let kind = if asylum {
            if rng.gen_bool(0.3) {
                IdKind::Samordningsnummer
            } else {
                IdKind::Reservnummer
            }
        } else {
            match rng.gen_range(0..100) {
                0..=90 => IdKind::Personnummer,
                91..=96 => IdKind::Samordningsnummer,
                _ => IdKind::Reservnummer,
            }
        };
        let birth_no = rng.gen_range(0..1000);
        let id = match kind {
            IdKind::Personnummer => person_number(birth, 0, birth_no, gender),
            IdKind::Samordningsnummer => person_number(birth, 60, birth_no, gender),
            IdKind::Reservnummer => format!(
                "99{:02}{:02}{:02}{:04}",
                birth.year() % 100,
                birth.month(),
                birth.day(),
                rng.gen_range(0..10000)
            ),
        };
        let (county, municipality, listing, lma) = if asylum {
            (
                "99",
                "9901",
                None,
                Some(format!("{:08}", rng.gen_range(10_000_000..100_000_000u32))),
            )
        } else {
            let list = codes::municipalities(county);
            let (m, _) = list[rng.gen_range(0..list.len())];
            let listing = rng
                .gen_bool(0.6)
                .then(|| format!("SE{customer_org}-{:04}", rng.gen_range(1..40)));
            (county, m, listing, None)
        };
        Patient {
            kind,
            id,
            birth,
            gender,
            asylum,
            protected: rng.gen_bool(0.003),
            county,
            municipality,
            listing,
            lma,
        }
    }

    /// Age in whole years on `date`.
    pub fn age_on(&self, date: NaiveDate) -> u32 {
        let mut age = date.year() - self.birth.year();
        if (date.month(), date.day()) < (self.birth.month(), self.birth.day()) {
            age -= 1;
        }
        age.max(0) as u32
    }

    pub fn root(&self) -> &'static str {
        match self.kind {
            IdKind::Personnummer => oid::PERSONNUMMER,
            IdKind::Samordningsnummer => oid::SAMORDNINGSNUMMER,
            IdKind::Reservnummer => oid::RESERVNUMMER,
        }
    }

    /// The contract's `patientInformation` for this patient.
    pub fn information(&self) -> PatientInformation {
        let coded = |code: &str, system: Option<&str>| CV {
            code: Some(code.into()),
            code_system: system.map(Into::into),
            ..CV::default()
        };
        let (county, municipality) = if self.asylum {
            (coded("99", None), coded("9901", None))
        } else {
            (
                coded(self.county, Some(oid::COUNTY)),
                coded(self.municipality, Some(oid::MUNICIPALITY)),
            )
        };
        PatientInformation {
            patient_identity: II {
                root: self.root().into(),
                extension: self.id.clone(),
                ..Default::default()
            },
            patient_other_information: PatientOtherInformation {
                county,
                municipality,
                listing_local_authorities_number: self.listing.as_ref().map(|l| II {
                    root: oid::HSA.into(),
                    extension: l.clone(),
                    ..Default::default()
                }),
                lma_card_number: self.lma.clone(),
                gender: Some(coded(&self.gender.to_string(), Some(oid::GENDER))),
                ..PatientOtherInformation::default()
            },
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn luhn_ok(ten: &str) -> bool {
        luhn_check_digit(&ten[..9]) == ten.as_bytes()[9] - b'0'
    }

    #[test]
    fn known_personnummer_check_digits() {
        // Skatteverket's test numbers.
        assert_eq!(luhn_check_digit("811218987"), 6);
        assert_eq!(luhn_check_digit("197802248"), 9);
        assert!(luhn_ok("2321000016"));
    }

    #[test]
    fn person_numbers_have_the_gender_digit_and_a_valid_check() {
        let birth = NaiveDate::from_ymd_opt(1978, 3, 12).unwrap();
        for n in 0..1000 {
            for g in [1u8, 2] {
                let p = person_number(birth, 0, n, g);
                assert_eq!(p.len(), 12);
                assert!(p.starts_with("19780312"));
                assert!(luhn_ok(&p[2..]), "{p}");
                let gd = p.as_bytes()[10] - b'0';
                assert_eq!(gd % 2 == 1, g == 1, "{p}");
                let s = person_number(birth, 60, n, g);
                assert!(s.starts_with("19780372"), "{s}");
                assert!(luhn_ok(&s[2..]), "{s}");
            }
        }
    }

    #[test]
    fn patients_fit_their_needs() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let day = NaiveDate::from_ymd_opt(2026, 10, 15).unwrap();
        for _ in 0..500 {
            let needs = Needs {
                woman: true,
                min_age: 15,
                max_age: 45,
            };
            let p = Patient::random(&mut rng, "13", "2321000115", false, needs, day);
            assert_eq!(p.gender, 2);
            let age = p.age_on(day);
            assert!((14..=46).contains(&age), "{age}");
            assert!(p.municipality.starts_with("13"));
        }
    }
}
