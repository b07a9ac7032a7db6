//! `invoice-hub witness`: run a witness of disclosure logs alone.

use crate::cli::output::say;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::witness::{Server, WitnessConfig};

/// Examples:
///
///   invoice-hub witness --config deploy/witness.toml --check   # read everything, start nothing
///   invoice-hub witness --config deploy/witness.toml
///
///   # the hub sends it heads when hub.toml has it as a witness:
///   #   [witness]
///   #   extra = ["https://witness.example:8447"]
///   # and an auditor asks it:
///   invoice-hub audit --log run/hub-log verify --key hub-keys/log-signing.pub \
///       --witness https://witness.example:8447 --ca pki/ca.pem --cert pki/auditor.pem --cert-key pki/auditor.key
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub(super) struct Args {
    /// The witness's configuration (see deploy/witness.toml and docs/audit.md).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Read the configuration, certificates and keys as a start would, say what was found, and
    /// exit (0 when it would start); creates nothing, listens on nothing.
    #[arg(long)]
    check: bool,
}

pub(super) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = WitnessConfig::load(&args.config).with_context(|| {
        format!(
            "reading the witness configuration {}",
            args.config.display()
        )
    })?;
    if args.check {
        for line in crate::witness::check(&cfg, &args.config)? {
            say!("ok: {line}");
        }
        say!("{}: the witness would start", args.config.display());
        return Ok(ExitCode::SUCCESS);
    }
    super::init_daemon_logging();
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async move {
        let logs = cfg.logs.len();
        let server = Server::bind(cfg).await.context("starting the witness")?;
        // The first line of stdout says where: scripts and tests started with port 0 read it.
        say!(
            "witness of {logs} log(s) listening on https://{}",
            server.local_addr()
        );
        use std::io::Write;
        let _ = std::io::stdout().flush();
        server.run(super::stop_requested()).await;
        eprintln!("witness stopped");
        Ok(ExitCode::SUCCESS)
    })
}
