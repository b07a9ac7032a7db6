//! `invoice-hub fetch` against a real store: staff list and get; a refusal is an error naming
//! the store's reason, with a non-zero exit.

mod store_harness;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use store_harness::*;

fn fetch(store: &StoreProc, stem: &str, args: &[&str]) -> (bool, String, Vec<u8>) {
    let p = &pkis().main;
    let o = Command::new(bin())
        .arg("fetch")
        .args(["--store", &store.url])
        .arg("--cert")
        .arg(p.join(format!("{stem}.pem")))
        .arg("--key")
        .arg(p.join(format!("{stem}.key")))
        .arg("--ca")
        .arg(p.join("ca.pem"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
        o.stdout,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_list_and_get_others_are_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreProc::start(dir.path(), STOCKHOLM, &Setup::for_org(STOCKHOLM));
    let (id, xml) = basis(3);
    let a = store
        .client("hub")
        .put_claim(&id, xml.clone().into())
        .await
        .unwrap();
    assert_eq!(a.status, hyper::StatusCode::CREATED);

    let staff = format!("staff-{STOCKHOLM}");
    let (ok, err, out) = fetch(&store, &staff, &["list"]);
    assert!(ok, "{err}");
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains(&id) && out.contains(SKANE), "{out}");

    let file = dir.path().join("basis.xml");
    let (ok, err, _) = fetch(
        &store,
        &staff,
        &["get", &id, "--out", file.to_str().unwrap()],
    );
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), xml);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    let (ok, _, out) = fetch(&store, &staff, &["get", &id]);
    assert!(ok);
    assert_eq!(out, xml);

    let (ok, err, out) = fetch(&store, "hub", &["get", &id]);
    assert!(!ok);
    assert!(
        err.contains("403") && err.contains("may not read bases"),
        "{err}"
    );
    assert!(out.is_empty());

    let reviewer = format!("reviewer-{STOCKHOLM}");
    let (ok, err, out) = fetch(&store, &reviewer, &["verify-log"]);
    assert!(ok, "{err}");
    assert!(String::from_utf8_lossy(&out).contains("\"ok\": true"));
    let (ok, err, out) = fetch(&store, &reviewer, &["access-log"]);
    assert!(ok, "{err}");
    let log = String::from_utf8_lossy(&out);
    assert_eq!(log.matches("\"accessed\"").count(), 2, "{log}");
}
