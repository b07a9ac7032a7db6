//! `invoice-hub assess` as a region runs it: decisions per file, the disclosed documents, and
//! the exit codes for invalid bases and bad policies.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn assess(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_invoice-hub"))
        .arg("assess")
        .args(["--today", "20261122"])
        .args(args)
        .output()
        .expect("runs")
}

/// A policy for Region Skåne (the sender of most samples): psychiatry and primary care rules
/// that do not match the samples, a removal of gender, and a default.
fn skane_policy(dir: &Path) -> PathBuf {
    let p = dir.join("skane.toml");
    std::fs::write(
        &p,
        r#"id = "skane"
version = "7"
region = "2321000255"
[board_decision]
reference = "RS 2026/99 §3"
date = "2026-02-01"
[validity]
from = "2026-01-01"
[[rule]]
id = "S1"
description = "gender is not needed for invoicing"
action = "remove"
remove = ["patientInformation/patientOtherInformation/gender"]
[[rule]]
id = "S2"
description = "default"
action = "disclose"
"#,
    )
    .unwrap();
    p
}

#[test]
fn json_decisions_and_the_disclosed_documents() {
    let dir = tempfile::tempdir().unwrap();
    let policy = skane_policy(dir.path());
    let out = dir.path().join("out");
    let o = assess(&[
        "--policy",
        policy.to_str().unwrap(),
        "--format",
        "json",
        "--out",
        out.to_str().unwrap(),
        data("outpatient_patient_specific.xml").to_str().unwrap(),
        data("asylum_extensions_default_ns.xml").to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let skane = &lines[0];
    assert_eq!(skane["outcome"], "remove");
    assert_eq!(skane["policy_id"], "skane");
    assert_eq!(skane["policy_version"], "7");
    assert_eq!(skane["board_decision"]["reference"], "RS 2026/99 §3");
    assert_eq!(skane["rules"][0]["id"], "S1");
    assert!(skane["removed"][0].as_str().unwrap().ends_with("/gender"));
    // The VGR sample has no policy here: withheld, and nothing written for it.
    assert_eq!(lines[1]["outcome"], "withhold");
    assert_eq!(lines[1]["rules"][0]["id"], "NO-POLICY");
    let written: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        written,
        vec![std::ffi::OsString::from("outpatient_patient_specific.xml")]
    );
    let doc = std::fs::read_to_string(out.join("outpatient_patient_specific.xml")).unwrap();
    assert!(!doc.contains("gender>") && doc.contains("patientIdentity"));
}

#[test]
fn text_names_the_policy_board_decision_and_rules() {
    let dir = tempfile::tempdir().unwrap();
    let policy = skane_policy(dir.path());
    let o = assess(&[
        "--policy",
        policy.to_str().unwrap(),
        data("inpatient_drg.xml").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    for want in [
        "policy skane version 7",
        "board decision RS 2026/99 §3",
        "rule S1",
        "rule S2",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
}

#[test]
fn an_invalid_basis_is_not_assessed_and_exits_one() {
    let dir = tempfile::tempdir().unwrap();
    let policy = skane_policy(dir.path());
    let bad = dir.path().join("bad.xml");
    let raw = std::fs::read_to_string(data("credit_note_381.xml")).unwrap();
    std::fs::write(
        &bad,
        raw.replace("<c:lineId>1</c:lineId>", "<c:lineId>x</c:lineId>"),
    )
    .unwrap();
    let o = assess(&["--policy", policy.to_str().unwrap(), bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8(o.stdout).unwrap().contains("INVALID"));
}

#[test]
fn a_bad_policy_exits_two_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let policy = skane_policy(dir.path());
    let text = std::fs::read_to_string(&policy).unwrap().replace(
        "action = \"disclose\"",
        "action = \"disclose\"\ncolour = \"red\"",
    );
    std::fs::write(&policy, text).unwrap();
    let o = assess(&[
        "--policy",
        policy.to_str().unwrap(),
        data("inpatient_drg.xml").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.contains("skane.toml:18:") && err.contains("colour"),
        "{err}"
    );
}
