//! `invoice-hub gen` as a user runs it: the files, the manifest and the protected-identities
//! list it writes, byte-identical output for the same seed whatever the thread count, a prefix
//! property across counts, and clear refusals (exit 2) for bad arguments.

use std::path::Path;
use std::process::{Command, Output};

use invoice_hub::synth::ManifestEntry;

const BIN: &str = env!("CARGO_BIN_EXE_invoice-hub");

fn gen(out: &Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .args(["gen", "--month", "2026-10", "--today", "20261123", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .expect("run invoice-hub gen")
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "gen failed: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Every file of a directory, name → bytes, sorted.
fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

fn manifest(dir: &Path) -> Vec<ManifestEntry> {
    std::fs::read_to_string(dir.join("manifest.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn same_seed_same_bytes_whatever_the_thread_count_and_counts_are_prefixes() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c, d) = (
        tmp.path().join("a"),
        tmp.path().join("b"),
        tmp.path().join("c"),
        tmp.path().join("d"),
    );
    let args = ["--seed", "11", "--invalid-rate", "0.3"];
    ok(&gen(
        &a,
        &[&args[..], &["--count", "120", "--jobs", "1"]].concat(),
    ));
    ok(&gen(
        &b,
        &[&args[..], &["--count", "120", "--jobs", "3"]].concat(),
    ));
    let ca = contents(&a);
    assert_eq!(ca.len(), 122, "120 documents, manifest, protected list");
    assert!(
        ca == contents(&b),
        "--jobs 1 and --jobs 3 wrote different bytes"
    );

    // --count 30 is the first 30 documents of --count 120, and the first 30 manifest lines.
    ok(&gen(&c, &[&args[..], &["--count", "30"]].concat()));
    let ma = manifest(&a);
    let mc = manifest(&c);
    assert_eq!(mc[..], ma[..30]);
    for e in &mc {
        assert_eq!(
            std::fs::read(c.join(&e.file)).unwrap(),
            std::fs::read(a.join(&e.file)).unwrap(),
            "{}",
            e.file
        );
    }

    // Another seed, other documents.
    ok(&gen(
        &d,
        &["--seed", "12", "--invalid-rate", "0.3", "--count", "30"],
    ));
    let md = manifest(&d);
    let same = md
        .iter()
        .zip(&mc)
        .filter(|(x, y)| {
            std::fs::read(d.join(&x.file)).unwrap() == std::fs::read(c.join(&y.file)).unwrap()
        })
        .count();
    assert_eq!(same, 0, "seed 12 repeated {same} documents of seed 11");
}

#[test]
fn writes_documents_manifest_and_protected_list_and_a_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("bases");
    let o = gen(
        &out,
        &["--count", "400", "--seed", "3", "--invalid-rate", "0.1"],
    );
    ok(&o);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("wrote 400 documents"), "{stdout}");
    assert!(stdout.contains("invalid on purpose:"), "{stdout}");

    let m = manifest(&out);
    assert_eq!(m.len(), 400);
    let mut invalid = 0;
    let mut ids = std::collections::HashSet::new();
    for (i, e) in m.iter().enumerate() {
        assert_eq!(e.index, i as u64);
        let bytes = std::fs::read(out.join(&e.file)).unwrap();
        assert_eq!(bytes.len() as u64, e.bytes);
        assert!(ids.insert(e.id.clone()));
        assert!(invoice_hub::claim::regions::region(&e.sender).is_some());
        assert!(invoice_hub::claim::regions::region(&e.receiver).is_some());
        assert_ne!(e.sender, e.receiver);
        assert!((1..=100).contains(&e.lines));
        invalid += usize::from(e.injected_rule.is_some());
        if let Some(orig) = &e.credits {
            assert!(
                m[..i].iter().any(|p| &p.id == orig),
                "credits a later basis"
            );
        }
        assert!(!e.features.patient_id_kinds.is_empty());
    }
    assert!((15..=70).contains(&invalid), "{invalid} invalid of 400");
    assert!(
        stdout.contains(&format!("invalid on purpose: {invalid} ")),
        "{stdout}"
    );

    // The sensitive features occur in a run of this size.
    let any = |f: fn(&ManifestEntry) -> bool| m.iter().any(f);
    assert!(any(|e| e.features.psychiatry));
    assert!(any(|e| e.features.abortion));
    assert!(any(|e| e.features.reduced_fee_03));
    assert!(any(|e| e.features.primary_care));
    assert!(any(|e| e.features.asylum));
    assert!(any(|e| e.features.credit_note));
    assert!(any(|e| e.features.inpatient && e.features.drg_pricing));

    // Protected identities: each listed id occurs in a document flagged protected_identity.
    let protected = std::fs::read_to_string(out.join("protected-identities.txt")).unwrap();
    let listed: Vec<&str> = protected.lines().collect();
    assert!(!listed.is_empty(), "no protected identity in 400 documents");
    for id in &listed {
        let hit = m.iter().any(|e| {
            e.features.protected_identity
                && String::from_utf8(std::fs::read(out.join(&e.file)).unwrap())
                    .unwrap()
                    .contains(&format!(">{id}<"))
        });
        assert!(hit, "protected id not found in a flagged document");
    }

    // The documents pass `invoice-hub validate` except the ones the manifest marks.
    let v = Command::new(BIN)
        .args(["validate", "--today", "20261123", "--format", "json"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(
        v.status.code(),
        Some(1),
        "some documents are invalid on purpose"
    );
    let reports: Vec<serde_json::Value> = String::from_utf8(v.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 400);
    for (r, e) in reports.iter().zip(&m) {
        assert!(r["file"].as_str().unwrap().ends_with(&e.file));
        let expect = if e.injected_rule.is_some() {
            "ERROR"
        } else {
            "OK"
        };
        assert_eq!(r["result"], expect, "{}", e.file);
        if let Some(rule) = &e.injected_rule {
            assert!(r["errors"]
                .as_array()
                .unwrap()
                .iter()
                .all(|x| &x["rule"] == rule));
        }
    }
}

#[test]
fn exact_line_counts() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ten");
    ok(&gen(&out, &["--count", "25", "--lines", "10"]));
    assert!(manifest(&out).iter().all(|e| e.lines == 10));
}

#[test]
fn bad_arguments_are_refused_with_exit_2_and_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("x");
    let cases: &[(&[&str], &str)] = &[
        (&["--count", "0"], "--count 0"),
        (&["--count", "1000000"], "--count 1000000"),
        (
            &["--count", "5", "--invalid-rate", "1.5"],
            "--invalid-rate 1.5",
        ),
        (&["--count", "5", "--lines", "0-4"], "1 <= MIN <= MAX"),
        (&["--count", "5", "--lines", "9-3"], "1 <= MIN <= MAX"),
        (&["--count", "5", "--lines", "many"], "not MIN-MAX"),
        (&["--count", "5", "--jobs", "0"], "--jobs 0"),
        (&["--count", "five"], "invalid value"),
    ];
    for (args, expect) in cases {
        let o = gen(&out, args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
    }
    // A month after today.
    let o = Command::new(BIN)
        .args([
            "gen", "--count", "1", "--month", "2026-12", "--today", "20261123", "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("in the future"));
    assert!(!out.exists(), "nothing is written for refused arguments");

    // A directory holding someone else's files.
    let busy = tmp.path().join("busy");
    std::fs::create_dir(&busy).unwrap();
    std::fs::write(busy.join("notes.txt"), "mine").unwrap();
    let o = gen(&busy, &["--count", "1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not empty"));
    let o = gen(&busy, &["--count", "1", "--force"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(busy.join("notes.txt")).unwrap(),
        "mine"
    );

    // --force replaces an earlier run.
    let again = tmp.path().join("again");
    ok(&gen(&again, &["--count", "5"]));
    assert_eq!(gen(&again, &["--count", "3"]).status.code(), Some(2));
    ok(&gen(&again, &["--count", "3", "--force"]));
    assert_eq!(std::fs::read_dir(&again).unwrap().count(), 5);
}

#[test]
fn help_teaches_with_examples() {
    let o = Command::new(BIN).args(["gen", "--help"]).output().unwrap();
    assert!(o.status.success());
    let help = String::from_utf8_lossy(&o.stdout);
    for want in [
        "--count",
        "--seed",
        "--invalid-rate",
        "--lines",
        "--month",
        "--jobs",
        "Examples:",
        "manifest.jsonl",
        "protected-identities.txt",
    ] {
        assert!(help.contains(want), "help lacks {want}:\n{help}");
    }
}
