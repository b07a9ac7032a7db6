//! `invoice-hub review`: the sending region's official reviews the bases its policy withheld
//! (menprövning), in the region's own store, over mutual TLS with their own certificate. Each
//! view and decision is in the store's access log under that certificate's identity; the hub
//! logs the decision in the disclosure log and, on a release, delivers the basis.

use std::process::ExitCode;

use anyhow::Context;
use hyper::{Method, StatusCode};

use crate::cli::output::say;
use crate::store::withheld::{Verdict, Withheld};

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:
  invoice-hub review --store https://store.region-halland.se:8443 --ca ca.pem \\
      --cert me.pem --key me.key list
  invoice-hub review ... show ZVF2321000115261100001
  invoice-hub review ... release ZVF2321000115261100001 --with-removals \\
      --reason \"menprövning: no harm for the patient in the removed form\"
  invoice-hub review ... keep ZVF2321000115261100001 --reason \"harm cannot be ruled out\"")]
pub(super) struct Args {
    /// The sending region's own store, and your certificate (one its `assessors` name).
    #[command(flatten)]
    conn: super::fetch::StoreConn,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// The withheld bases waiting for a decision, and those decided (no patient data).
    List,
    /// Why one basis was withheld, and the basis itself (the read is in the access log).
    Show { id: String },
    /// Release it to the receiving region: as received, or with the policy's removals.
    Release {
        id: String,
        /// Leave out what the policy's `remove` rules name.
        #[arg(long)]
        with_removals: bool,
        /// Your assessment, one line (no personal identity numbers).
        #[arg(long)]
        reason: String,
    },
    /// Keep it withheld.
    Keep {
        id: String,
        #[arg(long)]
        reason: String,
    },
}

pub(super) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut client = args.conn.client()?;
    let rt = super::runtime()?;
    rt.block_on(async move {
        let (method, path, body) = match &args.command {
            Command::List => (Method::GET, "/v1/review".to_string(), None),
            Command::Show { id } => (Method::GET, format!("/v1/review/{id}"), None),
            Command::Release {
                id,
                with_removals,
                reason,
            } => {
                let verdict = if *with_removals {
                    Verdict::ReleaseWithRemovals
                } else {
                    Verdict::Release
                };
                decision(id, verdict, reason)
            }
            Command::Keep { id, reason } => decision(id, Verdict::Keep, reason),
        };
        let a = client
            .request(method, &path, body.map(|b| (b.into(), "application/json")))
            .await
            .with_context(|| format!("asking {}", args.conn.store))?;
        if a.status != StatusCode::OK {
            return Err(super::fetch::refused(&a));
        }
        match &args.command {
            Command::List => {
                let items: Vec<Withheld> =
                    serde_json::from_slice(&a.body).context("the store's list is not JSON")?;
                print_list(&items)?;
            }
            Command::Show { .. } => say!("{}", a.text()),
            Command::Release { id, .. } | Command::Keep { id, .. } => {
                say!("{id}: decided; the hub logs it and acts on it at its next round");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn decision(id: &str, verdict: Verdict, reason: &str) -> (Method, String, Option<Vec<u8>>) {
    let body = serde_json::json!({"verdict": verdict.as_str(), "reason": reason});
    (
        Method::POST,
        format!("/v1/review/{id}/decision"),
        Some(body.to_string().into_bytes()),
    )
}

fn print_list(items: &[Withheld]) -> std::io::Result<()> {
    say!(
        "{:<28} {:<12} {:<20} {:<22} decision",
        "basis",
        "receiver",
        "withheld",
        "rules"
    );
    for w in items {
        let rules: Vec<&str> = w
            .why
            .rules
            .iter()
            .map(|r| r.split(':').next().unwrap_or(r))
            .collect();
        let decided = w.decided.as_ref().map_or("waiting".to_string(), |d| {
            format!("{} by {} ({})", d.verdict.as_str(), d.by, d.at)
        });
        say!(
            "{:<28} {:<12} {:<20} {:<22} {decided}",
            w.meta.id,
            w.why.receiver,
            w.meta.received_at,
            rules.join(",")
        );
    }
    Ok(())
}
