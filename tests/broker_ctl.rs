//! `broker/ctl` itself: a broker that cannot start makes its caller fail, loudly, with the
//! reason and the node's log — never a "ready" for a node that is not serving TLS.

mod common;

use std::net::TcpListener;
use std::process::Command;

fn ctl(args: &[&str]) -> (i32, String) {
    let o = Command::new(common::repo().join("broker/ctl"))
        .args(args)
        .output()
        .expect("run broker/ctl");
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

#[test]
fn a_taken_port_a_missing_certificate_and_a_broken_key_each_fail_loudly() {
    let work = common::repo().join("run").join("test-broker_ctl");
    std::fs::create_dir_all(&work).unwrap();
    let (certs, _) = common::certificates(&work);
    let name = format!("test-ctl-{}", std::process::id());
    let pid = std::process::id().to_string();

    // Someone else already listens on the AMQPS port: refused before booting anything.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dist = common::free_port().to_string();
    let certs_s = certs.to_str().unwrap();
    let (code, out) = ctl(&[
        "up",
        &name,
        "--certs",
        certs_s,
        "--amqps-port",
        &port,
        "--dist-port",
        &dist,
        "--owner-pid",
        &pid,
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("port {port}")) && out.contains("in use"),
        "{out}"
    );
    drop(taken);

    // A certificate directory without the broker's certificate.
    let empty = work.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let amqps = common::free_port().to_string();
    let (code, out) = ctl(&[
        "up",
        &name,
        "--certs",
        empty.to_str().unwrap(),
        "--amqps-port",
        &amqps,
        "--dist-port",
        &dist,
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("broker.pem") || out.contains("ca.pem"),
        "names the file: {out}"
    );

    // A broken server key: the node boots but cannot do TLS; `up` must say so and show the log.
    let broken = work.join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    for f in ["ca.pem", "broker.pem", "hub.pem"] {
        std::fs::copy(certs.join(f), broken.join(f)).unwrap();
    }
    std::fs::write(
        broken.join("broker.key"),
        "-----BEGIN PRIVATE KEY-----\nbroken\n",
    )
    .unwrap();
    let (code, out) = ctl(&[
        "up",
        &name,
        "--certs",
        broken.to_str().unwrap(),
        "--amqps-port",
        &amqps,
        "--dist-port",
        &dist,
        "--owner-pid",
        &pid,
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("TLS handshake fails"), "{out}");
    assert!(
        out.contains("last 20 lines of the log"),
        "shows the log: {out}"
    );
    let (code, _) = ctl(&["status", &name]);
    assert_ne!(code, 0, "the failed node was stopped");
    let _ = std::fs::remove_dir_all(common::repo().join("run").join(format!("broker-{name}")));
}
