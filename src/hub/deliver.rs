//! Delivery to a receiving region's store: `PUT /v1/claims/{id}` over HTTPS with the hub's client
//! certificate (TLS 1.3, the federation CA as the only root), retried with backoff while the
//! store is down or failing, for at most a configured time.
//!
//! A store's PUT is idempotent (the same bytes under the same id answer 200 and the first
//! receipt), so a retry after a lost answer, or a redelivery after a crash, never makes a second
//! copy.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::sync::Mutex;

use super::config::DeliverySettings;
use crate::broker::{Backoff, StoreReceipt};

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
}

/// A delivered basis: the store's receipt, parsed and as it was sent (logged verbatim).
#[derive(Debug, Clone)]
pub struct Delivered {
    pub receipt: StoreReceipt,
    pub raw: String,
}

/// Idle kept-alive connections per store, so month-end batches do not pay a TLS handshake per
/// basis.
type Pool = Mutex<Vec<SendRequest<Full<Bytes>>>>;

/// The hub's client for every store.
pub struct Deliverer {
    tls: tokio_rustls::TlsConnector,
    settings: DeliverySettings,
    pools: BTreeMap<String, Pool>,
}

fn tls_config(s: &DeliverySettings) -> Result<rustls::ClientConfig, DeliveryError> {
    let err = |what: &str, e: &dyn std::fmt::Display| DeliveryError::Tls(format!("{what}: {e}"));
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(&s.ca).map_err(|e| err(&s.ca.display().to_string(), &e))? {
        let c = c.map_err(|e| err(&s.ca.display().to_string(), &e))?;
        roots.add(c).map_err(|e| err(&s.ca.display().to_string(), &e))?;
    }
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&s.cert)
        .map_err(|e| err(&s.cert.display().to_string(), &e))?
        .collect::<Result<_, _>>()
        .map_err(|e| err(&s.cert.display().to_string(), &e))?;
    // The error names the file only: key material never reaches a message.
    let key = PrivateKeyDer::from_pem_file(&s.key)
        .map_err(|_| DeliveryError::Tls(format!("{}: not a PEM private key", s.key.display())))?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| err("TLS 1.3", &e))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| err(&s.cert.display().to_string(), &e))
}

/// `https://host:port` → (host, port).
fn host_port(url: &str) -> Option<(String, u16)> {
    let rest = url.strip_prefix("https://")?.trim_end_matches('/');
    let (host, port) = rest.rsplit_once(':').unwrap_or((rest, "443"));
    Some((host.trim_matches(['[', ']']).to_string(), port.parse().ok()?))
}

impl Deliverer {
    /// `stores` are the base URLs of every receiving region's store.
    pub fn new<'a>(
        settings: DeliverySettings,
        stores: impl IntoIterator<Item = &'a String>,
    ) -> Result<Deliverer, DeliveryError> {
        let tls = tokio_rustls::TlsConnector::from(Arc::new(tls_config(&settings)?));
        let pools = stores
            .into_iter()
            .map(|u| (u.clone(), Mutex::new(Vec::new())))
            .collect();
        Ok(Deliverer {
            tls,
            settings,
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
        let start = Instant::now();
        let mut backoff = Backoff::new(
            Duration::from_millis(self.settings.retry_initial_ms.max(1)),
            Duration::from_secs(self.settings.retry_max_secs.max(1)),
        );
        loop {
            let attempt = tokio::time::timeout(
                self.settings.timeout(),
                self.put(store, basis_id, body.clone()),
            )
            .await
            .unwrap_or_else(|_| {
                Err(DeliveryError::Unavailable {
                    url: store.to_string(),
                    why: format!("no answer in {} s", self.settings.timeout().as_secs()),
                })
            });
            match attempt {
                Err(DeliveryError::Unavailable { why, .. }) => {
                    let delay = backoff.next_delay();
                    if start.elapsed() + delay > self.settings.give_up() {
                        return Err(DeliveryError::GaveUp {
                            attempts: backoff.attempts(),
                            secs: start.elapsed().as_secs(),
                            last: why,
                        });
                    }
                    tracing::warn!(store, basis_id, error = %why, retry_in_ms = delay.as_millis() as u64, "store unavailable");
                    metrics::counter!("ih_delivery_retries_total").increment(1);
                    tokio::time::sleep(delay).await;
                }
                other => return other,
            }
        }
    }

    async fn connection(&self, store: &str) -> Result<SendRequest<Full<Bytes>>, DeliveryError> {
        let unavailable = |why: String| DeliveryError::Unavailable {
            url: store.to_string(),
            why,
        };
        if let Some(pool) = self.pools.get(store) {
            let mut idle = pool.lock().await;
            while let Some(c) = idle.pop() {
                if c.is_ready() {
                    return Ok(c);
                }
            }
        }
        let (host, port) =
            host_port(store).ok_or_else(|| unavailable(format!("bad store URL {store:?}")))?;
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| unavailable(format!("connect: {e}")))?;
        tcp.set_nodelay(true).ok();
        let name = ServerName::try_from(host.clone())
            .map_err(|e| unavailable(format!("server name {host:?}: {e}")))?;
        let tls = self
            .tls
            .connect(name, tcp)
            .await
            .map_err(|e| unavailable(format!("TLS handshake: {e}")))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| unavailable(format!("HTTP handshake: {e}")))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }

    async fn put(&self, store: &str, basis_id: &str, body: Bytes) -> Result<Delivered, DeliveryError> {
        let unavailable = |why: String| DeliveryError::Unavailable {
            url: store.to_string(),
            why,
        };
        let mut conn = self.connection(store).await?;
        conn.ready()
            .await
            .map_err(|e| unavailable(format!("connection: {e}")))?;
        let (host, _) = host_port(store).unwrap_or_default();
        let req = hyper::Request::put(format!("/v1/claims/{basis_id}"))
            .header(hyper::header::HOST, host)
            .header(hyper::header::CONTENT_TYPE, "application/xml")
            .body(Full::new(body))
            .map_err(|e| unavailable(format!("request: {e}")))?;
        let resp = conn
            .send_request(req)
            .await
            .map_err(|e| unavailable(format!("request: {e}")))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| unavailable(format!("reading the answer: {e}")))?
            .to_bytes();
        if let Some(pool) = self.pools.get(store) {
            if conn.is_ready() {
                pool.lock().await.push(conn);
            }
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        match status {
            200 | 201 => {
                let receipt: StoreReceipt = serde_json::from_str(&text)
                    .map_err(|e| unavailable(format!("receipt is not JSON: {e}")))?;
                Ok(Delivered { receipt, raw: text })
            }
            500..=599 | 408 | 429 => Err(unavailable(format!("HTTP {status}"))),
            _ => Err(DeliveryError::Refused {
                url: store.to_string(),
                status,
                body: text.chars().take(500).collect(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn urls_to_host_and_port() {
        assert_eq!(host_port("https://localhost:8443"), Some(("localhost".into(), 8443)));
        assert_eq!(host_port("https://127.0.0.1:9/"), Some(("127.0.0.1".into(), 9)));
        assert_eq!(host_port("https://store.example"), Some(("store.example".into(), 443)));
        assert_eq!(host_port("http://x:1"), None);
    }
}
