//! Manual review of withheld bases, the hub's side. The sending region's store is its review
//! desk ([`crate::store::withheld`]): for a region in `[review.stores]`, the decide stage
//! hands each basis its policy withholds to that store ([`Desk::hand`]) before it answers
//! WITHHELD; every `[review] every_secs` the [`Poller`] fetches the officials' decisions, and the
//! decide stage logs each as `reviewed` naming the official, then sends a release on through
//! the normal delivery ([`super::decide::Decide::reviewed`]). Only once that is durable and
//! confirmed is the decision marked returned at the store: a hub that dies in between fetches it
//! again, and the log's idempotency adds nothing twice.
//!
//! ```text
//! decide ─ withheld ─▶ PUT /v1/review/{id} (the sender's store) ─▶ officials decide (pages, CLI)
//!                                                                        │
//! deliver ◀─ hand-over ◀─ log `reviewed` (+ `disclosed`) ◀─ GET /v1/review/decisions (poller)
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hyper::Method;

use super::decide::Decide;
use super::stage::Verdict;
use crate::broker::Publisher;
use crate::pki::Pin;
use crate::store::withheld::{DecisionForHub, ReviewRequest};
use crate::store::StoreClient;
use crate::tls::ClientTls;

/// How long one request to a review store may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a withheld basis did not reach its review desk.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HandError {
    /// The store is down or failing: the basis waits in the hub's hands and is tried again.
    #[error("review store {url} unavailable: {why}")]
    Unavailable { url: String, why: String },
    /// The store refused it for good (it is withheld all the same, and said so in the log).
    #[error("review store {url} refused the basis: HTTP {status}: {body}")]
    Refused {
        url: String,
        status: u16,
        body: String,
    },
}

/// The review stores of `[review.stores]`, reached with the hub's certificate.
pub(crate) struct Desk {
    /// Sending region → its store's URL and pinned identity.
    stores: BTreeMap<String, (String, Option<Pin>)>,
    tls: Option<ClientTls>,
}

impl Desk {
    pub(crate) fn new(stores: BTreeMap<String, (String, Option<Pin>)>, tls: ClientTls) -> Desk {
        Desk {
            stores,
            tls: Some(tls),
        }
    }

    /// No region reviews: every withheld basis stays withheld.
    #[cfg(test)]
    pub(crate) fn none() -> Desk {
        Desk {
            stores: BTreeMap::new(),
            tls: None,
        }
    }

    /// Whether `sender`'s withheld bases are reviewed in its store.
    pub(crate) fn reviews(&self, sender: &str) -> bool {
        self.stores.contains_key(sender)
    }

    fn client(&self, org: &str) -> Result<(String, StoreClient), String> {
        let (url, pin) = self.stores.get(org).ok_or("no review store")?;
        let tls = self.tls.as_ref().ok_or("no TLS for review stores")?;
        let client = StoreClient::new(url, tls.config.clone())
            .map_err(|e| e.to_string())?
            .expecting(pin.clone());
        Ok((url.clone(), client))
    }

    /// One request to `org`'s store: its status and body, or why there is none.
    async fn call(
        &self,
        org: &str,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, String), (String, String)> {
        let (url, mut client) = self.client(org).map_err(|e| (org.to_string(), e))?;
        let body = body.map(|b| (b.into(), "application/json"));
        match tokio::time::timeout(REQUEST_TIMEOUT, client.request(method, path, body)).await {
            Ok(Ok(a)) => Ok((a.status.as_u16(), a.text())),
            Ok(Err(e)) => Err((url, e.to_string())),
            Err(_) => Err((url, format!("no answer in {} s", REQUEST_TIMEOUT.as_secs()))),
        }
    }

