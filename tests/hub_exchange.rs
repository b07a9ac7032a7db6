//! The exchange end to end on real parts: a RabbitMQ node with TLS and EXTERNAL login
//! (`broker/ctl`), certificates from `invoice-hub pki dev`, two region stores and the hub as the
//! binaries a deployment runs, bases published with `invoice-hub publish` and outcomes read with
//! `invoice-hub status`. One test function, in phases, because the phases share one broker and
//! one hub and must not run at the same time.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::exchange::{
    basis, bin, make_psychiatry_minor, outcome, outcomes, publish, rules, stored_ids, write,
    Exchange, Hub,
};
use common::{TestBroker, ORG_HALLAND, ORG_STOCKHOLM, ORG_VGR_NOT_A_USER};
use invoice_hub::audit::{AuditLog, Event, Query, VerifyOptions};

#[test]
fn the_exchange_end_to_end() {
    let broker = TestBroker::start("hub");
    let Exchange {
        work,
        certs,
        stockholm,
        halland,
        mut hub,
        hub_log_dir,
        halland_cfg,
        stockholm_cfg,
    } = Exchange::start(&broker, "exchange", &[]);

    // Phase 1: one basis of every kind.
    let batch = work.join("batch1");
    let ok = write(&batch, &basis(ORG_HALLAND, ORG_STOCKHOLM, 1));
    let mut c = basis(ORG_HALLAND, ORG_STOCKHOLM, 2);
    make_psychiatry_minor(&mut c);
    let psych_minor = write(&batch, &c);
    let mut c = basis(ORG_HALLAND, ORG_STOCKHOLM, 3);
    c.payable_amount.amount = "9999.00".into();
    let bad_amount = write(&batch, &c);
    let mut c = basis(ORG_HALLAND, ORG_STOCKHOLM, 4);
    c.supplier_party.identification[0].extension = ORG_STOCKHOLM.into();
    let spoofed = write(&batch, &c);
    let unknown_receiver = write(&batch, &basis(ORG_HALLAND, ORG_VGR_NOT_A_USER, 5));
    let mut c = basis(ORG_HALLAND, ORG_STOCKHOLM, 6);
    c.health_care_services_specification_line[0]
        .patient_information
        .patient_identity
        .extension = "191212121212".into();
    let protected = write(&batch, &c);
    publish(&halland_cfg, &batch);
    let back = work.join("batch-back");
    let to_halland = write(&back, &basis(ORG_STOCKHOLM, ORG_HALLAND, 1));
    publish(&stockholm_cfg, &back);

    let mut seen = BTreeMap::new();
    let want: BTreeSet<String> = [
        &ok,
        &psych_minor,
        &bad_amount,
        &spoofed,
        &unknown_receiver,
        &protected,
    ]
    .into_iter()
    .cloned()
    .collect();
    outcomes(&halland_cfg, &want, &hub, &mut seen);
    let mut seen_back = BTreeMap::new();
    outcomes(
        &stockholm_cfg,
        &BTreeSet::from([to_halland.clone()]),
        &hub,
        &mut seen_back,
    );

    assert_eq!(outcome(&seen, &ok), "OK");
    assert_eq!(seen[&ok].receiver.as_deref(), Some(ORG_STOCKHOLM));
    assert!(seen[&ok].receipt.is_some());
    assert_eq!(outcome(&seen, &psych_minor), "WITHHELD");
    let w = seen[&psych_minor].withheld.as_ref().unwrap();
    assert!(
        w.rule.contains("H3-psychiatry-minors") && w.board_decision.contains("RS 2026-03-18"),
        "{w:?}"
    );
    assert_eq!(outcome(&seen, &bad_amount), "ERROR");
    assert!(
        rules(&seen, &bad_amount).contains(&"ÖR5".to_string()),
        "{:?}",
        rules(&seen, &bad_amount)
    );
    assert_eq!(outcome(&seen, &spoofed), "ERROR");
    assert!(
        rules(&seen, &spoofed).contains(&"SENDER".to_string()),
        "{:?}",
        rules(&seen, &spoofed)
    );
    assert_eq!(outcome(&seen, &unknown_receiver), "ERROR");
    assert!(
        rules(&seen, &unknown_receiver).contains(&"RECEIVER".to_string()),
        "{:?}",
        seen[&unknown_receiver]
    );
    assert_eq!(outcome(&seen, &protected), "WITHHELD");
    assert!(seen[&protected]
        .withheld
        .as_ref()
        .unwrap()
        .rule
        .contains("PROTECTED-IDENTITY"));
    assert_eq!(seen_back[&to_halland].outcome.to_string(), "OK");

    // The same id with other content is refused; the same content again is answered again.
    let again = work.join("batch2");
    let mut c = basis(ORG_HALLAND, ORG_STOCKHOLM, 1);
    c.invoice_id = Some("F-OTHER".into());
    write(&again, &c);
    publish(&halland_cfg, &again);
    seen.remove(&ok);
    outcomes(&halland_cfg, &BTreeSet::from([ok.clone()]), &hub, &mut seen);
    assert_eq!(outcome(&seen, &ok), "ERROR");
    assert!(
        rules(&seen, &ok).contains(&"ID-REUSED".to_string()),
        "{:?}",
        rules(&seen, &ok)
    );
    publish(&halland_cfg, &batch.join(format!("{ok}.xml")));
    seen.remove(&ok);
    outcomes(&halland_cfg, &BTreeSet::from([ok.clone()]), &hub, &mut seen);
    assert_eq!(
        outcome(&seen, &ok),
        "OK",
        "an identical re-publish is answered from the log"
    );

    // Only the disclosed bases reached the stores.
    assert_eq!(stored_ids(&stockholm, &certs), vec![ok.clone()]);
    assert_eq!(stored_ids(&halland, &certs), vec![to_halland.clone()]);

    // Phase 2: SIGKILL mid-stream, restart, nothing lost or duplicated.
    let stream = work.join("stream");
    let ids: BTreeSet<String> = (100..700)
        .map(|n| write(&stream, &basis(ORG_HALLAND, ORG_STOCKHOLM, n)))
        .collect();
    let mut publisher = bin()
        .args(["publish", "--config"])
        .arg(&halland_cfg)
        .arg(&stream)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Kill the hub once some, but not all, of the stream has been answered (its log says so).
    let answered = |hub: &Hub| hub.log().matches("answered").count();
    let before = answered(&hub);
    let deadline = Instant::now() + Duration::from_secs(120);
    while answered(&hub) < before + 20 {
        assert!(
            Instant::now() < deadline,
            "the hub answers nothing:\n{}",
            hub.log()
        );
        #[expect(
            clippy::disallowed_methods,
            reason = "the test's own thread waits; no async runtime runs on it"
        )]
        std::thread::sleep(Duration::from_millis(10));
    }
    hub.kill();
    // Whether the killed hub left entries after its last signed head: a checkpoint (every 1 024
    // entries) may have been signed just before the kill, and then there is nothing to sign.
    let left_unsigned = {
        let log = AuditLog::open_existing(&hub_log_dir, None).unwrap();
        log.latest_head().unwrap().map_or(0, |h| h.tree_size) < log.size()
    };
    let answered_before_kill = answered(&hub) - before;
    assert!(
        answered_before_kill < ids.len(),
        "the hub was killed mid-stream ({answered_before_kill} of {} answered)",
        ids.len()
    );
    hub.start();
    assert!(
        publisher.wait().unwrap().success(),
        "every basis confirmed by the broker"
    );
    outcomes(&halland_cfg, &ids, &hub, &mut seen);
    // The killed hub signed no head over its last entries; the new one did so before consuming.
    assert_eq!(
        hub.log()
            .contains("signed a head over entries the previous run left unsigned"),
        left_unsigned,
        "{}",
        hub.log()
    );
    for id in &ids {
        assert_eq!(seen[id].outcome.to_string(), "OK", "{id}: {:?}", seen[id]);
    }
    let mut in_store = stored_ids(&stockholm, &certs);
    in_store.retain(|id| ids.contains(id));
    assert_eq!(in_store.len(), ids.len(), "each basis once in the store");

    // The hub stops cleanly; its log verifies and holds exactly one entry per event.
    hub.stop();
    let log = AuditLog::open_existing(&hub_log_dir, None).unwrap();
    let report = log.verify(&VerifyOptions::default()).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let head = log
        .latest_head()
        .unwrap()
        .expect("a head signed at shutdown");
    assert_eq!(
        head.tree_size,
        log.size(),
        "the last head covers every entry"
    );
    let events = |id: &str| -> Vec<Event> {
        let q = Query {
            basis: Some(id.to_string()),
            ..Query::default()
        };
        log.query(&q)
            .unwrap()
            .entries
            .into_iter()
            .map(|e| e.record.event)
            .collect()
    };
    for id in &ids {
        assert_eq!(
            events(id),
            vec![Event::Received, Event::Disclosed, Event::Delivered],
            "{id}"
        );
    }
    assert_eq!(events(&psych_minor), vec![Event::Received, Event::Withheld]);
    assert_eq!(events(&bad_amount), vec![Event::Received, Event::Rejected]);
    // The first content: received, disclosed, delivered; the other content: received, rejected.
    let first = events(&ok);
    assert_eq!(
        first.iter().filter(|e| **e == Event::Delivered).count(),
        1,
        "{first:?}"
    );
    assert_eq!(first.len(), 5, "{first:?}");
    assert!(!hub.log().contains("19121212") && !hub.log().contains("191212121212"));
    drop(log);
    // The receiving regions' stores witnessed the log as it grew, across the kill: an auditor
    // checks the log against what they hold, with the key they trust.
    let work_dir = hub_log_dir.parent().unwrap();
    let verified = bin()
        .arg("audit")
        .arg("--log")
        .arg(&hub_log_dir)
        .arg("verify")
        .arg("--key")
        .arg(work_dir.join("hub-keys/log-signing.pub"))
        .args([
            "--witness",
            &stockholm.url,
            "--witness",
            &halland.url,
            "--ca",
        ])
        .arg(certs.join("ca.pem"))
        .arg("--cert")
        .arg(certs.join("auditor.pem"))
        .arg("--cert-key")
        .arg(certs.join("auditor.key"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&verified.stdout);
    assert!(
        verified.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    assert_eq!(
        said.matches("holds a head of \"hub-test\" at size").count(),
        2,
        "{said}"
    );

    patient_timeline(
        &work,
        &certs,
        [stockholm, halland],
        &mut hub,
        [&halland_cfg, &stockholm_cfg],
    );
}

/// The patient's question (PDL: who has received or read data about me?) across the hub's log
/// and both stores' access logs: one patient cared for in Halland while living in Stockholm,
/// then in Stockholm after moving to Halland. One timeline, in order: each basis received,
/// disclosed (naming the policy), delivered, then read by the receiving store's staff. A patient
/// key that is not the federation's is refused.
fn patient_timeline(
    work: &std::path::Path,
    certs: &std::path::Path,
    mut stores: [common::exchange::Store; 2],
    hub: &mut Hub,
    senders: [&std::path::PathBuf; 2],
) {
    let pn = common::exchange::personnummer("19610704", 417);
    hub.start();
    let mut ids = Vec::new();
    for (i, (from, to)) in [(ORG_HALLAND, ORG_STOCKHOLM), (ORG_STOCKHOLM, ORG_HALLAND)]
        .into_iter()
        .enumerate()
    {
        let mut c = basis(from, to, 900 + i as u32);
        c.health_care_services_specification_line[0]
            .patient_information
            .patient_identity
            .extension = pn.clone();
        let id = write(&work.join(format!("timeline-{i}")), &c);
        publish(
            senders[i],
            &work.join(format!("timeline-{i}")).join(format!("{id}.xml")),
        );
        let mut seen = BTreeMap::new();
        outcomes(senders[i], &BTreeSet::from([id.clone()]), hub, &mut seen);
        assert_eq!(outcome(&seen, &id), "OK");
        // The receiving store's reader opens it (the store's own access log records the read).
        let store = &stores[i];
        let cert = |ext: &str| certs.join(format!("staff-{}.{ext}", store.org));
        let got = common::exchange::run_ok(
            bin()
                .args(["fetch", "--store", &store.url, "--ca"])
                .arg(certs.join("ca.pem"))
                .arg("--cert")
                .arg(cert("pem"))
                .arg("--key")
                .arg(cert("key"))
                .args(["get", &id]),
        );
        assert!(got.contains(&id));
        ids.push(id);
    }
    hub.stop();
    for s in &mut stores {
        s.kill();
    }
    let access_log =
        |s: &common::exchange::Store| s.config.parent().unwrap().join("data").join("access-log");
    let ask = |key: &std::path::Path| {
        bin()
            .arg("audit")
            .arg("--log")
            .arg(work.join("hub-log"))
            .arg("--log")
            .arg(access_log(&stores[0]))
            .arg("--log")
            .arg(access_log(&stores[1]))
            .args(["query", "--patient", &pn, "--patient-key"])
            .arg(key)
            .args(["--format", "json"])
            .env_remove("INVOICE_HUB_PATIENT_KEY")
            .output()
            .unwrap()
    };
    let o = ask(&work.join("hub-keys/patient-hmac.key"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let timeline: Vec<(String, String, String)> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let r = &e["record"];
            (
                e["log"].as_str().unwrap().to_owned(),
                r["event"].as_str().unwrap().to_owned(),
                r["basis_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let mut want = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let store_log = format!("store-{}", stores[i].org);
        for (log, event) in [
            ("hub-test", "received"),
            ("hub-test", "disclosed"),
            ("hub-test", "delivered"),
            (store_log.as_str(), "accessed"),
        ] {
            want.push((log.to_owned(), event.to_owned(), id.clone()));
        }
    }
    assert_eq!(timeline, want, "{err}");
    let disclosed = &v["entries"][1]["record"];
    assert!(
        disclosed["policy"]["board_decision"].is_string(),
        "{disclosed}"
    );
    assert!(v["entries"][3]["record"]["actor"]
        .as_str()
        .unwrap()
        .starts_with("hsa:SE"));
    assert!(!String::from_utf8_lossy(&o.stdout).contains(&pn));

    // The same as a letter to the patient (logutdrag): every step, no hashes, file 0600.
    let letter = work.join("logutdrag.html");
    let extract = || {
        bin()
            .arg("audit")
            .args(["--log"])
            .arg(work.join("hub-log"))
            .arg("--log")
            .arg(access_log(&stores[0]))
            .arg("--log")
            .arg(access_log(&stores[1]))
            .args(["patient-extract", "--patient", &pn, "--patient-key"])
            .arg(work.join("hub-keys/patient-hmac.key"))
            .arg("--out")
            .arg(&letter)
            .env_remove("INVOICE_HUB_PATIENT_KEY")
            .output()
            .unwrap()
    };
    let o = extract();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(&letter).unwrap();
    let board = disclosed["policy"]["board_decision"].as_str().unwrap();
    for want in [
        ids[0].as_str(),
        ids[1].as_str(),
        "Uppgifter lämnades ut till Region Stockholm",
        "Uppgifter lämnades ut till Region Halland",
        "levererades till Region Halland",
        board,
        "SE2321000016-READER1",
        "SE2321000115-READER1",
        &format!("{}-{}", &pn[..8], &pn[8..]),
    ] {
        assert!(html.contains(want), "the letter lacks {want:?}:\n{html}");
    }
    assert_eq!(html.matches("<tr><td>").count(), 8, "{html}");
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&letter).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let o = extract();
    assert!(
        !o.status.success(),
        "an existing letter must not be overwritten"
    );

    // Another key: refused with a message, not "nothing about this patient".
    let other = work.join("other-keys");
    common::exchange::run_ok(bin().args(["audit", "keygen", "--out"]).arg(&other));
    let o = ask(&other.join("patient-hmac.key"));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("hashes patients with the patient key of id"),
        "{err}"
    );
}
