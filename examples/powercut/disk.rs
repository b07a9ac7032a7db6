//! The lazy disk: `tools/lazyfs` mounted over `run/powercut/disk`, holding the hub's disclosure
//! log and every store's database, so that a cut drops exactly what a power cut would.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::procs::Service;

const CONTROL: &str = ".lazyfs-control";

pub(crate) struct LazyDisk {
    pub mount: PathBuf,
    pub backing: PathBuf,
    fs: Service,
}

impl LazyDisk {
    /// Moves each store's `data` directory onto the disk's backing directory (what setup made
    /// is durable; a store that has none yet makes it there at first start), points the stores' and the hub's configurations at the mount, and mounts.
    pub(crate) fn mount(repo: &Path, out: &Path, orgs: &[String]) -> anyhow::Result<LazyDisk> {
        let backing = out.join("disk.durable");
        let mount = out.join("disk");
        std::fs::create_dir_all(&backing)?;
        std::fs::create_dir_all(&mount)?;
        for org in orgs {
            let d = out.join(format!("store-{org}"));
            let on_disk = backing.join(format!("store-{org}"));
            if d.join("data").exists() {
                std::fs::rename(d.join("data"), &on_disk)
                    .with_context(|| format!("moving store {org}'s database onto the lazy disk"))?;
            } else {
                // The store makes its database at first start: on the lazy disk, then.
                std::fs::create_dir_all(&on_disk)?;
            }
            rewrite(
                &d.join("store.toml"),
                "data_dir = \"data\"",
                &format!("data_dir = \"../disk/store-{org}\""),
            )?;
        }
        rewrite(
            &out.join("hub.toml"),
            "dir = \"hub-log\"",
            "dir = \"disk/hub-log\"",
        )?;
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        let mut fs = Service::new(
            "lazyfs",
            Path::new(&python),
            &[&repo.join("tools/lazyfs/lazyfs.py"), &backing, &mount],
            out.join("lazyfs.log"),
        );
        fs.start()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !mount.join(CONTROL).exists() {
            if let Some(s) = fs.exited() {
                bail!("lazyfs exited ({s}):\n{}", fs.log_tail(10));
            }
            if Instant::now() > deadline {
                bail!("lazyfs did not mount {} within 30 s", mount.display());
            }
            #[expect(
                clippy::disallowed_methods,
                reason = "the driver's own thread waits; no async runtime runs on it"
            )]
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(LazyDisk { mount, backing, fs })
    }

    pub(crate) fn hub_log(&self) -> PathBuf {
        self.mount.join("hub-log")
    }

    /// Drops every write not made durable; returns what was dropped, in words.
    pub(crate) fn cut(&self) -> anyhow::Result<String> {
        let before = self.control("status")?;
        let reply = self.control("cut")?;
        if reply["ok"] != serde_json::Value::Bool(true) {
            bail!("lazyfs refused the cut: {reply}");
        }
        Ok(format!(
            "dropped {} unsynced bytes in {} files and {} name changes",
            before["pending_bytes"], before["pending_files"], before["pending_name_ops"]
        ))
    }

    /// One command on the control file; the reply is its last JSON line.
    fn control(&self, cmd: &str) -> anyhow::Result<serde_json::Value> {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.mount.join(CONTROL))
            .context("opening lazyfs's control file")?;
        (&f).write_all(format!("{cmd}\n").as_bytes())?;
        let mut buf = vec![0u8; 65536];
        let n = f.read_at(&mut buf, 0)?;
        let text = String::from_utf8_lossy(&buf[..n]);
        let last = text.lines().last().unwrap_or_default();
        serde_json::from_str(last).with_context(|| format!("lazyfs answered {cmd}: {text}"))
    }
}

impl Drop for LazyDisk {
    fn drop(&mut self) {
        let _ = self.fs.terminate(Duration::from_secs(10));
        unmount_stale(&self.mount);
    }
}

/// A mount a killed run left behind.
pub(crate) fn unmount_stale(mount: &Path) {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let m = mount.to_string_lossy();
    if mounts.lines().any(|l| l.split(' ').nth(1) == Some(&m)) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(mount)
            .status();
    }
}

fn rewrite(path: &Path, from: &str, to: &str) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)?;
    if !text.contains(from) {
        bail!("{} has no line {from}", path.display());
    }
    std::fs::write(path, text.replacen(from, to, 1))?;
    Ok(())
}
