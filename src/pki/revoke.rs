//! `pki revoke`: put a development certificate on the federation CA's CRL (`crl.pem`).
//!
//! The CRL already in the directory is read back and extended, so revocations add up and its
//! number grows by one each time. It is written to a temporary file and renamed over the old
//! one: every edge that reloads it (store, hub, broker) sees either the old list or the new one,
//! never half a file.

use std::path::{Path, PathBuf};

use rcgen::RevocationReason;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateRevocationListDer;

use super::ca::{write_file, Ca, Revoked};
use super::{Identity, PkiError};

/// The CRL file of a development PKI directory.
pub const CRL_FILE: &str = "crl.pem";

/// Days a CRL written here is valid for (its nextUpdate).
pub const CRL_DAYS: u32 = 30;

/// What `revoke` did.
#[derive(Debug)]
pub struct Revocation {
    pub crl: PathBuf,
    /// Who the certificate was (names and ids only).
    pub who: Identity,
    /// False when the certificate was on the CRL already (the CRL is then written unchanged
    /// but for its number and dates).
    pub added: bool,
    /// Certificates the CRL lists now.
    pub listed: usize,
    pub number: u64,
}

/// The reasons `pki revoke --reason` takes (RFC 5280 names).
pub fn parse_reason(s: &str) -> Option<RevocationReason> {
    Some(match s {
        "unspecified" => RevocationReason::Unspecified,
        "keyCompromise" => RevocationReason::KeyCompromise,
        "affiliationChanged" => RevocationReason::AffiliationChanged,
        "superseded" => RevocationReason::Superseded,
        "cessationOfOperation" => RevocationReason::CessationOfOperation,
        "privilegeWithdrawn" => RevocationReason::PrivilegeWithdrawn,
        _ => return None,
    })
}

/// Writes `dir/crl.pem` listing nothing yet, unless the directory has one (an existing CRL is
/// never emptied by making certificates again).
pub fn ensure_crl(dir: &Path, ca: &Ca) -> Result<(), PkiError> {
    let path = dir.join(CRL_FILE);
    if path.exists() {
        return Ok(());
    }
    write_crl(&path, &ca.crl(&[], 1, CRL_DAYS)?)
}

/// Revokes the certificate in `cert` with the CA of `dir`.
pub fn revoke(
    dir: &Path,
    cert: &Path,
    reason: Option<RevocationReason>,
) -> Result<Revocation, PkiError> {
    let ca = Ca::load(dir)?;
    let der = std::fs::read(cert).map_err(|e| PkiError::io(cert, e))?;
    let der =
        rustls::pki_types::CertificateDer::from_pem_slice(&der).map_err(|_| PkiError::Parse {
            path: cert.to_path_buf(),
            what: "PEM certificate",
        })?;
    let who = Identity::from_der(&der)?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| PkiError::Certificate(e.to_string()))?;
    let serial = parsed.raw_serial().to_vec();

    let path = dir.join(CRL_FILE);
    let (mut listed, number) = if path.exists() {
        read_crl(&path)?
    } else {
        (Vec::new(), 0)
    };
    let added = !listed.iter().any(|r| strip(&r.serial) == strip(&serial));
    if added {
        listed.push(Revoked {
            serial,
            at: time::OffsetDateTime::now_utc(),
            reason,
        });
    }
    let number = number + 1;
    write_crl(&path, &ca.crl(&listed, number, CRL_DAYS)?)?;
    Ok(Revocation {
        crl: path,
        who,
        added,
        listed: listed.len(),
        number,
    })
}

fn strip(serial: &[u8]) -> &[u8] {
    let start = serial.iter().position(|b| *b != 0).unwrap_or(serial.len());
    &serial[start..]
}

/// The entries and the number of an existing CRL.
fn read_crl(path: &Path) -> Result<(Vec<Revoked>, u64), PkiError> {
    let bad = || PkiError::Parse {
        path: path.to_path_buf(),
        what: "CRL (PEM, X509 CRL)",
    };
    let pem = std::fs::read(path).map_err(|e| PkiError::io(path, e))?;
    let der = CertificateRevocationListDer::from_pem_slice(&pem).map_err(|_| bad())?;
    let (_, crl) = x509_parser::parse_x509_crl(&der).map_err(|_| bad())?;
    let number = crl
        .crl_number()
        .and_then(|n| u64::try_from(n.clone()).ok())
        .unwrap_or(0);
    let listed = crl
        .iter_revoked_certificates()
        .map(|r| Revoked {
            serial: r.raw_serial().to_vec(),
            at: time::OffsetDateTime::from_unix_timestamp(r.revocation_date.timestamp())
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
            reason: r.reason_code().and_then(|(_, c)| reason_of(c.0)),
        })
        .collect();
    Ok((listed, number))
}

