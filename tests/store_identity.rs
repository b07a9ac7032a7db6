//! A store grants access to certificates, not to names, and stops granting it when the CA
//! revokes one: over real TLS on loopback, with certificates made for the purpose by
//! `invoice-hub pki issue` and revoked by `invoice-hub pki revoke`.

mod store_harness;

use std::process::Command;
use std::time::{Duration, Instant};

use hyper::StatusCode;
use store_harness::*;

/// `invoice-hub pki issue` into the federation's PKI (a stem of the test's own).
fn issue(stem: &str, cn: &str, hsa_id: Option<&str>) {
    let mut c = Command::new(bin());
    c.args(["pki", "issue", "--dir"]).arg(&pkis().main).args([
        "--role", "reader", "--org", STOCKHOLM, "--cn", cn, "--stem", stem,
    ]);
    if let Some(h) = hsa_id {
        c.args(["--hsa-id", h]);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_certificate_with_the_readers_name_but_another_serial_or_key_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreProc::start(dir.path(), STOCKHOLM, &Setup::for_org(STOCKHOLM));
    let name = format!("staff-{STOCKHOLM}-reader");
    // The CA issued the reader's name twice more: once with another HSA-id, once with none.
    issue(
        "twin-other-hsa",
        &name,
        Some(&format!("SE{STOCKHOLM}-READER9")),
    );
    issue("twin-no-hsa", &name, None);

    let real = store
        .client(&format!("staff-{STOCKHOLM}"))
        .list("")
        .await
        .unwrap();
    assert_eq!(real.status, StatusCode::OK);
    for (stem, shown) in [
        ("twin-other-hsa", format!("hsa:SE{STOCKHOLM}-READER9")),
        ("twin-no-hsa", "sha256:".to_string()),
    ] {
        let a = store.client(stem).list("").await.unwrap();
        assert_eq!(a.status, StatusCode::FORBIDDEN, "{stem}: {}", a.text());
        // The refusal names the certificate's identity, so the two never read as the reader.
        assert!(a.text().contains(&shown), "{stem}: {}", a.text());
        assert!(a.text().contains(&name), "{stem}: {}", a.text());
    }
    // The store's log tells them apart by identity too.
    let log = store.stderr();
    assert!(log.contains(&format!("hsa:SE{STOCKHOLM}-READER9")), "{log}");
    assert!(log.contains(&format!("hsa:SE{STOCKHOLM}-READER1")), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_reader_is_refused_within_the_reload_interval_without_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let leaver = format!("SE{STOCKHOLM}-READER7");
    issue(
        "leaver",
        &format!("staff-{STOCKHOLM}-leaver"),
        Some(&leaver),
    );
    let mut setup = Setup::for_org(STOCKHOLM);
    setup.readers.push(format!("hsa:{leaver}"));
    let store = StoreProc::start(dir.path(), STOCKHOLM, &setup);

    // The leaver reads, and keeps the connection open.
    let mut kept = store.client("leaver");
    assert_eq!(kept.list("").await.unwrap().status, StatusCode::OK);

    let o = Command::new(bin())
        .args(["pki", "revoke", "--dir"])
        .arg(&pkis().main)
        .arg(pkis().main.join("leaver.pem"))
        .args(["--reason", "affiliationChanged"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(said.contains(&format!("revoked hsa:{leaver}")), "{said}");
    let revoked_at = Instant::now();

    // The store reloads its CRL every second (the harness's crl_reload_secs): within a few
    // intervals the kept-alive connection's next request is refused, and so is a new handshake.
    let mut on_kept = None;
    while revoked_at.elapsed() < Duration::from_secs(5) {
        match kept.list("").await {
            Ok(a) if a.status == StatusCode::OK => {}
            other => {
                on_kept = Some(other);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let a = on_kept.expect("the revoked reader was still served 5 s after the revocation");
    let a = a.unwrap();
    assert_eq!(a.status, StatusCode::FORBIDDEN, "{}", a.text());
    assert!(a.text().contains("revoked"), "{}", a.text());

    let e = store
        .client("leaver")
        .list("")
        .await
        .expect_err("a revoked certificate must not complete a handshake");
    assert!(e.to_string().contains("CertificateRevoked"), "{e}");
    // Everyone else goes on being served by the same process.
    let a = store
        .client(&format!("staff-{STOCKHOLM}"))
        .list("")
        .await
        .unwrap();
    assert_eq!(a.status, StatusCode::OK);

    // The refusal is logged with the identity and serial, never the certificate.
    let log = store.stderr();
    assert!(
        log.contains("revoked") && log.contains(&format!("hsa:{leaver}")),
        "{log}"
    );
    assert!(!log.contains("BEGIN CERTIFICATE"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_pinned_to_a_stores_identity_talks_to_no_other_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreProc::start(dir.path(), STOCKHOLM, &Setup::for_org(STOCKHOLM));
    let pin = |org: &str| Some(format!("hsa:SE{org}-STORE").parse().unwrap());
    // The hub's view of Stockholm's receiver: its own store's certificate is accepted …
    let mut right = store.client("hub").expecting(pin(STOCKHOLM));
    assert_eq!(right.list("").await.unwrap().status, StatusCode::FORBIDDEN);
    // … and any other federation certificate for the same address is not (here: the pin names
    // Halland's store; the server is Stockholm's), before a request is sent.
    let e = store
        .client("hub")
        .expecting(pin(HALLAND))
        .list("")
        .await
        .expect_err("a store with another identity was talked to");
    let e = e.to_string();
    assert!(
        e.contains(&format!("hsa:SE{STOCKHOLM}-STORE"))
            && e.contains(&format!("hsa:SE{HALLAND}-STORE")),
        "{e}"
    );
}
