//! A basis submitted on a region's behalf: what the SOAP gateway puts on the submit exchange and
//! how the hub reads it back.
//!
//! The broker checks `user_id` against the connection's certificate, so for a basis a region
//! publishes itself the hub knows the sender without trusting anything in the message. A call
//! through the gateway is authenticated by the gateway (the caller's certificate at *its* TLS
//! edge), and the message's `user_id` is the gateway's. The gateway therefore adds who it let in
//! ([`ON_BEHALF_OF`], the caller's region; [`CALLER`], the caller's identity) and where the
//! answer goes (`reply_to` = its instance, `correlation_id` = the call). The hub believes those
//! headers only when `user_id` is a gateway its configuration names; from anyone else they are
//! a false claim, refused and logged.

use lapin::types::{AMQPValue, FieldTable};
use lapin::BasicProperties;

use super::publisher::Outgoing;
use super::region::basis_message;

/// The calling region's organisation number, as the gateway authenticated it.
pub const ON_BEHALF_OF: &str = "x-ih-on-behalf-of";
/// The calling certificate's identity (`hsa:…` or `sha256:…`), recorded as the `received`
/// entry's actor together with the gateway's.
pub const CALLER: &str = "x-ih-caller";

/// Who a gateway says it let in, and where the hub's answer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The calling region (organisation number).
    pub org: String,
    /// The caller's certificate identity.
    pub caller: String,
    /// Where the answer goes: the gateway's instance (routing key on the answer exchange) and
    /// the call it answers.
    pub answer_to: Option<AnswerTo>,
}

/// The answer's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerTo {
    pub gateway: String,
    pub correlation: String,
}

/// The message for one basis a gateway submits for `claim`, as broker user `gateway_user`.
pub fn submission(gateway_user: &str, basis_id: &str, xml: Vec<u8>, claim: &Claim) -> Outgoing {
    let mut out = basis_message(gateway_user, basis_id, xml);
    // A caller is waiting: the decide stage's call queue, not behind a batch.
    out.routing_key = super::topology::CALL_ROUTING_KEY.into();
    let mut headers = out.properties.headers().clone().unwrap_or_default();
    headers.insert(
        ON_BEHALF_OF.into(),
        AMQPValue::LongString(claim.org.clone().into()),
    );
    headers.insert(
        CALLER.into(),
        AMQPValue::LongString(claim.caller.clone().into()),
    );
    let mut props = out
        .properties
        .with_headers(headers)
        .with_app_id("invoice-hub gateway".into());
    if let Some(a) = &claim.answer_to {
        props = props
            .with_reply_to(a.gateway.clone().into())
            .with_correlation_id(a.correlation.clone().into());
    }
    out.properties = props;
    out
}

/// The claim a message makes, if it makes one (either header present): `None` for a basis a
/// region published itself.
pub fn claim_of(props: &BasicProperties) -> Option<Claim> {
    let headers = props.headers().as_ref();
    let text = |name: &str| header_text(headers, name);
    let org = text(ON_BEHALF_OF);
    let caller = text(CALLER);
    if org.is_none() && caller.is_none() {
        return None;
    }
    let answer_to = match (props.reply_to(), props.correlation_id()) {
        (Some(g), Some(c)) => Some(AnswerTo {
            gateway: g.to_string(),
            correlation: c.to_string(),
        }),
        _ => None,
    };
    Some(Claim {
        org: org.unwrap_or_default(),
        caller: caller.unwrap_or_default(),
        answer_to,
    })
}

fn header_text(headers: Option<&FieldTable>, name: &str) -> Option<String> {
    match headers?.inner().get(name)? {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_submission_carries_its_claim_and_its_answer_address() {
        let claim = Claim {
            org: "2321000131".into(),
            caller: "hsa:SE2321000131-REGION".into(),
            answer_to: Some(AnswerTo {
                gateway: "gw-1".into(),
                correlation: "c-42".into(),
            }),
        };
        let out = submission("CN=gw", "ZVF1", b"<x/>".to_vec(), &claim);
        assert_eq!(out.properties.user_id().as_ref().unwrap().as_str(), "CN=gw");
        assert_eq!(claim_of(&out.properties), Some(claim));
    }

    #[test]
    fn a_plain_basis_makes_no_claim() {
        let out = basis_message("CN=2321000016", "ZVF1", b"<x/>".to_vec());
        assert_eq!(claim_of(&out.properties), None);
    }
}
