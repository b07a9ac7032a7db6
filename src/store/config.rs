//! `store.toml`: where a region's store listens, keeps its data and keys, and who may do what.
//!
//! Relative paths are relative to the configuration file, so a deployment directory can be moved
//! as a whole. The keys must live outside the data directory: a
//! copy of the data directory alone must reveal nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::StoreError;
pub use crate::net::Limits;
use crate::net::RawLimits;
use crate::pki::Pin;

/// Default largest body accepted by `PUT /v1/claims/{id}` (the hub's own limit is the same order).
pub const DEFAULT_MAX_BODY: usize = 8 * 1024 * 1024;

/// A store's configuration, paths resolved.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// The organisation number of the region this store belongs to.
    pub org: String,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// The store's secrets, outside `data_dir`: `body.key` (AES-256-GCM for bodies at rest),
    /// and the access log's `log-signing.key`, `log-signing.pub` and `patient-hmac.key` (the
    /// names `invoice-hub audit keygen` uses). `invoice-hub store --init` makes missing ones.
    pub keys_dir: PathBuf,
    /// The patient key the access log hashes patients with: the federation's (the hub's
    /// `[audit] patient_key`), so that an auditor's question about one patient joins the hub's
    /// disclosures and every store's reads. Default: `keys_dir/patient-hmac.key`, a key of the
    /// store's own, whose hashes join nothing else.
    pub patient_key: PathBuf,
    pub max_body_bytes: usize,
    /// Connections that cannot be held hostage, also by an authenticated client: the request
    /// headers must arrive within `header_timeout`, a body within `body_timeout`, and one
    /// identity holds at most `max_connections_per_identity` connections at once.
    pub limits: Limits,
    /// Deliveries that arrive together share one flush of the database (default). `false`
    /// flushes each delivery by itself, as the store did before: kept so `make bench` can put
    /// the two side by side in one run.
    pub group_commit: bool,
    pub tls: TlsFiles,
    pub access: AccessConfig,
    /// The logs this store witnesses (log id → the public key their heads are signed with):
    /// the hub sends its signed heads, the store keeps the latest that extends what it holds.
    pub witness: BTreeMap<String, PathBuf>,
}

/// The store's server certificate and the federation CA that client certificates must chain to.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The CA's revocation list: clients it lists are refused at the handshake and on every
    /// request of a connection opened before they were listed.
    pub crl: Option<PathBuf>,
    /// How often the CRL file is looked at for a replacement.
    pub crl_reload: Duration,
}

/// Who may do what, each certificate named by HSA-id or key fingerprint ([`Pin`]); a bare
/// common name is refused when the file is read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    /// May `PUT` bases: the hub.
    pub writers: BTreeSet<Pin>,
    /// May list and read bases: the region's staff who handle out-of-county invoices.
    #[serde(default)]
    pub readers: BTreeSet<Pin>,
    /// May read the access log.
    #[serde(default)]
    pub reviewers: BTreeSet<Pin>,
    /// May read the bases this region's policy withheld and decide on them (the individual harm
    /// assessment, menprövning): the region's named officials. Only a store run for a sending
    /// region has any.
    #[serde(default)]
    pub assessors: BTreeSet<Pin>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    org: String,
    listen: SocketAddr,
    data_dir: PathBuf,
    keys_dir: PathBuf,
    patient_key: Option<PathBuf>,
    max_body_bytes: Option<usize>,
    group_commit: Option<bool>,
    #[serde(default)]
    limits: RawLimits,
    tls: RawTls,
    access: AccessConfig,
    #[serde(default)]
    witness: RawWitness,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWitness {
    #[serde(default)]
    logs: BTreeMap<String, PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    crl: Option<PathBuf>,
    crl_reload_secs: Option<u64>,
}

impl StoreConfig {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<StoreConfig, StoreError> {
        let text = std::fs::read_to_string(path).map_err(|e| StoreError::io(path, e))?;
        Self::parse(&text, path)
    }

