//! The gateway point: `invoice-hub gateway` in front of a fresh deployment, called the way a
//! region's existing system calls it (`scripts/soap_send.py`: one basis per call, 10 calls at
//! once, each answered only once the hub has logged its decision and handed the basis over).
//! Bases per second, and the answer time each caller sees against the contract's 3 s.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::deploy::{bin, Deployment, Proc, Shared};
use crate::load::{Basis, Timing};

/// Concurrent callers: the contract's "a producer must handle 10 concurrent transactions".
pub(crate) const CALLERS: usize = 10;

/// Measures `bases` of one sender (the first's) through the gateway.
pub(crate) fn measure(work: &Path, shared: &Shared, bases: &[Basis]) -> Timing {
    let dir = work.join("point-gateway");
    let dep = Deployment::start(&dir, shared, crate::deploy::bin());
    let sender = bases[0].sender.clone();
    let mine: Vec<&Basis> = bases.iter().filter(|b| b.sender == sender).collect();
    let (mut gw, url) = start(&dir, shared);
    let answers = dir.join("answers.jsonl");
    let c = |f: &str| shared.certs.join(f).display().to_string();
    let started = Instant::now();
    let status = Command::new("python3")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/soap_send.py"))
        .args(["--url", &url, "--ca", &c("ca.pem")])
        .args(["--cert", &c(&format!("region-{sender}.pem"))])
        .args(["--key", &c(&format!("region-{sender}.key"))])
        .args(["--concurrency", &CALLERS.to_string(), "--out"])
        .arg(&answers)
        .args(mine.iter().map(|b| &b.path))
        .status()
        .expect("python3 runs scripts/soap_send.py");
    let secs = started.elapsed().as_secs_f64();
    assert!(
        status.success(),
        "a call got no answer:\n{}",
        gw.log_tail(30)
    );
    let t = timing(&answers, &mine, secs);
    gw.stop();
    // (Removes the point's directory, the answers with it.)
    dep.stop();
    t
}

fn start(dir: &Path, shared: &Shared) -> (Proc, String) {
    let c = |f: &str| shared.certs.join(f).display().to_string();
    let regions = &shared.regions;
    let cfg = dir.join("gateway.toml");
    std::fs::write(
        &cfg,
        format!(
            "instance = \"gw-bench\"\nlisten = \"127.0.0.1:0\"\nreceivers = [{}]\n\
             [tls]\nca = \"{ca}\"\ncert = \"{cert}\"\nkey = \"{key}\"\n\
             [broker]\nport = {port}\nca = \"{ca}\"\ncert = \"{cert}\"\nkey = \"{key}\"\n\
             [callers]\n{}",
            regions
                .iter()
                .map(|o| format!("\"{o}\""))
                .collect::<Vec<_>>()
                .join(", "),
            regions
                .iter()
                .map(|o| format!("\"hsa:SE{o}-REGION\" = \"{o}\"\n"))
                .collect::<String>(),
            ca = c("ca.pem"),
            cert = c("gateway.pem"),
            key = c("gateway.key"),
            port = shared.amqps_port,
        ),
    )
    .unwrap();
    let log = dir.join("gateway.log");
    let mut child = Command::new(bin())
        .args(["gateway", "--config"])
        .arg(&cfg)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("start invoice-hub gateway");
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .unwrap_or_else(|| panic!("the gateway did not start: {first:?}"))
        .to_string();
    let proc = Proc {
        what: "gateway".into(),
        child,
        log,
    };
    (proc, url)
}

/// The callers' view: every answer's time, and the answers by result code.
fn timing(answers: &Path, bases: &[&Basis], secs: f64) -> Timing {
    let mut ms = Vec::new();
    let mut outcomes = std::collections::BTreeMap::new();
    for line in std::fs::read_to_string(answers).unwrap().lines() {
        let a: serde_json::Value = serde_json::from_str(line).unwrap();
        ms.push(a["ms"].as_f64().unwrap_or(0.0));
        let code = a["resultCode"].as_str().unwrap_or("FAULT").to_string();
        *outcomes.entry(code).or_insert(0) += 1;
    }
    let megabytes = bases.iter().map(|b| b.bytes).sum::<u64>() as f64 / 1e6;
    Timing::of(ms, outcomes, secs, megabytes)
}
