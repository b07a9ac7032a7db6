//! One function per kind of request. Each gets a caller whose permission `routes` has already
//! checked; a delivery's check and seal run on `crate::cpu`, what waits on the disk (the database,
//! the access log) on the blocking pool.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use crate::audit::Query;
use crate::pki::Identity;
use crate::store::storage::{ListQuery, PutOutcome};
use crate::store::StoreError;

use super::intake::{accept, Accepted};
use super::query::{param, Page};
use super::respond::{close_after, conflict, error, internal, json_response, timed_out, Resp};
use super::Store;
use crate::net::body::{drain_cap, read_body, BodyError};

/// `PUT /v1/claims/{id}`: the same bytes again get the same receipt, other bytes a `409`.
pub(super) async fn put_claim(store: &Arc<Store>, id: &str, req: Request<Incoming>) -> Resp {
    let max = store.cfg.max_body_bytes;
    let too_big = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than this store accepts ({max} bytes)"),
        )
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let cap = drain_cap(max);
    if declared.is_some_and(|n| n > cap as u64) {
        // Far too big to read and throw away: answer now and close the connection.
        return close_after(too_big());
    }
    let body = match read_body(req.into_body(), max, cap, store.cfg.limits.body_timeout).await {
        Ok(b) => b,
        Err(BodyError::TooBig { drained: true }) => return too_big(),
        Err(BodyError::TooBig { drained: false }) => return close_after(too_big()),
        Err(BodyError::Read(e)) => {
            return error(StatusCode::BAD_REQUEST, format!("reading the body: {e}"))
        }
        Err(BodyError::TimedOut) => return timed_out(store),
    };
    let sha256 = hex::encode(Sha256::digest(&body));

    // Already here? Answer from what is stored, without validating again.
    match store.storage.meta(id) {
        Ok(Some(old)) if old.sha256 == sha256 => {
            return json_response(StatusCode::OK, &old.receipt())
        }
        Ok(Some(old)) => return conflict(&old),
        Ok(None) => {}
        Err(e) => return internal(e),
    }

    let outcome = accept(store, Some(id.to_string()), body, sha256).await;
    match outcome {
        // `accept` flushed it: durable before the receipt goes out.
        Ok(Accepted::Stored(PutOutcome::Created(meta))) => {
            json_response(StatusCode::CREATED, &meta.receipt())
        }
        Ok(Accepted::Stored(PutOutcome::Same(meta))) => {
            json_response(StatusCode::OK, &meta.receipt())
        }
        Ok(Accepted::Stored(PutOutcome::Conflict(old))) => conflict(&old),
        Ok(Accepted::Invalid { id, findings }) => json_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!({
                "error": "not a valid invoice basis",
                "id": id,
                "findings": findings,
            }),
        ),
        Err(e) => internal(e),
    }
}

/// `GET /v1/claims/{id}`: the XML, once the read is durably in the access log.
pub(super) async fn get_claim(store: &Arc<Store>, who: &Identity, id: &str) -> Resp {
    let s = store.clone();
    let who = who.clone();
    let id = id.to_string();
    let r = tokio::task::spawn_blocking(move || -> Result<Option<Vec<u8>>, StoreError> {
        let Some((meta, sealed)) = s.storage.get(&id)? else {
            return Ok(None);
        };
        let plain = s
            .body_key
            .open(&id, &sealed)
            .ok_or_else(|| StoreError::Undecryptable { id: id.clone() })?;
        // Logged (durably) before anything is disclosed.
        s.access.record_read(&who, &meta, "get")?;
        Ok(Some(plain))
    })
    .await;
    match r {
        Ok(Ok(Some(xml))) => Response::builder()
            .status(StatusCode::OK)
            .header(CONTENT_TYPE, "application/xml")
            .body(Full::new(Bytes::from(xml)))
            .expect("a valid response"),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, "no basis with this id"),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(StoreError::task("reading a basis")(e)),
    }
}

#[derive(Serialize)]
struct Item<'a> {
    id: &'a str,
    seq: u64,
    sender: &'a str,
    received_at: &'a str,
    sha256: &'a str,
    size: u64,
    state: &'static str,
}

/// `GET /v1/claims`: metadata only, in arrival order, one page.
pub(super) fn list_claims(store: &Store, params: &[(String, String)]) -> Resp {
    let page = match Page::read(params, &["sender", "since", "until"]) {
        Ok(p) => p,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let q = ListQuery {
        sender: param(params, "sender").map(str::to_string),
        since: param(params, "since").map(str::to_string),
        until: param(params, "until").map(str::to_string),
        state: None,
        after: page.after.unwrap_or(0),
        limit: page.limit,
    };
    match store.storage.list(&q) {
        Ok(page) => {
            let items: Vec<Item> = page
                .items
                .iter()
                .map(|l| Item {
                    id: &l.meta.id,
                    seq: l.meta.seq,
                    sender: &l.meta.sender,
                    received_at: &l.meta.received_at,
                    sha256: &l.meta.sha256,
                    size: l.meta.size,
                    state: l.case.state.as_str(),
                })
                .collect();
            json_response(
                StatusCode::OK,
                &json!({ "items": items, "next_after": page.next_after }),
            )
        }
        Err(e) => internal(e),
    }
}

/// `GET /v1/access-log`: one page of the access log's entries.
pub(super) fn access_log(store: &Store, params: &[(String, String)]) -> Resp {
    let page = match Page::read(params, &["actor", "basis"]) {
        Ok(p) => p,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let q = Query {
        actor: param(params, "actor").map(str::to_string),
        basis: param(params, "basis").map(str::to_string),
        after: page.after,
        limit: page.limit,
        ..Default::default()
    };
    match store.access.query(&q) {
        Ok(r) => json_response(
            StatusCode::OK,
            &json!({
                "size": store.access.size(),
                "entries": r.entries,
                "next_after": r.next_after,
            }),
        ),
        Err(e) => internal(e),
    }
}

/// `GET /v1/access-log/verify`: the access log recomputed and checked, with a signed head.
pub(super) async fn verify_access_log(store: &Arc<Store>) -> Resp {
    let s = store.clone();
    let r = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
        let head = s.access.sign_head()?;
        let report = s.access.verify()?;
        Ok((report, head))
    })
    .await;
    match r {
        Ok(Ok((report, head))) => json_response(
            StatusCode::OK,
            &json!({ "ok": report.ok(), "report": report, "head": head }),
        ),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(StoreError::task("verifying the access log")(e)),
    }
}
