//! Whose verdict a check reproduces: the contract's text, or the official Schematron file that
//! every receiving region runs beside the XSD.
//!
//! The two disagree in places (`../shared/contract/schematron.md` lists them; docs/validation.md
//! has the conformance table). A sending region wants the contract's verdict *and* to know where
//! an official receiver will say otherwise, so the default profile is the contract's and
//! `validate` warns where [`Profile::OfficialSchematron`] would reject what the contract accepts.
//! A hub or gateway facing receivers that run the official file can check a sender's bases under
//! that profile instead.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The rule set the business rules follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// What the contract's text says (ÖR1–ÖR52), with the project's additions: identifier
    /// check digits, the county and municipality lists. Findings are named `ÖRn`.
    #[default]
    Contract,
    /// What the official Schematron file does, quirks included: R20 strict and passing on either
    /// date, R43 uniqueness only with string ids, untrimmed comparisons, floating-point sums
    /// rounded to two decimals, no R6/R7/R32 and no identifier checks. Findings are named `Rn`,
    /// as an official report names them.
    OfficialSchematron,
}

impl Profile {
    pub const ALL: [Profile; 2] = [Profile::Contract, Profile::OfficialSchematron];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Contract => "contract",
            Profile::OfficialSchematron => "official-schematron",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A profile name that is neither `contract` nor `official-schematron`.
#[derive(Debug, thiserror::Error)]
#[error("unknown validation profile '{0}'; expected contract or official-schematron")]
pub struct UnknownProfile(String);

impl FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownProfile(s.to_owned()))
    }
}

/// Where a check comes from, so a report can say which findings an official receiver would
/// make too and which are the project's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// An assert of the official Schematron file makes the same finding.
    Schematron,
    /// The contract's text demands it but the official file has no such assert (R6, R7, R32,
    /// and the code-system rule for asylum seekers' county and municipality).
    Contract,
    /// The project's own, stricter check: identifier check digits, the county and municipality
    /// code lists. An official receiver accepts what only these find.
    Project,
    /// The contract's XSD (through libxml2), or XML that is not well-formed.
    Schema,
    /// The exchange's own checks around the document: safety limits, sender and receiver,
    /// policy, the model.
    #[default]
    Exchange,
}

impl Origin {
    /// The origin a finding has when nothing more specific is known: from its rule id.
    pub fn of_rule(rule: &str) -> Origin {
        match rule {
            "XSD" | "XML" => Origin::Schema,
            "ÖR6" | "ÖR7" | "ÖR32" => Origin::Contract,
            r if r.starts_with("ID-") => Origin::Project,
            r if r.starts_with("ÖR") || official_number(r).is_some() => Origin::Schematron,
            _ => Origin::Exchange,
        }
    }

    /// Whether an official receiver runs this check.
    pub fn official(self) -> bool {
        matches!(self, Origin::Schematron | Origin::Schema)
    }
}

/// The rule number of `ÖRn` or `Rn`.
pub fn rule_number(rule: &str) -> Option<u8> {
    rule.strip_prefix("ÖR")
        .and_then(|n| n.parse().ok())
        .or_else(|| official_number(rule))
}

fn official_number(rule: &str) -> Option<u8> {
    rule.strip_prefix('R').and_then(|n| n.parse().ok())
}

/// The id an official report gives a rule: `ÖR5` → `R5`; other ids unchanged.
pub fn official_id(rule: &str) -> std::borrow::Cow<'_, str> {
    match rule.strip_prefix("ÖR") {
        Some(n) if n.parse::<u8>().is_ok() => format!("R{n}").into(),
        _ => rule.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Profile::ALL {
            assert_eq!(p.name().parse::<Profile>().unwrap(), p);
        }
        let e = "schematron".parse::<Profile>().unwrap_err();
        assert!(e.to_string().contains("official-schematron"), "{e}");
    }

    #[test]
    fn origins_follow_the_rule_ids() {
        assert_eq!(Origin::of_rule("ÖR5"), Origin::Schematron);
        assert_eq!(Origin::of_rule("R20"), Origin::Schematron);
        assert_eq!(Origin::of_rule("ÖR7"), Origin::Contract);
        assert_eq!(Origin::of_rule("ID-ORGNR"), Origin::Project);
        assert_eq!(Origin::of_rule("XSD"), Origin::Schema);
        assert_eq!(Origin::of_rule("SAFETY-SIZE"), Origin::Exchange);
        assert_eq!(Origin::of_rule("RECEIVER"), Origin::Exchange);
        assert_eq!(official_id("ÖR48"), "R48");
        assert_eq!(official_id("ID-HSA"), "ID-HSA");
        assert_eq!(rule_number("R43"), Some(43));
        assert_eq!(rule_number("ÖR1"), Some(1));
        assert_eq!(rule_number("REJECTED"), None);
    }
}
