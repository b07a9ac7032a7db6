//! The exchange end to end on real parts: a RabbitMQ node with TLS and EXTERNAL login
//! (`broker/ctl`), certificates from `invoice-hub pki dev`, two region stores and the hub as the
//! binaries a deployment runs, bases published with `invoice-hub publish` and outcomes read with
//! `invoice-hub status`. One test function, in phases, because the phases share one broker and
//! one hub and must not run at the same time.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestBroker, ORG_HALLAND, ORG_STOCKHOLM, ORG_VGR_NOT_A_USER};
use invoice_hub::audit::{AuditLog, Event, Query, VerifyOptions};
use invoice_hub::broker::StatusMessage;
use invoice_hub::claim::ClaimSpecification;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_invoice-hub"))
}

fn run_ok(cmd: &mut Command) -> String {
    let o = cmd.output().expect("runs");
    assert!(
        o.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A valid personnummer (Luhn over the last ten digits) for a birth date and serial.
fn personnummer(date: &str, serial: u32) -> String {
    let body = format!("{}{:03}", &date[2..], serial % 1000);
    let sum: u32 = body
        .bytes()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0') * if i % 2 == 0 { 2 } else { 1 };
            d / 10 + d % 10
        })
        .sum();
    format!("{}{body}{}", &date[..2], (10 - sum % 10) % 10)
}

/// A valid basis from `supplier` to `customer`, from the outpatient sample.
fn basis(supplier: &str, customer: &str, counter: u32) -> ClaimSpecification {
    let path = format!(
        "{}/tests/data/outpatient_patient_specific.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut c = ClaimSpecification::from_xml(&std::fs::read(path).unwrap()).unwrap();
    c.supplier_party.identification[0].extension = supplier.into();
    c.customer_party.identification[0].extension = customer.into();
    c.id = format!("ZVF{supplier}2611{counter:06}");
    c.health_care_services_specification_line[0]
        .patient_information
        .patient_identity
        .extension = personnummer("19780312", 200 + counter);
    c
}

fn write(dir: &Path, c: &ClaimSpecification) -> String {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(format!("{}.xml", c.id)), c.to_xml()).unwrap();
    c.id.clone()
}

