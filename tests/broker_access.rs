//! Against a real RabbitMQ started for this file (tests/common): what gets through and what the
//! broker refuses. Every refusal is checked with a control that the same call works for the
//! party that is allowed, so a test cannot pass because the broker was simply unreachable.

mod common;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::{
    basis_xml, poll, reply_of, TestBroker, ORG_HALLAND, ORG_STOCKHOLM, ORG_VGR_NOT_A_USER,
};
use invoice_hub::broker::messages::{Outcome, StatusMessage, STATUS_TYPE};
use invoice_hub::broker::region::basis_message;
use invoice_hub::broker::{topology, Outgoing, Publisher, Session, Subscription};
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::tcp::OwnedTLSConfig;
use lapin::{BasicProperties, Connection, ConnectionProperties};

static BROKER: OnceLock<TestBroker> = OnceLock::new();
/// Tests that consume the hub's submit queue take turns, or they would take each other's messages.
static SUBMIT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn broker() -> &'static TestBroker {
    BROKER.get_or_init(|| TestBroker::start("broker_access"))
}

fn session(who: &str) -> Arc<Session> {
    Arc::new(Session::new(broker().endpoint(who)).give_up_after(Duration::from_secs(20)))
}

/// The broker refused with `ACCESS_REFUSED` (not some other failure).
fn assert_access_refused(err: &invoice_hub::broker::BrokerError, what: &str) {
    let reply = reply_of(err);
    assert!(
        reply.contains("ACCESS") && reply.contains("REFUSED"),
        "{what}: {err}: {reply}"
    );
}

async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .unwrap_or_else(|_| panic!("{what} took more than 30 s"))
}

