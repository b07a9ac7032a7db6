//! The typed model of ProcessClaimSpecification 1.1, read and written without losing anything.
//!
//! Why not serde's XML mapping: the contract's documents arrive with whatever namespace prefixes
//! the sender's toolkit chose (or a default namespace), and nearly every type ends with an
//! `xs:any ##other lax` extension point that may hold foreign elements. quick-xml's serde layer
//! matches on prefixed names and has no lossless place for foreign elements, so documents are
//! read with quick-xml's `NsReader` into a small namespace-resolved tree ([`Element`]) and mapped
//! onto the types by hand ([`map`]), and written back the same way. The serde derives are there
//! for JSON (reports, logs of structure, tests), not for XML.
//!
//! Round trip: read → write → read gives an equal model; the written document has the same
//! infoset as the one read (elements, order, values, extension elements and their attributes),
//! not necessarily the same prefixes or whitespace between elements.

mod basis_id;
mod element;
mod error;
pub mod lexical;
pub(crate) mod map;
mod model;
mod patient_id;
pub mod regions;
mod response;

pub use basis_id::{basis_id_ok, BASIS_ID_RULE};
pub use element::{Attribute, Element, Node, MAX_DEPTH};
pub use error::ClaimError;
pub use map::XsiAttribute;
pub use model::*;
pub use patient_id::normalise_patient_id;
pub use response::{ProcessClaimSpecificationResponse, ResultCode};

use element::XmlWriter;
use map::{FromXml, ToXml};

/// The core namespace: every element inside `claimSpecification`.
pub const CORE_NS: &str = "urn:riv:financial:billing:claim:1";
/// The responder namespace: the request and response root elements.
pub const RESPONDER_NS: &str =
    "urn:riv:financial:billing:claim:ProcessClaimSpecificationResponder:1";
/// The prefix written for the responder namespace (any prefix is accepted on input).
pub(crate) const RESPONDER_PREFIX: &str = "rsp";

/// The whole request document: `ProcessClaimSpecification` holding one `claimSpecification`
/// and, after it, the envelope's own extension point. Most code wants only the
/// [`ClaimSpecification`]; this exists so that nothing in the envelope is lost either.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct ProcessClaimSpecification {
    pub claim_specification: ClaimSpecification,
    /// Foreign elements after `claimSpecification` (the envelope's `xs:any ##other lax`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<Element>,
    /// The `xsi:*` attributes of the root itself (child `""`) and of `claimSpecification`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub xsi: Vec<map::XsiAttribute>,
}

/// The name [`ProcessClaimSpecification::xsi`] keeps the root's own attributes under.
const ROOT: &str = "";

impl ProcessClaimSpecification {
    /// Reads a whole `ProcessClaimSpecification` document, any prefixes.
    pub fn from_xml(bytes: &[u8]) -> Result<Self, ClaimError> {
        let root = Element::parse_document(bytes)?;
        if !root.is(RESPONDER_NS, "ProcessClaimSpecification") {
            return Err(ClaimError::WrongRoot {
                found: root.expanded_name(),
                expected: format!("{{{RESPONDER_NS}}}ProcessClaimSpecification"),
            });
        }
        let path = "/ProcessClaimSpecification";
        let mut xsi = Vec::new();
        map::keep_xsi(
            &mut xsi,
            &root,
            &map::Path::root("ProcessClaimSpecification"),
            ROOT,
            1,
        )?;
        let mut children = Vec::new();
        for n in &root.children {
            match n {
                Node::Element(e) => children.push(e),
                Node::Text(t) if t.trim().is_empty() => {}
                Node::Text(_) => return Err(ClaimError::UnexpectedText { path: path.into() }),
            }
        }
        let mut it = children.into_iter();
        let claim_el = match it.next() {
            Some(e) if e.is(RESPONDER_NS, "claimSpecification") => e,
            other => {
                return Err(ClaimError::Missing {
                    path: path.into(),
                    expected: "claimSpecification".into(),
                    found: other.map(|e| e.expanded_name()),
                })
            }
        };
        let claim_path = map::Path::root("claimSpecification");
        map::keep_xsi(&mut xsi, claim_el, &claim_path, "claimSpecification", 1)?;
        let claim_specification = ClaimSpecification::from_element(claim_el, &claim_path)?;
        let mut extensions = Vec::new();
        for e in it {
            if e.namespace.as_deref() == Some(RESPONDER_NS) || e.namespace.is_none() {
                return Err(ClaimError::Unexpected {
                    path: path.into(),
                    found: e.expanded_name(),
                });
            }
            extensions.push(e.clone());
        }
        Ok(ProcessClaimSpecification {
            claim_specification,
            extensions,
            xsi,
        })
    }

    /// Writes the document (UTF-8, with an XML declaration).
    pub fn to_xml(&self) -> String {
        let mut w = XmlWriter::new();
        w.out
            .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        w.open_attributed(
            RESPONDER_PREFIX,
            "ProcessClaimSpecification",
            &[
                (RESPONDER_PREFIX, RESPONDER_NS),
                (map::CORE_PREFIX, CORE_NS),
            ],
            &map::xsi_of(&self.xsi, ROOT, 1),
        );
        w.open_attributed(
            RESPONDER_PREFIX,
            "claimSpecification",
            &[],
            &map::xsi_of(&self.xsi, "claimSpecification", 1),
        );
        self.claim_specification.write_content(&mut w);
        w.close(RESPONDER_PREFIX, "claimSpecification");
        w.extensions(&self.extensions);
        w.close(RESPONDER_PREFIX, "ProcessClaimSpecification");
        w.out.push('\n');
        w.out
    }
}

impl ClaimSpecification {
    /// Reads a whole `ProcessClaimSpecification` document (any namespace prefixes, default
    /// namespace or not). Foreign elements in the envelope after `claimSpecification` are not
    /// part of the basis; use [`ProcessClaimSpecification::from_xml`] to keep them too.
    pub fn from_xml(bytes: &[u8]) -> Result<Self, ClaimError> {
        ProcessClaimSpecification::from_xml(bytes).map(|d| d.claim_specification)
    }

    /// Writes this basis as a whole `ProcessClaimSpecification` document.
    pub fn to_xml(&self) -> String {
        ProcessClaimSpecification {
            claim_specification: self.clone(),
            ..Default::default()
        }
        .to_xml()
    }

    /// Whether this is a credit note (typeOfInvoice 381): credit notes refer to an earlier basis.
    pub fn is_credit_note(&self) -> bool {
        self.type_of_invoice.trim() == "381"
    }
}

/// The OID of Swedish organisation numbers, the identification routing and sender checks use.
pub const ORG_NUMBER_OID: &str = "1.3.7";

impl Party {
    /// The party's organisation number (the identification with root 1.3.7): the hub routes on
    /// the customer's and checks the supplier's against the authenticated sender.
    pub fn organisation_number(&self) -> Option<&str> {
        self.identification
            .iter()
            .find(|i| i.root.trim() == ORG_NUMBER_OID)
            .map(|i| i.extension.trim())
    }
}
