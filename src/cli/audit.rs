//! `invoice-hub audit`: what an auditor runs against a disclosure log (or a store's access log):
//! query it through its indexes, verify it end to end, print its signed head, produce inclusion
//! and consistency proofs, check proofs offline with only the public key, export a period for
//! archiving, and make the log's keys.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use chrono::{DateTime, NaiveDate, Utc};

use crate::audit::export::check_export;
use crate::audit::keys::keygen;
use crate::audit::record::format_time;
use crate::audit::{
    AuditLog, ConsistencyBundle, Entry, Event, InclusionBundle, LogPublicKey, LogSigningKey,
    PatientHash, PatientKey, Query, SignedTreeHead, VerifyOptions,
};
use crate::cli::{EXIT_INVALID, EXIT_USAGE};

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
invoice-hub audit check-proof audit-2026.jsonl --key log-signing.pub\n\n\
The log is a sled database that one process at a time can open: run these against a stopped \
hub's log or a copy of it.\n\n\
Exit status: 0 when everything checked is fine, 1 when a verification or proof check failed, 2 for \
usage and I/O errors.")]
pub struct Args {
    /// The log directory (sled database).
    #[arg(long, global = true, value_name = "DIR", env = "INVOICE_HUB_AUDIT_LOG")]
    pub log: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Cmd,
}

#[derive(clap::Subcommand, Debug)]
pub enum Cmd {
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
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned columns for people.
    Table,
    /// One JSON object: {entries, records_read, next_after}.
    Json,
    /// One CSV row per entry, with a header row.
    Csv,
}

