//! The receiving region's restricted store: HTTPS with mutual TLS, bases encrypted at rest, every
//! read in its own tamper-evident access log.
//!
//! Not built yet beyond its parts: configuration, TLS, authorisation and body encryption.

pub mod authz;
pub mod config;
pub mod crypto;
pub mod tls;

pub use config::StoreConfig;

use std::path::{Path, PathBuf};

/// What can go wrong setting up or running a store. Messages name files and settings, never key
/// material or patient data.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("key file {path}: {message}")]
    Key { path: PathBuf, message: String },
    #[error("TLS setup, {path}: {message}")]
    Tls { path: PathBuf, message: String },
}

impl StoreError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
