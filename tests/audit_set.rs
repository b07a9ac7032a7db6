//! The logs of several hub instances as one answer (`audit::set`, `invoice-hub audit` with
//! repeated `--log`): merged queries tagged by instance, each log verified with its own key, one
//! export file of several logs checked offline, and a redelivered basis visible in both logs.

mod audit_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use audit_support::*;
use chrono::Duration;
use invoice_hub::audit::set::check_export_set;
use invoice_hub::audit::{
    AuditLog, Event, LogConfig, LogSet, LogSigningKey, Query, Record, SignedTreeHead,
};

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

/// What one hub instance logs for one basis it disclosed (and, if `delivered`, delivered).
fn basis_records(instance: &str, basis: &str, minute: i64, delivered: bool) -> Vec<Record> {
    let events: &[Event] = if delivered {
        &[Event::Received, Event::Disclosed, Event::Delivered]
    } else {
        &[Event::Received, Event::Disclosed]
    };
    events
        .iter()
        .enumerate()
        .map(|(i, ev)| {
            let mut r = record(0, 1);
            // As the hub does it: the disclosure decision is made (and timed) before the
            // `received` record is, but `received` is appended first.
            let second = [1, 0, 2][i];
            r.time = t0() + Duration::minutes(minute) + Duration::seconds(second);
            r.event = *ev;
            r.basis_id = basis.into();
            r.instance = instance.into();
            r.patients = vec![patient_key().hash(&personal_number(basis.len() as u64 % 2))];
            r
        })
        .collect()
}

struct Two {
    _d: tempfile::TempDir,
    a: PathBuf,
    b: PathBuf,
    pub_a: PathBuf,
    pub_b: PathBuf,
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Hub A disclosed B-1 and B-2 and died after logging B-3 as disclosed (no delivery, no ack);
/// the broker gave B-3 to hub B, which logged it in full, then B-4.
fn two_hubs() -> Two {
    let d = tempfile::tempdir().unwrap();
    let mut dirs = Vec::new();
    let mut pubs = Vec::new();
    for (name, seed) in [("hub-a", 1u8), ("hub-b", 2u8)] {
        let key = LogSigningKey::from_seed([seed; 32]);
        let pub_path = d.path().join(format!("{name}.pub"));
        std::fs::write(&pub_path, key.public().to_pem()).unwrap();
        let dir = d.path().join(name);
        let log = AuditLog::open(&dir, LogConfig::new(name, key)).unwrap();
        let recs: Vec<Record> = match name {
            "hub-a" => [
                basis_records(name, "B-1", 0, true),
                basis_records(name, "B-2", 1, true),
                basis_records(name, "B-3", 2, false),
            ]
            .concat(),
            _ => [
                basis_records(name, "B-3", 3, true),
                basis_records(name, "B-4", 4, true),
            ]
            .concat(),
        };
        log.append_batch(&recs).unwrap();
        log.close().unwrap();
        dirs.push(dir);
        pubs.push(pub_path);
    }
    Two {
        _d: d,
        a: dirs[0].clone(),
        b: dirs[1].clone(),
        pub_a: pubs[0].clone(),
        pub_b: pubs[1].clone(),
    }
}

#[test]
fn a_set_answers_in_time_order_with_each_entry_tagged_by_its_instance() {
    let t = two_hubs();
    let set = LogSet::open_existing(&[t.a.clone(), t.b.clone()]).unwrap();
    let res = set
        .query(&Query {
            basis: Some("B-3".into()),
            ..Query::default()
        })
        .unwrap();
    let got: Vec<(String, Event)> = res
        .entries
        .iter()
        .map(|e| (e.log.clone(), e.entry.record.event))
        .collect();
    assert_eq!(
        got,
        vec![
            ("hub-a".into(), Event::Received),
            ("hub-a".into(), Event::Disclosed),
            ("hub-b".into(), Event::Received),
            ("hub-b".into(), Event::Disclosed),
            ("hub-b".into(), Event::Delivered),
        ],
        "the redelivered basis: hub A's account ends at disclosed, hub B's is complete"
    );
    let all = set
        .query(&Query {
            limit: 4,
            ..Query::default()
        })
        .unwrap();
    assert_eq!(all.entries.len(), 4);
    assert!(all.truncated);
    assert!(set
        .query(&Query {
            after: Some(1),
            ..Query::default()
        })
        .is_err());
}

#[test]
fn two_logs_with_one_id_are_refused() {
    let t = two_hubs();
    let copy = t._d.path().join("hub-a-copy");
    std::fs::create_dir_all(&copy).unwrap();
    for e in std::fs::read_dir(&t.a).unwrap().flatten() {
        if e.path().is_file() {
            std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
        }
    }
    let err = LogSet::open_existing(&[t.a.clone(), copy])
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("same log id \"hub-a\""), "{err}");
}

