//! `invoice-hub store`: run a receiving region's restricted store.

use crate::cli::output::say;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::store::{init_keys, Server, StoreConfig};

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// The store's configuration (see deploy/store-*.toml and docs/store.md).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Make the keys the configuration names but that do not exist yet (body key, access log
    /// signing and patient keys; never overwrites), then exit.
    #[arg(long)]
    init: bool,
    /// Check the configuration and everything it names (keys, certificates, the schemas, the
    /// access log read-only), say what was found, and exit: 0 when the store would start.
    /// Creates nothing, listens on nothing.
    #[arg(long, conflicts_with = "init")]
    check: bool,
}

/// Threads that may wait on the store's database at once: a delivery's write and the flush it
/// waits for, reads. A delivery's check runs on `crate::cpu`, so what is left holds a thread only
/// while the disk works, and the deliveries waiting together share one flush — as many as there
/// are threads. Unbounded, tokio's pool grew to 17–25 threads per store under load, each keeping
/// a glibc arena of its own; at 4, a slow flush left the deliveries behind it queued for threads
/// (p99 at 50 % load 355–407 ms against 54 at 16; docs/performance.md, "Memory").
const BLOCKING_THREADS: usize = 16;

pub(super) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = StoreConfig::load(&args.config)
        .with_context(|| format!("reading the store configuration {}", args.config.display()))?;
    if args.check {
        let found = crate::store::check(&cfg)
            .with_context(|| format!("checking {}", args.config.display()))?;
        for line in found {
            say!("ok: {line}");
        }
        say!("{}: the store would start", args.config.display());
        return Ok(ExitCode::SUCCESS);
    }
    if args.init {
        let made = init_keys(&cfg).context("making the store's keys")?;
        if made.is_empty() {
            say!("all keys present in {}", cfg.keys_dir.display());
        }
        for p in made {
            say!("made {}", p.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    super::init_daemon_logging();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let org = cfg.org.clone();
        let server = Server::bind(cfg).await.context(
            "starting the store (try `invoice-hub store --config FILE --init` if keys are missing)",
        )?;
        // The first line of stdout says where: scripts and tests started with port 0 read it.
        say!(
            "store of {org} listening on https://{}",
            server.local_addr()
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
        server
            .run(super::stop_requested())
            .await
            .context("running the store")?;
        eprintln!("store of {org} stopped; data flushed, access log closed");
        Ok(ExitCode::SUCCESS)
    })
}
