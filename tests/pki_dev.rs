//! `invoice-hub pki dev`: the files other parts rely on, their modes, and their subjects.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use invoice_hub::pki::{Identity, Role};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

fn pki(args: &[&str]) -> (bool, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_invoice-hub"))
        .arg("pki")
        .args(args)
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

fn identity(path: &std::path::Path) -> Identity {
    let der = CertificateDer::from_pem_file(path).unwrap();
    Identity::from_der(&der).unwrap()
}

#[test]
fn dev_writes_every_party_with_private_keys_and_a_readable_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pki");
    let o = out.to_str().unwrap();
    let (ok, text) = pki(&["dev", "--out", o, "--regions", "01,13", "--expired"]);
    assert!(ok, "{text}");
    assert!(text.contains("made a new CA"), "{text}");
    assert!(text.contains("staff-2321000016-reader"), "{text}");

    let mut stems = vec!["ca", "broker", "hub", "auditor"];
    let per_region = [
        "region-2321000016",
        "store-2321000016",
        "staff-2321000016",
        "reviewer-2321000016",
        "staff-2321000016-expired",
        "region-2321000115",
        "store-2321000115",
        "staff-2321000115",
        "reviewer-2321000115",
    ];
    stems.extend(per_region);
    for stem in stems {
        let cert = out.join(format!("{stem}.pem"));
        let key = out.join(format!("{stem}.key"));
        let key_mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(key_mode, 0o600, "{stem}.key");
        assert!(std::fs::read_to_string(&key)
            .unwrap()
            .starts_with("-----BEGIN PRIVATE KEY-----"));
        let cert_mode = std::fs::metadata(&cert).unwrap().permissions().mode() & 0o777;
        assert_eq!(cert_mode, 0o644, "{stem}.pem");
    }

    let id = identity(&out.join("region-2321000115.pem"));
    assert_eq!(
        (id.cn.as_str(), id.org.as_deref(), id.role),
        ("2321000115", Some("2321000115"), Some(Role::Region))
    );
    let id = identity(&out.join("hub.pem"));
    assert_eq!((id.cn.as_str(), id.role), ("invoice-hub", Some(Role::Hub)));
    let id = identity(&out.join("staff-2321000016.pem"));
    assert_eq!(
        (id.cn.as_str(), id.org.as_deref(), id.role),
        (
            "staff-2321000016-reader",
            Some("2321000016"),
            Some(Role::Reader)
        )
    );
    assert_eq!(
        identity(&out.join("reviewer-2321000016.pem")).role,
        Some(Role::Reviewer)
    );
    assert_eq!(identity(&out.join("auditor.pem")).role, Some(Role::Auditor));

    // A second run reuses the CA (earlier certificates stay valid) and adds a region.
    let ca_before = std::fs::read(out.join("ca.pem")).unwrap();
    let (ok, text) = pki(&["dev", "--out", o, "--regions", "14"]);
    assert!(ok && text.contains("reused the CA"), "{text}");
    assert_eq!(std::fs::read(out.join("ca.pem")).unwrap(), ca_before);
    assert!(out.join("store-2321000131.pem").exists());
    // --new-ca replaces it.
    let (ok, text) = pki(&["dev", "--out", o, "--regions", "14", "--new-ca"]);
    assert!(ok && text.contains("made a new CA"), "{text}");
    assert_ne!(std::fs::read(out.join("ca.pem")).unwrap(), ca_before);
}

#[test]
fn an_unknown_region_is_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pki");
    let (ok, text) = pki(&["dev", "--out", out.to_str().unwrap(), "--regions", "01,02"]);
    assert!(!ok);
    assert!(text.contains("'02'"), "{text}");
    assert!(!out.join("ca.pem").exists());
}
