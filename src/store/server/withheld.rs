//! The review queue's API ([`crate::store::withheld`]): the hub's side (`PUT /v1/review/{id}`,
//! `GET /v1/review/decisions`, `POST /v1/review/{id}/returned`) and the officials' side for the
//! command line (`GET /v1/review`, `GET /v1/review/{id}`, `POST /v1/review/{id}/decision`).
//! The staff pages decide through [`decide`] as the command line does.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use chrono::SecondsFormat;
use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::pki::Identity;
use crate::store::case::check_reason;
use crate::store::storage::PutOutcome;
use crate::store::withheld::{Decided, DecisionForHub, ReviewRequest, Verdict, Withheld};
use crate::store::StoreError;
use crate::validate::{RuleContext, Validator};

use super::respond::{error, internal, json_response, timed_out, Resp};
use super::Store;
use crate::net::body::{read_body, BodyError};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The associated data a withheld body is sealed under: never the same as a received basis's.
fn sealed_as(id: &str) -> String {
    format!("withheld/{id}")
}

/// Reads a JSON body of at most the store's limit.
async fn body_of(store: &Store, req: Request<Incoming>) -> Result<Bytes, Resp> {
    let max = store.cfg.max_body_bytes * 2;
    match read_body(req.into_body(), max, max, store.cfg.limits.body_timeout).await {
        Ok(b) => Ok(b),
        Err(BodyError::TimedOut) => Err(timed_out(store)),
        Err(BodyError::TooBig { .. }) => Err(super::respond::close_after(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than {max} bytes"),
        ))),
        Err(BodyError::Read(e)) => Err(error(
            StatusCode::BAD_REQUEST,
            format!("reading the body: {e}"),
        )),
    }
}

/// Runs blocking work (AES, the database, libxml2, the access log) off the reactor.
async fn blocking(
    f: impl FnOnce() -> Result<Resp, StoreError> + Send + 'static,
    what: &'static str,
) -> Resp {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => internal(e),
        Err(e) => internal(StoreError::task(what)(e)),
    }
}

/// `PUT /v1/review/{id}` (the hub): a basis this region's policy withheld, with why. Checked as
/// every delivery is (the store trusts nothing): valid, its id, and sent by this region.
pub(super) async fn put(store: &Arc<Store>, id: &str, req: Request<Incoming>) -> Resp {
    let body = match body_of(store, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let r: ReviewRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("not a review request: {e}"),
            )
        }
    };
    let Ok(doc) = B64.decode(r.document.as_bytes()) else {
        return error(StatusCode::BAD_REQUEST, "document: not base64");
    };
    let (s, id) = (store.clone(), id.to_string());
    blocking(move || accept(&s, &id, r, &doc), "taking a withheld basis").await
}

fn accept(store: &Store, id: &str, r: ReviewRequest, doc: &[u8]) -> Result<Resp, StoreError> {
    let report = Validator::with_schema(
        store.schema.clone(),
        RuleContext::new(crate::clock::today()),
    )
    .validate(doc);
    let Some(claim) = report.claim.filter(|_| report.findings.is_empty()) else {
        return Ok(json_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!({"error": "not a valid invoice basis", "findings": report.findings}),
        ));
    };
    let sender = claim.supplier_party.organisation_number().unwrap_or("");
    if claim.id.trim() != id || sender != store.cfg.org {
        return Ok(error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "basis {} from {sender:?}: this store reviews the bases of {} sent as their id",
                claim.id.trim(),
                store.cfg.org
            ),
        ));
    }
    let meta = super::intake::meta_of(store, id, &claim, doc, hex::encode(Sha256::digest(doc)));
    let item = Withheld {
        meta,
        why: r.why,
        decided: None,
        returned: false,
    };
    let sealed = store.body_key.seal(&sealed_as(id), doc);
    Ok(match store.storage.put_withheld(&item, &sealed)? {
        PutOutcome::Created(m) => json_response(StatusCode::CREATED, &m.receipt()),
        PutOutcome::Same(m) => json_response(StatusCode::OK, &m.receipt()),
        PutOutcome::Conflict(old) => super::respond::conflict(&old),
    })
}

/// `GET /v1/review/decisions` (the hub): every decision it has not yet marked returned, with
/// the document.
pub(super) async fn decisions(store: &Arc<Store>) -> Resp {
    let s = store.clone();
    blocking(
        move || {
            let mut out = Vec::new();
            for item in s.storage.list_withheld()? {
                let Some(decided) = item.decided.clone().filter(|_| !item.returned) else {
                    continue;
                };
                let (_, doc) = open(&s, &item.meta.id)?.ok_or_else(|| StoreError::Damaged {
                    path: s.cfg.data_dir.clone(),
                    message: format!("withheld basis {} vanished", item.meta.id),
                })?;
                out.push(DecisionForHub {
                    basis_id: item.meta.id.clone(),
                    sha256: item.meta.sha256.clone(),
                    document: B64.encode(doc),
                    decided,
                });
            }
            Ok(json_response(StatusCode::OK, &out))
        },
        "listing review decisions",
    )
    .await
}

