//! The outcome of checking one basis, in the forms its readers need: findings for programs,
//! text for people, and the contract's own `ProcessClaimSpecificationResponse` for the sender.

use serde::Serialize;

use super::profile::{official_id, rule_number, Origin};
use super::rules::catalogue;
use super::Finding;
use crate::claim::{ClaimSpecification, ProcessClaimSpecificationResponse, ResultCode};

/// Everything found in one document. `claim` is the typed model when the document could be
/// read into it (even if rules failed), so later stages need not parse again.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The basis id (`claimSpecification/id`), when the document got far enough to have one.
    pub id: Option<String>,
    pub findings: Vec<Finding>,
    /// What an official receiver would find that the rules of this report's profile do not
    /// (only when the validator was asked for them): never a reason to refuse the basis here,
    /// but a reason the receiver will.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Finding>,
    #[serde(skip)]
    pub claim: Option<ClaimSpecification>,
}

impl Report {
    /// Valid means no finding at all: the contract knows no warnings.
    pub fn is_valid(&self) -> bool {
        self.findings.is_empty()
    }

    /// One finding per line, `RULE at PATH: message`.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for f in &self.findings {
            s.push_str(&f.to_string());
            s.push('\n');
        }
        s
    }

    /// The contract's answer: OK, or ERROR with the report as comment (a receiver that
    /// answers ERROR has not received the basis). The comment is written as an official
    /// producer writes it, one finding per line:
    /// `Error: … / Location: /urn1:ProcessClaimSpecification/urn1:claimSpecification/urn2:… /
    /// Id: R5 / Test: …`.
    pub fn to_response(&self) -> ProcessClaimSpecificationResponse {
        if self.is_valid() {
            return ProcessClaimSpecificationResponse::new(ResultCode::Ok, None);
        }
        let comment = contract_comment(self.id.as_deref(), &self.findings);
        ProcessClaimSpecificationResponse::new(ResultCode::Error, Some(comment))
    }
}

/// The contract's `comment` for `findings` of basis `id`: a first line counting them, then one
/// line per finding in the official producer's form (see [`Report::to_response`]).
pub fn contract_comment(id: Option<&str>, findings: &[Finding]) -> String {
    let mut comment = format!(
        "{} problem{} in invoice basis {}:\n",
        findings.len(),
        if findings.len() == 1 { "" } else { "s" },
        id.unwrap_or("(id unknown)")
    );
    for f in findings {
        comment.push_str(&contract_line(f));
        comment.push('\n');
    }
    comment
}

/// One finding in the contract's comment form. The location is written with the prefixes of
/// the contract's example (`urn1` the responder namespace, `urn2` the core one); a finding of
/// the project's own is named so.
pub(super) fn contract_line(f: &Finding) -> String {
    let test = match rule_number(&f.rule).and_then(catalogue::test_of) {
        Some(t) => t.to_owned(),
        None if f.rule == "XSD" || f.rule == "XML" => "the contract's XML schema".to_owned(),
        None => format!("invoice-hub's check {}", f.rule),
    };
    let note = match f.origin {
        Origin::Project | Origin::Contract => " (not in the official Schematron)",
        _ => "",
    };
    format!(
        "Error: {} / Location: {} / Id: {} / Test: {test}{note}",
        f.message,
        prefixed(&f.path),
        official_id(&f.rule)
    )
}

/// `/claimSpecification/payableAmount/amount` →
/// `/urn1:ProcessClaimSpecification/urn1:claimSpecification/urn2:payableAmount/urn2:amount`.
fn prefixed(path: &str) -> String {
    let mut out = String::from("/urn1:ProcessClaimSpecification");
    for (i, seg) in path.split('/').filter(|s| !s.is_empty()).enumerate() {
        let prefix = if i == 0 && seg == "claimSpecification" {
            "urn1"
        } else {
            "urn2"
        };
        out.push('/');
        out.push_str(prefix);
        out.push(':');
        out.push_str(seg);
    }
    out
}
