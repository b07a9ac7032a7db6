//! One stage's consumer: a queue, its prefetch, a task per message, and the settling of each
//! message by the [`Verdict`] its handler returns. The decide stage and every receiver's deliver
//! stage run this same loop, each on a channel (and a prefetch) of its own, so a stage that is
//! stuck holds only its own messages.
//!
//! ```text
//! queue ──▶ Subscription ──▶ task per message (≤ prefetch) ──▶ handler ──▶ Verdict
//!            Send:  publish each message with confirms, then ack
//!            Park:  reject without requeue → dead-letter → ih.parked
//!            Retry: wait (RetryPause), then run the handler again, in place
//! ```
//!
//! The hub's own failures (a `Retry` verdict, an answer the broker did not confirm) are tried
//! again inside the message's task and never requeued: a quorum queue counts every requeue toward
//! its delivery limit, so requeueing would park a basis for a failure that was never the basis's.
//! `make cluster-test` did that once: a notice queue nacked every publish for eight minutes after
//! a node stopped, and 767 bases went to `ih.parked`. Only the basis's own faults (a hand-over
//! that cannot be read, a sink that gave up) park it.
//!
//! The broker going away is the [`Subscription`]'s business (it resubscribes with backoff); a
//! message in hand then is given up (the broker gives it out again) and finished from the log. A
//! stop ends the taking of messages, lets the ones in flight finish for [`SHUTDOWN_GRACE`], and
//! gives the subscription up.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use lapin::message::Delivery;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

use crate::broker::{settle, Notice, Outgoing, Publisher, Session, StatusMessage, Subscription};
use crate::retry::Backoff;

/// What to do with a message once its basis has been handled.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Publish these, each confirmed and in order, then acknowledge.
    Send {
        basis_id: String,
        /// The outcome for the hub's log and metrics ("OK", "ERROR", "HANDED-OVER").
        outcome: String,
        /// What the hub's log line says happened ("answered", "handed over").
        done: &'static str,
        messages: Vec<Outgoing>,
    },
    /// Give the message to the parked queue (reject without requeue), for an operator.
    Park { basis_id: String, why: String },
    /// Something of the hub's own failed (the log could not be written, a sink will come back):
    /// pause and run the handler again; the message stays in hand, its delivery count unspent.
    Retry { why: String },
}

impl Verdict {
    /// The status for the sender, and the notice for the receiver if there is one, as one
    /// verdict: both are confirmed before the message is acknowledged.
    pub(crate) fn answered(
        sender: &str,
        status: StatusMessage,
        notice: Option<(String, Notice)>,
    ) -> Verdict {
        let mut messages = vec![status.to_outgoing(sender)];
        if let Some((receiver, notice)) = notice {
            messages.push(notice.to_outgoing(&receiver));
        }
        Verdict::Send {
            basis_id: status.basis_id.clone(),
            outcome: status.outcome.to_string(),
            done: "answered",
            messages,
        }
    }

    /// The outcome label of `ih_bases_total`.
    pub(crate) fn label(&self) -> String {
        match self {
            Verdict::Send { outcome, .. } => outcome.clone(),
            Verdict::Park { .. } => "PARKED".into(),
            Verdict::Retry { .. } => "RETRY".into(),
        }
    }
}

/// How long a stopping stage lets the bases in flight finish (a delivery retrying against a
/// store that is down, an answer waiting for a broker that is gone) before it leaves them:
/// unfinished, they were never acknowledged, so the broker gives them out again and the log
/// finishes them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// A stage's queue and in-flight limit.
#[derive(Debug, Clone)]
pub(crate) struct Consumer {
    /// For the logs: "decide", "deliver 2321000016".
    pub name: String,
    pub queue: String,
    pub prefetch: u16,
}

/// Runs one stage until `stop` turns true, then finishes what is in flight. `subscribed`, if
/// given, is told once the first subscribe succeeded. An error only when the broker refuses the subscription
/// for good (no permission, no such queue).
pub(crate) async fn run<H, F>(
    consumer: Consumer,
    session: Arc<Session>,
    publisher: Publisher,
    mut stop: watch::Receiver<bool>,
    subscribed: Option<oneshot::Sender<()>>,
    handler: H,
) -> anyhow::Result<()>
where
    H: Fn(Arc<Delivery>) -> F + Send + Sync + 'static,
    F: Future<Output = Verdict> + Send + 'static,
{
    let mut subscription =
        Subscription::new(session.clone(), consumer.queue.clone(), consumer.prefetch);
    // The broker may not be there yet: the stage keeps trying, and a stop meanwhile ends it.
    tokio::select! {
        first = subscription.subscribe() => {
            first.with_context(|| format!("subscribing to {}", consumer.queue))?;
        }
        _ = stop.wait_for(|s| *s) => return Ok(()),
    }
    tracing::info!(stage = %consumer.name, queue = %consumer.queue, prefetch = consumer.prefetch, "stage consuming");
    if let Some(subscribed) = subscribed {
        let _ = subscribed.send(());
    }
    let handler = Arc::new(handler);
    let pause = Arc::new(RetryPause::new());
    let mut tasks = JoinSet::new();
    let task_stop = stop.clone();
    loop {
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = done {
                    tracing::error!(stage = %consumer.name, error = %e, "a message task failed");
                }
            }
            next = subscription.next() => {
                let delivery = Arc::new(next.with_context(|| format!("consuming {}", consumer.queue))?);
                let in_hand = InHand {
                    stage: consumer.name.clone(),
                    delivery,
                    connection: session.connects(),
                    session: session.clone(),
                };
                let (handler, publisher, pause, stop) = (handler.clone(), publisher.clone(), pause.clone(), task_stop.clone());
                tasks.spawn(async move {
                    metrics::gauge!("ih_in_flight", "stage" => in_hand.stage.clone()).increment(1.0);
                    in_hand.handle(&*handler, &publisher, &pause, stop).await;
                    metrics::gauge!("ih_in_flight", "stage" => in_hand.stage).decrement(1.0);
                });
            }
        }
    }
    // The bases in flight ack on the subscription's channel: it stays until they are done.
    finish_in_flight(&consumer.name, tasks).await;
    drop(subscription);
    Ok(())
}

