//! Shared by the `store_*` tests: real certificates from `invoice-hub pki dev`, a real store
//! process (`invoice-hub store`) on a free loopback port, and real TLS clients.
//!
//! Each test binary makes two PKIs once: the federation's (with expired reader certificates) and
//! an unrelated one with the same file names (another CA). A store is started from a
//! configuration written into its own temporary directory, keys made with `--init`; its port is
//! read from the first line it prints. Dropping a [`StoreProc`] kills the process.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};

use invoice_hub::store::StoreClient;
use invoice_hub::tls::client_config;

pub(crate) const STOCKHOLM: &str = "2321000016";
pub(crate) const HALLAND: &str = "2321000115";
/// The supplier (sender) of the example documents: Region Skåne.
pub(crate) const SKANE: &str = "2321000255";
/// The personal number of the patient in `outpatient_patient_specific.xml`.
pub(crate) const KNOWN_PERSONNUMMER: &str = "197803122386";

pub(crate) fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_invoice-hub")
}

pub(crate) struct Pkis {
    _dir: tempfile::TempDir,
    pub main: PathBuf,
    pub other: PathBuf,
}

/// The two PKIs of this test binary.
pub(crate) fn pkis() -> &'static Pkis {
    static P: OnceLock<Pkis> = OnceLock::new();
    P.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir");
        let main = dir.path().join("pki");
        let other = dir.path().join("pki-other");
        for (out, extra) in [(&main, Some("--expired")), (&other, None)] {
            let mut c = Command::new(bin());
            c.args(["pki", "dev", "--out"])
                .arg(out)
                .args(["--regions", "01,13"]);
            if let Some(e) = extra {
                c.arg(e);
            }
            let o = c.output().expect("run invoice-hub pki dev");
            assert!(
                o.status.success(),
                "pki dev failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
        Pkis {
            _dir: dir,
            main,
            other,
        }
    })
}

/// A store process.
pub(crate) struct StoreProc {
    pub org: String,
    pub dir: PathBuf,
    pub config: PathBuf,
    pub url: String,
    child: Child,
    stderr_log: PathBuf,
}

/// Settings a test may change.
#[derive(Clone)]
pub(crate) struct Setup {
    pub readers: Vec<String>,
    pub max_body_bytes: usize,
    /// Logs the store witnesses: (log id, public key file).
    pub witness: Vec<(String, PathBuf)>,
    /// Whole tables at the end of the configuration (e.g. `[limits]`).
    pub extra_toml: String,
}

impl Setup {
    pub(crate) fn for_org(org: &str) -> Setup {
        Setup {
            readers: vec![format!("hsa:SE{org}-READER1")],
            max_body_bytes: 1024 * 1024,
            witness: Vec::new(),
            extra_toml: String::new(),
        }
    }
}

