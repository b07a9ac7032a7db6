//! `invoice-hub status`: the outcome of what this region sent (OK with the store's receipt, ERROR
//! with every finding, WITHHELD with the policy rule and board decision), read from the region's
//! own status queue — the broker lets no other region read it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::broker::inbox::{self, Mode};
use crate::broker::messages::{Outcome, StatusMessage};
use crate::broker::{BrokerError, RegionConfig, Session};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    /// One line per basis (and one per finding).
    Text,
    /// The status messages as they travel, one JSON object per line.
    Json,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Without --follow: prints what is waiting and exits. Messages are taken \
off the queue once printed; --keep leaves them there.\n\n\
Example:\n  invoice-hub status --config deploy/region-stockholm.toml --follow"
)]
pub(super) struct Args {
    /// The region's configuration.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Keep waiting for more (Ctrl-C to stop).
    #[arg(long)]
    pub follow: bool,
    /// Leave the messages on the queue (not with --follow).
    #[arg(long, conflicts_with = "follow")]
    pub keep: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub(super) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = RegionConfig::load(&args.config).context("reading the region configuration")?;
    let queue = cfg.status_queue();
    let mut counts = [0usize; 4];
    let format = args.format;
    let n = read_queue(
        &cfg,
        &queue,
        args.follow,
        args.keep,
        |body, id| match serde_json::from_slice::<StatusMessage>(body) {
            Ok(s) => {
                counts[match s.outcome {
                    Outcome::Ok => 0,
                    Outcome::Error => 1,
                    Outcome::Withheld => 2,
                    Outcome::Rejected => 3,
                }] += 1;
                match format {
                    Format::Text => println!("{}", s.summary_line()),
                    Format::Json => println!("{}", String::from_utf8_lossy(body)),
                }
            }
            Err(e) => eprintln!("skipping an unreadable status message {id}: {e}"),
        },
    )?;
    if !args.follow && format == Format::Text {
        println!(
            "{n} outcomes for region {}: {} OK, {} ERROR, {} WITHHELD, {} REJECTED",
            cfg.org, counts[0], counts[1], counts[2], counts[3]
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Shared by `status` and `notify`: drain or follow one of the region's queues, handing each body
/// (and its message id, for messages about unreadable ones) to `print`.
pub(crate) fn read_queue(
    cfg: &RegionConfig,
    queue: &str,
    follow: bool,
    keep: bool,
    mut print: impl FnMut(&[u8], &str),
) -> anyhow::Result<usize> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async {
        let session = Arc::new(
            Session::new(cfg.broker.clone())
                .give_up_after(Duration::from_secs(cfg.publish.connect_give_up_secs)),
        );
        session
            .ensure_connected()
            .await
            .with_context(|| format!("connecting to the broker as region {}", cfg.org))?;
        let mode = if follow {
            Mode::Follow
        } else {
            Mode::Drain { keep }
        };
        let reading = inbox::read(session.clone(), queue, mode, |d| {
            let id = d
                .properties
                .message_id()
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default();
            print(&d.data, &id);
            Ok::<(), BrokerError>(())
        });
        let n = tokio::select! {
            r = reading => r.with_context(|| format!("reading {queue}"))?,
            _ = tokio::signal::ctrl_c() => 0,
        };
        session.close().await;
        Ok(n)
    })
}
