//! `store --check`: what a start would read, read without starting — the keys, the TLS material,
//! the schemas, the access log (a private copy: this region's, with this key, or not there yet) and
//! who may do what. Creates nothing and listens on nothing.

use crate::audit::keys::SIGNING_KEY_FILE;
use crate::audit::{AuditError, AuditLog, LogSigningKey, PatientKey};
use crate::validate::xsd::Schema;

use super::access::AccessLog;
use super::crypto::BodyKey;
use super::{StoreConfig, StoreError, BODY_KEY_FILE};

/// One line per part of the configuration, each checked as [`super::Server::bind`] checks it.
pub fn check(cfg: &StoreConfig) -> Result<Vec<String>, StoreError> {
    let mut found = Vec::new();
    BodyKey::load(&cfg.keys_dir.join(BODY_KEY_FILE))?;
    let signing = LogSigningKey::load(&cfg.keys_dir.join(SIGNING_KEY_FILE))?;
    let patient = PatientKey::load(&cfg.patient_key)?;
    found.push(format!(
        "the body key and the access log's signing key load from {}, the patient key from {} \
         (id {})",
        cfg.keys_dir.display(),
        cfg.patient_key.display(),
        patient.id()
    ));
    let crl = match &cfg.tls.crl {
        Some(p) => Some(crate::tls::CrlFile::open(p, cfg.tls.crl_reload)?),
        None => None,
    };
    crate::tls::server_config(&cfg.tls.ca, &cfg.tls.cert, &cfg.tls.key, crl.as_ref())?;
    found.push(format!(
        "TLS: {} with clients of {}, {}",
        cfg.tls.cert.display(),
        cfg.tls.ca.display(),
        match &cfg.tls.crl {
            Some(p) => format!(
                "revocations from {} (looked at every {} s)",
                p.display(),
                cfg.tls.crl_reload.as_secs()
            ),
            None => "no CRL: a revoked certificate is refused only once it expires".into(),
        }
    ));
    Schema::embedded()?;
    found.push("the contract's schemas compile".into());
    found.push(access_log(cfg, signing, &patient)?);
    let a = &cfg.access;
    found.push(format!(
        "access: {} writer(s), {} reader(s), {} reviewer(s); listens on {}",
        a.writers.len(),
        a.readers.len(),
        a.reviewers.len(),
        cfg.listen
    ));
    Ok(found)
}

/// The access log, read-only: this region's store's, signed with this key, or not there yet.
fn access_log(
    cfg: &StoreConfig,
    signing: LogSigningKey,
    patient: &PatientKey,
) -> Result<String, StoreError> {
    let dir = AccessLog::dir(&cfg.data_dir);
    // As evidence (a private copy): a check writes nothing, not even redb's commit at open.
    let log = match AuditLog::open_evidence(&dir) {
        Err(AuditError::NotFound(_)) => {
            return Ok(format!(
                "access log {}: none yet; the store creates it at start",
                dir.display()
            ))
        }
        opened => opened?,
    };
    if log.public_key() != signing.public() {
        return Err(StoreError::Config {
            path: cfg.keys_dir.join(SIGNING_KEY_FILE),
            message: format!(
                "the access log in {} is signed with key {}, this signing key's is {}",
                dir.display(),
                log.public_key().key_id(),
                signing.public().key_id()
            ),
        });
    }
    let want = format!("store-{}", cfg.org);
    if log.log_id() != want {
        return Err(StoreError::Config {
            path: dir,
            message: format!(
                "the access log belongs to {:?}, not {want:?} (another region's data directory?)",
                log.log_id()
            ),
        });
    }
    if let Some(held) = log.patient_key_id()?.filter(|h| *h != patient.id()) {
        return Err(StoreError::Config {
            path: cfg.patient_key.clone(),
            message: format!(
                "patient_key: the access log in {} hashes patients with the key of id {held}, \
                 this key has id {}",
                dir.display(),
                patient.id()
            ),
        });
    }
    Ok(format!(
        "access log {}: {want}, {} entries, signed with this key",
        dir.display(),
        log.size()
    ))
}
