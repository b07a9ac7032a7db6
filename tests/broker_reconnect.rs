//! The broker goes away and comes back (a real restart of the node started for this file): the
//! supervised session reconnects with backoff, a subscription resubscribes and gets what was
//! waiting, a publisher's messages are confirmed again, and nothing confirmed is lost.

mod common;

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::{basis_xml, TestBroker, ORG_STOCKHOLM};
use invoice_hub::broker::region::basis_message;
use invoice_hub::broker::{topology, Publisher, Session, Subscription};
use invoice_hub::retry::Backoff;
use lapin::options::BasicAckOptions;

static BROKER: OnceLock<TestBroker> = OnceLock::new();

fn broker() -> &'static TestBroker {
    BROKER.get_or_init(|| TestBroker::start("broker_reconnect"))
}

async fn within<T>(what: &str, secs: u64, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .unwrap_or_else(|_| panic!("{what} took more than {secs} s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_publishers_and_subscriptions_survive_a_broker_restart() {
    let broker = broker();
    let fast = Backoff::try_new(Duration::from_millis(100), Duration::from_secs(1)).unwrap();
    let region = Arc::new(
        Session::new(broker.endpoint(ORG_STOCKHOLM))
            .give_up_after(Duration::from_secs(60))
            .with_backoff(fast.clone()),
    );
    let hub = Arc::new(Session::new(broker.endpoint("hub")).with_backoff(fast.clone()));
    let publisher = Publisher::new(region.clone())
        .max_attempts(20)
        .backoff(fast.clone());
    let mut submit = Subscription::new(hub.clone(), topology::SUBMIT_QUEUE, 20);

    let ids: Vec<String> = (1..=20)
        .map(|n| format!("ZVF2321000016261100{n:04}"))
        .collect();
    // Before the restart: ten confirmed, five of them consumed and acked.
    for id in &ids[..10] {
        publisher
            .publish(&basis_message(
                &broker.user(ORG_STOCKHOLM),
                id,
                basis_xml(id),
            ))
            .await
            .expect("confirmed before the restart");
    }
    let mut seen = BTreeSet::new();
    for _ in 0..5 {
        let d = within("delivery before restart", 30, submit.next())
            .await
            .unwrap();
        seen.insert(d.properties.message_id().as_ref().unwrap().to_string());
        d.ack(BasicAckOptions::default()).await.unwrap();
    }
    assert_eq!(region.connects(), 1);
    assert_eq!(hub.connects(), 1);

    // A restart of the node: connections are closed by the broker, quorum queues keep their data.
    broker.restart();

    // The publisher's next publish reconnects by itself and is confirmed.
    for id in &ids[10..] {
        within(
            "publish after restart",
            60,
            publisher.publish(&basis_message(
                &broker.user(ORG_STOCKHOLM),
                id,
                basis_xml(id),
            )),
        )
        .await
        .expect("confirmed after the restart");
    }
    assert!(region.connects() >= 2, "the region session reconnected");

    // The subscription resubscribes and gets the rest: the five unconsumed from before the
    // restart and the ten after. Nothing confirmed is lost.
    while seen.len() < ids.len() {
        let d = within("delivery after restart", 60, submit.next())
            .await
            .unwrap();
        seen.insert(d.properties.message_id().as_ref().unwrap().to_string());
        d.ack(BasicAckOptions::default()).await.unwrap();
    }
    assert_eq!(seen, ids.iter().cloned().collect::<BTreeSet<_>>());
    assert!(hub.connects() >= 2, "the hub session reconnected");
    assert!(submit.subscribes() >= 2, "the subscription resubscribed");
    assert!(broker.queue_settles_at(topology::SUBMIT_QUEUE, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_cannot_reach_a_broker_gives_up_when_told() {
    // Real certificates, but nobody listens on this port: retry with backoff, then say so.
    let mut e = broker().endpoint(ORG_STOCKHOLM);
    e.port = common::free_port();
    let s = Session::new(e.clone())
        .give_up_after(Duration::from_secs(2))
        .with_backoff(
            Backoff::try_new(Duration::from_millis(100), Duration::from_millis(400)).unwrap(),
        );
    let err = within("give up", 20, s.ensure_connected())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("gave up after"), "{err}");

    // A missing certificate is not retried at all: the file is named at once.
    e.cert = e.cert.with_file_name("region-0000000000.pem");
    let s = Session::new(e).give_up_after(Duration::from_secs(30));
    let err = within("missing certificate", 5, s.ensure_connected())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("region-0000000000.pem"), "{err}");
}
