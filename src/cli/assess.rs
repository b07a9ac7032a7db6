//! `invoice-hub assess`: what the sending region's policy decides for each basis, and why — the
//! same decision the hub takes before anything is disclosed, so a region can try a policy on its
//! own bases before it is put in force.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use chrono::NaiveDate;
use serde::Serialize;

use super::validate::{collect_files, parse_day, read_limited};
use crate::cli::output::{csv_row, json_line};
use crate::cli::{EXIT_INVALID, EXIT_USAGE};
use crate::policy::{Assessor, Decision, PolicySet};
use crate::validate::{Finding, RuleContext, Validator};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    /// The decision, the policy and board decision, the matched rules and removals, per file.
    Text,
    /// One JSON object per file and line: {"file","basis_id","decision","policy_id",
    /// "policy_version","board_decision","rules","removed","reason"}, or {"file","basis_id",
    /// "decision":null,"findings"} for an invalid basis ("outcome", and "id"/"errors" for an
    /// invalid one, are the names before the output language, kept until format 2).
    Json,
    /// One row per file, with a header row: file,basis_id,decision,policy_id,policy_version,
    /// board_decision,rules,removed,findings,reason.
    Csv,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Each basis is first validated (a basis that breaks the contract is not \
assessed), then the policy of its sending region (supplierParty) in force on --today is applied: \
every rule whose condition holds for some unit of care matches, and the most restrictive action \
wins (reject > withhold > remove > disclose). A basis that no rule allows is withheld. After \
removals the document is validated again; if it no longer satisfies the contract it is withheld \
instead of sent broken.\n\n\
Exit status: 0 when every basis was assessed (whatever the outcome), 1 when any basis was invalid, \
2 for usage or I/O errors, and for a policy that cannot be loaded (the error names file, line and \
key).\n\n\
Examples:\n  \
invoice-hub assess --policy deploy/policies/ basis.xml\n  \
invoice-hub assess --policy deploy/policies/region-halland.toml --format json run/bases/\n  \
invoice-hub assess --policy deploy/policies/ --out disclosed/ run/bases/   # what would be sent"
)]
pub(super) struct Args {
    /// Bases to assess; a directory is walked for *.xml files (sorted).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// A policy file, or a directory of them (*.toml); may be given more than once.
    #[arg(long, required = true, value_name = "P")]
    pub policy: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Write each document that would be disclosed (as it would be sent, removals applied)
    /// into this directory, under its file name.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// The day to assess on instead of today (YYYYMMDD): picks the policy version in force
    /// and is the date the business rules compare with.
    #[arg(long, value_name = "YYYYMMDD", value_parser = parse_day)]
    pub today: Option<NaiveDate>,
}

/// An invalid basis's line of `--format json`: it was not assessed.
#[derive(Serialize)]
struct Invalid<'a> {
    file: String,
    basis_id: Option<&'a str>,
    decision: Option<&'static str>,
    findings: &'a [Finding],
    /// The names before the output language, kept until format 2.
    id: Option<&'a str>,
    outcome: &'static str,
    errors: &'a [Finding],
}

/// An assessed basis's line: the decision as the hub takes it (its `outcome` is the name the
/// decision word had before the output language, kept until format 2).
#[derive(Serialize)]
struct Assessed<'a> {
    file: String,
    decision: String,
    #[serde(flatten)]
    assessed: &'a Decision,
}

const COLUMNS: [&str; 10] = [
    "file",
    "basis_id",
    "decision",
    "policy_id",
    "policy_version",
    "board_decision",
    "rules",
    "removed",
    "findings",
    "reason",
];

