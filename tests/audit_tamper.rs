//! Tampering with the disclosure log at the database level (redb) — the way someone with access to the data
//! directory would — must be caught by `verify` (library and `invoice-hub audit verify`) or by a
//! consistency proof, which must name the entry and what is wrong.

mod audit_support;
mod store_harness;

use audit_support::*;
use invoice_hub::audit::{AuditLog, SignedTreeHead, VerifyOptions, VerifyReport};
use redb::ReadableTable;
use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command;

const N: u64 = 100;

/// A closed log of N entries (heads at 32, 64, 96 and 100) and the public key file.
fn make_log(dir: &Path) -> PathBuf {
    let log = open(dir, 32);
    for chunk in (0..N).collect::<Vec<_>>().chunks(8) {
        log.append_batch(&chunk.iter().map(|&i| record(i, 10)).collect::<Vec<_>>())
            .unwrap();
    }
    log.close().unwrap();
    let pub_path = dir.with_extension("pub");
    std::fs::write(&pub_path, signing_key().public().to_pem()).unwrap();
    pub_path
}

/// Open the database file directly with redb, change it in one transaction, commit, close.
fn tamper(dir: &Path, f: impl FnOnce(&Raw)) {
    let db = redb::Database::create(dir.join("data.redb")).unwrap();
    let raw = Raw(db.begin_write().unwrap());
    f(&raw);
    raw.0.commit().unwrap();
}

/// A write transaction on the log's database, table by table, as someone with the file would.
struct Raw(redb::WriteTransaction);

type Bytes = &'static [u8];

impl Raw {
    fn open_tree(&self, name: &str) -> RawTable<'_> {
        let def = redb::TableDefinition::<Bytes, Bytes>::new(name);
        RawTable(RefCell::new(self.0.open_table(def).unwrap()))
    }
}

struct RawTable<'a>(RefCell<redb::Table<'a, Bytes, Bytes>>);

impl RawTable<'_> {
    fn get(&self, k: impl AsRef<[u8]>) -> Result<Option<Vec<u8>>, redb::Error> {
        Ok(self.0.borrow().get(k.as_ref())?.map(|v| v.value().to_vec()))
    }
    fn insert(&self, k: impl AsRef<[u8]>, v: impl AsRef<[u8]>) -> Result<(), redb::Error> {
        self.0.borrow_mut().insert(k.as_ref(), v.as_ref())?;
        Ok(())
    }
    fn remove(&self, k: impl AsRef<[u8]>) -> Result<(), redb::Error> {
        self.0.borrow_mut().remove(k.as_ref())?;
        Ok(())
    }
    fn keys(&self) -> Vec<Vec<u8>> {
        self.0
            .borrow()
            .iter()
            .unwrap()
            .map(|kv| kv.unwrap().0.value().to_vec())
            .collect()
    }
    fn clear(&self) -> Result<(), redb::Error> {
        for k in self.keys() {
            self.remove(k)?;
        }
        Ok(())
    }
}

fn verify_lib(dir: &Path, saved: Vec<SignedTreeHead>) -> VerifyReport {
    let log = AuditLog::open_existing(dir, None).unwrap();
    log.verify(&VerifyOptions {
        public_key: Some(signing_key().public()),
        saved_heads: saved,
    })
    .unwrap()
}

