//! The disclosure log through its library API: durable appends, reopen, signed heads, proofs
//! (checked offline with only the public key), queries through indexes, export.

mod audit_support;

use audit_support::*;
use invoice_hub::audit::export::check_export;
use invoice_hub::audit::{
    AuditLog, ConsistencyBundle, Event, InclusionBundle, LogConfig, LogSigningKey, Query,
    VerifyOptions,
};

#[test]
fn appends_survive_reopen_and_verify() {
    let d = tempfile::tempdir().unwrap();
    let log = open(d.path(), 16);
    let a = log.append(&record(0, 3)).unwrap();
    assert_eq!(a.seq, 0);
    let batch: Vec<_> = (1..100).map(|i| record(i, 3)).collect();
    let got = log.append_batch(&batch).unwrap();
    assert_eq!(got.len(), 99);
    assert_eq!(got[98].seq, 99);
    let root = log.root();
    drop(log);

    let log = open(d.path(), 16);
    assert_eq!(log.size(), 100);
    assert_eq!(log.root(), root);
    assert_eq!(log.get(42).unwrap().unwrap().record, record(42, 3));
    let heads = log.heads().unwrap();
    // Checkpoints: the batch crossed 16 once (from 1 to 100 → one head at 100).
    assert!(heads.iter().any(|h| h.tree_size == 100));
    let r = log.verify(&VerifyOptions::default()).unwrap();
    assert!(r.ok(), "{:?}", r.problems);
    assert_eq!(r.entries, 100);
    assert_eq!(r.root_hash, hex::encode(root));
}

#[test]
fn checkpoints_sign_heads_and_close_signs_the_last() {
    let d = tempfile::tempdir().unwrap();
    let log = open(d.path(), 10);
    for i in 0..25 {
        log.append(&record(i, 3)).unwrap();
    }
    let sizes: Vec<u64> = log.heads().unwrap().iter().map(|h| h.tree_size).collect();
    assert_eq!(sizes, vec![10, 20]);
    let last = log.close().unwrap().unwrap();
    assert_eq!(last.tree_size, 25);
    let log = open(d.path(), 10);
    let pk = signing_key().public();
    for h in log.heads().unwrap() {
        h.verify(&pk).unwrap();
    }
    assert_eq!(log.latest_head().unwrap().unwrap(), last);
}

#[test]
fn a_log_refuses_another_instance_or_key() {
    let d = tempfile::tempdir().unwrap();
    open(d.path(), 0).append(&record(0, 1)).unwrap();
    let e = AuditLog::open(d.path(), LogConfig::new("hub-other", signing_key())).unwrap_err();
    assert!(e.to_string().contains("hub-other"), "{e}");
    let e = AuditLog::open(
        d.path(),
        LogConfig::new("hub-test", LogSigningKey::from_seed([1; 32])),
    )
    .unwrap_err();
    assert!(e.to_string().contains("another signing key"), "{e}");
    let ro = AuditLog::open_existing(d.path(), None).unwrap();
    assert!(ro.append(&record(1, 1)).is_err());
}

#[test]
fn inclusion_proofs_round_trip_through_json_and_catch_changes() {
    let d = tempfile::tempdir().unwrap();
    let log = open(d.path(), 0);
    log.append_batch(&(0..37).map(|i| record(i, 5)).collect::<Vec<_>>())
        .unwrap();
    let head = log.sign_head().unwrap();
    let pk = signing_key().public();
    for seq in 0..37 {
        let p = log.inclusion_proof(seq, &head).unwrap();
        let json = serde_json::to_string_pretty(&p).unwrap();
        let back: InclusionBundle = serde_json::from_str(&json).unwrap();
        back.check(&pk).unwrap();
    }
    let p = log.prove_entry(5).unwrap();
    let mut changed = p.clone();
    changed.entry.record.receiver = "2321000999".into();
    let e = changed.check(&pk).unwrap_err();
    assert!(e.contains("does not lead to the root"), "{e}");
    let mut moved = p.clone();
    moved.leaf_index = 6;
    assert!(moved.check(&pk).is_err());
    let other = LogSigningKey::from_seed([9; 32]).public();
    assert!(p.check(&other).unwrap_err().contains("signature"));
}

#[test]
fn consistency_proofs_between_heads_check_offline() {
    let d = tempfile::tempdir().unwrap();
    let log = open(d.path(), 0);
    let mut heads = Vec::new();
    for n in [1u64, 2, 3, 7, 8, 9, 16, 33] {
        while log.size() < n {
            log.append(&record(log.size(), 4)).unwrap();
        }
        heads.push(log.sign_head().unwrap());
    }
    let pk = signing_key().public();
    for (i, a) in heads.iter().enumerate() {
        for b in &heads[i..] {
            let p = log.consistency_proof(a, b).unwrap();
            let json = serde_json::to_string(&p).unwrap();
            let back: ConsistencyBundle = serde_json::from_str(&json).unwrap();
            back.check(&pk).unwrap();
        }
    }
    assert!(log.consistency_proof(&heads[3], &heads[1]).is_err());
}

