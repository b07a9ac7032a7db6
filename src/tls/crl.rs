//! Revocation: a CRL file, reloaded when it changes, and the certificate verifiers that use it.
//!
//! A CRL is a file that an operator (or `invoice-hub pki revoke`) replaces. Every edge that
//! verifies certificates checks the file's modification time, size and inode at most once per
//! reload interval, on the next handshake or request after the interval has passed, and reads
//! it again when one of them changed. So a revoked certificate is refused within the interval
//! without a restart, and no thread polls. A replacement that cannot be read or parsed keeps
//! the last good list and is reported (naming the file): an edge never forgets revocations
//! because a copy went wrong.
//!
//! The verifiers are webpki's with the current CRLs, rebuilt when the list changes. A refusal
//! for revocation is logged with the certificate's identity (HSA-id or key fingerprint, issuer
//! and serial), never the certificate. Session resumption is off wherever a CRL is configured
//! (see [`super::server_config`]): a resumed session skips certificate verification.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, RootCertStore,
    SignatureScheme,
};

use super::cert::{normalise_dn, serial_hex, CertId};
use super::{unusable, TlsError};

/// How often an edge looks at its CRL file unless configured otherwise.
pub const DEFAULT_RELOAD: Duration = Duration::from_secs(10);

/// A CRL file and what it lists.
#[derive(Debug)]
pub struct CrlFile {
    path: PathBuf,
    interval: Duration,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    ders: Vec<CertificateRevocationListDer<'static>>,
    /// (issuer, serial) of every listed certificate, as [`CertId`] spells them.
    revoked: HashSet<(String, String)>,
    stamp: Option<Stamp>,
    checked: Instant,
    /// Grows with every list read; verifiers and kept-alive connections compare it.
    generation: u64,
}

/// What tells that the file was replaced or rewritten.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> std::io::Result<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path)?;
    Ok(Stamp {
        modified: m.modified().ok(),
        len: m.len(),
        inode: m.ino(),
    })
}

/// Reads every CRL in a PEM file (checked by parsing each one).
fn read(path: &Path) -> Result<Parsed, TlsError> {
    let pem = std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let ders = CertificateRevocationListDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| unusable(path, format!("not a PEM CRL file ({e})")))?;
    if ders.is_empty() {
        return Err(unusable(path, "holds no CRL (BEGIN X509 CRL)"));
    }
    let mut revoked = HashSet::new();
    for der in &ders {
        let (_, crl) = x509_parser::parse_x509_crl(der)
            .map_err(|e| unusable(path, format!("not a well-formed CRL ({e})")))?;
        let issuer = normalise_dn(&crl.issuer().to_string());
        for r in crl.iter_revoked_certificates() {
            revoked.insert((issuer.clone(), serial_hex(r.raw_serial())));
        }
    }
    Ok(Parsed { ders, revoked })
}

struct Parsed {
    ders: Vec<CertificateRevocationListDer<'static>>,
    revoked: HashSet<(String, String)>,
}

impl CrlFile {
    /// Reads `path` now (an edge does not start with a CRL it cannot read) and then at most
    /// every `interval`.
    pub fn open(path: &Path, interval: Duration) -> Result<Arc<CrlFile>, TlsError> {
        let stamp = stamp(path).map_err(|source| TlsError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let parsed = read(path)?;
        Ok(Arc::new(CrlFile {
            path: path.to_path_buf(),
            interval,
            state: Mutex::new(State {
                ders: parsed.ders,
                revoked: parsed.revoked,
                stamp: Some(stamp),
                checked: Instant::now(),
                generation: 1,
            }),
        }))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.checked.elapsed() >= self.interval {
            self.reload(&mut st);
        }
        st
    }

    /// Reads the file again if it changed; keeps the last good list if it cannot be read.
    fn reload(&self, st: &mut State) {
        st.checked = Instant::now();
        let now = stamp(&self.path).ok();
        if now.is_some() && now == st.stamp {
            return;
        }
        match read(&self.path) {
            Ok(parsed) => {
                st.ders = parsed.ders;
                st.revoked = parsed.revoked;
                st.stamp = now;
                st.generation += 1;
                tracing::info!(
                    crl = %self.path.display(),
                    revoked = st.revoked.len(),
                    "CRL reloaded"
                );
            }
            Err(e) => {
                tracing::error!("CRL not reloaded, the last good list stays in force: {e}");
            }
        }
    }

    /// The list's generation, after reloading it if due.
    pub fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Whether the CRL lists the certificate of `issuer` (normalised, as [`CertId`] has it) and
    /// `serial`, after reloading if due. For connections that outlive a handshake: a request on
    /// a kept-alive connection is checked again.
    pub fn is_revoked(&self, issuer: &str, serial: &str) -> bool {
        self.lock()
            .revoked
            .contains(&(issuer.to_string(), serial.to_string()))
    }

    fn current(&self) -> (u64, Vec<CertificateRevocationListDer<'static>>) {
        let st = self.lock();
        (st.generation, st.ders.clone())
    }
}

/// Logs a refusal for revocation by identity (the certificate itself never).
fn log_if_revoked<T>(r: &Result<T, Error>, end_entity: &CertificateDer<'_>, crl: &CrlFile) {
    if let Err(Error::InvalidCertificate(CertificateError::Revoked)) = r {
        match CertId::from_der(end_entity) {
            Ok(who) => tracing::warn!(
                identity = %who.id(),
                issuer = %who.issuer,
                serial = %who.serial,
                crl = %crl.path().display(),
                "certificate refused: revoked"
            ),
            Err(_) => tracing::warn!(crl = %crl.path().display(), "certificate refused: revoked"),
        }
    }
}

/// Builds a webpki verifier from the roots and a list of CRLs.
type Build<V> = fn(
    &Arc<RootCertStore>,
    &Arc<CryptoProvider>,
    Vec<CertificateRevocationListDer<'static>>,
) -> Result<Arc<V>, String>;

/// A webpki verifier, rebuilt whenever the CRL list's generation changes. A list that webpki
/// cannot use keeps the last verifier (and is reported).
#[derive(Debug)]
struct Current<V: ?Sized> {
    roots: Arc<RootCertStore>,
    provider: Arc<CryptoProvider>,
    crl: Arc<CrlFile>,
    build: Build<V>,
    current: Mutex<(u64, Arc<V>)>,
}

impl<V: ?Sized> Current<V> {
    fn new(
        roots: Arc<RootCertStore>,
        provider: Arc<CryptoProvider>,
        crl: Arc<CrlFile>,
        build: Build<V>,
    ) -> Result<Self, TlsError> {
        let (generation, crls) = crl.current();
        let verifier = build(&roots, &provider, crls).map_err(|e| unusable(crl.path(), e))?;
        Ok(Current {
            roots,
            provider,
            crl,
            build,
            current: Mutex::new((generation, verifier)),
        })
    }

