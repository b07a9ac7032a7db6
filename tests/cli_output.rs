//! The commands speak the one output language docs/output.md defines: every JSON field a
//! command prints is a field of that page (or one of the old names it lists), CSV headers are
//! the columns the page gives, and `| head` ends a command quietly.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::ih;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn doc() -> String {
    std::fs::read_to_string(root().join("docs/output.md")).unwrap()
}

/// The fields of the language: the backticked names in the first column of the marked table.
fn language() -> BTreeSet<String> {
    let doc = doc();
    let start = doc.find("<!-- output-language:").expect("the marked table");
    let end = doc.find("<!-- /output-language -->").expect("its end");
    let mut fields = BTreeSet::new();
    for row in doc[start..end].lines().filter(|l| l.starts_with("| `")) {
        let first = row.split('|').nth(1).unwrap();
        for name in first.split('`').skip(1).step_by(2) {
            fields.insert(name.to_owned());
        }
    }
    assert!(
        fields.contains("basis_id") && fields.contains("outcome"),
        "{fields:?}"
    );
    fields
}

/// The CSV columns docs/output.md's per-command table gives for `command`.
fn documented_columns(command: &str) -> String {
    let doc = doc();
    let row = doc
        .lines()
        .find(|l| l.starts_with(&format!("| `{command}` |")))
        .unwrap_or_else(|| panic!("docs/output.md has no row for {command}"));
    let csv = row.split('|').nth(4).unwrap();
    csv.split('`').nth(1).unwrap().to_owned()
}

fn data(name: &str) -> String {
    root().join("tests/data").join(name).display().to_string()
}

/// An invalid copy of an example: a basis the validator refuses, so findings are printed.
fn broken(dir: &Path) -> String {
    let text = std::fs::read_to_string(data("credit_note_381.xml")).unwrap();
    let bad = dir.join("broken.xml");
    let broken = text.replacen(":typeOfInvoice>381<", ":typeOfInvoice>999<", 1);
    assert_ne!(broken, text, "the example changed");
    std::fs::write(&bad, broken).unwrap();
    bad.display().to_string()
}

fn json_lines(out: &str) -> Vec<serde_json::Map<String, serde_json::Value>> {
    out.lines()
        .map(|l| match serde_json::from_str(l) {
            Ok(serde_json::Value::Object(m)) => m,
            other => panic!("not a JSON object per line: {l}: {other:?}"),
        })
        .collect()
}

fn assert_in_language(lines: &[serde_json::Map<String, serde_json::Value>], old: &[&str]) {
    let fields = language();
    for line in lines {
        for key in line.keys() {
            assert!(
                fields.contains(key) || old.contains(&key.as_str()),
                "{key:?} is not in docs/output.md's language: {line:?}"
            );
        }
    }
}

#[test]
fn validate_speaks_the_language_in_json_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let bad = broken(dir.path());
    let good = data("inpatient_drg.xml");
    let (code, out, err) = ih(&[
        "validate", "--today", "20261123", "--format", "json", &good, &bad,
    ]);
    assert_eq!(code, Some(1), "{err}");
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    assert_in_language(&lines, &["id", "result", "errors"]);
    assert_eq!(lines[0]["outcome"], "OK");
    assert_eq!(lines[1]["outcome"], "ERROR");
    for l in &lines {
        assert_eq!(l["basis_id"], l["id"], "the old name says the same");
        assert_eq!(l["findings"], l["errors"]);
        assert_eq!(l["outcome"], l["result"]);
    }
    assert!(!lines[1]["findings"].as_array().unwrap().is_empty());

    let (_, out, _) = ih(&[
        "validate", "--today", "20261123", "--format", "csv", &good, &bad,
    ]);
    let mut rows = out.lines();
    assert_eq!(rows.next(), Some(documented_columns("validate").as_str()));
    assert!(rows.next().unwrap().contains(",OK,"));
    assert!(rows.all(|r| r.contains(",ERROR,error,")), "{out}");
}

#[test]
fn assess_speaks_the_language_in_json_and_csv() {
    let dir = tempfile::tempdir().unwrap();
    let bad = broken(dir.path());
    let policy = root().join("deploy/policies/region-halland.toml");
    let policy = policy.to_str().unwrap();
    let good = data("inpatient_drg.xml");
    let args = [
        "assess", "--policy", policy, "--today", "20261123", "--format",
    ];
    let (code, out, err) = ih(&[&args[..], &["json", &good, &bad]].concat());
    assert_eq!(code, Some(1), "{err}");
    let lines = json_lines(&out);
    assert_in_language(&lines, &["outcome", "id", "errors"]);
    let words = ["disclose", "remove", "withhold", "reject"];
    assert!(
        words.contains(&lines[0]["decision"].as_str().unwrap()),
        "{:?}",
        lines[0]
    );
    assert_eq!(
        lines[0]["decision"], lines[0]["outcome"],
        "the old name says the same"
    );
    assert!(
        lines[1]["decision"].is_null(),
        "an invalid basis is not assessed"
    );
    assert!(!lines[1]["findings"].as_array().unwrap().is_empty());

    let (_, out, _) = ih(&[&args[..], &["csv", &good, &bad]].concat());
    let mut rows = out.lines();
    assert_eq!(rows.next(), Some(documented_columns("assess").as_str()));
    assert_eq!(out.lines().count(), 3, "{out}");
}

#[test]
fn audit_query_takes_text_and_the_old_table() {
    let query = |format| {
        ih(&[
            "audit",
            "--log",
            "/nonexistent",
            "query",
            "--format",
            format,
        ])
    };
    for format in ["text", "table", "json", "csv"] {
        let (code, _, err) = query(format);
        // The format is accepted; the missing log is what stops it.
        assert_eq!(code, Some(2), "{format}: {err}");
        assert!(err.contains("/nonexistent"), "{format}: {err}");
    }
    let (code, _, err) = query("yaml");
    assert_eq!(code, Some(2));
    assert!(err.contains("possible values: text, json, csv"), "{err}");
}

/// `invoice-hub validate --format json dir/ | head -1`: one line, then a quiet stop. The output
/// (thousands of lines) is far bigger than a pipe holds, so the command is still writing when
/// its reader goes away.
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("bases");
    let (code, _, err) = ih(&[
        "gen",
        "--count",
        "1500",
        "--seed",
        "7",
        "--lines",
        "1-2",
        "--invalid-rate",
        "0.5",
        "--today",
        "20261123",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_invoice-hub"))
        .args([
            "validate", "--today", "20261123", "--format", "json", "--jobs", "1",
        ])
        .arg(&out_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone (dropped above): the next write fails with EPIPE.
    assert!(first.starts_with('{'), "{first}");
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        !err.contains("Broken pipe") && !err.contains("panicked"),
        "a closed pipe is not an error to report: {err}"
    );
}
