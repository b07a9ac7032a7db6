//! Rules on who the patient is and where they live: ÖR7 (kind of patient id), ÖR8/ÖR9 (county
//! and municipality lengths), ÖR10 (gender), ÖR34 (listing region's HSA root), ÖR40/ÖR41
//! (county and municipality codes and code systems), ÖR39 for the gender code, and the
//! identifier checks `ID-PERSONNUMMER`, `ID-SAMORDNINGSNUMMER`, `ID-HSA`.
//!
//! Everything here is personal data under health-care secrecy: messages say what is wrong and
//! what was expected, never the patient's values.

use super::line::cv_code_and_system;
use super::{characters, ov, v, At, Findings};
use crate::claim::{PatientInformation, CV};
use crate::validate::ids::{self, IdProblem, PatientIdKind, HSA_OID, SAMORDNINGSNUMMER_OID};
use crate::validate::Origin;

pub(crate) const COUNTY_OID: &str = "1.2.752.129.2.2.1.18";
pub(crate) const MUNICIPALITY_OID: &str = "1.2.752.129.2.2.1.17";
/// The SCB county codes of the 21 regions.
pub(crate) const COUNTY_CODES: &[&str] = &[
    "01", "03", "04", "05", "06", "07", "08", "09", "10", "12", "13", "14", "17", "18", "19", "20",
    "21", "22", "23", "24", "25",
];
/// County and municipality of asylum seekers, sent without a code system.
pub(crate) const ASYLUM_COUNTY: &str = "99";
pub(crate) const ASYLUM_MUNICIPALITY: &str = "9901";

pub(super) fn check(p: &PatientInformation, at: &At, out: &mut Findings) {
    identity(p, at, out);
    let at_o = at.at("patientOtherInformation");
    let o = &p.patient_other_information;
    let county = county(&o.county, &at_o.at("county"), out);
    municipality(&o.municipality, county, &at_o.at("municipality"), out);

    if let Some(l) = &o.listing_local_authorities_number {
        let at_l = at_o.at("listingLocalAuthoritiesNumber");
        if out.val(&l.root) != HSA_OID {
            out.add(
                "ÖR34",
                &at_l.at("root"),
                format!(
                    "the listing region's identity must be an HSA-id, root {HSA_OID}; found \
                     root '{}'",
                    v(&l.root)
                ),
            );
        } else if let Err(problem) = ids::check_hsa_id(&l.extension) {
            out.add(
                "ID-HSA",
                &at_l.at("extension"),
                format!("the listing region's HSA-id {problem}"),
            );
        }
    }

    if let Some(g) = &o.gender {
        let at_g = at_o.at("gender");
        cv_code_and_system(g, &at_g, "gender", out);
        if let Some(code) = ov(&g.code) {
            if !matches!(code, "0" | "1" | "2" | "9") {
                out.add(
                    "ÖR10",
                    &at_g.at("code"),
                    "the gender code is not one of 0 (unknown), 1 (man), 2 (woman) or 9 \
                     (undetermined)"
                        .to_owned(),
                );
            }
        }
    }
}

/// ÖR7 and the check digit and date of a personnummer or samordningsnummer.
fn identity(p: &PatientInformation, at: &At, out: &mut Findings) {
    let at_id = at.at("patientIdentity");
    let id = &p.patient_identity;
    match ids::kind_of_patient_id(&id.root) {
        None => out.add(
            "ÖR7",
            &at_id.at("root"),
            format!(
                "the patient identity's root '{}' names no kind of patient id; expected \
                 personnummer ({}), samordningsnummer ({}) or a region's reservnummer series \
                 (its OID or organisation number)",
                v(&id.root),
                ids::PERSONNUMMER_OID,
                SAMORDNINGSNUMMER_OID
            ),
        ),
        Some(PatientIdKind::Personnummer) => match ids::check_personnummer(&id.extension) {
            Err(IdProblem::Date) if ids::samordningsnummer_ok(&id.extension) => out.add(
                "ID-PERSONNUMMER",
                &at_id.at("extension"),
                format!(
                    "the personnummer is a samordningsnummer (day of birth + 60); send it \
                     with root {SAMORDNINGSNUMMER_OID}"
                ),
            ),
            Err(problem) => out.add(
                "ID-PERSONNUMMER",
                &at_id.at("extension"),
                format!(
                    "the personnummer {problem} (expected 12 digits YYYYMMDDNNNC with a \
                     valid date of birth and check digit)"
                ),
            ),
            Ok(born) if born > out.ctx.today => out.add(
                "ID-PERSONNUMMER",
                &at_id.at("extension"),
                format!("the personnummer {}", IdProblem::FutureDate),
            ),
            Ok(_) => {}
        },
        Some(PatientIdKind::Samordningsnummer) => {
            match ids::check_samordningsnummer(&id.extension) {
                Err(problem) => out.add(
                    "ID-SAMORDNINGSNUMMER",
                    &at_id.at("extension"),
                    format!(
                        "the samordningsnummer {problem} (expected 12 digits YYYYMMDDNNNC \
                         with the day of birth + 60 and a valid check digit)"
                    ),
                ),
                Ok(born) if born > out.ctx.today => out.add(
                    "ID-SAMORDNINGSNUMMER",
                    &at_id.at("extension"),
                    format!("the samordningsnummer {}", IdProblem::FutureDate),
                ),
                Ok(_) => {}
            }
        }
        Some(PatientIdKind::Reservnummer) => {}
    }
}

