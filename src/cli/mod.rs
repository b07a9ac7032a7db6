//! The command line: one subcommand per thing a user of the exchange does. Each subcommand lives
//! in its own file and calls into the part that owns the work; this file only dispatches.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod assess;
mod audit;
mod fetch;
mod gateway;
mod gen;
mod hub;
mod notify;
mod output;
mod pki;
mod publish;
mod receive;
mod review;
mod status;
mod store;
mod validate;
mod witness;

/// Exit code for "the input was checked and something in it is wrong".
pub const EXIT_INVALID: u8 = 1;
/// Exit code for usage, configuration and I/O errors: nothing was checked.
pub const EXIT_USAGE: u8 = 2;
/// Exit code for "the answer is only part of what was asked": a query cut at `--limit`. A
/// script that reads CSV or JSON must not take a first page for the whole.
pub const EXIT_CUT: u8 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "invoice-hub",
    version,
    about = "Exchange of out-of-county invoice bases (ProcessClaimSpecification 1.1) between Swedish regions",
    long_about = "invoice-hub carries the invoice basis (fakturaunderlag) from the region that gave care to \
the patient's home region: it validates each basis against the national contract's schema and \
business rules, applies the sending region's standardised harm assessment, delivers over mutual \
TLS to the receiving region's restricted store and keeps a tamper-evident disclosure log.\n\n\
A sending region uses `validate`, `publish` and `status`; a receiving region `notify` and `fetch` \
(or `receive`, when it pulls its bases); \
an operator `hub`, `store` and `pki`; an auditor `audit`."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Check invoice bases against the contract's XSD and business rules (ÖR1–ÖR52).
    Validate(validate::Args),
    /// Apply a region's confidentiality policy to invoice bases and explain the decision.
    Assess(assess::Args),
    /// Generate realistic synthetic invoice bases (deterministic for a seed).
    Gen(gen::Args),
    /// Publish invoice bases to the exchange as a sending region.
    Publish(publish::Args),
    /// Show the outcome of what this region sent.
    Status(status::Args),
    /// Show the notices of what arrived for this region.
    Notify(notify::Args),
    /// Take this region's bases off its delivery queue into a directory (pull delivery).
    Receive(receive::Args),
    /// Run the routing core.
    Hub(hub::Args),
    /// Run a receiving region's restricted store.
    Store(store::Args),
    /// Run the SOAP gateway: the national contract ProcessClaimSpecification 1.1 for the
    /// regions' existing systems.
    Gateway(gateway::Args),
    /// Run a witness of disclosure logs alone: it keeps the hub's signed heads and refuses one
    /// that forks or shrinks the log.
    Witness(witness::Args),
    /// Read from a restricted store as named staff.
    Fetch(fetch::Args),
    /// Review the bases this region's policy withheld (menprövning): release or keep.
    Review(review::Args),
    /// Query, verify and prove the disclosure log.
    Audit(audit::Args),
    /// Make development certificates.
    Pki(pki::Args),
}

/// Logs of a daemon (`store`, `gateway`): to stderr, `RUST_LOG` or `info`, colour only on a
/// terminal.
fn init_daemon_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// The single-threaded runtime a client command (`fetch`, `review`, `status`, …) runs its
/// requests on.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context as _;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// SIGTERM or Ctrl-C: how an operator (or systemd) asks a long-running command — `hub`, `store`,
/// `receive --follow` — to finish what it holds and stop.
pub(crate) async fn stop_requested() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("a SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Parses the command line, runs the subcommand and maps its outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Once, before anything speaks TLS (lapin builds its configuration with the default).
    crate::tls::provider();
    let result = match cli.command {
        Command::Validate(a) => validate::run(a),
        Command::Assess(a) => assess::run(a),
        Command::Gen(a) => gen::run(a),
        Command::Publish(a) => publish::run(a),
        Command::Status(a) => status::run(a),
        Command::Notify(a) => notify::run(a),
        Command::Receive(a) => receive::run(a),
        Command::Hub(a) => hub::run(a),
        Command::Store(a) => store::run(a),
        Command::Gateway(a) => gateway::run(a),
        Command::Witness(a) => witness::run(a),
        Command::Fetch(a) => fetch::run(a),
        Command::Review(a) => review::run(a),
        Command::Audit(a) => audit::run(a),
        Command::Pki(a) => pki::run(a),
    };
    match result {
        Ok(code) => code,
        // `| head` stopped reading: nothing went wrong that the user needs to hear about.
        Err(e) if output::closed_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", describe(&e));
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// An error and its causes on one line, as `{:#}` writes them, but without a cause the text
/// already holds: the library errors say their source in their own message (`{path}: {source}`),
/// and `{:#}` would say it twice ("No such file or directory (os error 2): No such file …").
fn describe(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

#[cfg(test)]
mod describe_tests {
    #[test]
    fn a_cause_is_said_once() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let e = anyhow::Error::new(crate::audit::AuditError::io("k.pub", io)).context("loading");
        assert_eq!(super::describe(&e), "loading: k.pub: gone");
    }
}