async fn finish_in_flight(stage: &str, mut tasks: JoinSet<()>) {
    tracing::info!(
        stage,
        in_flight = tasks.len(),
        "stopping: finishing the messages in flight"
    );
    let drain = async {
        while let Some(done) = tasks.join_next().await {
            if let Err(e) = done {
                tracing::error!(stage, error = %e, "a message task failed");
            }
        }
    };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        tracing::warn!(
            stage,
            unfinished = tasks.len(),
            grace_secs = SHUTDOWN_GRACE.as_secs(),
            "stopping with bases unfinished: they were not acknowledged and will come again"
        );
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

/// One message in a stage's hands, from its delivery to its settling.
struct InHand {
    stage: String,
    delivery: Arc<Delivery>,
    /// The session it came on, and its connection count then (see
    /// [`Session::connection_lost_since`]).
    session: Arc<Session>,
    connection: u64,
}

impl InHand {
    /// Runs the handler and settles the message as its verdict says, trying the hub's own
    /// failures again after a pause until they pass, the stage stops (the message is requeued
    /// for the other hub or the next start) or the connection it came on is gone (the broker has
    /// taken it back).
    async fn handle<H, F>(
        &self,
        handler: &H,
        publisher: &Publisher,
        pause: &RetryPause,
        mut stop: watch::Receiver<bool>,
    ) where
        H: Fn(Arc<Delivery>) -> F,
        F: Future<Output = Verdict>,
    {
        let stage = self.stage.as_str();
        loop {
            let why = match handler(self.delivery.clone()).await {
                Verdict::Send {
                    basis_id,
                    outcome,
                    done,
                    messages,
                } => match self
                    .send(&basis_id, &outcome, done, &messages, publisher)
                    .await
                {
                    Ok(()) => return pause.reset(),
                    Err(why) => why,
                },
                Verdict::Park { basis_id, why } => return self.park(&basis_id, &why).await,
                Verdict::Retry { why } => why,
            };
            let delay = pause.next();
            tracing::error!(stage, reason = %why, delay_ms = delay.as_millis() as u64, "the hub could not finish a basis; trying it again");
            let stopped = tokio::select! {
                _ = tokio::time::sleep(delay) => false,
                _ = stop.wait_for(|s| *s) => true,
            };
            if stopped {
                // If the nack is lost with the connection, it comes again all the same.
                let _ = settle::requeue(&self.delivery).await;
                return;
            }
            if self.session.connection_lost_since(self.connection) {
                tracing::warn!(
                    stage,
                    "the connection the basis came on is gone: the broker gives it out again"
                );
                return;
            }
        }
    }

    /// Publishes each message, confirmed and in order, then acknowledges. A message the broker
    /// did not confirm is the answer's failure, returned for a retry; a lost ack leaves the
    /// message with the broker, which gives it out again to be finished from the log.
    async fn send(
        &self,
        basis_id: &str,
        outcome: &str,
        done: &str,
        messages: &[Outgoing],
        publisher: &Publisher,
    ) -> Result<(), String> {
        let (stage, d) = (self.stage.as_str(), &self.delivery);
        // `redelivered`: the broker gave this message out before (a hub crash, a lost ack):
        // the answer came from the log, which the operator can see here.
        tracing::info!(stage, basis_id = %basis_id, outcome = %outcome, redelivered = d.redelivered, "{done}");
        for message in messages {
            if let Err(e) = publisher.publish(message).await {
                return Err(format!(
                    "{} to {} was not confirmed: {e}",
                    basis_id, message.exchange
                ));
            }
        }
        if let Err(e) = settle::ack(d).await {
            tracing::warn!(stage, basis_id = %basis_id, error = %e, "ack lost: the basis will come again and be finished from the log");
        }
        Ok(())
    }

    /// Rejects without requeue: the queue dead-letters the message to `ih.parked`.
    async fn park(&self, basis_id: &str, why: &str) {
        let stage = self.stage.as_str();
        tracing::error!(stage, basis_id = %basis_id, reason = %why, "parked for an operator");
        if let Err(e) = settle::reject(&self.delivery).await {
            tracing::warn!(stage, basis_id = %basis_id, error = %e, "reject lost: the basis will come again");
        }
    }
}

/// How long a basis the stage could not finish waits before it is tried again: up to
/// 0.5 s after a first failure, doubling up to 10 s while failures follow each other (a log disk
/// that fails, a broker that refuses), back to the start once a basis is answered (jittered, as
/// every [`Backoff`], so that hubs sharing a broker do not retry in step). Without the pause a
/// failing basis would come straight back; with a fixed one, a hub whose log is broken would
/// retry its whole prefetch twice a second for as long as it lasts.
struct RetryPause(std::sync::Mutex<Backoff>);

impl RetryPause {
    fn new() -> Self {
        RetryPause(std::sync::Mutex::new(Backoff::fixed(
            Duration::from_millis(500),
            Duration::from_secs(10),
        )))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Backoff> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn next(&self) -> Duration {
        self.lock().next_delay()
    }

    fn reset(&self) {
        self.lock().reset();
    }
}
