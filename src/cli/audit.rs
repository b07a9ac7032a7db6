//! `invoice-hub audit`: what an auditor runs against a disclosure log (or a store's access log):
//! query it through its indexes, verify it end to end, print its signed head, produce inclusion
//! and consistency proofs, check proofs offline with only the public key, export a period for
//! archiving, and make the log's keys.

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, Utc};

use crate::audit::keys::keygen;
use crate::audit::record::format_time;
use crate::audit::{
    check_evidence, AuditLog, Entry, Event, EvidenceError, LogPublicKey, LogSigningKey,
    PatientHash, PatientKey, Query, SignedTreeHead, VerifyOptions,
};
use crate::cli::output::{csv_field, say, Format};
use crate::cli::{EXIT_CUT, EXIT_INVALID, EXIT_USAGE};

mod extract;
mod review;
mod set;
mod witness;

#[derive(clap::Args, Debug)]
#[command(after_help = "Examples:\n  \
invoice-hub audit keygen --out /etc/invoice-hub/keys\n  \
invoice-hub audit --log /var/lib/invoice-hub/audit query --patient 191212121212 \\\n      \
--patient-key /etc/invoice-hub/keys/patient-hmac.key --format table\n  \
invoice-hub audit --log DIR query --receiver 2321000164 --from 2026-01-01 --to 2026-02-01 --format csv\n  \
invoice-hub audit --log DIR verify --key log-signing.pub --against saved-head.json\n  \
invoice-hub audit --log DIR head > head-2026-11.json\n  \
invoice-hub audit --log DIR proof --basis B-0001 > proof.json\n  \
invoice-hub audit check-proof proof.json --key log-signing.pub\n  \
invoice-hub audit --log DIR export --from 2026-01-01 --to 2027-01-01 --out audit-2026.jsonl\n  \
invoice-hub audit check-proof audit-2026.jsonl --key log-signing.pub\n  \
invoice-hub audit --log store/data/access-log review-report --from 2026-11-01 --to 2026-12-01\n  \
invoice-hub audit --log hub-log --log store/data/access-log patient-extract --patient 191212121212 \\\n      \
--patient-key K --out logutdrag.html\n\n\
Several hub instances (one log each): repeat --log. query, verify, proof --basis and export then \
answer across the logs as one, each entry tagged with the log (hub instance) that wrote it:\n  \
invoice-hub audit --log hub-a/log --log hub-b/log query --patient 191212121212 --patient-key K\n  \
invoice-hub audit --log hub-a/log --log hub-b/log verify --key hub-a.pub --key hub-b.pub\n  \
invoice-hub audit --log hub-a/log --log hub-b/log export --out audit-2026.jsonl\n  \
invoice-hub audit check-proof audit-2026.jsonl --key hub-a.pub --key hub-b.pub\n\n\
The log is a database (redb) that one process at a time can open: run these against a stopped \
hub's log or a copy of it. Every command but those given --sign-with reads a private copy and leaves \
the log's files exactly as they were, also when they are read-only (chmod -R a-w).\n\n\
Exit status: 0 when everything checked is fine, 1 when a verification or proof check failed, 2 for \
usage and I/O errors, 3 when a query's answer was cut at --limit (said on stderr too).")]
pub(super) struct Args {
    /// The log directory (its database, data.redb). Repeat for the logs of several hub instances.
    #[arg(long, global = true, value_name = "DIR", env = "INVOICE_HUB_AUDIT_LOG")]
    pub log: Vec<PathBuf>,

    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(clap::Subcommand, Debug)]
pub(super) enum Cmd {
    /// List entries through the indexes (all filters must hold).
    Query(QueryArgs),
    /// Recompute every hash, check every signed head and index; name the first bad entry.
    Verify(VerifyArgs),
    /// Print the latest signed tree head as JSON (save it: later `verify --against` it).
    Head(HeadArgs),
    /// Print inclusion proofs (JSON) for the entries of a basis, or a consistency proof.
    Proof(ProofArgs),
    /// Check a proof, a proof list or an export file offline with only the public key.
    CheckProof(CheckProofArgs),
    /// Write a period's entries with the head that covers them and their proofs (JSON lines).
    Export(ExportArgs),
    /// Make a signing key (0600), its public key and a patient HMAC key (0600) in a directory.
    Keygen(KeygenArgs),
    /// The periodic access review over stores' access logs: reads per identity, out of office
    /// hours, many patients, read but never processed.
    ReviewReport(review::ReviewArgs),
    /// The patient's log extract (logutdrag) from the hub's and the stores' logs, as an HTML
    /// letter a region can send.
    PatientExtract(extract::ExtractArgs),
}