    /// Parses configuration text; `path` names the file in errors and anchors relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<StoreConfig, StoreError> {
        let raw: Raw = toml::from_str(text).map_err(|e| StoreError::Config {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let abs = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let bad = |message: String| StoreError::Config {
            path: path.to_path_buf(),
            message,
        };
        let bad_id = |id: &str| StoreError::Config {
            path: path.to_path_buf(),
            message: format!(
                "[witness] logs: {id:?} is not a log id (letters, digits, '-', '_', '.')"
            ),
        };
        if raw.org.len() != 10 || !raw.org.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(format!(
                "org must be the region's 10-digit organisation number, not '{}'",
                raw.org
            )));
        }
        if raw.access.writers.is_empty() {
            return Err(bad(
                "[access] writers is empty: nobody could deliver (list the hub's certificate, hsa:…)"
                    .into(),
            ));
        }
        let cfg = StoreConfig {
            org: raw.org,
            listen: raw.listen,
            data_dir: abs(raw.data_dir),
            patient_key: raw.patient_key.map_or_else(
                || abs(raw.keys_dir.join(crate::audit::keys::PATIENT_KEY_FILE)),
                abs,
            ),
            keys_dir: abs(raw.keys_dir),
            max_body_bytes: raw.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY),
            limits: raw.limits.resolve().map_err(bad)?,
            group_commit: raw.group_commit.unwrap_or(true),
            tls: TlsFiles {
                ca: abs(raw.tls.ca),
                cert: abs(raw.tls.cert),
                key: abs(raw.tls.key),
                crl: raw.tls.crl.map(abs),
                crl_reload: raw
                    .tls
                    .crl_reload_secs
                    .map_or(crate::tls::DEFAULT_RELOAD, Duration::from_secs),
            },
            access: raw.access,
            witness: raw
                .witness
                .logs
                .into_iter()
                .map(|(id, key)| (id, abs(key)))
                .collect(),
        };
        if let Some(bad) = cfg
            .witness
            .keys()
            .find(|id| !crate::audit::witness::log_id_ok(id))
        {
            return Err(bad_id(bad));
        }
        if inside(&cfg.keys_dir, &cfg.data_dir) || inside(&cfg.data_dir, &cfg.keys_dir) {
            return Err(bad(format!(
                "keys_dir {} and data_dir {} overlap: a copy of the data directory would carry \
                 the keys to its own contents; keep them apart",
                cfg.keys_dir.display(),
                cfg.data_dir.display()
            )));
        }
        Ok(cfg)
    }
}

/// Whether `p` is (lexically, or after resolving what exists) under `dir`.
fn inside(p: &Path, dir: &Path) -> bool {
    let norm = |x: &Path| -> PathBuf {
        // Resolve the longest existing ancestor, keep the rest as written.
        let mut existing = x.to_path_buf();
        let mut rest = Vec::new();
        while !existing.exists() {
            match (existing.parent(), existing.file_name()) {
                (Some(parent), Some(name)) => {
                    rest.push(name.to_os_string());
                    existing = parent.to_path_buf();
                }
                _ => break,
            }
        }
        let mut out = existing.canonicalize().unwrap_or(existing);
        for n in rest.into_iter().rev() {
            out.push(n);
        }
        out
    };
    norm(p).starts_with(norm(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
org = "2321000016"
listen = "127.0.0.1:0"
data_dir = "data"
keys_dir = "keys"
[tls]
ca = "pki/ca.pem"
cert = "pki/store-2321000016.pem"
key = "pki/store-2321000016.key"
crl = "pki/crl.pem"
[access]
writers = ["hsa:SE0000000000-HUB"]
readers = ["hsa:SE2321000016-READER1"]
reviewers = ["sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"]
[witness]
logs = { "hub-a" = "pki/hub-a-log.pub" }
"#;

    #[test]
    fn relative_paths_are_relative_to_the_file() {
        let c = StoreConfig::parse(GOOD, Path::new("/etc/ih/store.toml")).unwrap();
        assert_eq!(c.data_dir, Path::new("/etc/ih/data"));
        assert_eq!(c.tls.ca, Path::new("/etc/ih/pki/ca.pem"));
        assert_eq!(c.max_body_bytes, DEFAULT_MAX_BODY);
        assert!(c
            .access
            .readers
            .contains(&"hsa:SE2321000016-READER1".parse().unwrap()));
        assert_eq!(c.tls.crl.as_deref(), Some(Path::new("/etc/ih/pki/crl.pem")));
        assert_eq!(c.witness["hub-a"], Path::new("/etc/ih/pki/hub-a-log.pub"));
    }

    #[test]
    fn a_permission_by_common_name_is_refused_with_the_file_and_the_reason() {
        let text = GOOD.replace(
            "\"hsa:SE2321000016-READER1\"",
            "\"staff-2321000016-reader\"",
        );
        let e = StoreConfig::parse(&text, Path::new("/etc/ih/store.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("store.toml") && e.contains("readers"), "{e}");
        assert!(e.contains("common name alone") && e.contains("hsa:"), "{e}");
    }

    #[test]
    fn keys_inside_the_data_directory_are_refused_by_name() {
        let text = GOOD.replace("keys_dir = \"keys\"", "keys_dir = \"data/keys\"");
        let e = StoreConfig::parse(&text, Path::new("/etc/ih/store.toml")).unwrap_err();
        assert!(e.to_string().contains("keys_dir"), "{e}");
    }

    #[test]
    fn unknown_keys_and_bad_org_are_named() {
        let e = StoreConfig::parse(&format!("{GOOD}\nfoo = 1\n"), Path::new("s.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("s.toml") && e.contains("foo"), "{e}");
        let e = StoreConfig::parse(
            &GOOD.replace("2321000016\"\nlisten", "12\"\nlisten"),
            Path::new("s.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("organisation number"), "{e}");
    }
}
