//! `invoice-hub validate`: checks invoice bases the way a receiving region will, before they are
//! sent. Every file gets every layer (safety limits, the contract's XSD, the business rules),
//! and the exit code says whether all of them passed.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};

use anyhow::{bail, Context};
use chrono::NaiveDate;
use serde::Serialize;

use crate::cli::output::{csv_row, json_line};
use crate::cli::{EXIT_INVALID, EXIT_USAGE};
use crate::validate::{Finding, Limits, Profile, Report, RuleContext, Validator};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    /// One line per file (OK/ERROR and the basis id), then one indented line per problem.
    Text,
    /// One JSON object per file and line:
    /// {"file","basis_id","outcome":"OK"|"ERROR"|"UNREADABLE","findings":[{"rule","path","message"}],
    /// "warnings":[…]} (and, until format 2, the same as "id", "result" and "errors").
    Json,
    /// One row per finding (one for a file without any), with a header row:
    /// file,basis_id,outcome,severity,rule,path,message.
    Csv,
    /// The contract's own answer, a ProcessClaimSpecificationResponse document per file
    /// (resultCode OK, or ERROR with the report as comment).
    Response,
}

#[derive(clap::Args, Debug)]
#[command(
    after_help = "Each file goes through every layer the receiving region applies: safety limits on \
the raw bytes (size, UTF-8, no DOCTYPE or entities, nesting depth), the contract's XSD (libxml2), \
then the business rules ÖR1–ÖR52 and the identifier checks. Every problem is reported with its \
rule id, the element path and a message. Under the default profile (the contract's text) a \
'warning:' line says where a receiver running the official Schematron will reject the basis \
anyway (e.g. an invoice period ending on the issue date, R20); warnings do not change the exit \
status.\n\n\
Exit status: 0 when every file is valid, 1 when any file is invalid, 2 for usage or I/O errors \
(a file that cannot be read; the other files are still checked).\n\n\
Examples:\n  \
invoice-hub validate basis.xml\n  \
invoice-hub validate --format json out/ > report.jsonl\n  \
invoice-hub validate --format response basis.xml   # the answer a receiver would send\n  \
invoice-hub validate --today 20261130 --max-bytes 1048576 a.xml b.xml\n  \
invoice-hub validate --medical-field-codes /etc/invoice-hub/mvo.txt basis.xml\n  \
invoice-hub validate --profile official-schematron basis.xml   # as an official receiver would"
)]
pub(super) struct Args {
    /// Files to check; a directory is walked for *.xml files (sorted).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Largest document accepted, in bytes (the contract's maximum is 5 MB).
    #[arg(long, value_name = "N", default_value_t = crate::validate::safety::DEFAULT_MAX_BYTES)]
    pub max_bytes: usize,

    /// The date to check against instead of today (YYYYMMDD): issue and care dates may not be
    /// later than this (ÖR2, ÖR17, ÖR38).
    #[arg(long, value_name = "YYYYMMDD", value_parser = parse_day)]
    pub today: Option<NaiveDate>,

    /// A schema directory laid out like the project's schemas/ to use instead of the
    /// schemas built into the binary.
    #[arg(long, value_name = "DIR")]
    pub schemas: Option<PathBuf>,

    /// A register of medical field codes to check ÖR49 against instead of the list built into
    /// the binary (schemas/medical-field-codes.txt): one 3-digit code per line, optionally
    /// followed by a name; '#' starts a comment.
    #[arg(long, value_name = "FILE")]
    pub medical_field_codes: Option<PathBuf>,

    /// Whose verdict to give: `contract` (the contract's text, with the project's stricter
    /// identifier and code-list checks; it warns where a receiver running the official
    /// Schematron will reject a basis) or `official-schematron` (what that file says, quirks
    /// included; exit 1 on its findings). See docs/validation.md, "Conformance".
    #[arg(long, value_name = "PROFILE", default_value = "contract", value_parser = parse_profile)]
    pub profile: Profile,

    /// Worker threads (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
}

