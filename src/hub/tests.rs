//! The stages' steps, tested with no broker and no store: a disclosure log in a temporary
//! directory, a clock that stands still, and a sink that counts what it is given. What the
//! broker and a real store add (confirms, redelivery, mTLS) is tested in tests/hub_*.rs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use super::config::ValidationSettings;
use super::decide::{self, Decide, Incoming};
use super::deliver::{Announce, Deliver};
use super::health::ReceiverHealth;
use super::id_locks::IdLocks;
use super::journal::Journal;
use super::sink::{Delivered, DeliveryError, Sink};
use super::stage::Verdict;
use crate::audit::{AuditLog, Event, LogConfig, LogSigningKey, PatientKey, Query};
use crate::broker::handover::{HandOver, Received};
use crate::broker::{topology, Notice, Outcome, Outgoing, StatusMessage, StoreReceipt};
use crate::claim::ClaimSpecification;
use crate::clock::{Clock, FixedClock};
use crate::policy::{Policy, PolicySet};
use crate::validate::xsd::Schema;

const SENDER: &str = "2321000016";
const RECEIVER: &str = "2321000131";

fn at(s: &str) -> Arc<dyn Clock> {
    Arc::new(FixedClock(
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc),
    ))
}

/// A sink that stores nothing and answers as told, counting its calls.
struct CountingSink {
    calls: AtomicUsize,
    answer: fn() -> Result<(), DeliveryError>,
}

impl Sink for CountingSink {
    async fn deliver(&self, basis_id: &str, body: Bytes) -> Result<Delivered, DeliveryError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        (self.answer)()?;
        let receipt = StoreReceipt {
            id: basis_id.into(),
            sha256: decide::sha256(&body).to_hex(),
            received_at: "2026-12-01T10:00:00Z".into(),
            seq: 1,
        };
        let raw = serde_json::to_string(&receipt).unwrap();
        Ok(Delivered { receipt, raw })
    }

    fn describe(&self) -> String {
        "counting sink".into()
    }
}

/// The notices the deliver stage announced, in order.
#[derive(Default)]
struct Notices(std::sync::Mutex<Vec<Outgoing>>);

impl Announce for Arc<Notices> {
    async fn announce(&self, notice: Outgoing) -> Result<(), String> {
        self.0.lock().unwrap().push(notice);
        Ok(())
    }
}

impl Notices {
    fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// Both stages over one log in a temporary directory.
struct Rig {
    _dir: tempfile::TempDir,
    journal: Journal,
    decide: Decide,
    deliver: Deliver<CountingSink, Arc<Notices>>,
    notices: Arc<Notices>,
}

fn rig(clock: Arc<dyn Clock>, answer: fn() -> Result<(), DeliveryError>) -> Rig {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(
        &dir.path().join("log"),
        LogConfig::new("hub-test", LogSigningKey::generate()),
    )
    .unwrap();
    let journal = Journal::start(Arc::new(log));
    let policy = Policy::parse(
        &format!(
            "id = \"sthlm\"\nversion = \"1\"\nregion = \"{SENDER}\"\n\
             [board_decision]\nreference = \"RS 2026/5\"\ndate = \"2026-01-05\"\n\
             [validity]\nfrom = \"2026-01-01\"\n\
             [[rule]]\nid = \"S1\"\ndescription = \"default\"\naction = \"disclose\"\n"
        ),
        std::path::Path::new("sthlm.toml"),
    )
    .unwrap();
    let mut policies = PolicySet::default();
    policies.add(policy).unwrap();
    let id_locks = Arc::new(IdLocks::default());
    let health = ReceiverHealth::new(RECEIVER, "counting sink".into(), clock.now());
    let decide = Decide::new(decide::Parts {
        instance: "hub-test".into(),
        clock: clock.clone(),
        schema: Arc::new(Schema::embedded().unwrap()),
        policies,
        validation: ValidationSettings::default(),
        journal: journal.clone(),
        patient_key: PatientKey::from_bytes(&[7; 32]).unwrap(),
        receivers: BTreeSet::from([RECEIVER.to_string()]),
        pulling: BTreeSet::new(),
        health: BTreeMap::from([(RECEIVER.to_string(), health.clone())]),
        id_locks: id_locks.clone(),
        desk: Arc::new(super::review::Desk::none()),
    });
    let notices = Arc::new(Notices::default());
    let deliver = Deliver {
        receiver: RECEIVER.into(),
        sink: CountingSink {
            calls: AtomicUsize::new(0),
            answer,
        },
        announce: notices.clone(),
        instance: "hub-test".into(),
        clock,
        journal: journal.clone(),
        id_locks,
        health,
    };
    Rig {
        _dir: dir,
        journal,
        decide,
        deliver,
        notices,
    }
}

fn accept() -> Result<(), DeliveryError> {
    Ok(())
}

/// Basis id number `n` of [`SENDER`] (ÖR37's form).
fn id(n: u32) -> String {
    format!("ZVF{SENDER}2611{n:06}")
}

/// A valid basis from [`SENDER`] to [`RECEIVER`], issued on `issued` (YYYYMMDD).
fn basis(id: &str, issued: &str) -> Bytes {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/outpatient_patient_specific.xml"
    );
    let mut c = ClaimSpecification::from_xml(&std::fs::read(path).unwrap()).unwrap();
    c.supplier_party.identification[0].extension = SENDER.into();
    c.customer_party.identification[0].extension = RECEIVER.into();
    c.id = id.into();
    c.issue_date = issued.into();
    Bytes::from(c.to_xml())
}

