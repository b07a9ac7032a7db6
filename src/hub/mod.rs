//! The routing core, in two stages with a durable hand-over between them:
//!
//! ```text
//!                 ┌──────────── decide (one consumer, prefetch) ───────────────┐
//! ih.submit ──▶   │ admit → validate → check → assess → log (received+decision)│ ──▶ ERROR / WITHHELD /
//!                 └───────────────┬────────────────────────────────────────────┘     REJECTED to the sender
//!                                 │ a disclosure, with publisher confirms
//!                                 ▼
//!        ih.deliver.<receiver> (a quorum queue per receiving region, delivery limit → ih.parked)
//!                                 │
//!                 ┌───────────────▼── deliver (one consumer per receiver) ─────┐
//!                 │ its sink (store: mTLS PUT) → log `delivered` with receipt  │ ──▶ OK to the sender,
//!                 └────────────────────────────────────────────────────────────┘     notice to the receiver
//! ```
//!
//! The decide stage consumes two queues: `ih.submit` (what the regions publish, month-end
//! batches of thousands) and `ih.submit.call` (what the SOAP gateway submits while its caller
//! waits on the line), each with its own prefetch, so a call is never queued behind a batch.
//!
//! Each stage acknowledges a message only after what it did is durable in the disclosure log
//! and, where it publishes, confirmed by the broker ([`stage`]). A receiver whose store is down
//! holds only its own queue: its bases wait there, visible in `/ready` and `/metrics`
//! ([`health`]), and everyone else's keep flowing. SIGTERM stops every stage taking messages,
//! lets the ones in flight finish, signs a tree head and exits.

mod config;
mod decide;
mod deliver;
mod health;
mod id_locks;
mod journal;
mod receipt;
mod review;
mod sink;
mod stage;
#[cfg(test)]
mod tests;
mod witnesses;

pub use config::{HubConfig, Sink, ValidationSettings};
pub use decide::{Incoming, RULE_BASIS_ID, RULE_ID_REUSED, RULE_RECEIVER, RULE_SENDER};
pub use journal::Journal;
pub use stage::SHUTDOWN_GRACE;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use anyhow::Context;
use lapin::message::Delivery;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

use crate::audit::{AuditError, AuditLog, LogConfig, LogSigningKey, PatientKey};
use crate::broker::handover::Received;
use crate::broker::{topology, Publisher, Session};
use crate::clock::{Clock, SystemClock};
use crate::policy::PolicySet;
use crate::tls::ClientTls;
use crate::validate::xsd::Schema;
use decide::Decide;
use deliver::Deliver;
use health::{Health, ReceiverHealth};
use id_locks::IdLocks;
use receipt::Receipts;
use sink::{HttpsSink, Protocol};
use stage::{Consumer, Verdict};

/// Everything the configuration names, built and checked; nothing runs yet.
struct Built {
    decide: Arc<Decide>,
    /// The deliver stage of every receiver with a store.
    delivers: BTreeMap<String, Arc<Deliver<HttpsSink, Publisher>>>,
    /// The receipt stage, when a receiver pulls its bases.
    receipts: Option<Arc<Receipts<Publisher>>>,
    health: BTreeMap<String, Arc<ReceiverHealth>>,
    log: Arc<AuditLog>,
    /// Where the log's heads go.
    witnesses: witnesses::Witnesses,
    /// The sending regions' review stores.
    desk: Arc<review::Desk>,
}

