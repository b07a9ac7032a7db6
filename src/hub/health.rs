//! What an operator sees of the stages: per receiver, its delivery queue's depth, the age of the
//! oldest basis its deliver stage holds, deliveries and sink errors, and whether its sink is up;
//! for the hub, whether it has a broker connection. Served on `[metrics] listen` as
//!
//! - `GET /metrics`: Prometheus text (`ih_delivery_queue_depth{receiver}`,
//!   `ih_delivery_oldest_seconds{receiver}`, `ih_deliveries_total{receiver}`,
//!   `ih_sink_errors_total{receiver}`, `ih_sink_up{receiver}`, and the stages' own figures);
//! - `GET /ready`: 200 when the hub has a broker connection, 503 when it has none, with a JSON
//!   body that says so and reports each receiver's sink (a sink that is down does not make the
//!   hub unready: the other receivers still get their bases, and this one's wait in its queue);
//! - `GET /live`: 200 while the process serves at all.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;

use crate::broker::{topology, Session};
use crate::clock::Clock;

/// How often the delivery queues' depths are read from the broker.
const POLL_EVERY: Duration = Duration::from_secs(5);

/// How long bases may wait for a receiver with no delivery before its delivery counts as held
/// up (and a sender is told QUEUED): long against a normal delivery (milliseconds), short
/// against an outage.
const HELD_UP_AFTER: chrono::TimeDelta = chrono::TimeDelta::seconds(30);

/// One receiver's delivery, as its sink and its deliver stage report it.
pub(crate) struct ReceiverHealth {
    receiver: String,
    sink: String,
    inner: Mutex<Inner>,
}

struct Inner {
    /// None until the first delivery or failure.
    up: Option<bool>,
    since: Option<DateTime<Utc>>,
    last_error: Option<String>,
    delivered: u64,
    /// The last delivery, or when the hub began to watch this receiver.
    last_delivered: DateTime<Utc>,
    errors: u64,
    /// The bases the deliver stage holds: ticket → when each was handed over (seconds).
    held: BTreeMap<u64, Option<u64>>,
    next_ticket: u64,
    queue_depth: Option<u32>,
}

/// One receiver in `/ready`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReceiverReport {
    pub sink: String,
    /// "up", "down" or "unknown" (nothing delivered or failed yet).
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    pub delivered: u64,
    pub sink_errors: u64,
    /// Bases waiting in the delivery queue, not yet given to a consumer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_depth: Option<u32>,
    /// Bases the deliver stage holds (given out, not yet acknowledged).
    pub in_flight: usize,
    /// Age of the oldest of those, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oldest_secs: Option<u64>,
}

/// A basis the deliver stage holds; it is let go when this is dropped.
pub(crate) struct Held {
    health: Arc<ReceiverHealth>,
    ticket: u64,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.health.lock().held.remove(&self.ticket);
    }
}

impl ReceiverHealth {
    /// A receiver watched from `now` on.
    pub(crate) fn new(receiver: &str, sink: String, now: DateTime<Utc>) -> Arc<ReceiverHealth> {
        let inner = Inner {
            up: None,
            since: None,
            last_error: None,
            delivered: 0,
            last_delivered: now,
            errors: 0,
            held: BTreeMap::new(),
            next_ticket: 0,
            queue_depth: None,
        };
        Arc::new(ReceiverHealth {
            receiver: receiver.to_string(),
            sink,
            inner: Mutex::new(inner),
        })
    }

