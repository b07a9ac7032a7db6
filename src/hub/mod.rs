//! The routing core: consumes bases from the submit queue and runs each through the
//! [`pipeline`], several at once, acknowledging a message only after its outcome is durable in
//! the disclosure log, delivered where it belongs, and answered to the sender.
//!
//! ```text
//! ih.submit ──▶ Subscription ──▶ task per message (≤ prefetch) ──▶ Pipeline::process
//!                                     │                                 │ validate, assess,
//!                                     │                                 │ Journal (group commit),
//!                                     │                                 │ Deliverer (mTLS PUT)
//!                                     ◀── Verdict ──────────────────────┘
//!                     Answer: publish status (+ notice) with confirms, then ack
//!                     Park:   reject without requeue → dead-letter → ih.parked
//!                     Retry:  nack with requeue (the hub's own trouble; idempotency makes it safe)
//! ```
//!
//! The broker going away is the [`Subscription`]'s business (it resubscribes with backoff); a
//! message whose ack is lost with the connection comes back and is answered again from the log.
//! SIGTERM stops taking messages, lets the ones in flight finish, and exits.

mod config;
mod deliver;
mod journal;
mod pipeline;

pub use config::HubConfig;
pub use deliver::{Deliverer, DeliveryError};
pub use journal::Journal;
pub use pipeline::{
    Incoming, Pipeline, Verdict, RULE_BASIS_ID, RULE_ID_REUSED, RULE_RECEIVER, RULE_SENDER,
};

use std::sync::Arc;

use anyhow::Context;
use lapin::message::Delivery;
use tokio::task::JoinSet;

use crate::audit::{AuditError, AuditLog, LogConfig, LogSigningKey, PatientKey};
use crate::broker::{settle, topology, Publisher, Session, Subscription};
use crate::policy::PolicySet;
use crate::retry::Backoff;
use crate::validate::xsd::Schema;

/// Builds everything the configuration names, refusing to start on any problem (a bad policy,
/// a key that cannot be read, a log that belongs to another instance).
pub fn pipeline(cfg: &HubConfig) -> anyhow::Result<Pipeline> {
    let policies = PolicySet::load(&cfg.policy.paths).context("loading the policies")?;
    let schema = Arc::new(Schema::embedded().context("compiling the contract's schemas")?);
    let signing = LogSigningKey::load(&cfg.audit.signing_key).context("the log signing key")?;
    let patient_key = PatientKey::load(&cfg.audit.patient_key).context("the patient key")?;
    let mut log_cfg = LogConfig::new(cfg.instance.clone(), signing);
    log_cfg.checkpoint_every = cfg.audit.checkpoint_every;
    let log = AuditLog::open(&cfg.audit.dir, log_cfg)
        .with_context(|| format!("opening the disclosure log in {}", cfg.audit.dir.display()))?;
    sign_unsigned_tail(&log)?;
    let deliverer = Deliverer::new(cfg.delivery.clone(), cfg.receivers.values())
        .context("the hub's delivery certificate")?;
    Ok(Pipeline::new(
        cfg.instance.clone(),
        schema,
        policies,
        Journal::start(Arc::new(log)),
        patient_key,
        deliverer,
        cfg.receivers.clone(),
        cfg.consume.per_receiver,
    )
    .with_validation(cfg.validation.clone()))
}

/// What `hub --check` found: one line per part of the configuration, each checked as the hub
/// checks it at start (and no more: nothing is created, the broker is not called).
pub fn check(cfg: &HubConfig) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    let policies = PolicySet::load(&cfg.policy.paths).context("loading the policies")?;
    let today = crate::clock::today();
    for region in policies.regions() {
        found.push(match policies.in_force(region, today) {
            Some(p) => format!(
                "policy of {region}: {} v{} in force today ({})",
                p.id, p.version, p.board_decision.reference
            ),
            None => format!("policy of {region}: none in force today: its bases are withheld"),
        });
    }
    Schema::embedded().context("compiling the contract's schemas")?;
    found.push("the contract's schemas compile".into());
    let signing = LogSigningKey::load(&cfg.audit.signing_key).context("the log signing key")?;
    PatientKey::load(&cfg.audit.patient_key).context("the patient key")?;
    found.push("the log signing key and the patient key load".into());
    found.push(check_log(cfg, signing)?);
    cfg.broker
        .tls_config()
        .context("the hub's broker certificate")?;
    Deliverer::new(cfg.delivery.clone(), cfg.receivers.values())
        .context("the hub's delivery certificate")?;
    found.push(format!(
        "certificates load; {} receivers: {}",
        cfg.receivers.len(),
        cfg.receivers.keys().cloned().collect::<Vec<_>>().join(", ")
    ));
    Ok(found)
}

