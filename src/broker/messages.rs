//! The JSON bodies the hub sends back to regions. They are defined here, beside the queues they
//! travel on, so the hub (producer) and `invoice-hub status`/`notify` (consumers) cannot drift
//! apart. Neither carries patient data: a status names the basis, its outcome and the rules; a
//! notice names the basis, the sender and the store's receipt.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use lapin::BasicProperties;

use super::publisher::Outgoing;
use super::topology;
use crate::validate::Finding;

/// AMQP `type` of a status message.
pub const STATUS_TYPE: &str = "invoice-hub.status.v1";
/// AMQP `type` of a notice.
pub const NOTICE_TYPE: &str = "invoice-hub.notice.v1";
/// AMQP `type` of a pulling region's receipt.
pub const RECEIPT_TYPE: &str = "invoice-hub.receipt.v1";
/// AMQP `type` of a basis on the submit exchange.
pub const BASIS_TYPE: &str = "invoice-hub.basis.v1";

/// The outcome of one basis, as the contract's `resultCode` plus the confidentiality case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Outcome {
    /// Delivered to the receiving region's store.
    Ok,
    /// Not delivered: the basis is invalid; `findings` says why. Counts as not received.
    Error,
    /// Not delivered: the sending region's policy holds it for manual review.
    Withheld,
    /// Not delivered: the sending region's policy refuses it outright (`withheld` says which
    /// rule and board decision).
    Rejected,
    /// Not final: disclosed and handed over to the receiving region's delivery queue, whose
    /// delivery is held up (`waiting` says why); OK follows once the receiver has it. Sent only
    /// when the receiver's delivery is held up, so a sender is not left with silence.
    Queued,
    /// Disclosed, logged, and confirmed on the receiving region's delivery queue: what a gateway
    /// answers the contract's `OK` on. Sent only to a gateway (a region's own status queue gets
    /// OK once the receiver has the basis).
    Accepted,
}

impl Outcome {
    /// Whether this is the basis's answer (OK, ERROR, WITHHELD, REJECTED) rather than word of
    /// where it waits (QUEUED). A reader that waits for answers skips the others.
    pub fn is_final(&self) -> bool {
        !matches!(self, Outcome::Queued)
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Ok => "OK",
            Outcome::Error => "ERROR",
            Outcome::Withheld => "WITHHELD",
            Outcome::Rejected => "REJECTED",
            Outcome::Queued => "QUEUED",
            Outcome::Accepted => "ACCEPTED",
        })
    }
}

/// Why a basis was withheld: the policy rule and the board decision it rests on, so the sender's
/// staff can find the decision without asking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withholding {
    pub rule: String,
    pub board_decision: String,
    pub reason: String,
}

/// The receiver's receipt for a delivered basis: as a store answers `PUT /v1/claims/{id}`, or as
/// `invoice-hub receive` sends it back for a basis it wrote (`seq` 0: a directory keeps no
/// sequence).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreReceipt {
    pub id: String,
    pub sha256: String,
    pub received_at: String,
    pub seq: u64,
}

/// One outcome, sent to the sending region's status queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusMessage {
    pub basis_id: String,
    pub outcome: Outcome,
    /// For ERROR: every finding (rule, element path, message).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    /// For WITHHELD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withheld: Option<Withholding>,
    /// For OK: the receiving region's organisation number and the store's receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receiver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt: Option<StoreReceipt>,
    /// For QUEUED: why the receiver's delivery is held up ("store … unavailable since …").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
    pub at: DateTime<Utc>,
}

/// Told to the receiving region when a basis for it arrived in its store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    pub basis_id: String,
    /// The sending region's organisation number.
    pub sender: String,
    pub receipt: StoreReceipt,
    pub at: DateTime<Utc>,
}

impl StatusMessage {
    /// The message the hub publishes for this outcome: to [`topology::STATUS_EXCHANGE`], routed by
    /// the sender's organisation number, persistent, `message_id` = basis id.
    pub fn to_outgoing(&self, sender_org: &str) -> Outgoing {
        json_outgoing(
            topology::STATUS_EXCHANGE,
            sender_org,
            STATUS_TYPE,
            &self.basis_id,
            self,
        )
    }

    /// The same outcome as the answer to a gateway's call: to [`topology::ANSWER_EXCHANGE`],
    /// routed by the gateway's instance, `correlation_id` = the call.
    pub fn to_answer(&self, to: &super::on_behalf::AnswerTo) -> Outgoing {
        let mut out = json_outgoing(
            topology::ANSWER_EXCHANGE,
            &to.gateway,
            STATUS_TYPE,
            &self.basis_id,
            self,
        );
        out.properties = out
            .properties
            .with_correlation_id(to.correlation.clone().into());
        out
    }

