//! Publishing with publisher confirms, turned into a plain answer: the broker has the message
//! (confirmed: it is on disk in a quorum queue) or here is why not. A nack, a return (unroutable)
//! or no confirm in time means "not confirmed": the message is published again with backoff. That
//! may put a second copy on the queue when only the confirm was lost — the hub is idempotent by
//! basis id and content hash, so a duplicate is harmless, while a lost basis is not.

use std::sync::Arc;
use std::time::Duration;

use lapin::options::BasicPublishOptions;
use lapin::{BasicProperties, Confirmation};

use super::error::BrokerError;
use super::session::Session;
use crate::retry::{Backoff, Limit, Retry, Stopped};

/// One message to publish, owned so that it can be sent again.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub exchange: String,
    pub routing_key: String,
    pub payload: Vec<u8>,
    pub properties: BasicProperties,
}

impl Outgoing {
    /// The message id, for error messages (a basis id: not personal data).
    pub fn message_id(&self) -> String {
        self.properties
            .message_id()
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_else(|| "(no message id)".into())
    }
}

/// What happened to a confirmed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    /// 1 when the first publish was confirmed.
    pub attempts: u32,
}

/// Publishes with confirms and retries over one [`Session`].
#[derive(Clone)]
pub struct Publisher {
    session: Arc<Session>,
    max_attempts: u32,
    confirm_timeout: Duration,
    backoff: Backoff,
}

impl Publisher {
    pub fn new(session: Arc<Session>) -> Self {
        Publisher {
            session,
            max_attempts: 6,
            confirm_timeout: Duration::from_secs(30),
            backoff: Backoff::fixed(Duration::from_millis(200), Duration::from_secs(5)),
        }
    }

    /// Attempts per message before giving up (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// How long to wait for a confirm before publishing again.
    pub fn confirm_timeout(mut self, t: Duration) -> Self {
        self.confirm_timeout = t;
        self
    }

    pub fn backoff(mut self, b: Backoff) -> Self {
        self.backoff = b;
        self
    }

    pub fn session(&self) -> &Arc<Session> {
        &self.session
    }

    /// Publishes `msg` as `mandatory` and waits for the broker's confirm, retrying what can be
    /// retried. A refusal by the broker (a `user_id` that is not the connection's user, no write
    /// permission) is returned at once: sending it again cannot help.
    pub async fn publish(&self, msg: &Outgoing) -> Result<Confirmed, BrokerError> {
        let on_retry = |e: &BrokerError, attempt: u32, _| {
            tracing::warn!(message_id = %msg.message_id(), attempt, error = %e, "not confirmed; publishing again");
        };
        Retry::new(self.backoff.clone(), Limit::Attempts(self.max_attempts))
            .run(|_| self.publish_once(msg), BrokerError::is_transient, on_retry)
            .await
            .map(|((), attempts)| Confirmed { attempts })
            .map_err(|stopped| match stopped {
                Stopped::Fatal(e) => e,
                Stopped::GaveUp { attempts, last, .. } => {
                    tracing::warn!(message_id = %msg.message_id(), attempts, error = %last, "not confirmed; giving up");
                    BrokerError::GaveUp {
                        attempts,
                        last: last.to_string(),
                    }
                }
            })
    }

    async fn publish_once(&self, msg: &Outgoing) -> Result<(), BrokerError> {
        // Held until the confirm is in: the channel is not closed under this publish.
        let lent = self.session.publish_channel().await?;
        let confirm = lent
            .channel
            .basic_publish(
                msg.exchange.as_str().into(),
                msg.routing_key.as_str().into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..BasicPublishOptions::default()
                },
                &msg.payload,
                msg.properties.clone(),
            )
            .await?;
        let confirmation = match tokio::time::timeout(self.confirm_timeout, confirm).await {
            Ok(c) => c?,
            Err(_) => {
                return Err(BrokerError::Unconfirmed(format!(
                    "no confirm within {:?}",
                    self.confirm_timeout
                )))
            }
        };
        match confirmation {
            Confirmation::Ack(None) => Ok(()),
            Confirmation::Ack(Some(returned)) => Err(BrokerError::Unroutable {
                message_id: msg.message_id(),
                reply: returned.reply_text.to_string(),
            }),
            Confirmation::Nack(_) => {
                self.session
                    .renew_publish_channel(lent, self.confirm_timeout)
                    .await;
                Err(BrokerError::Unconfirmed(
                    "the broker nacked the message".into(),
                ))
            }
            Confirmation::NotRequested => Err(BrokerError::Unconfirmed(
                "the channel is not in confirm mode".into(),
            )),
        }
    }
}
