//! `invoice-hub publish`: a region's adapter. Sends invoice bases to the exchange over AMQPS with
//! the region's certificate and reports, per basis, whether the broker confirmed it — a confirmed
//! basis is on disk in the hub's queue and will get an outcome on the status queue; anything not
//! confirmed must be sent again (running the same command again is safe: the hub is idempotent).

use crate::cli::output::say;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};

use crate::broker::basis_id::basis_id;
use crate::broker::region::basis_message;
use crate::broker::{BrokerError, Publisher, RegionConfig, Session};
use crate::cli::EXIT_INVALID;

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Each basis is published persistent, with message_id = its basis id and \
user_id = the region's organisation number (the broker refuses any other), and counts only when \
the broker confirms it. Nacked, returned or unconfirmed messages are published again with backoff.\n\n\
Exit status: 0 when every basis was confirmed, 1 when any was not (the summary lists them), 2 for \
configuration errors or when the broker cannot be reached at all.\n\n\
Example:\n  invoice-hub publish --config deploy/region-stockholm.toml out/bases/"
)]
pub(super) struct Args {
    /// The region's configuration (organisation number, broker, certificate).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,

    /// Bases to publish; a directory is walked for *.xml files (sorted).
    #[arg(required = true, value_name = "FILE|DIR")]
    pub inputs: Vec<PathBuf>,

    /// Publishes awaiting a confirm at once (default from the config, 64).
    #[arg(long, value_name = "N")]
    pub in_flight: Option<usize>,

    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// What happened to one file.
enum Fate {
    Confirmed { attempts: u32 },
    Failed(String),
}

fn collect(inputs: &[PathBuf]) -> anyhow::Result<(Vec<PathBuf>, bool)> {
    let mut files = Vec::new();
    let mut any_dir = false;
    for input in inputs {
        if input.is_dir() {
            any_dir = true;
            let mut found: Vec<PathBuf> = walkdir::WalkDir::new(input)
                .into_iter()
                .filter_map(|e| e.ok())
                .filter(|e| e.file_type().is_file())
                .map(|e| e.into_path())
                .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("xml")))
                .collect();
            found.sort();
            files.extend(found);
        } else if input.exists() {
            files.push(input.clone());
        } else {
            anyhow::bail!("{}: no such file or directory", input.display());
        }
    }
    Ok((files, any_dir))
}

/// The broker user of the region's certificate, which must be the configured region's.
fn region_user(cfg: &crate::broker::RegionConfig) -> anyhow::Result<String> {
    let user = cfg.broker.user()?;
    match crate::tls::cert::broker_user_org(&user) {
        Some(org) if org == cfg.org => Ok(user),
        other => anyhow::bail!(
            "{}: this certificate is of {}, not of region {} (org in the configuration)",
            cfg.broker.cert.display(),
            other.map_or("no region".to_string(), |o| format!("region {o}")),
            cfg.org
        ),
    }
}

async fn publish_one(publisher: &Publisher, user: &str, path: &Path) -> Fate {
    let bytes = match tokio::fs::read(path).await {
        Ok(b) => b,
        Err(e) => return Fate::Failed(format!("cannot read: {e}")),
    };
    let id = match basis_id(&bytes) {
        Ok(id) => id,
        Err(e) => return Fate::Failed(e.to_string()),
    };
    match publisher.publish(&basis_message(user, &id, bytes)).await {
        Ok(c) => Fate::Confirmed {
            attempts: c.attempts,
        },
        Err(e) => Fate::Failed(format!("basis {id}: {}", describe(&e))),
    }
}

fn describe(e: &BrokerError) -> String {
    match e {
        BrokerError::Amqp(source) | BrokerError::Refused(source) => {
            match crate::broker::error::amqp_reply(source) {
                Some(reply) => format!("refused by the broker ({reply}): {source}"),
                None => e.to_string(),
            }
        }
        _ => e.to_string(),
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "the adapter's steps in order (files, connection, publish with confirms and progress, summary), each a few lines"
)]
pub(super) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let cfg = RegionConfig::load(&args.config).context("reading the region configuration")?;
    let (files, any_dir) = collect(&args.inputs)?;
    let user = region_user(&cfg)?;
    let in_flight = args.in_flight.unwrap_or(cfg.publish.in_flight).max(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let session = Arc::new(
            Session::new(cfg.broker.clone()).give_up_after(cfg.publish.connect_give_up()),
        );
        session
            .ensure_connected()
            .await
            .with_context(|| format!("connecting to the broker as region {}", cfg.org))?;
        let publisher = Publisher::new(session.clone())
            .max_attempts(cfg.publish.max_attempts)
            .confirm_timeout(cfg.publish.confirm_timeout());

        let bar = if any_dir && !args.quiet {
            let bar = ProgressBar::new(files.len() as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} {pos}/{len} bases confirmed or failed [{elapsed_precise}] {wide_bar} {per_sec}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        } else {
            ProgressBar::hidden()
        };

        let started = Instant::now();
        let results: Vec<(PathBuf, Fate)> = futures_util::stream::iter(files.iter().cloned())
            .map(|path| {
                let publisher = &publisher;
                let user = &user;
                let bar = &bar;
                async move {
                    let fate = publish_one(publisher, user, &path).await;
                    bar.inc(1);
                    (path, fate)
                }
            })
            .buffer_unordered(in_flight)
            .collect()
            .await;
        bar.finish_and_clear();
        let elapsed = started.elapsed();
        session.close().await;

        let confirmed = results
            .iter()
            .filter(|(_, f)| matches!(f, Fate::Confirmed { .. }))
            .count();
        let retried = results
            .iter()
            .filter(|(_, f)| matches!(f, Fate::Confirmed { attempts } if *attempts > 1))
            .count();
        let mut failed: Vec<(&PathBuf, &String)> = results
            .iter()
            .filter_map(|(p, f)| match f {
                Fate::Failed(why) => Some((p, why)),
                _ => None,
            })
            .collect();
        failed.sort();
        for (path, why) in &failed {
            eprintln!("NOT CONFIRMED {}: {why}", path.display());
        }
        let rate = confirmed as f64 / elapsed.as_secs_f64().max(1e-9);
        say!(
            "region {}: {} bases, {} confirmed ({} after a retry), {} not confirmed, {:.1} s, {:.0} bases/s",
            cfg.org,
            results.len(),
            confirmed,
            retried,
            failed.len(),
            elapsed.as_secs_f64(),
            rate
        );
        Ok(if failed.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(EXIT_INVALID)
        })
    })
}
