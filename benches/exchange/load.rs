//! Putting load on the exchange and timing it: every region publishes its own bases with its own
//! certificate through [`Publisher`] (publisher confirms, as `invoice-hub publish` does), and
//! each basis is timed from the moment its publish starts to the moment its answer arrives —
//! the sender's status for the end-to-end run, the delivery itself for the raw-broker baseline.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use invoice_hub::broker::region::basis_message;
use invoice_hub::broker::{topology, Endpoint, Publisher, Session, StatusMessage, Subscription};
use invoice_hub::synth::ManifestEntry;
use lapin::options::BasicAckOptions;

/// One generated basis: who sends it, and where its bytes are (read at publish time, so a run of
/// 100 000 bases does not hold them all in memory).
#[derive(Debug, Clone)]
pub(crate) struct Basis {
    pub id: String,
    pub sender: String,
    pub lines: u32,
    pub bytes: u64,
    pub path: PathBuf,
}

/// Reads `DIR/manifest.jsonl` of `invoice-hub gen`.
pub(crate) fn read_manifest(dir: &std::path::Path) -> Vec<Basis> {
    let text = std::fs::read_to_string(dir.join(invoice_hub::synth::MANIFEST_FILE))
        .expect("the generator's manifest");
    text.lines()
        .map(|l| {
            let m: ManifestEntry = serde_json::from_str(l).expect("a manifest line");
            Basis {
                id: m.id,
                sender: m.sender,
                lines: m.lines,
                bytes: m.bytes,
                path: dir.join(m.file),
            }
        })
        .collect()
}

/// How fast to publish.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Pace {
    /// As fast as the broker confirms, `in_flight` unconfirmed per region (the publish CLI's 64).
    Max { in_flight: usize },
    /// Bases per second over all regions, evenly spaced, in the manifest's order.
    Rate(f64),
}

/// What one run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Timing {
    pub bases: usize,
    pub megabytes: f64,
    /// First publish to last answer.
    pub secs: f64,
    pub bases_per_sec: f64,
    pub mb_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Answers per outcome (OK, ERROR, WITHHELD, REJECTED; `DELIVERED` for the baseline).
    pub outcomes: std::collections::BTreeMap<String, usize>,
}