fn incoming(body: &Bytes) -> Incoming {
    Incoming {
        sender: Some(SENDER.into()),
        sent_by: Some(format!("hsa:SE{SENDER}-REGION")),
        message_id: None,
        body: body.clone(),
        answer_to: None,
        false_claim: None,
    }
}

fn sent(v: Verdict) -> Vec<Outgoing> {
    match v {
        Verdict::Send { messages, .. } => messages,
        other => panic!("expected messages to send, got {other:?}"),
    }
}

fn status(m: &Outgoing) -> StatusMessage {
    assert_eq!(m.exchange, topology::STATUS_EXCHANGE);
    serde_json::from_slice(&m.payload).unwrap()
}

/// The hand-over as the deliver stage would read it off its queue.
fn handed_over(m: &Outgoing, redelivered: bool) -> Received {
    assert_eq!(m.exchange, topology::DELIVER_EXCHANGE);
    assert_eq!(m.routing_key, RECEIVER);
    let header = &m.properties.headers().as_ref().unwrap().inner()["ih-handover"];
    let lapin::types::AMQPValue::LongString(json) = header else {
        panic!("{header:?}")
    };
    Received {
        handover: serde_json::from_slice::<HandOver>(json.as_bytes()).unwrap(),
        body: Bytes::from(m.payload.clone()),
        handed_over_at: *m.properties.timestamp(),
        redelivered,
        reply_to: None,
    }
}

fn events(journal: &Journal, id: &str) -> Vec<Event> {
    let q = Query {
        basis: Some(id.into()),
        ..Query::default()
    };
    let found = journal.log().query(&q).unwrap();
    found.entries.into_iter().map(|e| e.record.event).collect()
}

#[tokio::test]
async fn a_disclosure_is_logged_then_handed_over_and_delivered_once_with_one_notice() {
    let r = rig(at("2026-12-01T10:00:00Z"), accept);
    let body = basis(&id(1), "20261130");
    let out = sent(r.decide.process(incoming(&body)).await);
    assert_eq!(
        out.len(),
        1,
        "a disclosure is handed over, not yet answered"
    );
    assert_eq!(
        events(&r.journal, &id(1)),
        [Event::Received, Event::Disclosed]
    );
    // Who sent it is the broker-checked certificate's identity, not a name.
    let q = crate::audit::Query {
        basis: Some(id(1)),
        ..Default::default()
    };
    let received = &r.journal.log().query(&q).unwrap().entries[0].record;
    let want = format!("hsa:SE{SENDER}-REGION");
    assert_eq!(received.actor.as_deref(), Some(want.as_str()));
    let h = handed_over(&out[0], false);
    assert_eq!(
        (h.handover.sender.as_str(), h.handover.decided_by.as_str()),
        (SENDER, "hub-test")
    );
    assert_eq!(h.handover.patients.len(), 1);

    // Delivered: the notice to the receiver (before the log has it), `delivered` logged, then
    // the status OK to the sender.
    let out = sent(r.deliver.process(h.clone()).await);
    assert_eq!(out.len(), 1);
    let s = status(&out[0]);
    assert_eq!(
        (s.outcome.to_string(), s.receiver.as_deref()),
        ("OK".into(), Some(RECEIVER))
    );
    assert_eq!(r.notices.count(), 1);
    let told = r.notices.0.lock().unwrap()[0].clone();
    assert_eq!(
        (told.exchange.as_str(), told.routing_key.as_str()),
        (topology::NOTIFY_EXCHANGE, RECEIVER)
    );
    let notice: Notice = serde_json::from_slice(&told.payload).unwrap();
    assert_eq!(notice.receipt, s.receipt.unwrap());
    let logged = [Event::Received, Event::Disclosed, Event::Delivered];
    assert_eq!(events(&r.journal, &id(1)), logged);

    // The same hand-over again (a second one of one basis), or given out again after a crash:
    // answered from the log; the sink is not called and the receiver not told again.
    for redelivered in [false, true] {
        let out = sent(
            r.deliver
                .process(Received {
                    redelivered,
                    ..h.clone()
                })
                .await,
        );
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(status(&out[0]).outcome.to_string(), "OK");
    }
    assert_eq!(r.deliver.sink.calls.load(Ordering::SeqCst), 1);
    assert_eq!(r.notices.count(), 1, "told twice");

    // A re-publish after delivery: answered OK from the log, handed over no more.
    let out = sent(r.decide.process(incoming(&body)).await);
    assert_eq!(out.len(), 1);
    assert_eq!(status(&out[0]).outcome.to_string(), "OK");
    assert_eq!(events(&r.journal, &id(1)), logged);
}

