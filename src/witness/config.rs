//! `witness.toml`: where a lone witness listens, keeps its heads, which logs it keeps and who
//! may send heads. Relative paths are taken from the file's directory.
//!
//! ```toml
//! listen = "0.0.0.0:8447"
//! data_dir = "heads"
//! writers = ["hsa:SE0000000000-HUB"]        # who may send signed heads
//! [logs]                                    # log id → the public key its heads are signed with
//! "hub-a" = "keys/hub-a-log-signing.pub"
//! [tls]
//! ca = "pki/ca.pem"
//! cert = "pki/witness.pem"
//! key = "pki/witness.key"
//! crl = "pki/crl.pem"
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::Deserialize;

use crate::net::{Limits, RawLimits, RawServerTls, ServerTls};
use crate::pki::Pin;

/// A lone witness's configuration, paths resolved.
#[derive(Debug, Clone)]
pub struct WitnessConfig {
    pub listen: SocketAddr,
    /// Where the held heads (and the record of refusals) are kept.
    pub data_dir: PathBuf,
    /// Who may send heads.
    pub writers: Vec<Pin>,
    /// Log id → its public key file.
    pub logs: BTreeMap<String, PathBuf>,
    pub tls: ServerTls,
    pub limits: Limits,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    listen: SocketAddr,
    data_dir: PathBuf,
    writers: Vec<Pin>,
    logs: BTreeMap<String, PathBuf>,
    tls: RawServerTls,
    #[serde(default)]
    limits: RawLimits,
}

impl WitnessConfig {
    /// Reads and checks `witness.toml`; errors name the file and the field.
    pub fn load(path: &Path) -> anyhow::Result<WitnessConfig> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let raw: Raw = toml::from_str(&text).with_context(|| format!("{}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let rel = |p: PathBuf| if p.is_relative() { base.join(p) } else { p };
        if raw.writers.is_empty() {
            bail!(
                "{}: `writers` is empty: nobody could send a head",
                path.display()
            );
        }
        if let Some(bad) = raw
            .logs
            .keys()
            .find(|id| !crate::audit::witness::log_id_ok(id))
        {
            bail!(
                "{}: `logs.{bad}`: not a log id (letters, digits, '-', '_', '.')",
                path.display()
            );
        }
        Ok(WitnessConfig {
            listen: raw.listen,
            data_dir: rel(raw.data_dir),
            writers: raw.writers,
            logs: raw.logs.into_iter().map(|(k, v)| (k, rel(v))).collect(),
            tls: raw.tls.resolve(base),
            limits: raw.limits.resolve().map_err(anyhow::Error::msg)?,
        })
    }
}