/// Builds everything the configuration names, refusing to start on any problem (a bad policy,
/// a key that cannot be read, a log that belongs to another instance). `notices` is where the
/// deliveries' notices are published.
fn build(cfg: &HubConfig, clock: Arc<dyn Clock>, notices: &Publisher) -> anyhow::Result<Built> {
    let policies = PolicySet::load(&cfg.policy.paths).context("loading the policies")?;
    let schema = Arc::new(Schema::embedded().context("compiling the contract's schemas")?);
    let patient_key = PatientKey::load(&cfg.audit.patient_key).context("the patient key")?;
    let log = Arc::new(open_log(cfg)?);
    let journal = Journal::start(log.clone());
    let id_locks = Arc::new(IdLocks::default());
    let tls = HttpsSink::client_tls(&cfg.delivery).context("the hub's delivery certificate")?;
    let (mut delivers, mut health, mut pulling) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for (org, sink) in &cfg.receivers {
        let Some((url, protocol, identity)) = https_sink(org, sink) else {
            let h = ReceiverHealth::new(
                org,
                format!("queue {}", topology::deliver_queue(org)),
                clock.now(),
            );
            pulling.insert(org.clone(), h.clone());
            health.insert(org.clone(), h);
            continue;
        };
        let h = ReceiverHealth::new(org, format!("{} {url}", sink.kind()), clock.now());
        let store = HttpsSink::new(
            (url, protocol),
            tls.clone(),
            cfg.delivery.clone(),
            h.clone(),
            clock.clone(),
        )
        .with_context(|| format!("receivers.{org}"))?
        .expecting(identity.clone());
        let deliver = Deliver {
            receiver: org.clone(),
            sink: store,
            announce: notices.clone(),
            instance: cfg.instance.clone(),
            clock: clock.clone(),
            journal: journal.clone(),
            id_locks: id_locks.clone(),
            health: h.clone(),
        };
        delivers.insert(org.clone(), Arc::new(deliver));
        health.insert(org.clone(), h);
    }
    let desk = Arc::new(review_desk(cfg, tls.clone()));
    let decide = Decide::new(decide::Parts {
        instance: cfg.instance.clone(),
        clock: clock.clone(),
        schema,
        policies,
        validation: cfg.validation.clone(),
        journal: journal.clone(),
        patient_key,
        receivers: cfg.receivers.keys().cloned().collect::<BTreeSet<_>>(),
        pulling: pulling.keys().cloned().collect(),
        health: health.clone(),
        id_locks: id_locks.clone(),
        desk: desk.clone(),
    });
    let receipts = (!pulling.is_empty()).then(|| {
        Arc::new(Receipts {
            instance: cfg.instance.clone(),
            announce: notices.clone(),
            clock: clock.clone(),
            journal: journal.clone(),
            id_locks,
            pulling,
        })
    });
    let witnesses = witnesses_of(cfg, tls, log.clone());
    Ok(Built {
        decide: Arc::new(decide),
        delivers,
        receipts,
        health,
        log,
        witnesses,
        desk,
    })
}

/// What fetches the review stores' decisions and acts on them.
fn review_poller(built: &Built, publisher: &Publisher, cfg: &HubConfig) -> review::Poller {
    review::Poller {
        desk: built.desk.clone(),
        decide: built.decide.clone(),
        publisher: publisher.clone(),
        every: std::time::Duration::from_secs(cfg.review.every_secs.max(1)),
    }
}

/// The review stores of `[review.stores]`.
fn review_desk(cfg: &HubConfig, tls: ClientTls) -> review::Desk {
    let stores = cfg
        .review
        .stores
        .iter()
        .map(|(org, s)| (org.clone(), (s.url.clone(), s.identity.clone())))
        .collect();
    review::Desk::new(stores, tls)
}

/// Where and how the hub delivers to `org` itself (its store, its producer); `None` for a
/// region that pulls its queue.
fn https_sink<'a>(
    org: &str,
    sink: &'a Sink,
) -> Option<(&'a str, Protocol, &'a Option<crate::pki::Pin>)> {
    match sink {
        Sink::Queue => None,
        Sink::Store { url, identity } => Some((url.as_str(), Protocol::Store, identity)),
        Sink::Rivta { url, identity } => {
            let (base, path) = config::split_url(url).unwrap_or((url, "/"));
            let protocol = Protocol::Rivta {
                path: path.to_string(),
                logical_address: org.to_string(),
            };
            Some((base, protocol, identity))
        }
    }
}

/// The log's witnesses: every receiver's store (unless `[witness] stores = false`) and the
/// `extra` ones.
fn witnesses_of(cfg: &HubConfig, tls: ClientTls, log: Arc<AuditLog>) -> witnesses::Witnesses {
    let stores = cfg.receivers.values().filter_map(|s| match s {
        Sink::Store { url, .. } if cfg.witness.stores => Some(url.clone()),
        _ => None,
    });
    witnesses::Witnesses {
        urls: stores.chain(cfg.witness.extra.iter().cloned()).collect(),
        tls,
        log,
        every: std::time::Duration::from_secs(cfg.witness.every_secs.max(1)),
    }
}

