//! The store's access log: every read of a basis, in the same tamper-evident log type as the
//! hub's disclosure log ([`crate::audit`]), so the same tools query, prove and verify it.
//!
//! An entry is appended (and flushed) *before* the basis is sent: a read that could not be
//! logged does not happen. Patients appear only as keyed hashes under the federation's patient
//! key (`store.toml` `patient_key`), computed when the basis arrived, so an auditor's question
//! about one patient joins these reads with the hub's disclosures.

use std::path::{Path, PathBuf};

use crate::audit::keys::SIGNING_KEY_FILE;
use crate::audit::{
    AuditLog, Digest, Event, LogConfig, LogSigningKey, PatientHash, PatientKey, Query, QueryResult,
    Record, SignedTreeHead, VerifyOptions, VerifyReport,
};
use crate::claim::ClaimSpecification;
use crate::pki::Identity;

use super::storage::ClaimMeta;
use super::StoreError;

/// The directory of the access log inside the data directory.
pub const ACCESS_LOG_DIR: &str = "access-log";

/// A store's access log and the key its patient hashes are made with.
pub struct AccessLog {
    log: AuditLog,
    patient_key: PatientKey,
    org: String,
}

impl AccessLog {
    /// Opens (or creates) the log in `data_dir/access-log`, signing with the key in `keys_dir`
    /// and hashing patients with `patient_key` (the federation's; the log records its id).
    pub fn open(
        data_dir: &Path,
        keys_dir: &Path,
        patient_key: &Path,
        org: &str,
    ) -> Result<AccessLog, StoreError> {
        let signing = LogSigningKey::load(&keys_dir.join(SIGNING_KEY_FILE))?;
        let patient_key = PatientKey::load(patient_key)?;
        let log = AuditLog::open(
            &Self::dir(data_dir),
            LogConfig::new(format!("store-{org}"), signing).with_patient_key(&patient_key),
        )?;
        Ok(AccessLog {
            log,
            patient_key,
            org: org.to_string(),
        })
    }

    pub fn dir(data_dir: &Path) -> PathBuf {
        data_dir.join(ACCESS_LOG_DIR)
    }

    /// The keyed hashes (hex) of the patients on a basis, deduplicated, in document order.
    pub fn patient_hashes(&self, claim: &ClaimSpecification) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for line in &claim.health_care_services_specification_line {
            let id = &line.patient_information.patient_identity.extension;
            let h = self.patient_key.hash(id).to_hex();
            if !out.contains(&h) {
                out.push(h);
            }
        }
        out
    }

    /// Appends (durably) that `who` read basis `meta` with `action`; returns the entry's seq.
    pub fn record_read(
        &self,
        who: &Identity,
        meta: &ClaimMeta,
        action: &str,
    ) -> Result<u64, StoreError> {
        self.record(who, meta, action, None)
    }

    /// Appends (durably) what `who` did with basis `meta`: a read (`get`, `page`, `print`,
    /// `xml`) or a state change (`processed`, `disputed` with its `reason`); returns the seq.
    pub fn record(
        &self,
        who: &Identity,
        meta: &ClaimMeta,
        action: &str,
        reason: Option<&str>,
    ) -> Result<u64, StoreError> {
        Ok(self.log.append(&self.entry(who, meta, action, reason))?.seq)
    }

    /// Appends (durably, in one batch) that `who` exported `metas` (`action` `export`).
    pub fn record_export(&self, who: &Identity, metas: &[ClaimMeta]) -> Result<(), StoreError> {
        let records: Vec<Record> = metas
            .iter()
            .map(|m| self.entry(who, m, "export", None))
            .collect();
        for chunk in records.chunks(512) {
            self.log.append_batch(chunk)?;
        }
        Ok(())
    }

    fn entry(
        &self,
        who: &Identity,
        meta: &ClaimMeta,
        action: &str,
        reason: Option<&str>,
    ) -> Record {
        let mut r = Record::new(
            crate::clock::now(),
            Event::Accessed,
            meta.id.clone(),
            meta.sender.clone(),
            self.org.clone(),
            self.log.log_id().to_string(),
        );
        r.patients = meta
            .patients
            .iter()
            .filter_map(|h| PatientHash::from_hex(h).ok())
            .collect();
        r.received_sha256 = Digest::from_hex(&meta.sha256).ok();
        // The identity, not the name: two certificates with one CN never read as one reader.
        r.actor = Some(who.id());
        r.action = Some(action.to_string());
        r.reason = reason.map(str::to_string);
        r
    }

    pub fn query(&self, q: &Query) -> Result<QueryResult, StoreError> {
        Ok(self.log.query(q)?)
    }

    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        Ok(self.log.verify(&VerifyOptions::default())?)
    }

    /// A signed tree head over everything logged so far.
    pub fn sign_head(&self) -> Result<SignedTreeHead, StoreError> {
        Ok(self.log.sign_head()?)
    }

    pub fn size(&self) -> u64 {
        self.log.size()
    }

    /// Flushes and signs a final head.
    pub fn close(self) -> Result<(), StoreError> {
        self.log.close()?;
        Ok(())
    }
}
