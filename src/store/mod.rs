//! The receiving region's restricted store: the place where invoice bases land, apart from the
//! finance system, readable only by the few people who handle out-of-county invoices, with every
//! read logged.
//!
//! - TLS is [`crate::tls`]'s: TLS 1.3 with client certificates verified against the federation
//!   CA (refuses no certificate, another CA, an expired certificate at the handshake);
//! - [`authz`] — what a verified certificate may do (the hub writes, listed staff of this region
//!   read, reviewers read the access log);
//! - [`server`] — the HTTPS API (`PUT`/`GET /v1/claims…`, `GET /v1/access-log`);
//! - [`storage`] — redb ([`crate::db`]), one transaction per delivery, durable before the
//!   receipt goes out;
//! - [`commit`] — group commit: deliveries in flight together share one flush;
//! - [`crypto`] — bodies sealed with AES-256-GCM under a key kept outside the data directory;
//! - [`access`] — the access log, the same tamper-evident log type as the disclosure log;
//! - [`withheld`] — manual review: a sending region's withheld bases, read and decided on by
//!   its own officials (`assessors`), the decision fetched by the hub;
//! - [`client`] — the HTTPS client `invoice-hub fetch` (and the hub, tests, benches) use;
//! - [`config`] — `store.toml`;
//! - `check` — `store --check`: the configuration read as a start would, without starting.

pub mod access;
pub mod authz;
pub mod case;
mod check;
pub mod client;
pub mod commit;
pub mod config;
pub mod crypto;
pub mod server;
pub mod storage;
pub mod withheld;

pub use check::check;
pub use client::{StoreClient, StoreClientError};
pub use config::StoreConfig;
pub use server::{Server, Store};
pub use storage::Receipt;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The body key's file name in `keys_dir`.
pub const BODY_KEY_FILE: &str = "body.key";

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
    /// The database failed (I/O, corruption the engine detected, in use by another process).
    #[error("store database: {0}")]
    Db(#[from] crate::db::DbError),
    /// A stored record does not decode: the database was damaged or written by another program.
    #[error("store database {path}: damaged: {message}")]
    Damaged { path: PathBuf, message: String },
    #[error("access log: {0}")]
    Audit(#[from] crate::audit::AuditError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The contract's schema could not be compiled.
    #[error("the contract's schema: {0}")]
    Schema(#[from] crate::validate::xsd::SchemaError),
    /// A blocking task (validation, a read, a verification) ended without an answer: it
    /// panicked. The request gets a 500; the store goes on.
    #[error("{what} did not finish: {source}")]
    Task {
        what: &'static str,
        source: tokio::task::JoinError,
    },
    /// The CPU work on a delivery (its check and seal, on a `crate::cpu` thread) panicked. The
    /// request gets a 500; the store goes on.
    #[error("{what} did not finish (a panic)")]
    Panicked { what: &'static str },
    /// A stored body does not decrypt with this store's body key.
    #[error("basis {id} does not decrypt with this store's body key (altered, or another key)")]
    Undecryptable { id: String },
    /// Requests still held the store when the shutdown's grace time ran out.
    #[error("the store was still in use {secs} s after shutdown began; not closed cleanly")]
    InUseAtShutdown { secs: u64 },
}

impl StoreError {
    /// A blocking task that did not finish.
    pub(crate) fn task(what: &'static str) -> impl FnOnce(tokio::task::JoinError) -> StoreError {
        move |source| StoreError::Task { what, source }
    }
}

impl From<crate::tls::TlsError> for StoreError {
    fn from(e: crate::tls::TlsError) -> Self {
        match e {
            crate::tls::TlsError::Read { path, source } => StoreError::Io { path, source },
            crate::tls::TlsError::Unusable { path, message } => StoreError::Tls { path, message },
        }
    }
}

impl StoreError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        StoreError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Makes the keys a store needs that `keys_dir` lacks: the body key and the access log's signing
/// and patient keys. Never overwrites one (a lost body key makes every stored basis unreadable).
/// Returns the files written.
pub fn init_keys(cfg: &StoreConfig) -> Result<Vec<PathBuf>, StoreError> {
    use crate::audit::keys::{keygen, PATIENT_KEY_FILE, PUBLIC_KEY_FILE, SIGNING_KEY_FILE};
    let dir = &cfg.keys_dir;
    std::fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| StoreError::io(dir, e))?;
    }
    let mut made = Vec::new();
    let body = dir.join(BODY_KEY_FILE);
    if crypto::create_secret_hex(&body, 32)? {
        made.push(body);
    }
    let log_files = [SIGNING_KEY_FILE, PUBLIC_KEY_FILE, PATIENT_KEY_FILE].map(|f| dir.join(f));
    match log_files.iter().filter(|p| p.exists()).count() {
        0 => {
            let out = keygen(dir)?;
            made.extend([out.signing_key, out.public_key, out.patient_key]);
        }
        3 => {}
        _ => {
            return Err(StoreError::Key {
                path: dir.clone(),
                message: format!(
                    "holds some but not all of {SIGNING_KEY_FILE}, {PUBLIC_KEY_FILE}, \
                     {PATIENT_KEY_FILE}; restore the missing ones rather than make new keys"
                ),
            })
        }
    }
    Ok(made)
}
