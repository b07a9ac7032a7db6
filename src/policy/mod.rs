//! The confidentiality assessment: each sending region's standardised harm assessment
//! ("schabloniserad menprövning"), applied to every basis, deterministically, with the reason.
//!
//! A region's board decides once what may be disclosed to whom; that decision is written down as
//! a [`Policy`] file (TOML, see `docs/policy.md`) and every automated disclosure names the
//! policy rule and the board decision it rests on. The flow is one way:
//!
//! ```text
//! policy files ──load (strict)──▶ PolicySet ──┐
//! basis (already validated) ──────────────────┴─▶ Assessor::assess ─▶ Decision
//!                                                   facts per line → rules → outcome
//!                                                   → removals → re-validation
//! ```
//!
//! The most restrictive outcome of all matching rules wins (reject > withhold > remove >
//! disclose). A basis no rule allows is withheld: silence in a board decision is not consent.

mod condition;
mod decision;
mod engine;
mod facts;
mod file;
mod removal;

pub use condition::Condition;
pub use decision::{Action, Decision, MatchedRule, Outcome};
pub use engine::{Assessor, RULE_NO_POLICY, RULE_NO_RULE, RULE_PROTECTED, RULE_REVALIDATION};
pub use facts::LineFacts;
pub use file::{BoardDecision, Policy, PolicyError, PolicySet, ProtectedIdentities, Rule};
pub use removal::{REMOVABLE, REQUIRED};
