//! TLS for every part that speaks it — the store's server, the hub's deliveries, `fetch`, the
//! broker client: TLS 1.3 only, aws-lc-rs, certificates verified against the federation CA, and
//! one way of reading PEM files.
//!
//! The handshake is where "no certificate", "a certificate of another CA" and "an expired
//! certificate" are refused: webpki checks the chain and the validity period before any HTTP is
//! read. Authorisation (what a verified identity may do) belongs to the part that serves.
//! Errors name the file and what is wrong with it, never its content.
//!
//! Revocation ([`crl`]): with a CRL file, the verifiers also refuse what it lists, and pick up a
//! replaced file within its reload interval.

pub mod cert;
pub mod crl;

pub use crl::{CrlFile, DEFAULT_RELOAD};

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{aws_lc_rs, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// A certificate or key file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("TLS setup, {}: {message}", path.display())]
    Unusable { path: PathBuf, message: String },
}

fn unusable(path: &Path, message: impl std::fmt::Display) -> TlsError {
    TlsError::Unusable {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The crypto provider everything here uses. rustls cannot pick one by itself when the
/// dependency graph enables more than one, so it is named explicitly; the first call also
/// installs it as the process default, once, for the libraries that build a configuration
/// without naming one (lapin's).
pub fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER
        .get_or_init(|| {
            // Fails only if another default was installed first, which then stays.
            let _ = CryptoProvider::install_default(aws_lc_rs::default_provider());
            Arc::new(aws_lc_rs::default_provider())
        })
        .clone()
}

/// Every certificate in a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unusable(path, format!("not a PEM certificate file ({e})")))?;
    if certs.is_empty() {
        return Err(unusable(path, "holds no certificate"));
    }
    Ok(certs)
}

/// The private key in a PEM file (PKCS#8, SEC1 or PKCS#1). The error never quotes the file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = read(path)?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| unusable(path, "holds no usable private key"))
}

/// The PEM text of a PKCS#8 private key (`BEGIN PRIVATE KEY`), for a library that takes only
/// that form (lapin's TLS): any other key, or none, is refused here with the file's name rather
/// than as an opaque handshake failure later.
pub fn pkcs8_key_pem(path: &Path) -> Result<Vec<u8>, TlsError> {
    let pem = read(path)?;
    match PrivateKeyDer::from_pem_slice(&pem) {
        Ok(PrivateKeyDer::Pkcs8(_)) => Ok(pem),
        _ => Err(unusable(
            path,
            "the private key must be PKCS#8 PEM (BEGIN PRIVATE KEY)",
        )),
    }
}

/// A client configuration with the CRL its verifier reads, so that a holder of kept-alive
/// connections can tell when the list changed and connect again (a connection verified before a
/// revocation would otherwise go on being used).
#[derive(Debug, Clone)]
pub struct ClientTls {
    pub config: Arc<ClientConfig>,
    pub crl: Option<Arc<CrlFile>>,
}

impl ClientTls {
    /// Grows whenever the CRL list changes (0 without a CRL): connections made under an older
    /// value are to be closed.
    pub fn generation(&self) -> u64 {
        self.crl.as_ref().map_or(0, |c| c.generation())
    }
}

/// A root store holding the federation CA(s) of `ca`.
pub fn roots(ca: &Path) -> Result<Arc<RootCertStore>, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(ca)? {
        roots
            .add(cert)
            .map_err(|e| unusable(ca, format!("not a usable CA certificate ({e})")))?;
    }
    Ok(Arc::new(roots))
}

/// The server side: `cert`/`key`, client certificates required, chained to `ca` and not on
/// `crl`; HTTP/1.1; no session resumption (a resumed session would skip the check of the
/// client certificate against a CRL that changed since).
pub fn server_config(
    ca: &Path,
    cert: &Path,
    key: &Path,
    crl: Option<&Arc<CrlFile>>,
) -> Result<ServerConfig, TlsError> {
    let provider = provider();
    let verifier: Arc<dyn rustls::server::danger::ClientCertVerifier> = match crl {
        Some(crl) => Arc::new(crl::RevokingClientVerifier::new(
            roots(ca)?,
            provider.clone(),
            crl.clone(),
        )?),
        None => WebPkiClientVerifier::builder_with_provider(roots(ca)?, provider.clone())
            .build()
            .map_err(|e| unusable(ca, e))?,
    };
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| unusable(cert, e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(load_certs(cert)?, load_key(key)?)
        .map_err(|e| {
            unusable(
                cert,
                format!(
                    "certificate and key do not go together: {} is not the key of this \
                     certificate ({e})",
                    key.display()
                ),
            )
        })?;
    // HTTP/1.1: a refusal (403, 413) answered before the body is read reaches every client as
    // a plain response, where HTTP/2 clients (curl) report a reset stream instead.
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    cfg.session_storage = Arc::new(rustls::server::NoServerSessionStorage {});
    cfg.send_tls13_tickets = 0;
    Ok(cfg)
}

/// The client side: trusts servers chained to `ca` and not on `crl`, presents `cert`/`key` (or
/// nothing, which only a test of the refusal wants); HTTP/1.1. With a CRL, no session
/// resumption (a resumed session skips the server certificate).
pub fn client_config(
    ca: &Path,
    identity: Option<(&Path, &Path)>,
    crl: Option<&Arc<CrlFile>>,
) -> Result<ClientConfig, TlsError> {
    let provider = provider();
    let verifier: Arc<dyn rustls::client::danger::ServerCertVerifier> = match crl {
        Some(crl) => Arc::new(crl::RevokingServerVerifier::new(
            roots(ca)?,
            provider.clone(),
            crl.clone(),
        )?),
        None => WebPkiServerVerifier::builder_with_provider(roots(ca)?, provider.clone())
            .build()
            .map_err(|e| unusable(ca, e))?,
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| unusable(ca, e))?
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let mut cfg = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
            .map_err(|e| {
                unusable(
                    cert,
                    format!(
                        "certificate and key do not go together: {} is not the key of this \
                         certificate ({e})",
                        key.display()
                    ),
                )
            })?,
        None => builder.with_no_client_auth(),
    };
    if crl.is_some() {
        cfg.resumption = rustls::client::Resumption::disabled();
    }
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_that_is_not_pkcs8_is_refused_by_file_name_without_its_content() {
        let d = tempfile::tempdir().unwrap();
        let k = d.path().join("c.key");
        std::fs::write(&k, "-----BEGIN EC PRIVATE KEY-----\nc2VjcmV0\n").unwrap();
        let e = pkcs8_key_pem(&k).unwrap_err().to_string();
        assert!(e.contains("c.key") && e.contains("PKCS#8"), "{e}");
        assert!(!e.contains("c2VjcmV0"), "{e}");
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_naming_both_files() {
        let d = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let p = d.path().join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let a = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let b = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let ca = write("ca.pem", &a.cert.pem());
        let cert = write("a.pem", &a.cert.pem());
        let key = write("b.key", &b.signing_key.serialize_pem());
        let e = server_config(&ca, &cert, &key, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("a.pem") && e.contains("b.key"), "{e}");
        let e = client_config(&ca, Some((&cert, &key)), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("a.pem") && e.contains("b.key"), "{e}");
    }

    #[test]
    fn the_provider_is_made_once() {
        assert!(Arc::ptr_eq(&provider(), &provider()));
        assert!(CryptoProvider::get_default().is_some());
    }
}
