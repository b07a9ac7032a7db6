//! `[tls]` of a server's configuration: its certificate and key, the CA its clients' certificates
//! must chain to, and the CRL that revokes them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// A server's TLS files, paths resolved.
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub crl: Option<PathBuf>,
    /// How often the CRL file is looked at (`crl_reload_secs`, default 10).
    pub crl_reload: Duration,
}

/// `[tls]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServerTls {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
    #[serde(default)]
    crl: Option<PathBuf>,
    #[serde(default)]
    crl_reload_secs: Option<u64>,
}

impl RawServerTls {
    /// Relative paths taken from `base` (the configuration file's directory).
    pub(crate) fn resolve(self, base: &Path) -> ServerTls {
        let rel = |p: PathBuf| if p.is_relative() { base.join(p) } else { p };
        ServerTls {
            ca: rel(self.ca),
            cert: rel(self.cert),
            key: rel(self.key),
            crl: self.crl.map(rel),
            crl_reload: self
                .crl_reload_secs
                .map_or(crate::tls::DEFAULT_RELOAD, Duration::from_secs),
        }
    }

    /// The server's rustls configuration and the CRL it checks clients against.
    pub(crate) fn load(
        tls: &ServerTls,
    ) -> Result<
        (
            rustls::ServerConfig,
            Option<std::sync::Arc<crate::tls::CrlFile>>,
        ),
        crate::tls::TlsError,
    > {
        let crl = match &tls.crl {
            Some(p) => Some(crate::tls::CrlFile::open(p, tls.crl_reload)?),
            None => None,
        };
        let config = crate::tls::server_config(&tls.ca, &tls.cert, &tls.key, crl.as_ref())?;
        Ok((config, crl))
    }
}
