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
//! stuck). Closing such a channel afterwards is not enough either: each message it had been handed
//! goes back with one more delivery counted, and the quorum queue's delivery limit parks it. So a
//! subscribe in progress is kept as a future of its own and the next call resumes it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Consumer};

use super::error::BrokerError;
use super::session::Session;
use crate::retry::Backoff;

/// A resubscribing consumer of one queue with a fixed prefetch.
pub struct Subscription {
    session: Arc<Session>,
    queue: String,
    prefetch: u16,
    consumer: Option<Consumer>,
    /// The consumer's channel: watched, because a consumer stream is not always ended when its
    /// connection goes (seen after a cluster node stopped: no socket left, the stream pending
    /// forever, the queue without a consumer).
    channel: Option<Channel>,
    /// The session's connection count when the channel was opened (see
    /// [`Session::connection_lost_since`]).
    generation: u64,
    /// A subscribe under way, resumed by the next call if the last one was cancelled.
    subscribing: Option<Subscribing>,
    backoff: Backoff,
    subscribes: u32,
}

type Subscribing =
    Pin<Box<dyn Future<Output = Result<(Channel, Consumer, u64), BrokerError>> + Send>>;

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
            generation: 0,
            subscribing: None,
            backoff: Backoff::fixed(
                std::time::Duration::from_millis(200),
                std::time::Duration::from_secs(10),
            ),
            subscribes: 0,
        }
    }

    /// Subscribes now, so a refusal (ACCESS_REFUSED on someone else's queue, NOT_FOUND) comes
    /// back at once instead of at the first `next`.
    pub async fn subscribe(&mut self) -> Result<(), BrokerError> {
        if self.subscribing.is_none() {
            self.subscribes += 1;
            let session = self.session.clone();
            let queue = self.queue.clone();
            let prefetch = self.prefetch;
            let tag = format!("ih-{}-{}", self.queue, self.subscribes);
            self.subscribing = Some(Box::pin(async move {
                let ch = session.new_channel().await?;
                let generation = session.connects();
                ch.basic_qos(prefetch, BasicQosOptions::default()).await?;
                let consumer = ch
                    .basic_consume(
                        queue.as_str().into(),
                        tag.as_str().into(),
                        BasicConsumeOptions::default(),
                        FieldTable::default(),
                    )
                    .await?;
                Ok((ch, consumer, generation))
            }));
        }
        let done = self.subscribing.as_mut().expect("set above").await;
        self.subscribing = None;
        let (ch, consumer, generation) = done?;
        self.channel = Some(ch);
        self.generation = generation;
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
            let (session, generation) = (self.session.clone(), self.generation);
            let gone = async move {
                // Checked once a second: cheap, and the only sign when the stream stays silent.
                loop {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    if !channel.as_ref().is_some_and(|c| c.status().connected())
                        || session.connection_lost_since(generation)
                    {
                        return;
                    }
                }
            };
            let next = tokio::select! {
                n = consumer.next() => n,
                _ = gone => {
                    tracing::warn!(queue = %self.queue, "consumer's channel or connection gone without ending the stream; resubscribing");
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
    /// than when the connection closes. The close runs in a task of its own (a `Drop` cannot
    /// wait); outside a runtime the connection's end does it.
    fn drop(&mut self) {
        let (Some(ch), Ok(rt)) = (self.channel.take(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        rt.spawn(async move {
            if ch.status().connected() {
                let _ = ch.close(200, "unsubscribed".into()).await;
            }
        });
    }
}