fn cli(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_invoice-hub"))
        .arg("audit")
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn verify_cli(dir: &Path, key: &Path, extra: &[&str]) -> (i32, String) {
    let mut args = vec![
        "--log",
        dir.to_str().unwrap(),
        "verify",
        "--key",
        key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    cli(&args)
}

fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

#[test]
fn an_untouched_log_verifies_in_the_library_and_the_cli() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("log");
    let key = make_log(&dir);
    let r = verify_lib(&dir, vec![]);
    assert!(r.ok(), "{:?}", r.problems);
    assert_eq!(r.entries, N);
    assert_eq!(r.heads_checked, 4);
    let (code, out) = verify_cli(&dir, &key, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("OK: "), "{out}");
}

#[test]
fn changing_a_byte_of_a_record_is_named() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("log");
    let key = make_log(&dir);
    tamper(&dir, |db| {
        let t = db.open_tree("entries");
        let mut v = t.get(seq_key(41)).unwrap().unwrap().to_vec();
        // The receiver's last digit: still valid, canonical JSON, but another region.
        let pos = String::from_utf8_lossy(&v).find("\"receiver\":\"").unwrap() + 20;
        v[pos] = if v[pos] == b'9' { b'8' } else { v[pos] + 1 };
        t.insert(seq_key(41), v).unwrap();
    });
    let r = verify_lib(&dir, vec![]);
    let first = r.first().expect("must fail");
    assert_eq!(first.seq, Some(41), "{:?}", r.problems);
    assert!(first.what.contains("changed"), "{first}");
    // The heads covering entry 41 no longer match.
    assert!(r
        .problems
        .iter()
        .any(|p| p.what.contains("signed head of size 64")));
    let (code, out) = verify_cli(&dir, &key, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.starts_with("FAILED: entry 41:"), "{out}");
}

#[test]
fn a_change_that_breaks_the_encoding_is_named() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("log");
    let key = make_log(&dir);
    tamper(&dir, |db| {
        let t = db.open_tree("entries");
        let mut v = t.get(seq_key(7)).unwrap().unwrap().to_vec();
        v[0] = b' ';
        t.insert(seq_key(7), v).unwrap();
    });
    let r = verify_lib(&dir, vec![]);
    assert_eq!(r.first().unwrap().seq, Some(7), "{:?}", r.problems);
    let (code, out) = verify_cli(&dir, &key, &[]);
    assert_eq!(code, 1);
    assert!(out.starts_with("FAILED: entry 7:"), "{out}");
}

#[test]
fn deleting_a_record_is_named() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("log");
    let key = make_log(&dir);
    tamper(&dir, |db| {
        db.open_tree("entries").remove(seq_key(17)).unwrap();
    });
    let r = verify_lib(&dir, vec![]);
    let first = r.first().unwrap();
    assert_eq!(first.seq, Some(17), "{:?}", r.problems);
    assert!(first.what.contains("missing"), "{first}");
    let (code, out) = verify_cli(&dir, &key, &[]);
    assert_eq!(code, 1);
    assert!(out.starts_with("FAILED: entry 17: is missing"), "{out}");
}

#[test]
fn reordering_two_records_is_named() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("log");
    let key = make_log(&dir);
    tamper(&dir, |db| {
        let t = db.open_tree("entries");
        let a = t.get(seq_key(3)).unwrap().unwrap();
        let b = t.get(seq_key(8)).unwrap().unwrap();
        t.insert(seq_key(3), b).unwrap();
        t.insert(seq_key(8), a).unwrap();
    });
    let r = verify_lib(&dir, vec![]);
    let first = r.first().unwrap();
    assert_eq!(first.seq, Some(3), "{:?}", r.problems);
    assert!(first.what.contains("reordered"), "{first}");
    assert!(r
        .problems
        .iter()
        .any(|p| p.seq == Some(8) && p.what.contains("reordered")));
    let (code, out) = verify_cli(&dir, &key, &[]);
    assert_eq!(code, 1);
    assert!(out.starts_with("FAILED: entry 3:"), "{out}");
}

#[test]
fn truncating_the_tail_is_named() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("log");
    let key = make_log(&dir);
    tamper(&dir, |db| {
        let t = db.open_tree("entries");
        for s in 90..N {
            t.remove(seq_key(s)).unwrap();
        }
    });
    let r = verify_lib(&dir, vec![]);
    let first = r.first().unwrap();
    assert_eq!(first.seq, Some(90), "{:?}", r.problems);
    assert!(first.what.contains("tail"), "{first}");
    assert!(r.problems.iter().any(|p| p
        .what
        .contains("signed head of size 100 covers 100 entries")));
    let (code, out) = verify_cli(&dir, &key, &[]);
    assert_eq!(code, 1);
    assert!(out.contains("tail were removed"), "{out}");
}

