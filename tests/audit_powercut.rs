//! The disclosure log survives a power cut: on `tools/lazyfs`, which keeps every write not
//! fsynced in memory and drops it on `cut`, whatever an append acknowledged is there after the
//! cut, and the log opens and verifies. (The store's database is the same engine, `crate::db`;
//! `make powercut` cuts both under load.) sled 0.34, the engine before, did not give this
//! (docs/reliability.md, "Power cuts").
//!
//! Needs root, /dev/fuse and pyfuse3 (`make test` runs scripts/lazyfs-test.sh first, which
//! installs it); without them the test fails, it never skips.

mod audit_support;

use std::fs::OpenOptions;
use std::io::Write as _;
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use audit_support::*;
use invoice_hub::audit::VerifyOptions;

/// A lazyfs mount for one test, unmounted when dropped.
struct Lazy {
    mount: PathBuf,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Lazy {
    fn mount() -> Lazy {
        let dir = tempfile::tempdir().unwrap();
        let (backing, mount) = (dir.path().join("durable"), dir.path().join("mnt"));
        std::fs::create_dir_all(&backing).unwrap();
        std::fs::create_dir_all(&mount).unwrap();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tools/lazyfs/lazyfs.py");
        let child = Command::new("python3")
            .arg(script)
            .arg(&backing)
            .arg(&mount)
            .spawn()
            .expect("python3 runs lazyfs");
        let deadline = Instant::now() + Duration::from_secs(20);
        while !mount.join(".lazyfs-control").exists() {
            assert!(
                Instant::now() < deadline,
                "lazyfs did not mount (root, /dev/fuse and pyfuse3 are needed: scripts/lazyfs-test.sh installs them)"
            );
            #[expect(
                clippy::disallowed_methods,
                reason = "the test's own thread waits; no async runtime runs on it"
            )]
            std::thread::sleep(Duration::from_millis(50));
        }
        Lazy {
            mount,
            child,
            _dir: dir,
        }
    }

    /// The power cut: every write not made durable is gone.
    fn cut(&self) {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.mount.join(".lazyfs-control"))
            .unwrap();
        (&f).write_all(b"cut\n").unwrap();
        let mut buf = [0u8; 4096];
        let n = f.read_at(&mut buf, 0).unwrap();
        let reply = String::from_utf8_lossy(&buf[..n]);
        assert!(reply.contains("\"ok\": true"), "{reply}");
    }
}

impl Drop for Lazy {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        let _ = Command::new("umount").arg("-l").arg(&self.mount).status();
    }
}

/// Set in the child process that writes and is then killed with the power.
const CHILD_DIR: &str = "IH_POWERCUT_CHILD_DIR";

/// The writer, run as a child of the test below (this same test binary): appends, says how many
/// were acknowledged, then waits to be killed, never closing the log.
#[test]
fn powercut_child_writer() {
    let Some(dir) = std::env::var_os(CHILD_DIR) else {
        return; // run as an ordinary test: nothing to do
    };
    let log = open(Path::new(&dir), 16);
    let batch: Vec<_> = (0..200).map(|i| record(i, 2)).collect();
    log.append_batch(&batch).unwrap();
    log.append(&record(200, 1)).unwrap();
    println!("ACKED {} {}", log.size(), hex::encode(log.root()));
    std::io::stdout().flush().unwrap();
    #[expect(
        clippy::disallowed_methods,
        reason = "the test's own thread waits; no async runtime runs on it"
    )]
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn acknowledged_appends_survive_a_power_cut() {
    use std::io::BufRead as _;
    let lazy = Lazy::mount();
    let dir = lazy.mount.join("hub-log");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "powercut_child_writer",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, &dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    // libtest may print "test … " before the writer's own output on the same line.
    while !line.contains("ACKED ") {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the writer ended without acknowledging"
        );
    }
    // The power goes: the writer dies mid-flight and every unsynced write with it.
    child.kill().unwrap();
    child.wait().unwrap();
    lazy.cut();

    let mut acked = line[line.find("ACKED ").unwrap()..]
        .split_whitespace()
        .skip(1);
    let size: u64 = acked.next().unwrap().parse().unwrap();
    let root = acked.next().unwrap().to_owned();
    let log = open(&dir, 16);
    assert_eq!(
        log.size(),
        size,
        "acknowledged appends were lost at the cut"
    );
    assert_eq!(hex::encode(log.root()), root);
    assert_eq!(log.get(150).unwrap().unwrap().record, record(150, 2));
    let r = log.verify(&VerifyOptions::default()).unwrap();
    assert!(r.ok(), "{:?}", r.problems);
}
