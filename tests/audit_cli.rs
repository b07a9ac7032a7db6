//! `invoice-hub audit` as an auditor runs it: keygen, query in each format, head, proofs checked
//! offline, export checked offline, and the exit codes (0 ok, 1 check failed, 2 usage/I/O).

mod audit_support;

use audit_support::*;
use invoice_hub::audit::{AuditLog, Event, LogConfig, LogSigningKey, PatientKey, SignedTreeHead};
use std::path::{Path, PathBuf};
use std::process::Command;

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_invoice-hub"))
        .arg("audit")
        .args(args)
        .env_remove("INVOICE_HUB_AUDIT_LOG")
        .env_remove("INVOICE_HUB_PATIENT_KEY")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

struct Setup {
    _d: tempfile::TempDir,
    keys: PathBuf,
    log: PathBuf,
    root: PathBuf,
}

impl Setup {
    fn s(p: &Path) -> &str {
        p.to_str().unwrap()
    }
    fn log(&self) -> &str {
        Self::s(&self.log)
    }
    fn key(&self, name: &str) -> String {
        self.keys.join(name).to_str().unwrap().to_owned()
    }
}

/// Keys made by `audit keygen`, a log of 60 entries written by the library with them.
fn setup() -> Setup {
    let d = tempfile::tempdir().unwrap();
    let keys = d.path().join("keys");
    let (code, out, err) = cli(&["keygen", "--out", keys.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("log-signing.key"));
    let sk = LogSigningKey::load(&keys.join("log-signing.key")).unwrap();
    let pk = PatientKey::load(&keys.join("patient-hmac.key")).unwrap();
    let log_dir = d.path().join("log");
    let log = AuditLog::open(
        &log_dir,
        LogConfig::new("hub-cli", sk).with_patient_key(&pk),
    )
    .unwrap();
    let recs: Vec<_> = (0..60)
        .map(|i| {
            let mut r = record(i, 6);
            r.patients = vec![pk.hash(&personal_number(i % 6))];
            r.basis_id = format!("B-{:04}", i / 3);
            r
        })
        .collect();
    log.append_batch(&recs).unwrap();
    log.close().unwrap();
    Setup {
        root: d.path().to_owned(),
        _d: d,
        keys,
        log: log_dir,
    }
}

#[test]
fn keygen_refuses_to_overwrite() {
    let s = setup();
    let (code, _, err) = cli(&["keygen", "--out", Setup::s(&s.keys)]);
    assert_eq!(code, 2);
    assert!(err.contains("refusing to overwrite"), "{err}");
}

#[test]
fn query_by_patient_in_each_format_never_prints_the_id() {
    let s = setup();
    let pn = personal_number(2);
    let pk = s.key("patient-hmac.key");
    let base = [
        "--log",
        s.log(),
        "query",
        "--patient",
        &pn,
        "--patient-key",
        &pk,
    ];

    let (code, out, err) = cli(&[&base[..], &["--format", "json"]].concat());
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let seqs: Vec<u64> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (0..60).filter(|i| i % 6 == 2).collect::<Vec<_>>());
    assert_eq!(v["records_read"], 10);

    let (code, out, _) = cli(&[&base[..], &["--format", "csv"]].concat());
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("seq,time,event,basis_id,sender,receiver,patients"));
    assert_eq!(lines.len(), 11);

    let (code, out, err) = cli(&[&base[..], &["--format", "table", "--limit", "4"]].concat());
    assert_eq!(code, 3, "a cut answer is not a whole one: {err}");
    assert_eq!(out.lines().count(), 5, "{out}");
    assert!(err.contains("more with --after 20"), "{err}");
    assert!(err.contains("cut at --limit 4"), "{err}");

    // CSV and JSON give everything unless told otherwise, and say so when told to cut.
    let (code, out, err) = cli(&[&base[..], &["--format", "csv", "--limit", "3"]].concat());
    assert_eq!(code, 3, "{err}");
    assert_eq!(out.lines().count(), 4, "{out}");
    assert!(err.contains("cut at --limit 3"), "{err}");
    let (code, _, err) = cli(&[&base[..], &["--format", "json", "--limit", "10"]].concat());
    assert_eq!(code, 0, "exactly everything is not cut: {err}");
    assert!(!err.contains("cut at"), "{err}");

    let (_, o, e) = cli(&[&base[..], &["--format", "csv"]].concat());
    assert!(
        !o.contains(&pn) && !e.contains(&pn),
        "the personal number is never printed"
    );
}

