//! `invoice-hub audit` over several logs (repeated `--log`): the logs of several hub instances
//! answered as one. Queries merge in time order with each entry tagged by the log (the hub
//! instance) that holds it; verify checks every log with its own key; `proof --basis` proves
//! the basis's entries in every log; export writes one section per log into one file, which
//! `check-proof` checks with the logs' keys. See `audit::set` for why the logs stay separate.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use serde::Serialize;

use super::{
    build_query, query_status, refuse_other_patient_key, write_csv, write_table, Cmd, ExportArgs,
    HeadArgs, ProofArgs, QueryArgs, VerifyArgs, EXIT_INVALID, EXIT_USAGE,
};
use crate::audit::{Entry, LogPublicKey, LogSet, Query, SetEntry, SignedTreeHead};
use crate::cli::output::{say, Format};

/// One log of the set, as the JSON answer lists it.
#[derive(Serialize)]
struct LogSummary {
    log_id: String,
    path: String,
    entries: usize,
}

#[derive(Serialize)]
struct SetAnswer<'a> {
    logs: Vec<LogSummary>,
    entries: &'a [SetEntry],
    records_read: u64,
    truncated: bool,
}

/// `audit` with several `--log`s: one subcommand over every log.
pub(super) fn run(dirs: &[PathBuf], cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Query(a) => query(dirs, a),
        Cmd::Verify(v) => verify(dirs, v),
        Cmd::Head(h) => head(dirs, h),
        Cmd::Proof(p) => proof(dirs, p),
        Cmd::Export(e) => export(dirs, e),
        Cmd::Keygen(_) | Cmd::CheckProof(_) | Cmd::ReviewReport(_) | Cmd::PatientExtract(_) => {
            unreachable!("handled before the logs are opened")
        }
    }
}

