//! The region's commands against a real broker: `invoice-hub publish` of a directory (with a file
//! that is not a basis), `status` and `notify` reading what the hub answered, and a region
//! configuration whose certificate belongs to another region (refused, exit 1).

mod common;

use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::{basis_xml, TestBroker, ORG_HALLAND, ORG_STOCKHOLM};
use invoice_hub::broker::messages::{Notice, Outcome, StatusMessage, StoreReceipt};
use invoice_hub::broker::{topology, Outgoing, Publisher, Session, Subscription};
use lapin::options::BasicAckOptions;

static BROKER: OnceLock<TestBroker> = OnceLock::new();

fn broker() -> &'static TestBroker {
    BROKER.get_or_init(|| TestBroker::start("broker_cli"))
}

fn ih(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_invoice-hub"))
        .args(args)
        .output()
        .expect("run invoice-hub");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

async fn hub_answer(hub: &Arc<Session>, msg: Outgoing) {
    Publisher::new(hub.clone())
        .publish(&msg)
        .await
        .expect("the hub publishes its answer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_a_directory_then_read_status_and_notices() {
    let b = broker();
    let work = tempfile::tempdir().unwrap();
    let bases = work.path().join("bases");
    std::fs::create_dir_all(bases.join("sub")).unwrap();
    let ids: Vec<String> = (1..=3)
        .map(|n| format!("ZVF232100001626110000{n:02}"))
        .collect();
    std::fs::write(bases.join("a.xml"), basis_xml(&ids[0])).unwrap();
    std::fs::write(bases.join("b.xml"), basis_xml(&ids[1])).unwrap();
    std::fs::write(bases.join("sub/c.xml"), basis_xml(&ids[2])).unwrap();
    std::fs::write(bases.join("broken.xml"), b"<claimSpecification><id>").unwrap();
    std::fs::write(bases.join("notes.txt"), b"not picked up").unwrap();
    let stockholm = b.region_config(work.path(), ORG_STOCKHOLM);
    let halland = b.region_config(work.path(), ORG_HALLAND);

    let (code, out, err) = ih(&[
        "publish",
        "--config",
        stockholm.to_str().unwrap(),
        bases.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "one file is not a basis: {out}{err}");
    assert!(out.contains("4 bases, 3 confirmed"), "{out}");
    assert!(out.contains("1 not confirmed"), "{out}");
    assert!(err.contains("broken.xml"), "names the file: {err}");

    // The hub takes the three and answers: two OK, one ERROR; notices go to the receiver.
    let hub = Arc::new(Session::new(b.endpoint("hub")));
    let mut submit = Subscription::new(hub.clone(), topology::SUBMIT_QUEUE, 10);
    let mut got = Vec::new();
    while got.len() < 3 {
        let d = tokio::time::timeout(Duration::from_secs(30), submit.next())
            .await
            .expect("three bases reach the hub")
            .unwrap();
        assert_eq!(
            d.properties.user_id().as_ref().unwrap().as_str(),
            b.user(ORG_STOCKHOLM)
        );
        got.push(d.properties.message_id().as_ref().unwrap().to_string());
        d.ack(BasicAckOptions::default()).await.unwrap();
    }
    got.sort();
    assert_eq!(got, ids);
    let receipt = |id: &str, seq| StoreReceipt {
        id: id.into(),
        sha256: "ab".repeat(32),
        received_at: "2026-11-22T14:00:00Z".into(),
        seq,
    };
    for (i, id) in ids.iter().enumerate() {
        let status = StatusMessage {
            basis_id: id.clone(),
            outcome: if i == 2 { Outcome::Error } else { Outcome::Ok },
            findings: if i == 2 {
                vec![invoice_hub::validate::Finding::new(
                    "ÖR5",
                    "/claimSpecification/payableAmount",
                    "payableAmount is not the sum of the lines",
                )]
            } else {
                vec![]
            },
            withheld: None,
            receiver: (i != 2).then(|| ORG_HALLAND.to_string()),
            receipt: (i != 2).then(|| receipt(id, i as u64 + 1)),
            waiting: None,
            at: invoice_hub::clock::now(),
        };
        hub_answer(&hub, status.to_outgoing(ORG_STOCKHOLM)).await;
        if i != 2 {
            let notice = Notice {
                basis_id: id.clone(),
                sender: ORG_STOCKHOLM.into(),
                receipt: receipt(id, i as u64 + 1),
                at: invoice_hub::clock::now(),
            };
            hub_answer(&hub, notice.to_outgoing(ORG_HALLAND)).await;
        }
    }

    // --keep shows them and leaves them; the next run takes them.
    let (code, out, _) = ih(&["status", "--config", stockholm.to_str().unwrap(), "--keep"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("3 outcomes for region 2321000016: 2 OK, 1 ERROR, 0 WITHHELD"),
        "{out}"
    );
    let (code, out, _) = ih(&["status", "--config", stockholm.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert!(out.contains(&format!("{}  ERROR", ids[2])), "{out}");
    assert!(
        out.contains("ÖR5 at /claimSpecification/payableAmount"),
        "{out}"
    );
    assert!(
        out.contains(&format!("{}  OK  delivered to {ORG_HALLAND}", ids[0])),
        "{out}"
    );
    let (_, out, _) = ih(&["status", "--config", stockholm.to_str().unwrap()]);
    assert!(out.contains("0 outcomes"), "taken off the queue: {out}");

    // The receiver sees two notices; the sender has none.
    let (code, out, _) = ih(&[
        "notify",
        "--config",
        halland.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    let notices: Vec<Notice> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(notices.len(), 2, "{out}");
    assert!(notices.iter().all(|n| n.sender == ORG_STOCKHOLM));
    let (_, out, _) = ih(&["notify", "--config", stockholm.to_str().unwrap()]);
    assert!(out.contains("0 notices"), "{out}");
}

#[test]
fn publishing_with_another_regions_certificate_is_refused() {
    let b = broker();
    let work = tempfile::tempdir().unwrap();
    // Stockholm's configuration, Halland's certificate: refused before anything is sent, with
    // the file and both regions named (the broker would refuse the user_id too).
    let cfg = b.region_config(work.path(), ORG_STOCKHOLM);
    let text = std::fs::read_to_string(&cfg).unwrap().replace(
        &format!("region-{ORG_STOCKHOLM}."),
        &format!("region-{ORG_HALLAND}."),
    );
    std::fs::write(&cfg, text).unwrap();
    let basis = work.path().join("x.xml");
    std::fs::write(&basis, basis_xml("ZVF23210000162611009999")).unwrap();
    let (code, out, err) = ih(&[
        "publish",
        "--config",
        cfg.to_str().unwrap(),
        basis.to_str().unwrap(),
    ]);
    assert_ne!(code, 0, "{out}{err}");
    assert!(
        err.contains(&format!("region-{ORG_HALLAND}.pem"))
            && err.contains(&format!(
                "is of region {ORG_HALLAND}, not of region {ORG_STOCKHOLM}"
            )),
        "says why: {err}"
    );
}

#[test]
fn a_missing_configuration_is_a_usage_error_naming_the_file() {
    let (code, _, err) = ih(&["publish", "--config", "/nonexistent/region.toml", "x.xml"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/region.toml"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_follow_prints_outcomes_as_they_arrive() {
    use std::io::BufRead;
    let b = broker();
    let work = tempfile::tempdir().unwrap();
    let halland = b.region_config(work.path(), ORG_HALLAND);
    let mut child = Command::new(env!("CARGO_BIN_EXE_invoice-hub"))
        .args(["status", "--follow", "--format", "json", "--config"])
        .arg(&halland)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start status --follow");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let hub = Arc::new(Session::new(b.endpoint("hub")));
    let status = StatusMessage {
        basis_id: "ZVF23210001152611000001".into(),
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
    hub_answer(&hub, status.to_outgoing(ORG_HALLAND)).await;
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("status --follow printed the outcome");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        serde_json::from_str::<StatusMessage>(&line).unwrap(),
        status
    );
}
