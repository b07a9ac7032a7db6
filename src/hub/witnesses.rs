//! Sends the disclosure log's signed heads to its witnesses: every receiving region's store
//! (`[receivers]` with the `store` sink) and any other URL in `[witness] extra`.
//!
//! Every round (`[witness] every_secs`) the hub signs a head if the log grew since its last one,
//! asks each witness for the head it holds, and sends the new head with a consistency proof
//! from that one. A witness that is down is tried again next round; one that holds a head this
//! log does not extend (a larger one, another root at the same size, or one not signed with this
//! log's key) means this log was rolled back or rewritten: that is said as an error every round,
//! since only an operator can find out what happened.

use std::sync::Arc;
use std::time::Duration;

use hyper::Method;

use crate::audit::witness::Submission;
use crate::audit::{AuditLog, SignedTreeHead};
use crate::store::StoreClient;
use crate::tls::ClientTls;

/// The witnesses of one log and how to reach them.
pub(crate) struct Witnesses {
    pub urls: Vec<String>,
    pub tls: ClientTls,
    pub log: Arc<AuditLog>,
    pub every: Duration,
}

/// What one witness said in a round.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Sent {
    /// It holds this head now (or already did).
    Holds(u64),
    /// It holds a head this log does not extend.
    Alarm(String),
    /// It could not be reached or answered otherwise; tried again next round.
    Failed(String),
}

impl Witnesses {
    /// Rounds until `stop` turns true; the first at once.
    pub(crate) async fn run(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        if self.urls.is_empty() {
            return;
        }
        loop {
            if let Err(e) = self.round().await {
                tracing::warn!("witness round: {e:#}");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.every) => {}
                _ = stop.wait_for(|s| *s) => return,
            }
        }
    }

    /// Signs a head if the log grew, then sends it to every witness.
    pub(crate) async fn round(&self) -> anyhow::Result<Vec<(String, Sent)>> {
        let log = self.log.clone();
        let head = tokio::task::spawn_blocking(move || -> anyhow::Result<SignedTreeHead> {
            match log.latest_head()? {
                Some(h) if h.tree_size == log.size() => Ok(h),
                _ => Ok(log.sign_head()?),
            }
        })
        .await??;
        let mut out = Vec::new();
        for url in &self.urls {
            let sent = self.send(url, &head).await;
            match &sent {
                Sent::Holds(n) => {
                    tracing::debug!(witness = %url, tree_size = n, "witness holds the head")
                }
                Sent::Alarm(why) => {
                    tracing::error!(witness = %url, "THE DISCLOSURE LOG DOES NOT EXTEND WHAT A WITNESS HOLDS: {why}")
                }
                Sent::Failed(why) => tracing::warn!(witness = %url, "witness not reached: {why}"),
            }
            out.push((url.clone(), sent));
        }
        Ok(out)
    }

    async fn send(&self, url: &str, head: &SignedTreeHead) -> Sent {
        let mut client = match StoreClient::new(url, self.tls.config.clone()) {
            Ok(c) => c,
            Err(e) => return Sent::Failed(e.to_string()),
        };
        let path = format!("/v1/witness/{}", head.log_id);
        let held = match client.request(Method::GET, &path, None).await {
            Ok(a) if a.status == 200 => match serde_json::from_slice::<SignedTreeHead>(&a.body) {
                Ok(h) => Some(h),
                Err(e) => return Sent::Failed(format!("its head is not JSON: {e}")),
            },
            Ok(a) if a.status == 404 && a.text().contains("holds no head") => None,
            Ok(a) => return Sent::Failed(format!("HTTP {}: {}", a.status, a.text())),
            Err(e) => return Sent::Failed(e.to_string()),
        };
        let consistency = match held {
            None => None,
            Some(h) => match self.proof_from(&h, head).await {
                Ok(None) => return Sent::Holds(h.tree_size),
                Ok(Some(p)) => Some(p),
                Err(alarm) => return Sent::Alarm(alarm),
            },
        };
        let body = Submission {
            head: head.clone(),
            consistency,
        };
        let body = serde_json::to_vec(&body).expect("a submission serialises");
        match client
            .request(Method::POST, &path, Some((body.into(), "application/json")))
            .await
        {
            Ok(a) if a.status == 200 => Sent::Holds(head.tree_size),
            Ok(a) if a.status == 409 => Sent::Alarm(format!("it refused the head: {}", a.text())),
            Ok(a) => Sent::Failed(format!("HTTP {}: {}", a.status, a.text())),
            Err(e) => Sent::Failed(e.to_string()),
        }
    }

    /// The proof from the witness's head `held` to `head`; `None` when it holds `head` already,
    /// an alarm when this log does not extend `held`.
    async fn proof_from(
        &self,
        held: &SignedTreeHead,
        head: &SignedTreeHead,
    ) -> Result<Option<crate::audit::ConsistencyBundle>, String> {
        held.verify(&self.log.public_key())
            .map_err(|e| format!("it holds a head that is not signed with this log's key ({e})"))?;
        if held.tree_size > head.tree_size {
            return Err(format!(
                "it holds a head of size {}, this log has {} entries: the log was rolled back or \
                 truncated",
                held.tree_size, head.tree_size
            ));
        }
        let (log, held2, head2) = (self.log.clone(), held.clone(), head.clone());
        let root = tokio::task::spawn_blocking(move || log.root_at(held2.tree_size))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        if hex::encode(root) != held.root_hash {
            return Err(format!(
                "this log's first {} entries are not the ones the witness's head covers: the log \
                 was rewritten",
                held.tree_size
            ));
        }
        if held.tree_size == head.tree_size {
            return Ok(None);
        }
        let log = self.log.clone();
        let (old, new) = (held.clone(), head2);
        tokio::task::spawn_blocking(move || log.consistency_proof(&old, &new))
            .await
            .map_err(|e| e.to_string())?
            .map(Some)
            .map_err(|e| e.to_string())
    }
}
