//! The whole check of one basis, layer by layer: safety limits → XSD (libxml2) → typed model →
//! business rules. It stops early only where going on is unsafe or meaningless: after a safety
//! refusal (no parser may see the bytes) and after XML that is not well-formed (there is no
//! tree to check). A schema-invalid document that can still be read into the model also gets
//! its business rules checked, so the sender sees every problem in one report.

use std::sync::Arc;

use super::profile::{rule_number, Profile};
use super::report::Report;
use super::rules::{self, RuleContext};
use super::safety::{self, Limits};
use super::xsd::{Schema, SchemaError, RULE_XML};
use super::Finding;
use crate::claim::{ClaimSpecification, Element, CORE_NS};

/// Rule id for a document the schema accepts but the model cannot read: a disagreement between
/// `schemas/` and `claim`, reported rather than hidden.
pub const RULE_MODEL: &str = "MODEL";

/// At most this many XSD findings per document (plus a count of the rest): a document with
/// 100 000 errors must not become a 100 000-line report.
pub const MAX_XSD_FINDINGS: usize = 50;

/// Checks documents. Built once (the schema is compiled once) and shared: it is `Send + Sync`,
/// cheap to clone, and every call is independent.
#[derive(Debug, Clone)]
pub struct Validator {
    schema: Arc<Schema>,
    limits: Limits,
    rules: Arc<RuleContext>,
    /// The official Schematron's rules, run beside the contract's to warn where an official
    /// receiver would reject what the contract accepts ([`Validator::with_official_warnings`]).
    official: Option<Arc<RuleContext>>,
}

impl Validator {
    /// A validator with the schemas built into the binary and the default limits.
    pub fn new(rules: RuleContext) -> Result<Self, SchemaError> {
        Ok(Validator::with_schema(Arc::new(Schema::embedded()?), rules))
    }

    /// A validator over an already compiled schema (e.g. a deployment's own copy of `schemas/`).
    pub fn with_schema(schema: Arc<Schema>, rules: RuleContext) -> Self {
        Validator {
            schema,
            limits: Limits::default(),
            rules: Arc::new(rules),
            official: None,
        }
    }

    /// Also runs the official Schematron's rules (on the same parsed document) and puts every
    /// finding of theirs that the contract's rules do not make into [`Report::warnings`]: what
    /// a sending region most wants to know before it sends. No effect when the validator
    /// already follows the official profile.
    pub fn with_official_warnings(mut self) -> Self {
        if self.rules.profile() == Profile::Contract {
            let ctx = (*self.rules)
                .clone()
                .with_profile(Profile::OfficialSchematron);
            self.official = Some(Arc::new(ctx));
        }
        self
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn rule_context(&self) -> &RuleContext {
        &self.rules
    }

    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// Checks one document. Never panics on input; every problem is a [`Finding`].
    pub fn validate(&self, bytes: &[u8]) -> Report {
        if let Err(f) = safety::check(bytes, &self.limits) {
            return Report {
                id: None,
                findings: vec![f],
                warnings: Vec::new(),
                claim: None,
            };
        }
        let mut findings = self.schema.validate(bytes, MAX_XSD_FINDINGS);
        if findings.iter().any(|f| f.rule == RULE_XML) {
            return Report {
                id: None,
                findings,
                warnings: Vec::new(),
                claim: None,
            };
        }
        match ClaimSpecification::from_xml(bytes) {
            Ok(claim) => {
                findings.extend(rules::check(bytes, &claim, &self.rules));
                let warnings = match &self.official {
                    Some(official) => {
                        disagreements(&findings, rules::check(bytes, &claim, official))
                    }
                    None => Vec::new(),
                };
                Report {
                    id: Some(claim.id.clone()),
                    findings,
                    warnings,
                    claim: Some(claim),
                }
            }
            Err(e) => {
                if findings.is_empty() {
                    findings.push(Finding::new(RULE_MODEL, e.path(), e.to_string()));
                }
                Report {
                    id: id_of(bytes),
                    findings,
                    warnings: Vec::new(),
                    claim: None,
                }
            }
        }
    }

    /// Checks a document this process wrote itself from `claim`, a model it holds (the policy's
    /// removals): the schema on the bytes and every business rule on the model — the findings
    /// [`Validator::validate`] makes of the same bytes (`tests/policy_property.rs` compares the
    /// two). It leaves out what only bytes from outside need: the safety limits (these are the
    /// serialisation of a document that passed them, with elements left out, so smaller and no
    /// deeper) and a second parse into the model (`claim` is what the bytes were written from).
    pub fn recheck(&self, bytes: &[u8], claim: &ClaimSpecification) -> Vec<Finding> {
        let mut findings = self.schema.validate(bytes, MAX_XSD_FINDINGS);
        findings.extend(rules::check(bytes, claim, &self.rules));
        findings
    }
}

/// The official findings with no contract finding of the same rule at the same place, each
/// worded as the warning a sender reads.
fn disagreements(contract: &[Finding], official: Vec<Finding>) -> Vec<Finding> {
    let same = |o: &Finding, c: &Finding| {
        c.path == o.path && rule_number(&c.rule).is_some_and(|n| rule_number(&o.rule) == Some(n))
    };
    official
        .into_iter()
        .filter(|o| !contract.iter().any(|c| same(o, c)))
        .map(|o| Finding {
            message: format!(
                "a receiver running the official Schematron will reject this: {}",
                o.message
            ),
            ..o
        })
        .collect()
}

/// The basis id of a document the model could not read, so the report can still name it.
fn id_of(bytes: &[u8]) -> Option<String> {
    let root = Element::parse_document(bytes).ok()?;
    let claim = root.child_elements().next()?;
    let id = claim.child_elements().next()?;
    id.is(CORE_NS, "id").then(|| id.text())
}
