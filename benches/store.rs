//! Deliveries to a region's store over mutual TLS on loopback: `PUT /v1/claims/{id}` one at a
//! time over one kept-alive connection (the baseline) beside the same over 8 concurrent
//! connections. Each PUT is validated (XSD + ÖR rules), sealed (AES-256-GCM), stored and flushed
//! to disk before its receipt comes back, so the figures include the database's fsync. The store runs as
//! the real binary (`invoice-hub store`), started by the bench. Read the figures as the ratio of
//! the two on the same run: the machine is shared.
//!
//! Run: `cargo bench --bench store`

#[path = "../tests/store_harness/mod.rs"]
mod store_harness;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hyper::StatusCode;
use invoice_hub::store::StoreClient;
use store_harness::*;

/// Ids must be unique across the whole run: every PUT is a new basis.
static NEXT: AtomicU32 = AtomicU32::new(1);

struct Template {
    head: String,
    tail: String,
}

impl Template {
    fn new() -> Template {
        let (id, xml) = basis(0);
        let xml = String::from_utf8(xml).unwrap();
        let (head, tail) = xml.split_once(&id).unwrap();
        Template {
            head: head.to_string(),
            tail: tail.to_string(),
        }
    }

    fn next(&self) -> (String, Bytes) {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(n < 1_000_000, "basis counter exhausted");
        let id = format!("ZVF{SKANE}2611{n:06}");
        let doc = format!("{}{id}{}", self.head, self.tail);
        (id, Bytes::from(doc))
    }
}

async fn put_n(client: &mut StoreClient, t: &Template, n: u64) {
    for _ in 0..n {
        let (id, doc) = t.next();
        let a = client.put_claim(&id, doc).await.expect("PUT");
        assert_eq!(a.status, StatusCode::CREATED, "{}", a.text());
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreProc::start(dir.path(), STOCKHOLM, &Setup::for_org(STOCKHOLM));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let t = Template::new();
    let mut one = store.client("hub");
    let mut eight: Vec<StoreClient> = (0..8).map(|_| store.client("hub")).collect();
    // Connect (handshakes) outside the measurement.
    rt.block_on(async {
        put_n(&mut one, &t, 1).await;
        for c in &mut eight {
            put_n(c, &t, 1).await;
        }
    });

    let mut g = c.benchmark_group("store_put");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.bench_function("one_connection_baseline", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                put_n(&mut one, &t, iters).await;
                start.elapsed()
            })
        })
    });
    g.bench_function("eight_connections", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let per = iters.div_ceil(8);
                let start = Instant::now();
                let t = &t;
                futures_util::future::join_all(
                    eight
                        .iter_mut()
                        .map(|c| async move { put_n(c, t, per).await }),
                )
                .await;
                // Report the time for `iters` PUTs (a few more were made when 8 ∤ iters).
                start.elapsed().mul_f64(iters as f64 / (per * 8) as f64)
            })
        })
    });
    g.finish();
    drop(store);
}

criterion_group!(benches, bench);
criterion_main!(benches);