/// The disclosure log, read-only: this instance's with this key, or not there yet.
fn check_log(cfg: &HubConfig, signing: LogSigningKey) -> anyhow::Result<String> {
    let dir = &cfg.audit.dir;
    let log = match AuditLog::open_existing(dir, Some(signing)) {
        Err(AuditError::NotFound(_)) => {
            return Ok(format!(
                "disclosure log {}: none yet; the hub creates it at start",
                dir.display()
            ))
        }
        opened => {
            opened.with_context(|| format!("opening the disclosure log in {}", dir.display()))?
        }
    };
    if log.log_id() != cfg.instance {
        anyhow::bail!(
            "the disclosure log in {} belongs to instance {:?}, not {:?}",
            dir.display(),
            log.log_id(),
            cfg.instance
        );
    }
    Ok(format!(
        "disclosure log {}: instance {:?}, {} entries, signed with this key",
        dir.display(),
        cfg.instance,
        log.size()
    ))
}

/// A hub that was killed (SIGKILL, power loss) never signed a head over its last entries, so
/// exports and proofs would leave them out until the next checkpoint. Signing at start closes
/// that gap: the entries were flushed before anything was acknowledged, so they are the log's.
fn sign_unsigned_tail(log: &AuditLog) -> anyhow::Result<()> {
    let signed = log
        .latest_head()
        .context("reading the log's latest signed head")?
        .map_or(0, |h| h.tree_size);
    if signed < log.size() {
        let head = log
            .sign_head()
            .context("signing a head over the entries a previous run left unsigned")?;
        tracing::info!(
            unsigned = head.tree_size - signed,
            tree_size = head.tree_size,
            "signed a head over entries the previous run left unsigned (it did not stop cleanly)"
        );
    }
    Ok(())
}

/// Runs the hub until `shutdown` resolves, then finishes what is in flight.
pub async fn run(
    cfg: HubConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let pipeline = Arc::new(pipeline(&cfg)?);
    let mut endpoint = cfg.broker.clone();
    endpoint
        .connection_name
        .get_or_insert_with(|| format!("hub {}", cfg.instance));
    let session = Arc::new(Session::new(endpoint));
    let publisher = Publisher::new(session.clone());
    let mut subscription = Subscription::new(
        session.clone(),
        topology::SUBMIT_QUEUE,
        cfg.consume.prefetch,
    );
    tokio::pin!(shutdown);
    // The broker may not be there yet: the hub keeps trying, and a SIGTERM meanwhile ends it.
    let stopped = tokio::select! {
        subscribed = subscription.subscribe() => {
            subscribed.context("subscribing to the submit queue")?;
            false
        }
        _ = &mut shutdown => true,
    };
    if stopped {
        tracing::info!("stopped before the broker was reached");
        // The subscription keeps its unfinished attempt, which holds the connection while it
        // retries: dropped first, so closing does not wait for it.
        drop(subscription);
        return stop(&session, &pipeline).await;
    }
    tracing::info!(instance = %cfg.instance, prefetch = cfg.consume.prefetch, "hub consuming");

    let mut tasks = JoinSet::new();
    let pause = Arc::new(RequeuePause::new());
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(e) = done {
                    tracing::error!(error = %e, "a message task failed");
                }
            }
            next = subscription.next() => {
                let delivery = next.context("consuming the submit queue")?;
                metrics::gauge!("ih_in_flight").increment(1.0);
                let (p, publisher, pause) = (pipeline.clone(), publisher.clone(), pause.clone());
                tasks.spawn(async move {
                    handle(&p, &publisher, &pause, delivery).await;
                    metrics::gauge!("ih_in_flight").decrement(1.0);
                });
            }
        }
    }
    // The bases in flight ack on the subscription's channel: it stays until they are done.
    finish_in_flight(tasks).await;
    drop(subscription);
    stop(&session, &pipeline).await
}

/// How long a stopping hub lets the bases in flight finish (a delivery retrying against a store
/// that is down, an answer waiting for a broker that is gone) before it leaves them: unfinished,
/// they were never acknowledged, so the broker gives them out again and the log finishes them.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

