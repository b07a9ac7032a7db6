//! The federation's certificate authority: makes or loads the CA and issues leaf certificates.

use std::path::Path;

use chrono::{Datelike, NaiveDate};
use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, ExtendedKeyUsagePurpose,
    IsCa, Issuer, KeyPair, KeyUsagePurpose, RevocationReason, RevokedCertParams, SanType,
    SerialNumber,
};

use super::identity::{subject, Role, FEDERATION_ORG};
use super::PkiError;

/// When a certificate is valid, by calendar day (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: NaiveDate,
    pub not_after: NaiveDate,
}

impl Validity {
    /// From yesterday (tolerates clocks a little behind) for `days` days.
    pub fn days(days: u32) -> Validity {
        // A UTC date: X.509 validity is in UTC.
        let today = crate::clock::now().date_naive();
        Validity {
            not_before: today - chrono::Days::new(1),
            not_after: today + chrono::Days::new(u64::from(days)),
        }
    }

    /// A year that ended a year ago: a certificate a verifier must refuse as expired. Exists so
    /// tests can show that expiry is enforced with an otherwise valid certificate.
    pub fn expired() -> Validity {
        let today = crate::clock::now().date_naive();
        Validity {
            not_before: today - chrono::Days::new(730),
            not_after: today - chrono::Days::new(365),
        }
    }
}

impl Validity {
    /// Sets the validity of `params` (midnight UTC of each day).
    fn apply(&self, params: &mut CertificateParams) {
        let (b, a) = (self.not_before, self.not_after);
        params.not_before = rcgen::date_time_ymd(b.year(), b.month() as u8, b.day() as u8);
        params.not_after = rcgen::date_time_ymd(a.year(), a.month() as u8, a.day() as u8);
    }
}

/// What a certificate is for: decides its extended key usage and subject alternative names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    /// A TLS client (the hub, a region, staff, an auditor).
    Client,
    /// A TLS server on this machine (SAN `localhost` and `127.0.0.1`). It is also allowed as a
    /// client: RabbitMQ's readiness probe in `broker/ctl` presents the broker's own certificate,
    /// and Erlang checks the client EKU.
    LocalServer,
}

/// Whom a certificate is for.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub role: Role,
    pub org: &'a str,
    pub cn: &'a str,
    /// The holder's HSA-id, written as the subject's SERIALNUMBER.
    pub hsa_id: Option<&'a str>,
}

/// A certificate and its private key, PEM (the key PKCS#8, `BEGIN PRIVATE KEY`, as lapin needs).
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
    pub validity: Validity,
}

/// A certificate authority able to issue.
pub struct Ca {
    cert_pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn random_serial() -> SerialNumber {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    b[0] &= 0x7f; // positive
    b[0] |= 0x01; // and no leading zero octet to strip
    SerialNumber::from_slice(&b)
}

impl Ca {
    /// A new self-signed CA (ECDSA P-256) valid for `days`.
    pub fn generate(cn: &str, days: u32) -> Result<Ca, PkiError> {
        let key = KeyPair::generate()?;
        let validity = Validity::days(days);
        let mut params = CertificateParams::default();
        params.distinguished_name = subject(Role::Ca, FEDERATION_ORG, cn, None);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        validity.apply(&mut params);
        params.serial_number = Some(random_serial());
        let cert = params.self_signed(&key)?;
        Ok(Ca {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            issuer: Issuer::new(params, key),
        })
    }

    /// Loads `ca.pem` and `ca.key` from `dir`.
    pub fn load(dir: &Path) -> Result<Ca, PkiError> {
        let cert_path = dir.join("ca.pem");
        let key_path = dir.join("ca.key");
        let cert_pem =
            std::fs::read_to_string(&cert_path).map_err(|e| PkiError::io(&cert_path, e))?;
        let key_pem = std::fs::read_to_string(&key_path).map_err(|e| PkiError::io(&key_path, e))?;
        let key = KeyPair::from_pem(&key_pem).map_err(|_| PkiError::Parse {
            path: key_path,
            what: "PKCS#8 private key",
        })?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key).map_err(|_| PkiError::Parse {
            path: cert_path,
            what: "CA certificate",
        })?;
        Ok(Ca {
            cert_pem,
            key_pem,
            issuer,
        })
    }

    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// A CRL (PEM) of this CA listing `revoked`, numbered `number`, valid for `days`.
    pub fn crl(&self, revoked: &[Revoked], number: u64, days: u32) -> Result<String, PkiError> {
        let now = time::OffsetDateTime::now_utc();
        let params = CertificateRevocationListParams {
            this_update: now,
            next_update: now + time::Duration::days(i64::from(days.max(1))),
            crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
            issuing_distribution_point: None,
            revoked_certs: revoked
                .iter()
                .map(|r| RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&r.serial),
                    revocation_time: r.at,
                    reason_code: r.reason,
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.issuer)?.pem()?)
    }

    /// Issues a certificate with a fresh key for `cn` in role `role` at organisation `org`, with
    /// `hsa_id` as the subject's SERIALNUMBER (none: the certificate is known by its key only).
    pub fn issue(
        &self,
        who: &Subject<'_>,
        usage: Usage,
        validity: Validity,
    ) -> Result<Issued, PkiError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::default();
        params.distinguished_name = subject(who.role, who.org, who.cn, who.hsa_id);
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.use_authority_key_identifier_extension = true;
        validity.apply(&mut params);
        params.serial_number = Some(random_serial());
        match usage {
            Usage::Client => {
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            }
            Usage::LocalServer => {
                params.extended_key_usages = vec![
                    ExtendedKeyUsagePurpose::ServerAuth,
                    ExtendedKeyUsagePurpose::ClientAuth,
                ];
                params.subject_alt_names = vec![
                    SanType::DnsName("localhost".try_into()?),
                    SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])),
                ];
            }
        }
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            validity,
        })
    }
}

/// One certificate on a CRL.
#[derive(Debug, Clone)]
pub struct Revoked {
    /// The certificate's serial number, as its DER integer's content octets.
    pub serial: Vec<u8>,
    pub at: time::OffsetDateTime,
    pub reason: Option<RevocationReason>,
}

/// Writes a certificate (`<stem>.pem`, 0644) and its key (`<stem>.key`, 0600) into `dir`.
pub fn write_pair(dir: &Path, stem: &str, issued: &Issued) -> Result<(), PkiError> {
    write_file(&dir.join(format!("{stem}.pem")), &issued.cert_pem, 0o644)?;
    write_file(&dir.join(format!("{stem}.key")), &issued.key_pem, 0o600)
}

/// Writes `content` with `mode`; a key is never readable by others, not even for a moment.
pub fn write_file(path: &Path, content: &str, mode: u32) -> Result<(), PkiError> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)
        .map_err(|e| PkiError::io(path, e))?;
    f.write_all(content.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| PkiError::io(path, e))?;
    // The umask may have narrowed a certificate's mode; set it exactly.
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| PkiError::io(path, e))
}
