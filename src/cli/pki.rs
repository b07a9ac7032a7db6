//! `invoice-hub pki`: development certificates for a whole federation on one machine.

use crate::cli::output::say;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::pki::{self, DevOptions};

#[derive(clap::Args, Debug)]
pub(super) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Make a development CA and certificates for the broker, the hub, an auditor and, per
    /// region, its broker identity, its store, a reader and a reviewer.
    ///
    /// Reuses the CA already in DIR (so certificates made earlier stay valid) unless --new-ca.
    /// Private keys are PKCS#8 PEM, mode 0600.
    Dev {
        /// Directory to write into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Regions, by county code or organisation number, comma separated (e.g. 01,13,14).
        #[arg(long, value_name = "LIST", required = true, num_args = 1..)]
        regions: Vec<String>,
        /// Make a new CA even if DIR holds one.
        #[arg(long)]
        new_ca: bool,
        /// Also write an expired reader certificate per region (staff-<org>-expired.pem), for
        /// testing that a store refuses it.
        #[arg(long)]
        expired: bool,
        /// Days the certificates are valid.
        #[arg(long, default_value_t = 365, value_name = "N")]
        days: u32,
    },
}

pub(super) fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Dev {
            out,
            regions,
            new_ca,
            expired,
            days,
        } => {
            let opts = DevOptions {
                regions,
                new_ca,
                expired,
                days,
            };
            let made = pki::generate(&out, &opts)
                .with_context(|| format!("making development certificates in {}", out.display()))?;
            say!(
                "{} CA in {} ({})",
                if made.ca_reused {
                    "reused the"
                } else {
                    "made a new"
                },
                out.display(),
                out.join("ca.pem").display()
            );
            say!(
                "{:<32} {:<9} {:<20} {:<28} valid until",
                "certificate (+ .key, 0600)",
                "role",
                "organisation",
                "common name"
            );
            for w in &made.written {
                let file = w
                    .cert
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                say!(
                    "{:<32} {:<9} {:<20} {:<28} {}",
                    file,
                    w.role.as_str(),
                    w.org,
                    w.cn,
                    w.validity.not_after
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
