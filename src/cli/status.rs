//! `invoice-hub status`: the outcome of what this region sent (OK with the store's receipt, ERROR
//! with every finding, WITHHELD with the policy rule and board decision), read from the region's
//! own status queue — the broker lets no other region read it. A basis disclosed to a receiver
//! whose delivery is held up is first said QUEUED (not final: its OK follows).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::broker::inbox::{self, Mode};
use crate::broker::messages::{Outcome, StatusMessage};
use crate::broker::{RegionConfig, Session};
use crate::cli::output::{csv_row, say, Format};

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Without --follow: prints what is waiting and exits. Messages are taken \
off the queue once printed; --keep leaves them there.\n\n\
--format json prints each status message as it travels (invoice-hub.status.v1, one per line); \
--format csv one row per basis: basis_id,outcome,receiver,rule,board_decision,reason,findings,\
receipt_sha256,at. docs/output.md has the field names and outcome words.\n\n\
Examples:\n  invoice-hub status --config deploy/region-stockholm.toml --follow\n  \
invoice-hub status --config deploy/region-stockholm.toml --keep --format csv > outcomes.csv"
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
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// The CSV columns of `status --format csv`.
const COLUMNS: [&str; 9] = [
    "basis_id",
    "outcome",
    "receiver",
    "rule",
    "board_decision",
    "reason",
    "findings",
    "receipt_sha256",
    "at",
];

fn csv(s: &StatusMessage) -> [String; 9] {
    let w = s.withheld.as_ref();
    let findings = s.findings.iter().map(|f| f.to_string()).collect::<Vec<_>>();
    [
        s.basis_id.clone(),
        s.outcome.to_string(),
        s.receiver.clone().unwrap_or_default(),
        w.map(|w| w.rule.clone()).unwrap_or_default(),
        w.map(|w| w.board_decision.clone()).unwrap_or_default(),
        w.map(|w| w.reason.clone())
            .or_else(|| s.waiting.clone())
            .unwrap_or_default(),
        findings.join("\n"),
        s.receipt
            .as_ref()
            .map(|r| r.sha256.clone())
            .unwrap_or_default(),
        s.at.to_rfc3339(),
    ]
}

pub(super) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = RegionConfig::load(&args.config).context("reading the region configuration")?;
    let queue = cfg.status_queue();
    let mut counts = [0usize; 5];
    let format = args.format;
    if format == Format::Csv {
        csv_row(&mut std::io::stdout().lock(), &COLUMNS)?;
    }
    let n = read_queue(&cfg, &queue, args.follow, args.keep, |body, id| {
        let s = match serde_json::from_slice::<StatusMessage>(body) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("skipping an unreadable status message {id}: {e}");
                return Ok(());
            }
        };
        counts[match s.outcome {
            Outcome::Ok => 0,
            Outcome::Error => 1,
            Outcome::Withheld => 2,
            Outcome::Rejected => 3,
            Outcome::Queued | Outcome::Accepted => 4,
        }] += 1;
        match format {
            Format::Text => say!("{}", s.summary_line()),
            Format::Json => say!("{}", String::from_utf8_lossy(body)),
            Format::Csv => csv_row(&mut std::io::stdout().lock(), &csv(&s))?,
        }
        Ok(())
    })?;
    if !args.follow && format == Format::Text {
        say!(
            "{} outcomes for region {}: {} OK, {} ERROR, {} WITHHELD, {} REJECTED",
            n - counts[4],
            cfg.org,
            counts[0],
            counts[1],
            counts[2],
            counts[3]
        );
        if counts[4] > 0 {
            say!(
                "{} QUEUED: disclosed, waiting for a receiver whose delivery is held up (their OK follows)",
                counts[4]
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A region's connection to the broker, made now so that a wrong certificate or an unknown user
/// is said at once; it gives up after `connect_give_up_secs` without a broker. Shared by the
/// region's commands that read (`status`, `notify`, `receive`).
pub(crate) async fn connect(cfg: &RegionConfig) -> anyhow::Result<Arc<Session>> {
    let session = Arc::new(
        Session::new(cfg.broker.clone())
            .give_up_after(Duration::from_secs(cfg.publish.connect_give_up_secs)),
    );
    session
        .ensure_connected()
        .await
        .with_context(|| format!("connecting to the broker as region {}", cfg.org))?;
    Ok(session)
}

/// Shared by `status` and `notify`: drain or follow one of the region's queues, handing each body
/// (and its message id, for messages about unreadable ones) to `print`. A message is taken off
/// the queue only once `print` has written it: if it fails (the output pipe closed), reading
/// stops and that message and the rest stay where they were.
pub(crate) fn read_queue(
    cfg: &RegionConfig,
    queue: &str,
    follow: bool,
    keep: bool,
    mut print: impl FnMut(&[u8], &str) -> anyhow::Result<()>,
) -> anyhow::Result<usize> {
    let rt = super::runtime()?;
    rt.block_on(async {
        let session = connect(cfg).await?;
        let mode = if follow {
            Mode::Follow
        } else {
            Mode::Drain { keep }
        };
        let reading = inbox::read_with(session.clone(), queue, mode, |d| {
            let id = d
                .properties
                .message_id()
                .as_ref()
                .map(|s| s.to_string())
                .unwrap_or_default();
            print(&d.data, &id)
        });
        let n = tokio::select! {
            r = reading => r.with_context(|| format!("reading {queue}"))?,
            _ = tokio::signal::ctrl_c() => 0,
        };
        session.close().await;
        Ok(n)
    })
}