/// The decision word (`disclose`, `remove`, `withhold`, `reject`), as the JSON says it.
fn decision_word(d: &Decision) -> String {
    serde_json::to_value(d.outcome)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn csv_assessed(file: &str, d: &Decision) -> [String; 10] {
    [
        file.to_owned(),
        d.basis_id.clone(),
        decision_word(d),
        d.policy_id.clone().unwrap_or_default(),
        d.policy_version.clone().unwrap_or_default(),
        d.board_decision
            .as_ref()
            .map(|b| b.reference.clone())
            .unwrap_or_default(),
        d.rule_ids().join(" "),
        d.removed.join(" "),
        String::new(),
        d.reason.clone().unwrap_or_default(),
    ]
}

#[expect(
    clippy::too_many_lines,
    reason = "the command's steps in order (policies, files, each file's decision in each format, the tally)"
)]
pub(super) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let policies = match PolicySet::load(&args.policy) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: policy not loaded: {e}");
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    let files = collect_files(&args.files)?;
    if files.is_empty() {
        anyhow::bail!("no .xml files found in the given directories");
    }
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let today = args.today.unwrap_or_else(crate::clock::today);
    let validator = Validator::new(RuleContext::new(today)).context("compiling the schemas")?;
    let assessor = Assessor::new(policies, validator.clone());

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.format == Format::Csv {
        csv_row(&mut out, &COLUMNS)?;
    }
    let (mut invalid, mut unreadable) = (0usize, 0usize);
    let mut tally = std::collections::BTreeMap::<String, usize>::new();
    for path in &files {
        let file = path.display().to_string();
        let bytes = match read_limited(path, validator.limits().max_bytes) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: {e:#}");
                unreadable += 1;
                continue;
            }
        };
        let report = validator.validate(&bytes);
        let Some(claim) = report.claim.as_ref().filter(|_| report.is_valid()) else {
            invalid += 1;
            match args.format {
                Format::Text => {
                    let id = report.id.as_deref().unwrap_or("id unknown");
                    writeln!(out, "{file}: INVALID ({id}), not assessed")?;
                    for f in &report.findings {
                        writeln!(out, "  {f}")?;
                    }
                }
                Format::Json => {
                    let line = Invalid {
                        file,
                        basis_id: report.id.as_deref(),
                        decision: None,
                        findings: &report.findings,
                        id: report.id.as_deref(),
                        outcome: "invalid",
                        errors: &report.findings,
                    };
                    json_line(&mut out, &line)?;
                }
                Format::Csv => {
                    let findings: Vec<String> =
                        report.findings.iter().map(|f| f.to_string()).collect();
                    let id = report.id.as_deref().unwrap_or("");
                    let reason = "invalid: not assessed";
                    let row = [
                        &file,
                        id,
                        "",
                        "",
                        "",
                        "",
                        "",
                        "",
                        &findings.join("\n"),
                        reason,
                    ];
                    csv_row(&mut out, &row)?;
                }
            }
            continue;
        };
        let decision = assessor.assess(&bytes, claim, today);
        *tally.entry(decision.outcome.to_string()).or_default() += 1;
        match args.format {
            Format::Text => write!(out, "{file}: {}", decision.text())?,
            Format::Json => {
                let line = Assessed {
                    file,
                    decision: decision_word(&decision),
                    assessed: &decision,
                };
                json_line(&mut out, &line)?;
            }
            Format::Csv => csv_row(&mut out, &csv_assessed(&file, &decision))?,
        }
        if let (Some(dir), Some(doc)) = (&args.out, &decision.disclosed) {
            let name = path.file_name().context("a file has no name")?;
            let target = dir.join(name);
            std::fs::write(&target, doc)
                .with_context(|| format!("writing {}", target.display()))?;
        }
    }
    out.flush().context("writing the decisions")?;
    if files.len() > 1 {
        let parts: Vec<String> = tally.iter().map(|(k, n)| format!("{n} {k}")).collect();
        eprintln!(
            "{} file(s): {}{}{}",
            files.len(),
            parts.join(", "),
            if invalid > 0 {
                format!(", {invalid} invalid (not assessed)")
            } else {
                String::new()
            },
            if unreadable > 0 {
                format!(", {unreadable} unreadable")
            } else {
                String::new()
            },
        );
    }
    Ok(if unreadable > 0 {
        ExitCode::from(EXIT_USAGE)
    } else if invalid > 0 {
        ExitCode::from(EXIT_INVALID)
    } else {
        ExitCode::SUCCESS
    })
}