    /// One line for a terminal: id, outcome, and the rules (never the document's content).
    pub fn summary_line(&self) -> String {
        let mut line = format!("{}  {}", self.basis_id, self.outcome);
        match self.outcome {
            Outcome::Ok => {
                if let Some(r) = &self.receiver {
                    line.push_str(&format!("  delivered to {r}"));
                }
                if let Some(rc) = &self.receipt {
                    line.push_str(&format!("  receipt seq {} sha256 {}", rc.seq, rc.sha256));
                }
            }
            Outcome::Error => {
                for f in &self.findings {
                    line.push_str(&format!("\n    {f}"));
                }
            }
            Outcome::Accepted => {
                if let Some(r) = &self.receiver {
                    line.push_str(&format!("  on its way to {r}"));
                }
            }
            Outcome::Queued => {
                if let Some(r) = &self.receiver {
                    line.push_str(&format!("  waiting for {r}"));
                }
                if let Some(w) = &self.waiting {
                    line.push_str(&format!(": {w}"));
                }
            }
            Outcome::Withheld | Outcome::Rejected => {
                if let Some(w) = &self.withheld {
                    line.push_str(&format!(
                        "  rule {} (board decision {}): {}",
                        w.rule, w.board_decision, w.reason
                    ));
                }
            }
        }
        line
    }
}

impl StoreReceipt {
    /// A pulling region's receipt: to [`topology::RECEIPT_EXCHANGE`], routed to the hub that
    /// decided (`hub`, the hand-over's `reply_to`), with the region's broker user as `user_id`
    /// (the broker checks it against the certificate, so the hub knows who confirmed).
    pub fn to_outgoing(&self, region_user: &str, hub: &str) -> Outgoing {
        let mut out = json_outgoing(
            topology::RECEIPT_EXCHANGE,
            hub,
            RECEIPT_TYPE,
            &self.id,
            self,
        );
        out.properties = out.properties.with_user_id(region_user.into());
        out
    }
}

impl Notice {
    /// The message the hub publishes for this notice: to [`topology::NOTIFY_EXCHANGE`], routed by
    /// the receiver's organisation number.
    pub fn to_outgoing(&self, receiver_org: &str) -> Outgoing {
        json_outgoing(
            topology::NOTIFY_EXCHANGE,
            receiver_org,
            NOTICE_TYPE,
            &self.basis_id,
            self,
        )
    }

    pub fn summary_line(&self) -> String {
        format!(
            "{}  from {}  stored seq {} sha256 {} at {}",
            self.basis_id,
            self.sender,
            self.receipt.seq,
            self.receipt.sha256,
            self.receipt.received_at
        )
    }
}

fn json_outgoing<T: Serialize>(
    exchange: &str,
    org: &str,
    kind: &str,
    basis_id: &str,
    body: &T,
) -> Outgoing {
    // Serialising these plain structs cannot fail (no maps with non-string keys, no I/O).
    let payload = serde_json::to_vec(body).unwrap_or_default();
    Outgoing {
        exchange: exchange.into(),
        routing_key: org.into(),
        payload,
        properties: BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_type(kind.into())
            .with_message_id(basis_id.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_json_is_stable_and_round_trips() {
        let s = StatusMessage {
            basis_id: "ZVF23210000162601000001".into(),
            outcome: Outcome::Error,
            findings: vec![Finding::new(
                "ÖR5",
                "/claimSpecification/payableAmount",
                "sum",
            )],
            withheld: None,
            receiver: None,
            receipt: None,
            waiting: None,
            at: "2026-11-22T14:00:00Z".parse().unwrap(),
        };
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains(r#""outcome":"ERROR""#), "{json}");
        assert!(!json.contains("withheld"), "{json}");
        assert_eq!(serde_json::from_str::<StatusMessage>(&json).unwrap(), s);
        assert!(s
            .summary_line()
            .contains("ÖR5 at /claimSpecification/payableAmount"));
    }

    #[test]
    fn withheld_names_rule_and_board_decision() {
        let json = r#"{"basis_id":"X","outcome":"WITHHELD","withheld":{"rule":"P-PSY","board_decision":"RS 2025-114","reason":"psychiatric care"},"at":"2026-11-22T14:00:00Z"}"#;
        let s: StatusMessage = serde_json::from_str(json).unwrap();
        assert_eq!(s.outcome, Outcome::Withheld);
        let line = s.summary_line();
        assert!(
            line.contains("P-PSY") && line.contains("RS 2025-114"),
            "{line}"
        );
    }
}
