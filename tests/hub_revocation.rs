//! The hub stops delivering to a store whose certificate the CA revoked, without a restart:
//! a real broker, real stores over mutual TLS, the CRL replaced by `invoice-hub pki revoke`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::exchange::{basis, bin, outcomes, publish, run_ok, stored_ids, write, Exchange};
use common::{TestBroker, ORG_HALLAND, ORG_STOCKHOLM};

#[test]
fn a_revoked_store_certificate_stops_the_hub_delivering_to_it_and_its_bases_are_parked() {
    let broker = TestBroker::start("revocation");
    let mut x = Exchange::start(&broker, "revocation", &[]);
    // A short give-up time, so the test sees the basis parked rather than retried for a minute.
    assert!(
        x.hub
            .wait_for_log(0, "hub consuming", Duration::from_secs(60)),
        "{}",
        x.hub.log()
    );
    x.hub.stop();
    let cfg = std::fs::read_to_string(&x.hub.config).unwrap();
    std::fs::write(
        &x.hub.config,
        cfg.replace("give_up_secs = 60", "give_up_secs = 4"),
    )
    .unwrap();
    x.hub.start();

    // Before: a basis to Stockholm's store arrives (and leaves a kept-alive connection).
    let before = x.work.join("before");
    let first = write(&before, &basis(ORG_HALLAND, ORG_STOCKHOLM, 1));
    publish(&x.halland_cfg, &before);
    let mut seen = BTreeMap::new();
    outcomes(
        &x.halland_cfg,
        &BTreeSet::from([first.clone()]),
        &x.hub,
        &mut seen,
    );
    assert_eq!(seen[&first].outcome.to_string(), "OK");

    let said = run_ok(
        bin()
            .args(["pki", "revoke", "--dir"])
            .arg(&x.certs)
            .arg(x.certs.join(format!("store-{ORG_STOCKHOLM}.pem")))
            .args(["--reason", "keyCompromise"]),
    );
    assert!(
        said.contains(&format!("revoked hsa:SE{ORG_STOCKHOLM}-STORE")),
        "{said}"
    );
    // The hub looks at its CRL every second (the harness's crl_reload_secs).
    #[expect(clippy::disallowed_methods, reason = "the test's own thread waits")]
    std::thread::sleep(Duration::from_secs(2));

    // After: Stockholm's basis is not delivered; Halland's store goes on receiving.
    let after = x.work.join("after");
    let to_stockholm = write(&after, &basis(ORG_HALLAND, ORG_STOCKHOLM, 2));
    publish(&x.halland_cfg, &after);
    let back = x.work.join("back");
    let to_halland = write(&back, &basis(ORG_STOCKHOLM, ORG_HALLAND, 3));
    publish(&x.stockholm_cfg, &back);
    let mut seen_back = BTreeMap::new();
    outcomes(
        &x.stockholm_cfg,
        &BTreeSet::from([to_halland.clone()]),
        &x.hub,
        &mut seen_back,
    );
    assert_eq!(seen_back[&to_halland].outcome.to_string(), "OK");

    // Retried until the give-up time, then parked for an operator: nothing lost.
    assert!(
        broker.queue_settles_at("ih.parked", 1),
        "parked: {}\n{}",
        broker.queue_depth("ih.parked"),
        x.hub.log()
    );
    let stored = stored_ids(&x.stockholm, &x.certs);
    assert!(
        stored.contains(&first) && !stored.contains(&to_stockholm),
        "{stored:?}"
    );
    let log = x.hub.log();
    assert!(log.contains("certificate refused: revoked"), "{log}");
    assert!(
        log.contains(&format!("hsa:SE{ORG_STOCKHOLM}-STORE")),
        "{log}"
    );
    assert!(
        log.contains(&to_stockholm) && log.contains("given up"),
        "{log}"
    );
    assert!(!log.contains("BEGIN CERTIFICATE"), "{log}");
    // The sender was told only that its basis waits: no OK for what did not arrive.
    let mut late = BTreeMap::new();
    let status = run_ok(
        bin()
            .args(["status", "--format", "json", "--config"])
            .arg(&x.halland_cfg),
    );
    for line in status.lines().filter(|l| l.contains(&to_stockholm)) {
        late.insert(line.to_string(), ());
    }
    assert!(late.keys().all(|l| !l.contains("\"OK\"")), "{late:?}");
}
