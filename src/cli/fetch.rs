//! `invoice-hub fetch`: read from a region's restricted store as named staff (or, for the access
//! log, as a reviewer), over mutual TLS with one's own certificate.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use hyper::{Method, StatusCode};

use std::io::Write as _;

use crate::audit::Entry;
use crate::cli::output::{csv_row, json_line, say, Format};
use crate::store::client::Answer;
use crate::store::StoreClient;

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    #[command(flatten)]
    conn: StoreConn,
    #[command(subcommand)]
    command: Command,
}

/// Where a store is and who one is there: `fetch` and `review` connect the same way.
#[derive(clap::Args, Debug)]
pub(super) struct StoreConn {
    /// The store, `https://host:port`.
    #[arg(long, env = "IH_STORE", value_name = "URL")]
    pub(super) store: String,
    /// Your certificate (PEM).
    #[arg(long, env = "IH_CERT", value_name = "FILE")]
    cert: PathBuf,
    /// Your private key (PEM).
    #[arg(long, env = "IH_KEY", value_name = "FILE")]
    key: PathBuf,
    /// The federation CA the store's certificate must chain to.
    #[arg(long, env = "IH_CA", value_name = "FILE")]
    ca: PathBuf,
}

impl StoreConn {
    /// A client of the store with one's own certificate.
    pub(super) fn client(&self) -> anyhow::Result<StoreClient> {
        StoreClient::from_files(&self.store, &self.ca, &self.cert, &self.key)
            .context("setting up the connection to the store")
    }
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
        /// Output format: text (a table), json (one object per basis and line), csv
        /// (seq,basis_id,sender,received_at,sha256,size).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The store's own answer (one JSON page: items, next_after), as before the output
        /// language; kept until format 2.
        #[arg(long, conflicts_with = "format")]
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
        /// Only entries of this identity (`hsa:<HSA-id>` or `sha256:<key>`, as the log records
        /// readers; see `invoice-hub pki show CERT`).
        #[arg(long, value_name = "ID")]
        actor: Option<String>,
        #[arg(long)]
        basis: Option<String>,
        #[arg(long)]
        after: Option<u64>,
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Output format: json (the store's page: size, entries, next_after), text (a table),
        /// csv (the columns of `audit query --format csv`).
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
    },
    /// Have the store recompute and check its access log (reviewers).
    VerifyLog {
        /// Output format: json (the store's report and signed head), text (one line).
        #[arg(long, value_enum, default_value_t = Format::Json)]
        format: Format,
    },
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

pub(super) fn refused(a: &Answer) -> anyhow::Error {
    let msg = a
        .json()
        .and_then(|j| j.get("error").and_then(|e| e.as_str()).map(str::to_string))
        .unwrap_or_else(|| a.text());
    anyhow::anyhow!("the store answered {}: {msg}", a.status)
}

#[expect(
    clippy::too_many_lines,
    reason = "one arm per subcommand, each the request and its output in the order the user sees them"
)]
pub(super) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut client = args.conn.client()?;
    let rt = super::runtime()?;
    rt.block_on(async move {
        match args.command {
            Command::List {
                sender,
                since,
                until,
                after,
                limit,
                format,
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
                    say!("{}", a.text());
                    return Ok(ExitCode::SUCCESS);
                }
                let j = a.json().context("the store's answer is not JSON")?;
                print_list(&j, format)?;
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
                format,
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
                if format == Format::Json {
                    say!("{}", a.text());
                } else {
                    let j = a.json().context("the store's answer is not JSON")?;
                    let entries: Vec<Entry> = serde_json::from_value(j["entries"].clone())
                        .context("the store's access log entries do not read")?;
                    let mut out = std::io::stdout().lock();
                    match format {
                        Format::Csv => super::audit::write_csv(&mut out, &entries, None)?,
                        _ => super::audit::write_table(&mut out, &entries, None)?,
                    }
                    if let Some(n) = j["next_after"].as_u64() {
                        eprintln!("more: --after {n}");
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
            Command::VerifyLog { format } => {
                let format = format.for_report()?;
                let a = client
                    .request(Method::GET, "/v1/access-log/verify", None)
                    .await
                    .context("verifying the access log")?;
                if a.status != StatusCode::OK {
                    return Err(refused(&a));
                }
                let ok = a.json().and_then(|j| j["ok"].as_bool()).unwrap_or(false);
                match format {
                    Format::Text => say!(
                        "{}: the store's access log {}",
                        args.conn.store,
                        if ok { "verifies" } else { "does NOT verify" }
                    ),
                    _ => say!("{}", a.text()),
                }
                if !ok {
                    bail!("the store's access log does not verify");
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

/// One page of `fetch list` in `format`; the next page's `--after` on standard error.
fn print_list(page: &serde_json::Value, format: Format) -> anyhow::Result<()> {
    const COLUMNS: [&str; 6] = ["seq", "basis_id", "sender", "received_at", "sha256", "size"];
    let mut out = std::io::stdout().lock();
    let items = page["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let field = |it: &serde_json::Value, k: &str| match &it[k] {
        serde_json::Value::String(s) => s.clone(),
        v => v.to_string(),
    };
    match format {
        Format::Text => {
            writeln!(
                out,
                "{:>6}  {:<26} {:<11} {:<21} sha256",
                "seq", "id", "sender", "received"
            )?;
            for it in items {
                writeln!(
                    out,
                    "{:>6}  {:<26} {:<11} {:<21} {}",
                    field(it, "seq"),
                    field(it, "id"),
                    field(it, "sender"),
                    field(it, "received_at"),
                    field(it, "sha256")
                )?;
            }
        }
        Format::Json => {
            for it in items {
                let line = serde_json::json!({
                    "seq": it["seq"], "basis_id": it["id"], "sender": it["sender"],
                    "received_at": it["received_at"], "sha256": it["sha256"], "size": it["size"],
                });
                json_line(&mut out, &line)?;
            }
        }
        Format::Csv => {
            csv_row(&mut out, &COLUMNS)?;
            for it in items {
                let row =
                    ["seq", "id", "sender", "received_at", "sha256", "size"].map(|k| field(it, k));
                csv_row(&mut out, &row)?;
            }
        }
    }
    if let Some(n) = page["next_after"].as_u64() {
        if format == Format::Text {
            writeln!(out, "more: --after {n}")?;
        } else {
            eprintln!("more: --after {n}");
        }
    }
    Ok(())
}
