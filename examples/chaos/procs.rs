//! The processes a chaos run starts, kills and restarts: the hub, the stores and the publishers
//! are `invoice-hub` processes like a deployment's; the broker is `broker/ctl`'s node.

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// One `invoice-hub` process that can be started again with the same command line; its output
/// is appended to one log file across restarts.
pub(crate) struct Service {
    pub name: String,
    bin: PathBuf,
    args: Vec<OsString>,
    log: PathBuf,
    child: Option<Child>,
    /// How many times it was started.
    pub starts: u32,
    /// The log's length when it was last started: what that run wrote comes after.
    started_at: u64,
}

impl Service {
    pub(crate) fn new(
        name: &str,
        bin: &Path,
        args: &[&dyn AsRef<std::ffi::OsStr>],
        log: PathBuf,
    ) -> Self {
        Service {
            name: name.to_string(),
            bin: bin.to_path_buf(),
            args: args.iter().map(|a| a.as_ref().to_os_string()).collect(),
            log,
            child: None,
            starts: 0,
            started_at: 0,
        }
    }

    pub(crate) fn start(&mut self) -> anyhow::Result<()> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("{}: opening {}", self.name, self.log.display()))?;
        self.started_at = log.metadata()?.len();
        let child = Command::new(&self.bin)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.name))?;
        self.child = Some(child);
        self.starts += 1;
        Ok(())
    }

    pub(crate) fn running(&mut self) -> bool {
        self.child.is_some() && self.exited().is_none()
    }

    /// `Some(status)` once the process has ended by itself (or was killed and reaped).
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(Some(s))) => Some(s),
            _ => None,
        }
    }

    /// SIGKILL: no chance to finish anything, as in a power cut or an OOM kill.
    pub(crate) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then up to `grace` to exit; SIGKILL after that. `Ok` with the exit status, or an
    /// error when it had to be killed.
    pub(crate) fn terminate(&mut self, grace: Duration) -> anyhow::Result<ExitStatus> {
        let Some(mut c) = self.child.take() else {
            bail!("{} is not running", self.name)
        };
        let _ = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Some(s) = c.try_wait()? {
                return Ok(s);
            }
            #[expect(
                clippy::disallowed_methods,
                reason = "the driver's own thread waits; no async runtime runs on it"
            )]
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = c.kill();
        let _ = c.wait();
        bail!("{} did not stop within {:?} of SIGTERM", self.name, grace)
    }

    /// Waits until the latest start has logged a line containing `needle` (the hub saying it
    /// consumes); what earlier runs logged does not count.
    pub(crate) fn wait_for_log(&mut self, needle: &str, within: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + within;
        let from = usize::try_from(self.started_at).unwrap_or(usize::MAX);
        while Instant::now() < deadline {
            let logged = std::fs::read(&self.log).unwrap_or_default();
            let since = logged.get(from..).unwrap_or_default();
            if String::from_utf8_lossy(since).contains(needle) {
                return Ok(());
            }
            if let Some(s) = self.exited() {
                bail!(
                    "{} exited ({s}) before it logged {needle:?}:\n{}",
                    self.name,
                    self.log_tail(10)
                );
            }
            #[expect(
                clippy::disallowed_methods,
                reason = "the driver's own thread waits; no async runtime runs on it"
            )]
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("{} did not log {needle:?} within {within:?}", self.name)
    }

    /// The last lines of its log, for a failure message.
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Waits until something accepts TCP connections on `port` (a store that has started).
pub(crate) fn wait_for_port(port: u16, within: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        #[expect(
            clippy::disallowed_methods,
            reason = "the driver's own thread waits; no async runtime runs on it"
        )]
        std::thread::sleep(Duration::from_millis(100));
    }
    bail!("nothing listens on 127.0.0.1:{port} after {within:?}")
}

/// The run's RabbitMQ node, through `broker/ctl`.
pub(crate) struct Broker {
    pub name: String,
    ctl: PathBuf,
    up: bool,
}

impl Broker {
    /// `broker/ctl up`: a fresh node; it is stopped when this process exits, whatever happens.
    pub(crate) fn up(
        repo: &Path,
        name: &str,
        certs: &Path,
        amqps: &str,
        dist: &str,
        regions: &str,
    ) -> anyhow::Result<Broker> {
        let mut b = Broker {
            name: name.to_string(),
            ctl: repo.join("broker/ctl"),
            up: false,
        };
        b.run(&[
            "up",
            name,
            "--certs",
            &certs.to_string_lossy(),
            "--amqps-port",
            amqps,
            "--dist-port",
            dist,
            "--regions",
            regions,
            "--owner-pid",
            &std::process::id().to_string(),
        ])?;
        b.up = true;
        Ok(b)
    }

    /// `broker/ctl restart`: stop the node and boot it with the same data, as in production.
    pub(crate) fn restart(&self) -> anyhow::Result<()> {
        self.run(&["restart", &self.name]).map(|_| ())
    }

    /// `rabbitmqctl list_queues`: name → (ready + unacknowledged) messages. Statistics the
    /// broker refreshes every few seconds.
    pub(crate) fn queue_depths(&self) -> anyhow::Result<Vec<(String, u64)>> {
        let out = self.run(&[
            "ctl",
            &self.name,
            "list_queues",
            "-p",
            "invoice-hub",
            "name",
            "messages",
        ])?;
        Ok(out
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .filter_map(|(n, m)| Some((n.to_string(), m.trim().parse().ok()?)))
            .collect())
    }

    pub(crate) fn depth(&self, queue: &str) -> anyhow::Result<u64> {
        self.queue_depths()?
            .into_iter()
            .find(|(n, _)| n == queue)
            .map(|(_, m)| m)
            .with_context(|| format!("queue {queue} not listed by rabbitmqctl"))
    }

    fn run(&self, args: &[&str]) -> anyhow::Result<String> {
        let o = Command::new(&self.ctl)
            .args(args)
            .output()
            .context("running broker/ctl")?;
        if !o.status.success() {
            bail!(
                "broker/ctl {}: {}{}",
                args.join(" "),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if self.up {
            let _ = self.run(&["stop", &self.name]);
        }
    }
}
