//! The hostile corpus (`tests/hostile/cases.toml`) through the whole exchange on real parts: a
//! RabbitMQ node with TLS, two region stores and the hub binary (tests/common). Each case is put
//! on the submit exchange directly with `broker::Publisher` (the `publish` command refuses
//! non-XML before the broker ever sees it), mixed into valid generated traffic from both regions.
//! The test checks each answer (outcome and rule), that every valid basis is answered OK and
//! delivered, that nothing hostile reached a store or the disclosure log as disclosed, that the
//! hub is still running at the end and that its log holds no patient id.

mod common;
#[path = "hostile/corpus.rs"]
mod corpus;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use common::exchange::{bin, outcomes, run_ok, stored_ids, Exchange};
use common::{reply_of, TestBroker, ORG_HALLAND, ORG_STOCKHOLM};
use corpus::{Case, Sender};
use invoice_hub::audit::{AuditLog, Event, Query, VerifyOptions};
use invoice_hub::broker::region::basis_message;
use invoice_hub::broker::{inbox, topology, Outgoing, Publisher, Session, StatusMessage};
use invoice_hub::claim::ClaimSpecification;
use invoice_hub::synth::{GenOptions, Generator};
use lapin::BasicProperties;

#[test]
#[ignore = "writes tests/hostile/: run by hand to regenerate the corpus (see tests/hostile/corpus.rs)"]
fn write_the_hostile_corpus() {
    assert!(
        std::env::var_os("IH_WRITE_HOSTILE_CORPUS").is_some(),
        "set IH_WRITE_HOSTILE_CORPUS=1 to overwrite tests/hostile/"
    );
    corpus::write_corpus();
}

#[test]
fn the_corpus_covers_every_kind_the_issue_names() {
    let cases = corpus::load();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    let rules: BTreeSet<&str> = cases.iter().map(|c| c.rule.as_str()).collect();
    for rule in [
        "SAFETY-DOCTYPE",
        "SAFETY-DEPTH",
        "SAFETY-SIZE",
        "SAFETY-UTF8",
        "XML",
        "XSD",
        "ÖR1",
        "ÖR5",
        "ÖR26",
        "ÖR27",
        "ÖR28",
        "SENDER",
        "RECEIVER",
        "ID-REUSED",
        "ÖR52",
        "PROTECTED-IDENTITY",
        "H3-psychiatry-minors",
        "H1-receiver",
    ] {
        assert!(rules.contains(rule), "no case for {rule}");
    }
    let mut names = BTreeSet::new();
    for c in &cases {
        assert!(names.insert(&c.name), "{} twice", c.name);
        assert!(
            corpus::dir().join(&c.file).exists(),
            "{}: {} missing",
            c.name,
            c.file
        );
        assert!(
            ["OK", "ERROR", "WITHHELD", "REJECTED", "PARKED", "REFUSED"]
                .contains(&c.outcome.as_str()),
            "{}: outcome {}",
            c.name,
            c.outcome
        );
    }
}

/// Valid bases from the generator that both regions' policies disclose (Halland's withholds
/// psychiatry of minors and abortions, so its traffic leaves those out).
fn valid_traffic(n: usize) -> Vec<(String, String, Vec<u8>)> {
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let mut opts = GenOptions::new(47, today);
    opts.month = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    opts.lines = 1..=3;
    opts.regions = vec![
        invoice_hub::claim::regions::region("01").unwrap(),
        invoice_hub::claim::regions::region("13").unwrap(),
    ];
    let g = Generator::new(opts).unwrap();
    (0..)
        .map(|i| g.generate(i))
        .filter(|d| {
            let f = &d.entry.features;
            d.entry.sender == ORG_STOCKHOLM || !(f.psychiatry || f.abortion || f.protected_identity)
        })
        .take(n)
        .map(|d| (d.entry.sender.clone(), d.entry.id.clone(), d.xml))
        .collect()
}

/// The patient ids in a document, if it can be read at all.
fn patient_ids(bytes: &[u8]) -> Vec<String> {
    match ClaimSpecification::from_xml(bytes) {
        Ok(c) => c
            .health_care_services_specification_line
            .iter()
            .map(|l| l.patient_information.patient_identity.extension.clone())
            .filter(|p| p.len() >= 8)
            .collect(),
        Err(_) => Vec::new(),
    }
}

fn no_user_id(id: &str, body: Vec<u8>) -> Outgoing {
    Outgoing {
        exchange: topology::SUBMIT_EXCHANGE.into(),
        routing_key: topology::SUBMIT_ROUTING_KEY.into(),
        payload: body,
        properties: BasicProperties::default()
            .with_delivery_mode(2)
            .with_message_id(id.into()),
    }
}

