//! `invoice-hub validate` as a user runs it: exit codes, the three formats, directories.

use std::path::PathBuf;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_invoice-hub"))
}

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn run(args: &[&str]) -> Output {
    bin().arg("validate").args(args).output().expect("runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn bad_copy(dir: &std::path::Path) -> PathBuf {
    let raw = std::fs::read_to_string(data_dir().join("credit_note_381.xml")).unwrap();
    let p = dir.join("bad.xml");
    std::fs::write(
        &p,
        raw.replace("<c:lineId>1</c:lineId>", "<c:lineId>x</c:lineId>"),
    )
    .unwrap();
    p
}

#[test]
fn a_directory_of_valid_documents_exits_zero() {
    let o = run(&["--today", "20261122", data_dir().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    assert_eq!(
        out.lines().filter(|l| l.contains(": OK (ZVF")).count(),
        4,
        "{out}"
    );
}

#[test]
fn json_has_one_object_per_file_and_exit_one_when_any_is_invalid() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = bad_copy(tmp.path());
    let good = data_dir().join("inpatient_drg.xml");
    let o = run(&[
        "--format",
        "json",
        "--today",
        "20261122",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["result"], "OK");
    assert_eq!(lines[0]["id"], "ZVF23210002552611000124");
    assert_eq!(lines[0]["errors"].as_array().unwrap().len(), 0);
    assert_eq!(lines[1]["result"], "ERROR");
    assert_eq!(lines[1]["file"], bad.to_str().unwrap());
    let e = &lines[1]["errors"][0];
    assert_eq!(e["rule"], "XSD");
    assert_eq!(
        e["path"],
        "/claimSpecification/healthCareServicesSpecificationLine[1]/healthcarePerformed[1]/lineId"
    );
    assert!(e["message"].as_str().unwrap().contains("positiveInteger"));
}

#[test]
fn response_format_prints_the_contracts_answer() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = bad_copy(tmp.path());
    let o = run(&["--format", "response", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let resp = invoice_hub::claim::ProcessClaimSpecificationResponse::from_xml(&o.stdout).unwrap();
    assert_eq!(resp.result_code, invoice_hub::claim::ResultCode::Error);
    assert!(resp.comment.unwrap().contains("lineId"));

    let good = data_dir().join("credit_note_381.xml");
    let o = run(&[
        "--format",
        "response",
        "--today",
        "20261122",
        good.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let resp = invoice_hub::claim::ProcessClaimSpecificationResponse::from_xml(&o.stdout).unwrap();
    assert_eq!(resp.result_code, invoice_hub::claim::ResultCode::Ok);
}

#[test]
fn unreadable_files_and_bad_usage_exit_two() {
    let good = data_dir().join("credit_note_381.xml");
    let o = run(&[
        "--today",
        "20261122",
        good.to_str().unwrap(),
        "/nonexistent/basis.xml",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stdout(&o).contains("credit_note_381.xml: OK"),
        "the readable file is still checked"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/basis.xml"));

    assert_eq!(run(&[]).status.code(), Some(2));
    assert_eq!(run(&["--format", "yaml", "x.xml"]).status.code(), Some(2));
    assert_eq!(
        run(&["--today", "2026-11-22", "x.xml"]).status.code(),
        Some(2)
    );
}

#[test]
fn max_bytes_is_applied() {
    let good = data_dir().join("inpatient_drg.xml");
    let o = run(&[
        "--max-bytes",
        "1000",
        "--format",
        "json",
        good.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stdout(&o).contains("SAFETY-SIZE"));
}

/// A basis the contract's text accepts and an official receiver rejects: its invoice period
/// ends on the issue date (R20 in the official file is strict) and a currency code has a
/// leading space (R35 compares untrimmed).
fn officially_rejected(dir: &std::path::Path) -> PathBuf {
    let raw = std::fs::read_to_string(data_dir().join("outpatient_patient_specific.xml")).unwrap();
    let raw = raw.replacen(
        "<urn1:code>SEK</urn1:code>",
        "<urn1:code> SEK</urn1:code>",
        1,
    );
    let raw = raw.replacen(
        "</urn1:healthcareVisitDateTime>",
        "</urn1:healthcareVisitDateTime>\n            <urn1:invoicePeriod><urn1:start>20261115</urn1:start><urn1:end>20261115</urn1:end></urn1:invoicePeriod>",
        1,
    );
    let p = dir.join("official.xml");
    std::fs::write(&p, raw).unwrap();
    p
}

#[test]
fn the_default_profile_warns_where_an_official_receiver_rejects_and_exits_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let doc = officially_rejected(tmp.path());
    let o = run(&["--today", "20261122", doc.to_str().unwrap()]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains(": OK (ZVF"), "{out}");
    for rule in ["R20", "R35"] {
        assert!(
            out.lines().any(
                |l| l.trim_start().starts_with(&format!("warning: {rule} at "))
                    && l.contains("a receiver running the official Schematron will reject this")
            ),
            "{rule}: {out}"
        );
    }
    let o = run(&[
        "--today",
        "20261122",
        "--format",
        "json",
        doc.to_str().unwrap(),
    ]);
    let line: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(line["result"], "OK");
    assert_eq!(line["warnings"].as_array().unwrap().len(), 2, "{line}");
}

#[test]
fn the_official_profile_rejects_what_an_official_receiver_rejects_and_exits_one() {
    let tmp = tempfile::tempdir().unwrap();
    let doc = officially_rejected(tmp.path());
    let o = run(&[
        "--today",
        "20261122",
        "--profile",
        "official-schematron",
        doc.to_str().unwrap(),
    ]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("ERROR (ZVF"), "{out}");
    assert!(out.contains("  R20 at /claimSpecification/"), "{out}");
    assert!(
        out.contains("  R35 at /claimSpecification/payableAmount/currency"),
        "{out}"
    );
    assert!(!out.contains("warning:"), "{out}");
    let bad = run(&["--profile", "schematron", doc.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("official-schematron"));
}
