//! Development certificates for the federation: one CA, and a certificate for every party of the
//! exchange (the broker, the hub, each region, each region's store, its staff and reviewers, an
//! auditor).
//!
//! Every party authenticates by certificate, and every permission names a certificate by its
//! subject's SERIALNUMBER (HSA-id) or its key ([`Pin`]), never by its common name. [`identity`] owns that naming convention in both directions: it builds a subject for a
//! role and reads the role back out of a presented certificate, so issuing and checking cannot
//! drift apart.
//!
//! This is a *development* PKI: the CA key sits in a file beside the certificates. A production
//! federation brings its own CA; nothing else in invoice-hub depends on how certificates were made.

pub mod ca;
pub mod dev;
pub mod identity;
pub mod pin;
pub mod revoke;

pub use ca::{Ca, Issued, Subject, Usage, Validity};
pub use dev::{generate, DevOptions, DevPki, Written};
pub use identity::{dev_hsa_id, Identity, Role};
pub use pin::{Pin, PinError};
pub use revoke::{revoke, Revocation, CRL_FILE};

/// What can go wrong making or reading development certificates. Messages name the file, never
/// key material.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("{path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("certificate generation failed: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("{path}: not a usable {what}")]
    Parse {
        path: std::path::PathBuf,
        what: &'static str,
    },
    #[error("unknown region '{0}': give a county code (01, 13, …) or a 10-digit organisation number of one of the 21 regions")]
    UnknownRegion(String),
    #[error("no regions given: name at least one (county code or organisation number)")]
    NoRegions,
    #[error("certificate is not well-formed X.509: {0}")]
    Certificate(String),
}

impl PkiError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        PkiError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
