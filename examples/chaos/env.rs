//! What a run of `make chaos` or `make powercut` needs around the processes: the binary, the
//! ports scripts/setup.sh picked, a broker node name of its own, plain log text.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// `KEY=VALUE` lines written by scripts/setup.sh.
pub fn read_env(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
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
pub fn binary() -> anyhow::Result<PathBuf> {
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
pub fn plain(log: &str) -> String {
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
pub fn node_name(repo: &Path, prefix: &str) -> String {
    let h = repo
        .to_string_lossy()
        .bytes()
        .fold(0xcbf29ce484222325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100000001b3)
        });
    format!("{prefix}-{:06x}", h & 0xffffff)
}
