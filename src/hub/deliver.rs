//! A receiver's deliver stage: its delivery queue → its [`Sink`] → the notice to the receiver
//! (confirmed) → `delivered` logged with the receipt → status OK to the sender (confirmed) → ack.
//!
//! ```text
//! hand-over ─▶ deliver (the sink, retried ─▶ notice ──────▶ log `delivered` ─▶ answer OK
//!              within its limits)            (confirmed)    (durable)
//! ```
//!
//! One stage per receiver, each with its own channel and prefetch: a store that is down holds
//! only its own queue's bases (visible in `/ready` and `/metrics`), while every other receiver's
//! keep flowing.
//!
//! Exactly once: a hand-over whose delivery is already logged (a second hand-over of one basis,
//! a redelivery after a crash) is answered from the log, and the sink is not called again. The
//! receiver's notice is confirmed *before* `delivered` is logged, so a delivery found logged has
//! had its notice, and nothing that comes again tells the receiver twice. The one window left —
//! a hub that dies after the notice's confirm and before the log's flush — sends it again with
//! the same receipt (the store answers the same bytes with the first receipt).

use std::future::Future;
use std::sync::Arc;

use super::health::ReceiverHealth;
use super::id_locks::IdLocks;
use super::journal::{History, Journal};
use super::sink::Sink;
use super::stage::Verdict;
use crate::audit::{Event, Record};
use crate::broker::handover::{HandOver, Received};
use crate::broker::{Notice, Outcome, Outgoing, Publisher, StatusMessage, StoreReceipt};
use crate::clock::Clock;

/// Where a delivery's notice goes, confirmed, before its `delivered` is logged: the broker in the
/// hub, a list in the tests of the steps.
pub(crate) trait Announce: Send + Sync + 'static {
    fn announce(&self, notice: Outgoing) -> impl Future<Output = Result<(), String>> + Send;
}

impl Announce for Publisher {
    async fn announce(&self, notice: Outgoing) -> Result<(), String> {
        self.publish(&notice)
            .await
            .map(|_| ())
            .map_err(|e| format!("the notice was not confirmed: {e}"))
    }
}

/// What one receiver's deliver stage is made of.
pub(crate) struct Deliver<S: Sink, A: Announce> {
    pub receiver: String,
    pub sink: S,
    pub announce: A,
    pub instance: String,
    pub clock: Arc<dyn Clock>,
    pub journal: Journal,
    pub id_locks: Arc<IdLocks>,
    pub health: Arc<ReceiverHealth>,
}

impl<S: Sink, A: Announce> Deliver<S, A> {
    /// Handles one hand-over completely; every outcome is a [`Verdict`].
    pub(crate) async fn process(&self, r: Received) -> Verdict {
        let h = &r.handover;
        if h.receiver != self.receiver {
            return Verdict::Park {
                basis_id: h.basis_id.clone(),
                why: format!(
                    "a hand-over for {} on {}'s delivery queue",
                    h.receiver, self.receiver
                ),
            };
        }
        let _held = self.health.hold(r.handed_over_at);
        let _same_id = self.id_locks.lock(&h.basis_id).await;
        let history = match self.journal.history(&h.basis_id, h.received_sha256) {
            Ok(history) => history,
            Err(why) => return Verdict::Retry { why },
        };
        let receipt = match history.delivered_receipt() {
            Some(receipt) => receipt,
            None => match self.deliver(&r, &history).await {
                Ok(receipt) => receipt,
                Err(verdict) => return verdict,
            },
        };
        answer_ok(&*self.clock, h, receipt)
    }

    /// The sink, the notice, then `delivered` with its receipt, durable. A sink that gives up
    /// (the receiver refused, the retries ran out) parks the basis; anything else brings it back
    /// later.
    async fn deliver(&self, r: &Received, history: &History) -> Result<StoreReceipt, Verdict> {
        let h = &r.handover;
        let delivered = match self.sink.deliver(&h.basis_id, r.body.clone()).await {
            Ok(d) => d,
            Err(e) => {
                self.health.failed(self.clock.now(), &e.to_string());
                return Err(if e.gives_up() {
                    Verdict::Park {
                        basis_id: h.basis_id.clone(),
                        why: format!("delivery to {} given up: {e}", self.sink.describe()),
                    }
                } else {
                    Verdict::Retry { why: e.to_string() }
                });
            }
        };
        self.health.delivered(self.clock.now());
        let told = notice(&*self.clock, h, &delivered.receipt);
        if let Err(why) = self.announce.announce(told).await {
            return Err(Verdict::Retry { why });
        }
        let logged = delivered_record(&self.instance, &*self.clock, h, delivered.raw);
        if let Err(why) = self.journal.append_new(vec![logged], history).await {
            return Err(Verdict::Retry { why });
        }
        Ok(delivered.receipt)
    }
}

/// The `delivered` entry of a basis, with the receiver's receipt verbatim.
pub(crate) fn delivered_record(
    instance: &str,
    clock: &dyn Clock,
    h: &HandOver,
    raw_receipt: String,
) -> Record {
    let mut logged = Record::new(
        clock.now(),
        Event::Delivered,
        h.basis_id.clone(),
        h.sender.clone(),
        h.receiver.clone(),
        instance,
    );
    logged.patients = h.patients.clone();
    logged.received_sha256 = Some(h.received_sha256);
    logged.policy = h.policy.clone();
    logged.receipt = Some(raw_receipt);
    logged
}

/// The receiver's notice of a delivered basis: basis id, sender, receipt — no patient data.
pub(crate) fn notice(clock: &dyn Clock, h: &HandOver, receipt: &StoreReceipt) -> Outgoing {
    let notice = Notice {
        basis_id: h.basis_id.clone(),
        sender: h.sender.clone(),
        receipt: receipt.clone(),
        at: clock.now(),
    };
    notice.to_outgoing(&h.receiver)
}

/// The sender's answer for a delivered basis: status OK with the receiver and its receipt.
pub(crate) fn answer_ok(clock: &dyn Clock, h: &HandOver, receipt: StoreReceipt) -> Verdict {
    let status = StatusMessage {
        basis_id: h.basis_id.clone(),
        outcome: Outcome::Ok,
        findings: Vec::new(),
        withheld: None,
        receiver: Some(h.receiver.clone()),
        receipt: Some(receipt),
        waiting: None,
        at: clock.now(),
    };
    Verdict::answered(&h.sender, status, None)
}
