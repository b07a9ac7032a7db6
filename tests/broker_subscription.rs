//! `Subscription::next` is cancel-safe against a real broker: the hub waits for it inside a
//! `select!` beside its finished tasks, so it is dropped mid-way all the time. Before the fix, a
//! cancellation after `basic.consume` reached the broker left a consumer that nobody read, holding
//! a prefetch of messages unacknowledged (found by `make cluster-test`: a hub with seven consumers
//! on the submit queue, 192 bases stuck). Closing the abandoned channels instead was not enough:
//! each message handed to one came back with a delivery counted, and this broker's delivery limit
//! of 3 parked some (5–15 of 40 here).

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use common::{basis_xml, TestBroker, ORG_STOCKHOLM};
use invoice_hub::broker::region::basis_message;
use invoice_hub::broker::{topology, Publisher, Session, Subscription};
use lapin::options::BasicAckOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_next_leaves_one_consumer_and_loses_no_message() {
    let broker = TestBroker::start("broker_subscription");
    let region = Arc::new(Session::new(broker.endpoint(ORG_STOCKHOLM)));
    let publisher = Publisher::new(region.clone());
    let ids: Vec<String> = (1..=40)
        .map(|n| format!("ZVF2321000016261100{n:04}"))
        .collect();
    for id in &ids {
        publisher
            .publish(&basis_message(
                &broker.user(ORG_STOCKHOLM),
                id,
                basis_xml(id),
            ))
            .await
            .expect("confirmed");
    }

    let hub = Arc::new(Session::new(broker.endpoint("hub")));
    hub.ensure_connected().await.expect("the hub connects");
    let mut submit = Subscription::new(hub.clone(), topology::SUBMIT_QUEUE, 5);
    // Cancel `next` after 0, 20, 40, … µs: early on that lands inside opening the channel, setting
    // the prefetch and `basic.consume`; later it interrupts the wait for a delivery.
    let mut seen = BTreeSet::new();
    let mut cancelled = 0;
    for i in 0..400u64 {
        match tokio::time::timeout(Duration::from_micros(i * 20), submit.next()).await {
            Ok(d) => {
                let d = d.expect("a delivery");
                seen.insert(d.properties.message_id().as_ref().unwrap().to_string());
                d.ack(BasicAckOptions::default()).await.unwrap();
            }
            Err(_) => cancelled += 1,
        }
    }
    assert!(
        cancelled > 0,
        "no call was cancelled: the test proves nothing"
    );
    while seen.len() < ids.len() {
        let d = tokio::time::timeout(Duration::from_secs(30), submit.next())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "only {} of {} messages came; consumers on the queue:\n{}\nchannels:\n{}\nqueues:\n{}",
                    seen.len(),
                    ids.len(),
                    broker.rabbitmqctl(&["list_consumers", "-p", "invoice-hub"]),
                    broker.rabbitmqctl(&["list_channels", "number", "consumer_count", "messages_unacknowledged", "prefetch_count"]),
                    broker.rabbitmqctl(&["list_queues", "-p", "invoice-hub", "name", "messages_ready", "messages_unacknowledged"])
                )
            })
            .expect("a delivery");
        seen.insert(d.properties.message_id().as_ref().unwrap().to_string());
        d.ack(BasicAckOptions::default()).await.unwrap();
    }
    assert_eq!(seen, ids.iter().cloned().collect::<BTreeSet<_>>());

    let consumers = broker.rabbitmqctl(&["list_consumers", "-p", "invoice-hub", "queue_name"]);
    let on_submit = consumers
        .lines()
        .filter(|l| l.trim() == topology::SUBMIT_QUEUE)
        .count();
    assert_eq!(on_submit, 1, "consumers:\n{consumers}");
    assert_eq!(
        submit.subscribes(),
        1,
        "a cancelled subscribe is resumed, not started again"
    );

    // Dropping the subscription gives its consumer up.
    drop(submit);
    let mut left = usize::MAX;
    for _ in 0..50 {
        let c = broker.rabbitmqctl(&["list_consumers", "-p", "invoice-hub", "queue_name"]);
        left = c
            .lines()
            .filter(|l| l.trim() == topology::SUBMIT_QUEUE)
            .count();
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "the dropped subscription's consumer is gone");
}
