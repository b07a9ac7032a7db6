//! `invoice-hub hub`: runs the routing core until SIGTERM or Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::output::say;
use crate::hub::{self, HubConfig};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for a log collector.
    Json,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "For every basis on the submit queue, in order: safety limits, the \
contract's XSD, the business rules ÖR1–ÖR52, the sender (the broker-checked user_id must be the \
supplier), the receiver (must have a store in [receivers]), the sending region's policy, the \
disclosure log (durable), delivery to the receiver's store over mutual TLS, the store's receipt \
logged, then a status to the sender and a notice to the receiver, and only then the ack.\n\n\
Nothing starts with a bad configuration: a policy that does not load, an unreadable key, or a \
disclosure log of another instance stop it with the file named.\n\n\
SIGTERM or Ctrl-C: stop taking messages, finish the ones in flight, exit 0.\n\n\
Logs never hold a patient identifier; --log-format json for a collector. Metrics in Prometheus \
text format at http://<[metrics] listen>/metrics.\n\n\
Examples:\n  invoice-hub hub --config deploy/hub.toml --check   # before a start or a change\n  \
invoice-hub hub --config deploy/hub.toml --log-format json"
)]
pub(super) struct Args {
    /// The hub's configuration (see deploy/hub.toml).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,

    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Check the configuration and everything it names (policies and which is in force today,
    /// the schemas, the keys, the disclosure log read-only, the certificates), say what was
    /// found, and exit: 0 when the hub would start. Creates nothing, calls no broker.
    #[arg(long)]
    pub check: bool,
}

pub(super) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,lapin=warn"));
    // No colour codes in a log file or a journal: only on a terminal.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
    let cfg = HubConfig::load(&args.config)?;
    if args.check {
        for line in
            hub::check(&cfg).with_context(|| format!("checking {}", args.config.display()))?
        {
            say!("ok: {line}");
        }
        say!("{}: the hub would start", args.config.display());
        return Ok(ExitCode::SUCCESS);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(hub::run(cfg, shutdown()))?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown() {
    super::stop_requested().await;
    tracing::info!("shutdown requested");
}
