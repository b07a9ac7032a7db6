//! The whole exchange on real parts, for the end-to-end tests (`hub_exchange`, `hub_hostile`):
//! two region stores and the hub as the binaries a deployment runs, against a [`TestBroker`],
//! with Region Halland's shipped policy and a plain disclose-everything policy for Stockholm.
//! Outcomes are read with `invoice-hub status`, store contents with `invoice-hub fetch`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use invoice_hub::broker::StatusMessage;
use invoice_hub::claim::ClaimSpecification;

use super::{poll, TestBroker, ORG_HALLAND, ORG_STOCKHOLM};

pub(crate) fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_invoice-hub"))
}

pub(crate) fn run_ok(cmd: &mut Command) -> String {
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
pub(crate) fn personnummer(date: &str, serial: u32) -> String {
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

/// Makes `c` psychiatric care for a minor (medical field 901, no diagnosis or treatment, a
/// patient born 2015): Region Halland's policy withholds it (rule H3-psychiatry-minors).
pub(crate) fn make_psychiatry_minor(c: &mut ClaimSpecification) {
    let line = &mut c.health_care_services_specification_line[0];
    let p = &mut line.healthcare_performed[0];
    p.activity.medical_field_code = "901".into();
    p.diagnosis = None;
    p.treatment = None;
    line.patient_information.patient_identity.extension = personnummer("20150115", 238);
}

/// Every entry a disclosure log holds for basis `id`, in log order.
pub(crate) fn entries_of(
    log: &invoice_hub::audit::AuditLog,
    id: &str,
) -> Vec<invoice_hub::audit::Entry> {
    let q = invoice_hub::audit::Query {
        basis: Some(id.to_string()),
        ..Default::default()
    };
    log.query(&q).unwrap().entries
}

/// A valid basis from `supplier` to `customer`, from the outpatient sample.
pub(crate) fn basis(supplier: &str, customer: &str, counter: u32) -> ClaimSpecification {
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

pub(crate) fn write(dir: &Path, c: &ClaimSpecification) -> String {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(format!("{}.xml", c.id)), c.to_xml()).unwrap();
    c.id.clone()
}

pub(crate) struct Store {
    pub org: &'static str,
    pub url: String,
    pub config: PathBuf,
    child: Child,
}

impl Store {
    /// The store goes down (SIGKILL), as a region's store does in an outage.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The store comes back after [`Store::kill`], with its data, at the same address.
    pub(crate) fn restart(&mut self) {
        self.kill();
        let text = std::fs::read_to_string(&self.config).unwrap();
        let listen = self.url.trim_start_matches("https://");
        let text = text.replace(
            "listen = \"127.0.0.1:0\"",
            &format!("listen = \"{listen}\""),
        );
        std::fs::write(&self.config, text).unwrap();
        let (url, child) = spawn_store(&self.config, self.org);
        assert_eq!(url, self.url, "the store came back elsewhere");
        self.child = child;
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start_store(work: &Path, certs: &Path, org: &'static str) -> Store {
    let dir = work.join(format!("store-{org}"));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("store.toml");
    std::fs::write(
        &cfg,
        format!(
            "org = \"{org}\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\nkeys_dir = \"keys\"\n\
             patient_key = \"{w}/hub-keys/patient-hmac.key\"\n\
             [tls]\nca = \"{c}/ca.pem\"\ncert = \"{c}/store-{org}.pem\"\nkey = \"{c}/store-{org}.key\"\n\
             crl = \"{c}/crl.pem\"\n\
             [access]\nwriters = [\"hsa:SE0000000000-HUB\"]\nreaders = [\"hsa:SE{org}-READER1\"]\n\
             reviewers = [\"hsa:SE{org}-REVIEWER1\"]\nassessors = [\"hsa:SE{org}-REVIEWER1\"]\n\
             [witness]\nlogs = {{ \"hub-test\" = \"{w}/hub-keys/log-signing.pub\" }}\n",
            c = certs.display(),
            w = work.display()
        ),
    )
    .unwrap();
    run_ok(bin().args(["store", "--init", "--config"]).arg(&cfg));
    let (url, child) = spawn_store(&cfg, org);
    Store {
        org,
        url,
        config: cfg,
        child,
    }
}

/// Starts the store of `cfg` and reads where it listens from its first line.
fn spawn_store(cfg: &Path, org: &str) -> (String, Child) {
    let mut cmd = bin();
    cmd.args(["store", "--config"]).arg(cfg);
    let (child, url) = spawn_listening(cmd, &cfg.parent().unwrap().join("store.log"), org);
    (url, child)
}

/// Starts a server command (`store`, `gateway`, `witness`) with its stderr appended to `log`,
/// and reads where it listens from the first line of its stdout.
pub(crate) fn spawn_listening(mut cmd: Command, log: &Path, what: &str) -> (Child, String) {
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .unwrap_or_else(|| {
            panic!(
                "{what} did not say where it listens: {first:?}\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        })
        .to_string();
    (child, url)
}

pub(crate) struct Hub {
    pub config: PathBuf,
    pub log_file: PathBuf,
    child: Option<Child>,
}

impl Hub {
    pub(crate) fn start(&mut self) {
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

    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// Whether the process is still alive (it has not exited or crashed).
    pub(crate) fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().expect("query the hub process").is_none(),
            None => false,
        }
    }

    /// SIGTERM: the hub finishes what is in flight and exits 0 (within two minutes: a hub that
    /// does not stop is a failure, not a hung test).
    pub(crate) fn stop(&mut self) {
        let status = self.terminate_within(Duration::from_secs(120));
        assert!(
            status.is_some_and(|s| s.success()),
            "hub exit on SIGTERM: {status:?}\n{}",
            self.log()
        );
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// SIGTERM, then up to `limit` for the hub to exit: its exit status, or `None` (the hub is
    /// then killed) if it did not.
    pub(crate) fn terminate_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut c = self.child.take().expect("running");
        let ok = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let status = poll(limit, Duration::from_millis(100), || c.try_wait().unwrap());
        if status.is_none() {
            let _ = c.kill();
            let _ = c.wait();
        }
        status
    }

    /// Waits up to `limit` for `needle` in the hub's log after its first `since` bytes (the log
    /// is appended to across restarts).
    pub(crate) fn wait_for_log(&self, since: usize, needle: &str, limit: Duration) -> bool {
        poll(limit, Duration::from_millis(100), || {
            let log = self.log();
            log.get(since..)
                .is_some_and(|l| l.contains(needle))
                .then_some(())
        })
        .is_some()
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads the sender's status queue until every id in `want` has an outcome (or panics after a
/// generous deadline with the hub's log). Keeps the last outcome per id in `seen`; a QUEUED
/// (not an outcome) is read and passed over.
pub(crate) fn outcomes(
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
            if s.outcome.is_final() {
                seen.insert(s.basis_id.clone(), s);
            }
        }
        #[expect(
            clippy::disallowed_methods,
            reason = "the test's own thread waits; no async runtime runs on it"
        )]
        std::thread::sleep(Duration::from_millis(300));
    }
}

pub(crate) fn outcome(seen: &BTreeMap<String, StatusMessage>, id: &str) -> String {
    seen[id].outcome.to_string()
}

pub(crate) fn rules(seen: &BTreeMap<String, StatusMessage>, id: &str) -> Vec<String> {
    seen[id].findings.iter().map(|f| f.rule.clone()).collect()
}

/// `invoice-hub publish` of `what` (a file or a directory of bases) as the region of
/// `region_cfg`, which must succeed; its output.
pub(crate) fn publish(region_cfg: &Path, what: &Path) -> String {
    run_ok(
        bin()
            .args(["publish", "--config"])
            .arg(region_cfg)
            .arg(what),
    )
}

/// The notices waiting on `region_cfg`'s notify queue (drained), counted by basis id.
pub(crate) fn notices(region_cfg: &Path) -> BTreeMap<String, usize> {
    let out = run_ok(
        bin()
            .args(["notify", "--format", "json", "--config"])
            .arg(region_cfg),
    );
    let mut n = BTreeMap::new();
    for line in out.lines().filter(|l| l.starts_with('{')) {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        *n.entry(v["basis_id"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    n
}

/// The basis ids a store holds, as its own staff lists them.
pub(crate) fn stored_ids(store: &Store, certs: &Path) -> Vec<String> {
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

/// Stores for Stockholm and Halland, the policies, the hub (started), and a `region.toml` for
/// each of the two regions, all under `run/<broker>/<name>/`.
pub(crate) struct Exchange {
    pub work: PathBuf,
    pub certs: PathBuf,
    pub stockholm: Store,
    pub halland: Store,
    pub hub: Hub,
    /// The hub's disclosure log (sled directory).
    pub hub_log_dir: PathBuf,
    pub halland_cfg: PathBuf,
    pub stockholm_cfg: PathBuf,
}

impl Exchange {
    /// Starts everything. `extra_receivers` are further `[receivers]` entries of the hub
    /// (organisation number, store URL).
    pub(crate) fn start(
        broker: &TestBroker,
        name: &str,
        extra_receivers: &[(&str, &str)],
    ) -> Exchange {
        Exchange::start_with(broker, name, extra_receivers, "")
    }

    /// [`Exchange::start`] with `extra_toml` (whole tables, e.g. `[metrics]`) at the end of the
    /// hub's configuration; `STORE_URL_<org>` in it is that region's store.
    pub(crate) fn start_with(
        broker: &TestBroker,
        name: &str,
        extra_receivers: &[(&str, &str)],
        extra_toml: &str,
    ) -> Exchange {
        Exchange::start_rivta(broker, name, extra_receivers, extra_toml, &[])
    }

    /// [`Exchange::start_with`] where the hub delivers to the regions `rivta` through the
    /// `rivta` sink: a `ProcessClaimSpecification` call to their store's producer endpoint.
    pub(crate) fn start_rivta(
        broker: &TestBroker,
        name: &str,
        extra_receivers: &[(&str, &str)],
        extra_toml: &str,
        rivta: &[&str],
    ) -> Exchange {
        let certs = broker.certs.clone();
        let work = broker.repo.join("run").join(&broker.name).join(name);
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).unwrap();

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
        let store = |org: &str, url: &str| {
            let (sink, path) = if rivta.contains(&org) {
                ("rivta", "/ProcessClaimSpecification/1/rivtabp21")
            } else {
                ("store", "")
            };
            format!("\"{org}\" = {{ sink = \"{sink}\", url = \"{url}{path}\", identity = \"hsa:SE{org}-STORE\" }}\n")
        };
        let mut receivers =
            store(ORG_STOCKHOLM, &stockholm.url) + &store(ORG_HALLAND, &halland.url);
        for (org, url) in extra_receivers {
            receivers.push_str(&format!("\"{org}\" = \"{url}\"\n"));
        }
        // `STORE_URL_<org>` in the extra tables is that region's store (known only now).
        let extra_toml = extra_toml
            .replace(&format!("STORE_URL_{ORG_STOCKHOLM}"), &stockholm.url)
            .replace(&format!("STORE_URL_{ORG_HALLAND}"), &halland.url);
        let hub_cfg = work.join("hub.toml");
        std::fs::write(
            &hub_cfg,
            format!(
                "instance = \"hub-test\"\ngateways = [\"hsa:SE0000000000-GATEWAY\"]\n\
                 [broker]\nport = {port}\nca = \"{c}/ca.pem\"\ncert = \"{c}/hub.pem\"\nkey = \"{c}/hub.key\"\n\
                 [consume]\nprefetch = 16\nper_receiver = 8\n\
                 [policy]\npaths = [\"policies\"]\n\
                 [audit]\ndir = \"hub-log\"\nsigning_key = \"hub-keys/log-signing.key\"\npatient_key = \"hub-keys/patient-hmac.key\"\ncheckpoint_every = 64\n\
                 [delivery]\nca = \"{c}/ca.pem\"\ncert = \"{c}/hub.pem\"\nkey = \"{c}/hub.key\"\ncrl = \"{c}/crl.pem\"\ncrl_reload_secs = 1\n\
                 retry_initial_ms = 100\nretry_max_secs = 1\ngive_up_secs = 60\n\
                 [witness]\nevery_secs = 1\n\
                 [receivers]\n{receivers}{extra_toml}",
                port = broker.amqps_port,
                c = certs.display(),
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
        Exchange {
            hub_log_dir: work.join("hub-log"),
            work,
            certs,
            stockholm,
            halland,
            hub,
            halland_cfg,
            stockholm_cfg,
        }
    }
}

/// A running `invoice-hub gateway` of a test's exchange.
pub(crate) struct Gateway {
    /// The endpoint: `https://127.0.0.1:PORT/ProcessClaimSpecification/1/rivtabp21`.
    pub url: String,
    pub config: PathBuf,
    pub log_file: PathBuf,
    child: Child,
}

impl Gateway {
    /// Starts a gateway for the regions Stockholm and Halland (each calling with its region
    /// certificate), the platform certificate, the test CRL (looked at every second), and
    /// `extra` lines at the end of `[callers]`.
    pub(crate) fn start(broker: &TestBroker, work: &Path, extra: &str) -> Gateway {
        let dir = work.join("gateway");
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("gateway.toml");
        std::fs::write(
            &cfg,
            format!(
                "instance = \"gw-test\"\nlisten = \"127.0.0.1:0\"\n\
                 receivers = [\"{ORG_STOCKHOLM}\", \"{ORG_HALLAND}\"]\n\
                 [tls]\nca = \"{c}/ca.pem\"\ncert = \"{c}/gateway.pem\"\nkey = \"{c}/gateway.key\"\n\
                 crl = \"{c}/crl.pem\"\ncrl_reload_secs = 1\n\
                 [broker]\nport = {port}\nca = \"{c}/ca.pem\"\ncert = \"{c}/gateway.pem\"\nkey = \"{c}/gateway.key\"\n\
                 [limits]\nheader_timeout_secs = 2\nmax_connections_per_identity = 200\n\
                 [platform]\nidentities = [\"hsa:SE0000000000-PLATFORM\"]\n\
                 [callers]\n\"hsa:SE{ORG_STOCKHOLM}-REGION\" = \"{ORG_STOCKHOLM}\"\n\
                 \"hsa:SE{ORG_HALLAND}-REGION\" = \"{ORG_HALLAND}\"\n{extra}",
                c = broker.certs.display(),
                port = broker.amqps_port,
            ),
        )
        .unwrap();
        let log_file = dir.join("gateway.log");
        let mut cmd = bin();
        cmd.args(["gateway", "--config"]).arg(&cfg);
        let (child, url) = spawn_listening(cmd, &log_file, "the gateway");
        Gateway {
            url,
            config: cfg,
            log_file,
            child,
        }
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    /// `host:port` of the endpoint.
    pub(crate) fn addr(&self) -> String {
        let rest = self.url.trim_start_matches("https://");
        rest.split('/').next().unwrap().to_string()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