/// The disclosure log, opened (or created) as this instance's, its unsigned tail signed.
fn open_log(cfg: &HubConfig) -> anyhow::Result<AuditLog> {
    let signing = LogSigningKey::load(&cfg.audit.signing_key).context("the log signing key")?;
    let patient_key = PatientKey::load(&cfg.audit.patient_key).context("the patient key")?;
    let mut log_cfg = LogConfig::new(cfg.instance.clone(), signing).with_patient_key(&patient_key);
    log_cfg.checkpoint_every = cfg.audit.checkpoint_every;
    let log = AuditLog::open(&cfg.audit.dir, log_cfg)
        .with_context(|| format!("opening the disclosure log in {}", cfg.audit.dir.display()))?;
    sign_unsigned_tail(&log)?;
    Ok(log)
}

/// What `hub --check` found: one line per part of the configuration, each checked as the hub
/// checks it at start (and no more: nothing is created, the broker is not called).
pub fn check(cfg: &HubConfig) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    let policies = PolicySet::load(&cfg.policy.paths).context("loading the policies")?;
    let today = SystemClock.today();
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
    let patient = PatientKey::load(&cfg.audit.patient_key).context("the patient key")?;
    found.push(format!(
        "the log signing key and the patient key (id {}) load",
        patient.id()
    ));
    found.push(check_log(cfg, signing, &patient)?);
    cfg.broker
        .tls_config()
        .context("the hub's broker certificate")?;
    HttpsSink::client_tls(&cfg.delivery).context("the hub's delivery certificate")?;
    found.push(format!(
        "certificates load; {} receivers: {}",
        cfg.receivers.len(),
        cfg.receivers
            .iter()
            .map(|(org, sink)| format!("{org} ({})", sink.kind()))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    if !cfg.review.stores.is_empty() {
        found.push(format!(
            "manual review in their own stores for {} (decisions fetched every {} s)",
            cfg.review
                .stores
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            cfg.review.every_secs.max(1)
        ));
    }
    Ok(found)
}

/// The disclosure log, read-only: this instance's with this key, or not there yet.
fn check_log(
    cfg: &HubConfig,
    signing: LogSigningKey,
    patient: &PatientKey,
) -> anyhow::Result<String> {
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
    log.check_tail()?;
    if log.log_id() != cfg.instance {
        anyhow::bail!(
            "the disclosure log in {} belongs to instance {:?}, not {:?}",
            dir.display(),
            log.log_id(),
            cfg.instance
        );
    }
    if let Some(held) = log.patient_key_id()?.filter(|h| *h != patient.id()) {
        anyhow::bail!(
            "{}: [audit] patient_key: the disclosure log in {} hashes patients with the key of \
             id {held}, this key has id {}",
            cfg.audit.patient_key.display(),
            dir.display(),
            patient.id()
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
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut endpoint = cfg.broker.clone();
    endpoint
        .connection_name
        .get_or_insert_with(|| format!("hub {}", cfg.instance));
    let session = Arc::new(Session::new(endpoint));
    let publisher = Publisher::new(session.clone());
    let built = build(&cfg, clock.clone(), &publisher)?;
    let health = Arc::new(Health::new(session.clone(), clock, built.health.clone()));
    if let Some(addr) = cfg.metrics.listen {
        serve_health(addr, health.clone()).await?;
    }
    let poller = tokio::spawn(health.poll_queues());

    let (stop, stopped) = watch::channel(false);
    let reviewing = tokio::spawn(review_poller(&built, &publisher, &cfg).run(stopped.clone()));
    let witnessing = tokio::spawn(built.witnesses.run(stopped.clone()));
    let mut stages = JoinSet::new();
    let (subscribed, decide_consuming) = oneshot::channel();
    stages.spawn(stage::run(
        Consumer {
            name: "decide".into(),
            queue: topology::SUBMIT_QUEUE.into(),
            prefetch: cfg.consume.prefetch,
        },
        session.clone(),
        publisher.clone(),
        stopped.clone(),
        Some(subscribed),
        decide_handler(built.decide.clone(), Arc::new(gateway_ids(&cfg))),
    ));
    // The bases a caller waits for (the gateway's), beside the batches: same stage, own queue.
    let calls = Consumer {
        name: "decide calls".into(),
        queue: topology::CALL_QUEUE.into(),
        prefetch: cfg.consume.prefetch,
    };
    let (decide, gateways) = (built.decide.clone(), Arc::new(gateway_ids(&cfg)));
    let handler = move || decide_handler(decide.clone(), gateways.clone());
    let parts = (session.clone(), publisher.clone(), stopped.clone());
    stages.spawn(lasting_stage(calls, parts, None, handler, Vec::new()));
    for (org, deliver) in &built.delivers {
        let consumer = Consumer {
            name: format!("deliver {org}"),
            queue: topology::deliver_queue(org),
            prefetch: cfg.consume.per_receiver,
        };
        let (deliver, health) = (deliver.clone(), deliver.health.clone());
        let handler = move || deliver_handler(deliver.clone());
        let parts = (session.clone(), publisher.clone(), stopped.clone());
        stages.spawn(lasting_stage(consumer, parts, None, handler, vec![health]));
    }
    if let Some(receipts) = &built.receipts {
        let consumer = Consumer {
            name: "receipts".into(),
            queue: topology::receipt_queue(&cfg.instance),
            prefetch: cfg.consume.per_receiver,
        };
        let healths = receipts.pulling.values().cloned().collect();
        let declare = Some((session.clone(), cfg.instance.clone()));
        let receipts = receipts.clone();
        let handler = move || receipt_handler(receipts.clone());
        let parts = (session.clone(), publisher.clone(), stopped.clone());
        stages.spawn(lasting_stage(consumer, parts, declare, handler, healths));
    }
    let (instance, receivers) = (cfg.instance.clone(), built.delivers.len());
    tokio::spawn(async move {
        if decide_consuming.await.is_ok() {
            tracing::info!(instance = %instance, receivers, "hub consuming");
        }
    });

    let result = until_stopped(&mut stages, shutdown, &stop).await;
    poller.abort();
    witnessing.abort();
    reviewing.abort();
    stop_last(&session, &built.log).await;
    result
}

/// A stage's handler: one delivery in, one verdict out.
type Handler = Box<
    dyn Fn(Arc<Delivery>) -> std::pin::Pin<Box<dyn std::future::Future<Output = Verdict> + Send>>
        + Send
        + Sync,
>;

fn decide_handler(decide: Arc<Decide>, gateways: Arc<BTreeSet<String>>) -> Handler {
    Box::new(move |d| {
        let (decide, gateways) = (decide.clone(), gateways.clone());
        Box::pin(async move { decide.process(incoming(&d, &gateways)).await })
    })
}

/// A deliver or receipt stage, for as long as the hub runs. Its queue may be missing or refused
/// (a receiver in `[receivers]` the broker was not set up for): that holds those receivers' bases
/// and nobody else's, so it is said loudly, shown in `/ready` (on each of `healths`), and tried
/// again every 30 s. `declare` is the hub's own receipt queue, made before it is consumed.
async fn lasting_stage(
    consumer: Consumer,
    (session, publisher, mut stopped): (Arc<Session>, Publisher, watch::Receiver<bool>),
    declare: Option<(Arc<Session>, String)>,
    handler: impl Fn() -> Handler,
    healths: Vec<Arc<ReceiverHealth>>,
) -> anyhow::Result<()> {
    const AGAIN: std::time::Duration = std::time::Duration::from_secs(30);
    loop {
        let declared = match &declare {
            Some((session, instance)) => receipt::declare_queue(session, instance).await,
            None => Ok(()),
        };
        let ran = match declared {
            Ok(()) => {
                let (s, p, st) = (session.clone(), publisher.clone(), stopped.clone());
                stage::run(consumer.clone(), s, p, st, None, handler()).await
            }
            Err(e) => Err(e.context(format!("declaring {}", consumer.queue))),
        };
        let Err(e) = ran else {
            return Ok(());
        };
        tracing::error!(stage = %consumer.name, error = %format!("{e:#}"), retry_in_secs = AGAIN.as_secs(), "this stage's queue cannot be consumed: its bases wait");
        for h in &healths {
            h.failed(
                crate::clock::SystemClock.now(),
                &format!("{}: {e:#}", consumer.queue),
            );
        }
        tokio::select! {
            _ = tokio::time::sleep(AGAIN) => {}
            _ = stopped.wait_for(|s| *s) => return Ok(()),
        }
    }
}

fn receipt_handler(receipts: Arc<Receipts<Publisher>>) -> Handler {
    Box::new(move |d| {
        let receipts = receipts.clone();
        Box::pin(async move { receipts.process(&d).await })
    })
}

fn deliver_handler(deliver: Arc<Deliver<HttpsSink, Publisher>>) -> Handler {
    Box::new(move |d| {
        let deliver = deliver.clone();
        Box::pin(async move {
            match Received::read(&d) {
                Ok(r) => deliver.process(r).await,
                Err(why) => Verdict::Park {
                    basis_id: d
                        .properties
                        .message_id()
                        .as_ref()
                        .map(|s| s.to_string())
                        .unwrap_or_default(),
                    why,
                },
            }
        })
    })
}

/// The gateways' identities as [`identity_of`] writes a broker user's.
fn gateway_ids(cfg: &HubConfig) -> BTreeSet<String> {
    cfg.gateways
        .iter()
        .filter_map(|p| match p {
            crate::pki::Pin::Hsa { hsa_id, .. } => Some(format!("hsa:{hsa_id}")),
            crate::pki::Pin::Key(_) => None,
        })
        .collect()
}

/// What the decide stage needs of one message. A gateway's claim to submit for a region is
/// believed only from a broker user `gateways` names (see [`crate::broker::on_behalf`]); the
/// same claim from anyone else is kept as [`Incoming::false_claim`], refused and logged.
fn incoming(d: &Delivery, gateways: &BTreeSet<String>) -> Incoming {
    let user = d.properties.user_id().as_ref().map(|u| u.as_str());
    let mut m = Incoming {
        sender: user.map(sender_of),
        sent_by: user.map(identity_of),
        message_id: d.properties.message_id().as_ref().map(|s| s.to_string()),
        body: bytes::Bytes::from(d.data.clone()),
        answer_to: None,
        false_claim: None,
    };
    if let Some(claim) = crate::broker::on_behalf::claim_of(&d.properties) {
        let by = m.sent_by.clone().unwrap_or_default();
        if gateways.contains(&by) {
            m.sender = Some(claim.org);
            m.sent_by = Some(format!("{} via {by}", claim.caller));
            m.answer_to = claim.answer_to;
        } else {
            m.false_claim = Some(format!(
                "the message claims to be sent on behalf of {} by {}, but {by} is not a gateway \
                 this hub believes (hub.toml `gateways`)",
                claim.org, claim.caller
            ));
        }
    }
    m
}

/// The region a broker-checked `user_id` names: the organisation number in its distinguished
/// name (the broker lets in only the users made for regions' certificates), or the user as it
/// is, which then matches no region and is answered as a sender that is not the supplier.
pub(crate) fn sender_of(user: &str) -> String {
    crate::tls::cert::broker_user_org(user)
        .unwrap_or(user)
        .to_string()
}

/// The identity in a broker user's distinguished name, as the stores' logs write identities:
/// `hsa:<SERIALNUMBER>`, or the whole name when it has none.
pub(crate) fn identity_of(user: &str) -> String {
    user.split(',')
        .find_map(|rdn| rdn.strip_prefix("SERIALNUMBER="))
        .map_or_else(|| user.to_string(), |h| format!("hsa:{h}"))
}

/// Waits for `shutdown` (or a stage that ends by itself, which only a refusal for good does),
/// then stops every stage and waits for each to finish what it holds.
async fn until_stopped(
    stages: &mut JoinSet<anyhow::Result<()>>,
    shutdown: impl std::future::Future<Output = ()>,
    stop: &watch::Sender<bool>,
) -> anyhow::Result<()> {
    let flatten = |done: Result<anyhow::Result<()>, tokio::task::JoinError>| {
        done.unwrap_or_else(|e| Err(anyhow::anyhow!("a stage failed: {e}")))
    };
    let ended = tokio::select! {
        _ = shutdown => None,
        Some(done) = stages.join_next() => Some(flatten(done)),
    };
    let _ = stop.send(true);
    let mut result = ended.unwrap_or(Ok(()));
    while let Some(done) = stages.join_next().await {
        if let (Err(e), true) = (flatten(done), result.is_ok()) {
            result = Err(e);
        }
    }
    result
}

/// Installs the metrics recorder and serves `/metrics`, `/ready` and `/live` on `addr`.
async fn serve_health(addr: std::net::SocketAddr, health: Arc<Health>) -> anyhow::Result<()> {
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("installing the metrics recorder")?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("the metrics listener on {addr}"))?;
    tokio::spawn(health::serve(listener, health, metrics));
    Ok(())
}

/// The last steps of every stop: the broker connection closed (if it can be), a head signed
/// over everything logged.
async fn stop_last(session: &Session, log: &AuditLog) {
    session.close().await;
    match log.sign_head() {
        Ok(h) => tracing::info!(tree_size = h.tree_size, root = %h.root_hash, "signed tree head"),
        Err(e) => tracing::error!(error = %e, "could not sign a tree head at shutdown"),
    }
    tracing::info!("hub stopped");
}
