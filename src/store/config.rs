//! `store.toml`: where a region's store listens, keeps its data and keys, and who may do what.
//!
//! Relative paths are relative to the configuration file, so a deployment directory can be moved
//! as a whole. The keys must live outside the data directory: a
//! copy of the data directory alone must reveal nothing.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::StoreError;

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
    pub max_body_bytes: usize,
    /// Deliveries that arrive together share one flush of the database (default). `false`
    /// flushes each delivery by itself, as the store did before: kept so `make bench` can put
    /// the two side by side in one run.
    pub group_commit: bool,
    pub tls: TlsFiles,
    pub access: AccessConfig,
}

/// The store's server certificate and the federation CA that client certificates must chain to.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Who may do what, by certificate common name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    /// May `PUT` bases: the hub.
    pub writers: BTreeSet<String>,
    /// May list and read bases: the region's staff who handle out-of-county invoices.
    #[serde(default)]
    pub readers: BTreeSet<String>,
    /// May read the access log.
    #[serde(default)]
    pub reviewers: BTreeSet<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    org: String,
    listen: SocketAddr,
    data_dir: PathBuf,
    keys_dir: PathBuf,
    max_body_bytes: Option<usize>,
    group_commit: Option<bool>,
    tls: RawTls,
    access: AccessConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
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
        if raw.org.len() != 10 || !raw.org.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(format!(
                "org must be the region's 10-digit organisation number, not '{}'",
                raw.org
            )));
        }
        if raw.access.writers.is_empty() {
            return Err(bad(
                "[access] writers is empty: nobody could deliver (list the hub's certificate name)"
                    .into(),
            ));
        }
        let cfg = StoreConfig {
            org: raw.org,
            listen: raw.listen,
            data_dir: abs(raw.data_dir),
            keys_dir: abs(raw.keys_dir),
            max_body_bytes: raw.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY),
            group_commit: raw.group_commit.unwrap_or(true),
            tls: TlsFiles {
                ca: abs(raw.tls.ca),
                cert: abs(raw.tls.cert),
                key: abs(raw.tls.key),
            },
            access: raw.access,
        };
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
[access]
writers = ["invoice-hub"]
readers = ["staff-2321000016-reader"]
reviewers = ["reviewer-2321000016"]
"#;

    #[test]
    fn relative_paths_are_relative_to_the_file() {
        let c = StoreConfig::parse(GOOD, Path::new("/etc/ih/store.toml")).unwrap();
        assert_eq!(c.data_dir, Path::new("/etc/ih/data"));
        assert_eq!(c.tls.ca, Path::new("/etc/ih/pki/ca.pem"));
        assert_eq!(c.max_body_bytes, DEFAULT_MAX_BODY);
        assert!(c.access.readers.contains("staff-2321000016-reader"));
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
