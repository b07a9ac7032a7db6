//! `invoice-hub gateway`: run the SOAP gateway.

use crate::cli::output::say;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::gateway::{GatewayConfig, Server};

/// Examples:
///
///   invoice-hub gateway --config deploy/gateway.toml
///   invoice-hub gateway --config deploy/gateway.toml --check
///
///   # a call with curl (the WSDL, then one basis in an envelope):
///   curl --cacert pki/ca.pem --cert pki/region-2321000131.pem --key pki/region-2321000131.key \
///        'https://127.0.0.1:8446/ProcessClaimSpecification/1/rivtabp21?wsdl'
#[derive(clap::Args, Debug)]
#[command(verbatim_doc_comment)]
pub(super) struct Args {
    /// The gateway's configuration (see deploy/gateway.toml and docs/gateway.md).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Check the configuration and the files it names (certificates, keys), say what was
    /// found, and exit: 0 when the gateway would start. Connects to nothing.
    #[arg(long)]
    check: bool,
}

pub(super) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = GatewayConfig::load(&args.config).with_context(|| {
        format!(
            "reading the gateway configuration {}",
            args.config.display()
        )
    })?;
    if args.check {
        crate::tls::server_config(&cfg.tls.ca, &cfg.tls.cert, &cfg.tls.key, None)
            .with_context(|| format!("checking {}", args.config.display()))?;
        cfg.broker
            .tls_config()
            .with_context(|| format!("checking {} [broker]", args.config.display()))?;
        say!(
            "ok: {} callers, {} platform certificates, {} receivers, endpoint {}",
            cfg.callers.len() + cfg.callers_by_cn.len(),
            cfg.platform.len(),
            cfg.receivers.len(),
            cfg.path
        );
        say!("{}: the gateway would start", args.config.display());
        return Ok(ExitCode::SUCCESS);
    }
    super::init_daemon_logging();
    let rt = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    rt.block_on(async move {
        let path = cfg.path.clone();
        let server = Server::bind(cfg).await.context("starting the gateway")?;
        // The first line of stdout says where: scripts and tests started with port 0 read it.
        say!("gateway listening on https://{}{path}", server.local_addr());
        use std::io::Write;
        let _ = std::io::stdout().flush();
        server.run(super::stop_requested()).await;
        eprintln!("gateway stopped");
        Ok(ExitCode::SUCCESS)
    })
}