#[derive(clap::Args, Debug)]
pub(super) struct QueryArgs {
    /// Invoice basis id.
    #[arg(long)]
    pub basis: Option<String>,
    /// Personal (or coordination) number; hashed with --patient-key, never stored or printed.
    #[arg(long, requires = "patient_key")]
    pub patient: Option<String>,
    /// The deployment's patient HMAC key file (kept outside the log directory).
    #[arg(long, value_name = "FILE", env = "INVOICE_HUB_PATIENT_KEY")]
    pub patient_key: Option<PathBuf>,
    /// A patient hash (64 hex digits) instead of --patient.
    #[arg(long, conflicts_with = "patient", value_name = "HEX")]
    pub patient_hash: Option<String>,
    /// Sender organisation number.
    #[arg(long)]
    pub sender: Option<String>,
    /// Receiver organisation number.
    #[arg(long)]
    pub receiver: Option<String>,
    /// Who acted (for `accessed` entries: the reader's certificate subject).
    #[arg(long)]
    pub actor: Option<String>,
    /// received, rejected, withheld, disclosed, delivered or accessed.
    #[arg(long)]
    pub event: Option<Event>,
    /// From this time (inclusive): YYYY-MM-DD (UTC midnight) or RFC 3339.
    #[arg(long, value_parser = parse_when)]
    pub from: Option<DateTime<Utc>>,
    /// Up to this time (exclusive): YYYY-MM-DD (UTC midnight) or RFC 3339.
    #[arg(long, value_parser = parse_when)]
    pub to: Option<DateTime<Utc>>,
    /// At most this many entries (0 = all). Default: 100 for text, all for csv and json. A cut
    /// answer says so on stderr and exits 3, whatever the format.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Continue after this entry (the `next_after` of the previous page).
    #[arg(long, value_name = "SEQ")]
    pub after: Option<u64>,
    /// Output format: text (aligned columns, `table` also works), json (one page document:
    /// entries, records_read, next_after), csv (a header row, then one row per entry).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(clap::Args, Debug)]
pub(super) struct VerifyArgs {
    /// The public key you trust (without it, the key stored in the log is used, which only proves
    /// the log is consistent with itself). With several logs, give each log's key: each log is
    /// checked with the one that is its own.
    #[arg(long, value_name = "PUB")]
    pub key: Vec<PathBuf>,
    /// A head saved earlier (JSON from `audit head`): the log must still extend it. Repeatable.
    #[arg(long, value_name = "HEAD.json")]
    pub against: Vec<PathBuf>,
    #[command(flatten)]
    pub witnesses: witness::WitnessArgs,
    /// Accept checking against the key stored in the log itself. Without --key that proves only
    /// that the log agrees with itself (a re-signed forgery does too): without this flag such a
    /// check exits 1.
    #[arg(long)]
    pub trust_stored_key: bool,
    /// Output format: text (the report for people), json (the report as one document).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The same as --format json (the flag before the output language; kept until format 2).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
}

impl VerifyArgs {
    fn json(&self) -> bool {
        self.json || self.format == Format::Json
    }