impl Timing {
    /// The figures of one run from each basis's latency (ms, any order), the answers by outcome,
    /// the run's length and the bytes it moved. Percentiles are nearest-rank.
    pub(crate) fn of(
        mut lat: Vec<f64>,
        outcomes: std::collections::BTreeMap<String, usize>,
        secs: f64,
        megabytes: f64,
    ) -> Timing {
        lat.sort_by(|a, b| a.total_cmp(b));
        let pct = |p: f64| lat[((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1];
        Timing {
            bases: lat.len(),
            megabytes,
            secs,
            bases_per_sec: lat.len() as f64 / secs,
            mb_per_sec: megabytes / secs,
            p50_ms: pct(0.50),
            p99_ms: pct(0.99),
            max_ms: *lat.last().expect("at least one basis"),
            outcomes,
        }
    }
}

/// The regions' publishers, one supervised connection each.
pub(crate) struct Regions {
    publishers: HashMap<String, Publisher>,
    endpoints: HashMap<String, Endpoint>,
}

impl Regions {
    pub(crate) fn new(endpoint: impl Fn(&str) -> Endpoint, orgs: &[&str]) -> Regions {
        let mut publishers = HashMap::new();
        let mut endpoints = HashMap::new();
        for org in orgs {
            let e = endpoint(org);
            publishers.insert(
                org.to_string(),
                Publisher::new(Arc::new(Session::new(e.clone()))),
            );
            endpoints.insert(org.to_string(), e);
        }
        Regions {
            publishers,
            endpoints,
        }
    }

    /// Publishes `bases` at `pace`; returns the instant each publish started, by basis id.
    async fn publish(&self, bases: &[Basis], pace: Pace) -> HashMap<String, Instant> {
        let started = Arc::new(Mutex::new(HashMap::with_capacity(bases.len())));
        let users: HashMap<String, String> = self
            .endpoints
            .iter()
            .map(|(org, e)| (org.clone(), e.user().expect("a region certificate")))
            .collect();
        let one = |b: &Basis| {
            let publisher = self.publishers[&b.sender].clone();
            let user = users[&b.sender].clone();
            let started = started.clone();
            let b = b.clone();
            async move {
                let xml = tokio::fs::read(&b.path).await.expect("a generated basis");
                let msg = basis_message(&user, &b.id, xml);
                started.lock().unwrap().insert(b.id.clone(), Instant::now());
                publisher
                    .publish(&msg)
                    .await
                    .unwrap_or_else(|e| panic!("basis {} not confirmed: {e}", b.id));
            }
        };
        match pace {
            Pace::Max { in_flight } => {
                let per_region = self.publishers.keys().map(|org| {
                    let mine: Vec<&Basis> = bases.iter().filter(|b| &b.sender == org).collect();
                    futures_util::stream::iter(mine)
                        .map(one)
                        .buffer_unordered(in_flight)
                        .collect::<Vec<()>>()
                });
                futures_util::future::join_all(per_region).await;
            }
            Pace::Rate(per_sec) => {
                let t0 = tokio::time::Instant::now();
                let mut tasks = Vec::with_capacity(bases.len());
                for (i, b) in bases.iter().enumerate() {
                    tokio::time::sleep_until(t0 + Duration::from_secs_f64(i as f64 / per_sec))
                        .await;
                    tasks.push(tokio::spawn(one(b)));
                }
                for t in tasks {
                    t.await.expect("a publish task");
                }
            }
        }
        Arc::try_unwrap(started)
            .expect("every publish finished")
            .into_inner()
            .unwrap()
    }

    /// End to end: publishes `bases` and waits for every status on the senders' status queues
    /// (draining the receivers' notify queues as well, as regions would).
    pub(crate) async fn end_to_end(&self, bases: &[Basis], pace: Pace, stall: Duration) -> Timing {
        let answered: Arc<Mutex<HashMap<String, (Instant, String)>>> = Arc::default();
        // A status left on a queue by an earlier run (its ack lost when that run's reader
        // stopped) must not count: only answers the hub made after this run began.
        // Likewise an answer to a duplicate the earlier run's hub left on the submit queue (a
        // publish retried after a lost confirm): only this run's bases count.
        let since = invoice_hub::clock::now() - chrono::Duration::milliseconds(10);
        let expected: Arc<HashSet<String>> = Arc::new(bases.iter().map(|b| b.id.clone()).collect());
        let mut readers = Vec::new();
        let mut sessions = Vec::new();
        for (org, e) in &self.endpoints {
            let session = Arc::new(Session::new(e.clone()));
            sessions.push(session.clone());
            for queue in [topology::status_queue(org), topology::notify_queue(org)] {
                let status = queue.starts_with(topology::STATUS_EXCHANGE);
                let (answered, expected) = (answered.clone(), expected.clone());
                let mut sub = Subscription::new(session.clone(), queue, 512);
                sub.subscribe()
                    .await
                    .expect("subscribe to a region's queue");
                readers.push(tokio::spawn(async move {
                    loop {
                        let d = sub.next().await.expect("a region's queue");
                        let at = Instant::now();
                        if status {
                            let s: StatusMessage =
                                serde_json::from_slice(&d.data).expect("a status message");
                            let answer = s.outcome.is_final();
                            if answer && s.at >= since && expected.contains(&s.basis_id) {
                                answered
                                    .lock()
                                    .unwrap()
                                    .entry(s.basis_id)
                                    .or_insert((at, s.outcome.to_string()));
                            }
                        }
                        d.ack(BasicAckOptions::default()).await.expect("ack");
                    }
                }));
            }
        }
        let published = self.publish(bases, pace).await;
        wait_for(&answered, bases.len(), stall, "statuses").await;
        for r in readers {
            r.abort();
        }
        for s in sessions {
            s.close().await;
        }
        let answered = answered.lock().unwrap().clone();
        timing(bases, &published, &answered)
    }

    /// The raw-broker baseline: the same messages through the submit quorum queue, to a consumer
    /// with the hub's certificate and prefetch that acknowledges each at once.
    pub(crate) async fn baseline(&self, hub: Endpoint, bases: &[Basis], pace: Pace) -> Timing {
        let answered: Arc<Mutex<HashMap<String, (Instant, String)>>> = Arc::default();
        let session = Arc::new(Session::new(hub));
        let mut sub = Subscription::new(session.clone(), topology::SUBMIT_QUEUE, 64);
        sub.subscribe()
            .await
            .expect("subscribe to the submit queue");
        let a = answered.clone();
        let reader = tokio::spawn(async move {
            loop {
                let d = sub.next().await.expect("the submit queue");
                let at = Instant::now();
                let id = d
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                a.lock()
                    .unwrap()
                    .entry(id)
                    .or_insert((at, "DELIVERED".into()));
                d.ack(BasicAckOptions::default()).await.expect("ack");
            }
        });
        let published = self.publish(bases, pace).await;
        wait_for(
            &answered,
            bases.len(),
            Duration::from_secs(60),
            "deliveries",
        )
        .await;
        reader.abort();
        session.close().await;
        let answered = answered.lock().unwrap().clone();
        timing(bases, &published, &answered)
    }
}

/// Waits until `n` answers are in; panics if none comes for `stall`.
async fn wait_for(
    answered: &Mutex<HashMap<String, (Instant, String)>>,
    n: usize,
    stall: Duration,
    what: &str,
) {
    let mut last = (0, Instant::now());
    loop {
        let got = answered.lock().unwrap().len();
        if got >= n {
            return;
        }
        if got != last.0 {
            last = (got, Instant::now());
        } else if last.1.elapsed() > stall {
            panic!("bench: {got} of {n} {what} after no progress for {stall:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn timing(
    bases: &[Basis],
    published: &HashMap<String, Instant>,
    answered: &HashMap<String, (Instant, String)>,
) -> Timing {
    let mut lat: Vec<f64> = Vec::with_capacity(bases.len());
    let mut outcomes = std::collections::BTreeMap::new();
    let first = published
        .values()
        .min()
        .copied()
        .expect("something published");
    let mut last = first;
    for b in bases {
        let (at, outcome) = &answered[&b.id];
        lat.push(at.saturating_duration_since(published[&b.id]).as_secs_f64() * 1e3);
        *outcomes.entry(outcome.clone()).or_insert(0) += 1;
        last = last.max(*at);
    }
    let secs = last.duration_since(first).as_secs_f64();
    let megabytes = bases.iter().map(|b| b.bytes).sum::<u64>() as f64 / 1e6;
    Timing::of(lat, outcomes, secs, megabytes)
}
