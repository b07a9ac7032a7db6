//! Shared helpers for the audit integration tests: synthetic records and a keyed log.
#![allow(dead_code)]

use chrono::{DateTime, Duration, Utc};
use invoice_hub::audit::{
    AuditLog, Digest, Event, LogConfig, LogSigningKey, PatientKey, PolicyRef, Record,
};
use std::path::Path;

pub(crate) const T0: &str = "2026-01-01T00:00:00Z";

pub(crate) fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(T0)
        .unwrap()
        .with_timezone(&Utc)
}

pub(crate) fn signing_key() -> LogSigningKey {
    LogSigningKey::from_seed([42; 32])
}

pub(crate) fn patient_key() -> PatientKey {
    PatientKey::from_bytes(&[7; 32]).unwrap()
}

/// A 12-digit personal number for patient `p` (not Luhn-valid: the log never checks it).
pub(crate) fn personal_number(p: u64) -> String {
    format!("19{:010}", p)
}

pub(crate) fn open(dir: &Path, checkpoint_every: u64) -> AuditLog {
    AuditLog::open(
        dir,
        LogConfig {
            log_id: "hub-test".into(),
            signing_key: signing_key(),
            checkpoint_every,
            patient_key_id: None,
        },
    )
    .unwrap()
}

/// Record `i`: one minute apart, event cycling, patient `i % patients`, sender/receiver from a
/// small set.
pub(crate) fn record(i: u64, patients: u64) -> Record {
    let events = [Event::Received, Event::Disclosed, Event::Delivered];
    let mut r = Record::new(
        t0() + Duration::minutes(i as i64),
        events[(i % 3) as usize],
        format!("B-{i:07}"),
        format!("23210000{:02}", i % 4),
        format!("23210001{:02}", i % 5),
        "hub-test",
    );
    r.patients
        .push(patient_key().hash(&personal_number(i % patients)));
    r.received_sha256 = Some(Digest([(i % 251) as u8; 32]));
    r.policy = Some(PolicyRef {
        id: "default".into(),
        version: "1".into(),
        board_decision: "RS 2026/12".into(),
    });
    r
}
