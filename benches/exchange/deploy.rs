//! One deployment of the exchange for one measurement: a store per region and the hub, as the
//! real release binary (`invoice-hub store`, `invoice-hub hub`), each in a fresh directory, so
//! every point starts from empty databases and its peak memory (VmHWM) is its own.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary measured (hub and stores): this build's, or `IH_BIN` (to measure another build in
/// the same sitting, e.g. before and after a change).
pub(crate) fn bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| {
        std::env::var("IH_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_invoice-hub").to_owned())
    })
}

/// Runs `invoice-hub ARGS`, panicking with its stderr if it fails: the bench cannot go on.
pub(crate) fn run_ok(args: &[&str]) -> String {
    run_ok_of(bin(), args)
}

/// [`run_ok`] with the build `bin`.
fn run_ok_of(bin: &str, args: &[&str]) -> String {
    let o = Command::new(bin)
        .args(args)
        .output()
        .expect("run invoice-hub");
    assert!(
        o.status.success(),
        "invoice-hub {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A process the bench started; killed when dropped.
pub(crate) struct Proc {
    pub what: String,
    pub child: Child,
    pub log: PathBuf,
}

/// Resource use of one process, read from `/proc` before it stops.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub(crate) struct Usage {
    /// Peak resident set (`VmHWM`), MiB.
    pub peak_rss_mib: f64,
    /// User + system CPU seconds.
    pub cpu_secs: f64,
}

impl Proc {
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn usage(&self) -> Usage {
        usage_of(self.pid())
    }

    pub(crate) fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// SIGTERM, then wait (a store flushes, the hub finishes what is in flight and signs a head).
    pub(crate) fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            #[expect(
                clippy::disallowed_methods,
                reason = "the driver's own thread waits; no async runtime runs on it"
            )]
            std::thread::sleep(Duration::from_millis(50));
        }
        eprintln!("bench: {} did not stop in 60 s; killing it", self.what);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `VmHWM` and CPU time of a process from `/proc/PID/status` and `/proc/PID/stat`.
pub(crate) fn usage_of(pid: u32) -> Usage {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let hwm_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    Usage {
        peak_rss_mib: hwm_kib / 1024.0,
        cpu_secs: cpu_secs_of(pid),
    }
}

/// utime + stime (+ waited-for children) of a process, seconds (clock ticks are 1/100 s on Linux).
pub(crate) fn cpu_secs_of(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces; the fields after its closing parenthesis are fixed.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 0, utime field 11, stime 12, cutime 13, cstime 14.
    let ticks: f64 = (11..=14)
        .filter_map(|i| f.get(i)?.parse::<f64>().ok())
        .sum();
    ticks / 100.0
}

/// What every deployment shares: certificates, the disclosure log's keys, the policies.
pub(crate) struct Shared {
    pub certs: PathBuf,
    pub keys: PathBuf,
    pub policies: PathBuf,
    pub amqps_port: u16,
    pub regions: Vec<String>,
}