pub(crate) fn parse_profile(s: &str) -> Result<Profile, String> {
    s.parse()
        .map_err(|e: crate::validate::profile::UnknownProfile| e.to_string())
}

pub(crate) fn parse_day(s: &str) -> Result<NaiveDate, String> {
    crate::claim::lexical::date(s).ok_or_else(|| format!("'{s}' is not a date YYYYMMDD"))
}

/// One file's outcome: a report, or why the file could not be read.
enum Outcome {
    Checked(Box<Report>),
    Unreadable(String),
}

/// One file's line of `--format json`, in the output language (docs/output.md).
#[derive(Serialize)]
struct JsonLine<'a> {
    file: &'a str,
    basis_id: Option<&'a str>,
    outcome: &'static str,
    findings: &'a [Finding],
    /// What a receiver running the official Schematron would reject beyond `findings`.
    #[serde(skip_serializing_if = "<[Finding]>::is_empty")]
    warnings: &'a [Finding],
    /// The names this line had before the output language; kept until format 2.
    id: Option<&'a str>,
    result: &'static str,
    errors: &'a [Finding],
}

impl<'a> JsonLine<'a> {
    fn new(
        file: &'a str,
        basis_id: Option<&'a str>,
        outcome: &'static str,
        findings: &'a [Finding],
        warnings: &'a [Finding],
    ) -> Self {
        JsonLine {
            file,
            basis_id,
            outcome,
            findings,
            warnings,
            id: basis_id,
            result: outcome,
            errors: findings,
        }
    }
}

/// The columns of `--format csv`.
const COLUMNS: [&str; 7] = [
    "file", "basis_id", "outcome", "severity", "rule", "path", "message",
];

