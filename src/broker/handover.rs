//! The hand-over between the hub's two stages: the decide stage publishes each disclosed basis,
//! with publisher confirms, to its receiving region's delivery queue; the hub's deliver stage
//! consumes it (a region with a store), or the region itself does (`invoice-hub receive`).
//!
//! The message's body is the disclosed document itself, byte for byte what the receiver gets.
//! The facts the deliver stage logs `delivered` with travel beside it in one header, so any hub
//! of a cluster can deliver a basis another hub decided. The keyed patient hashes go only on a
//! queue that hubs alone read: a region that pulls its own queue gets an empty list (the hash
//! key is the deployment's secret, and a region holding hash and personnummer side by side
//! could build a dictionary of it); its receipt goes back, through `reply_to`, to the hub that
//! decided, which has them in its log.

use bytes::Bytes;
use lapin::message::Delivery;
use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;
use serde::{Deserialize, Serialize};

use super::{topology, Outgoing};
use crate::audit::{Digest, PatientHash, PolicyRef};

/// AMQP `type` of a hand-over.
pub const HANDOVER_TYPE: &str = "invoice-hub.handover.v1";
/// The header that carries the [`HandOver`] as JSON.
const HEADER: &str = "ih-handover";

/// What the decide stage decided about one disclosed basis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HandOver {
    pub basis_id: String,
    /// The sending region (the broker-checked user that published the basis).
    pub sender: String,
    pub receiver: String,
    /// The basis as received: the key, with the id, of its entries in the log.
    pub received_sha256: Digest,
    /// The document in the body (after the policy's removals).
    pub disclosed_sha256: Digest,
    pub patients: Vec<PatientHash>,
    /// The policy and board decision the disclosure rests on.
    pub policy: Option<PolicyRef>,
    /// The hub instance that decided.
    pub decided_by: String,
}

/// A hand-over as it came off a delivery queue.
#[derive(Debug, Clone)]
pub struct Received {
    pub handover: HandOver,
    pub body: Bytes,
    /// When the decide stage handed it over (the message's timestamp): the basis's age in the
    /// queue.
    pub handed_over_at: Option<u64>,
    /// The broker gave this message out before (its reader stopped or crashed holding it).
    pub redelivered: bool,
    /// Where a pulling region's receipt goes (the deciding hub's instance).
    pub reply_to: Option<String>,
}

impl HandOver {
    /// The message to publish: to [`topology::DELIVER_EXCHANGE`], routed by the receiver,
    /// persistent, `message_id` = basis id, timestamped `at_secs`; `reply_to` names the hub a
    /// pulling region sends its receipt to (the routing key on [`topology::RECEIPT_EXCHANGE`]).
    pub fn to_outgoing(&self, body: Bytes, at_secs: u64, reply_to: Option<&str>) -> Outgoing {
        // Serialising this plain struct cannot fail (no maps, no I/O).
        let json = serde_json::to_string(self).unwrap_or_default();
        let mut headers = FieldTable::default();
        headers.insert(HEADER.into(), AMQPValue::LongString(json.into()));
        let mut properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/xml".into())
            .with_type(HANDOVER_TYPE.into())
            .with_message_id(self.basis_id.as_str().into())
            .with_timestamp(at_secs)
            .with_headers(headers);
        if let Some(hub) = reply_to {
            properties = properties.with_reply_to(hub.into());
        }
        Outgoing {
            exchange: topology::DELIVER_EXCHANGE.into(),
            routing_key: self.receiver.clone(),
            payload: body.to_vec(),
            properties,
        }
    }
}

impl Received {
    /// Reads a delivery from a delivery queue; a message without a readable hand-over (nobody
    /// but a hub can publish there, so this is a bug or an operator's mistake) says why.
    pub fn read(d: &Delivery) -> Result<Received, String> {
        let json = d
            .properties
            .headers()
            .as_ref()
            .and_then(|h| h.inner().get(HEADER))
            .and_then(|v| match v {
                AMQPValue::LongString(s) => Some(s.as_bytes().to_vec()),
                _ => None,
            })
            .ok_or_else(|| format!("the message has no {HEADER} header: not a hand-over"))?;
        let handover: HandOver = serde_json::from_slice(&json)
            .map_err(|e| format!("the {HEADER} header is not a hand-over: {e}"))?;
        Ok(Received {
            handover,
            body: Bytes::from(d.data.clone()),
            handed_over_at: *d.properties.timestamp(),
            redelivered: d.redelivered,
            reply_to: d.properties.reply_to().as_ref().map(|s| s.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_handover_goes_to_its_receivers_queue_with_its_facts_beside_the_document() {
        let h = HandOver {
            basis_id: "ZVF1".into(),
            sender: "2321000016".into(),
            receiver: "2321000131".into(),
            received_sha256: Digest([1; 32]),
            disclosed_sha256: Digest([2; 32]),
            patients: vec![PatientHash([3; 32])],
            policy: None,
            decided_by: "hub-a".into(),
        };
        let out = h.to_outgoing(Bytes::from_static(b"<doc/>"), 7, Some("hub-a"));
        assert_eq!(
            out.properties.reply_to().as_ref().unwrap().as_str(),
            "hub-a"
        );
        assert_eq!(out.exchange, "ih.deliver");
        assert_eq!(out.routing_key, "2321000131");
        assert_eq!(out.payload, b"<doc/>");
        let header = out.properties.headers().as_ref().unwrap().inner()[HEADER].clone();
        let AMQPValue::LongString(json) = header else {
            panic!("{header:?}")
        };
        assert_eq!(
            serde_json::from_slice::<HandOver>(json.as_bytes()).unwrap(),
            h
        );
    }
}
