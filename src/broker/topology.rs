//! Every name the broker and the code must agree on, in one place. `broker/ctl` writes the same
//! names into the broker's definitions; `tests/broker_topology.rs` checks they match.

/// The virtual host of the exchange; nothing of invoice-hub lives in `/`.
pub const VHOST: &str = "invoice-hub";

/// Regions publish invoice bases here (write permission on this one exchange only).
pub const SUBMIT_EXCHANGE: &str = "ih.submit";
/// Routing key of a basis on [`SUBMIT_EXCHANGE`]; anything else is unroutable and returned.
pub const SUBMIT_ROUTING_KEY: &str = "submit";
/// The hub's quorum queue, with a delivery limit and dead-lettering into [`PARKED_QUEUE`].
pub const SUBMIT_QUEUE: &str = "ih.submit";
/// Routing key of a basis a caller waits for (the SOAP gateway's): it goes to [`CALL_QUEUE`].
pub const CALL_ROUTING_KEY: &str = "call";
/// The decide stage's second queue, for bases someone waits for on the line: a caller of the
/// contract must have its answer in seconds, also while a month-end batch of thousands fills
/// [`SUBMIT_QUEUE`]. The same decide stage consumes both, with a prefetch each.
pub const CALL_QUEUE: &str = "ih.submit.call";

/// Dead-letter exchange of the submit queue, and where the hub puts what it gives up on.
pub const PARKED_EXCHANGE: &str = "ih.parked";
/// Poison messages and give-ups wait here for an operator.
pub const PARKED_QUEUE: &str = "ih.parked";

/// The hub publishes outcomes here with the sending region's organisation number as routing key.
pub const STATUS_EXCHANGE: &str = "ih.status";
/// The hub publishes notices here with the receiving region's organisation number as routing key.
pub const NOTIFY_EXCHANGE: &str = "ih.notify";

/// The decide stage hands each disclosed basis over here, routed by the receiving region's
/// organisation number, to that region's [`deliver_queue`].
pub const DELIVER_EXCHANGE: &str = "ih.deliver";

/// A region that pulls its delivery queue sends each receipt here, routed by the deciding hub's
/// instance (the hand-over's `reply_to`), to that hub's [`receipt_queue`].
pub const RECEIPT_EXCHANGE: &str = "ih.receipt";

/// The hub answers a gateway's submissions here, routed by the gateway's instance (the
/// submission's `reply_to`), to that gateway's [`answer_queue`].
pub const ANSWER_EXCHANGE: &str = "ih.answer";

/// Default `x-delivery-limit` of the submit queue (`broker/ctl start --delivery-limit`).
pub const DEFAULT_DELIVERY_LIMIT: u32 = 5;

/// The queue a sending region reads its outcomes from; only that region may read it.
pub fn status_queue(org: &str) -> String {
    format!("{STATUS_EXCHANGE}.{org}")
}

/// The queue a receiving region reads its notices from; only that region may read it.
pub fn notify_queue(org: &str) -> String {
    format!("{NOTIFY_EXCHANGE}.{org}")
}

/// A receiving region's delivery queue: a quorum queue of its own (with the delivery limit and
/// dead-lettering into [`PARKED_QUEUE`]), so a region whose store is down holds only its own
/// bases. The hub's deliver stage consumes it for a region with a store.
pub fn deliver_queue(org: &str) -> String {
    format!("{DELIVER_EXCHANGE}.{org}")
}

/// The queue a hub instance reads the receipts of pulling regions from. The hub declares it
/// (quorum, dead-lettering into [`PARKED_QUEUE`]) and binds it to [`RECEIPT_EXCHANGE`] under its
/// instance name, so a deployment's broker setup need not list its hubs.
pub fn receipt_queue(instance: &str) -> String {
    format!("{RECEIPT_EXCHANGE}.{instance}")
}

/// The queue a gateway instance reads the hub's answers from. The gateway declares it (quorum,
/// so answers to calls still waiting survive a broker node's restart) and binds it to
/// [`ANSWER_EXCHANGE`] under its instance name.
pub fn answer_queue(instance: &str) -> String {
    format!("{ANSWER_EXCHANGE}.{instance}")
}

/// A hub instance's name: it travels in message headers and names the disclosure log, so it is
/// kept to letters, digits, `-` and `_` (at most 64).
pub fn is_instance_name(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A region is a broker user named by its organisation number: ten digits, nothing else, so a
/// name can never smuggle regex syntax into the broker's permission patterns.
pub fn is_org_number(s: &str) -> bool {
    s.len() == 10 && s.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_queues_are_named_by_org_number() {
        assert_eq!(status_queue("2321000016"), "ih.status.2321000016");
        assert_eq!(notify_queue("2321000131"), "ih.notify.2321000131");
        assert_eq!(deliver_queue("2321000115"), "ih.deliver.2321000115");
        assert_eq!(receipt_queue("hub-a"), "ih.receipt.hub-a");
    }

    #[test]
    fn org_numbers_are_ten_digits() {
        assert!(is_org_number("2321000016"));
        assert!(!is_org_number("232100001"));
        assert!(!is_org_number("23210000.*"));
        assert!(!is_org_number("2321000016 "));
    }
}