async fn finish_in_flight(mut tasks: JoinSet<()>) {
    tracing::info!(
        in_flight = tasks.len(),
        "stopping: finishing the messages in flight"
    );
    let drain = async {
        while let Some(done) = tasks.join_next().await {
            if let Err(e) = done {
                tracing::error!(error = %e, "a message task failed");
            }
        }
    };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        tracing::warn!(
            unfinished = tasks.len(),
            grace_secs = SHUTDOWN_GRACE.as_secs(),
            "stopping with bases unfinished: they were not acknowledged and will come again"
        );
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

/// The last steps of every stop: the broker connection closed (if it can be), a head signed
/// over everything logged.
async fn stop(session: &Session, pipeline: &Pipeline) -> anyhow::Result<()> {
    session.close().await;
    match pipeline.sign_head() {
        Ok(h) => tracing::info!(tree_size = h.tree_size, root = %h.root_hash, "signed tree head"),
        Err(e) => tracing::error!(error = %e, "could not sign a tree head at shutdown"),
    }
    tracing::info!("hub stopped");
    Ok(())
}

/// One message: process, answer, acknowledge. Failures to answer or acknowledge leave the message
/// with the broker, which delivers it again; the pipeline's idempotency makes that harmless.
async fn handle(pipeline: &Pipeline, publisher: &Publisher, pause: &RequeuePause, d: Delivery) {
    let incoming = Incoming {
        sender: d.properties.user_id().as_ref().map(|s| s.to_string()),
        message_id: d.properties.message_id().as_ref().map(|s| s.to_string()),
        body: bytes::Bytes::from(d.data.clone()),
    };
    match pipeline.process(incoming).await {
        Verdict::Answer {
            sender,
            status,
            notice,
        } => {
            // `redelivered`: the broker gave this message out before (a hub crash, a lost ack):
            // the answer came from the log, which the operator can see here.
            tracing::info!(basis_id = %status.basis_id, sender = %sender, outcome = %status.outcome, redelivered = d.redelivered, "answered");
            pause.reset();
            let mut answers = vec![("status", status.to_outgoing(&sender))];
            if let Some((receiver, notice)) = notice {
                answers.push(("notice", notice.to_outgoing(&receiver)));
            }
            for (what, message) in answers {
                if let Err(e) = publisher.publish(&message).await {
                    tracing::warn!(basis_id = %status.basis_id, error = %e, "{what} not confirmed: the basis will come again");
                    requeue(&d).await;
                    return;
                }
            }
            if let Err(e) = settle::ack(&d).await {
                tracing::warn!(basis_id = %status.basis_id, error = %e, "ack lost: the basis will come again and be answered from the log");
            }
        }
        Verdict::Park { basis_id, why } => {
            tracing::error!(basis_id = %basis_id, reason = %why, "parked for an operator");
            if let Err(e) = settle::reject(&d).await {
                tracing::warn!(basis_id = %basis_id, error = %e, "reject lost: the basis will come again");
            }
        }
        Verdict::Retry { why } => {
            let delay = pause.next();
            tracing::error!(reason = %why, delay_ms = delay.as_millis() as u64, "the hub could not finish a basis; it will come again");
            tokio::time::sleep(delay).await;
            requeue(&d).await;
        }
    }
}

/// Gives the message back to the queue: it comes again and is finished from the log (and if the
/// nack is lost with the connection, it comes again all the same).
async fn requeue(d: &Delivery) {
    let _ = settle::requeue(d).await;
}

/// How long a basis the hub could not finish waits before it goes back to the queue: up to 0.5 s
/// after a first failure, doubling up to 10 s while failures follow each other (a log disk that
/// fails, a broker that refuses), back to the start once a basis is answered (jittered, as every
/// [`Backoff`], so that hubs sharing a broker do not retry in step). Without the pause a failing
/// basis would come straight back; with a fixed one, a hub whose log is broken would retry its
/// whole prefetch twice a second for as long as it lasts.
struct RequeuePause(std::sync::Mutex<Backoff>);

impl RequeuePause {
    fn new() -> Self {
        RequeuePause(std::sync::Mutex::new(Backoff::fixed(
            std::time::Duration::from_millis(500),
            std::time::Duration::from_secs(10),
        )))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Backoff> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn next(&self) -> std::time::Duration {
        self.lock().next_delay()
    }

    fn reset(&self) {
        self.lock().reset();
    }
}