    /// A report has no CSV form: refused before anything is read.
    fn check_format(&self) -> anyhow::Result<()> {
        self.format.for_report().map(|_| ())
    }
}

#[derive(clap::Args, Debug)]
pub(super) struct HeadArgs {
    /// Sign a fresh head at the current size first (needs the log's signing key).
    #[arg(long, value_name = "KEY")]
    pub sign_with: Option<PathBuf>,
    /// Print every signed head (JSON lines), oldest first.
    #[arg(long)]
    pub all: bool,
}

#[derive(clap::Args, Debug)]
pub(super) struct ProofArgs {
    /// Prove every entry of this basis (a JSON array of inclusion proofs).
    #[arg(long, required_unless_present_any = ["seq", "consistency_from"])]
    pub basis: Option<String>,
    /// Prove this entry (one inclusion proof).
    #[arg(long, value_name = "SEQ")]
    pub seq: Option<u64>,
    /// Prove that the log's latest head extends this saved head (a consistency proof).
    #[arg(long, value_name = "HEAD.json", conflicts_with_all = ["basis", "seq"])]
    pub consistency_from: Option<PathBuf>,
    /// Sign a fresh head when none covers the entry yet (needs the log's signing key).
    #[arg(long, value_name = "KEY")]
    pub sign_with: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub(super) struct CheckProofArgs {
    /// An inclusion proof, a JSON array of them, a consistency proof, or an export file.
    pub file: PathBuf,
    /// The log's public key; repeat for a proof list or an export that spans several logs
    /// (each part is checked with the key that signed it).
    #[arg(long, value_name = "PUB", required = true)]
    pub key: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub(super) struct ExportArgs {
    /// From this time (inclusive): YYYY-MM-DD (UTC midnight) or RFC 3339.
    #[arg(long, value_parser = parse_when)]
    pub from: Option<DateTime<Utc>>,
    /// Up to this time (exclusive).
    #[arg(long, value_parser = parse_when)]
    pub to: Option<DateTime<Utc>>,
    /// The file to write (refuses to overwrite).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Sign a fresh head first so the newest entries are included (needs the signing key).
    #[arg(long, value_name = "KEY")]
    pub sign_with: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub(super) struct KeygenArgs {
    /// Directory for log-signing.key, log-signing.pub and patient-hmac.key.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

fn parse_when(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    crate::audit::record::parse_time(s)
        .map_err(|_| format!("{s:?}: expected YYYY-MM-DD or an RFC 3339 time"))
}

pub(super) fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Cmd::Keygen(k) => {
            let out = keygen(&k.out).context("audit keygen")?;
            say!("wrote {}", out.signing_key.display());
            say!("wrote {}", out.public_key.display());
            say!("wrote {}", out.patient_key.display());
            say!("public key id {}", out.key_id);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::CheckProof(c) => check_proof(&c),
        cmd => {
            if args.log.is_empty() {
                bail!("--log DIR is required (or INVOICE_HUB_AUDIT_LOG)");
            }
            match cmd {
                Cmd::ReviewReport(r) => return review::run(&args.log, r),
                Cmd::PatientExtract(e) => return extract::run(&args.log, e),
                _ => {}
            }
            if args.log.len() > 1 {
                return set::run(&args.log, cmd);
            }
            let dir = args.log[0].clone();
            match cmd {
                Cmd::Query(q) => query(&dir, q),
                Cmd::Verify(v) => v.check_format().and_then(|()| verify(&dir, &v)),
                Cmd::Head(h) => head(&dir, &h),
                Cmd::Proof(p) => proof(&dir, &p),
                Cmd::Export(e) => export(&dir, &e),
                Cmd::Keygen(_)
                | Cmd::CheckProof(_)
                | Cmd::ReviewReport(_)
                | Cmd::PatientExtract(_) => unreachable!("handled above"),
            }
        }
    }
}

/// Opens the log: as evidence (a private copy, the files untouched) unless `key` is given to sign
/// a fresh head, which is a write to the log itself.
fn open(dir: &Path, key: Option<&Path>) -> anyhow::Result<AuditLog> {
    let opened = match key {
        None => AuditLog::open_evidence(dir),
        Some(k) => {
            let signer = LogSigningKey::load(k).context("loading the log's signing key")?;
            AuditLog::open_existing(dir, Some(signer))
        }
    };
    opened.with_context(|| format!("opening the disclosure log {}", dir.display()))
}

fn query(dir: &Path, a: QueryArgs) -> anyhow::Result<ExitCode> {
    let format = a.format;
    let (q, key_id) = build_query(a, &[dir.to_path_buf()])?;
    let limit = q.limit;
    let log = open(dir, None)?;
    refuse_other_patient_key(&log, key_id.as_deref())?;
    let res = log.query(&q).context("querying the disclosure log")?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &res)?;
            writeln!(out)?;
        }
        Format::Csv => write_csv(&mut out, &res.entries, None)?,
        Format::Text => write_table(&mut out, &res.entries, None)?,
    }
    if format != Format::Json {
        eprintln!(
            "{} entries ({} read){}",
            res.entries.len(),
            res.records_read,
            res.next_after
                .map(|n| format!("; more with --after {n}"))
                .unwrap_or_default()
        );
    }
    Ok(query_status(res.next_after.is_some(), limit))
}

/// The query the arguments describe, and the id of the patient key it was hashed with; the
/// patient's id is hashed here and goes no further.
fn build_query(a: QueryArgs, dirs: &[PathBuf]) -> anyhow::Result<(Query, Option<String>)> {
    let mut key_id = None;
    let patient = match (&a.patient, &a.patient_hash) {
        (Some(id), _) => {
            let kp = a
                .patient_key
                .as_deref()
                .context("--patient needs --patient-key")?;
            for dir in dirs {
                refuse_key_inside_log(kp, dir)?;
            }
            let key = PatientKey::load(kp).context("loading the patient key")?;
            key_id = Some(key.id());
            Some(key.hash(id))
        }
        (None, Some(h)) => {
            Some(PatientHash::from_hex(h).map_err(|e| anyhow::anyhow!("--patient-hash: {e}"))?)
        }
        (None, None) => None,
    };
    let query = Query {
        basis: a.basis,
        patient,
        sender: a.sender,
        receiver: a.receiver,
        actor: a.actor,
        event: a.event,
        from: a.from,
        to: a.to,
        after: a.after,
        limit: a.limit.unwrap_or(match a.format {
            Format::Text => 100,
            Format::Csv | Format::Json => 0,
        }),
    };
    Ok((query, key_id))
}

/// A patient asked about with another key than the log's would get an empty answer that reads
/// as "never disclosed": refused, naming both key ids. A log from before key ids were recorded
/// cannot tell, and the answer says so.
pub(super) fn refuse_other_patient_key(log: &AuditLog, given: Option<&str>) -> anyhow::Result<()> {
    let Some(given) = given else {
        return Ok(());
    };
    match log.patient_key_id()? {
        Some(held) if held != given => bail!(
            "{}: log {:?} hashes patients with the patient key of id {held}, and the key given \
             has id {given}: the answer would be empty whatever happened. Give the key the log \
             was written with (the federation's patient key, the hub's [audit] patient_key)",
            log.path().display(),
            log.log_id()
        ),
        Some(_) => Ok(()),
        None => {
            eprintln!(
                "note: {} does not record which patient key it was written with (older than key \
                 ids): an empty answer may also mean another key",
                log.path().display()
            );
            Ok(())
        }
    }
}

/// The exit status of a query: a cut answer is not a whole one ([`EXIT_CUT`]), and says so on
/// stderr in every format, so neither a person nor a script takes a first page for everything.
pub(super) fn query_status(cut: bool, limit: usize) -> ExitCode {
    if !cut {
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "note: the answer was cut at --limit {limit}: raise it (0 = all) or narrow with \
         --from/--to (exit status {EXIT_CUT})"
    );
    ExitCode::from(EXIT_CUT)
}

/// The patient key must not sit in the log directory: a copy of the log must not be searchable.
fn refuse_key_inside_log(key: &Path, dir: &Path) -> anyhow::Result<()> {
    if let (Ok(k), Ok(d)) = (key.canonicalize(), dir.canonicalize()) {
        if k.starts_with(&d) {
            bail!(
                "{}: the patient key is inside the log directory; keep it elsewhere",
                key.display()
            );
        }
    }
    Ok(())
}

const COLUMNS: [&str; 17] = [
    "seq",
    "time",
    "event",
    "basis_id",
    "sender",
    "receiver",
    "patients",
    "received_sha256",
    "disclosed_sha256",
    "policy",
    "matched_rules",
    "removed_paths",
    "receipt",
    "instance",
    "actor",
    "action",
    "reason",
];

fn row(e: &Entry) -> [String; 17] {
    let r = &e.record;
    let opt = |o: &Option<String>| o.clone().unwrap_or_default();
    [
        e.seq.to_string(),
        format_time(&r.time),
        r.event.to_string(),
        r.basis_id.clone(),
        r.sender.clone(),
        r.receiver.clone(),
        r.patients
            .iter()
            .map(|p| p.to_hex())
            .collect::<Vec<_>>()
            .join(" "),
        r.received_sha256.map(|d| d.to_hex()).unwrap_or_default(),
        r.disclosed_sha256.map(|d| d.to_hex()).unwrap_or_default(),
        r.policy
            .as_ref()
            .map(|p| format!("{} v{} ({})", p.id, p.version, p.board_decision))
            .unwrap_or_default(),
        r.matched_rules.join(" "),
        r.removed_paths.join(" "),
        opt(&r.receipt),
        r.instance.clone(),
        opt(&r.actor),
        opt(&r.action),
        opt(&r.reason),
    ]
}

/// Writes entries as CSV; with `logs` (one log id per entry, when several logs answer) the first
/// column says which log, i.e. which hub instance, holds the entry.
pub(super) fn write_csv(
    out: &mut dyn Write,
    entries: &[Entry],
    logs: Option<&[String]>,
) -> std::io::Result<()> {
    let head = COLUMNS.join(",");
    match logs {
        Some(_) => writeln!(out, "log,{head}")?,
        None => writeln!(out, "{head}")?,
    }
    for (i, e) in entries.iter().enumerate() {
        let r = row(e);
        let line = r.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",");
        match logs {
            Some(l) => writeln!(out, "{},{line}", csv_field(&l[i]))?,
            None => writeln!(out, "{line}")?,
        }
    }
    Ok(())
}

