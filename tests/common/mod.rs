//! Shared test harness: a real RabbitMQ node per test binary, with real certificates.
//!
//! `TestBroker::start("name", ...)` makes development certificates with `invoice-hub pki dev`
//! (or uses `IH_TEST_CERTS` if set), starts `broker/ctl` on free loopback ports, waits until it
//! serves AMQPS and panics with the broker log's last lines if it cannot: a test that needs a
//! broker fails without one, it never skips. The node is stopped when the test process exits
//! (`broker/ctl --owner-pid`), because a `static` is never dropped.
//!
//! Use it from a test file with `mod common;` and one `static BROKER: OnceLock<TestBroker>`.
#![allow(dead_code)]

pub(crate) mod exchange;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use invoice_hub::broker::error::amqp_reply;
use invoice_hub::broker::{BrokerError, Endpoint};

/// Organisation numbers of the regions the harness makes certificates for (county codes 01, 13,
/// 14). The first two are broker users; the third has a valid certificate from the federation CA
/// but no broker user: the "unknown certificate user".
pub(crate) const ORG_STOCKHOLM: &str = "2321000016";
pub(crate) const ORG_HALLAND: &str = "2321000115";
pub(crate) const ORG_VGR_NOT_A_USER: &str = "2321000131";
pub(crate) const PKI_REGIONS: &str = "01,13,14";

pub(crate) struct TestBroker {
    pub name: String,
    pub amqps_port: u16,
    pub dist_port: u16,
    /// Certificates of the federation the broker trusts.
    pub certs: PathBuf,
    /// A second, unrelated PKI: same file names, another CA.
    pub other_certs: PathBuf,
    pub repo: PathBuf,
}

/// Asks `look` every `every` until it answers or `limit` has passed: its answer, or `None`.
pub(crate) fn poll<T>(
    limit: Duration,
    every: Duration,
    mut look: impl FnMut() -> Option<T>,
) -> Option<T> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        if let Some(found) = look() {
            return Some(found);
        }
        if std::time::Instant::now() >= deadline {
            return None;
        }
        #[expect(
            clippy::disallowed_methods,
            reason = "the test's own thread waits; no async runtime runs on it"
        )]
        std::thread::sleep(every);
    }
}

/// Runs the `invoice-hub` binary: exit code (`None` for a signal), standard output and error.
pub(crate) fn ih(args: &[&str]) -> (Option<i32>, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_invoice-hub"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code(),
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8(o.stderr).unwrap(),
    )
}

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn make_pki(out: &Path, regions: &str) {
    if out.join("ca.pem").exists() {
        return;
    }
    let bin = env!("CARGO_BIN_EXE_invoice-hub");
    let o = Command::new(bin)
        .args(["pki", "dev", "--out"])
        .arg(out)
        .args(["--regions", regions])
        .output()
        .expect("run invoice-hub pki dev");
    assert!(
        o.status.success(),
        "the broker tests need certificates from `invoice-hub pki dev` (or IH_TEST_CERTS=DIR \
         holding a/ and b/, two certificate sets of two CAs), and it failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The two certificate sets of a test (`work/pki`, `work/pki-other`), made fresh, or taken from
/// `IH_TEST_CERTS` (`a/` and `b/`).
pub(crate) fn certificates(work: &Path) -> (PathBuf, PathBuf) {
    certificates_for(work, PKI_REGIONS)
}

/// [`certificates`] for other regions (county codes, `pki dev --regions`).
pub(crate) fn certificates_for(work: &Path, regions: &str) -> (PathBuf, PathBuf) {
    match std::env::var_os("IH_TEST_CERTS") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            (dir.join("a"), dir.join("b"))
        }
        None => {
            let certs = work.join("pki");
            let other = work.join("pki-other");
            let _ = std::fs::remove_dir_all(&certs);
            let _ = std::fs::remove_dir_all(&other);
            make_pki(&certs, regions);
            make_pki(&other, regions);
            (certs, other)
        }
    }
}

impl TestBroker {
    /// Starts a fresh node `ih-test-NAME@localhost` with the regions Stockholm and Halland as
    /// users. Panics (with the log) if it cannot start.
    pub(crate) fn start(name: &str) -> TestBroker {
        Self::start_with(name, PKI_REGIONS, &[ORG_STOCKHOLM, ORG_HALLAND])
    }

