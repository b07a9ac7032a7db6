//! Delivery to a receiving region's store: `PUT /v1/claims/{id}` over HTTPS with the hub's client
//! certificate (TLS 1.3, the federation CA as the only root), retried with backoff while the
//! store is down or failing, for at most a configured time.
//!
//! A store's PUT is idempotent (the same bytes under the same id answer 200 and the first
//! receipt), so a retry after a lost answer, or a redelivery after a crash, never makes a second
//! copy.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Mutex;

use super::config::DeliverySettings;
use crate::broker::StoreReceipt;
use crate::retry::{BackoffError, Limit, Retry, Stopped};
use crate::store::{StoreClient, StoreClientError};

/// Why a delivery did not happen.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// Worth another try: the store is down, slow, or answered 5xx.
    #[error("store {url} unavailable: {why}")]
    Unavailable { url: String, why: String },
    /// The store refused the basis for good (409, 413, 422, 403): retrying will not help.
    #[error("store {url} refused the basis: HTTP {status}: {body}")]
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

/// What an unavailable store's answer was (the whole error for any other).
fn why_of(e: &DeliveryError) -> String {
    match e {
        DeliveryError::Unavailable { why, .. } => why.clone(),
        other => other.to_string(),
    }
}

/// A delivered basis: the store's receipt, parsed and as it was sent (logged verbatim).
#[derive(Debug, Clone)]
pub struct Delivered {
    pub receipt: StoreReceipt,
    pub raw: String,
}

/// Idle kept-alive clients per store, so month-end batches do not pay a TLS handshake per
/// basis.
type Pool = Mutex<Vec<StoreClient>>;

/// The hub's client for every store.
pub struct Deliverer {
    tls: Arc<rustls::ClientConfig>,
    settings: DeliverySettings,
    retry: Retry,
    pools: BTreeMap<String, Pool>,
}

impl Deliverer {
    /// `stores` are the base URLs of every receiving region's store.
    pub fn new<'a>(
        settings: DeliverySettings,
        stores: impl IntoIterator<Item = &'a String>,
    ) -> Result<Deliverer, DeliveryError> {
        let tls = crate::tls::client_config(
            &settings.ca,
            Some((settings.cert.as_path(), settings.key.as_path())),
        )
        .map_err(|e| DeliveryError::Tls(e.to_string()))?;
        let tls = Arc::new(tls);
        let retry = Retry::new(settings.backoff()?, Limit::Time(settings.give_up()));
        let pools = stores
            .into_iter()
            .map(|u| (u.clone(), Mutex::new(Vec::new())))
            .collect();
        Ok(Deliverer {
            tls,
            settings,
            retry,
            pools,
        })
    }

    /// Delivers one basis, retrying what is worth retrying until `give_up_secs`.
    pub async fn deliver(
        &self,
        store: &str,
        basis_id: &str,
        body: Bytes,
    ) -> Result<Delivered, DeliveryError> {
        let attempt = |_| {
            let body = body.clone();
            async move {
                let limit = self.settings.timeout();
                tokio::time::timeout(limit, self.put(store, basis_id, body))
                    .await
                    .unwrap_or_else(|_| {
                        Err(DeliveryError::Unavailable {
                            url: store.to_string(),
                            why: format!("no answer in {} s", limit.as_secs()),
                        })
                    })
            }
        };
        let unavailable = |e: &DeliveryError| matches!(e, DeliveryError::Unavailable { .. });
        let on_retry = |e: &DeliveryError, _, delay: Duration| {
            tracing::warn!(store, basis_id, error = %why_of(e), retry_in_ms = delay.as_millis() as u64, "store unavailable");
            metrics::counter!("ih_delivery_retries_total").increment(1);
        };
        match self.retry.run(attempt, unavailable, on_retry).await {
            Ok((delivered, _)) => Ok(delivered),
            Err(Stopped::Fatal(e)) => Err(e),
            Err(Stopped::GaveUp {
                attempts,
                elapsed,
                last,
            }) => Err(DeliveryError::GaveUp {
                attempts,
                secs: elapsed.as_secs(),
                last: why_of(&last),
            }),
        }
    }

    /// One `PUT` on a kept-alive client from the store's pool (a new one if none is idle).
    async fn put(
        &self,
        store: &str,
        basis_id: &str,
        body: Bytes,
    ) -> Result<Delivered, DeliveryError> {
        let unavailable = |why: String| DeliveryError::Unavailable {
            url: store.to_string(),
            why,
        };
        let pool = self
            .pools
            .get(store)
            .ok_or_else(|| unavailable("not a configured store".into()))?;
        let idle = pool.lock().await.pop();
        let mut client = match idle {
            Some(c) => c,
            None => StoreClient::new(store, self.tls.clone())
                .map_err(|e| DeliveryError::Tls(e.to_string()))?,
        };
        let answer = match client.put_claim(basis_id, body).await {
            Ok(a) => a,
            Err(e @ StoreClientError::Url { .. }) | Err(e @ StoreClientError::Setup(_)) => {
                return Err(DeliveryError::Tls(e.to_string()))
            }
            Err(e) => return Err(unavailable(e.to_string())),
        };
        pool.lock().await.push(client);
        let status = answer.status.as_u16();
        match status {
            200 | 201 => {
                let raw = answer.text();
                let receipt: StoreReceipt = serde_json::from_str(&raw)
                    .map_err(|e| unavailable(format!("receipt is not JSON: {e}")))?;
                Ok(Delivered { receipt, raw })
            }
            500..=599 | 408 | 429 => Err(unavailable(format!("HTTP {status}"))),
            _ => Err(DeliveryError::Refused {
                url: store.to_string(),
                status,
                body: answer.text().chars().take(500).collect(),
            }),
        }
    }
}
