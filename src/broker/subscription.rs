//! A consumer that outlives the broker: when the connection or channel goes, it subscribes again
//! (with backoff) and carries on. Deliveries are acknowledged manually by the caller, so a message
//! in hand when the broker went away is simply delivered again later — which is why every reader
//! of these queues is idempotent.
//!
//! [`Subscription::next`] is cancel-safe: the hub waits for it inside a `select!` beside its
//! finished tasks, and tests wrap it in timeouts, so it is dropped mid-way all the time. A
//! subscribe cancelled after `basic.consume` reached the broker but before the consumer was kept
//! used to leave a consumer nobody read, holding a full prefetch unacknowledged until the
//! connection closed (`make cluster-test`: seven consumers on one hub's connection, 192 bases
//! stuck). The channel is therefore kept from the moment it is opened, and a subscribe that finds
//! one without a consumer closes it first: the broker cancels its consumer and requeues what it
//! held.

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
        if self.consumer.is_none() {
            if let Some(abandoned) = self.channel.take() {
                close_in_background(abandoned, "subscribe interrupted");
            }
        }
        let ch = self.session.new_channel().await?;
        // Kept before anything can be cancelled, so an interrupted subscribe is cleaned up.
        self.channel = Some(ch.clone());
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

impl Drop for Subscription {
    /// Gives the consumer up, so what it holds unacknowledged goes back to the queue now rather
    /// than when the connection closes.
    fn drop(&mut self) {
        if let Some(ch) = self.channel.take() {
            close_in_background(ch, "unsubscribed");
        }
    }
}

/// Closes a channel from a task of its own, so neither a cancelled caller nor a `Drop` can stop
/// it half-way. Outside a runtime there is nothing to close with; the connection's end does it.
fn close_in_background(ch: lapin::Channel, why: &'static str) {
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(async move {
            if ch.status().connected() {
                let _ = ch.close(200, why.into()).await;
            }
        });
    }
}