struct Store {
    org: &'static str,
    url: String,
    child: Child,
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_store(work: &Path, certs: &Path, org: &'static str) -> Store {
    let dir = work.join(format!("store-{org}"));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("store.toml");
    std::fs::write(
        &cfg,
        format!(
            "org = \"{org}\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\nkeys_dir = \"keys\"\n\
             [tls]\nca = \"{c}/ca.pem\"\ncert = \"{c}/store-{org}.pem\"\nkey = \"{c}/store-{org}.key\"\n\
             [access]\nwriters = [\"invoice-hub\"]\nreaders = [\"staff-{org}-reader\"]\nreviewers = [\"reviewer-{org}\"]\n",
            c = certs.display()
        ),
    )
    .unwrap();
    run_ok(bin().args(["store", "--init", "--config"]).arg(&cfg));
    let log = std::fs::File::create(dir.join("store.log")).unwrap();
    let mut child = bin()
        .args(["store", "--config"])
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start the store");
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .unwrap_or_else(|| panic!("store of {org} did not say where it listens: {first:?}"))
        .to_string();
    Store { org, url, child }
}

struct Hub {
    config: PathBuf,
    log_file: PathBuf,
    child: Option<Child>,
}

impl Hub {
    fn start(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_file)
            .unwrap();
        self.child = Some(
            bin()
                .args(["hub", "--config"])
                .arg(&self.config)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start the hub"),
        );
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM: the hub finishes what is in flight and exits 0.
    fn stop(&mut self) {
        let mut c = self.child.take().expect("running");
        let ok = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let status = c.wait().unwrap();
        assert!(
            status.success(),
            "hub exit on SIGTERM: {status}\n{}",
            self.log()
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads the sender's status queue until every id in `want` has an outcome (or panics after a
/// generous deadline with the hub's log). Returns the last outcome per id.
fn outcomes(
    region_cfg: &Path,
    want: &BTreeSet<String>,
    hub: &Hub,
    seen: &mut BTreeMap<String, StatusMessage>,
) {
    let deadline = Instant::now() + Duration::from_secs(180);
    while !want.iter().all(|id| seen.contains_key(id)) {
        assert!(
            Instant::now() < deadline,
            "no outcome for {:?}\nhub log:\n{}",
            want.iter()
                .filter(|id| !seen.contains_key(*id))
                .collect::<Vec<_>>(),
            hub.log()
        );
        let out = run_ok(
            bin()
                .args(["status", "--format", "json", "--config"])
                .arg(region_cfg),
        );
        for line in out.lines().filter(|l| l.starts_with('{')) {
            let s: StatusMessage = serde_json::from_str(line).unwrap();
            seen.insert(s.basis_id.clone(), s);
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn outcome(seen: &BTreeMap<String, StatusMessage>, id: &str) -> String {
    seen[id].outcome.to_string()
}

fn rules(seen: &BTreeMap<String, StatusMessage>, id: &str) -> Vec<String> {
    seen[id].findings.iter().map(|f| f.rule.clone()).collect()
}

fn stored_ids(store: &Store, certs: &Path) -> Vec<String> {
    let out = run_ok(
        bin()
            .args(["fetch", "--store", &store.url, "--ca"])
            .arg(certs.join("ca.pem"))
            .arg("--cert")
            .arg(certs.join(format!("staff-{}.pem", store.org)))
            .arg("--key")
            .arg(certs.join(format!("staff-{}.key", store.org)))
            .args(["list", "--json", "--limit", "1000"]),
    );
    let page: serde_json::Value = serde_json::from_str(&out).expect("the store's JSON");
    let mut ids: Vec<String> = page["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|v| v["id"].as_str().map(str::to_string))
        .collect();
    ids.sort();
    ids
}

#[test]
fn the_exchange_end_to_end() {
    let broker = TestBroker::start("hub");
    let certs = broker.certs.clone();
    let work = certs.parent().unwrap().join("exchange");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();

    // Keys, stores, policies, the hub.
    let keys = work.join("hub-keys");
    run_ok(bin().args(["audit", "keygen", "--out"]).arg(&keys));
    let stockholm = start_store(&work, &certs, ORG_STOCKHOLM);
    let halland = start_store(&work, &certs, ORG_HALLAND);
    let policies = work.join("policies");
    std::fs::create_dir_all(&policies).unwrap();
    for f in ["region-halland.toml", "protected-identities.txt"] {
        std::fs::copy(
            broker.repo.join("deploy/policies").join(f),
            policies.join(f),
        )
        .unwrap();
    }
    std::fs::write(
        policies.join("region-stockholm.toml"),
        format!(
            "id = \"sthlm\"\nversion = \"1\"\nregion = \"{ORG_STOCKHOLM}\"\n\
             [board_decision]\nreference = \"RS 2026/5\"\ndate = \"2026-01-05\"\n\
             [validity]\nfrom = \"2026-01-01\"\n\
             [[rule]]\nid = \"S1\"\ndescription = \"default\"\naction = \"disclose\"\n"
        ),
    )
    .unwrap();
    let hub_log_dir = work.join("hub-log");
    let hub_cfg = work.join("hub.toml");
    std::fs::write(
        &hub_cfg,
        format!(
            "instance = \"hub-test\"\n\
             [broker]\nport = {port}\nca = \"{c}/ca.pem\"\ncert = \"{c}/hub.pem\"\nkey = \"{c}/hub.key\"\n\
             [consume]\nprefetch = 16\nper_receiver = 8\n\
             [policy]\npaths = [\"policies\"]\n\
             [audit]\ndir = \"hub-log\"\nsigning_key = \"hub-keys/log-signing.key\"\npatient_key = \"hub-keys/patient-hmac.key\"\ncheckpoint_every = 64\n\
             [delivery]\nca = \"{c}/ca.pem\"\ncert = \"{c}/hub.pem\"\nkey = \"{c}/hub.key\"\nretry_initial_ms = 100\nretry_max_secs = 1\ngive_up_secs = 60\n\
             [receivers]\n\"{ORG_STOCKHOLM}\" = \"{s}\"\n\"{ORG_HALLAND}\" = \"{h}\"\n",
            port = broker.amqps_port,
            c = certs.display(),
            s = stockholm.url,
            h = halland.url,
        ),
    )
    .unwrap();
    let mut hub = Hub {
        config: hub_cfg,
        log_file: work.join("hub.log"),
        child: None,
    };
    hub.start();
    let halland_cfg = broker.region_config(&work, ORG_HALLAND);
    let stockholm_cfg = broker.region_config(&work, ORG_STOCKHOLM);

    // Phase 1: one basis of every kind.
    let batch = work.join("batch1");
    let ok = write(&batch, &basis(ORG_HALLAND, ORG_STOCKHOLM, 1));
    let mut c = basis(ORG_HALLAND, ORG_STOCKHOLM, 2);
    {
        let p = &mut c.health_care_services_specification_line[0].healthcare_performed[0];
        p.activity.medical_field_code = "911".into();
        p.diagnosis = None;
        p.treatment = None;
    }
    c.health_care_services_specification_line[0]
        .patient_information
        .patient_identity
        .extension = personnummer("20150115", 238);
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
    run_ok(
        bin()
            .args(["publish", "--config"])
            .arg(&halland_cfg)
            .arg(&batch),
    );
    let back = work.join("batch-back");
    let to_halland = write(&back, &basis(ORG_STOCKHOLM, ORG_HALLAND, 1));
    run_ok(
        bin()
            .args(["publish", "--config"])
            .arg(&stockholm_cfg)
            .arg(&back),
    );

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
    run_ok(
        bin()
            .args(["publish", "--config"])
            .arg(&halland_cfg)
            .arg(&again),
    );
    seen.remove(&ok);
    outcomes(&halland_cfg, &BTreeSet::from([ok.clone()]), &hub, &mut seen);
    assert_eq!(outcome(&seen, &ok), "ERROR");
    assert!(
        rules(&seen, &ok).contains(&"ID-REUSED".to_string()),
        "{:?}",
        rules(&seen, &ok)
    );
    run_ok(
        bin()
            .args(["publish", "--config"])
            .arg(&halland_cfg)
            .arg(batch.join(format!("{ok}.xml"))),
    );
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
        std::thread::sleep(Duration::from_millis(10));
    }
    hub.kill();
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
}
