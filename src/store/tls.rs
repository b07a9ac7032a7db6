//! TLS for the store and its clients: TLS 1.3 only, aws-lc-rs, client certificates required and
//! verified against the federation CA.
//!
//! The handshake is where "no certificate", "a certificate of another CA" and "an expired
//! certificate" are refused: webpki checks the chain and the validity period before any HTTP is
//! read. Authorisation (what a verified identity may do) is [`super::authz`]'s.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{aws_lc_rs, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use super::StoreError;

/// The crypto provider everything here uses. rustls cannot pick one by itself when the
/// dependency graph enables more than one, so it is named explicitly, and also installed as the
/// process default for anything that builds a config without naming one.
pub fn provider() -> Arc<CryptoProvider> {
    let p = Arc::new(aws_lc_rs::default_provider());
    let _ = CryptoProvider::install_default(aws_lc_rs::default_provider());
    p
}

fn tls_err(path: &Path, message: impl std::fmt::Display) -> StoreError {
    StoreError::Tls {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Every certificate in a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, StoreError> {
    let pem = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_err(path, format!("not a PEM certificate file ({e})")))?;
    if certs.is_empty() {
        return Err(tls_err(path, "holds no certificate"));
    }
    Ok(certs)
}

/// The private key in a PEM file (PKCS#8, SEC1 or PKCS#1). The error never quotes the file.
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, StoreError> {
    let pem = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
    PrivateKeyDer::from_pem_slice(&pem).map_err(|_| tls_err(path, "holds no usable private key"))
}

/// A root store holding the federation CA(s) of `ca`.
pub fn roots(ca: &Path) -> Result<Arc<RootCertStore>, StoreError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(ca)? {
        roots
            .add(cert)
            .map_err(|e| tls_err(ca, format!("not a usable CA certificate ({e})")))?;
    }
    Ok(Arc::new(roots))
}

/// The server side: the store's certificate, client certificates required and chained to `ca`.
pub fn server_config(ca: &Path, cert: &Path, key: &Path) -> Result<ServerConfig, StoreError> {
    let provider = provider();
    let verifier = WebPkiClientVerifier::builder_with_provider(roots(ca)?, provider.clone())
        .build()
        .map_err(|e| tls_err(ca, e))?;
    let mut cfg = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| tls_err(cert, e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(load_certs(cert)?, load_key(key)?)
        .map_err(|e| {
            tls_err(
                cert,
                format!("certificate and key do not go together ({e})"),
            )
        })?;
    // HTTP/1.1: a refusal (403, 413) answered before the body is read reaches every client as
    // a plain response, where HTTP/2 clients (curl) report a reset stream instead.
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// The client side: trusts servers chained to `ca`, presents `cert`/`key` (or nothing, which
/// only a test of the refusal wants).
pub fn client_config(
    ca: &Path,
    identity: Option<(&Path, &Path)>,
) -> Result<ClientConfig, StoreError> {
    let provider = provider();
    let verifier = WebPkiServerVerifier::builder_with_provider(roots(ca)?, provider.clone())
        .build()
        .map_err(|e| tls_err(ca, e))?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| tls_err(ca, e))?
        .with_webpki_verifier(verifier);
    let mut cfg = match identity {
        Some((cert, key)) => builder
            .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
            .map_err(|e| {
                tls_err(
                    cert,
                    format!("certificate and key do not go together ({e})"),
                )
            })?,
        None => builder.with_no_client_auth(),
    };
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}
