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

/// A process that owns a broker node, ended when dropped (a failed assertion must not leave it,
/// and the node it owns, running).
struct Owner(std::process::Child);

impl Owner {
    fn new() -> Owner {
        Owner(Command::new("sleep").arg("600").spawn().unwrap())
    }
    fn id(&self) -> u32 {
        self.0.id()
    }
    fn exit(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.exit();
    }
}

/// Waits until the watcher `broker/ctl` started for `owner` has finished (it stops the node when
/// its owner exits, if the node is still that owner's).
fn watcher_done(owner: u32) {
    let pattern = format!("while kill -0 {owner} ");
    for _ in 0..120 {
        let o = Command::new("pgrep")
            .args(["-f", &pattern])
            .output()
            .unwrap();
        if !o.status.success() {
            return;
        }
        #[expect(
            clippy::disallowed_methods,
            reason = "the test's own thread waits; no async runtime runs on it"
        )]
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    panic!("the watcher of owner {owner} is still running after 60 s");
}

#[test]
fn an_earlier_owner_that_exits_does_not_stop_the_node_a_later_owner_started() {
    // Benchmarks run back to back start the same node name: when the first one's process ends,
    // its watcher must not stop the node the second one is using (it did: `make bench` twice).
    // A directory of its own: the other test makes its certificates at the same time.
    let work = common::repo().join("run").join("test-broker_ctl-owner");
    std::fs::create_dir_all(&work).unwrap();
    let (certs, _) = common::certificates(&work);
    let name = format!("test-ctl-owner-{}", std::process::id());
    let up = |owner: u32| {
        let (code, out) = ctl(&[
            "up",
            &name,
            "--certs",
            certs.to_str().unwrap(),
            "--amqps-port",
            &common::free_port().to_string(),
            "--dist-port",
            &common::free_port().to_string(),
            "--owner-pid",
            &owner.to_string(),
        ]);
        assert_eq!(code, 0, "{out}");
    };
    let mut first = Owner::new();
    let mut second = Owner::new();
    up(first.id());
    up(second.id());

    first.exit();
    watcher_done(first.id());
    let (code, out) = ctl(&["status", &name]);
    assert_eq!(code, 0, "the second owner's node was stopped: {out}");

    second.exit();
    watcher_done(second.id());
    let (code, out) = ctl(&["status", &name]);
    assert_ne!(code, 0, "the node outlived its owner: {out}");
    let _ = std::fs::remove_dir_all(common::repo().join("run").join(format!("broker-{name}")));
}
