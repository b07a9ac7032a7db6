//! Why a document could not be read into the model. Every variant names the element path, so a
//! sender can find the problem without anyone logging the document's content.

use thiserror::Error;

/// A document that is not a readable ProcessClaimSpecification (or response). Messages carry
/// element paths and names only, never element values: values may be patient identifiers.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ClaimError {
    /// The bytes are not UTF-8; the contract's documents always are.
    #[error("the document is not valid UTF-8 (byte {offset})")]
    Utf8 { offset: usize },
    /// The XML itself is broken (not well-formed, unknown entity, unbound prefix, …).
    #[error("not well-formed XML at {path} (byte {offset}): {reason}")]
    Syntax {
        path: String,
        offset: u64,
        reason: String,
    },
    /// A DOCTYPE is never accepted: it is how entity expansion attacks begin.
    #[error("a DOCTYPE declaration is not allowed (byte {offset})")]
    Doctype { offset: u64 },
    /// Deeper than any real document; refused so a hostile one cannot exhaust the stack.
    #[error("elements nested deeper than {limit} levels at {path}")]
    TooDeep { path: String, limit: usize },
    /// The root element is not the one the contract names.
    #[error("the root element is {found}, expected {expected}")]
    WrongRoot { found: String, expected: String },
    /// A required element is missing where the contract's sequence demands it.
    #[error("{path}: required element {expected} is missing{}", found.as_ref().map(|f| format!(" (found {f} instead)")).unwrap_or_default())]
    Missing {
        path: String,
        expected: String,
        found: Option<String>,
    },
    /// An element the contract does not allow at this place (wrong name, order or namespace).
    #[error("{path}: element {found} is not allowed here")]
    Unexpected { path: String, found: String },
    /// Character data where the contract only allows elements.
    #[error("{path}: text is not allowed directly inside this element")]
    UnexpectedText { path: String },
    /// An attribute on a contract element; the contract's elements carry none.
    #[error("{path}: attribute {name} is not allowed on this element")]
    UnexpectedAttribute { path: String, name: String },
    /// A value outside a closed list the model needs to understand (e.g. resultCode).
    #[error("{path}: value is not one of {allowed}")]
    BadValue { path: String, allowed: String },
}

impl ClaimError {
    /// The element path the error is about (`/` for the document as a whole), so a report can
    /// place it like any other finding.
    pub fn path(&self) -> &str {
        match self {
            ClaimError::Syntax { path, .. }
            | ClaimError::TooDeep { path, .. }
            | ClaimError::Missing { path, .. }
            | ClaimError::Unexpected { path, .. }
            | ClaimError::UnexpectedText { path }
            | ClaimError::UnexpectedAttribute { path, .. }
            | ClaimError::BadValue { path, .. } => path,
            ClaimError::Utf8 { .. } | ClaimError::Doctype { .. } | ClaimError::WrongRoot { .. } => {
                "/"
            }
        }
    }
}