#[tokio::test]
async fn other_content_under_a_disclosed_id_is_refused_and_logged() {
    let r = rig(at("2026-12-01T10:00:00Z"), accept);
    sent(r.decide.process(incoming(&basis(&id(2), "20261130"))).await);
    let other = basis(&id(2), "20261129");
    let out = sent(r.decide.process(incoming(&other)).await);
    let s = status(&out[0]);
    assert_eq!(s.outcome.to_string(), "ERROR");
    assert_eq!(s.findings[0].rule, super::RULE_ID_REUSED);
    let e = events(&r.journal, &id(2));
    assert_eq!(
        e.iter().filter(|e| **e == Event::Rejected).count(),
        1,
        "{e:?}"
    );
}

#[tokio::test]
async fn no_sender_parks_a_refusing_sink_parks_and_a_sink_that_is_down_retries() {
    let r = rig(at("2026-12-01T10:00:00Z"), || {
        Err(DeliveryError::Refused {
            url: "https://s".into(),
            status: 409,
            body: "other content".into(),
        })
    });
    let body = basis(&id(3), "20261130");
    let anonymous = Incoming {
        sender: None,
        ..incoming(&body)
    };
    assert!(matches!(
        r.decide.process(anonymous).await,
        Verdict::Park { .. }
    ));
    let out = sent(r.decide.process(incoming(&body)).await);
    assert_eq!(out.len(), 1, "a hand-over alone: {out:?}");
    let h = handed_over(&out[0], false);
    assert!(matches!(
        r.deliver.process(h.clone()).await,
        Verdict::Park { .. }
    ));
    assert!(!events(&r.journal, &id(3)).contains(&Event::Delivered));

    let down = rig(at("2026-12-01T10:00:00Z"), || {
        Err(DeliveryError::Unavailable {
            url: "https://s".into(),
            why: "connection refused".into(),
        })
    });
    assert!(matches!(
        down.deliver.process(h).await,
        Verdict::Retry { .. }
    ));
    let report = down.deliver.health.report(down.deliver.clock.now());
    assert_eq!((report.state, report.sink_errors), ("down", 1));

    // While the receiver's sink is down, a basis handed over to it is told QUEUED to its sender
    // (after the hand-over), with why; before the failure, the hand-over went alone.
    let out = sent(
        down.decide
            .process(incoming(&basis(&id(6), "20261130")))
            .await,
    );
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0].exchange, topology::DELIVER_EXCHANGE);
    let queued = status(&out[1]);
    assert_eq!(
        (queued.outcome, queued.receiver.as_deref()),
        (Outcome::Queued, Some(RECEIVER))
    );
    assert!(!queued.outcome.is_final());
    let why = queued.waiting.unwrap();
    assert!(
        why.contains("counting sink unavailable since 2026-12-01 10:00:00 UTC"),
        "{why}"
    );
}

