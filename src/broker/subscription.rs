//! A consumer that outlives the broker: when the connection or channel goes, it subscribes again
//! (with backoff) and carries on. Deliveries are acknowledged manually by the caller, so a message
//! in hand when the broker went away is simply delivered again later — which is why every reader
//! of these queues is idempotent.
//!
//! The subscribing and consuming happen in a task of their own (the pump), which hands deliveries
//! over a channel. That makes [`Subscription::next`] cancel-safe: the hub waits for it inside a
//! `select!` beside its finished tasks, and tests wrap it in timeouts. When the subscribing was
//! done inside `next`, a cancellation between `basic.consume` reaching the broker and the consumer
//! being kept left a consumer nobody read, holding a full prefetch of messages unacknowledged until
//! the connection closed (seen after a cluster node stopped: seven consumers on one hub's
//! connection, six of them orphans with 32 messages each, the run stuck 192 bases short).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::message::Delivery;
use lapin::options::{BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Consumer};
use tokio::sync::{mpsc, oneshot};

use super::backoff::Backoff;
use super::error::BrokerError;
use super::session::Session;

type Item = Result<Delivery, BrokerError>;

/// A resubscribing consumer of one queue with a fixed prefetch.
pub struct Subscription {
    session: Arc<Session>,
    queue: String,
    prefetch: u16,
    /// Deliveries from the pump; `None` before it started and after it ended with an error.
    deliveries: Option<mpsc::Receiver<Item>>,
    /// The pump's first subscribe, answered to [`Subscription::subscribe`].
    first: Option<oneshot::Receiver<Result<(), BrokerError>>>,
    subscribes: Arc<AtomicU32>,
}

impl Subscription {
    /// Nothing happens until [`Subscription::subscribe`] or [`Subscription::next`]; `prefetch`
    /// bounds the unacknowledged messages the broker hands this consumer (the hub's in-flight
    /// limit). Dropping the subscription closes its channel: what was not acknowledged goes back
    /// to the queue.
    pub fn new(session: Arc<Session>, queue: impl Into<String>, prefetch: u16) -> Self {
        Subscription {
            session,
            queue: queue.into(),
            prefetch,
            deliveries: None,
            first: None,
            subscribes: Arc::new(AtomicU32::new(0)),
        }
    }

    /// Subscribes now, so a refusal (ACCESS_REFUSED on someone else's queue, NOT_FOUND) or an
    /// unreachable broker comes back at once instead of at the first `next`.
    pub async fn subscribe(&mut self) -> Result<(), BrokerError> {
        self.start(true);
        let Some(first) = self.first.as_mut() else {
            return Ok(()); // answered before
        };
        let answer = first.await;
        self.first = None;
        match answer {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                self.deliveries = None;
                Err(e)
            }
            Err(_) => {
                self.deliveries = None;
                Err(self.ended())
            }
        }
    }

    /// How many times this subscription subscribed (more than 1 after a reconnect).
    pub fn subscribes(&self) -> u32 {
        self.subscribes.load(Ordering::Relaxed)
    }

    /// The next delivery, waiting across broker restarts. Errors only when the broker refuses
    /// for good (permissions, missing queue) or the session gave up reconnecting. Cancel-safe:
    /// a delivery is never lost by dropping this future.
    pub async fn next(&mut self) -> Result<Delivery, BrokerError> {
        self.start(false);
        let rx = self.deliveries.as_mut().expect("started above");
        match rx.recv().await {
            Some(Ok(d)) => Ok(d),
            Some(Err(e)) => {
                self.deliveries = None;
                self.first = None;
                Err(e)
            }
            None => {
                // The pump answered its first subscribe with an error nobody awaited, or died.
                self.deliveries = None;
                if let Some(Ok(Err(e))) = self.first.take().map(|mut f| f.try_recv()) {
                    return Err(e);
                }
                Err(self.ended())
            }
        }
    }

    /// Starts the pump unless it runs. With `report_first`, its first subscribe's result goes
    /// to [`Subscription::subscribe`] (and a failure ends it); otherwise it retries what is
    /// transient.
    fn start(&mut self, report_first: bool) {
        if self.deliveries.is_some() {
            return;
        }
        let (tx, rx) = mpsc::channel(1);
        let first = if report_first {
            let (first_tx, first_rx) = oneshot::channel();
            self.first = Some(first_rx);
            Some(first_tx)
        } else {
            None
        };
        let pump = Pump {
            session: self.session.clone(),
            queue: self.queue.clone(),
            prefetch: self.prefetch,
            subscribes: self.subscribes.clone(),
            backoff: Backoff::default(),
        };
        tokio::spawn(pump.run(tx, first));
        self.deliveries = Some(rx);
    }

    fn ended(&self) -> BrokerError {
        BrokerError::SubscriptionEnded {
            queue: self.queue.clone(),
        }
    }
}

