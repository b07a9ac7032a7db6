//! `invoice-hub notify`: what arrived in this region's store — basis id, sender and the store's
//! receipt, never patient data — read from the region's own notify queue.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::broker::messages::Notice;
use crate::broker::RegionConfig;
use crate::cli::output::{csv_row, say, Format};

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Without --follow: prints what is waiting and exits. Notices are taken \
off the queue once printed; --keep leaves them there. Fetch the bases themselves from the store \
with `invoice-hub fetch`.\n\n\
--format json prints each notice as it travels (invoice-hub.notice.v1, one per line); --format \
csv one row per basis: basis_id,sender,receipt_seq,receipt_sha256,received_at,at.\n\n\
Examples:\n  invoice-hub notify --config deploy/region-vgr.toml --follow\n  \
invoice-hub notify --config deploy/region-vgr.toml --format csv >> arrived.csv"
)]
pub(super) struct Args {
    /// The region's configuration.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Keep waiting for more (Ctrl-C to stop).
    #[arg(long)]
    pub follow: bool,
    /// Leave the notices on the queue (not with --follow).
    #[arg(long, conflicts_with = "follow")]
    pub keep: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// The CSV columns of `notify --format csv`.
const COLUMNS: [&str; 6] = [
    "basis_id",
    "sender",
    "receipt_seq",
    "receipt_sha256",
    "received_at",
    "at",
];

pub(super) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = RegionConfig::load(&args.config).context("reading the region configuration")?;
    let queue = cfg.notify_queue();
    let format = args.format;
    if format == Format::Csv {
        csv_row(&mut std::io::stdout().lock(), &COLUMNS)?;
    }
    let n = super::status::read_queue(&cfg, &queue, args.follow, args.keep, |body, id| {
        let n = match serde_json::from_slice::<Notice>(body) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("skipping an unreadable notice {id}: {e}");
                return Ok(());
            }
        };
        match format {
            Format::Text => say!("{}", n.summary_line()),
            Format::Json => say!("{}", String::from_utf8_lossy(body)),
            Format::Csv => csv_row(
                &mut std::io::stdout().lock(),
                &[
                    n.basis_id.clone(),
                    n.sender.clone(),
                    n.receipt.seq.to_string(),
                    n.receipt.sha256.clone(),
                    n.receipt.received_at.clone(),
                    n.at.to_rfc3339(),
                ],
            )?,
        }
        Ok(())
    })?;
    if !args.follow && format == Format::Text {
        say!("{n} notices for region {}", cfg.org);
    }
    Ok(ExitCode::SUCCESS)
}
