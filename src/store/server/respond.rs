//! The shapes of the store's answers: JSON bodies, errors as `{"error": …}`, an internal error
//! that says where to look without saying what failed.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::CONTENT_TYPE;
use hyper::{Response, StatusCode};
use serde::Serialize;
use serde_json::json;

use crate::store::storage::ClaimMeta;
use crate::store::StoreError;

pub(super) type Resp = Response<Full<Bytes>>;

pub(super) fn json_response(status: StatusCode, body: &impl Serialize) -> Resp {
    let bytes = serde_json::to_vec_pretty(body).expect("response bodies serialise");
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .expect("a valid response")
}

pub(super) fn error(status: StatusCode, message: impl std::fmt::Display) -> Resp {
    json_response(status, &json!({ "error": message.to_string() }))
}

pub(super) fn internal(e: StoreError) -> Resp {
    tracing::error!("{e}");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; see the store's log",
    )
}

/// A body that did not arrive in time: `408`, and the connection is closed.
pub(super) fn timed_out(store: &super::Store) -> Resp {
    close_after(error(
        StatusCode::REQUEST_TIMEOUT,
        format!(
            "the body did not arrive within {} s",
            store.cfg.limits.body_timeout.as_secs()
        ),
    ))
}

/// The answer closes the connection: the client is still sending a body too big to read away.
pub(super) fn close_after(mut r: Resp) -> Resp {
    r.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    r
}

pub(super) fn conflict(old: &ClaimMeta) -> Resp {
    json_response(
        StatusCode::CONFLICT,
        &json!({
            "error": format!(
                "basis {} is already stored with other content (sha256 {}); a basis id is never reused",
                old.id, old.sha256
            ),
            "stored": old.receipt(),
        }),
    )
}
