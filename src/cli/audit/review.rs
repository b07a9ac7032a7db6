//! `invoice-hub audit review-report`: the periodic access review over one or more stores'
//! access logs ([`crate::audit::review`]), as text a reviewer reads or JSON to file.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};

use super::parse_when;
use crate::audit::review::{review, IdentityReads, ReviewOptions, ReviewReport};
use crate::audit::{AuditLog, Event, Query};
use crate::cli::output::Format;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
invoice-hub audit --log store-2321000016/data/access-log review-report --from 2026-11-01 --to 2026-12-01\n  \
invoice-hub audit --log A/access-log --log B/access-log review-report --from 2026-11-01 --to 2026-12-01 \\\n      \
--office-hours 7-17 --many-patients 30 --format json > review-2026-11.json\n\n\
Lists, for the period: each certificate identity's reads (entries, bases, patients, settled), reads \
outside office hours (weekends always), identities that read at least --many-patients patients' \
bases, and bases an identity read but never marked processed or disputed. Public holidays are not \
known: a reviewer reads those days' entries with that in mind.")]
pub(in crate::cli) struct ReviewArgs {
    /// From this time (inclusive): YYYY-MM-DD (UTC midnight) or RFC 3339.
    #[arg(long, value_parser = parse_when)]
    pub from: DateTime<Utc>,
    /// Up to this time (exclusive).
    #[arg(long, value_parser = parse_when)]
    pub to: DateTime<Utc>,
    /// Office hours, Swedish time, Monday to Friday: FROM-TO in whole hours.
    #[arg(long, default_value = "7-18", value_parser = parse_hours)]
    pub office_hours: (u32, u32),
    /// List an identity that read at least this many patients' bases in the period.
    #[arg(long, default_value_t = 50)]
    pub many_patients: usize,
    /// text (headed sections) or json (the whole report).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

fn parse_hours(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("{s:?}: office hours are FROM-TO in whole hours, e.g. 7-18");
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let (a, b): (u32, u32) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if a >= b || b > 24 {
        return Err(bad());
    }
    Ok((a, b))
}

/// Reads every `accessed` entry of the period from each log (private copies: the logs' files
/// stay as they were) and prints the report.
pub(super) fn run(dirs: &[PathBuf], a: ReviewArgs) -> anyhow::Result<ExitCode> {
    if a.from >= a.to {
        bail!("--from must be before --to");
    }
    let mut entries = Vec::new();
    for dir in dirs {
        let log = AuditLog::open_evidence(dir)
            .with_context(|| format!("opening the access log {}", dir.display()))?;
        let q = Query {
            event: Some(Event::Accessed),
            from: Some(a.from),
            to: Some(a.to),
            ..Default::default()
        };
        let res = log
            .query(&q)
            .with_context(|| format!("reading {}", dir.display()))?;
        let id = log.log_id().to_string();
        entries.extend(res.entries.into_iter().map(|e| (id.clone(), e)));
    }
    let opts = ReviewOptions {
        office_from: a.office_hours.0,
        office_to: a.office_hours.1,
        many_patients: a.many_patients,
    };
    let report = review(&entries, &opts);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match a.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        Format::Text | Format::Csv => write_text(&mut out, &report, &a)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn identity_line(out: &mut impl Write, i: &IdentityReads) -> std::io::Result<()> {
    let actions: Vec<String> = i.actions.iter().map(|(k, v)| format!("{k} {v}")).collect();
    writeln!(
        out,
        "  {}: {} reads of {} bases, {} patients, {} settled ({}); {} … {}",
        i.actor,
        i.reads,
        i.bases,
        i.patients,
        i.settled,
        actions.join(", "),
        i.first,
        i.last
    )
}

fn write_text(out: &mut impl Write, r: &ReviewReport, a: &ReviewArgs) -> std::io::Result<()> {
    writeln!(
        out,
        "Access review {} – {}: {} entries",
        a.from.format("%Y-%m-%d %H:%M UTC"),
        a.to.format("%Y-%m-%d %H:%M UTC"),
        r.entries
    )?;
    writeln!(out, "\nReads per identity ({}):", r.per_identity.len())?;
    for i in &r.per_identity {
        identity_line(out, i)?;
    }
    writeln!(
        out,
        "\nReads outside office hours, {} ({}):",
        r.office_hours,
        r.outside_office_hours.len()
    )?;
    for x in &r.outside_office_hours {
        writeln!(
            out,
            "  {}  {}  {} {}  ({} #{})",
            x.time, x.actor, x.action, x.basis, x.log, x.seq
        )?;
    }
    writeln!(
        out,
        "\nIdentities that read {} or more patients' bases ({}):",
        r.many_patients_threshold,
        r.many_patients.len()
    )?;
    for i in &r.many_patients {
        identity_line(out, i)?;
    }
    writeln!(
        out,
        "\nBases read by an identity that never processed or disputed them ({}):",
        r.read_never_settled.len()
    )?;
    for u in &r.read_never_settled {
        writeln!(
            out,
            "  {}  {}  {} reads, first {}",
            u.actor, u.basis, u.reads, u.first_read
        )?;
    }
    Ok(())
}