fn open(dirs: &[PathBuf]) -> anyhow::Result<LogSet> {
    LogSet::open_existing(dirs).with_context(|| {
        format!(
            "opening the disclosure logs {}",
            dirs.iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// `audit query` over several logs: one answer, each entry tagged with its log.
fn query(dirs: &[PathBuf], a: QueryArgs) -> anyhow::Result<ExitCode> {
    let format = a.format;
    let (q, key_id) = build_query(a, dirs)?;
    let limit = q.limit;
    let set = open(dirs)?;
    for log in set.logs() {
        refuse_other_patient_key(log, key_id.as_deref())?;
    }
    let res = set.query(&q).context("querying the disclosure logs")?;
    let counts = set.count_by_log(&res);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match format {
        Format::Json => {
            let answer = SetAnswer {
                logs: set
                    .logs()
                    .iter()
                    .map(|l| LogSummary {
                        log_id: l.log_id().to_owned(),
                        path: l.path().display().to_string(),
                        entries: counts[l.log_id()],
                    })
                    .collect(),
                entries: &res.entries,
                records_read: res.records_read,
                truncated: res.truncated,
            };
            serde_json::to_writer_pretty(&mut out, &answer)?;
            writeln!(out)?;
        }
        Format::Csv | Format::Text => {
            let logs: Vec<String> = res.entries.iter().map(|e| e.log.clone()).collect();
            let entries: Vec<Entry> = res.entries.into_iter().map(|e| e.entry).collect();
            if format == Format::Csv {
                write_csv(&mut out, &entries, Some(&logs))?;
            } else {
                write_table(&mut out, &entries, Some(&logs))?;
            }
        }
    }
    if format != Format::Json {
        eprintln!(
            "{} entries from {} logs ({}; {} read)",
            counts.values().sum::<usize>(),
            counts.len(),
            counts
                .iter()
                .map(|(l, n)| format!("{l}: {n}"))
                .collect::<Vec<_>>()
                .join(", "),
            res.records_read,
        );
    }
    Ok(query_status(res.truncated, limit))
}

/// `audit verify` over several logs: each checked with the key that is its own.
fn verify(dirs: &[PathBuf], v: VerifyArgs) -> anyhow::Result<ExitCode> {
    v.check_format()?;
    let keys = v
        .key
        .iter()
        .map(|p| {
            LogPublicKey::load(p).with_context(|| format!("loading the public key {}", p.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let saved = v
        .against
        .iter()
        .map(|p| SignedTreeHead::load(p))
        .collect::<Result<Vec<_>, _>>()
        .context("loading a saved head")?;
    let set = open(dirs)?;
    let ids: Vec<String> = set.logs().iter().map(|l| l.log_id().to_string()).collect();
    let held = v.witnesses.fetch(&ids)?;
    let mut saved = saved;
    saved.extend(held.iter().filter_map(|h| h.head.clone()));
    let reports = set
        .verify(&keys, &saved)
        .context("verifying the disclosure logs")?;
    let untrusted = keys.is_empty() && !v.trust_stored_key;
    let ok = reports.iter().all(|r| r.ok());
    if v.json() {
        say!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        for r in &reports {
            if r.ok() {
                say!(
                    "OK: log {:?}, {} entries, {} signed heads and {} saved heads checked, root {}",
                    r.log_id,
                    r.entries,
                    r.heads_checked,
                    r.saved_heads_checked,
                    r.root_hash
                );
            } else {
                say!(
                    "FAILED: log {:?}: {}",
                    r.log_id,
                    r.first().expect("not ok has a problem")
                );
                for p in r.problems.iter().skip(1) {
                    say!("  also: {p}");
                }
            }
        }
        say!(
            "{}: {} logs, {} entries in all",
            if ok { "OK" } else { "FAILED" },
            reports.len(),
            reports.iter().map(|r| r.entries).sum::<u64>()
        );
        for l in super::witness::describe(&held) {
            say!("{l}");
        }
        if keys.is_empty() {
            say!("{}", super::stored_key_note(untrusted));
        }
    }
    Ok(if ok && !untrusted {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_INVALID)
    })
}

/// `audit head` over several logs: each log's latest signed head (or all of them).
fn head(dirs: &[PathBuf], h: HeadArgs) -> anyhow::Result<ExitCode> {
    if h.sign_with.is_some() {
        bail!("--sign-with signs one log's head: give one --log");
    }
    let set = open(dirs)?;
    for log in set.logs() {
        if h.all {
            for head in log.heads()? {
                say!("{}", serde_json::to_string(&head)?);
            }
        } else {
            let head = log
                .latest_head()?
                .with_context(|| format!("log {:?} has no signed head yet", log.log_id()))?;
            say!("{}", serde_json::to_string(&head)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `audit proof --basis` over several logs: the inclusion proofs of every entry of the basis.
fn proof(dirs: &[PathBuf], p: ProofArgs) -> anyhow::Result<ExitCode> {
    if p.seq.is_some() || p.consistency_from.is_some() || p.sign_with.is_some() {
        bail!("--seq, --consistency-from and --sign-with are about one log: give one --log");
    }
    let basis = p.basis.expect("clap requires --basis here");
    let set = open(dirs)?;
    let mut proofs = Vec::new();
    for log in set.logs() {
        let res = log.query(&Query {
            basis: Some(basis.clone()),
            ..Query::default()
        })?;
        for e in res.entries {
            proofs.push(
                log.prove_entry(e.seq).with_context(|| {
                    format!("proving entry {} of log {:?}", e.seq, log.log_id())
                })?,
            );
        }
    }
    if proofs.is_empty() {
        eprintln!("error: no entry for basis {basis:?} in any of the logs");
        return Ok(ExitCode::from(EXIT_USAGE));
    }
    say!("{}", serde_json::to_string_pretty(&proofs)?);
    Ok(ExitCode::SUCCESS)
}

/// `audit export` over several logs: one file, a section per log.
fn export(dirs: &[PathBuf], e: ExportArgs) -> anyhow::Result<ExitCode> {
    if e.sign_with.is_some() {
        bail!("--sign-with signs one log's head: give one --log (the hubs sign a head when they stop)");
    }
    let set = open(dirs)?;
    let all = super::write_export(&e.out, |w| set.export(e.from, e.to, w))?;
    say!("wrote {}: {} logs", e.out.display(), all.len());
    for (log_id, s) in &all {
        say!(
            "  log {log_id:?}: {} entries, proved against the signed head of size {} (root {})",
            s.count,
            s.head.tree_size,
            s.head.root_hash
        );
        if s.left_out > 0 {
            eprintln!(
                "note: log {log_id:?}: {} newer entries of the period are not covered by a \
                 signed head and were left out",
                s.left_out
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