#[test]
fn a_clean_truncation_with_metadata_and_heads_fixed_is_caught_by_a_saved_head() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("log");
    let key = make_log(&dir);
    let saved_path = d.path().join("saved-head.json");
    let (code, head_json) = cli(&["--log", dir.to_str().unwrap(), "head"]);
    assert_eq!(code, 0, "{head_json}");
    std::fs::write(&saved_path, &head_json).unwrap();
    truncate_cleanly(&dir);
    assert!(verify_lib(&dir, vec![]).ok(), "internally consistent");
    let saved = SignedTreeHead::load(&saved_path).unwrap();
    let r = verify_lib(&dir, vec![saved]);
    let first = r.first().expect("the saved head must catch it");
    assert!(
        first
            .what
            .contains("truncated or replaced with an older copy"),
        "{first}"
    );
    let (code, out) = verify_cli(&dir, &key, &["--against", saved_path.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("saved head of size 100"), "{out}");
}

/// Cuts the closed log of [`make_log`] back to 64 entries and makes everything agree, as the
/// best forger with the files would: entries, size, heads, indexes, and the head signed at 64
/// as the seal. The log is then a perfectly consistent log of 64 entries, and a writer opens it.
fn truncate_cleanly(dir: &Path) {
    tamper(dir, |db| {
        let e = db.open_tree("entries");
        for s in 64..N {
            e.remove(seq_key(s)).unwrap();
        }
        let h = db.open_tree("heads");
        let at64 = h.get(64u64.to_be_bytes()).unwrap().unwrap();
        let meta = db.open_tree("meta");
        meta.insert("size", &64u64.to_be_bytes()[..]).unwrap();
        meta.insert("seal", &at64).unwrap();
        h.remove(96u64.to_be_bytes()).unwrap();
        h.remove(100u64.to_be_bytes()).unwrap();
        for ix in [
            "ix_basis",
            "ix_patient",
            "ix_sender",
            "ix_receiver",
            "ix_event",
            "ix_time",
        ] {
            let t = db.open_tree(ix);
            let stale: Vec<_> = t
                .keys()
                .into_iter()
                .filter(|k| u64::from_be_bytes(k[k.len() - 8..].try_into().unwrap()) >= 64)
                .collect();
            for k in stale {
                t.remove(k).unwrap();
            }
        }
    });
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn replacing_the_log_with_an_older_copy_is_caught_by_a_consistency_proof() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("log");
    let key = make_log(&dir);
    let old_copy = d.path().join("old-copy");
    copy_dir(&dir, &old_copy);
    // The log goes on; an auditor saves the later head outside the log.
    let log = open(&dir, 32);
    log.append_batch(&(N..N + 30).map(|i| record(i, 10)).collect::<Vec<_>>())
        .unwrap();
    let later = log.sign_head().unwrap();
    drop(log);
    let saved_path = d.path().join("saved-head.json");
    std::fs::write(&saved_path, serde_json::to_string(&later).unwrap()).unwrap();
    // Someone puts the older copy back.
    std::fs::remove_dir_all(&dir).unwrap();
    copy_dir(&old_copy, &dir);

    let r = verify_lib(&dir, vec![]);
    assert!(
        r.ok(),
        "the older copy is consistent with itself: {:?}",
        r.problems
    );
    let r = verify_lib(&dir, vec![later.clone()]);
    assert!(!r.ok());
    assert!(
        r.problems
            .iter()
            .any(|p| p.what.contains("consistency proof") && p.what.contains("size 130")),
        "{:?}",
        r.problems
    );
    assert!(r.first().unwrap().what.contains("older copy"));

    let (code, out) = verify_cli(&dir, &key, &["--against", saved_path.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("older copy"), "{out}");
    let (code, out) = cli(&[
        "--log",
        dir.to_str().unwrap(),
        "proof",
        "--consistency-from",
        saved_path.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("replaced with an older copy"), "{out}");
}

#[test]
fn a_forked_copy_of_the_same_size_fails_the_consistency_check() {
    // An older copy whose entry was edited and re-hashed throughout (nodes, heads re-signed is
    // impossible without the key, so the attacker drops the heads): the saved head catches it.
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("log");
    let key = make_log(&dir);
    let saved_path = d.path().join("saved.json");
    let (_, head_json) = cli(&["--log", dir.to_str().unwrap(), "head"]);
    std::fs::write(&saved_path, head_json).unwrap();
    // Rebuild a log with one record different, same size, with its own (wrong) key's heads
    // removed, and put it in place.
    let forged = d.path().join("forged");
    let log = open(&forged, 0);
    let mut recs: Vec<_> = (0..N).map(|i| record(i, 10)).collect();
    recs[12].receiver = "2321000999".into();
    log.append_batch(&recs).unwrap();
    drop(log);
    tamper(&forged, |db| db.open_tree("heads").clear().unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
    copy_dir(&forged, &dir);
    let (code, out) = verify_cli(&dir, &key, &["--against", saved_path.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("saved head of size 100") && out.contains("rewritten"),
        "{out}"
    );
}

#[test]
fn an_index_entry_pointing_at_the_wrong_record_is_named() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("log");
    let key = make_log(&dir);
    tamper(&dir, |db| {
        // Move basis B-0000005's index key to point at entry 77.
        let t = db.open_tree("ix_basis");
        let k = t
            .keys()
            .into_iter()
            .find(|k| k.windows(9).any(|w| w == b"B-0000005"))
            .unwrap();
        t.remove(&k).unwrap();
        let mut wrong = k[..k.len() - 8].to_vec();
        wrong.extend_from_slice(&77u64.to_be_bytes());
        t.insert(wrong, &[][..]).unwrap();
    });
    let r = verify_lib(&dir, vec![]);
    assert!(!r.ok());
    assert!(
        r.problems.iter().any(|p| p.seq == Some(77)
            && p.what.contains("basis index points at this entry")
            && p.what.contains("wrong record")),
        "{:?}",
        r.problems
    );
    assert!(r
        .problems
        .iter()
        .any(|p| p.seq == Some(5) && p.what.contains("missing from the basis index")));
    let (code, out) = verify_cli(&dir, &key, &[]);
    assert_eq!(code, 1);
    assert!(out.contains("entry 77: the basis index points"), "{out}");
}

#[test]
fn an_extra_index_entry_is_named() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("log");
    let key = make_log(&dir);
    tamper(&dir, |db| {
        // Claim that patient 3 is also on entry 4.
        let p3 = patient_key().hash(&personal_number(3));
        let mut k = p3.0.to_vec();
        k.extend_from_slice(&4u64.to_be_bytes());
        db.open_tree("ix_patient").insert(k, &[][..]).unwrap();
    });
    let r = verify_lib(&dir, vec![]);
    let first = r.first().expect("must fail");
    assert_eq!(first.seq, Some(4));
    assert!(first.what.contains("patient index points"), "{first}");
    let (code, out) = verify_cli(&dir, &key, &[]);
    assert_eq!(code, 1);
    assert!(
        out.starts_with("FAILED: entry 4: the patient index"),
        "{out}"
    );
}

#[test]
fn verifying_with_the_wrong_public_key_fails() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("log");
    make_log(&dir);
    let other = d.path().join("other.pub");
    std::fs::write(
        &other,
        invoice_hub::audit::LogSigningKey::from_seed([5; 32])
            .public()
            .to_pem(),
    )
    .unwrap();
    let (code, out) = verify_cli(&dir, &other, &[]);
    assert_eq!(code, 1);
    assert!(out.contains("public key"), "{out}");
}

// ---- A writer never signs what it cannot prove it wrote -------------------------------------

/// A log of 40 entries whose writer was killed: one head (at 32), the seal over all 40.
fn log_with_unsigned_tail(dir: &Path) {
    let log = open(dir, 32);
    for chunk in (0..40).collect::<Vec<_>>().chunks(8) {
        log.append_batch(&chunk.iter().map(|&i| record(i, 10)).collect::<Vec<_>>())
            .unwrap();
    }
    drop(log);
}

fn reopen_error(dir: &Path) -> String {
    let e = AuditLog::open(
        dir,
        invoice_hub::audit::LogConfig {
            log_id: "hub-test".into(),
            signing_key: signing_key(),
            checkpoint_every: 32,
            patient_key_id: None,
        },
    )
    .expect_err("the writer must refuse the log");
    e.to_string()
}

/// Changes the receiver of entry `seq`, keeping the JSON valid.
fn rewrite_entry(db: &Raw, seq: u64) {
    let t = db.open_tree("entries");
    let mut v = t.get(seq_key(seq)).unwrap().unwrap().to_vec();
    let pos = String::from_utf8_lossy(&v).find("\"receiver\":\"").unwrap() + 20;
    v[pos] = if v[pos] == b'9' { b'8' } else { v[pos] + 1 };
    t.insert(seq_key(seq), v).unwrap();
}

#[test]
fn a_rewrite_past_the_last_head_stops_the_writer_instead_of_being_signed() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("log");
    log_with_unsigned_tail(&dir);
    // An untouched tail is the writer's own: it reopens.
    drop(open(&dir, 32));
    tamper(&dir, |db| rewrite_entry(db, 35));
    let e = reopen_error(&dir);
    assert!(
        e.contains("entries 32..40") && e.contains("not proven"),
        "{e}"
    );
    assert!(
        e.contains("not the entries the seal was signed over"),
        "{e}"
    );
    assert!(e.contains("Nothing was signed"), "{e}");
    let log = AuditLog::open_existing(&dir, None).unwrap();
    assert_eq!(
        log.heads().unwrap().len(),
        1,
        "no head was signed over the forgery"
    );

    // Without the seal, the tail is not the writer's either.
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("log");
    log_with_unsigned_tail(&dir);
    tamper(&dir, |db| {
        db.open_tree("meta").remove("seal").unwrap();
    });
    let e = reopen_error(&dir);
    assert!(e.contains("there is no seal"), "{e}");
}

