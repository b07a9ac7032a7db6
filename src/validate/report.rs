//! The outcome of checking one basis, in the forms its readers need: findings for programs,
//! text for people, and the contract's own `ProcessClaimSpecificationResponse` for the sender.

use serde::Serialize;

use super::Finding;
use crate::claim::{ClaimSpecification, ProcessClaimSpecificationResponse, ResultCode};

/// Everything found in one document. `claim` is the typed model when the document could be
/// read into it (even if rules failed), so later stages need not parse again.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The basis id (`claimSpecification/id`), when the document got far enough to have one.
    pub id: Option<String>,
    pub findings: Vec<Finding>,
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
    /// answers ERROR has not received the basis).
    pub fn to_response(&self) -> ProcessClaimSpecificationResponse {
        if self.is_valid() {
            return ProcessClaimSpecificationResponse::new(ResultCode::Ok, None);
        }
        let mut comment = format!(
            "{} problem{} in invoice basis {}:\n",
            self.findings.len(),
            if self.findings.len() == 1 { "" } else { "s" },
            self.id.as_deref().unwrap_or("(id unknown)")
        );
        comment.push_str(&self.text());
        ProcessClaimSpecificationResponse::new(ResultCode::Error, Some(comment))
    }
}