    fn get(&self) -> Arc<V> {
        let generation = self.crl.generation();
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if cur.0 != generation {
            let (generation, crls) = self.crl.current();
            match (self.build)(&self.roots, &self.provider, crls) {
                Ok(verifier) => *cur = (generation, verifier),
                Err(e) => tracing::error!(
                    crl = %self.crl.path().display(),
                    "CRL not usable, the last good list stays in force: {e}"
                ),
            }
        }
        cur.1.clone()
    }
}

/// Client certificates verified against the roots and the current CRLs (a server's side).
#[derive(Debug)]
pub(crate) struct RevokingClientVerifier {
    hints: Vec<DistinguishedName>,
    inner: Current<dyn ClientCertVerifier>,
}

fn client_verifier(
    roots: &Arc<RootCertStore>,
    provider: &Arc<CryptoProvider>,
    crls: Vec<CertificateRevocationListDer<'static>>,
) -> Result<Arc<dyn ClientCertVerifier>, String> {
    WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
        .with_crls(crls)
        .build()
        .map_err(|e| e.to_string())
}

impl RevokingClientVerifier {
    pub(crate) fn new(
        roots: Arc<RootCertStore>,
        provider: Arc<CryptoProvider>,
        crl: Arc<CrlFile>,
    ) -> Result<Self, TlsError> {
        let inner = Current::new(roots, provider, crl, client_verifier)?;
        Ok(RevokingClientVerifier {
            hints: inner.get().root_hint_subjects().to_vec(),
            inner,
        })
    }

    fn verifier(&self) -> Arc<dyn ClientCertVerifier> {
        self.inner.get()
    }
}

impl ClientCertVerifier for RevokingClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let r = self
            .verifier()
            .verify_client_cert(end_entity, intermediates, now);
        log_if_revoked(&r, end_entity, &self.inner.crl);
        r
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.verifier().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.verifier().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.verifier().supported_verify_schemes()
    }
}

/// Server certificates verified against the roots and the current CRLs (a client's side: the
/// hub toward stores and producers).
#[derive(Debug)]
pub(crate) struct RevokingServerVerifier {
    inner: Current<WebPkiServerVerifier>,
}

fn server_verifier(
    roots: &Arc<RootCertStore>,
    provider: &Arc<CryptoProvider>,
    crls: Vec<CertificateRevocationListDer<'static>>,
) -> Result<Arc<WebPkiServerVerifier>, String> {
    WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
        .with_crls(crls)
        .build()
        .map_err(|e| e.to_string())
}

impl RevokingServerVerifier {
    pub(crate) fn new(
        roots: Arc<RootCertStore>,
        provider: Arc<CryptoProvider>,
        crl: Arc<CrlFile>,
    ) -> Result<Self, TlsError> {
        Ok(RevokingServerVerifier {
            inner: Current::new(roots, provider, crl, server_verifier)?,
        })
    }

    fn verifier(&self) -> Arc<WebPkiServerVerifier> {
        self.inner.get()
    }
}

impl ServerCertVerifier for RevokingServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let r = self.verifier().verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        log_if_revoked(&r, end_entity, &self.inner.crl);
        r
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.verifier().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.verifier().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.verifier().supported_verify_schemes()
    }
}