/// A receiver that delivers is not held up; one whose bases wait with no delivery for 30 s is.
#[test]
fn a_delivery_is_held_up_when_its_sink_fails_or_its_bases_wait_without_a_delivery() {
    let t0 = DateTime::parse_from_rfc3339("2026-12-01T10:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let h = ReceiverHealth::new(RECEIVER, "queue ih.deliver.x".into(), t0);
    let later = |s| t0 + chrono::TimeDelta::seconds(s);
    assert_eq!(h.held_up(later(600)), None, "nothing waits");
    let _held = h.hold(Some(t0.timestamp() as u64));
    assert_eq!(h.held_up(later(29)), None, "not yet");
    assert_eq!(
        h.held_up(later(30)).as_deref(),
        Some("1 waiting in queue ih.deliver.x, none delivered for 30 s")
    );
    h.delivered(later(40));
    assert_eq!(h.held_up(later(45)), None, "delivering");
    h.failed(later(50), "connection refused");
    assert_eq!(
        h.held_up(later(51)).as_deref(),
        Some("queue ih.deliver.x unavailable since 2026-12-01 10:00:50 UTC")
    );
}

/// The day bug: at 23:30 UTC on 1 December it is already 2 December in Sweden, so a basis
/// issued on 2 December is not from the future. The hub used to take the machine's date.
#[tokio::test]
async fn today_is_the_swedish_date_of_the_clock_the_stage_is_given() {
    let issued_2_dec = basis(&id(4), "20261202");
    let swedish_2_dec = rig(at("2026-12-01T23:30:00Z"), accept);
    let out = sent(swedish_2_dec.decide.process(incoming(&issued_2_dec)).await);
    assert_eq!(
        out[0].exchange,
        topology::DELIVER_EXCHANGE,
        "not handed over"
    );

    let swedish_1_dec = rig(at("2026-12-01T22:30:00Z"), accept);
    let out = sent(swedish_1_dec.decide.process(incoming(&issued_2_dec)).await);
    let s = status(&out[0]);
    assert_eq!(s.outcome.to_string(), "ERROR");
    assert!(
        s.findings
            .iter()
            .any(|f| f.message.contains("in the future")),
        "{:?}",
        s.findings
    );
}

/// A basis through the gateway: its call is answered on the answer exchange, ACCEPTED only
/// after the hand-over (the messages go in order), and the region's status queue gets nothing.
#[tokio::test]
async fn a_gateway_call_is_answered_to_the_gateway_after_the_hand_over() {
    let r = rig(at("2026-12-01T10:00:00Z"), accept);
    let to = crate::broker::on_behalf::AnswerTo {
        gateway: "gw-test".into(),
        correlation: "call-1".into(),
    };
    let body = basis(&id(7), "20261130");
    let m = Incoming {
        answer_to: Some(to.clone()),
        ..incoming(&body)
    };
    let out = sent(r.decide.process(m.clone()).await);
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0].exchange, topology::DELIVER_EXCHANGE);
    assert_eq!(
        (out[1].exchange.as_str(), out[1].routing_key.as_str()),
        (topology::ANSWER_EXCHANGE, "gw-test")
    );
    assert_eq!(
        out[1]
            .properties
            .correlation_id()
            .as_ref()
            .map(|c| c.as_str()),
        Some("call-1")
    );
    let answer: StatusMessage = serde_json::from_slice(&out[1].payload).unwrap();
    assert_eq!(answer.outcome, Outcome::Accepted);

    // An invalid basis through the gateway: ERROR to the gateway, nothing to the status queue.
    let good = String::from_utf8(basis(&id(8), "20261130").to_vec()).unwrap();
    let bad = good.replacen("20261130", "2026-11-30", 1).into_bytes();
    assert_ne!(bad, good.as_bytes());
    let out = sent(
        r.decide
            .process(Incoming {
                body: Bytes::from(bad),
                ..m
            })
            .await,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].exchange, topology::ANSWER_EXCHANGE);
}

/// The claim to submit for someone else, from a user that is no gateway: ERROR under SENDER,
/// logged as rejected.
#[tokio::test]
async fn a_claim_from_a_user_that_is_no_gateway_is_refused_and_logged() {
    let r = rig(at("2026-12-01T10:00:00Z"), accept);
    let body = basis(&id(9), "20261130");
    let m = Incoming {
        false_claim: Some("claims to be a gateway".into()),
        ..incoming(&body)
    };
    let out = sent(r.decide.process(m).await);
    let s = status(&out[0]);
    assert_eq!(s.outcome, Outcome::Error);
    assert!(
        s.findings.iter().any(|f| f.rule == super::RULE_SENDER),
        "{s:?}"
    );
    assert_eq!(
        events(&r.journal, &id(9)),
        [Event::Received, Event::Rejected]
    );
}