    /// Why a basis handed over at `now` would wait, if this receiver's delivery is held up: its
    /// sink is failing, or bases wait and none was delivered for [`HELD_UP_AFTER`] (a pulling
    /// region whose `receive` is not running). `None` in the normal case, where the answer
    /// follows in moments and the sender needs no word before it.
    pub(crate) fn held_up(&self, now: DateTime<Utc>) -> Option<String> {
        let i = self.lock();
        if i.up == Some(false) {
            let since = i.since.unwrap_or(now).format("%Y-%m-%d %H:%M:%S UTC");
            return Some(format!("{} unavailable since {since}", self.sink));
        }
        let waiting = i.queue_depth.unwrap_or(0) as usize + i.held.len();
        let quiet = now - i.last_delivered;
        (waiting > 0 && quiet >= HELD_UP_AFTER).then(|| {
            format!(
                "{waiting} waiting in {}, none delivered for {} s",
                self.sink,
                quiet.num_seconds()
            )
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The sink failed an attempt (it may retry): the sink is down since the first of a run.
    pub(crate) fn failed(&self, at: DateTime<Utc>, why: &str) {
        metrics::counter!("ih_sink_errors_total", "receiver" => self.receiver.clone()).increment(1);
        metrics::gauge!("ih_sink_up", "receiver" => self.receiver.clone()).set(0.0);
        let mut i = self.lock();
        if i.up != Some(false) {
            i.since = Some(at);
        }
        i.up = Some(false);
        i.errors += 1;
        i.last_error = Some(why.to_string());
    }

    /// The sink delivered a basis.
    pub(crate) fn delivered(&self, at: DateTime<Utc>) {
        metrics::counter!("ih_deliveries_total", "receiver" => self.receiver.clone()).increment(1);
        metrics::gauge!("ih_sink_up", "receiver" => self.receiver.clone()).set(1.0);
        let mut i = self.lock();
        if i.up != Some(true) {
            i.since = Some(at);
        }
        i.up = Some(true);
        i.delivered += 1;
        i.last_delivered = at;
    }

    /// The deliver stage holds a basis handed over at `handed_over_at` (seconds).
    pub(crate) fn hold(self: &Arc<Self>, handed_over_at: Option<u64>) -> Held {
        let mut i = self.lock();
        let ticket = i.next_ticket;
        i.next_ticket += 1;
        i.held.insert(ticket, handed_over_at);
        Held {
            health: self.clone(),
            ticket,
        }
    }

    fn set_queue_depth(&self, depth: Option<u32>) {
        if let Some(d) = depth {
            metrics::gauge!("ih_delivery_queue_depth", "receiver" => self.receiver.clone())
                .set(f64::from(d));
        }
        self.lock().queue_depth = depth;
    }

    /// What `/ready` says of this receiver at `now`; also sets the gauges of the held bases.
    pub(crate) fn report(&self, now: DateTime<Utc>) -> ReceiverReport {
        let i = self.lock();
        let now_secs = now.timestamp().max(0) as u64;
        let oldest_secs = i
            .held
            .values()
            .flatten()
            .min()
            .map(|&t| now_secs.saturating_sub(t));
        metrics::gauge!("ih_delivery_in_flight", "receiver" => self.receiver.clone())
            .set(i.held.len() as f64);
        metrics::gauge!("ih_delivery_oldest_seconds", "receiver" => self.receiver.clone())
            .set(oldest_secs.unwrap_or(0) as f64);
        ReceiverReport {
            sink: self.sink.clone(),
            state: match i.up {
                Some(true) => "up",
                Some(false) => "down",
                None => "unknown",
            },
            since: i.since,
            last_error: i.last_error.clone(),
            delivered: i.delivered,
            sink_errors: i.errors,
            queue_depth: i.queue_depth,
            in_flight: i.held.len(),
            oldest_secs,
        }
    }
}

/// The hub's health: its broker connection and every receiver's delivery.
pub(crate) struct Health {
    session: Arc<Session>,
    clock: Arc<dyn Clock>,
    receivers: BTreeMap<String, Arc<ReceiverHealth>>,
}

/// The body of `/ready`.
#[derive(Debug, Serialize)]
pub(crate) struct Readiness {
    pub ready: bool,
    pub broker: &'static str,
    pub receivers: BTreeMap<String, ReceiverReport>,
}

impl Health {
    pub(crate) fn new(
        session: Arc<Session>,
        clock: Arc<dyn Clock>,
        receivers: BTreeMap<String, Arc<ReceiverHealth>>,
    ) -> Health {
        Health {
            session,
            clock,
            receivers,
        }
    }

    /// Whether the hub has a broker connection now.
    fn broker_connected(&self) -> bool {
        self.session.is_connected()
    }

    pub(crate) fn readiness(&self) -> Readiness {
        let now = self.clock.now();
        let connected = self.broker_connected();
        Readiness {
            ready: connected,
            broker: if connected {
                "connected"
            } else {
                "not connected"
            },
            receivers: self
                .receivers
                .iter()
                .map(|(org, h)| (org.clone(), h.report(now)))
                .collect(),
        }
    }

    /// Sets the gauges of the bases each deliver stage holds (in flight, oldest's age) as of now:
    /// they change with time, not with an event, so they are set when read and every poll.
    fn refresh_gauges(&self) {
        let now = self.clock.now();
        self.receivers.values().for_each(|h| {
            h.report(now);
        });
    }

    /// Reads each delivery queue's depth (a passive declare), every [`POLL_EVERY`], for ever.
    pub(crate) async fn poll_queues(self: Arc<Self>) {
        loop {
            let read = match self.broker_connected() {
                true => self.read_depths().await,
                false => Err(anyhow::anyhow!("no broker connection")),
            };
            if let Err(e) = read {
                tracing::debug!(error = %e, "could not read the delivery queues' depths");
                // Unknown, rather than a figure that is no longer true.
                self.receivers
                    .values()
                    .for_each(|h| h.set_queue_depth(None));
            }
            self.refresh_gauges();
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    async fn read_depths(&self) -> anyhow::Result<()> {
        let ch = self.session.new_channel().await?;
        for (org, h) in &self.receivers {
            let queue = topology::deliver_queue(org);
            let passive = QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            };
            match ch
                .queue_declare(queue.as_str().into(), passive, FieldTable::default())
                .await
            {
                Ok(q) => h.set_queue_depth(Some(q.message_count())),
                Err(e) => {
                    h.set_queue_depth(None);
                    // A failed declare closes the channel: the others wait for the next round.
                    return Err(e).with_context(|| format!("queue {queue}"));
                }
            }
        }
        let _ = ch.close(200, "read the depths".into()).await;
        Ok(())
    }
}

/// Serves `/metrics`, `/ready` and `/live` on `listener` (plain HTTP: bind it to loopback or a
/// management network) until the process ends.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    health: Arc<Health>,
    metrics: PrometheusHandle,
) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "serving /metrics, /ready and /live");
    }
    let upkeep = metrics.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(POLL_EVERY).await;
            upkeep.run_upkeep();
        }
    });
    loop {
        let Ok((tcp, _)) = listener.accept().await else {
            continue;
        };
        let (health, metrics) = (health.clone(), metrics.clone());
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let answer = route(req.uri().path(), &health, &metrics);
                async move { Ok::<_, Infallible>(answer) }
            });
            let io = hyper_util::rt::TokioIo::new(tcp);
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(10))
                .serve_connection(io, svc)
                .await;
        });
    }
}

