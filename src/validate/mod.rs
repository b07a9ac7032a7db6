//! Checking an invoice basis before anything else touches it, in the order the issue demands:
//! safety limits before parsing ([`safety`]), the contract's XSD through libxml2 ([`xsd`]), the
//! business rules ÖR1–ÖR52 ([`rules`]) and identifier checks beyond the contract ([`ids`]).
//! Every problem, whatever layer finds it, is one [`Finding`]: a rule id, an element path and a
//! message a finance clerk understands.

pub mod ids;
pub mod profile;
mod report;
pub mod rules;
pub mod safety;
mod validator;
pub mod xsd;

pub use profile::{Origin, Profile};
pub use report::{contract_comment, Report};
pub use rules::RuleContext;
pub use safety::Limits;
pub use validator::{Validator, MAX_XSD_FINDINGS, RULE_MODEL};

use serde::{Deserialize, Serialize};

/// One problem with a basis. The same shape whether the XSD engine, a business rule or an
/// identifier check found it, so senders get one report format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule broken: `ÖR5`, `XSD`, `SAFETY-SIZE`, `ID-PERSONNUMMER`, …
    pub rule: String,
    /// Element path, `/claimSpecification/healthCareServicesSpecificationLine[2]/…`
    /// (1-based positions, as in XPath); `/` when the problem is the document as a whole.
    pub path: String,
    /// What is wrong, in words a finance clerk understands.
    pub message: String,
    /// Whether an official receiver makes this finding too, or only the contract's text or the
    /// project's stricter checks do.
    #[serde(default)]
    pub origin: Origin,
}

impl Finding {
    pub fn new(
        rule: impl Into<String>,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let rule = rule.into();
        Finding {
            origin: Origin::of_rule(&rule),
            rule,
            path: path.into(),
            message: message.into(),
        }
    }

    /// The same finding with another origin.
    pub fn with_origin(mut self, origin: Origin) -> Self {
        self.origin = origin;
        self
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at {}: {}", self.rule, self.path, self.message)?;
        match self.origin {
            Origin::Project => {
                f.write_str(" (the project's check; not in the official Schematron)")
            }
            Origin::Contract => {
                f.write_str(" (the contract's text; not in the official Schematron)")
            }
            _ => Ok(()),
        }
    }
}
