//! The shapes of the store's answers: JSON bodies, errors as `{"error": …}`, an internal error
//! that says where to look without saying what failed.

use hyper::StatusCode;
use serde_json::json;

use crate::store::storage::ClaimMeta;
use crate::store::StoreError;

pub(super) use crate::net::respond::{close_after, error, json_response, Resp};

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