impl StoreProc {
    /// Writes a configuration for the store of `org` into `dir` (kept across restarts), makes its
    /// keys and starts it.
    pub(crate) fn start(dir: &Path, org: &str, setup: &Setup) -> StoreProc {
        std::fs::create_dir_all(dir).unwrap();
        let pki = &pkis().main;
        let readers = setup
            .readers
            .iter()
            .map(|r| format!("{r:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let witness = setup
            .witness
            .iter()
            .map(|(id, key)| format!("{id:?} = {:?}", key.display().to_string()))
            .collect::<Vec<_>>()
            .join(", ");
        let config = dir.join("store.toml");
        std::fs::write(
            &config,
            format!(
                "org = \"{org}\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\nkeys_dir = \"keys\"\n\
                 max_body_bytes = {}\n[tls]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n\
                 crl = \"{}\"\ncrl_reload_secs = 1\n\
                 [access]\nwriters = [\"hsa:SE0000000000-HUB\"]\nreaders = [{readers}]\n\
                 reviewers = [\"hsa:SE{org}-REVIEWER1\"]\n\
                 [witness]\nlogs = {{ {witness} }}\n{}",
                setup.max_body_bytes,
                pki.join("ca.pem").display(),
                pki.join(format!("store-{org}.pem")).display(),
                pki.join(format!("store-{org}.key")).display(),
                pki.join("crl.pem").display(),
                setup.extra_toml,
            ),
        )
        .unwrap();
        let o = Command::new(bin())
            .args(["store", "--config"])
            .arg(&config)
            .arg("--init")
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "store --init: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        Self::spawn(dir, org, config)
    }

    fn spawn(dir: &Path, org: &str, config: PathBuf) -> StoreProc {
        let stderr_log = dir.join("store.stderr");
        let (child, url) = spawn_store(&config, &stderr_log);
        StoreProc {
            org: org.to_string(),
            dir: dir.to_path_buf(),
            config,
            url,
            child,
            stderr_log,
        }
    }

    /// Kills the process without warning (no flush, no goodbye), as a crash would.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops it with SIGTERM and waits for a clean exit.
    pub(crate) fn stop(&mut self) {
        self.signal_stop();
        self.wait_stopped();
    }

    /// Sends SIGTERM and returns at once.
    pub(crate) fn signal_stop(&self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
    }

    /// Waits for the process to exit and requires a clean exit.
    pub(crate) fn wait_stopped(&mut self) {
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "the store did not stop cleanly: {}",
            self.stderr()
        );
    }

    /// Starts the same store again (same data, same keys; a new port).
    pub(crate) fn restart(&mut self) -> StoreProc {
        self.kill();
        Self::spawn(&self.dir, &self.org, self.config.clone())
    }

    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }

    pub(crate) fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A client presenting `<stem>.pem` of the federation's PKI.
    pub(crate) fn client(&self, stem: &str) -> StoreClient {
        let p = &pkis().main;
        StoreClient::from_files(
            &self.url,
            &p.join("ca.pem"),
            &p.join(format!("{stem}.pem")),
            &p.join(format!("{stem}.key")),
        )
        .unwrap()
    }

    /// A client presenting the same-named certificate of the other PKI (another CA).
    pub(crate) fn client_other_ca(&self, stem: &str) -> StoreClient {
        let o = &pkis().other;
        StoreClient::from_files(
            &self.url,
            &pkis().main.join("ca.pem"),
            &o.join(format!("{stem}.pem")),
            &o.join(format!("{stem}.key")),
        )
        .unwrap()
    }

    /// A client presenting no certificate at all.
    pub(crate) fn client_without_certificate(&self) -> StoreClient {
        let tls = client_config(&pkis().main.join("ca.pem"), None, None).unwrap();
        StoreClient::new(&self.url, Arc::new(tls)).unwrap()
    }
}

impl Drop for StoreProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `invoice-hub store --config CONFIG` (stderr into `stderr_log`) and returns the process
/// and the URL it printed as its first line (it listens on a free port).
pub(crate) fn spawn_store(config: &Path, stderr_log: &Path) -> (Child, String) {
    spawn_store_of(bin(), config, stderr_log)
}

/// [`spawn_store`] with another build of the binary (`make bench` measures `IH_BIN`).
pub(crate) fn spawn_store_of(bin: &str, config: &Path, stderr_log: &Path) -> (Child, String) {
    let mut child = Command::new(bin)
        .args(["store", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(stderr_log).unwrap())
        .spawn()
        .expect("start invoice-hub store");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("https://"))
        .unwrap_or_else(|| {
            let _ = child.kill();
            panic!(
                "the store did not say where it listens: {line:?}\n{}",
                std::fs::read_to_string(stderr_log).unwrap_or_default()
            )
        })
        .to_string();
    (child, url)
}

/// The example outpatient basis (Skåne → Stockholm) with basis counter `n` in its id.
pub(crate) fn basis(n: u32) -> (String, Vec<u8>) {
    let xml = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/outpatient_patient_specific.xml"),
    )
    .unwrap();
    let id = format!("ZVF{SKANE}2611{n:06}");
    let xml = xml.replace("ZVF23210002552611000123", &id);
    (id, xml.into_bytes())
}

/// Every file under `dir`, recursively.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if e.file_type().is_file() {
            out.push(e.into_path());
        }
    }
    out
}