fn reason_of(code: u8) -> Option<RevocationReason> {
    Some(match code {
        0 => RevocationReason::Unspecified,
        1 => RevocationReason::KeyCompromise,
        2 => RevocationReason::CaCompromise,
        3 => RevocationReason::AffiliationChanged,
        4 => RevocationReason::Superseded,
        5 => RevocationReason::CessationOfOperation,
        6 => RevocationReason::CertificateHold,
        9 => RevocationReason::PrivilegeWithdrawn,
        10 => RevocationReason::AaCompromise,
        _ => return None,
    })
}

/// Writes the CRL beside its final name and renames it into place.
fn write_crl(path: &Path, pem: &str) -> Result<(), PkiError> {
    let tmp = path.with_extension("pem.new");
    write_file(&tmp, pem, 0o644)?;
    std::fs::rename(&tmp, path).map_err(|e| PkiError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::ca::{Subject, Usage, Validity};
    use crate::pki::Role;

    #[test]
    fn revocations_add_up_and_the_number_grows() {
        let d = tempfile::tempdir().unwrap();
        let ca = Ca::generate("test CA", 10).unwrap();
        write_file(&d.path().join("ca.pem"), ca.cert_pem(), 0o644).unwrap();
        write_file(&d.path().join("ca.key"), ca.key_pem(), 0o600).unwrap();
        ensure_crl(d.path(), &ca).unwrap();
        let mut files = Vec::new();
        for n in ["a", "b"] {
            let s = Subject {
                role: Role::Reader,
                org: "2321000016",
                cn: n,
                hsa_id: Some("SE2321000016-X"),
            };
            let issued = ca.issue(&s, Usage::Client, Validity::days(2)).unwrap();
            let f = d.path().join(format!("{n}.pem"));
            write_file(&f, &issued.cert_pem, 0o644).unwrap();
            files.push(f);
        }
        let r = revoke(d.path(), &files[0], parse_reason("keyCompromise")).unwrap();
        assert!(r.added && r.listed == 1 && r.number == 2, "{r:?}");
        let r = revoke(d.path(), &files[0], None).unwrap();
        assert!(!r.added && r.listed == 1 && r.number == 3, "{r:?}");
        let r = revoke(d.path(), &files[1], None).unwrap();
        assert!(r.added && r.listed == 2 && r.number == 4, "{r:?}");
        let (listed, _) = read_crl(&d.path().join(CRL_FILE)).unwrap();
        assert_eq!(listed[0].reason, Some(RevocationReason::KeyCompromise));
    }

    #[test]
    fn a_replaced_crl_is_read_within_the_interval_and_a_broken_one_keeps_the_last() {
        let d = tempfile::tempdir().unwrap();
        let ca = Ca::generate("test CA", 10).unwrap();
        let s = Subject {
            role: Role::Reader,
            org: "2321000016",
            cn: "staff",
            hsa_id: Some("SE2321000016-READER1"),
        };
        let issued = ca.issue(&s, Usage::Client, Validity::days(2)).unwrap();
        let der =
            rustls::pki_types::CertificateDer::from_pem_slice(issued.cert_pem.as_bytes()).unwrap();
        let who = Identity::from_der(&der).unwrap();
        let path = d.path().join("crl.pem");
        write_file(&path, &ca.crl(&[], 1, 5).unwrap(), 0o644).unwrap();

        let crl = crate::tls::CrlFile::open(&path, std::time::Duration::ZERO).unwrap();
        assert!(!crl.is_revoked(&who.issuer, &who.serial));
        let g = crl.generation();
        let (_, parsed) = x509_parser::parse_x509_certificate(&der).unwrap();
        let listed = [Revoked {
            serial: parsed.raw_serial().to_vec(),
            at: time::OffsetDateTime::now_utc(),
            reason: None,
        }];
        write_file(&path, &ca.crl(&listed, 2, 5).unwrap(), 0o644).unwrap();
        assert!(crl.is_revoked(&who.issuer, &who.serial));
        assert!(crl.generation() > g);

        std::fs::write(&path, "garbage").unwrap();
        assert!(
            crl.is_revoked(&who.issuer, &who.serial),
            "a broken file must not forget revocations"
        );
        assert!(crate::tls::CrlFile::open(&path, std::time::Duration::ZERO).is_err());
    }
}
