//! `invoice-hub witness` running alone, as a party that keeps the hub's signed heads without a
//! store: the hub sends it heads (`[witness] extra`), it keeps the newest, it refuses heads from
//! a certificate that is no writer, and `audit verify --witness` checks the log against it.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::exchange::{basis, bin, outcomes, publish, spawn_listening, write, Exchange};
use common::{poll, TestBroker, ORG_HALLAND, ORG_STOCKHOLM};
use hyper::Method;
use invoice_hub::store::StoreClient;

#[test]
fn a_lone_witness_keeps_the_hubs_heads_and_verify_asks_it() {
    let broker = TestBroker::start("witness");
    let mut ex = Exchange::start(&broker, "alone", &[]);
    let c = ex.certs.clone();
    let dir = ex.work.join("witness");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("witness.toml");
    std::fs::write(
        &cfg,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"heads\"\nwriters = [\"hsa:SE0000000000-HUB\"]\n\
             [logs]\n\"hub-test\" = \"{w}/hub-keys/log-signing.pub\"\n\
             [tls]\nca = \"{c}/ca.pem\"\ncert = \"{c}/gateway.pem\"\nkey = \"{c}/gateway.key\"\n\
             crl = \"{c}/crl.pem\"\n",
            w = ex.work.display(),
            c = c.display()
        ),
    )
    .unwrap();
    let mut cmd = bin();
    cmd.args(["witness", "--config"]).arg(&cfg);
    let (mut witness, url) = spawn_listening(cmd, &dir.join("witness.log"), "the witness");

    // The hub, told about the witness.
    ex.hub.kill();
    let hub_toml = std::fs::read_to_string(&ex.hub.config).unwrap();
    let with = hub_toml.replace(
        "[witness]\nevery_secs = 1\n",
        &format!("[witness]\nevery_secs = 1\nextra = [\"{url}\"]\n"),
    );
    assert_ne!(with, hub_toml);
    std::fs::write(&ex.hub.config, with).unwrap();
    ex.hub.start();
    let batch = ex.work.join("batch");
    let ids: BTreeSet<String> = (1..=3)
        .map(|n| write(&batch, &basis(ORG_HALLAND, ORG_STOCKHOLM, n)))
        .collect();
    publish(&ex.halland_cfg, &batch);
    let mut seen = Default::default();
    outcomes(&ex.halland_cfg, &ids, &ex.hub, &mut seen);

    let rt = tokio::runtime::Runtime::new().unwrap();
    let client = |who: &str| {
        StoreClient::from_files(
            &url,
            &c.join("ca.pem"),
            &c.join(format!("{who}.pem")),
            &c.join(format!("{who}.key")),
        )
        .unwrap()
    };
    // Every delivery is three entries; the witness holds a head over all of them in time.
    let held = poll(Duration::from_secs(30), Duration::from_millis(500), || {
        let a = rt
            .block_on(client("auditor").request(Method::GET, "/v1/witness/hub-test", None))
            .unwrap();
        let size = a.json().and_then(|j| j["tree_size"].as_u64()).unwrap_or(0);
        (a.status.as_u16() == 200 && size >= 9).then_some(size)
    })
    .unwrap_or_else(|| panic!("the witness holds no head of the log:\n{}", ex.hub.log()));
    assert!(held >= 9);

    // Someone who is not a writer cannot send heads.
    let body = bytes::Bytes::from_static(b"{}");
    let a = rt
        .block_on(client("auditor").request(
            Method::POST,
            "/v1/witness/hub-test",
            Some((body, "application/json")),
        ))
        .unwrap();
    assert_eq!(a.status.as_u16(), 403, "{}", a.text());

    // The auditor's verify asks the lone witness, and the log extends what it holds.
    ex.hub.stop();
    let o = bin()
        .arg("audit")
        .arg("--log")
        .arg(&ex.hub_log_dir)
        .arg("verify")
        .arg("--key")
        .arg(ex.work.join("hub-keys/log-signing.pub"))
        .args(["--witness", &url, "--ca"])
        .arg(c.join("ca.pem"))
        .arg("--cert")
        .arg(c.join("auditor.pem"))
        .arg("--cert-key")
        .arg(c.join("auditor.key"))
        .output()
        .unwrap();
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{out}");
    assert!(out.contains(&url) || out.contains("witness"), "{out}");
    let _ = witness.kill();
    let _ = witness.wait();
}