/// Takes deliveries from the submit queue as the hub until `id` arrives; acks what it sees.
async fn hub_receive(sub: &mut Subscription, id: &str) -> lapin::message::Delivery {
    loop {
        let d = within("hub delivery", sub.next())
            .await
            .expect("hub consumes submit");
        let mid = d.properties.message_id().as_ref().map(|s| s.to_string());
        if mid.as_deref() == Some(id) {
            return d;
        }
        d.ack(BasicAckOptions::default()).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_basis_travels_with_confirms_and_its_status_comes_back_to_the_sender_only() {
    let _turn = SUBMIT.lock().await;
    let region = Publisher::new(session(ORG_STOCKHOLM));
    let id = "ZVF23210000162611000001";
    let confirmed = within(
        "publish",
        region.publish(&basis_message(
            &broker().user(ORG_STOCKHOLM),
            id,
            basis_xml(id),
        )),
    )
    .await
    .expect("the region's basis is confirmed");
    assert_eq!(confirmed.attempts, 1);

    // The hub sees who sent it from user_id, which the broker vouches for.
    let hub = session("hub");
    let mut submit = Subscription::new(hub.clone(), topology::SUBMIT_QUEUE, 10);
    let d = hub_receive(&mut submit, id).await;
    assert_eq!(
        d.properties.user_id().as_ref().unwrap().as_str(),
        broker().user(ORG_STOCKHOLM)
    );
    assert_eq!(*d.properties.delivery_mode(), Some(2), "persistent");
    assert_eq!(d.data, basis_xml(id));
    d.ack(BasicAckOptions::default()).await.unwrap();

    // The hub answers on the status exchange, routed by the sender's organisation number.
    let status = StatusMessage {
        basis_id: id.into(),
        outcome: Outcome::Withheld,
        findings: vec![],
        withheld: Some(invoice_hub::broker::Withholding {
            rule: "P-PSY".into(),
            board_decision: "RS 2026-01".into(),
            reason: "psychiatric care".into(),
        }),
        receiver: None,
        receipt: None,
        waiting: None,
        at: invoice_hub::clock::now(),
    };
    let hub_pub = Publisher::new(hub.clone());
    within(
        "status publish",
        hub_pub.publish(&Outgoing {
            exchange: topology::STATUS_EXCHANGE.into(),
            routing_key: ORG_STOCKHOLM.into(),
            payload: serde_json::to_vec(&status).unwrap(),
            properties: BasicProperties::default()
                .with_delivery_mode(2)
                .with_type(STATUS_TYPE.into())
                .with_message_id(id.into()),
        }),
    )
    .await
    .expect("the hub may publish outcomes");

    let mut own = Subscription::new(
        session(ORG_STOCKHOLM),
        topology::status_queue(ORG_STOCKHOLM),
        5,
    );
    let d = within("status delivery", own.next()).await.unwrap();
    let got: StatusMessage = serde_json::from_slice(&d.data).unwrap();
    assert_eq!(got, status);
    d.ack(BasicAckOptions::default()).await.unwrap();
    // The other region's status queue got nothing.
    let halland_status = topology::status_queue(ORG_HALLAND);
    let other = invoice_hub::broker::inbox::read(
        session(ORG_HALLAND),
        &halland_status,
        invoice_hub::broker::inbox::Mode::Drain { keep: true },
        |_| Ok(()),
    );
    assert_eq!(within("drain other", other).await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_a_certificate_is_refused() {
    let e = broker().endpoint(ORG_STOCKHOLM);
    let ca = std::fs::read_to_string(&e.ca).unwrap();
    let tls = OwnedTLSConfig {
        identity: None,
        cert_chain: Some(ca),
    };
    let r = within(
        "connect without certificate",
        Connection::connect_with_config(
            &e.url(),
            ConnectionProperties::default(),
            tls,
            lapin::runtime::default_runtime().unwrap(),
        ),
    )
    .await;
    assert!(
        r.is_err(),
        "a connection without a client certificate was accepted"
    );
    assert!(
        broker().wait_for_log("Certificate required"),
        "the broker's TLS layer did not report the missing certificate"
    );
    // Control: the same endpoint with its certificate gets in.
    within("control connect", e.connect())
        .await
        .expect("control: with a certificate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_another_ca_is_refused() {
    let e = broker().endpoint_other_ca(ORG_STOCKHOLM);
    let r = within("connect other CA", e.connect()).await;
    r.expect_err("a certificate from another CA was accepted");
    assert!(
        broker().wait_for_log("Unknown CA"),
        "the broker's TLS layer did not report the unknown CA"
    );
    within(
        "control connect",
        broker().endpoint(ORG_STOCKHOLM).connect(),
    )
    .await
    .expect("control: the federation's certificate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_of_an_unknown_user_is_refused_with_access_refused() {
    let e = broker().endpoint(ORG_VGR_NOT_A_USER);
    let err = within("connect unknown user", e.connect())
        .await
        .expect_err("a certificate whose CN is no broker user was accepted");
    assert_access_refused(&err, "connect");
    assert!(!err.is_transient());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_certificate_cannot_publish_or_read_anything() {
    // The auditor's certificate is the federation CA's own, so TLS lets it through; it is no
    // broker user, so the login is refused before any channel exists: no publish to the submit
    // exchange (no forged basis), no status or notify queue, nothing.
    let auditor = Arc::new(
        Session::new(broker().endpoint_with_certificate("auditor"))
            .give_up_after(Duration::from_secs(5)),
    );
    let id = "ZVF23210000162611000888";
    let err = within(
        "auditor publish",
        Publisher::new(auditor.clone())
            .max_attempts(1)
            .publish(&basis_message(
                &broker().user(ORG_STOCKHOLM),
                id,
                basis_xml(id),
            )),
    )
    .await
    .expect_err("an auditor published a basis");
    assert_access_refused(&err, "connect");
    for queue in [
        topology::status_queue(ORG_STOCKHOLM),
        topology::SUBMIT_QUEUE.to_string(),
    ] {
        let mut sub = Subscription::new(auditor.clone(), queue.clone(), 1);
        let err = within("auditor subscribe", sub.subscribe())
            .await
            .expect_err(&format!("an auditor could consume {queue}"));
        assert_access_refused(&err, &queue);
    }
    // Control: the same publish with a region's certificate is confirmed.
    within(
        "control publish",
        Publisher::new(session(ORG_STOCKHOLM)).publish(&basis_message(
            &broker().user(ORG_STOCKHOLM),
            id,
            basis_xml(id),
        )),
    )
    .await
    .expect("control: the region publishes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spoofed_user_id_is_refused_with_precondition_failed() {
    let region = Publisher::new(session(ORG_STOCKHOLM));
    let id = "ZVF23210001152611000009";
    let spoofed = basis_message(&broker().user(ORG_HALLAND), id, basis_xml(id));
    let err = within("spoofed publish", region.publish(&spoofed))
        .await
        .expect_err("a basis claiming to be from another region was accepted");
    let reply = reply_of(&err);
    assert!(reply.contains("PRECONDITION"), "{err}: {reply}");
    assert!(!err.is_transient(), "sending it again cannot help");
    // The session recovers from the closed channel: the honest publish goes through.
    within(
        "honest publish",
        region.publish(&basis_message(
            &broker().user(ORG_STOCKHOLM),
            id,
            basis_xml(id),
        )),
    )
    .await
    .expect("control: the region's own user_id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_cannot_read_another_regions_queues_or_the_hubs() {
    let s = session(ORG_STOCKHOLM);
    for queue in [
        topology::status_queue(ORG_HALLAND),
        topology::notify_queue(ORG_HALLAND),
        topology::SUBMIT_QUEUE.to_string(),
        topology::PARKED_QUEUE.to_string(),
    ] {
        let mut sub = Subscription::new(s.clone(), queue.clone(), 1);
        let err = within("subscribe", sub.subscribe())
            .await
            .expect_err(&format!("region {ORG_STOCKHOLM} could consume {queue}"));
        assert_access_refused(&err, &queue);
    }
    // Control: its own queues.
    for queue in [
        topology::status_queue(ORG_STOCKHOLM),
        topology::notify_queue(ORG_STOCKHOLM),
    ] {
        let mut sub = Subscription::new(s.clone(), queue.clone(), 1);
        within("subscribe own", sub.subscribe())
            .await
            .unwrap_or_else(|e| panic!("its own {queue}: {e}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_cannot_forge_outcomes_or_write_outside_submit() {
    let region = Publisher::new(session(ORG_STOCKHOLM));
    for exchange in [
        topology::STATUS_EXCHANGE,
        topology::NOTIFY_EXCHANGE,
        topology::PARKED_EXCHANGE,
        "",
    ] {
        let msg = Outgoing {
            exchange: exchange.into(),
            routing_key: ORG_HALLAND.into(),
            payload: b"{}".to_vec(),
            properties: BasicProperties::default()
                .with_user_id(broker().user(ORG_STOCKHOLM).into()),
        };
        let err = within("forged publish", region.publish(&msg))
            .await
            .expect_err(&format!("a region could publish to exchange {exchange:?}"));
        assert_access_refused(&err, &format!("{exchange:?}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_is_parked_after_the_delivery_limit() {
    let _turn = SUBMIT.lock().await;
    let id = "ZVF23210000162611000666";
    Publisher::new(session(ORG_STOCKHOLM))
        .publish(&basis_message(
            &broker().user(ORG_STOCKHOLM),
            id,
            basis_xml(id),
        ))
        .await
        .unwrap();
    let hub = session("hub");
    let mut submit = Subscription::new(hub.clone(), topology::SUBMIT_QUEUE, 1);
    // The harness's broker has x-delivery-limit 3: the 4th return is one too many.
    for _ in 0..4 {
        let d = hub_receive(&mut submit, id).await;
        d.nack(BasicNackOptions {
            requeue: true,
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let mut parked = Subscription::new(hub, topology::PARKED_QUEUE, 1);
    let d = within("parked delivery", parked.next()).await.unwrap();
    assert_eq!(d.properties.message_id().as_ref().unwrap().as_str(), id);
    assert_eq!(
        d.properties.user_id().as_ref().unwrap().as_str(),
        broker().user(ORG_STOCKHOLM)
    );
    d.ack(BasicAckOptions::default()).await.unwrap();
}

#[test]
fn the_broker_definitions_match_the_topology_constants() {
    let queues = broker().rabbitmqctl(&[
        "list_queues",
        "-p",
        topology::VHOST,
        "name",
        "type",
        "arguments",
    ]);
    let submit = queues
        .lines()
        .find(|l| l.starts_with(&format!("{}\t", topology::SUBMIT_QUEUE)))
        .unwrap_or_else(|| panic!("no submit queue in {queues}"));
    assert!(submit.contains("quorum"), "{submit}");
    assert!(submit.contains("x-delivery-limit"), "{submit}");
    assert!(
        submit.contains(&format!("\"{}\"", topology::PARKED_EXCHANGE)),
        "{submit}"
    );
    for org in [ORG_STOCKHOLM, ORG_HALLAND] {
        for q in [topology::status_queue(org), topology::notify_queue(org)] {
            assert!(
                queues.lines().any(|l| l.starts_with(&format!("{q}\t"))),
                "{q} missing: {queues}"
            );
        }
    }
    assert!(!queues.contains(ORG_VGR_NOT_A_USER));
    let users = broker().rabbitmqctl(&["list_users"]);
    assert!(!users.contains("guest"), "no default user: {users}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unroutable_basis_is_retried_then_reported_not_confirmed() {
    let region = Publisher::new(session(ORG_STOCKHOLM))
        .max_attempts(3)
        .backoff(
            invoice_hub::retry::Backoff::try_new(
                Duration::from_millis(50),
                Duration::from_millis(100),
            )
            .unwrap(),
        );
    let id = "ZVF23210000162611000777";
    let mut msg = basis_message(&broker().user(ORG_STOCKHOLM), id, basis_xml(id));
    msg.routing_key = "nowhere".into();
    let err = within("unroutable publish", region.publish(&msg))
        .await
        .expect_err("a returned message counts as not confirmed");
    let text = err.to_string();
    assert!(text.contains("gave up after 3 attempts"), "{text}");
    assert!(text.contains("unroutable") && text.contains(id), "{text}");
}

/// `invoice-hub pki issue` of a region certificate into the broker's PKI.
fn issue_region(stem: &str, org: &str, hsa_id: Option<&str>) {
    let dir = broker().certs.to_str().unwrap().to_string();
    let mut args = vec![
        "pki", "issue", "--dir", &dir, "--role", "region", "--org", org, "--cn", org, "--stem",
        stem,
    ];
    if let Some(h) = hsa_id {
        args.extend(["--hsa-id", h]);
    }
    let (code, out, err) = common::ih(&args);
    assert_eq!(code, Some(0), "{out}{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_certificate_with_a_regions_name_but_another_serialnumber_is_refused() {
    // The CA issued Stockholm's CN twice more: with another HSA-id, and with none.
    let other = format!("SE{ORG_STOCKHOLM}-REGION9");
    issue_region("twin-other-hsa", ORG_STOCKHOLM, Some(&other));
    issue_region("twin-no-hsa", ORG_STOCKHOLM, None);
    for stem in ["twin-other-hsa", "twin-no-hsa"] {
        let e = broker().endpoint_with_certificate(stem);
        let err = within("connect as a twin", e.connect())
            .await
            .expect_err("a certificate with the region's CN but another identity got in");
        assert_access_refused(&err, stem);
    }
    // The broker names the user it looked for: the whole subject, not the CN.
    assert!(
        broker().wait_for_log(&format!("SERIALNUMBER={other}")),
        "{}",
        broker().log()
    );
    within(
        "control connect",
        broker().endpoint(ORG_STOCKHOLM).connect(),
    )
    .await
    .expect("control: the region's own certificate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_region_certificate_is_refused_at_its_next_connection() {
    // A renewal of Stockholm's certificate (the same subject, a new key): it is the same broker
    // user — the broker cannot pin keys — so the CRL is what stops it once revoked.
    issue_region(
        "renewed-stockholm",
        ORG_STOCKHOLM,
        Some(&format!("SE{ORG_STOCKHOLM}-REGION")),
    );
    let renewed = broker().endpoint_with_certificate("renewed-stockholm");
    within("connect renewed", renewed.connect())
        .await
        .expect("the renewed certificate is Stockholm's user");
    let dir = broker().certs.to_str().unwrap().to_string();
    let cert = broker().certs.join("renewed-stockholm.pem");
    let (code, out, err) = common::ih(&["pki", "revoke", "--dir", &dir, cert.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}{err}");
    // Erlang reads the CRL at every handshake: no restart, no reload interval.
    let revocations = || {
        let log = broker().log();
        log.matches("certificate_revoked").count() + log.matches("Certificate Revoked").count()
    };
    let before = revocations();
    let err = within("connect revoked", renewed.connect())
        .await
        .expect_err("a revoked certificate got in");
    // Under TLS 1.3 the client's handshake is over before the broker has checked its
    // certificate: the broker's alert comes after the client's first bytes, and a broker that
    // closes with those bytes unread resets the connection, so the alert is not always read
    // (seen in CI: "Connection reset by peer"). Refused either way; the broker's log says why.
    let text = err.to_string();
    assert!(
        text.to_lowercase().contains("revoked")
            || text.contains("BadCertificate")
            || text.contains("CertificateRevoked")
            || text.contains("Connection reset by peer"),
        "{err}"
    );
    let refused_as_revoked = poll(Duration::from_secs(10), Duration::from_millis(200), || {
        (revocations() > before).then_some(())
    });
    assert!(refused_as_revoked.is_some(), "{}", broker().log());
    within(
        "control connect",
        broker().endpoint(ORG_STOCKHOLM).connect(),
    )
    .await
    .expect("control: Stockholm's own certificate still gets in");
}