#[expect(
    clippy::too_many_lines,
    reason = "the command's steps in order (profile, files, parallel checks printed in order, exit code), each a few lines"
)]
pub(super) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.max_bytes == 0 {
        bail!("--max-bytes must be at least 1");
    }
    let files = collect_files(&args.files)?;
    if files.is_empty() {
        bail!("no .xml files found in the given directories");
    }
    let today = args.today.unwrap_or_else(crate::clock::today);
    let mut rules = RuleContext::new(today).with_profile(args.profile);
    if let Some(path) = &args.medical_field_codes {
        rules = rules
            .with_medical_field_codes_file(path)
            .context("loading --medical-field-codes")?;
    }
    let validator = match &args.schemas {
        Some(dir) => {
            let schema = crate::validate::xsd::Schema::from_dir(dir)
                .with_context(|| format!("loading schemas from {}", dir.display()))?;
            Validator::with_schema(Arc::new(schema), rules)
        }
        None => Validator::new(rules).context("compiling the built-in schemas")?,
    }
    .with_limits(Limits {
        max_bytes: args.max_bytes,
        ..Limits::default()
    })
    .with_official_warnings();

    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .clamp(1, 64)
        .min(files.len());
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.format == Format::Csv {
        csv_row(&mut out, &COLUMNS)?;
    }
    let (mut invalid, mut unreadable) = (0usize, 0usize);

    std::thread::scope(|s| -> anyhow::Result<()> {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (files, next, validator) = (&files, &next, &validator);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = files.get(i) else { break };
                let outcome = match read_limited(path, validator.limits().max_bytes) {
                    Ok(bytes) => {
                        let mut report = validator.validate(&bytes);
                        // The model is not printed; free it before the report waits in line.
                        report.claim = None;
                        Outcome::Checked(Box::new(report))
                    }
                    Err(e) => Outcome::Unreadable(format!("{e:#}")),
                };
                if tx.send((i, outcome)).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        // Print in the order the files were given, as results arrive.
        let mut pending = BTreeMap::new();
        let mut printed = 0;
        for (i, outcome) in rx {
            pending.insert(i, outcome);
            while let Some(outcome) = pending.remove(&printed) {
                match &outcome {
                    Outcome::Checked(r) if !r.is_valid() => invalid += 1,
                    Outcome::Checked(_) => {}
                    Outcome::Unreadable(_) => unreadable += 1,
                }
                print(
                    &mut out,
                    args.format,
                    &files[printed],
                    &outcome,
                    files.len(),
                )?;
                printed += 1;
            }
        }
        Ok(())
    })?;
    out.flush().context("writing the report")?;
    if args.format == Format::Text && files.len() > 1 {
        eprintln!(
            "{} file(s): {} valid, {} invalid, {} unreadable",
            files.len(),
            files.len() - invalid - unreadable,
            invalid,
            unreadable
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

/// Reads at most `max + 1` bytes, so a huge file is refused by the size limit without being
/// loaded whole.
pub(crate) fn read_limited(path: &Path, max: usize) -> anyhow::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut bytes = Vec::new();
    f.take(max as u64 + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(bytes)
}

pub(crate) fn collect_files(args: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for a in args {
        if a.is_dir() {
            let mut found: Vec<PathBuf> = Vec::new();
            for entry in walkdir::WalkDir::new(a).follow_links(false) {
                let entry = entry.with_context(|| format!("walking {}", a.display()))?;
                let p = entry.path();
                if entry.file_type().is_file() && p.extension().is_some_and(|e| e == "xml") {
                    found.push(p.to_path_buf());
                }
            }
            found.sort();
            files.extend(found);
        } else {
            // A missing file is reported with the others (exit 2), not a reason to stop.
            files.push(a.clone());
        }
    }
    Ok(files)
}

fn print(
    out: &mut impl Write,
    format: Format,
    path: &Path,
    outcome: &Outcome,
    total: usize,
) -> anyhow::Result<()> {
    let file = path.display().to_string();
    match (format, outcome) {
        (_, Outcome::Unreadable(msg)) => {
            eprintln!("error: {msg}");
            let io = [Finding::new("IO", "/", msg.clone())];
            match format {
                Format::Json => {
                    json_line(out, &JsonLine::new(&file, None, "UNREADABLE", &io, &[]))?
                }
                Format::Csv => csv_row(out, &[&file, "", "UNREADABLE", "error", "IO", "/", msg])?,
                Format::Text | Format::Response => {}
            }
        }
        (Format::Text, Outcome::Checked(r)) => {
            let id = r.id.as_deref().unwrap_or("id unknown");
            if r.is_valid() {
                writeln!(out, "{file}: OK ({id})")?;
            } else {
                writeln!(out, "{file}: ERROR ({id}), {} problem(s)", r.findings.len())?;
                for f in &r.findings {
                    writeln!(out, "  {f}")?;
                }
            }
            for w in &r.warnings {
                writeln!(out, "  warning: {} at {}: {}", w.rule, w.path, w.message)?;
            }
        }
        (Format::Json, Outcome::Checked(r)) => {
            let outcome = if r.is_valid() { "OK" } else { "ERROR" };
            let line = JsonLine::new(&file, r.id.as_deref(), outcome, &r.findings, &r.warnings);
            json_line(out, &line)?;
        }
        (Format::Csv, Outcome::Checked(r)) => write_csv(out, &file, r)?,
        (Format::Response, Outcome::Checked(r)) => {
            let xml = r.to_response().to_xml();
            if total > 1 {
                // Several documents on one stream: each one's XML declaration starts it.
                writeln!(out, "<!-- {} -->", file.replace("--", "- -"))?;
            }
            out.write_all(xml.as_bytes())?;
        }
    }
    Ok(())
}

/// A checked file's rows: one per finding and warning, or one saying OK.
fn write_csv(out: &mut impl Write, file: &str, r: &Report) -> std::io::Result<()> {
    let id = r.id.as_deref().unwrap_or("");
    let outcome = if r.is_valid() { "OK" } else { "ERROR" };
    let rows = r
        .findings
        .iter()
        .map(|f| ("error", f))
        .chain(r.warnings.iter().map(|w| ("warning", w)));
    let mut any = false;
    for (severity, f) in rows {
        any = true;
        csv_row(
            out,
            &[file, id, outcome, severity, &f.rule, &f.path, &f.message],
        )?;
    }
    if !any {
        csv_row(out, &[file, id, outcome, "", "", "", ""])?;
    }
    Ok(())
}