/// `POST /v1/review/{id}/returned` (the hub): the decision is in the disclosure log.
pub(super) async fn returned(store: &Arc<Store>, id: &str) -> Resp {
    let (s, id) = (store.clone(), id.to_string());
    blocking(
        move || {
            Ok(match s.storage.withheld_returned(&id)? {
                Some(()) => json_response(StatusCode::OK, &json!({"returned": id})),
                None => error(StatusCode::NOT_FOUND, "no withheld basis with this id"),
            })
        },
        "marking a decision returned",
    )
    .await
}

/// A withheld basis decrypted (blocking); `None` when there is no such basis.
fn open(store: &Store, id: &str) -> Result<Option<(Withheld, Vec<u8>)>, StoreError> {
    let Some((item, sealed)) = store.storage.withheld(id)? else {
        return Ok(None);
    };
    let doc = store
        .body_key
        .open(&sealed_as(id), &sealed)
        .ok_or_else(|| StoreError::Undecryptable { id: id.to_string() })?;
    Ok(Some((item, doc)))
}

/// A withheld basis for an official: logged (durably) as read (`action`) before it is shown.
/// `None` when there is no such basis.
pub(super) fn read(
    store: &Store,
    who: &Identity,
    id: &str,
    action: &str,
) -> Result<Option<(Withheld, Vec<u8>)>, StoreError> {
    let Some((item, doc)) = open(store, id)? else {
        return Ok(None);
    };
    store.access.record_read(who, &item.meta, action)?;
    Ok(Some((item, doc)))
}

/// What came of an official's decision.
pub(super) enum Decision {
    Recorded(Decided),
    /// Decided before (by whom, what): a decision is made once.
    Already(Decided),
    NoSuchBasis,
    BadReason(&'static str),
}

/// Records `who`'s decision on `id`: the access log first (`review-<verdict>` with the reason,
/// naming the certificate), then the queue. A decision that could not be logged is not made.
pub(super) fn decide(
    store: &Store,
    who: &Identity,
    id: &str,
    verdict: Verdict,
    reason: &str,
) -> Result<Decision, StoreError> {
    let reason = match check_reason(reason) {
        Ok(r) => r.to_string(),
        Err(m) => return Ok(Decision::BadReason(m)),
    };
    let Some((item, _)) = store.storage.withheld(id)? else {
        return Ok(Decision::NoSuchBasis);
    };
    if let Some(earlier) = item.decided {
        return Ok(Decision::Already(earlier));
    }
    let action = format!("review-{}", verdict.as_str());
    store
        .access
        .record(who, &item.meta, &action, Some(&reason))?;
    let decided = Decided {
        verdict,
        by: who.id(),
        at: crate::clock::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        reason,
    };
    Ok(match store.storage.decide_withheld(id, &decided)? {
        None => Decision::NoSuchBasis,
        Some(Some(earlier)) => Decision::Already(earlier),
        Some(None) => {
            tracing::info!(who = %who.id(), basis = %id, verdict = verdict.as_str(), "review decided");
            Decision::Recorded(decided)
        }
    })
}

/// `GET /v1/review` (an official): the queue, without documents.
pub(super) async fn list(store: &Arc<Store>) -> Resp {
    let s = store.clone();
    blocking(
        move || Ok(json_response(StatusCode::OK, &s.storage.list_withheld()?)),
        "listing withheld bases",
    )
    .await
}

/// `GET /v1/review/{id}` (an official): why, the decision if any, and the document.
pub(super) async fn get(store: &Arc<Store>, who: &Identity, id: &str) -> Resp {
    let (s, who, id) = (store.clone(), who.clone(), id.to_string());
    blocking(
        move || {
            Ok(match read(&s, &who, &id, "review-get")? {
                Some((item, doc)) => json_response(
                    StatusCode::OK,
                    &json!({"withheld": item, "document": String::from_utf8_lossy(&doc)}),
                ),
                None => error(StatusCode::NOT_FOUND, "no withheld basis with this id"),
            })
        },
        "reading a withheld basis",
    )
    .await
}

#[derive(Deserialize)]
struct DecisionBody {
    verdict: String,
    reason: String,
}

/// `POST /v1/review/{id}/decision` (an official): `{"verdict": "release" |
/// "release-with-removals" | "keep", "reason": "…"}`.
pub(super) async fn post_decision(
    store: &Arc<Store>,
    who: &Identity,
    id: &str,
    req: Request<Incoming>,
) -> Resp {
    let body = match body_of(store, req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let d: DecisionBody = match serde_json::from_slice(&body) {
        Ok(d) => d,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("not a decision: {e}")),
    };
    let Some(verdict) = Verdict::parse(&d.verdict) else {
        return error(
            StatusCode::BAD_REQUEST,
            "verdict: release, release-with-removals or keep",
        );
    };
    let (s, who, id) = (store.clone(), who.clone(), id.to_string());
    blocking(
        move || {
            Ok(match decide(&s, &who, &id, verdict, &d.reason)? {
                Decision::Recorded(decided) => json_response(StatusCode::OK, &decided),
                Decision::Already(earlier) => json_response(
                    StatusCode::CONFLICT,
                    &json!({"error": format!("basis {id} was decided already"), "decided": earlier}),
                ),
                Decision::NoSuchBasis => {
                    error(StatusCode::NOT_FOUND, "no withheld basis with this id")
                }
                Decision::BadReason(m) => error(StatusCode::BAD_REQUEST, format!("reason: {m}")),
            })
        },
        "recording a review decision",
    )
    .await
}
