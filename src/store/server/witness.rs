//! The store as a witness of the hub's log: `GET` the head it holds, `POST` a newer one with its
//! consistency proof ([`crate::audit::witness`] judges it). A refusal is `409` with the reason,
//! and an error in the store's log: it means someone tried to make the witness forget.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::json;

use crate::audit::witness::{Refusal, Submission};
use crate::store::StoreError;

use super::respond::{error, internal, json_response, timed_out, Resp};
use super::Store;
use crate::net::body::{read_body, BodyError};

/// A head and its proof are a few KB; a log of 2^40 entries has a 40-hash proof.
const MAX_SUBMISSION: usize = 64 * 1024;

fn refused(r: &Refusal) -> Resp {
    let status = match r {
        Refusal::UnknownLog(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::CONFLICT,
    };
    error(status, r)
}

fn witness_error(e: crate::audit::witness::WitnessError) -> Resp {
    internal(StoreError::Config {
        path: e.path,
        message: e.why,
    })
}

/// `GET /v1/witness/{log_id}`: the held head, `404` when none is held yet or the log is not one
/// this store witnesses.
pub(super) fn held(store: &Arc<Store>, log_id: &str) -> Resp {
    match store.witness.held(log_id) {
        Ok(Ok(Some(h))) => json_response(StatusCode::OK, &h),
        Ok(Ok(None)) => error(
            StatusCode::NOT_FOUND,
            format!("this witness holds no head of log {log_id:?} yet"),
        ),
        Ok(Err(r)) => refused(&r),
        Err(e) => witness_error(e),
    }
}

/// `POST /v1/witness/{log_id}`: judged, kept if it extends the held head.
pub(super) async fn submit(store: &Arc<Store>, log_id: &str, req: Request<Incoming>) -> Resp {
    let within = store.cfg.limits.body_timeout;
    let body = match read_body(req.into_body(), MAX_SUBMISSION, MAX_SUBMISSION, within).await {
        Ok(b) => b,
        Err(BodyError::TooBig { .. }) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "a submission is at most 64 KiB",
            )
        }
        Err(BodyError::Read(e)) => {
            return error(StatusCode::BAD_REQUEST, format!("reading the body: {e}"))
        }
        Err(BodyError::TimedOut) => return timed_out(store),
    };
    let sub: Submission = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("not a submission ({{\"head\": …, \"consistency\": …}}): {e}"),
            )
        }
    };
    let s = store.clone();
    let id = log_id.to_string();
    let judged = tokio::task::spawn_blocking(move || s.witness.submit(&id, &sub)).await;
    match judged {
        Ok(Ok(Ok(accepted))) => json_response(
            StatusCode::OK,
            &json!({ "log_id": log_id, "accepted": accepted }),
        ),
        Ok(Ok(Err(r))) => refused(&r),
        Ok(Err(e)) => witness_error(e),
        Err(e) => internal(StoreError::task("judging a witness submission")(e)),
    }
}