#[test]
fn each_log_is_verified_with_its_own_key_and_a_foreign_key_fails() {
    let t = two_hubs();
    let (code, out, err) = cli(&[
        "--log",
        s(&t.a),
        "--log",
        s(&t.b),
        "verify",
        "--key",
        s(&t.pub_b),
        "--key",
        s(&t.pub_a),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("OK: log \"hub-a\", 8 entries")
            && out.contains("OK: log \"hub-b\", 6 entries"),
        "{out}"
    );
    assert!(out.contains("OK: 2 logs, 14 entries in all"), "{out}");
    // Only hub A's key: hub B's log is not signed by a key the auditor trusts.
    let (code, out, _) = cli(&[
        "--log",
        s(&t.a),
        "--log",
        s(&t.b),
        "verify",
        "--key",
        s(&t.pub_a),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAILED: log \"hub-b\"") && out.contains("not the key given"),
        "{out}"
    );
}

#[test]
fn the_cli_tags_rows_with_the_log_and_proves_a_basis_across_logs() {
    let t = two_hubs();
    let (code, out, err) = cli(&[
        "--log",
        s(&t.a),
        "--log",
        s(&t.b),
        "query",
        "--basis",
        "B-3",
        "--format",
        "csv",
    ]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("log,seq,time,event,basis_id"), "{out}");
    assert_eq!(lines.len(), 6, "{out}");
    assert!(lines[1].starts_with("hub-a,") && lines[5].starts_with("hub-b,"));
    assert!(
        err.contains("5 entries from 2 logs (hub-a: 2, hub-b: 3"),
        "{err}"
    );

    let (code, out, _) = cli(&[
        "--log",
        s(&t.a),
        "--log",
        s(&t.b),
        "query",
        "--format",
        "json",
        "--limit",
        "0",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["logs"][0]["log_id"], "hub-a");
    assert_eq!(v["logs"][1]["entries"], 6);
    assert_eq!(v["entries"].as_array().unwrap().len(), 14);
    assert_eq!(v["entries"][0]["log"], "hub-a");
    assert_eq!(v["entries"][0]["record"]["instance"], "hub-a");

    let (code, proofs, err) = cli(&[
        "--log",
        s(&t.a),
        "--log",
        s(&t.b),
        "proof",
        "--basis",
        "B-3",
    ]);
    assert_eq!(code, 0, "{err}");
    let file = t._d.path().join("b3.json");
    std::fs::write(&file, &proofs).unwrap();
    let (code, out, _) = cli(&[
        "check-proof",
        s(&file),
        "--key",
        s(&t.pub_a),
        "--key",
        s(&t.pub_b),
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("OK: ").count(), 5, "{out}");
    assert!(out.contains("in log \"hub-a\"") && out.contains("in log \"hub-b\""));
    // Without hub B's key, hub B's proofs do not check.
    let (code, out, _) = cli(&["check-proof", s(&file), "--key", s(&t.pub_a)]);
    assert_eq!(code, 1, "{out}");
}

#[test]
fn one_export_of_two_logs_checks_offline_with_both_keys() {
    let t = two_hubs();
    let out_file = t._d.path().join("audit.jsonl");
    let (code, out, err) = cli(&[
        "--log",
        s(&t.a),
        "--log",
        s(&t.b),
        "export",
        "--out",
        s(&out_file),
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 logs"), "{out}");
    let keys = [
        invoice_hub::audit::LogPublicKey::load(&t.pub_a).unwrap(),
        invoice_hub::audit::LogPublicKey::load(&t.pub_b).unwrap(),
    ];
    let checks = check_export_set(
        &mut std::io::BufReader::new(std::fs::File::open(&out_file).unwrap()),
        &keys,
    )
    .unwrap();
    let got: Vec<(String, u64)> = checks
        .iter()
        .map(|c| (c.log_id.clone(), c.entries))
        .collect();
    assert_eq!(got, vec![("hub-a".into(), 8), ("hub-b".into(), 6)]);
    let (code, out, _) = cli(&[
        "check-proof",
        s(&out_file),
        "--key",
        s(&t.pub_a),
        "--key",
        s(&t.pub_b),
    ]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("OK: export of log").count(), 2, "{out}");
    // A section cut off or a key missing is a failure, never a partial OK.
    let (code, out, _) = cli(&["check-proof", s(&out_file), "--key", s(&t.pub_a)]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("signed by none of the keys"), "{out}");
    let text = std::fs::read_to_string(&out_file).unwrap();
    let cut: Vec<&str> = text.lines().collect();
    let cut_file = t._d.path().join("cut.jsonl");
    std::fs::write(&cut_file, cut[..cut.len() - 1].join("\n")).unwrap();
    let (code, out, _) = cli(&[
        "check-proof",
        s(&cut_file),
        "--key",
        s(&t.pub_a),
        "--key",
        s(&t.pub_b),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("cut off"), "{out}");
    // Saved heads go to their own log.
    let head: SignedTreeHead = AuditLog::open_existing(&t.b, None)
        .unwrap()
        .latest_head()
        .unwrap()
        .unwrap();
    let hp = t._d.path().join("head-b.json");
    std::fs::write(&hp, serde_json::to_string(&head).unwrap()).unwrap();
    let (code, out, _) = cli(&[
        "--log",
        s(&t.a),
        "--log",
        s(&t.b),
        "verify",
        "--against",
        s(&hp),
    ]);
    // Without a trusted key the check is said to be worth nothing, and exits 1 …
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("NOT CHECKED against a key you trust"), "{out}");
    // … unless the auditor says that is what they want.
    let (code, out, _) = cli(&[
        "--log",
        s(&t.a),
        "--log",
        s(&t.b),
        "verify",
        "--against",
        s(&hp),
        "--trust-stored-key",
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("\"hub-b\", 6 entries, 1 signed heads and 1 saved heads"),
        "{out}"
    );
}