/// Writes entries as aligned columns; `logs` as for [`write_csv`].
pub(super) fn write_table(
    out: &mut dyn Write,
    entries: &[Entry],
    logs: Option<&[String]>,
) -> std::io::Result<()> {
    // The columns a person scans; the rest is in --format json/csv.
    let pick = [0usize, 1, 2, 3, 4, 5, 9, 10, 13, 14];
    let rows: Vec<Vec<String>> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let r = row(e);
            logs.map(|l| l[i].clone())
                .into_iter()
                .chain(pick.iter().map(|&i| r[i].clone()))
                .collect()
        })
        .collect();
    let heads: Vec<&str> = logs
        .map(|_| "log")
        .into_iter()
        .chain(pick.iter().map(|&i| COLUMNS[i]))
        .collect();
    let mut width: Vec<usize> = heads.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, f) in width.iter_mut().zip(r) {
            *w = (*w).max(f.chars().count());
        }
    }
    let line = |fields: Vec<&str>| -> String {
        fields
            .iter()
            .zip(&width)
            .map(|(f, w)| format!("{f:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    writeln!(out, "{}", line(heads.clone()))?;
    for r in &rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

fn verify(dir: &Path, a: &VerifyArgs) -> anyhow::Result<ExitCode> {
    if a.key.len() > 1 {
        bail!("one log, one --key");
    }
    let key = a
        .key
        .first()
        .map(|p| LogPublicKey::load(p))
        .transpose()
        .context("loading the public key")?;
    let saved = a
        .against
        .iter()
        .map(|p| SignedTreeHead::load(p))
        .collect::<Result<Vec<_>, _>>()
        .context("loading a saved head")?;
    let log = open(dir, None)?;
    let held = a.witnesses.fetch(&[log.log_id().to_string()])?;
    let mut saved = saved;
    saved.extend(held.iter().filter_map(|h| h.head.clone()));
    let report = log
        .verify(&VerifyOptions {
            public_key: key,
            saved_heads: saved,
        })
        .context("verifying the disclosure log")?;
    let untrusted = a.key.is_empty() && !a.trust_stored_key;
    if a.json() {
        say!("{}", serde_json::to_string_pretty(&report)?);
    } else if report.ok() {
        say!(
            "OK: log {:?}, {} entries, {} signed heads and {} saved heads checked, {} index keys, root {}",
            report.log_id,
            report.entries,
            report.heads_checked,
            report.saved_heads_checked,
            report.index_keys,
            report.root_hash
        );
        for l in witness::describe(&held) {
            say!("{l}");
        }
        if a.key.is_empty() {
            say!("{}", stored_key_note(untrusted));
        }
    } else {
        let first = report.first().expect("not ok has a problem");
        say!("FAILED: {first}");
        for p in report.problems.iter().skip(1) {
            say!("  also: {p}");
        }
        for l in witness::describe(&held) {
            say!("{l}");
        }
    }
    Ok(if report.ok() && !untrusted {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    })
}

/// What a check with the log's own key means, said plainly.
fn stored_key_note(untrusted: bool) -> &'static str {
    if untrusted {
        "NOT CHECKED against a key you trust: the log was checked with the public key stored in \
         it, which a forger who re-signed everything would have replaced too. Give --key PUB \
         (the key you trust), or --trust-stored-key to accept this (exit 1 without either)"
    } else {
        "note: checked with the public key stored in the log (--trust-stored-key), not with a key \
         you trust"
    }
}

fn head(dir: &Path, a: &HeadArgs) -> anyhow::Result<ExitCode> {
    let log = open(dir, a.sign_with.as_deref())?;
    if a.sign_with.is_some() {
        log.sign_head().context("signing a tree head")?;
    }
    if a.all {
        for h in log.heads()? {
            say!("{}", serde_json::to_string(&h)?);
        }
    } else {
        let h = log
            .latest_head()?
            .context("the log has no signed head yet (use --sign-with KEY)")?;
        say!("{}", serde_json::to_string_pretty(&h)?);
    }
    Ok(ExitCode::SUCCESS)
}

fn proof(dir: &Path, a: &ProofArgs) -> anyhow::Result<ExitCode> {
    let log = open(dir, a.sign_with.as_deref())?;
    if let Some(saved) = &a.consistency_from {
        let old = SignedTreeHead::load(saved)?;
        let new = log.latest_head()?.context("the log has no signed head")?;
        match log.consistency_proof(&old, &new) {
            Ok(b) => say!("{}", serde_json::to_string_pretty(&b)?),
            Err(e) => {
                say!("FAILED: {e}");
                return Ok(ExitCode::from(EXIT_INVALID));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(seq) = a.seq {
        let b = log
            .prove_entry(seq)
            .with_context(|| format!("proving entry {seq}"))?;
        say!("{}", serde_json::to_string_pretty(&b)?);
        return Ok(ExitCode::SUCCESS);
    }
    let basis = a.basis.clone().expect("clap requires one of them");
    let res = log.query(&Query {
        basis: Some(basis.clone()),
        ..Query::default()
    })?;
    if res.entries.is_empty() {
        eprintln!("error: no entry for basis {basis:?}");
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    let proofs = res
        .entries
        .iter()
        .map(|e| log.prove_entry(e.seq))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("proving the entries of basis {basis:?}"))?;
    say!("{}", serde_json::to_string_pretty(&proofs)?);
    Ok(ExitCode::SUCCESS)
}

fn check_proof(a: &CheckProofArgs) -> anyhow::Result<ExitCode> {
    let keys = a
        .key
        .iter()
        .map(|p| {
            LogPublicKey::load(p).with_context(|| format!("loading the public key {}", p.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let name = a.file.display();
    let f = std::fs::File::open(&a.file).with_context(|| format!("opening {name}"))?;
    match check_evidence(&mut BufReader::new(f), &keys) {
        Ok(proved) => {
            for p in proved {
                say!("OK: {p}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(EvidenceError::Invalid(e)) => {
            say!("FAILED: {name}: {e}");
            Ok(ExitCode::from(EXIT_INVALID))
        }
        Err(e) => Err(e).with_context(|| format!("checking {name}")),
    }
}

/// Writes an export into `out`, a new file (an existing one is never overwritten), and makes
/// it durable before the command says it is written: an archive copy must not be half a file.
pub(super) fn write_export<T, E>(
    out: &Path,
    export: impl FnOnce(&mut dyn Write) -> Result<T, E>,
) -> anyhow::Result<T>
where
    E: std::error::Error + Send + Sync + 'static,
{
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .with_context(|| {
            format!(
                "creating {} (an existing file is not overwritten)",
                out.display()
            )
        })?;
    let mut w = std::io::BufWriter::new(f);
    let done = export(&mut w).with_context(|| format!("exporting to {}", out.display()))?;
    w.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(done)
}

fn export(dir: &Path, a: &ExportArgs) -> anyhow::Result<ExitCode> {
    let log = open(dir, a.sign_with.as_deref())?;
    let s = write_export(&a.out, |w| log.export(a.from, a.to, w))?;
    say!(
        "wrote {}: {} entries, proved against the signed head of size {} (root {})",
        a.out.display(),
        s.count,
        s.head.tree_size,
        s.head.root_hash
    );
    if s.left_out > 0 {
        eprintln!(
            "note: {} newer entries of the period are not covered by a signed head and were left \
             out; use --sign-with KEY to include them",
            s.left_out
        );
    }
    Ok(ExitCode::SUCCESS)
}
