//! The whole check of one basis, layer by layer: safety limits → XSD (libxml2) → typed model →
//! business rules. It stops early only where going on is unsafe or meaningless: after a safety
//! refusal (no parser may see the bytes) and after XML that is not well-formed (there is no
//! tree to check). A schema-invalid document that can still be read into the model also gets
//! its business rules checked, so the sender sees every problem in one report.

use std::sync::Arc;

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
        }
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
                claim: None,
            };
        }
        let mut findings = self.schema.validate(bytes, MAX_XSD_FINDINGS);
        if findings.iter().any(|f| f.rule == RULE_XML) {
            return Report {
                id: None,
                findings,
                claim: None,
            };
        }
        match ClaimSpecification::from_xml(bytes) {
            Ok(claim) => {
                findings.extend(rules::check(bytes, &claim, &self.rules));
                Report {
                    id: Some(claim.id.clone()),
                    findings,
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
                    claim: None,
                }
            }
        }
    }
}

/// The basis id of a document the model could not read, so the report can still name it.
fn id_of(bytes: &[u8]) -> Option<String> {
    let root = Element::parse_document(bytes).ok()?;
    let claim = root.child_elements().next()?;
    let id = claim.child_elements().next()?;
    id.is(CORE_NS, "id").then(|| id.text())
}
