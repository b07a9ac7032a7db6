//! `invoice-hub fetch`: read from a region's restricted store as named staff (or, for the access
//! log, as a reviewer), over mutual TLS with one's own certificate.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use hyper::{Method, StatusCode};

use crate::store::client::Answer;
use crate::store::StoreClient;

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    /// The store, `https://host:port`.
    #[arg(long, env = "IH_STORE", value_name = "URL")]
    store: String,
    /// Your certificate (PEM).
    #[arg(long, env = "IH_CERT", value_name = "FILE")]
    cert: PathBuf,
    /// Your private key (PEM).
    #[arg(long, env = "IH_KEY", value_name = "FILE")]
    key: PathBuf,
    /// The federation CA the store's certificate must chain to.
    #[arg(long, env = "IH_CA", value_name = "FILE")]
    ca: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// List bases (metadata only: id, sender, time received, SHA-256), oldest first.
    List {
        /// Only from this sender (organisation number).
        #[arg(long)]
        sender: Option<String>,
        /// Received at or after (RFC 3339, e.g. 2026-11-01T00:00:00Z).
        #[arg(long)]
        since: Option<String>,
        /// Received before.
        #[arg(long)]
        until: Option<String>,
        /// Start after this sequence number (the `next` of the previous page).
        #[arg(long)]
        after: Option<u64>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print the store's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Fetch one basis (the read is recorded in the store's access log).
    Get {
        id: String,
        /// Write the XML here instead of standard output (created with mode 0600).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Show the store's access log (reviewers).
    AccessLog {
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        basis: Option<String>,
        #[arg(long)]
        after: Option<u64>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Have the store recompute and check its access log (reviewers).
    VerifyLog,
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v))))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn refused(a: &Answer) -> anyhow::Error {
    let msg = a
        .json()
        .and_then(|j| j.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_else(|| a.text());
    anyhow::anyhow!("the store answered {}: {msg}", a.status)
}

#[expect(
    clippy::too_many_lines,
    reason = "the command's steps in the order its user sees them (arguments, client, request, output); the output moves to the one output language next (issue 22, item 6)"
)]
pub(super) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut client = StoreClient::from_files(&args.store, &args.ca, &args.cert, &args.key)
        .context("setting up the connection to the store")?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        match args.command {
            Command::List {
                sender,
                since,
                until,
                after,
                limit,
                json,
            } => {
                let q = query(&[
                    ("sender", sender),
                    ("since", since),
                    ("until", until),
                    ("after", after.map(|a| a.to_string())),
                    ("limit", Some(limit.to_string())),
                ]);
                let a = client.list(&q).await.context("listing bases")?;
                if a.status != StatusCode::OK {
                    return Err(refused(&a));
                }
                if json {
                    println!("{}", a.text());
                    return Ok(ExitCode::SUCCESS);
                }
                let j = a.json().context("the store's answer is not JSON")?;
                println!(
                    "{:>6}  {:<26} {:<11} {:<21} sha256",
                    "seq", "id", "sender", "received"
                );
                for it in j["items"].as_array().into_iter().flatten() {
                    println!(
                        "{:>6}  {:<26} {:<11} {:<21} {}",
                        it["seq"],
                        it["id"].as_str().unwrap_or(""),
                        it["sender"].as_str().unwrap_or(""),
                        it["received_at"].as_str().unwrap_or(""),
                        it["sha256"].as_str().unwrap_or("")
                    );
                }
                if let Some(n) = j["next_after"].as_u64() {
                    println!("more: --after {n}");
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::Get { id, out } => {
                let a = client
                    .get_claim(&id)
                    .await
                    .with_context(|| format!("fetching basis {id}"))?;
                if a.status != StatusCode::OK {
                    return Err(refused(&a));
                }
                match out {
                    Some(path) => {
                        use std::io::Write;
                        use std::os::unix::fs::OpenOptionsExt;
                        let mut f = std::fs::OpenOptions::new()
                            .write(true)
                            .create(true)
                            .truncate(true)
                            .mode(0o600)
                            .open(&path)
                            .with_context(|| format!("creating {}", path.display()))?;
                        f.write_all(&a.body)
                            .with_context(|| format!("writing {}", path.display()))?;
                        eprintln!("basis {id}: {} bytes to {}", a.body.len(), path.display());
                    }
                    None => {
                        use std::io::Write;
                        std::io::stdout()
                            .write_all(&a.body)
                            .context("writing to standard output")?;
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::AccessLog {
                actor,
                basis,
                after,
                limit,
            } => {
                let q = query(&[
                    ("actor", actor),
                    ("basis", basis),
                    ("after", after.map(|a| a.to_string())),
                    ("limit", Some(limit.to_string())),
                ]);
                let a = client
                    .request(Method::GET, &format!("/v1/access-log?{q}"), None)
                    .await
                    .context("reading the access log")?;
                if a.status != StatusCode::OK {
                    return Err(refused(&a));
                }
                println!("{}", a.text());
                Ok(ExitCode::SUCCESS)
            }
            Command::VerifyLog => {
                let a = client
                    .request(Method::GET, "/v1/access-log/verify", None)
                    .await
                    .context("verifying the access log")?;
                if a.status != StatusCode::OK {
                    return Err(refused(&a));
                }
                println!("{}", a.text());
                let ok = a.json().and_then(|j| j["ok"].as_bool()).unwrap_or(false);
                if !ok {
                    bail!("the store's access log does not verify");
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}
