//! The `rivta` sink on real parts: the hub delivers Region Stockholm's bases by calling
//! `ProcessClaimSpecification` on the project's own producer (the store's SOAP endpoint), over
//! mutual TLS. The producer goes down for a while (the calls are retried, nothing is lost),
//! and answers `ERROR` for a basis whose id it already holds with other content (parked, with
//! the comment, and logged).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::exchange::{basis, entries_of, outcomes, publish, stored_ids, write, Exchange};
use common::{poll, TestBroker, ORG_HALLAND, ORG_STOCKHOLM};
use invoice_hub::audit::{AuditLog, Event};

#[test]
fn the_rivta_sink_delivers_to_a_producer_retries_while_it_is_down_and_parks_an_error() {
    let broker = TestBroker::start("rivta");
    let mut ex = Exchange::start_rivta(&broker, "rivta", &[], "", &[ORG_STOCKHOLM]);
    let (h, s) = (ORG_HALLAND, ORG_STOCKHOLM);

    // Two bases, called in.
    let batch = ex.work.join("batch1");
    let first: BTreeSet<String> = (1..=2).map(|n| write(&batch, &basis(h, s, n))).collect();
    publish(&ex.halland_cfg, &batch);
    let mut seen = BTreeMap::new();
    outcomes(&ex.halland_cfg, &first, &ex.hub, &mut seen);
    for id in &first {
        assert_eq!(seen[id].outcome.to_string(), "OK", "{id}: {:?}", seen[id]);
    }

    // The producer is down; two more bases wait, retried, and arrive once it is back.
    ex.stockholm.kill();
    let since = ex.hub.log().len();
    let batch = ex.work.join("batch2");
    let later: BTreeSet<String> = (3..=4).map(|n| write(&batch, &basis(h, s, n))).collect();
    publish(&ex.halland_cfg, &batch);
    assert!(
        ex.hub
            .wait_for_log(since, "producer unavailable", Duration::from_secs(60)),
        "the hub should retry the producer:\n{}",
        ex.hub.log()
    );
    ex.stockholm.restart();
    outcomes(&ex.halland_cfg, &later, &ex.hub, &mut seen);
    for id in &later {
        assert_eq!(seen[id].outcome.to_string(), "OK", "{id}: {:?}", seen[id]);
    }
    let held = stored_ids(&ex.stockholm, &ex.certs);
    for id in first.iter().chain(&later) {
        assert_eq!(held.iter().filter(|i| *i == id).count(), 1, "{id} once");
    }

    // The producer already holds basis 5 with other content: it answers ERROR, the hub parks
    // the basis with the producer's comment.
    let mut other = basis(h, s, 5);
    other.issue_date = "20261101".into();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let c = &ex.certs;
    let put = rt.block_on(async {
        let mut client = invoice_hub::store::StoreClient::from_files(
            &ex.stockholm.url,
            &c.join("ca.pem"),
            &c.join("hub.pem"),
            &c.join("hub.key"),
        )
        .unwrap();
        client
            .put_claim(&other.id, bytes::Bytes::from(other.to_xml()))
            .await
            .unwrap()
    });
    assert_eq!(put.status.as_u16(), 201, "{}", put.text());
    let batch = ex.work.join("batch3");
    let refused = write(&batch, &basis(h, s, 5));
    let since = ex.hub.log().len();
    publish(&ex.halland_cfg, &batch);
    assert!(
        ex.hub
            .wait_for_log(since, "parked for an operator", Duration::from_secs(60)),
        "{}",
        ex.hub.log()
    );
    let log = ex.hub.log();
    let parked = log[since..]
        .lines()
        .find(|l| l.contains("parked for an operator"))
        .unwrap();
    assert!(
        parked.contains(&refused)
            && parked.contains("resultCode ERROR")
            && parked.contains("Id: STORE"),
        "the park names the basis and the producer's comment: {parked}"
    );
    assert!(
        poll(Duration::from_secs(20), Duration::from_millis(250), || {
            (broker.queue_depth("ih.parked") >= 1).then_some(())
        })
        .is_some(),
        "the refused basis waits in ih.parked"
    );

    // The log: each delivered basis once, with the producer's answer (its hash, OK) as receipt;
    // the refused one disclosed and never delivered.
    ex.hub.stop();
    let audit = AuditLog::open_existing(&ex.hub_log_dir, None).unwrap();
    let entries = |id: &str| entries_of(&audit, id);
    for id in first.iter().chain(&later) {
        let e = entries(id);
        let events: Vec<Event> = e.iter().map(|e| e.record.event).collect();
        assert_eq!(
            events,
            [Event::Received, Event::Disclosed, Event::Delivered],
            "{id}"
        );
        let receipt = e[2].record.receipt.as_deref().unwrap();
        let r: serde_json::Value = serde_json::from_str(receipt).unwrap();
        assert_eq!(r["resultCode"], "OK", "{receipt}");
        assert_eq!(r["sha256"].as_str().map(str::len), Some(64), "{receipt}");
    }
    let events: Vec<Event> = entries(&refused).iter().map(|e| e.record.event).collect();
    assert_eq!(events, [Event::Received, Event::Disclosed]);
}