#[test]
fn dropping_the_newest_head_and_rewriting_after_the_previous_stops_the_writer() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("log");
    make_log(&dir);
    tamper(&dir, |db| {
        let h = db.open_tree("heads");
        h.remove(100u64.to_be_bytes()).unwrap();
        h.remove(96u64.to_be_bytes()).unwrap();
        rewrite_entry(db, 70);
    });
    let e = reopen_error(&dir);
    assert!(e.contains("entries 64..100"), "{e}");
    assert!(
        e.contains("not the entries the seal was signed over"),
        "{e}"
    );
}

// ---- Witnesses: heads kept by a region's store ----------------------------------------------

use store_harness::{pkis, Setup, StoreProc, STOCKHOLM};

fn witness_store(d: &Path, key: &Path) -> StoreProc {
    let mut setup = Setup::for_org(STOCKHOLM);
    setup
        .witness
        .push(("hub-test".to_string(), key.to_path_buf()));
    StoreProc::start(&d.join("store"), STOCKHOLM, &setup)
}

/// What the hub does every round: sign a head, send it with the proof from the witness's head.
async fn send_head(store: &StoreProc, dir: &Path) -> (u16, String) {
    use invoice_hub::audit::witness::Submission;
    let log = open(dir, 32);
    let head = log.sign_head().unwrap();
    let mut c = store.client("hub");
    let path = "/v1/witness/hub-test";
    let held = c.request(hyper::Method::GET, path, None).await.unwrap();
    // (A log that does not extend the held head has no proof to send: it sends the head alone,
    // as a forger would.)
    let consistency = (held.status == 200)
        .then(|| serde_json::from_slice::<SignedTreeHead>(&held.body).unwrap())
        .and_then(|h| log.consistency_proof(&h, &head).ok());
    drop(log);
    let body = serde_json::to_vec(&Submission { head, consistency }).unwrap();
    let a = c
        .request(
            hyper::Method::POST,
            path,
            Some((body.into(), "application/json")),
        )
        .await
        .unwrap();
    (a.status.as_u16(), a.text())
}