#[test]
fn queries_use_indexes_and_paginate() {
    let d = tempfile::tempdir().unwrap();
    let log = open(d.path(), 0);
    log.append_batch(&(0..300).map(|i| record(i, 10)).collect::<Vec<_>>())
        .unwrap();
    let p3 = patient_key().hash(&personal_number(3));

    let r = log
        .query(&Query {
            patient: Some(p3),
            ..Query::default()
        })
        .unwrap();
    let seqs: Vec<u64> = r.entries.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (0..300).filter(|i| i % 10 == 3).collect::<Vec<_>>());
    assert_eq!(r.records_read, 30);
    assert!(r.next_after.is_none());

    // Intersection: patient 3 and event disclosed (i % 3 == 1) and sender i % 4 == 1.
    let r = log
        .query(&Query {
            patient: Some(p3),
            event: Some(Event::Disclosed),
            sender: Some("2321000001".into()),
            ..Query::default()
        })
        .unwrap();
    let expect: Vec<u64> = (0..300)
        .filter(|i| i % 10 == 3 && i % 3 == 1 && i % 4 == 1)
        .collect();
    assert_eq!(r.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), expect);
    assert_eq!(r.records_read, expect.len() as u64, "only matches are read");

    // Pagination by cursor.
    let mut got = Vec::new();
    let mut q = Query {
        receiver: Some("2321000102".into()),
        limit: 7,
        ..Query::default()
    };
    loop {
        let page = log.query(&q).unwrap();
        assert!(page.entries.len() <= 7);
        got.extend(page.entries.iter().map(|e| e.seq));
        match page.next_after {
            Some(a) => q.after = Some(a),
            None => break,
        }
    }
    assert_eq!(got, (0..300).filter(|i| i % 5 == 2).collect::<Vec<_>>());

    // A period alone, paginated: minutes 100..150.
    let mut q = Query {
        from: Some(t0() + chrono::Duration::minutes(100)),
        to: Some(t0() + chrono::Duration::minutes(150)),
        limit: 20,
        ..Query::default()
    };
    let mut got = Vec::new();
    loop {
        let page = log.query(&q).unwrap();
        got.extend(page.entries.iter().map(|e| e.seq));
        match page.next_after {
            Some(a) => q.after = Some(a),
            None => break,
        }
    }
    assert_eq!(got, (100..150).collect::<Vec<_>>());

    // By basis id: exactly one.
    let r = log
        .query(&Query {
            basis: Some("B-0000123".into()),
            ..Query::default()
        })
        .unwrap();
    assert_eq!(r.entries.len(), 1);
    assert_eq!(r.entries[0].seq, 123);
    assert_eq!(r.records_read, 1);
}

#[test]
fn a_query_by_patient_among_100_000_reads_only_that_patients_entries() {
    let d = tempfile::tempdir().unwrap();
    let log = open(d.path(), 4096);
    let patients = 5000;
    for chunk in (0..100_000u64).collect::<Vec<_>>().chunks(5000) {
        let recs: Vec<_> = chunk.iter().map(|&i| record(i, patients)).collect();
        log.append_batch(&recs).unwrap();
    }
    let p = patient_key().hash(&personal_number(1234));
    let r = log
        .query(&Query {
            patient: Some(p),
            ..Query::default()
        })
        .unwrap();
    let expect: Vec<u64> = (0..100_000).filter(|i| i % patients == 1234).collect();
    assert_eq!(expect.len(), 20);
    assert_eq!(r.entries.iter().map(|e| e.seq).collect::<Vec<_>>(), expect);
    assert!(r.entries.iter().all(|e| e.record.patients == vec![p]));
    assert_eq!(r.records_read, 20, "read exactly that patient's entries");
}

#[test]
fn accessed_events_record_the_reader() {
    let d = tempfile::tempdir().unwrap();
    let log = open(d.path(), 0);
    let mut r = invoice_hub::audit::Record::accessed(
        t0(),
        "B-0000000",
        "2321000016",
        "2321000164",
        "store-01",
        "CN=staff-01,O=Region Stockholm",
        "get",
    );
    r.patients = record(0, 1).patients;
    log.append(&r).unwrap();
    log.append(&record(1, 1)).unwrap();
    let got = log
        .query(&Query {
            actor: Some("CN=staff-01,O=Region Stockholm".into()),
            ..Query::default()
        })
        .unwrap();
    assert_eq!(got.entries.len(), 1);
    assert_eq!(got.entries[0].record.action.as_deref(), Some("get"));
}

#[test]
fn an_export_checks_offline_and_a_changed_line_fails() {
    let d = tempfile::tempdir().unwrap();
    let log = open(d.path(), 0);
    log.append_batch(&(0..120).map(|i| record(i, 7)).collect::<Vec<_>>())
        .unwrap();
    let mut out = Vec::new();
    let s = log
        .export(
            Some(t0() + chrono::Duration::minutes(10)),
            Some(t0() + chrono::Duration::minutes(60)),
            &mut out,
        )
        .unwrap();
    assert_eq!(s.count, 50);
    let pk = signing_key().public();
    let c = check_export(&mut out.as_slice(), &pk).unwrap();
    assert_eq!(c.entries, 50);

    let text = String::from_utf8(out).unwrap();
    let tampered = text.replacen("B-0000011", "B-0000999", 1);
    let e = check_export(&mut tampered.as_bytes(), &pk).unwrap_err();
    assert!(e.contains("line 3"), "{e}");
    let cut: String = text.lines().take(20).map(|l| format!("{l}\n")).collect();
    assert!(check_export(&mut cut.as_bytes(), &pk)
        .unwrap_err()
        .contains("cut off"));
}