fn route(path: &str, health: &Health, metrics: &PrometheusHandle) -> Response<Full<Bytes>> {
    let (status, kind, body) = match path {
        "/metrics" => (StatusCode::OK, "text/plain; version=0.0.4", {
            health.refresh_gauges();
            metrics.render()
        }),
        "/ready" => {
            let r = health.readiness();
            let status = if r.ready {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            let body = serde_json::to_string_pretty(&r).unwrap_or_default() + "\n";
            (status, "application/json", body)
        }
        "/live" => (StatusCode::OK, "text/plain", "live\n".to_string()),
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found: /metrics, /ready or /live\n".to_string(),
        ),
    };
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(kind) {
        resp.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn a_receiver_is_down_from_its_first_failure_and_up_from_its_next_delivery() {
        let h = ReceiverHealth::new(
            "2321000016",
            "store https://s:1".into(),
            crate::clock::now(),
        );
        assert_eq!(h.report(at(0)).state, "unknown");
        h.failed(at(10), "connection refused");
        h.failed(at(20), "connection refused");
        let r = h.report(at(30));
        assert_eq!((r.state, r.since, r.sink_errors), ("down", Some(at(10)), 2));
        assert_eq!(r.last_error.as_deref(), Some("connection refused"));
        h.delivered(at(40));
        let r = h.report(at(50));
        assert_eq!((r.state, r.since, r.delivered), ("up", Some(at(40)), 1));
    }

    #[test]
    fn the_oldest_held_basis_gives_the_age_and_a_let_go_one_counts_no_more() {
        let h = ReceiverHealth::new(
            "2321000016",
            "store https://s:1".into(),
            crate::clock::now(),
        );
        let old = h.hold(Some(100));
        let _new = h.hold(Some(160));
        let r = h.report(at(200));
        assert_eq!((r.in_flight, r.oldest_secs), (2, Some(100)));
        drop(old);
        let r = h.report(at(200));
        assert_eq!((r.in_flight, r.oldest_secs), (1, Some(40)));
    }
}
