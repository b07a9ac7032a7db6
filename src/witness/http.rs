//! A witness's two requests over HTTP, as every witness answers them (a region's store, or
//! `invoice-hub witness` alone): `GET /v1/witness/{log_id}` the head it holds, `POST` a newer one
//! with its consistency proof ([`crate::audit::witness`] judges it). A refusal is `409` with the
//! reason, and an error in the witness's log: it means someone tried to make the witness forget.

use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::{Request, StatusCode};
use serde_json::json;

use crate::audit::witness::{Refusal, Submission, Witness, WitnessError};
use crate::net::body::{read_body, BodyError};
use crate::net::respond::{close_after, error, json_response, Resp};

/// A head and its proof are a few KB; a log of 2^40 entries has a 40-hash proof.
const MAX_SUBMISSION: usize = 64 * 1024;

/// (The witness itself logs every refusal, loudly, and keeps it beside the held head.)
fn refused(r: &Refusal) -> Resp {
    let status = match r {
        Refusal::UnknownLog(_) => StatusCode::NOT_FOUND,
        _ => StatusCode::CONFLICT,
    };
    error(status, r)
}

fn failed(e: &WitnessError) -> Resp {
    tracing::error!("{e}");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; see the witness's log",
    )
}

/// `GET /v1/witness/{log_id}`: the held head, `404` when none is held yet or the log is not one
/// this witness keeps.
pub(crate) fn held(witness: &Witness, log_id: &str) -> Resp {
    match witness.held(log_id) {
        Ok(Ok(Some(h))) => json_response(StatusCode::OK, &h),
        Ok(Ok(None)) => error(
            StatusCode::NOT_FOUND,
            format!("this witness holds no head of log {log_id:?} yet"),
        ),
        Ok(Err(r)) => refused(&r),
        Err(e) => failed(&e),
    }
}

/// `POST /v1/witness/{log_id}`: judged, kept if it extends the held head. The body must arrive
/// `within`.
pub(crate) async fn submit(
    witness: Arc<Witness>,
    log_id: &str,
    req: Request<Incoming>,
    within: Duration,
) -> Resp {
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
        Err(BodyError::TimedOut) => {
            return close_after(error(
                StatusCode::REQUEST_TIMEOUT,
                format!("the body did not arrive within {} s", within.as_secs()),
            ));
        }
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
    let id = log_id.to_string();
    let judged = tokio::task::spawn_blocking(move || witness.submit(&id, &sub)).await;
    match judged {
        Ok(Ok(Ok(accepted))) => json_response(
            StatusCode::OK,
            &json!({ "log_id": log_id, "accepted": accepted }),
        ),
        Ok(Ok(Err(r))) => refused(&r),
        Ok(Err(e)) => failed(&e),
        Err(e) => {
            tracing::error!("judging a witness submission: {e}");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}
