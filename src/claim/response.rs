//! The contract's answer, `ProcessClaimSpecificationResponse`: OK, or ERROR with the validation
//! report as comment. A receiver that answers ERROR has, by the contract, not received the basis.

use serde::{Deserialize, Serialize};

use super::element::{Element, Node, XmlWriter};
use super::{ClaimError, RESPONDER_NS, RESPONDER_PREFIX};

/// `resultCode`. INFO exists in the contract but is unused; it is read, never produced here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ResultCode {
    Ok,
    Error,
    Info,
}

impl ResultCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ResultCode::Ok => "OK",
            ResultCode::Error => "ERROR",
            ResultCode::Info => "INFO",
        }
    }
}

/// The response document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessClaimSpecificationResponse {
    pub result_code: ResultCode,
    /// The validation report when the code is ERROR.
    pub comment: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<Element>,
}

impl ProcessClaimSpecificationResponse {
    pub fn new(result_code: ResultCode, comment: Option<String>) -> Self {
        ProcessClaimSpecificationResponse {
            result_code,
            comment,
            extensions: Vec::new(),
        }
    }

    /// Reads a response document, any prefixes.
    pub fn from_xml(bytes: &[u8]) -> Result<Self, ClaimError> {
        let root = Element::parse_document(bytes)?;
        let root_path = "/ProcessClaimSpecificationResponse";
        if !root.is(RESPONDER_NS, "ProcessClaimSpecificationResponse") {
            return Err(ClaimError::WrongRoot {
                found: root.expanded_name(),
                expected: format!("{{{RESPONDER_NS}}}ProcessClaimSpecificationResponse"),
            });
        }
        let mut els = Vec::new();
        for n in &root.children {
            match n {
                Node::Element(e) => els.push(e),
                Node::Text(t) if t.trim().is_empty() => {}
                Node::Text(_) => {
                    return Err(ClaimError::UnexpectedText {
                        path: root_path.into(),
                    })
                }
            }
        }
        let mut it = els.into_iter().peekable();
        let code_el = match it.next() {
            Some(e) if e.is(RESPONDER_NS, "resultCode") => e,
            other => {
                return Err(ClaimError::Missing {
                    path: root_path.into(),
                    expected: "resultCode".into(),
                    found: other.map(|e| e.expanded_name()),
                })
            }
        };
        let result_code = match code_el.text().trim() {
            "OK" => ResultCode::Ok,
            "ERROR" => ResultCode::Error,
            "INFO" => ResultCode::Info,
            _ => {
                return Err(ClaimError::BadValue {
                    path: format!("{root_path}/resultCode"),
                    allowed: "OK, ERROR, INFO".into(),
                })
            }
        };
        let comment = match it.peek() {
            Some(e) if e.is(RESPONDER_NS, "comment") => {
                let t = e.text();
                it.next();
                Some(t)
            }
            _ => None,
        };
        let mut extensions = Vec::new();
        for e in it {
            if e.namespace.as_deref() == Some(RESPONDER_NS) || e.namespace.is_none() {
                return Err(ClaimError::Unexpected {
                    path: root_path.into(),
                    found: e.expanded_name(),
                });
            }
            extensions.push(e.clone());
        }
        Ok(ProcessClaimSpecificationResponse {
            result_code,
            comment,
            extensions,
        })
    }

    /// Writes the response document (UTF-8, with an XML declaration).
    pub fn to_xml(&self) -> String {
        let p = RESPONDER_PREFIX;
        let mut w = XmlWriter::new();
        w.out
            .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        w.open_with(p, "ProcessClaimSpecificationResponse", &[(p, RESPONDER_NS)]);
        w.open_with(p, "resultCode", &[]);
        w.text(self.result_code.as_str());
        w.close(p, "resultCode");
        if let Some(c) = &self.comment {
            w.open_with(p, "comment", &[]);
            w.text(c);
            w.close(p, "comment");
        }
        w.extensions(&self.extensions);
        w.close(p, "ProcessClaimSpecificationResponse");
        w.out.push('\n');
        w.out
    }
}
