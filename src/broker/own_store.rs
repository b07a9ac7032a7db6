//! A pulling region's own restricted store as the place `invoice-hub receive` keeps its bases
//! (`[receive] store = "https://host:port"`): each basis is `PUT /v1/claims/{id}` with the
//! region's own certificate (its `[broker]` cert and key; the store lists it among its writers).
//!
//! The store answers the same bytes under the same id with its first receipt (200) and refuses
//! other bytes (409), so a basis that comes again after the reader was killed is stored once, and
//! the receipt sent back to the hub is the store's own, the same each time. A store that is down
//! is tried again with backoff for [`GIVE_UP`]; the basis stays unacknowledged meanwhile.

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Mutex;

use super::endpoint::Endpoint;
use super::messages::StoreReceipt;
use super::pull::{PullError, Written};
use crate::retry::{Backoff, Limit, Retry, Stopped};
use crate::store::StoreClient;

/// How long a store that is down is tried before the reader stops (the basis comes again at the
/// next start).
const GIVE_UP: Duration = Duration::from_secs(300);

/// The region's store, reached with the region's certificate.
pub(crate) struct OwnStore {
    url: String,
    client: Mutex<StoreClient>,
    retry: Retry,
}

impl OwnStore {
    /// The store at `url`, reached with the certificate, key and CA of `broker`.
    pub(crate) fn new(url: &str, broker: &Endpoint) -> Result<OwnStore, PullError> {
        let client = StoreClient::from_files(url, &broker.ca, &broker.cert, &broker.key)
            .map_err(|e| PullError::StoreSetup(format!("[receive] store {url}: {e}")))?;
        Ok(OwnStore {
            url: url.trim_end_matches('/').to_string(),
            client: Mutex::new(client),
            retry: Retry::new(
                Backoff::fixed(Duration::from_millis(200), Duration::from_secs(10)),
                Limit::Time(GIVE_UP),
            ),
        })
    }

    /// Stores `body` as basis `id`, retrying while the store is unavailable.
    pub(crate) async fn keep(&self, id: &str, body: Bytes) -> Result<Written, PullError> {
        let attempt = |_| self.put(id, body.clone());
        let unavailable = |e: &PullError| matches!(e, PullError::StoreUnavailable { .. });
        let on_retry = |e: &PullError, _, delay: Duration| {
            tracing::warn!(basis_id = id, error = %e, retry_in_ms = delay.as_millis() as u64, "the region's store is unavailable; trying again");
        };
        match self.retry.run(attempt, unavailable, on_retry).await {
            Ok((written, _)) => Ok(written),
            Err(Stopped::Fatal(e)) | Err(Stopped::GaveUp { last: e, .. }) => Err(e),
        }
    }

    async fn put(&self, id: &str, body: Bytes) -> Result<Written, PullError> {
        let place = format!("{}/v1/claims/{id}", self.url);
        let unavailable = |why: String| PullError::StoreUnavailable {
            url: self.url.clone(),
            why,
        };
        let answer = self
            .client
            .lock()
            .await
            .put_claim(id, body)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let status = answer.status.as_u16();
        match status {
            200 | 201 => {
                let receipt: StoreReceipt = serde_json::from_str(&answer.text())
                    .map_err(|e| unavailable(format!("its receipt is not JSON: {e}")))?;
                Ok(Written {
                    place,
                    receipt,
                    new: status == 201,
                })
            }
            409 => Err(PullError::Conflict { place }),
            _ if answer.is_unavailable() => Err(unavailable(format!("HTTP {status}"))),
            401 | 403 => Err(PullError::StoreSetup(format!(
                "the store at {} does not take this region's certificate as a writer (HTTP \
                 {status}): add its identity to the store's [access] writers",
                self.url
            ))),
            _ => Err(PullError::StoreRefused {
                place,
                status,
                body: answer.text().chars().take(500).collect(),
            }),
        }
    }
}
