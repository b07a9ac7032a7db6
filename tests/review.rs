//! Manual review end to end on real parts: Region Halland's policy withholds two bases for
//! Stockholm (psychiatric care of minors); the hub hands them to Halland's own store, where
//! Halland's official (`assessors`) reads them with `invoice-hub review` over mutual TLS and
//! releases one, and keeps the other on the review page in Debian's Chromium under Playwright
//! (`tests/browser/withheld.py`; `SHOTS=docs/img` writes the README's screenshot). The released basis reaches Stockholm's store through the
//! normal delivery, and the disclosure log holds one more event naming the official; the kept
//! one never leaves. Stockholm's reviewer and Halland's reader are refused at Halland's desk.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::exchange::{
    basis, bin, entries_of, make_psychiatry_minor, outcome, outcomes, publish, stored_ids, write,
    Exchange, Store,
};
use common::{TestBroker, ORG_HALLAND, ORG_STOCKHOLM};
use invoice_hub::audit::{AuditLog, Event};

/// `invoice-hub review` at `store` as the holder of `cert` (`reviewer-<org>`, `staff-<org>`).
fn review(store: &Store, certs: &Path, cert: &str, args: &[&str]) -> std::process::Output {
    bin()
        .args(["review", "--store", &store.url, "--ca"])
        .arg(certs.join("ca.pem"))
        .arg("--cert")
        .arg(certs.join(format!("{cert}.pem")))
        .arg("--key")
        .arg(certs.join(format!("{cert}.key")))
        .args(args)
        .output()
        .expect("run invoice-hub review")
}

fn ok(out: std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// The official keeps the second basis on the review page; Stockholm's reviewer is refused.
fn keep_in_a_browser(x: &Exchange, ids: &[String]) {
    let pem = |stem: &str, ext: &str| x.certs.join(format!("{stem}.{ext}"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/withheld.py");
    let o = std::process::Command::new("python3")
        .arg(&script)
        .env("STORE_URL", &x.halland.url)
        .env(
            "OFFICIAL_CERT",
            pem(&format!("reviewer-{ORG_HALLAND}"), "pem"),
        )
        .env(
            "OFFICIAL_KEY",
            pem(&format!("reviewer-{ORG_HALLAND}"), "key"),
        )
        .env(
            "OTHER_CERT",
            pem(&format!("reviewer-{ORG_STOCKHOLM}"), "pem"),
        )
        .env(
            "OTHER_KEY",
            pem(&format!("reviewer-{ORG_STOCKHOLM}"), "key"),
        )
        .env("BASES", ids.join(","))
        .env("SHOTS", std::env::var("SHOTS").unwrap_or_default())
        .output()
        .expect(
            "run python3 tests/browser/withheld.py (scripts/install-deps.sh installs Playwright)",
        );
    assert!(
        o.status.success(),
        "the browser test failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn an_official_releases_one_withheld_basis_and_keeps_another() {
    let broker = TestBroker::start("review");
    let review_toml = format!(
        "[review]\nevery_secs = 1\n[review.stores]\n\"{ORG_HALLAND}\" = {{ url = \"STORE_URL_{ORG_HALLAND}\", identity = \"hsa:SE{ORG_HALLAND}-STORE\" }}\n"
    );
    let mut x = Exchange::start_with(&broker, "review", &[], &review_toml);
    let dir = x.work.join("withheld");
    let ids: Vec<String> = (1..=2)
        .map(|n| {
            let mut c = basis(ORG_HALLAND, ORG_STOCKHOLM, 700 + n);
            make_psychiatry_minor(&mut c);
            write(&dir, &c)
        })
        .collect();
    publish(&x.halland_cfg, &dir);
    let all: BTreeSet<String> = ids.iter().cloned().collect();
    let mut seen = BTreeMap::new();
    outcomes(&x.halland_cfg, &all, &x.hub, &mut seen);
    for id in &ids {
        assert_eq!(outcome(&seen, id), "WITHHELD", "{id}");
    }
    let (released, kept) = (&ids[0], &ids[1]);

    // Halland's official sees both, why, and the basis itself.
    let official = format!("reviewer-{ORG_HALLAND}");
    let list = ok(review(&x.halland, &x.certs, &official, &["list"]));
    for id in &ids {
        assert!(
            list.contains(id.as_str()) && list.contains("waiting"),
            "{list}"
        );
    }
    let shown = ok(review(&x.halland, &x.certs, &official, &["show", released]));
    assert!(shown.contains("H3-psychiatry-minors"), "{shown}");
    assert!(shown.contains("board_decision"), "{shown}");
    assert!(shown.contains("claimSpecification"), "{shown}");

    // Another region's reviewer, and Halland's own reader, are refused at Halland's desk.
    for cert in [
        format!("reviewer-{ORG_STOCKHOLM}"),
        format!("staff-{ORG_HALLAND}"),
    ] {
        let out = review(&x.halland, &x.certs, &cert, &["show", released]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{cert}");
        assert!(
            err.contains("403") && err.contains("may not review withheld bases"),
            "{err}"
        );
    }

    let reason = "menprövning: the receiving region needs it and no harm follows";
    ok(review(
        &x.halland,
        &x.certs,
        &official,
        &["release", released, "--reason", reason],
    ));
    keep_in_a_browser(&x, &ids);
    // A decision is made once.
    let again = review(
        &x.halland,
        &x.certs,
        &official,
        &["keep", released, "--reason", "no"],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("decided already"));

    // The released basis is delivered; the kept one is answered WITHHELD again, with why.
    let mut after = BTreeMap::new();
    outcomes(&x.halland_cfg, &all, &x.hub, &mut after);
    let released_set = BTreeSet::from([released.clone()]);
    while outcome(&after, released) != "OK" {
        after.remove(released);
        outcomes(&x.halland_cfg, &released_set, &x.hub, &mut after);
    }
    assert_eq!(outcome(&after, kept), "WITHHELD");
    let why = &after[kept].withheld.as_ref().expect("why").reason;
    assert!(
        why.contains("kept withheld after manual review by hsa:SE2321000115-REVIEWER1"),
        "{why}"
    );
    let stored: BTreeSet<String> = stored_ids(&x.stockholm, &x.certs).into_iter().collect();
    assert_eq!(stored, released_set);
    assert!(ok(review(&x.halland, &x.certs, &official, &["list"])).contains("release by hsa:"));

    x.hub.stop();
    let log = AuditLog::open_existing(&x.hub_log_dir, None).unwrap();
    let events = |id: &str| -> Vec<Event> {
        entries_of(&log, id)
            .iter()
            .map(|e| e.record.event)
            .collect()
    };
    assert_eq!(
        events(released),
        [
            Event::Received,
            Event::Withheld,
            Event::Reviewed,
            Event::Disclosed,
            Event::Delivered
        ]
    );
    assert_eq!(
        events(kept),
        [Event::Received, Event::Withheld, Event::Reviewed]
    );
    for (id, action) in [(released, "release"), (kept, "keep")] {
        let e = entries_of(&log, id);
        let r = &e
            .iter()
            .find(|e| e.record.event == Event::Reviewed)
            .unwrap()
            .record;
        assert_eq!(
            r.actor.as_deref(),
            Some("hsa:SE2321000115-REVIEWER1"),
            "{id}"
        );
        assert_eq!(r.action.as_deref(), Some(action));
        assert!(r
            .matched_rules
            .contains(&"H3-psychiatry-minors".to_string()));
        assert!(
            r.policy.is_some(),
            "the reviewed entry names the policy and board decision"
        );
    }
}