    /// Puts withheld basis `id` in `sender`'s review queue (the same again is answered as the
    /// first time).
    pub(crate) async fn hand(
        &self,
        sender: &str,
        id: &str,
        request: &ReviewRequest,
    ) -> Result<(), HandError> {
        let body = serde_json::to_vec(request).expect("a review request serialises");
        let path = format!("/v1/review/{id}");
        let url = || {
            self.stores
                .get(sender)
                .map(|s| s.0.clone())
                .unwrap_or_default()
        };
        match self.call(sender, Method::PUT, &path, Some(body)).await {
            Ok((200 | 201, _)) => Ok(()),
            Ok((status, body)) if status >= 500 || status == 408 => Err(HandError::Unavailable {
                url: url(),
                why: format!(
                    "HTTP {status}: {}",
                    body.chars().take(200).collect::<String>()
                ),
            }),
            Ok((status, body)) => Err(HandError::Refused {
                url: url(),
                status,
                body: body.chars().take(500).collect(),
            }),
            Err((url, why)) => Err(HandError::Unavailable { url, why }),
        }
    }

    async fn decisions(&self, org: &str) -> Result<Vec<DecisionForHub>, String> {
        match self
            .call(org, Method::GET, "/v1/review/decisions", None)
            .await
        {
            Ok((200, body)) => {
                serde_json::from_str(&body).map_err(|e| format!("the decisions are not JSON: {e}"))
            }
            Ok((status, body)) => Err(format!("HTTP {status}: {body}")),
            Err((url, why)) => Err(format!("{url}: {why}")),
        }
    }

    async fn returned(&self, org: &str, id: &str) -> Result<(), String> {
        let path = format!("/v1/review/{id}/returned");
        match self
            .call(org, Method::POST, &path, Some(b"{}".to_vec()))
            .await
        {
            Ok((200, _)) => Ok(()),
            Ok((status, body)) => Err(format!("HTTP {status}: {body}")),
            Err((url, why)) => Err(format!("{url}: {why}")),
        }
    }
}

/// Fetches the review stores' decisions and has the decide stage act on them.
pub(crate) struct Poller {
    pub desk: Arc<Desk>,
    pub decide: Arc<Decide>,
    pub publisher: Publisher,
    pub every: Duration,
}

impl Poller {
    /// Rounds until `stop` turns true.
    pub(crate) async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        if self.desk.stores.is_empty() {
            return;
        }
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.every) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
            let orgs: Vec<String> = self.desk.stores.keys().cloned().collect();
            for org in orgs {
                if let Err(why) = self.round(&org).await {
                    tracing::warn!(region = %org, "review decisions not fetched: {why}");
                }
            }
        }
    }

    /// Acts on every decision `org`'s store holds for the hub.
    async fn round(&self, org: &str) -> Result<(), String> {
        for d in self.desk.decisions(org).await? {
            let id = d.basis_id.clone();
            let verdict = self.decide.reviewed(org, &d).await;
            match self.settle(verdict).await {
                Ok(()) => self.desk.returned(org, &id).await?,
                Err(why) => {
                    tracing::error!(basis_id = %id, reason = %why, "a review decision was not acted on; trying it again next round")
                }
            }
        }
        Ok(())
    }

    /// Publishes what the decision's verdict sends, each confirmed and in order.
    async fn settle(&self, verdict: Verdict) -> Result<(), String> {
        match verdict {
            Verdict::Send {
                basis_id,
                outcome,
                messages,
                ..
            } => {
                tracing::info!(basis_id = %basis_id, outcome = %outcome, "review decision acted on");
                for m in &messages {
                    self.publisher.publish(m).await.map_err(|e| {
                        format!("{basis_id} to {} was not confirmed: {e}", m.exchange)
                    })?;
                }
                Ok(())
            }
            Verdict::Park { basis_id, why } => Err(format!("{basis_id}: {why}")),
            Verdict::Retry { why } => Err(why),
        }
    }
}

/// The document of a decision, decoded.
pub(crate) fn document(d: &DecisionForHub) -> Option<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(d.document.as_bytes())
        .ok()
}
