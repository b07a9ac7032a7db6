//! `invoice-hub notify`: what arrived in this region's store — basis id, sender and the store's
//! receipt, never patient data — read from the region's own notify queue.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::broker::messages::Notice;
use crate::broker::RegionConfig;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Without --follow: prints what is waiting and exits. Notices are taken \
off the queue once printed; --keep leaves them there. Fetch the bases themselves from the store \
with `invoice-hub fetch`.\n\n\
Example:\n  invoice-hub notify --config deploy/region-vgr.toml --follow"
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
    #[arg(long, value_enum, default_value_t = super::status::Format::Text)]
    pub format: super::status::Format,
}

pub(super) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = RegionConfig::load(&args.config).context("reading the region configuration")?;
    let queue = cfg.notify_queue();
    let format = args.format;
    let n = super::status::read_queue(&cfg, &queue, args.follow, args.keep, |body, id| {
        match serde_json::from_slice::<Notice>(body) {
            Ok(n) => match format {
                super::status::Format::Text => println!("{}", n.summary_line()),
                super::status::Format::Json => println!("{}", String::from_utf8_lossy(body)),
            },
            Err(e) => eprintln!("skipping an unreadable notice {id}: {e}"),
        }
    })?;
    if !args.follow && format == super::status::Format::Text {
        println!("{n} notices for region {}", cfg.org);
    }
    Ok(ExitCode::SUCCESS)
}
