//! The HTTPS sinks: a receiver reached over mutual TLS with the hub's client certificate (TLS
//! 1.3, the federation CA as the only root), on kept-alive connections, retried with backoff
//! while it is down or failing, for at most a configured time. What is said on the connection is
//! the [`Protocol`]'s: the restricted store's `PUT` ([`super::store`]) or the national contract's
//! `ProcessClaimSpecification` call to the region's own producer ([`super::rivta`]).
//!
//! Both receivers answer a repeat with the first answer (the store: the same bytes under the
//! same id, 200 and the first receipt; a producer: the contract asks it to), so a retry after a
//! lost answer, or a redelivery after a crash, never makes a second copy.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::Mutex;

use super::{Delivered, DeliveryError, Sink};
use crate::clock::Clock;
use crate::hub::config::DeliverySettings;
use crate::hub::health::ReceiverHealth;
use crate::retry::{Limit, Retry, Stopped};
use crate::store::{StoreClient, StoreClientError};
use crate::tls::{ClientTls, CrlFile};

/// What an unavailable store's answer was (the whole error for any other).
fn why_of(e: &DeliveryError) -> String {
    match e {
        DeliveryError::Unavailable { why, .. } => why.clone(),
        other => other.to_string(),
    }
}

/// What is said to the receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// `PUT /v1/claims/{id}`; the answer is the store's receipt.
    Store,
    /// `POST <path>` of a SOAP envelope with `LogicalAddress` = the receiving region.
    Rivta {
        path: String,
        logical_address: String,
    },
}

/// One receiving region's store or producer, with its idle kept-alive clients, so month-end
/// batches do not pay a TLS handshake per basis.
pub(crate) struct HttpsSink {
    url: String,
    protocol: Protocol,
    tls: ClientTls,
    /// The CRL generation the pooled clients connected under; a newer one empties the pool, so
    /// a store revoked since is verified (and refused) again.
    pool_generation: AtomicU64,
    settings: DeliverySettings,
    retry: Retry,
    pool: Mutex<Vec<StoreClient>>,
    /// The store's certificate, when the configuration pins it.
    identity: Option<crate::pki::Pin>,
    /// Where each failed attempt is told (`/ready`, `ih_sink_errors_total`).
    health: Arc<ReceiverHealth>,
    clock: Arc<dyn Clock>,
}

impl HttpsSink {
    /// The hub's client TLS for every store: its certificate, the federation CA as the only
    /// root, the CRL if one is configured.
    pub(crate) fn client_tls(settings: &DeliverySettings) -> Result<ClientTls, DeliveryError> {
        let tls_error = |e: crate::tls::TlsError| DeliveryError::Tls(e.to_string());
        let crl = match &settings.crl {
            Some(p) => Some(
                CrlFile::open(p, Duration::from_secs(settings.crl_reload_secs))
                    .map_err(tls_error)?,
            ),
            None => None,
        };
        let config = crate::tls::client_config(
            &settings.ca,
            Some((settings.cert.as_path(), settings.key.as_path())),
            crl.as_ref(),
        )
        .map_err(tls_error)?;
        Ok(ClientTls {
            config: Arc::new(config),
            crl,
        })
    }

    /// The receiver at `url` (`https://host:port`), spoken to in `protocol`, reached with
    /// `tls`; each failed attempt is told to `health`.
    pub(crate) fn new(
        (url, protocol): (&str, Protocol),
        tls: ClientTls,
        settings: DeliverySettings,
        health: Arc<ReceiverHealth>,
        clock: Arc<dyn Clock>,
    ) -> Result<HttpsSink, DeliveryError> {
        let retry = Retry::new(settings.backoff()?, Limit::Time(settings.give_up()));
        Ok(HttpsSink {
            url: url.to_string(),
            protocol,
            pool_generation: AtomicU64::new(tls.generation()),
            tls,
            settings,
            retry,
            pool: Mutex::new(Vec::new()),
            identity: None,
            health,
            clock,
        })
    }

    /// Only a store whose server certificate is `identity` (none: any the CA vouches for with
    /// the URL's host name) is delivered to; another is retried, then parked.
    pub(crate) fn expecting(mut self, identity: Option<crate::pki::Pin>) -> HttpsSink {
        self.identity = identity;
        self
    }

    /// Delivers one basis, retrying what is worth retrying until `give_up_secs`.
    async fn deliver_retrying(
        &self,
        basis_id: &str,
        body: Bytes,
    ) -> Result<Delivered, DeliveryError> {
        let store = self.url.as_str();
        let attempt = |_| {
            let body = body.clone();
            async move {
                let limit = self.settings.timeout();
                tokio::time::timeout(limit, self.put(basis_id, body))
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
            let (why, retry_in_ms) = (why_of(e), delay.as_millis() as u64);
            match self.protocol {
                Protocol::Store => {
                    tracing::warn!(store, basis_id, error = %why, retry_in_ms, "store unavailable")
                }
                Protocol::Rivta { .. } => {
                    tracing::warn!(producer = store, basis_id, error = %why, retry_in_ms, "producer unavailable")
                }
            }
            metrics::counter!("ih_delivery_retries_total").increment(1);
            self.health.failed(self.clock.now(), &why_of(e));
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

    /// One request on a kept-alive client from the pool (a new one if none is idle).
    async fn put(&self, basis_id: &str, body: Bytes) -> Result<Delivered, DeliveryError> {
        let store = self.url.as_str();
        let unavailable = |why: String| DeliveryError::Unavailable {
            url: store.to_string(),
            why,
        };
        let pool = &self.pool;
        let generation = self.tls.generation();
        let idle = {
            let mut idle = pool.lock().await;
            if self.pool_generation.swap(generation, Ordering::Relaxed) != generation {
                idle.clear();
            }
            idle.pop()
        };
        let mut client = match idle {
            Some(c) => c,
            None => StoreClient::new(store, self.tls.config.clone())
                .map(|c| c.expecting(self.identity.clone()))
                .map_err(|e| DeliveryError::Tls(e.to_string()))?,
        };
        let answer = match &self.protocol {
            Protocol::Store => client.put_claim(basis_id, body).await,
            Protocol::Rivta {
                path,
                logical_address,
            } => super::rivta::call(&mut client, path, logical_address, body).await,
        };
        let answer = match answer {
            Ok(a) => a,
            Err(e @ StoreClientError::Url { .. }) | Err(e @ StoreClientError::Setup(_)) => {
                return Err(DeliveryError::Tls(e.to_string()))
            }
            Err(e) => return Err(unavailable(e.to_string())),
        };
        // A client connected before the CRL changed is not kept: its receiver was verified
        // against the old list.
        if self.pool_generation.load(Ordering::Relaxed) == generation {
            pool.lock().await.push(client);
        }
        match &self.protocol {
            Protocol::Store => super::store::receipt(store, &answer),
            Protocol::Rivta { .. } => super::rivta::receipt(store, basis_id, &answer, &*self.clock),
        }
    }
}

impl Sink for HttpsSink {
    async fn deliver(&self, basis_id: &str, body: Bytes) -> Result<Delivered, DeliveryError> {
        self.deliver_retrying(basis_id, body).await
    }

    fn describe(&self) -> String {
        match &self.protocol {
            Protocol::Store => format!("store {}", self.url),
            Protocol::Rivta { path, .. } => format!("rivta {}{path}", self.url),
        }
    }
}
