//! What a run of `make chaos` or `make powercut` needs around the processes: the binary, the
//! ports scripts/setup.sh picked, a broker node name of its own, plain log text.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{bail, Context};
use invoice_hub::synth::{ManifestEntry, MANIFEST_FILE};

/// No new answer for this long (with nothing being restarted) is a breach: the exchange is stuck.
pub(crate) const STALL: Duration = Duration::from_secs(240);

/// The exit code of a run named `name`: 0 when every check held, 1 on a breach, 2 when it could
/// not run (said on stderr).
pub(crate) fn exit_code(name: &str, run: anyhow::Result<bool>) -> ExitCode {
    match run {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("{name}: could not run: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// The number in environment variable `name`, or `default` when it is not set.
pub(crate) fn env_number(name: &str, default: u64) -> anyhow::Result<u64> {
    match std::env::var(name) {
        Ok(s) => s
            .parse()
            .with_context(|| format!("{name} must be a number")),
        Err(_) => Ok(default),
    }
}

/// A line of the run's report, at once (the run is watched live).
pub(crate) fn say(msg: impl AsRef<str>) {
    println!("{}", msg.as_ref());
    let _ = std::io::stdout().flush();
}

/// What scripts/setup.sh made, read back.
pub(crate) struct Setup {
    /// `KEY=VALUE` lines of setup.env: the ports picked.
    pub env: BTreeMap<String, String>,
    /// Region (organisation number) → its store's port.
    pub store_ports: BTreeMap<String, u16>,
    pub orgs: Vec<String>,
    pub manifest: Vec<ManifestEntry>,
}

/// Stops the broker node a killed run left behind, then runs scripts/setup.sh into `out`
/// (`count` bases from `seed`) and reads back what it made.
pub(crate) fn setup(
    repo: &Path,
    out: &Path,
    bin: &Path,
    node: &str,
    count: usize,
    seed: u64,
) -> anyhow::Result<Setup> {
    let _ = Command::new(repo.join("broker/ctl"))
        .args(["stop", node])
        .output();
    let o = Command::new("bash")
        .arg(repo.join("scripts/setup.sh"))
        .arg(out)
        .env("IH_BIN", bin)
        .env("IH_COUNT", count.to_string())
        .env("IH_SEED", seed.to_string())
        .output()
        .context("running scripts/setup.sh")?;
    if !o.status.success() {
        bail!(
            "scripts/setup.sh failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let env = read_env(&out.join("setup.env"))?;
    let store_ports: BTreeMap<String, u16> = env
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("STORE_PORT_")?.to_string(), v.parse().ok()?)))
        .collect();
    let orgs = store_ports.keys().cloned().collect();
    let manifest = std::fs::read_to_string(out.join("bases").join(MANIFEST_FILE))?
        .lines()
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("reading the generator's manifest")?;
    Ok(Setup {
        env,
        store_ports,
        orgs,
        manifest,
    })
}

/// `KEY=VALUE` lines written by scripts/setup.sh.
pub(crate) fn read_env(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect())
}

/// The release binary beside this example (`target/release/examples/chaos` →
/// `target/release/invoice-hub`), or `IH_BIN`.
pub(crate) fn binary() -> anyhow::Result<PathBuf> {
    if let Some(b) = std::env::var_os("IH_BIN") {
        return Ok(PathBuf::from(b));
    }
    let me = std::env::current_exe()?;
    let bin = me
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("invoice-hub"))
        .context("where is the invoice-hub binary?")?;
    if !bin.exists() {
        bail!(
            "{} is missing: cargo build --release --bin invoice-hub",
            bin.display()
        );
    }
    Ok(bin)
}

/// The hub's log without the terminal colours its text format carries.
pub(crate) fn plain(log: &str) -> String {
    let mut out = String::with_capacity(log.len());
    let mut chars = log.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // ESC [ ... m
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A node name no other worktree uses (node names are machine-wide).
pub(crate) fn node_name(repo: &Path, prefix: &str) -> String {
    let h = repo
        .to_string_lossy()
        .bytes()
        .fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        });
    format!("{prefix}-{:06x}", h & 0xffffff)
}
