//! The record both log benches append (`benches/audit.rs`, `make bench`'s log floor): shaped
//! like the hub's (received, disclosed, delivered in turn; a patient, digests, a policy).

use chrono::{DateTime, Duration, Utc};
use invoice_hub::audit::{Digest, Event, PatientKey, PolicyRef, Record};

fn t0() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

pub(crate) fn record(i: u64, pk: &PatientKey) -> Record {
    let mut r = Record::new(
        t0() + Duration::seconds(i as i64),
        [Event::Received, Event::Disclosed, Event::Delivered][(i % 3) as usize],
        format!("B-{i:09}"),
        format!("23210000{:02}", i % 21),
        format!("23210001{:02}", (i / 21) % 21),
        "hub-bench",
    );
    r.patients.push(pk.hash(&format!("19{:010}", i % 50_000)));
    r.received_sha256 = Some(Digest([(i % 251) as u8; 32]));
    r.disclosed_sha256 = Some(Digest([(i % 241) as u8; 32]));
    r.policy = Some(PolicyRef {
        id: "region-default".into(),
        version: "3".into(),
        board_decision: "RS 2026/114".into(),
    });
    r.matched_rules = vec!["policy:psychiatry".into()];
    r.removed_paths = vec!["/processClaimSpecification/patientInformation/diagnosis".into()];
    r
}
