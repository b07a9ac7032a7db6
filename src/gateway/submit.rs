//! The gateway's side of the broker: a basis goes onto the submit exchange (durable, confirmed)
//! as the gateway's own broker user, with the caller it authenticated ([`on_behalf`]), and the
//! call waits for the hub's answer on the gateway's answer queue (`ih.answer.<instance>`),
//! matched by `correlation_id`.
//!
//! The answer comes from the decide stage once its decision is logged and, for a disclosure,
//! once the hand-over to the receiver's delivery queue is confirmed: that is what the contract's
//! `OK` promises. An answer for a call nobody waits for any more (the caller gave up, the
//! gateway restarted) is acknowledged and dropped: the caller sends again, and the hub answers
//! a repeat from its log without logging or delivering anything twice.
//!
//! [`on_behalf`]: crate::broker::on_behalf

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::broker::on_behalf::{submission, AnswerTo, Claim};
use crate::broker::Subscription;
use crate::broker::{settle, topology, BrokerError, Endpoint, Publisher, Session, StatusMessage};

/// Why a call got no answer from the exchange.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SubmitError {
    #[error("the exchange's broker did not take the basis: {0}")]
    Broker(#[from] BrokerError),
    #[error("the exchange decided nothing within {0} s")]
    NoAnswer(u64),
}

/// Submits bases and waits for their answers.
pub(crate) struct Submitter {
    publisher: Publisher,
    /// The gateway's broker user (its certificate's DN): every submission's `user_id`.
    user: String,
    instance: String,
    /// Calls waiting for their answer, by correlation id.
    waiting: Mutex<HashMap<String, oneshot::Sender<StatusMessage>>>,
    /// Correlation ids: this process's start and a counter, so a restarted gateway never takes
    /// an old answer for a new call.
    epoch: u128,
    next: AtomicU64,
}

impl Submitter {
    /// Connects (the session keeps reconnecting), declares the answer queue and starts
    /// reading it.
    pub(crate) async fn start(
        endpoint: Endpoint,
        instance: &str,
    ) -> Result<Arc<Submitter>, BrokerError> {
        let user = endpoint.user()?;
        let session = Arc::new(Session::new(endpoint));
        let queue = topology::answer_queue(instance);
        session
            .declare_own_queue(&queue, (topology::ANSWER_EXCHANGE, instance), None)
            .await?;
        let submitter = Arc::new(Submitter {
            publisher: Publisher::new(session.clone()),
            user,
            instance: instance.to_string(),
            waiting: Mutex::new(HashMap::new()),
            epoch: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
            next: AtomicU64::new(0),
        });
        tokio::spawn(read_answers(
            Subscription::new(session, queue, 256),
            Arc::downgrade(&submitter),
        ));
        Ok(submitter)
    }

    /// Submits `xml` (basis `basis_id`) for `org`, called by `caller`, and waits up to
    /// `within` for the hub's answer.
    pub(crate) async fn submit(
        &self,
        basis_id: &str,
        xml: Vec<u8>,
        (org, caller): (&str, &str),
        within: Duration,
    ) -> Result<StatusMessage, SubmitError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let correlation = format!("{}-{:x}-{n}", self.instance, self.epoch);
        let (tx, rx) = oneshot::channel();
        self.lock().insert(correlation.clone(), tx);
        let _unregister = Unregister(self, &correlation);
        let claim = Claim {
            org: org.to_string(),
            caller: caller.to_string(),
            answer_to: Some(AnswerTo {
                gateway: self.instance.clone(),
                correlation: correlation.clone(),
            }),
        };
        let msg = submission(&self.user, basis_id, xml, &claim);
        let answered = async {
            self.publisher.publish(&msg).await?;
            rx.await
                .map_err(|_| SubmitError::NoAnswer(within.as_secs()))
        };
        tokio::time::timeout(within, answered)
            .await
            .unwrap_or(Err(SubmitError::NoAnswer(within.as_secs())))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<StatusMessage>>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Hands an answer to the call waiting for it, if one still is.
    fn deliver(&self, correlation: &str, answer: StatusMessage) -> bool {
        match self.lock().remove(correlation) {
            Some(tx) => tx.send(answer).is_ok(),
            None => false,
        }
    }
}

/// A call that ends (answered, timed out, or its caller gone) stops waiting.
struct Unregister<'a>(&'a Submitter, &'a str);

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        self.0.lock().remove(self.1);
    }
}

/// Reads the answer queue for as long as the gateway runs.
async fn read_answers(mut answers: Subscription, submitter: std::sync::Weak<Submitter>) {
    loop {
        let d = match answers.next().await {
            Ok(d) => d,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the answer queue; trying again in 5 s");
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            }
        };
        let Some(submitter) = submitter.upgrade() else {
            return;
        };
        let correlation = d
            .properties
            .correlation_id()
            .as_ref()
            .map(|c| c.to_string());
        match (
            correlation,
            serde_json::from_slice::<StatusMessage>(&d.data),
        ) {
            (Some(c), Ok(answer)) => {
                if !submitter.deliver(&c, answer) {
                    tracing::debug!(correlation = %c, "an answer nobody waits for any more");
                }
            }
            (_, Err(e)) => tracing::warn!("an answer that cannot be read: {e}"),
            (None, Ok(a)) => {
                tracing::warn!(basis = %a.basis_id, "an answer without correlation_id")
            }
        }
        if let Err(e) = settle::ack(&d).await {
            tracing::debug!(error = %e, "answer not acknowledged; it comes again");
        }
    }
}