#[test]
fn query_filters_combine_and_paginate() {
    let s = setup();
    let (code, out, _) = cli(&[
        "--log",
        s.log(),
        "query",
        "--event",
        "disclosed",
        "--sender",
        "2321000001",
        "--from",
        "2026-01-01T00:10:00Z",
        "--format",
        "json",
        "--limit",
        "0",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let got: Vec<u64> = v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    let expect: Vec<u64> = (10..60).filter(|i| i % 3 == 1 && i % 4 == 1).collect();
    assert_eq!(got, expect);
    assert_eq!(
        v["entries"][0]["record"]["event"],
        Event::Disclosed.to_string()
    );
}

#[test]
fn usage_errors_exit_2() {
    let s = setup();
    let (code, _, err) = cli(&["query", "--basis", "B-0001"]);
    assert_eq!(code, 2);
    assert!(err.contains("--log"), "{err}");
    let (code, _, _) = cli(&["--log", s.log(), "query", "--patient", "19121212-1212"]);
    assert_eq!(code, 2, "--patient needs --patient-key");
    let (code, _, err) = cli(&["--log", s.log(), "query", "--event", "sent"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown event"), "{err}");
    // A patient key inside the log directory is refused.
    let inside = s.log.join("patient.key");
    std::fs::copy(s.key("patient-hmac.key"), &inside).unwrap();
    let (code, _, err) = cli(&[
        "--log",
        s.log(),
        "query",
        "--patient",
        "191212121212",
        "--patient-key",
        inside.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("inside the log directory"), "{err}");
    let (code, _, err) = cli(&["--log", Setup::s(&s.root.join("nothing")), "verify"]);
    assert_eq!(code, 2);
    assert!(err.contains("no disclosure log"), "{err}");
    let (code, out, _) = cli(&["--help"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("Examples:") && out.contains("check-proof"),
        "{out}"
    );
}

#[test]
fn head_proof_and_offline_check() {
    let s = setup();
    let pubk = s.key("log-signing.pub");
    let (code, out, _) = cli(&["--log", s.log(), "head"]);
    assert_eq!(code, 0);
    let head: SignedTreeHead = serde_json::from_str(&out).unwrap();
    assert_eq!(head.tree_size, 60);
    assert_eq!(head.log_id, "hub-cli");

    let (code, out, err) = cli(&["--log", s.log(), "proof", "--basis", "B-0007"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v.as_array().unwrap().len(),
        3,
        "received, disclosed, delivered"
    );
    let proof = s.root.join("proof.json");
    std::fs::write(&proof, &out).unwrap();
    let (code, out, _) = cli(&["check-proof", Setup::s(&proof), "--key", &pubk]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("OK: entry 21 (basis B-0007"), "{out}");

    let forged = s.root.join("forged.json");
    std::fs::write(
        &forged,
        std::fs::read_to_string(&proof)
            .unwrap()
            .replacen("2321000102", "2321000199", 1),
    )
    .unwrap();
    let (code, out, _) = cli(&["check-proof", Setup::s(&forged), "--key", &pubk]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("FAILED:"), "{out}");

    // Consistency from a saved head to a later one, checked offline.
    let saved = s.root.join("saved.json");
    std::fs::write(&saved, serde_json::to_string(&head).unwrap()).unwrap();
    let sk = LogSigningKey::load(&s.keys.join("log-signing.key")).unwrap();
    let log = AuditLog::open(&s.log, LogConfig::new("hub-cli", sk)).unwrap();
    log.append(&record(60, 6)).unwrap();
    log.close().unwrap();
    let (code, out, err) = cli(&[
        "--log",
        s.log(),
        "proof",
        "--consistency-from",
        Setup::s(&saved),
    ]);
    assert_eq!(code, 0, "{err}");
    let cons = s.root.join("cons.json");
    std::fs::write(&cons, out).unwrap();
    let (code, out, _) = cli(&["check-proof", Setup::s(&cons), "--key", &pubk]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("at size 61 extends its head of size 60"),
        "{out}"
    );
    let (code, out, _) = cli(&[
        "--log",
        s.log(),
        "verify",
        "--key",
        &pubk,
        "--against",
        Setup::s(&saved),
    ]);
    assert_eq!(code, 0, "{out}");
}

#[test]
fn export_checks_offline_and_refuses_to_overwrite() {
    let s = setup();
    let pubk = s.key("log-signing.pub");
    let out_file = s.root.join("audit-2026-01.jsonl");
    let (code, out, err) = cli(&[
        "--log",
        s.log(),
        "export",
        "--from",
        "2026-01-01T00:20:00Z",
        "--to",
        "2026-01-01T00:40:00Z",
        "--out",
        Setup::s(&out_file),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("20 entries"), "{out}");
    let (code, out, _) = cli(&["check-proof", Setup::s(&out_file), "--key", &pubk]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("20 entries proved"), "{out}");

    let (code, _, err) = cli(&["--log", s.log(), "export", "--out", Setup::s(&out_file)]);
    assert_eq!(code, 2);
    assert!(err.contains("not overwritten"), "{err}");

    let text = std::fs::read_to_string(&out_file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let dropped: String = lines
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 5)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let bad = s.root.join("dropped.jsonl");
    std::fs::write(&bad, dropped).unwrap();
    let (code, out, _) = cli(&["check-proof", Setup::s(&bad), "--key", &pubk]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("says 20 entries but holds 19"), "{out}");
}

/// Every file under `dir` with the SHA-256 of its bytes, in path order.
fn hashes(dir: &Path) -> Vec<(PathBuf, String)> {
    use sha2::{Digest, Sha256};
    let mut out: Vec<(PathBuf, String)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let bytes = std::fs::read(e.path()).unwrap();
            (e.path().to_owned(), hex::encode(Sha256::digest(bytes)))
        })
        .collect();
    out.sort();
    out
}

/// `audit verify`, `query`, `head`, `proof` and `export` read evidence: the log's files stay
/// exactly as they were (by hash), and a `chmod -R a-w` copy verifies. As root, permissions
/// bind nobody, so the read-only copy is read as the unprivileged user `nobody`.
#[test]
fn verify_and_queries_leave_the_evidence_untouched() {
    let s = setup();
    let pubkey = s.key("log-signing.pub");
    let before = hashes(&s.log);
    let out_file = s.root.join("export.jsonl");
    for args in [
        vec!["--log", s.log(), "verify", "--key", &pubkey],
        vec!["--log", s.log(), "query", "--format", "json"],
        vec!["--log", s.log(), "head"],
        vec!["--log", s.log(), "proof", "--basis", "B-0003"],
        vec![
            "--log",
            s.log(),
            "export",
            "--out",
            out_file.to_str().unwrap(),
        ],
    ] {
        let (code, out, err) = cli(&args);
        assert_eq!(code, 0, "{args:?}: {out}{err}");
        assert_eq!(hashes(&s.log), before, "{args:?} changed the log's files");
    }

    // A read-only copy, as an auditor receives evidence.
    let evidence = tempfile::tempdir().unwrap();
    let copy = evidence.path().join("log");
    std::fs::create_dir(&copy).unwrap();
    for (f, _) in &before {
        std::fs::copy(f, copy.join(f.strip_prefix(&s.log).unwrap())).unwrap();
    }
    let key = evidence.path().join("log-signing.pub");
    std::fs::copy(&pubkey, &key).unwrap();
    let copied = hashes(&copy);
    let chmod = |mode: &str| {
        let st = Command::new("chmod")
            .args(["-R", mode])
            .arg(evidence.path())
            .status()
            .unwrap();
        assert!(st.success());
    };
    chmod("a+rX");
    chmod("a-w");
    let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
    let mut verify = if root {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_invoice-hub"));
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_invoice-hub"))
    };
    let o = verify
        .arg("audit")
        .arg("--log")
        .arg(&copy)
        .arg("verify")
        .arg("--key")
        .arg(&key)
        .env_remove("INVOICE_HUB_AUDIT_LOG")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        said.starts_with("OK: log \"hub-cli\", 60 entries"),
        "{said}"
    );
    assert!(
        !said.contains("invoice-hub-evidence"),
        "the copy is not named: {said}"
    );
    assert_eq!(hashes(&copy), copied, "the read-only copy is unchanged");
    chmod("u+w");
}

/// A patient key other than the one the log was written with would answer "nothing about this
/// patient" whatever happened: refused, naming both key ids, exit 2.
#[test]
fn a_patient_key_that_is_not_the_logs_is_refused() {
    let s = setup();
    let other = s.root.join("other-keys");
    let (code, _, err) = cli(&["keygen", "--out", other.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let right = PatientKey::load(&s.keys.join("patient-hmac.key")).unwrap();
    let wrong = PatientKey::load(&other.join("patient-hmac.key")).unwrap();
    let pn = personal_number(2);
    let (code, out, err) = cli(&[
        "--log",
        s.log(),
        "query",
        "--patient",
        &pn,
        "--patient-key",
        other.join("patient-hmac.key").to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "no answer at all: {out}");
    assert!(
        err.contains(&format!(
            "hashes patients with the patient key of id {}, and the key given has id {}",
            right.id(),
            wrong.id()
        )),
        "{err}"
    );
    assert!(!err.contains(&pn), "{err}");
}
