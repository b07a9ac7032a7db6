//! `invoice-hub pki`: development certificates for a whole federation on one machine.

use crate::cli::output::say;
use std::path::{Path, PathBuf};
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
    /// Issue one more certificate with the development CA of DIR (a new staff member, a
    /// replacement), written as DIR/<STEM>.pem and .key.
    ///
    /// Example: invoice-hub pki issue --dir run/pki --role reader --org 2321000016
    ///   --cn staff-2321000016-reader --hsa-id SE2321000016-READER2 --stem staff-2321000016-b
    Issue {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// reader, reviewer, region, store, hub, auditor.
        #[arg(long)]
        role: String,
        /// The organisation (a region's organisation number, or invoice-hub).
        #[arg(long)]
        org: String,
        #[arg(long)]
        cn: String,
        /// The holder's HSA-id, written as the subject's SERIALNUMBER. Without it the
        /// certificate can only be named by its key fingerprint.
        #[arg(long, value_name = "ID")]
        hsa_id: Option<String>,
        /// File name without extension.
        #[arg(long)]
        stem: String,
        #[arg(long, default_value_t = 365, value_name = "N")]
        days: u32,
    },
    /// Revoke a certificate of the development CA of DIR: it is added to DIR/crl.pem, which
    /// every edge configured with it reads again within its reload interval.
    ///
    /// Example: invoice-hub pki revoke --dir run/pki run/pki/staff-2321000016.pem
    ///   --reason affiliationChanged
    Revoke {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The certificate (PEM) to revoke.
        cert: PathBuf,
        /// unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation,
        /// privilegeWithdrawn.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Show how a certificate is named in permissions and logs: its identity (hsa:… or
    /// sha256:…), key fingerprint, issuer, serial and validity. Nothing secret is printed.
    ///
    /// Example: invoice-hub pki show run/pki/staff-2321000016.pem
    Show {
        /// A certificate (PEM).
        cert: PathBuf,
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
                "{:<32} {:<9} {:<12} {:<28} {:<26} valid until",
                "certificate (+ .key, 0600)",
                "role",
                "organisation",
                "common name",
                "identity (SERIALNUMBER)"
            );
            for w in &made.written {
                let file = w
                    .cert
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                say!(
                    "{:<32} {:<9} {:<12} {:<28} {:<26} {}",
                    file,
                    w.role.as_str(),
                    w.org,
                    w.cn,
                    format!("hsa:{}", w.hsa_id),
                    w.validity.not_after
                );
            }
            say!(
                "revocation list: {} (invoice-hub pki revoke --dir {} CERT)",
                out.join(pki::CRL_FILE).display(),
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Issue {
            dir,
            role,
            org,
            cn,
            hsa_id,
            stem,
            days,
        } => issue(&dir, &role, &org, &cn, hsa_id.as_deref(), &stem, days),
        Command::Revoke { dir, cert, reason } => revoke(&dir, &cert, reason.as_deref()),
        Command::Show { cert } => show(&cert),
    }
}

fn issue(
    dir: &Path,
    role: &str,
    org: &str,
    cn: &str,
    hsa_id: Option<&str>,
    stem: &str,
    days: u32,
) -> anyhow::Result<ExitCode> {
    let role = pki::Role::parse(role)
        .filter(|r| *r != pki::Role::Ca)
        .with_context(|| {
            format!("--role {role:?}: give reader, reviewer, region, store, hub, broker or auditor")
        })?;
    let usage = match role {
        pki::Role::Store | pki::Role::Broker | pki::Role::Gateway => pki::Usage::LocalServer,
        _ => pki::Usage::Client,
    };
    if let Some(h) = hsa_id {
        // The same rule as a permission's pin: what is issued can be named.
        format!("hsa:{h}")
            .parse::<pki::Pin>()
            .map_err(|e| anyhow::anyhow!("--hsa-id: {e}"))?;
    }
    let ca = pki::Ca::load(dir).with_context(|| format!("the CA in {}", dir.display()))?;
    let who = pki::Subject {
        role,
        org,
        cn,
        hsa_id,
    };
    let issued = ca.issue(&who, usage, pki::Validity::days(days))?;
    pki::ca::write_pair(dir, stem, &issued)?;
    say!(
        "{} ({role}, {org}, CN {cn}) is {}",
        dir.join(format!("{stem}.pem")).display(),
        show_id(&dir.join(format!("{stem}.pem")))?
    );
    Ok(ExitCode::SUCCESS)
}

fn revoke(dir: &Path, cert: &Path, reason: Option<&str>) -> anyhow::Result<ExitCode> {
    let reason = match reason {
        Some(r) => Some(pki::revoke::parse_reason(r).with_context(|| {
            format!("--reason {r:?}: give unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation or privilegeWithdrawn")
        })?),
        None => None,
    };
    let r =
        pki::revoke(dir, cert, reason).with_context(|| format!("revoking {}", cert.display()))?;
    say!(
        "{} {} (serial {}); {} lists {} certificate(s), CRL number {}",
        if r.added {
            "revoked"
        } else {
            "already revoked:"
        },
        r.who.id(),
        r.who.serial,
        r.crl.display(),
        r.listed,
        r.number
    );
    Ok(ExitCode::SUCCESS)
}

fn show_id(cert: &Path) -> anyhow::Result<String> {
    Ok(read_identity(cert)?.id())
}

fn read_identity(cert: &Path) -> anyhow::Result<pki::Identity> {
    let der = crate::tls::load_certs(cert)?.remove(0);
    pki::Identity::from_der(&der).with_context(|| format!("reading {}", cert.display()))
}

fn show(cert: &Path) -> anyhow::Result<ExitCode> {
    let who = read_identity(cert)?;
    say!("identity:    {}", who.id());
    say!("common name: {}", who.cn);
    say!(
        "role, org:   {}, {}",
        who.role.map_or("-", |r| r.as_str()),
        who.org.as_deref().unwrap_or("-")
    );
    say!(
        "HSA-id:      {}",
        who.hsa_id.as_deref().unwrap_or("- (none: named by key)")
    );
    say!("key:         sha256:{}", who.key_sha256);
    say!("issuer:      {}", who.issuer);
    say!("serial:      {}", who.serial);
    Ok(ExitCode::SUCCESS)
}