/// The task that subscribes, consumes, and subscribes again.
struct Pump {
    session: Arc<Session>,
    queue: String,
    prefetch: u16,
    subscribes: Arc<AtomicU32>,
    backoff: Backoff,
}

impl Pump {
    async fn run(
        mut self,
        tx: mpsc::Sender<Item>,
        mut first: Option<oneshot::Sender<Result<(), BrokerError>>>,
    ) {
        loop {
            let (channel, mut consumer) = match self.subscribe().await {
                Ok(c) => {
                    if let Some(f) = first.take() {
                        let _ = f.send(Ok(()));
                    }
                    c
                }
                Err(e) => {
                    let e = match first.take() {
                        Some(f) => match f.send(Err(e)) {
                            Ok(()) => return, // `subscribe` reports it
                            Err(back) => back.expect_err("an error was sent"),
                        },
                        None => e,
                    };
                    if !e.is_transient() {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                    tracing::warn!(queue = %self.queue, error = %e, "resubscribing");
                    if !self.pause(&tx).await {
                        return;
                    }
                    continue;
                }
            };
            loop {
                let next = tokio::select! {
                    n = consumer.next() => n,
                    _ = gone(&channel) => {
                        tracing::warn!(queue = %self.queue, "consumer's channel closed without ending the stream; resubscribing");
                        None
                    }
                    _ = tx.closed() => {
                        // The subscription was dropped: give back what it did not acknowledge.
                        let _ = channel.close(200, "unsubscribed".into()).await;
                        return;
                    }
                };
                match next {
                    Some(Ok(delivery)) => {
                        self.backoff.reset();
                        if tx.send(Ok(delivery)).await.is_err() {
                            let _ = channel.close(200, "unsubscribed".into()).await;
                            return;
                        }
                    }
                    Some(Err(e)) => {
                        tracing::warn!(queue = %self.queue, error = %e, "consumer lost");
                        break;
                    }
                    None => {
                        tracing::warn!(queue = %self.queue, "consumer ended");
                        break;
                    }
                }
            }
            if !self.pause(&tx).await {
                return;
            }
        }
    }

    async fn subscribe(&mut self) -> Result<(Channel, Consumer), BrokerError> {
        let ch = self.session.new_channel().await?;
        ch.basic_qos(self.prefetch, BasicQosOptions::default())
            .await?;
        let n = self.subscribes.fetch_add(1, Ordering::Relaxed) + 1;
        let tag = format!("ih-{}-{n}", self.queue);
        let consumer = ch
            .basic_consume(
                self.queue.as_str().into(),
                tag.as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok((ch, consumer))
    }

    /// Waits out the backoff; false when the subscription was dropped meanwhile.
    async fn pause(&mut self, tx: &mpsc::Sender<Item>) -> bool {
        tokio::select! {
            _ = self.backoff.wait() => true,
            _ = tx.closed() => false,
        }
    }
}

/// Resolves when the channel is no longer open. Checked once a second: cheap, and the only sign
/// when a consumer stream stays silent after its connection went (seen after a cluster node
/// stopped: no socket left, the stream pending forever, the queue without a consumer).
async fn gone(channel: &Channel) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if !channel.status().connected() {
            return;
        }
    }
}
