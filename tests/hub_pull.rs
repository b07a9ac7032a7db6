//! Pull delivery on real parts: Halland reads its own delivery queue with `invoice-hub receive`
//! while it is killed (SIGKILL) again and again mid-stream. Every basis ends in Halland's
//! directory exactly once (mode 0600, nothing half-written left), with one `delivered` entry in
//! the hub's log carrying Halland's receipt, one status OK to the sender and one notice. Then the
//! same into Halland's own store (`[receive] store`): each basis once in the store, answered with
//! the store's receipt.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt as _;
use std::process::Child;
use std::time::Duration;

use common::exchange::{
    basis, bin, notices, outcomes, publish, run_ok, stored_ids, write, Exchange,
};
use common::{poll, TestBroker, ORG_HALLAND, ORG_STOCKHOLM, PKI_REGIONS};
use invoice_hub::audit::{AuditLog, Event, Query};

const COUNT: u32 = 300;
const KILLS: usize = 6;
/// Bases for the second part, into Halland's own store.
const STORE_COUNT: u32 = 100;

fn receive(cfg: &std::path::Path, log: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    bin()
        .args(["receive", "--follow", "--config"])
        .arg(cfg)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start invoice-hub receive")
}

fn files(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn a_region_that_pulls_gets_every_basis_once_however_often_its_reader_is_killed() {
    let users = [ORG_STOCKHOLM, ORG_HALLAND];
    let broker = TestBroker::start_pulling("hub-pull", PKI_REGIONS, &users, &[ORG_HALLAND]);
    let mut x = Exchange::start(&broker, "pull", &[]);
    // Halland pulls: its receiver entry names the queue sink instead of its store.
    assert!(x
        .hub
        .wait_for_log(0, "hub consuming", Duration::from_secs(60)));
    x.hub.stop();
    let text = std::fs::read_to_string(&x.hub.config).unwrap();
    let store_line = format!(
        "\"{ORG_HALLAND}\" = {{ sink = \"store\", url = \"{}\", identity = \"hsa:SE{ORG_HALLAND}-STORE\" }}",
        x.halland.url
    );
    assert!(text.contains(&store_line), "{text}");
    let pull_line = format!("\"{ORG_HALLAND}\" = {{ sink = \"queue\" }}");
    std::fs::write(&x.hub.config, text.replace(&store_line, &pull_line)).unwrap();
    let since = x.hub.log().len();
    x.hub.start();
    assert!(
        x.hub
            .wait_for_log(since, "hub consuming", Duration::from_secs(60)),
        "{}",
        x.hub.log()
    );
    let inbox = x.work.join("halland-inbox");
    let mut region = std::fs::read_to_string(&x.halland_cfg).unwrap();
    region.push_str(&format!(
        "[receive]\ndir = \"{}\"\nprefetch = 8\n",
        inbox.display()
    ));
    std::fs::write(&x.halland_cfg, region).unwrap();

    let batch = x.work.join("to-halland");
    let ids: BTreeSet<String> = (1..=COUNT)
        .map(|n| write(&batch, &basis(ORG_STOCKHOLM, ORG_HALLAND, n)))
        .collect();
    publish(&x.stockholm_cfg, &batch);

    // The reader, killed whenever it has written a few more, and started again.
    let log = x.work.join("receive.log");
    let mut kills = 0;
    while kills < KILLS {
        let before = files(&inbox).len();
        let mut reader = receive(&x.halland_cfg, &log);
        let more = poll(Duration::from_secs(60), Duration::from_millis(20), || {
            (files(&inbox).len() >= before + 10 + kills * 7).then_some(())
        });
        reader.kill().unwrap();
        reader.wait().unwrap();
        kills += 1;
        if more.is_none() || files(&inbox).len() >= COUNT as usize {
            break;
        }
    }
    assert!(kills >= 3, "killed only {kills} times before all arrived");
    // The last run takes the rest.
    let mut reader = receive(&x.halland_cfg, &log);
    let all = poll(Duration::from_secs(120), Duration::from_millis(200), || {
        let xml = files(&inbox).iter().filter(|f| f.ends_with(".xml")).count();
        (xml == COUNT as usize).then_some(())
    });
    let mut seen = BTreeMap::new();
    outcomes(&x.stockholm_cfg, &ids, &x.hub, &mut seen);
    reader.kill().unwrap();
    reader.wait().unwrap();
    assert!(
        all.is_some(),
        "{} files\n{}",
        files(&inbox).len(),
        std::fs::read_to_string(&log).unwrap()
    );
    assert!(
        seen.values().all(|s| s.outcome.to_string() == "OK"),
        "{seen:?}"
    );

    // Every basis once in the directory, private, whole; nothing half-written left behind
    // except by the last kill (removed at the next start).
    run_ok(bin().args(["receive", "--config"]).arg(&x.halland_cfg));
    let names = files(&inbox);
    let want: Vec<String> = ids.iter().map(|id| format!("{id}.xml")).collect();
    assert_eq!(names, want);
    for name in &names {
        let path = inbox.join(name);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
        let id = name.trim_end_matches(".xml");
        let sha = hex_sha(&std::fs::read(&path).unwrap());
        assert_eq!(seen[id].receipt.as_ref().unwrap().sha256, sha, "{id}");
    }

    // One notice each, and in the hub's log one `delivered` per basis with Halland's receipt.
    let notices = notices(&x.halland_cfg);
    assert_eq!(notices.keys().cloned().collect::<BTreeSet<_>>(), ids);
    assert!(notices.values().all(|n| *n == 1), "{notices:?}");
    x.hub.stop();
    let log = AuditLog::open_existing(&x.hub_log_dir, None).unwrap();
    for id in &ids {
        let q = Query {
            basis: Some(id.clone()),
            ..Query::default()
        };
        let found = log.query(&q).unwrap().entries;
        let delivered: Vec<_> = found
            .iter()
            .filter(|e| e.record.event == Event::Delivered)
            .collect();
        assert_eq!(delivered.len(), 1, "{id}: {found:?}");
        assert_eq!(delivered[0].record.receiver, ORG_HALLAND);
        assert!(
            !delivered[0].record.patients.is_empty(),
            "{id}: no patient in the entry"
        );
    }
    let held = std::fs::read_to_string(x.work.join("receive.log")).unwrap();
    assert!(!held.contains("REFUSED"), "{held}");

    into_the_regions_own_store(&mut x, log);
}

/// The same reader keeping its bases in Halland's own store instead (`[receive] store`, the
/// region's certificate a writer there), killed mid-stream again: every basis once in the store,
/// each sender told OK with the store's own receipt, one notice each.
fn into_the_regions_own_store(x: &mut Exchange, log: AuditLog) {
    drop(log);
    x.hub.start();
    let store_cfg = std::fs::read_to_string(&x.halland.config).unwrap();
    let writers = format!("writers = [\"hsa:SE0000000000-HUB\", \"hsa:SE{ORG_HALLAND}-REGION\"]");
    std::fs::write(
        &x.halland.config,
        store_cfg.replace("writers = [\"hsa:SE0000000000-HUB\"]", &writers),
    )
    .unwrap();
    x.halland.restart();
    let region = std::fs::read_to_string(&x.halland_cfg).unwrap();
    let at = region.find("[receive]").unwrap();
    let into_store = format!("[receive]\nstore = \"{}\"\nprefetch = 8\n", x.halland.url);
    std::fs::write(&x.halland_cfg, format!("{}{into_store}", &region[..at])).unwrap();

    let batch = x.work.join("to-halland-store");
    let ids: BTreeSet<String> = (COUNT + 1..=COUNT + STORE_COUNT)
        .map(|n| write(&batch, &basis(ORG_STOCKHOLM, ORG_HALLAND, n)))
        .collect();
    publish(&x.stockholm_cfg, &batch);
    let log = x.work.join("receive-store.log");
    let wrote = |log: &std::path::Path| {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        text.lines().filter(|l| l.contains("  wrote ")).count()
    };
    for kill in 1..=3 {
        let mut reader = receive(&x.halland_cfg, &log);
        poll(Duration::from_secs(60), Duration::from_millis(20), || {
            (wrote(&log) >= kill * 15).then_some(())
        });
        reader.kill().unwrap();
        reader.wait().unwrap();
    }
    let mut reader = receive(&x.halland_cfg, &log);
    let mut seen = BTreeMap::new();
    outcomes(&x.stockholm_cfg, &ids, &x.hub, &mut seen);
    reader.kill().unwrap();
    reader.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains("REFUSED"), "{text}");
    let stored: Vec<String> = stored_ids(&x.halland, &x.certs)
        .into_iter()
        .filter(|id| ids.contains(id))
        .collect();
    assert_eq!(stored.len(), ids.len(), "each basis once in the store");
    assert_eq!(stored.iter().cloned().collect::<BTreeSet<_>>(), ids);
    for id in &ids {
        let s = &seen[id];
        assert_eq!(s.outcome.to_string(), "OK", "{s:?}");
        let receipt = s.receipt.as_ref().unwrap();
        assert!(receipt.seq > 0, "the store's own receipt: {receipt:?}");
    }
    let notices = notices(&x.halland_cfg);
    assert_eq!(notices.keys().cloned().collect::<BTreeSet<_>>(), ids);
    assert!(notices.values().all(|n| *n == 1), "{notices:?}");
}

fn hex_sha(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}
