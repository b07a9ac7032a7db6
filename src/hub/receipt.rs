//! The receipt stage: the deliver stage of the regions that pull their bases. Such a region's
//! `invoice-hub receive` is its sink, on the far side of the broker; what comes back is its
//! receipt, on this hub's own receipt queue (`ih.receipt.<instance>`, the hand-over's
//! `reply_to`). Then the same last steps as a store's delivery:
//!
//! ```text
//! receipt ─▶ the disclosure it confirms ─▶ notice ─▶ log `delivered` ─▶ answer OK
//!            (this hub's log: this basis,   (confirmed) (durable, once)
//!             to this region, these bytes)
//! ```
//!
//! A receipt is believed only as far as the broker vouches for it: its `user_id` is the region
//! that sent it (checked against the certificate), and it must be the receiver this hub
//! disclosed the basis to, for exactly the bytes it disclosed. Anything else is parked and said.
//! A receipt that comes again for a delivery already logged is acknowledged and nothing more,
//! unless it was given out before (this hub may have died before the sender's answer); its
//! notice was confirmed before the log had it, so the receiver is not told again.

use std::sync::Arc;

use lapin::message::Delivery;

use super::deliver::{answer_ok, delivered_record, notice, Announce};
use super::health::ReceiverHealth;
use super::id_locks::IdLocks;
use super::journal::Journal;
use super::stage::Verdict;
use crate::audit::{Digest, Event};
use crate::broker::handover::HandOver;
use crate::broker::{topology, Session, StoreReceipt};
use crate::clock::Clock;

/// What the receipt stage is made of.
pub(crate) struct Receipts<A: Announce> {
    pub instance: String,
    pub announce: A,
    pub clock: Arc<dyn Clock>,
    pub journal: Journal,
    pub id_locks: Arc<IdLocks>,
    /// The pulling receivers, each with its health.
    pub pulling: std::collections::BTreeMap<String, Arc<ReceiverHealth>>,
}

impl<A: Announce> Receipts<A> {
    /// Handles one receipt completely; every outcome is a [`Verdict`].
    pub(crate) async fn process(&self, d: &Delivery) -> Verdict {
        let basis_id = d
            .properties
            .message_id()
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default();
        let park = |why: String| Verdict::Park {
            basis_id: basis_id.clone(),
            why,
        };
        let Some(region) = d
            .properties
            .user_id()
            .as_ref()
            .map(|u| super::sender_of(u.as_str()))
        else {
            return park("a receipt without user_id: nobody vouches for it".into());
        };
        let Some(health) = self.pulling.get(&region) else {
            return park(format!(
                "a receipt from {region}, which does not pull its bases"
            ));
        };
        let receipt: StoreReceipt = match serde_json::from_slice(&d.data) {
            Ok(r) => r,
            Err(e) => return park(format!("a receipt from {region} that does not read: {e}")),
        };
        let _same_id = self.id_locks.lock(&receipt.id).await;
        let h = match self.disclosure(&receipt, &region) {
            Ok(Some(h)) => h,
            Ok(None) => {
                return park(format!(
                    "a receipt from {region} for basis {} with sha256 {}: this hub disclosed no \
                     such basis to it",
                    receipt.id, receipt.sha256
                ))
            }
            Err(why) => return Verdict::Retry { why },
        };
        let history = match self.journal.history(&h.basis_id, h.received_sha256) {
            Ok(history) => history,
            Err(why) => return Verdict::Retry { why },
        };
        let logged_now = !history.has(Event::Delivered);
        if logged_now {
            if let Err(why) = self
                .announce
                .announce(notice(&*self.clock, &h, &receipt))
                .await
            {
                return Verdict::Retry { why };
            }
            let raw = String::from_utf8_lossy(&d.data).into_owned();
            let logged = delivered_record(&self.instance, &*self.clock, &h, raw);
            if let Err(why) = self.journal.append_new(vec![logged], &history).await {
                return Verdict::Retry { why };
            }
            health.delivered(self.clock.now());
        } else if !d.redelivered {
            return Verdict::Send {
                basis_id: h.basis_id,
                outcome: "RECEIPT-AGAIN".into(),
                done: "receipt for a delivery already logged",
                messages: Vec::new(),
            };
        }
        answer_ok(&*self.clock, &h, receipt)
    }

    /// The disclosure a receipt confirms, from this hub's log: basis `receipt.id`, to `region`,
    /// the bytes whose hash the receipt names.
    fn disclosure(&self, receipt: &StoreReceipt, region: &str) -> Result<Option<HandOver>, String> {
        let Ok(stored) = Digest::from_hex(&receipt.sha256) else {
            return Ok(None);
        };
        let records = self.journal.records_of(&receipt.id)?;
        Ok(records.into_iter().find_map(|r| {
            let confirms = r.event == Event::Disclosed
                && r.receiver == region
                && r.disclosed_sha256 == Some(stored);
            confirms.then(|| HandOver {
                basis_id: r.basis_id,
                sender: r.sender,
                receiver: r.receiver,
                received_sha256: r.received_sha256.unwrap_or(stored),
                disclosed_sha256: stored,
                patients: r.patients,
                policy: r.policy,
                decided_by: r.instance,
            })
        }))
    }
}

/// Declares this hub's receipt queue (a quorum queue, dead-lettering into the parked queue) and
/// binds it to the receipt exchange under the instance's name.
pub(crate) async fn declare_queue(session: &Session, instance: &str) -> anyhow::Result<()> {
    let queue = topology::receipt_queue(instance);
    let bound = (topology::RECEIPT_EXCHANGE, instance);
    session
        .declare_own_queue(&queue, bound, Some(topology::PARKED_EXCHANGE))
        .await?;
    Ok(())
}
