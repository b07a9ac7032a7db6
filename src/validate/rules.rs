//! The contract's business rules ÖR1–ÖR52. Placeholder until the rules land.

use super::Finding;
use crate::claim::ClaimSpecification;

/// What the rules need besides the document: the date "today" is (ÖR2, ÖR17, ÖR38 compare with
/// it, and tests must be able to fix it) and the register of medical field codes (ÖR49).
#[derive(Debug, Clone)]
pub struct RuleContext {
    pub today: chrono::NaiveDate,
}

/// Checks every business rule on a document that has already passed the XSD. `raw` is the
/// document as received (ÖR1, empty elements, is checked on it); `claim` is its typed model.
pub fn check(_raw: &[u8], _claim: &ClaimSpecification, _ctx: &RuleContext) -> Vec<Finding> {
    Vec::new()
}
