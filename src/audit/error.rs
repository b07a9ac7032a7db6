//! Errors of the disclosure log. They name files, entries and keys by *name*, never a secret, a
//! patient id or key material.

use std::path::PathBuf;

/// What can go wrong opening, writing, reading or proving the log.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The database failed (I/O, corruption the engine itself detected, in use elsewhere).
    #[error("disclosure log storage: {0}")]
    Storage(#[from] crate::db::DbError),
    /// A file (key, head, proof, export) could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A key file exists but does not hold a usable key.
    #[error("{path}: not a usable {what}: {why}")]
    BadKey {
        path: PathBuf,
        what: &'static str,
        why: String,
    },
    /// keygen refuses to replace an existing key.
    #[error("{0}: already exists; refusing to overwrite a key")]
    WouldOverwrite(PathBuf),
    /// The log directory belongs to another log (other instance id or signing key).
    #[error("disclosure log {path}: {why}")]
    Mismatch { path: PathBuf, why: String },
    /// A stored entry or document could not be decoded.
    #[error("{what}: {why}")]
    Decode { what: String, why: String },
    /// A record was refused before it was written.
    #[error("record refused: {0}")]
    BadRecord(String),
    /// Appending needs the signing key; this log was opened read-only.
    #[error("the disclosure log was opened read-only (no signing key)")]
    ReadOnly,
    /// An entry or tree size that the log does not have.
    #[error("{0}")]
    NotFound(String),
    /// Entries past the last signed head that the log's seal does not prove to be its writer's:
    /// a writer refuses to open (and so to sign) such a log.
    #[error(
        "disclosure log {path}: entries {from}..{to} (past the last signed head) are not proven \
         to be this log's: {why}. Nothing was signed. Compare the log with its witnesses \
         (`invoice-hub audit verify --witness URL`) or a verified copy before starting again"
    )]
    UnprovenTail {
        path: PathBuf,
        from: u64,
        to: u64,
        why: String,
    },
    /// A proof, head or signature did not check.
    #[error("proof check failed: {0}")]
    ProofFailed(String),
}

impl AuditError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        AuditError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn decode(what: impl Into<String>, why: impl ToString) -> Self {
        AuditError::Decode {
            what: what.into(),
            why: why.to_string(),
        }
    }
}