    /// [`TestBroker::start`] with certificates for `pki_regions` (county codes) and `users` (the
    /// organisation numbers that get a broker user), as a benchmark with more regions needs.
    pub(crate) fn start_with(name: &str, pki_regions: &str, users: &[&str]) -> TestBroker {
        Self::start_pulling(name, pki_regions, users, &[])
    }

    /// [`TestBroker::start_with`] where the regions `pull` read their own delivery queue
    /// (`broker/ctl --pull-regions`).
    pub(crate) fn start_pulling(
        name: &str,
        pki_regions: &str,
        users: &[&str],
        pull: &[&str],
    ) -> TestBroker {
        let repo = repo();
        // Node names are machine-wide (epmd): worktrees of the same repo must not collide.
        let tree = repo
            .to_string_lossy()
            .bytes()
            .fold(0xcbf29ce484222325u64, |h, b| {
                (h ^ b as u64).wrapping_mul(0x100000001b3)
            });
        let name = format!("test-{name}-{:06x}", tree & 0xffffff);
        let work = repo.join("run").join(&name);
        std::fs::create_dir_all(&work).expect("create run dir");
        let (certs, other_certs) = certificates_for(&work, pki_regions);
        let amqps_port = free_port();
        let mut dist_port = free_port();
        while dist_port == amqps_port {
            dist_port = free_port();
        }
        let broker = TestBroker {
            name,
            amqps_port,
            dist_port,
            certs,
            other_certs,
            repo,
        };
        let o = broker
            .ctl()
            .arg("up")
            .arg(&broker.name)
            .arg("--certs")
            .arg(&broker.certs)
            .args(["--amqps-port", &amqps_port.to_string()])
            .args(["--dist-port", &dist_port.to_string()])
            .args(["--regions", &users.join(",")])
            .args(["--pull-regions", &pull.join(",")])
            .args(["--delivery-limit", "3"])
            .args(["--owner-pid", &std::process::id().to_string()])
            .output()
            .expect("run broker/ctl");
        assert!(
            o.status.success(),
            "the test broker {} could not start:\n{}{}",
            broker.name,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        broker
    }

    fn ctl(&self) -> Command {
        Command::new(self.repo.join("broker/ctl"))
    }

    /// Stops the node and boots it again with the same data; panics if it does not come back.
    pub(crate) fn restart(&self) {
        let o = self
            .ctl()
            .args(["restart", &self.name])
            .output()
            .expect("run broker/ctl restart");
        assert!(
            o.status.success(),
            "the test broker {} did not come back:\n{}",
            self.name,
            String::from_utf8_lossy(&o.stderr)
        );
    }

    /// Stops the node (it stays stopped until `restart`).
    pub(crate) fn stop(&self) {
        let _ = self.ctl().args(["stop", &self.name]).output();
    }

    /// `rabbitmqctl` against this node; returns stdout.
    pub(crate) fn rabbitmqctl(&self, args: &[&str]) -> String {
        let o = self
            .ctl()
            .args(["ctl", &self.name])
            .args(args)
            .output()
            .expect("run rabbitmqctl");
        assert!(
            o.status.success(),
            "rabbitmqctl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Imports the definitions the node booted with again (`broker/ctl` wrote them): what a
    /// test deleted (a queue, its bindings) is back, what is there is left as it is.
    pub(crate) fn import_definitions_again(&self) {
        let file = self
            .repo
            .join("run")
            .join(format!("broker-{}", self.name))
            .join("definitions.json");
        self.rabbitmqctl(&["import_definitions", file.to_str().expect("a UTF-8 path")]);
    }

    /// The broker's own log (the TLS layer reports why it refused a handshake there).
    pub(crate) fn log(&self) -> String {
        let dir = self
            .repo
            .join("run")
            .join(format!("broker-{}", self.name))
            .join("log");
        let mut all = String::new();
        for entry in std::fs::read_dir(&dir).expect("broker log dir").flatten() {
            all.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
        }
        all
    }

    /// Waits (up to 10 s) until the broker's log has a line containing `needle`.
    pub(crate) fn wait_for_log(&self, needle: &str) -> bool {
        poll(Duration::from_secs(10), Duration::from_millis(200), || {
            self.log().contains(needle).then_some(())
        })
        .is_some()
    }

    /// Waits (up to 20 s) until the broker counts `n` messages in `queue`; the counts are
    /// statistics the broker refreshes every few seconds, so one look is not enough.
    pub(crate) fn queue_settles_at(&self, queue: &str, n: u64) -> bool {
        poll(Duration::from_secs(20), Duration::from_millis(500), || {
            (self.queue_depth(queue) == n).then_some(())
        })
        .is_some()
    }

    /// Messages in a queue, as the broker's (periodically refreshed) statistics count them.
    pub(crate) fn queue_depth(&self, queue: &str) -> u64 {
        let out = self.rabbitmqctl(&["list_queues", "-p", "invoice-hub", "name", "messages"]);
        out.lines()
            .filter_map(|l| l.split_once('\t'))
            .find(|(n, _)| *n == queue)
            .and_then(|(_, m)| m.trim().parse().ok())
            .unwrap_or_else(|| panic!("queue {queue} not found in {out}"))
    }

    /// The broker user of a party (`"hub"` or a region): its certificate's distinguished name.
    pub(crate) fn user(&self, who: &str) -> String {
        self.endpoint(who)
            .user()
            .expect("the party's certificate names a user")
    }

    /// The endpoint for a party of the federation: `"hub"` or a region's organisation number.
    pub(crate) fn endpoint(&self, who: &str) -> Endpoint {
        self.endpoint_in(&self.certs, who)
    }

    /// The same party's file names, from the other PKI (another CA).
    pub(crate) fn endpoint_other_ca(&self, who: &str) -> Endpoint {
        let mut e = self.endpoint_in(&self.other_certs, who);
        e.ca = self.certs.join("ca.pem");
        e
    }

    /// The endpoint with the federation's certificate `<stem>.pem` (`auditor`, `staff-…`): a
    /// party the federation's CA vouches for that is no broker user.
    pub(crate) fn endpoint_with_certificate(&self, stem: &str) -> Endpoint {
        Endpoint::local(
            self.amqps_port,
            &self.certs.join("ca.pem"),
            &self.certs.join(format!("{stem}.pem")),
            &self.certs.join(format!("{stem}.key")),
        )
    }

    fn endpoint_in(&self, dir: &Path, who: &str) -> Endpoint {
        let stem = if who == "hub" {
            "hub".to_string()
        } else {
            format!("region-{who}")
        };
        Endpoint::local(
            self.amqps_port,
            &self.certs.join("ca.pem"),
            &dir.join(format!("{stem}.pem")),
            &dir.join(format!("{stem}.key")),
        )
    }

    /// A `region.toml` for a region of this broker, written into `dir`.
    pub(crate) fn region_config(&self, dir: &Path, org: &str) -> PathBuf {
        let e = self.endpoint(org);
        let path = dir.join(format!("region-{org}.toml"));
        std::fs::write(
            &path,
            format!(
                "org = \"{org}\"\n[broker]\nport = {}\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n\
                 [publish]\nin_flight = 16\nmax_attempts = 4\nconfirm_timeout_secs = 10\nconnect_give_up_secs = 20\n",
                self.amqps_port,
                e.ca.display(),
                e.cert.display(),
                e.key.display()
            ),
        )
        .expect("write region.toml");
        path
    }
}

/// A minimal document with the basis id the adapter reads (the hub validates the rest).
pub(crate) fn basis_xml(id: &str) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<ns0:ProcessClaimSpecification xmlns:ns0="urn:riv:financial:billing:claim:ProcessClaimSpecificationResponder:1" xmlns:ns1="urn:riv:financial:billing:claim:1">
  <ns0:claimSpecification><ns1:id>{id}</ns1:id><ns1:issueDate>20261122</ns1:issueDate></ns0:claimSpecification>
</ns0:ProcessClaimSpecification>
"#
    )
    .into_bytes()
}

/// The broker's reply code and text behind a refusal (`ACCESS_REFUSED - ...`), or the error.
pub(crate) fn reply_of(e: &BrokerError) -> String {
    match e {
        BrokerError::Connect { source, .. }
        | BrokerError::Amqp(source)
        | BrokerError::Refused(source) => amqp_reply(source).unwrap_or_else(|| source.to_string()),
        other => other.to_string(),
    }
}