impl Shared {
    /// Keys (`audit keygen`) and a policy per sending region: Halland's example policy with the
    /// region swapped, as `make run` does, plus the protected identities of every generated set.
    pub(crate) fn prepare(
        work: &Path,
        certs: &Path,
        amqps_port: u16,
        regions: &[&str],
        protected: &[PathBuf],
    ) -> Shared {
        let keys = work.join("keys");
        let policies = work.join("policies");
        let _ = std::fs::remove_dir_all(&keys);
        let _ = std::fs::remove_dir_all(&policies);
        run_ok(&["audit", "keygen", "--out", &keys.to_string_lossy()]);
        std::fs::create_dir_all(&policies).unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        let halland =
            std::fs::read_to_string(repo.join("deploy/policies/region-halland.toml")).unwrap();
        let mut ids =
            std::fs::read_to_string(repo.join("deploy/policies/protected-identities.txt"))
                .unwrap_or_default();
        for p in protected {
            ids.push_str(&std::fs::read_to_string(p).unwrap_or_default());
        }
        std::fs::write(policies.join("protected-identities.txt"), ids).unwrap();
        for org in regions {
            let text = halland
                .replace("region = \"2321000115\"", &format!("region = \"{org}\""))
                .replace(
                    "id = \"halland-utomlansfakturering\"",
                    &format!("id = \"bench-{org}\""),
                );
            std::fs::write(policies.join(format!("region-{org}.toml")), text).unwrap();
        }
        Shared {
            certs: certs.to_path_buf(),
            keys,
            policies,
            amqps_port,
            regions: regions.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// The stores and the hub of one measurement.
pub(crate) struct Deployment {
    pub dir: PathBuf,
    pub stores: Vec<Proc>,
    pub hub: Proc,
}

impl Deployment {
    /// Fresh stores and a fresh hub in `dir` (emptied first); returns once the hub consumes.
    /// `bin` is the build measured: [`bin`], or the one `BENCH_COMPARE_BIN` names.
    pub(crate) fn start(dir: &Path, shared: &Shared, bin: &str) -> Deployment {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir).unwrap();
        let mut stores = Vec::new();
        let mut receivers = String::new();
        for org in &shared.regions {
            let (p, url) = start_store(bin, &dir.join(format!("store-{org}")), &shared.certs, org);
            stores.push(p);
            receivers.push_str(&format!("\"{org}\" = \"{url}\"\n"));
        }
        let c = |f: &str| shared.certs.join(f).display().to_string();
        let hub_toml = dir.join("hub.toml");
        std::fs::write(
            &hub_toml,
            format!(
                "instance = \"hub-bench\"\ngateways = [\"hsa:SE0000000000-GATEWAY\"]\n\
                 [broker]\nport = {}\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n\
                 [consume]\nprefetch = 64\nper_receiver = 24\n\
                 [policy]\npaths = [\"{}\"]\n\
                 [audit]\ndir = \"hub-log\"\nsigning_key = \"{}\"\npatient_key = \"{}\"\n\
                 [delivery]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n\
                 [receivers]\n{receivers}",
                shared.amqps_port,
                c("ca.pem"),
                c("hub.pem"),
                c("hub.key"),
                shared.policies.display(),
                shared.keys.join("log-signing.key").display(),
                shared.keys.join("patient-hmac.key").display(),
                c("ca.pem"),
                c("hub.pem"),
                c("hub.key"),
            ),
        )
        .unwrap();
        let log = dir.join("hub.log");
        let child = Command::new(bin)
            .args(["hub", "--config"])
            .arg(&hub_toml)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start invoice-hub hub");
        let mut hub = Proc {
            what: "hub".into(),
            child,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if std::fs::read_to_string(&hub.log)
                .unwrap_or_default()
                .contains("hub consuming")
            {
                break;
            }
            if Instant::now() > deadline || matches!(hub.child.try_wait(), Ok(Some(_))) {
                panic!("the hub did not start:\n{}", hub.log_tail(30));
            }
            #[expect(
                clippy::disallowed_methods,
                reason = "the driver's own thread waits; no async runtime runs on it"
            )]
            std::thread::sleep(Duration::from_millis(100));
        }
        Deployment {
            dir: dir.to_path_buf(),
            stores,
            hub,
        }
    }

    /// Peak memory and CPU of the hub and of every store, read while they still run.
    pub(crate) fn usage(&self) -> (Usage, Vec<Usage>) {
        (
            self.hub.usage(),
            self.stores.iter().map(|s| s.usage()).collect(),
        )
    }

    /// Stops everything and removes the databases (the bases are large; the disk is shared).
    pub(crate) fn stop(mut self) {
        self.hub.stop();
        for s in &mut self.stores {
            s.stop();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_store(bin: &str, dir: &Path, certs: &Path, org: &str) -> (Proc, String) {
    std::fs::create_dir_all(dir).unwrap();
    let config = dir.join("store.toml");
    std::fs::write(
        &config,
        format!(
            "org = \"{org}\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\nkeys_dir = \"keys\"\n\
             [tls]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n\
             [access]\nwriters = [\"hsa:SE0000000000-HUB\"]\nreaders = [\"hsa:SE{org}-READER1\"]\n\
             reviewers = [\"hsa:SE{org}-REVIEWER1\"]\n",
            certs.join("ca.pem").display(),
            certs.join(format!("store-{org}.pem")).display(),
            certs.join(format!("store-{org}.key")).display(),
        ),
    )
    .unwrap();
    run_ok_of(
        bin,
        &["store", "--init", "--config", &config.to_string_lossy()],
    );
    let log = dir.join("store.log");
    let (child, url) = crate::store_harness::spawn_store_of(bin, &config, &log);
    (
        Proc {
            what: format!("store {org}"),
            child,
            log,
        },
        url,
    )
}