/// `audit verify --witness` with the auditor's certificate; `key` none: `--trust-stored-key`.
fn verify_witnessed(dir: &Path, key: Option<&Path>, store: &StoreProc) -> (i32, String) {
    let p = &pkis().main;
    let s = |p: PathBuf| p.to_str().unwrap().to_string();
    let mut args = vec![
        "--log".to_string(),
        s(dir.to_path_buf()),
        "verify".into(),
        "--witness".into(),
        store.url.clone(),
        "--ca".into(),
        s(p.join("ca.pem")),
        "--cert".into(),
        s(p.join("auditor.pem")),
        "--cert-key".into(),
        s(p.join("auditor.key")),
    ];
    match key {
        Some(k) => args.extend(["--key".to_string(), s(k.to_path_buf())]),
        None => args.push("--trust-stored-key".into()),
    }
    cli(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_to_an_older_copy_is_caught_by_a_witness() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("log");
    let key = make_log(&dir);
    let store = witness_store(d.path(), &key);
    let (status, said) = send_head(&store, &dir).await;
    assert_eq!(status, 200, "{said}");
    assert!(said.contains("first"), "{said}");
    let old_copy = d.path().join("old-copy");
    copy_dir(&dir, &old_copy);
    let log = open(&dir, 32);
    log.append_batch(&(N..N + 30).map(|i| record(i, 10)).collect::<Vec<_>>())
        .unwrap();
    log.close().unwrap();
    let (status, said) = send_head(&store, &dir).await;
    assert_eq!(status, 200, "{said}");
    assert!(said.contains("extended"), "{said}");
    assert_eq!(verify_witnessed(&dir, Some(&key), &store).0, 0);

    std::fs::remove_dir_all(&dir).unwrap();
    copy_dir(&old_copy, &dir);
    // Consistent in itself: only the witness shows it.
    assert_eq!(verify_cli(&dir, &key, &[]).0, 0);
    let (code, out) = verify_witnessed(&dir, Some(&key), &store);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("older copy"), "{out}");
    assert!(
        out.contains("holds a head of \"hub-test\" at size 130"),
        "{out}"
    );
    // The rolled-back log's writer cannot make the witness forget: its head is refused, loudly.
    let (status, said) = send_head(&store, &dir).await;
    assert_eq!(status, 409, "{said}");
    assert!(said.contains("shrank"), "{said}");
    assert!(store.stderr().contains("WITNESS REFUSED A HEAD"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_truncation_is_caught_by_a_witness() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("log");
    let key = make_log(&dir);
    let store = witness_store(d.path(), &key);
    assert_eq!(send_head(&store, &dir).await.0, 200);
    truncate_cleanly(&dir);
    // The best forgery opens for writing and verifies with the right key …
    drop(open(&dir, 32));
    assert_eq!(verify_cli(&dir, &key, &[]).0, 0);
    // … and the witness catches it.
    let (code, out) = verify_witnessed(&dir, Some(&key), &store);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("truncated or replaced with an older copy"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_re_signed_with_a_new_key_is_caught_by_the_trusted_key_and_by_a_witness() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("log");
    let key = make_log(&dir);
    let store = witness_store(d.path(), &key);
    assert_eq!(send_head(&store, &dir).await.0, 200);
    // A forger rewrites history and signs it all with a key of their own.
    std::fs::remove_dir_all(&dir).unwrap();
    let forged = AuditLog::open(
        &dir,
        invoice_hub::audit::LogConfig {
            log_id: "hub-test".into(),
            signing_key: invoice_hub::audit::LogSigningKey::from_seed([99; 32]),
            checkpoint_every: 32,
            patient_key_id: None,
        },
    )
    .unwrap();
    for i in 0..N {
        let mut r = record(i, 10);
        if i == 41 {
            r.receiver = "2321000115".into();
        }
        forged.append(&r).unwrap();
    }
    forged.close().unwrap();
    // It verifies against itself, and only that: without a trusted key the check says so.
    let (code, out) = cli(&["--log", dir.to_str().unwrap(), "verify"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.starts_with("OK: ") && out.contains("NOT CHECKED against a key you trust"),
        "{out}"
    );
    // The key the auditor trusts refuses it …
    let (code, out) = verify_cli(&dir, &key, &[]);
    assert_eq!(code, 1, "{out}");
    // … and so does the witness, even for an auditor who took the stored key.
    let (code, out) = verify_witnessed(&dir, None, &store);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("saved head") && out.contains("witness"),
        "{out}"
    );
}