#[derive(clap::Args, Debug)]
pub struct QueryArgs {
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
    /// At most this many entries (0 = all).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
    /// Continue after this entry (the `next_after` of the previous page).
    #[arg(long, value_name = "SEQ")]
    pub after: Option<u64>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The public key you trust (without it, the key stored in the log is used, which only proves
    /// the log is consistent with itself).
    #[arg(long, value_name = "PUB")]
    pub key: Option<PathBuf>,
    /// A head saved earlier (JSON from `audit head`): the log must still extend it. Repeatable.
    #[arg(long, value_name = "HEAD.json")]
    pub against: Vec<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct HeadArgs {
    /// Sign a fresh head at the current size first (needs the log's signing key).
    #[arg(long, value_name = "KEY")]
    pub sign_with: Option<PathBuf>,
    /// Print every signed head (JSON lines), oldest first.
    #[arg(long)]
    pub all: bool,
}

#[derive(clap::Args, Debug)]
pub struct ProofArgs {
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
pub struct CheckProofArgs {
    /// An inclusion proof, a JSON array of them, a consistency proof, or an export file.
    pub file: PathBuf,
    /// The log's public key.
    #[arg(long, value_name = "PUB")]
    pub key: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
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
pub struct KeygenArgs {
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

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Cmd::Keygen(k) => {
            let out = keygen(&k.out).context("audit keygen")?;
            println!("wrote {}", out.signing_key.display());
            println!("wrote {}", out.public_key.display());
            println!("wrote {}", out.patient_key.display());
            println!("public key id {}", out.key_id);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::CheckProof(c) => check_proof(&c),
        cmd => {
            let Some(dir) = args.log else {
                bail!("--log DIR is required (or INVOICE_HUB_AUDIT_LOG)");
            };
            match cmd {
                Cmd::Query(q) => query(&dir, q),
                Cmd::Verify(v) => verify(&dir, &v),
                Cmd::Head(h) => head(&dir, &h),
                Cmd::Proof(p) => proof(&dir, &p),
                Cmd::Export(e) => export(&dir, &e),
                Cmd::Keygen(_) | Cmd::CheckProof(_) => unreachable!("handled above"),
            }
        }
    }
}

fn open(dir: &Path, key: Option<&Path>) -> anyhow::Result<AuditLog> {
    let signer = key
        .map(LogSigningKey::load)
        .transpose()
        .context("loading the log's signing key")?;
    AuditLog::open_existing(dir, signer)
        .with_context(|| format!("opening the disclosure log {}", dir.display()))
}

fn query(dir: &Path, a: QueryArgs) -> anyhow::Result<ExitCode> {
    let patient = match (&a.patient, &a.patient_hash) {
        (Some(id), _) => {
            let kp = a
                .patient_key
                .as_deref()
                .context("--patient needs --patient-key")?;
            refuse_key_inside_log(kp, dir)?;
            Some(
                PatientKey::load(kp)
                    .context("loading the patient key")?
                    .hash(id),
            )
        }
        (None, Some(h)) => {
            Some(PatientHash::from_hex(h).map_err(|e| anyhow::anyhow!("--patient-hash: {e}"))?)
        }
        (None, None) => None,
    };
    let log = open(dir, None)?;
    let q = Query {
        basis: a.basis,
        patient,
        sender: a.sender,
        receiver: a.receiver,
        actor: a.actor,
        event: a.event,
        from: a.from,
        to: a.to,
        after: a.after,
        limit: a.limit,
    };
    let res = log.query(&q).context("querying the disclosure log")?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match a.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &res)?;
            writeln!(out)?;
        }
        Format::Csv => write_csv(&mut out, &res.entries)?,
        Format::Table => write_table(&mut out, &res.entries)?,
    }
    if a.format != Format::Json {
        eprintln!(
            "{} entries ({} read){}",
            res.entries.len(),
            res.records_read,
            res.next_after
                .map(|n| format!("; more with --after {n}"))
                .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
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

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
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

fn write_csv(out: &mut dyn Write, entries: &[Entry]) -> std::io::Result<()> {
    writeln!(out, "{}", COLUMNS.join(","))?;
    for e in entries {
        let r = row(e);
        writeln!(
            out,
            "{}",
            r.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(",")
        )?;
    }
    Ok(())
}

fn write_table(out: &mut dyn Write, entries: &[Entry]) -> std::io::Result<()> {
    // The columns a person scans; the rest is in --format json/csv.
    let pick = [0usize, 1, 2, 3, 4, 5, 9, 10, 13, 14];
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let r = row(e);
            pick.iter().map(|&i| r[i].clone()).collect()
        })
        .collect();
    let heads: Vec<&str> = pick.iter().map(|&i| COLUMNS[i]).collect();
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
    let key = a
        .key
        .as_deref()
        .map(LogPublicKey::load)
        .transpose()
        .context("loading the public key")?;
    let saved = a
        .against
        .iter()
        .map(|p| SignedTreeHead::load(p))
        .collect::<Result<Vec<_>, _>>()
        .context("loading a saved head")?;
    let log = open(dir, None)?;
    let report = log
        .verify(&VerifyOptions {
            public_key: key,
            saved_heads: saved,
        })
        .context("verifying the disclosure log")?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else if report.ok() {
        println!(
            "OK: log {:?}, {} entries, {} signed heads and {} saved heads checked, {} index keys, root {}",
            report.log_id,
            report.entries,
            report.heads_checked,
            report.saved_heads_checked,
            report.index_keys,
            report.root_hash
        );
        if a.key.is_none() {
            println!(
                "note: checked with the public key stored in the log; give --key PUB to check \
                 against the key you trust"
            );
        }
    } else {
        let first = report.first().expect("not ok has a problem");
        println!("FAILED: {first}");
        for p in report.problems.iter().skip(1) {
            println!("  also: {p}");
        }
    }
    Ok(if report.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    })
}

fn head(dir: &Path, a: &HeadArgs) -> anyhow::Result<ExitCode> {
    let log = open(dir, a.sign_with.as_deref())?;
    if a.sign_with.is_some() {
        log.sign_head().context("signing a tree head")?;
    }
    if a.all {
        for h in log.heads()? {
            println!("{}", serde_json::to_string(&h)?);
        }
    } else {
        let h = log
            .latest_head()?
            .context("the log has no signed head yet (use --sign-with KEY)")?;
        println!("{}", serde_json::to_string_pretty(&h)?);
    }
    Ok(ExitCode::SUCCESS)
}

fn proof(dir: &Path, a: &ProofArgs) -> anyhow::Result<ExitCode> {
    let log = open(dir, a.sign_with.as_deref())?;
    if let Some(saved) = &a.consistency_from {
        let old = SignedTreeHead::load(saved)?;
        let new = log.latest_head()?.context("the log has no signed head")?;
        match log.consistency_proof(&old, &new) {
            Ok(b) => println!("{}", serde_json::to_string_pretty(&b)?),
            Err(e) => {
                println!("FAILED: {e}");
                return Ok(ExitCode::from(EXIT_INVALID));
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(seq) = a.seq {
        let b = log
            .prove_entry(seq)
            .with_context(|| format!("proving entry {seq}"))?;
        println!("{}", serde_json::to_string_pretty(&b)?);
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
    println!("{}", serde_json::to_string_pretty(&proofs)?);
    Ok(ExitCode::SUCCESS)
}

fn check_proof(a: &CheckProofArgs) -> anyhow::Result<ExitCode> {
    let key = LogPublicKey::load(&a.key).context("loading the public key")?;
    let f =
        std::fs::File::open(&a.file).with_context(|| format!("opening {}", a.file.display()))?;
    let mut reader = BufReader::new(f);
    let text = {
        let mut first = String::new();
        reader
            .read_line(&mut first)
            .with_context(|| format!("reading {}", a.file.display()))?;
        first
    };
    let name = a.file.display();
    // An export is JSON lines starting with a header; everything else is one JSON document.
    let outcome: Result<String, String> = if text.contains("\"kind\":\"header\"") {
        let mut rest = BufReader::new(std::io::Read::chain(
            std::io::Cursor::new(text.clone()),
            reader,
        ));
        check_export(&mut rest, &key).map(|c| {
            format!(
                "export of log {:?}: {} entries proved against the signed head of size {}",
                c.log_id, c.entries, c.head_size
            )
        })
    } else {
        let mut all = text;
        std::io::Read::read_to_string(&mut reader, &mut all)
            .with_context(|| format!("reading {name}"))?;
        check_document(&all, &key)
    };
    match outcome {
        Ok(msg) => {
            println!("OK: {msg}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            println!("FAILED: {name}: {e}");
            Ok(ExitCode::from(EXIT_INVALID))
        }
    }
}

fn check_document(text: &str, key: &LogPublicKey) -> Result<String, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not a proof document: {e}"))?;
    let one = |v: serde_json::Value| -> Result<String, String> {
        match v.get("kind").and_then(|k| k.as_str()) {
            Some("inclusion") => {
                let b: InclusionBundle =
                    serde_json::from_value(v).map_err(|e| format!("inclusion proof: {e}"))?;
                b.check(key)?;
                Ok(format!(
                    "entry {} (basis {}, {}) is in log {:?} at the signed head of size {}",
                    b.entry.seq,
                    b.entry.record.basis_id,
                    b.entry.record.event,
                    b.head.log_id,
                    b.tree_size
                ))
            }
            Some("consistency") => {
                let b: ConsistencyBundle =
                    serde_json::from_value(v).map_err(|e| format!("consistency proof: {e}"))?;
                b.check(key)?;
                Ok(format!(
                    "log {:?} at size {} extends its head of size {} unchanged",
                    b.new.log_id, b.new.tree_size, b.old.tree_size
                ))
            }
            other => Err(format!("unknown proof kind {other:?}")),
        }
    };
    match v {
        serde_json::Value::Array(items) => {
            let n = items.len();
            let mut msgs = Vec::new();
            for (i, it) in items.into_iter().enumerate() {
                msgs.push(one(it).map_err(|e| format!("proof {} of {n}: {e}", i + 1))?);
            }
            Ok(msgs.join("\nOK: "))
        }
        v => one(v),
    }
}

fn export(dir: &Path, a: &ExportArgs) -> anyhow::Result<ExitCode> {
    let log = open(dir, a.sign_with.as_deref())?;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&a.out)
        .with_context(|| {
            format!(
                "creating {} (an existing file is not overwritten)",
                a.out.display()
            )
        })?;
    let mut w = std::io::BufWriter::new(f);
    let s = log
        .export(a.from, a.to, &mut w)
        .with_context(|| format!("exporting to {}", a.out.display()))?;
    w.into_inner()
        .map_err(|e| e.into_error())
        .and_then(|f| f.sync_all())
        .with_context(|| format!("writing {}", a.out.display()))?;
    println!(
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