#[test]
fn the_hub_answers_every_hostile_case_and_keeps_running() {
    let cases = corpus::load();
    let broker = TestBroker::start("hostile");
    // The non-region receiver is routable (so the policy, not routing, decides); nothing may ever
    // be delivered to it, and its address would refuse if the hub tried.
    let mut ex = Exchange::start(
        &broker,
        "hostile",
        &[(corpus::NOT_A_REGION, "https://127.0.0.1:1")],
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let session = |org: &str| {
        Arc::new(Session::new(broker.endpoint(org)).give_up_after(Duration::from_secs(30)))
    };
    let halland = Publisher::new(session(ORG_HALLAND));
    let stockholm = Publisher::new(session(ORG_STOCKHOLM));
    let (halland_user, stockholm_user) = (broker.user(ORG_HALLAND), broker.user(ORG_STOCKHOLM));

    let valid = valid_traffic(60);
    let mut valid_iter = valid.iter();
    let mut publish_valid = |k: usize| {
        for (sender, id, xml) in valid_iter.by_ref().take(k) {
            let p = if sender == ORG_HALLAND {
                &halland
            } else {
                &stockholm
            };
            let user = if sender == ORG_HALLAND {
                &halland_user
            } else {
                &stockholm_user
            };
            rt.block_on(p.publish(&basis_message(user, id, xml.clone())))
                .unwrap_or_else(|e| panic!("valid {id} not confirmed: {e}"));
        }
    };

    // Every case, phase by phase, each after one valid basis; a phase's answers are all in
    // before the next phase starts (the id reuse cases depend on the order).
    let mut seen: BTreeMap<String, StatusMessage> = BTreeMap::new();
    let mut refused = Vec::new();
    for phase in 1..=3u8 {
        let now: Vec<&Case> = cases.iter().filter(|c| c.phase == phase).collect();
        for c in &now {
            publish_valid(1);
            let body = corpus::payload(c);
            let result = match c.sender {
                Sender::Halland => {
                    rt.block_on(halland.publish(&basis_message(&halland_user, &c.id, body)))
                }
                Sender::NoUserId => rt.block_on(halland.publish(&no_user_id(&c.id, body))),
                Sender::SpoofedUserId => {
                    rt.block_on(halland.publish(&basis_message(&stockholm_user, &c.id, body)))
                }
            };
            match (c.outcome.as_str(), result) {
                ("REFUSED", Err(e)) => {
                    let said = format!("{e} / {}", reply_of(&e));
                    assert!(said.contains(&c.rule), "{}: {said}", c.name);
                    refused.push(c.id.clone());
                }
                ("REFUSED", Ok(_)) => panic!("{}: the broker took it", c.name),
                (_, Err(e)) => panic!("{}: not confirmed: {e}", c.name),
                (_, Ok(_)) => {}
            }
        }
        let want: BTreeSet<String> = now
            .iter()
            .filter(|c| !["PARKED", "REFUSED"].contains(&c.outcome.as_str()))
            .map(|c| c.id.clone())
            .collect();
        for id in &want {
            seen.remove(id);
        }
        outcomes(&ex.halland_cfg, &want, &ex.hub, &mut seen);
        for c in now.iter().filter(|c| want.contains(&c.id)) {
            let s = &seen[&c.id];
            assert_eq!(s.outcome.to_string(), c.outcome, "{}: {s:?}", c.name);
            match c.outcome.as_str() {
                "ERROR" => assert!(
                    s.findings.iter().any(|f| f.rule == c.rule),
                    "{}: expected {} in {:?}",
                    c.name,
                    c.rule,
                    s.findings
                ),
                "WITHHELD" | "REJECTED" => {
                    let w = s.withheld.as_ref().expect("withheld says why");
                    assert!(w.rule.contains(&c.rule), "{}: {w:?}", c.name);
                    assert!(!w.board_decision.is_empty(), "{}: {w:?}", c.name);
                }
                _ => {
                    assert_eq!(s.receiver.as_deref(), Some(ORG_STOCKHOLM), "{}", c.name);
                    assert!(s.receipt.is_some(), "{}", c.name);
                }
            }
        }
    }
    publish_valid(valid.len());

    // The valid traffic: every basis OK and delivered, whoever sent it.
    let valid_from = |org: &str| -> BTreeSet<String> {
        valid
            .iter()
            .filter(|(s, _, _)| s == org)
            .map(|(_, id, _)| id.clone())
            .collect()
    };
    let (from_halland, from_stockholm) = (valid_from(ORG_HALLAND), valid_from(ORG_STOCKHOLM));
    assert!(!from_halland.is_empty() && !from_stockholm.is_empty());
    outcomes(&ex.halland_cfg, &from_halland, &ex.hub, &mut seen);
    let mut seen_stockholm = BTreeMap::new();
    outcomes(
        &ex.stockholm_cfg,
        &from_stockholm,
        &ex.hub,
        &mut seen_stockholm,
    );
    for id in &from_halland {
        assert_eq!(seen[id].outcome.to_string(), "OK", "{id}: {:?}", seen[id]);
    }
    for id in &from_stockholm {
        let s = &seen_stockholm[id];
        assert_eq!(s.outcome.to_string(), "OK", "{id}: {s:?}");
    }

    // The message without user_id went to the parked queue, unanswered.
    let parked: Vec<&Case> = cases.iter().filter(|c| c.outcome == "PARKED").collect();
    let mut found = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while found.len() < parked.len() {
        assert!(
            Instant::now() < deadline,
            "not parked: {parked:?}\n{}",
            ex.hub.log()
        );
        rt.block_on(inbox::read(
            session("hub"),
            topology::PARKED_QUEUE,
            inbox::Mode::Drain { keep: false },
            |d| {
                if let Some(id) = d.properties.message_id() {
                    found.insert(id.to_string());
                }
                Ok(())
            },
        ))
        .unwrap();
        #[expect(
            clippy::disallowed_methods,
            reason = "the test's own thread waits; no async runtime runs on it"
        )]
        std::thread::sleep(Duration::from_millis(200));
    }
    for c in &parked {
        assert!(found.contains(&c.id), "{} not parked", c.name);
    }
    assert!(ex.hub.log().contains("parked for an operator"));
    // Nothing was answered for what the hub never saw or could not attribute.
    let last = run_ok(
        bin()
            .args(["status", "--format", "json", "--config"])
            .arg(&ex.halland_cfg),
    );
    for id in parked.iter().map(|c| &c.id).chain(&refused) {
        assert!(
            !seen.contains_key(id) && !last.contains(id.as_str()),
            "{id} was answered"
        );
    }

    // Only what was disclosed reached a store: exactly the OK answers, each once.
    let ok_cases: BTreeSet<String> = cases
        .iter()
        .filter(|c| c.outcome == "OK")
        .map(|c| c.id.clone())
        .collect();
    let want_stockholm: Vec<String> = from_halland.union(&ok_cases).cloned().collect();
    assert_eq!(stored_ids(&ex.stockholm, &ex.certs), want_stockholm);
    let want_halland: Vec<String> = from_stockholm.iter().cloned().collect();
    assert_eq!(stored_ids(&ex.halland, &ex.certs), want_halland);

    // The hub is still the process it was at the start, and stops cleanly.
    assert!(
        ex.hub.is_running(),
        "the hub died on the corpus:\n{}",
        ex.hub.log()
    );
    ex.hub.stop();

    // The disclosure log verifies; no hostile case was disclosed or delivered; the OK cases name
    // their policy rule.
    let log = AuditLog::open_existing(&ex.hub_log_dir, None).unwrap();
    let report = log.verify(&VerifyOptions::default()).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let entries = |id: &str| {
        log.query(&Query {
            basis: Some(id.to_string()),
            ..Query::default()
        })
        .unwrap()
        .entries
    };
    let reused: BTreeSet<&str> = cases
        .iter()
        .filter(|c| c.rule == "ID-REUSED")
        .map(|c| c.id.as_str())
        .collect();
    for c in &cases {
        let got = entries(&c.id);
        let events: Vec<Event> = got.iter().map(|e| e.record.event).collect();
        match c.outcome.as_str() {
            "OK" => {
                let disclosed = got
                    .iter()
                    .find(|e| e.record.event == Event::Disclosed)
                    .unwrap_or_else(|| panic!("{}: {events:?}", c.name));
                assert!(
                    disclosed.record.matched_rules.contains(&c.rule),
                    "{}: {:?}",
                    c.name,
                    disclosed.record.matched_rules
                );
                assert_eq!(
                    events.iter().filter(|e| **e == Event::Delivered).count(),
                    1,
                    "{}: {events:?}",
                    c.name
                );
            }
            "PARKED" | "REFUSED" => assert!(events.is_empty(), "{}: {events:?}", c.name),
            _ if reused.contains(c.id.as_str()) => {}
            _ => assert!(
                !events.contains(&Event::Disclosed) && !events.contains(&Event::Delivered),
                "{}: {events:?}",
                c.name
            ),
        }
    }

    // No patient id in the hub's log or in any answer.
    let mut patients: BTreeSet<String> = cases
        .iter()
        .flat_map(|c| patient_ids(&corpus::payload(c)))
        .collect();
    patients.extend(valid.iter().flat_map(|(_, _, xml)| patient_ids(xml)));
    assert!(patients.len() > 40, "{} patient ids", patients.len());
    let hub_log = ex.hub.log();
    assert!(
        !hub_log.lines().any(|l| l.starts_with("FORGED")),
        "a document's id forged a line in the hub's log"
    );
    let answers = serde_json::to_string(&(&seen, &seen_stockholm)).unwrap();
    for p in &patients {
        assert!(
            !hub_log.contains(p.as_str()),
            "a patient id in the hub's log"
        );
        assert!(!answers.contains(p.as_str()), "a patient id in an answer");
    }
}
