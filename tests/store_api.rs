//! A region's store over real TLS on loopback: deliveries (idempotent, conflicting, too big,
//! invalid), reads and their access log, restart after a crash, and what a copy of the data
//! directory reveals.

mod store_harness;

use hyper::{Method, StatusCode};
use invoice_hub::audit::{AuditLog, LogPublicKey, VerifyOptions};
use store_harness::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_idempotent_and_refusals_say_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut setup = Setup::for_org(STOCKHOLM);
    setup.max_body_bytes = 64 * 1024;
    let store = StoreProc::start(dir.path(), STOCKHOLM, &setup);
    let mut hub = store.client("hub");
    let (id, xml) = basis(7);

    let first = hub.put_claim(&id, xml.clone().into()).await.unwrap();
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text());
    let receipt = first.json().unwrap();
    assert_eq!(receipt["id"], id);
    assert_eq!(receipt["seq"], 1);
    use sha2::Digest;
    assert_eq!(receipt["sha256"], hex::encode(sha2::Sha256::digest(&xml)));
    assert!(receipt["received_at"].as_str().unwrap().ends_with('Z'));

    // The same bytes again (a redelivery): 200 and the very same receipt.
    let again = hub.put_claim(&id, xml.clone().into()).await.unwrap();
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json().unwrap(), receipt);

    // Other bytes under the same id: 409, and the stored basis is untouched.
    let other = String::from_utf8(xml.clone())
        .unwrap()
        .replace("2300.00", "2400.00");
    let a = hub.put_claim(&id, other.into()).await.unwrap();
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.text());
    assert!(a.text().contains("other content"), "{}", a.text());

    // Too big: 413 before anything is parsed.
    let (big_id, _) = basis(8);
    let big = vec![b' '; 65 * 1024];
    let a = hub.put_claim(&big_id, big.into()).await.unwrap();
    assert_eq!(a.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", a.text());

    // Not a valid basis: 422 with the validator's report.
    let (bad_id, bad) = basis(9);
    let bad = String::from_utf8(bad).unwrap().replace(
        "<urn1:amount>2300.00</urn1:amount>",
        "<urn1:amount>lots</urn1:amount>",
    );
    let a = hub.put_claim(&bad_id, bad.into()).await.unwrap();
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text());
    let j = a.json().unwrap();
    assert_eq!(j["id"], bad_id);
    let findings = j["findings"].as_array().unwrap();
    assert!(!findings.is_empty());
    assert!(
        findings
            .iter()
            .all(|f| f["rule"].is_string() && f["path"].is_string()),
        "{j}"
    );

    // Delivered under another id than the document's: 422 naming both.
    let (other_id, _) = basis(10);
    let a = hub.put_claim(&other_id, xml.clone().into()).await.unwrap();
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        a.text().contains(&id) && a.text().contains(&other_id),
        "{}",
        a.text()
    );

    // Not XML at all.
    let a = hub.put_claim(&other_id, "hello".into()).await.unwrap();
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Only the first delivery is stored.
    let mut reader = store.client(&format!("staff-{STOCKHOLM}"));
    let list = reader.list("").await.unwrap().json().unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_basis_addressed_to_another_region_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = StoreProc::start(dir.path(), HALLAND, &Setup::for_org(HALLAND));
    let (id, xml) = basis(1);
    let a = store
        .client("hub")
        .put_claim(&id, xml.into())
        .await
        .unwrap();
    assert_eq!(a.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", a.text());
    assert!(
        a.text().contains(STOCKHOLM) && a.text().contains(HALLAND),
        "{}",
        a.text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_are_logged_survive_a_crash_and_the_data_directory_reveals_no_patient() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StoreProc::start(dir.path(), STOCKHOLM, &Setup::for_org(STOCKHOLM));
    let mut hub = store.client("hub");
    let mut receipts = Vec::new();
    let mut docs = Vec::new();
    for n in 1..=5 {
        let (id, xml) = basis(n);
        let a = hub.put_claim(&id, xml.clone().into()).await.unwrap();
        assert_eq!(a.status, StatusCode::CREATED);
        receipts.push(a.json().unwrap());
        docs.push((id, xml));
    }

    // Metadata only, paginated, filtered.
    let mut reader = store.client(&format!("staff-{STOCKHOLM}"));
    let p1 = reader.list("limit=2").await.unwrap().json().unwrap();
    let ids: Vec<_> = p1["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    assert_eq!(ids, [docs[0].0.clone(), docs[1].0.clone()]);
    assert_eq!(p1["next_after"], 2);
    let p2 = reader
        .list("limit=10&after=2")
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(p2["items"].as_array().unwrap().len(), 3);
    assert!(p2["next_after"].is_null());
    let listed = serde_json::to_string(&p1).unwrap();
    assert!(
        !listed.contains(KNOWN_PERSONNUMMER),
        "the list reveals only metadata"
    );
    assert_eq!(p1["items"][0]["sender"], SKANE);
    let none = reader
        .list(&format!("sender={STOCKHOLM}"))
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(none["items"].as_array().unwrap().len(), 0);
    let a = reader.list("colour=red").await.unwrap();
    assert_eq!(a.status, StatusCode::BAD_REQUEST);

    // Reads give back the exact bytes; each is logged.
    for (id, xml) in &docs[..3] {
        let a = reader.get_claim(id).await.unwrap();
        assert_eq!(a.status, StatusCode::OK);
        assert_eq!(a.content_type.as_deref(), Some("application/xml"));
        assert_eq!(&a.body[..], &xml[..]);
    }
    assert_eq!(
        reader.get_claim(&docs[0].0).await.unwrap().status,
        StatusCode::OK
    );
    let missing = reader.get_claim("ZVF23210002552611999999").await.unwrap();
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // A crash (SIGKILL): everything answered before it is there after.
    let mut store2 = store.restart();
    let mut hub = store2.client("hub");
    for ((id, xml), receipt) in docs.iter().zip(&receipts) {
        let a = hub.put_claim(id, xml.clone().into()).await.unwrap();
        assert_eq!(a.status, StatusCode::OK, "{id} after restart: {}", a.text());
        assert_eq!(&a.json().unwrap(), receipt);
    }
    let (id6, xml6) = basis(6);
    let a = hub.put_claim(&id6, xml6.into()).await.unwrap();
    assert_eq!(
        a.json().unwrap()["seq"],
        6,
        "sequence numbers go on after a restart"
    );
    let mut reader = store2.client(&format!("staff-{STOCKHOLM}"));
    assert_eq!(
        &reader.get_claim(&docs[4].0).await.unwrap().body[..],
        &docs[4].1[..]
    );

    // Every read, before and after the crash, is in the access log, with who, what, which
    // patient (keyed hash) and when.
    let mut reviewer = store2.client(&format!("reviewer-{STOCKHOLM}"));
    let log = reviewer
        .request(Method::GET, "/v1/access-log?limit=100", None)
        .await
        .unwrap()
        .json()
        .unwrap();
    let entries = log["entries"].as_array().unwrap();
    let got: Vec<_> = entries
        .iter()
        .map(|e| e["record"]["basis_id"].as_str().unwrap().to_string())
        .collect();
    let want = [0, 1, 2, 0, 4].map(|i| docs[i].0.clone());
    assert_eq!(got, want, "{log}");
    for e in entries {
        let r = &e["record"];
        assert_eq!(r["event"], "accessed");
        assert_eq!(r["actor"], format!("hsa:SE{STOCKHOLM}-READER1"));
        assert_eq!(r["action"], "get");
        assert_eq!(r["patients"].as_array().unwrap().len(), 1);
        assert_eq!(r["patients"][0].as_str().unwrap().len(), 64);
        assert!(r["time"].is_string());
    }
    assert!(!log.to_string().contains(KNOWN_PERSONNUMMER));
    let by_basis = reviewer
        .request(
            Method::GET,
            &format!("/v1/access-log?basis={}", docs[0].0),
            None,
        )
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(by_basis["entries"].as_array().unwrap().len(), 2);
    let v = reviewer
        .request(Method::GET, "/v1/access-log/verify", None)
        .await
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["report"]["entries"], 5, "{v}");

    // Stopped cleanly, the access log verifies offline against the store's public key.
    store2.stop();
    let public = LogPublicKey::load(&dir.path().join("keys/log-signing.pub")).unwrap();
    let offline = AuditLog::open_existing(&dir.path().join("data/access-log"), None).unwrap();
    let report = offline
        .verify(&VerifyOptions {
            public_key: Some(public),
            ..Default::default()
        })
        .unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.entries, 5);
    drop(offline);

    // A copy of the data directory holds no personal number, in any form, nor any basis text.
    let files = files_under(&store2.data_dir());
    assert!(!files.is_empty());
    let hyphenated = format!("{}-{}", &KNOWN_PERSONNUMMER[..8], &KNOWN_PERSONNUMMER[8..]);
    for f in files {
        let raw = std::fs::read(&f).unwrap();
        for needle in [
            KNOWN_PERSONNUMMER,
            hyphenated.as_str(),
            "patientIdentity",
            "Region Skåne",
        ] {
            assert!(
                !raw.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{} holds {needle:?} in clear",
                f.display()
            );
        }
    }
}
