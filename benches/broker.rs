//! Publishing bases with publisher confirms against a real local broker (started by the bench,
//! as in the tests): one basis at a time (wait for each confirm: the baseline) beside 64 in
//! flight (what `invoice-hub publish` does), and a raw round trip (publish, consume, ack) that is
//! the broker's share of any end-to-end figure. Read the figures as ratios to the baseline of the
//! same run, not as absolute numbers: the machine is shared.
//!
//! Run: `cargo bench --bench broker -- --measurement-time 5`

#[path = "../tests/common/mod.rs"]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use futures_util::StreamExt;
use invoice_hub::broker::region::basis_message;
use invoice_hub::broker::{topology, Publisher, Session, Subscription};
use lapin::options::BasicAckOptions;

const BATCH: usize = 200;

fn publish_batch(
    rt: &tokio::runtime::Runtime,
    p: &Publisher,
    user: &str,
    in_flight: usize,
    xml: &[u8],
) {
    rt.block_on(async {
        futures_util::stream::iter(0..BATCH)
            .map(|i| {
                let msg = basis_message(user, &format!("ZVF2321000016261100{i:04}"), xml.to_vec());
                async move { p.publish(&msg).await.expect("confirmed") }
            })
            .buffer_unordered(in_flight)
            .collect::<Vec<_>>()
            .await;
    });
}

fn bench(c: &mut Criterion) {
    let broker = common::TestBroker::start("bench");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let xml = std::fs::read(format!(
        "{}/tests/data/outpatient_patient_specific.xml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap_or_else(|_| common::basis_xml("ZVF23210000162611000001"));
    let _guard = rt.enter();
    let region = Arc::new(Session::new(broker.endpoint(common::ORG_STOCKHOLM)));
    let user = broker.user(common::ORG_STOCKHOLM);
    let hub = Arc::new(Session::new(broker.endpoint("hub")));
    let publisher = Publisher::new(region);
    let mut submit = Subscription::new(hub, topology::SUBMIT_QUEUE, 256);

    // Drains what a group published so queues do not grow across groups.
    let mut drain = |n: usize, rt: &tokio::runtime::Runtime| {
        rt.block_on(async {
            for _ in 0..n {
                let d = submit.next().await.expect("delivery");
                d.ack(BasicAckOptions::default()).await.expect("ack");
            }
        })
    };

    let mut g = c.benchmark_group("publish_confirmed");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.sample_size(10);
    for (name, in_flight) in [("one_at_a_time_baseline", 1usize), ("in_flight_64", 64)] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let t = Instant::now();
                    publish_batch(&rt, &publisher, &user, in_flight, &xml);
                    total += t.elapsed();
                    drain(BATCH, &rt);
                }
                total
            })
        });
    }
    g.bench_function("round_trip_publish_consume_ack", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let t = Instant::now();
                publish_batch(&rt, &publisher, &user, 64, &xml);
                drain(BATCH, &rt);
                total += t.elapsed();
            }
            total
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
