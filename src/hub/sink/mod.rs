//! Sinks: where a receiver's deliver stage puts a basis, and the one place a new kind of delivery
//! plugs in. A sink takes one disclosed document and returns only once the receiver holds it
//! durably (with its receipt) or will not take it; retrying within its own limits is its business,
//! logging and answering are the stage's.
//!
//! Two sinks speak HTTPS with the hub's certificate ([`HttpsSink`], `https`): the region's
//! restricted store (`store`, a mutual-TLS `PUT`) and the region's own producer of the national
//! contract (`rivta`, a `ProcessClaimSpecification` call). A region that consumes its delivery
//! queue itself (`queue` in `[receivers]`) has no sink in the hub: its `receive` is the sink, and
//! its receipt comes back over the broker. A new kind of delivery is a type here with [`Sink`]
//! implemented, and a variant of [`super::config::Sink`] that builds it.

mod https;
mod rivta;
mod store;

pub(crate) use https::{HttpsSink, Protocol};

use std::future::Future;

use bytes::Bytes;

use crate::broker::StoreReceipt;
use crate::retry::BackoffError;

/// Delivers one basis to one receiver.
pub(crate) trait Sink: Send + Sync + 'static {
    /// Delivers `body` as basis `basis_id`; `Ok` once the receiver holds it durably. Delivering
    /// the same bytes under the same id again must answer with the first receipt and make no
    /// second copy (a redelivery after a crash does exactly that).
    fn deliver(
        &self,
        basis_id: &str,
        body: Bytes,
    ) -> impl Future<Output = Result<Delivered, DeliveryError>> + Send;

    /// The sink's kind and address for `/ready` and the logs (never a credential).
    fn describe(&self) -> String;
}

/// A delivered basis: the receiver's receipt, parsed and as it was sent (logged verbatim).
#[derive(Debug, Clone)]
pub(crate) struct Delivered {
    pub receipt: StoreReceipt,
    pub raw: String,
}

/// Why a delivery did not happen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeliveryError {
    /// Worth another try: the receiver is down, slow, or answered 5xx (or a Fault).
    #[error("store {url} unavailable: {why}")]
    Unavailable { url: String, why: String },
    /// The receiver refused the basis for good (a store's 409, 413, 422, 403; a producer's
    /// `ERROR`): retrying will not help.
    #[error("{url} refused the basis: HTTP {status}: {body}")]
    Refused {
        url: String,
        status: u16,
        body: String,
    },
    /// Retried for the configured time without success.
    #[error("gave up after {attempts} attempts over {secs} s: {last}")]
    GaveUp {
        attempts: u32,
        secs: u64,
        last: String,
    },
    #[error("hub TLS configuration: {0}")]
    Tls(String),
    #[error("delivery.retry_initial_ms and retry_max_secs: {0}")]
    Backoff(#[from] BackoffError),
}

impl DeliveryError {
    /// Whether the stage should give the basis up (park it): the receiver refused it, the
    /// retries ran out, or the hub's own TLS setup is broken. Anything else comes again.
    pub(crate) fn gives_up(&self) -> bool {
        matches!(
            self,
            DeliveryError::GaveUp { .. } | DeliveryError::Refused { .. } | DeliveryError::Tls(_)
        )
    }
}