/// ÖR8 (2 characters) and ÖR40 (the code system; the code list is the project's addition: the
/// official Schematron checks the code system only). Both are checked: a wrong length does not
/// hide a wrong code system. Returns the county code when it is a valid one, for ÖR41's
/// cross-check.
fn county<'a>(c: &'a CV, at: &At, out: &mut Findings) -> Option<&'a str> {
    let at_code = at.at("code");
    let code = ov(&c.code);
    match code.map(|c| c.chars().count()) {
        None => out.add(
            "ÖR8",
            &at_code,
            "the patient's county code is missing; expected 2 characters".to_owned(),
        ),
        Some(2) => {}
        Some(n) => out.add(
            "ÖR8",
            &at_code,
            format!(
                "the patient's county code has {}; expected exactly 2",
                characters(n)
            ),
        ),
    }
    let asylum = code == Some(ASYLUM_COUNTY);
    code_system(
        &c.code_system,
        asylum,
        ("ÖR40", "county", "county 99 (asylum seekers)", COUNTY_OID),
        at,
        out,
    );
    let code = code.filter(|c| c.chars().count() == 2)?;
    if !asylum && !COUNTY_CODES.contains(&code) {
        out.add_as(
            "ÖR40",
            Origin::Project,
            &at_code,
            "the patient's county code is not one of the 21 SCB county codes (01, 03–10, 12–14, \
             17–25) or 99 (asylum seekers)"
                .to_owned(),
        );
        return None;
    }
    Some(code)
}

/// ÖR40 / ÖR41 on the code system: the register's OID, or none for asylum seekers (99 / 9901).
/// The official file asserts the OID; that asylum seekers' codes go without one is the
/// contract's text only.
fn code_system(
    system: &Option<String>,
    asylum: bool,
    (rule, what, asylum_what, oid): (&'static str, &str, &str, &str),
    at: &At,
    out: &mut Findings,
) {
    let system = out.oval(system);
    if asylum {
        if system.is_some() {
            out.add_as(
                rule,
                Origin::Contract,
                &at.at("codeSystem"),
                format!("{asylum_what} is sent without a code system"),
            );
        }
    } else if system != Some(oid) {
        out.add(
            rule,
            &at.at("codeSystem"),
            format!(
                "the {what}'s code system is {}; expected {oid}",
                system.map_or("missing".to_owned(), |s| format!("'{s}'"))
            ),
        );
    }
}

/// ÖR9 (4 characters) and ÖR41: the code system, and (the project's addition) a municipality
/// of the patient's county — its first two digits are the county code — or 9901 for asylum
/// seekers.
fn municipality(m: &CV, county: Option<&str>, at: &At, out: &mut Findings) {
    let at_code = at.at("code");
    let code = ov(&m.code);
    match code.map(|c| c.chars().count()) {
        None => out.add(
            "ÖR9",
            &at_code,
            "the patient's municipality code is missing; expected 4 characters".to_owned(),
        ),
        Some(4) => {}
        Some(n) => out.add(
            "ÖR9",
            &at_code,
            format!(
                "the patient's municipality code has {}; expected exactly 4",
                characters(n)
            ),
        ),
    }
    let asylum = code == Some(ASYLUM_MUNICIPALITY);
    code_system(
        &m.code_system,
        asylum,
        (
            "ÖR41",
            "municipality",
            "municipality 9901 (asylum seekers)",
            MUNICIPALITY_OID,
        ),
        at,
        out,
    );
    let Some(code) = code.filter(|c| c.chars().count() == 4) else {
        return;
    };
    if !asylum {
        let prefix_ok = code.bytes().all(|b| b.is_ascii_digit())
            && COUNTY_CODES.contains(&&code[0..2])
            && &code[2..4] != "00";
        if !prefix_ok {
            out.add_as(
                "ÖR41",
                Origin::Project,
                &at_code,
                "the patient's municipality code is not an SCB municipality code (4 digits, \
                 the first two a county code) or 9901 (asylum seekers)"
                    .to_owned(),
            );
            return;
        }
    }
    if county.is_some_and(|county| !code.starts_with(county)) {
        out.add_as(
            "ÖR41",
            Origin::Project,
            &at_code,
            "the patient's municipality does not lie in the patient's county (its first two \
             digits must be the county code; 99 goes with 9901)"
                .to_owned(),
        );
    }
}
