//! The domain step of a delivery: the store trusts nothing it receives, so it validates the
//! basis again (XSD and the rules, with the same Swedish date as the hub), checks that the id in
//! the document is the one delivered and that the basis is addressed to this region, then seals
//! and stores it, durably, before a receipt goes out.

use std::sync::Arc;

use bytes::Bytes;
use chrono::SecondsFormat;

use crate::store::storage::{ClaimMeta, PutOutcome};
use crate::store::StoreError;
use crate::validate::{Finding, RuleContext, Validator};

use super::Store;

/// Rule id of the store's own checks on a delivery beyond the validator's.
pub(crate) const RULE_STORE: &str = "STORE";

pub(super) enum Accepted {
    Stored(PutOutcome),
    Invalid {
        id: Option<String>,
        findings: Vec<Finding>,
    },
}

/// What the store keeps beside a basis it takes (a delivery, a withheld basis for review):
/// ids, sizes, the list's facts and the patients' keyed hashes — never the patients.
pub(super) fn meta_of(
    store: &Store,
    id: &str,
    claim: &crate::claim::ClaimSpecification,
    body: &[u8],
    sha256: String,
) -> ClaimMeta {
    ClaimMeta {
        id: id.to_string(),
        seq: 0,
        sha256,
        received_at: crate::clock::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        sender: claim
            .supplier_party
            .organisation_number()
            .unwrap_or("")
            .to_string(),
        size: body.len() as u64,
        patients: store.access.patient_hashes(claim),
        invoice_id: claim.invoice_id.clone(),
        issue_date: Some(claim.issue_date.clone()),
        payable_amount: Some(claim.payable_amount.amount.clone()),
        lines: Some(
            claim
                .health_care_services_specification_line
                .iter()
                .map(|l| l.healthcare_performed.len() as u32)
                .sum(),
        ),
    }
}

/// Validates, seals and stores one delivery, durably. `id` is the id it was delivered under (a
/// `PUT`'s path); a SOAP call has none, and the document's own is used. The check and the seal
/// are CPU work (`crate::cpu`); the write and its flush wait on the disk, on the blocking pool,
/// where deliveries that commit together share one flush.
pub(super) async fn accept(
    store: &Arc<Store>,
    id: Option<String>,
    body: Bytes,
    sha256: String,
) -> Result<Accepted, StoreError> {
    let s = store.clone();
    let checked = crate::cpu::run(move || check(&s, id.as_deref(), &body, sha256))
        .await
        .map_err(|_| StoreError::Panicked {
            what: "checking a delivery",
        })?;
    let (meta, sealed) = match checked {
        Ok(kept) => kept,
        Err((id, findings)) => return Ok(Accepted::Invalid { id, findings }),
    };
    let s = store.clone();
    tokio::task::spawn_blocking(move || keep(&s, meta, &sealed))
        .await
        .map_err(StoreError::task("storing a delivery"))?
}

/// Why a delivery is refused: the document's own id, if it has one, and the findings.
type Refused = (Option<String>, Vec<Finding>);

/// Validates a delivery and seals it: what the store keeps of it, or why it is refused.
fn check(
    store: &Store,
    id: Option<&str>,
    body: &[u8],
    sha256: String,
) -> Result<(ClaimMeta, Vec<u8>), Refused> {
    let validator = Validator::with_schema(
        store.schema.clone(),
        // The same day as the hub's: the Swedish date (crate::clock).
        RuleContext::new(crate::clock::today()),
    );
    let report = validator.validate(body);
    let mut findings = report.findings;
    let id = match id.or(report.id.as_deref()) {
        Some(i) if crate::claim::basis_id_ok(i) => i.to_string(),
        _ => String::new(),
    };
    let id = id.as_str();
    if report.id.as_deref().is_some_and(|doc_id| doc_id != id) {
        findings.push(Finding::new(
            RULE_STORE,
            "/claimSpecification/id",
            format!(
                "the basis id in the document is {}, but it was delivered as {id}",
                report.id.as_deref().unwrap_or("")
            ),
        ));
    }
    let claim = match report.claim {
        Some(c) if findings.is_empty() => c,
        _ => {
            if findings.is_empty() {
                findings.push(Finding::new(
                    RULE_STORE,
                    "/",
                    "the document could not be read",
                ));
            }
            return Err((report.id, findings));
        }
    };
    let receiver = claim.customer_party.organisation_number().unwrap_or("");
    if receiver != store.cfg.org {
        let finding = Finding::new(
            RULE_STORE,
            "/claimSpecification/customerParty/identification",
            format!(
                "the basis is addressed to {receiver:?}; this is the store of {}",
                store.cfg.org
            ),
        );
        return Err((report.id, vec![finding]));
    }
    let meta = meta_of(store, id, &claim, body, sha256);
    let sealed = store.body_key.seal(id, body);
    Ok((meta, sealed))
}

/// Stores a checked delivery and returns once it is durable (blocking: the database).
fn keep(store: &Store, meta: ClaimMeta, sealed: &[u8]) -> Result<Accepted, StoreError> {
    let outcome = store.storage.put(meta, sealed)?;
    if matches!(outcome, PutOutcome::Created(_)) {
        // A blocking flush on this blocking thread. Deliveries that commit while a flush runs
        // share the next one (group commit): one fsync for all of them, not one each.
        store.storage.commit_blocking()?;
    }
    Ok(Accepted::Stored(outcome))
}
