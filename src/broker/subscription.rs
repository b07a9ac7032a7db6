//! A consumer that outlives the broker: when the connection or channel goes, it subscribes again
//! (with backoff) and carries on. Deliveries are acknowledged manually by the caller, so a message
//! in hand when the broker went away is simply delivered again later — which is why every reader
//! of these queues is idempotent.

use std::sync::Arc;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::Consumer;

use super::backoff::Backoff;
use super::error::BrokerError;
use super::session::Session;

/// A resubscribing consumer of one queue with a fixed prefetch.
pub struct Subscription {
    session: Arc<Session>,
    queue: String,
    prefetch: u16,
    consumer: Option<Consumer>,
    /// The consumer's channel: watched, because a consumer stream is not always ended when its
    /// connection goes (seen after a cluster node stopped: no socket left, the stream pending
    /// forever, the queue without a consumer).
    channel: Option<lapin::Channel>,
    backoff: Backoff,
    subscribes: u32,
}

impl Subscription {
    /// Nothing happens until [`Subscription::next`]; `prefetch` bounds the unacknowledged
    /// messages the broker hands this consumer (the hub's in-flight limit).
    pub fn new(session: Arc<Session>, queue: impl Into<String>, prefetch: u16) -> Self {
        Subscription {
            session,
            queue: queue.into(),
            prefetch,
            consumer: None,
            channel: None,
            backoff: Backoff::default(),
            subscribes: 0,
        }
    }

    /// Subscribes now, so a refusal (ACCESS_REFUSED on someone else's queue, NOT_FOUND) comes
    /// back at once instead of at the first `next`.
    pub async fn subscribe(&mut self) -> Result<(), BrokerError> {
        let ch = self.session.new_channel().await?;
        ch.basic_qos(self.prefetch, BasicQosOptions::default())
            .await?;
        self.subscribes += 1;
        let tag = format!("ih-{}-{}", self.queue, self.subscribes);
        let consumer = ch
            .basic_consume(
                self.queue.as_str().into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        self.consumer = Some(consumer);
        self.channel = Some(ch);
        Ok(())
    }

    /// How many times this subscription subscribed (more than 1 after a reconnect).
    pub fn subscribes(&self) -> u32 {
        self.subscribes
    }

    /// The next delivery, waiting across broker restarts. Errors only when the broker refuses
    /// for good (permissions, missing queue) or the session gave up reconnecting.
    pub async fn next(&mut self) -> Result<Delivery, BrokerError> {
        loop {
            if self.consumer.is_none() {
                match self.subscribe().await {
                    Ok(()) => {}
                    Err(e) if e.is_transient() => {
                        tracing::warn!(queue = %self.queue, error = %e, "resubscribing");
                        self.backoff.wait().await;
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            }
            let consumer = self.consumer.as_mut().expect("subscribed above");
            let channel = self.channel.clone();
            let gone = async move {
                // Checked once a second: cheap, and the only sign when the stream stays silent.
                loop {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    if !channel.as_ref().is_some_and(|c| c.status().connected()) {
                        return;
                    }
                }
            };
            let next = tokio::select! {
                n = consumer.next() => n,
                _ = gone => {
                    tracing::warn!(queue = %self.queue, "consumer's channel closed without ending the stream; resubscribing");
                    None
                }
            };
            match next {
                Some(Ok(delivery)) => {
                    self.backoff.reset();
                    return Ok(delivery);
                }
                Some(Err(e)) => {
                    tracing::warn!(queue = %self.queue, error = %e, "consumer lost");
                    self.consumer = None;
                    self.channel = None;
                    self.backoff.wait().await;
                }
                None => {
                    tracing::warn!(queue = %self.queue, "consumer ended");
                    self.consumer = None;
                    self.channel = None;
                    self.backoff.wait().await;
                }
            }
        }
    }
}
