//! `invoice-hub receive`: a receiving region that pulls its bases takes them off its own delivery
//! queue, keeps each durably (its directory, or its own restricted store), and sends the hub a
//! receipt.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::broker::pull::{self, Outcome, Puller};
use crate::broker::RegionConfig;
use crate::cli::output::say;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "For each basis on the region's delivery queue (ih.deliver.<org>), in \
order: the basis is written to <[receive] dir>/<basis id>.xml (a temporary file, flushed, \
renamed, the directory flushed; mode 0600) or, with [receive] store = \"https://host:port\", \
PUT into the region's own restricted store with the region's certificate; a receipt (its SHA-256 \
and time, or the store's own receipt) is sent to the hub that decided and confirmed by the \
broker, and only then is the basis taken off the queue. A store that is down is tried again for \
up to 5 minutes. Killed \
at any moment, nothing is lost and nothing is written twice: a basis that comes again is found \
written and only its receipt is sent again. Other content under an id already written is not \
overwritten: it goes to the parked queue and the line says so.\n\n\
The hub then logs the delivery with this receipt, answers the sender OK and sends this region \
its notice. The region needs `sink = \"queue\"` in the hub's [receivers] and read permission on \
its delivery queue (broker/ctl --pull-regions).\n\n\
Without --follow: takes what is waiting and exits (for a scheduled job). With --follow: waits \
for more, across broker restarts, until SIGTERM or Ctrl-C.\n\n\
Examples:\n  invoice-hub receive --config deploy/region-vgr.toml --follow\n  \
invoice-hub receive --config deploy/region-vgr.toml            # what is waiting, then exit"
)]
pub(super) struct Args {
    /// The region's configuration, with a [receive] section naming the directory or the store.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Keep waiting for more (SIGTERM or Ctrl-C to stop).
    #[arg(long)]
    pub follow: bool,
}

pub(super) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = RegionConfig::load(&args.config).context("reading the region configuration")?;
    let Some(settings) = cfg.receive.clone() else {
        anyhow::bail!(
            "{}: no [receive] section: say where the bases go, e.g.\n\n[receive]\ndir = \"inbox\"",
            args.config.display()
        );
    };
    if let Some(dir) = &settings.dir {
        let removed = pull::prepare(dir).with_context(|| format!("preparing {}", dir.display()))?;
        if removed > 0 {
            eprintln!(
                "removed {removed} half-written file(s) in {}: those bases come again",
                dir.display()
            );
        }
    }
    let rt = super::runtime()?;
    let n = rt.block_on(async {
        let session = super::status::connect(&cfg).await?;
        let puller = Puller::new(&cfg.org, &settings, &cfg.broker, session.clone())
            .with_context(|| format!("{}: [receive]", args.config.display()))?;
        let received = if args.follow {
            puller.follow(super::stop_requested(), print).await
        } else {
            puller.drain(print).await
        };
        session.close().await;
        received.with_context(|| format!("receiving for region {}", cfg.org))
    })?;
    if !args.follow {
        say!("{n} bases received for region {}", cfg.org);
    }
    Ok(ExitCode::SUCCESS)
}

/// One line per basis: what was written where, or why it was refused. A closed output does
/// not stop the receiving (the files are what matters), so a failed write is ignored.
fn print(o: &Outcome) {
    use std::io::Write as _;
    let line = match o {
        Outcome::Received(rw) => {
            let (r, w) = &**rw;
            let what = if w.new { "wrote" } else { "already had" };
            format!(
                "{}  from {}  {what} {}  sha256 {}",
                r.handover.basis_id, r.handover.sender, w.place, w.receipt.sha256
            )
        }
        Outcome::Refused { message_id, why } => {
            format!("{message_id}  REFUSED (to the parked queue): {why}")
        }
    };
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}
