//! `invoice-hub hub --check` and `store --check`: an operator checks a configuration before
//! starting or changing a hub or a store. Each says what it found, exits 0 when the service
//! would start, and names the file and the problem when it would not — without creating
//! anything, listening or calling a broker.

mod common;

use std::path::Path;

use common::ih;

use invoice_hub::audit::{AuditLog, LogConfig, LogSigningKey};

/// A hub configuration in `dir` with development certificates, keys and Halland's policy; the
/// broker port is one nothing listens on (the check must not need it).
fn hub_toml(dir: &Path) -> String {
    let d = dir.to_str().unwrap();
    let (code, _, err) = ih(&[
        "pki",
        "dev",
        "--out",
        &format!("{d}/pki"),
        "--regions",
        "01,13",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = ih(&["audit", "keygen", "--out", &format!("{d}/keys")]);
    assert_eq!(code, Some(0), "{err}");
    std::fs::create_dir_all(dir.join("policies")).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for f in ["region-halland.toml", "protected-identities.txt"] {
        std::fs::copy(
            repo.join("deploy/policies").join(f),
            dir.join("policies").join(f),
        )
        .unwrap();
    }
    let path = dir.join("hub.toml");
    std::fs::write(
        &path,
        "instance = \"hub-a\"\n\
         [broker]\nport = 1\nca = \"pki/ca.pem\"\ncert = \"pki/hub.pem\"\nkey = \"pki/hub.key\"\n\
         [policy]\npaths = [\"policies\"]\n\
         [audit]\ndir = \"hub-log\"\nsigning_key = \"keys/log-signing.key\"\npatient_key = \"keys/patient-hmac.key\"\n\
         [delivery]\nca = \"pki/ca.pem\"\ncert = \"pki/hub.pem\"\nkey = \"pki/hub.key\"\n\
         [receivers]\n\"2321000016\" = \"https://127.0.0.1:1\"\n",
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn check_says_what_it_found_and_names_what_would_stop_the_hub() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = hub_toml(dir.path());

    let (code, out, err) = ih(&["hub", "--config", &cfg, "--check"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("policy of 2321000115: halland-utomlansfakturering"),
        "{out}"
    );
    assert!(
        out.contains("none yet; the hub creates it at start"),
        "{out}"
    );
    assert!(out.contains("the hub would start"), "{out}");
    assert!(
        !dir.path().join("hub-log").exists(),
        "a check creates nothing"
    );

    // A disclosure log that another instance wrote, with the same key.
    let key = LogSigningKey::load(&dir.path().join("keys/log-signing.key")).unwrap();
    drop(AuditLog::open(&dir.path().join("hub-log"), LogConfig::new("hub-b", key)).unwrap());
    let (code, _, err) = ih(&["hub", "--config", &cfg, "--check"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("belongs to instance \"hub-b\", not \"hub-a\""),
        "{err}"
    );
    std::fs::remove_dir_all(dir.path().join("hub-log")).unwrap();

    // A policy that does not load: the file is named.
    std::fs::write(dir.path().join("policies/broken.toml"), "id = \n").unwrap();
    let (code, _, err) = ih(&["hub", "--config", &cfg, "--check"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("broken.toml"), "{err}");
}

/// `hub --help` points to deploy/hub.toml: it exists, reads, and delivers to the stores of
/// deploy/store-*.toml at the addresses they listen on.
#[test]
fn the_example_configuration_reads_and_matches_the_example_stores() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cfg = invoice_hub::hub::HubConfig::load(&repo.join("deploy/hub.toml")).unwrap();
    for (org, sink) in &cfg.receivers {
        let invoice_hub::hub::Sink::Store { url, .. } = sink else {
            panic!("deploy/hub.toml: {org} has no store")
        };
        let store =
            invoice_hub::store::StoreConfig::load(&repo.join(format!("deploy/store-{org}.toml")))
                .unwrap_or_else(|e| {
                    panic!("deploy/hub.toml names {org}, whose store file does not read: {e}")
                });
        assert_eq!(url, &format!("https://{}", store.listen), "{org}");
    }
    assert_eq!(cfg.receivers.len(), 3);
    // The example gateway serves the same receivers and is a gateway the hub believes.
    let gw = invoice_hub::gateway::GatewayConfig::load(&repo.join("deploy/gateway.toml")).unwrap();
    let receivers: std::collections::BTreeSet<String> = cfg.receivers.keys().cloned().collect();
    assert_eq!(gw.receivers, receivers);
    assert_eq!(gw.callers.len(), 3);
    let gateway = format!("hsa:{}", "SE0000000000-GATEWAY");
    assert!(
        cfg.gateways.iter().any(|g| g.to_string() == gateway),
        "{:?}",
        cfg.gateways
    );
}

/// A gateway configuration that names a caller by its CN alone, or gives a region that is no
/// organisation number, is refused with the file and the field.
#[test]
fn a_gateway_configuration_names_its_mistakes() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let good = std::fs::read_to_string(repo.join("deploy/gateway.toml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("gateway.toml");
    for (from, to, want) in [
        (
            "\"hsa:SE2321000016-REGION\" = \"2321000016\"",
            "\"2321000016\" = \"2321000016\"",
            "common name alone",
        ),
        (
            "\"hsa:SE2321000016-REGION\" = \"2321000016\"",
            "\"hsa:SE2321000016-REGION\" = \"Stockholm\"",
            "not a 10-digit organisation number",
        ),
    ] {
        std::fs::write(&cfg, good.replace(from, to)).unwrap();
        let (code, _, err) = ih(&["gateway", "--config", cfg.to_str().unwrap(), "--check"]);
        assert_eq!(code, Some(2), "{err}");
        assert!(
            err.contains("gateway.toml") && err.contains(want),
            "{want}: {err}"
        );
    }
}

/// `invoice-hub store --check`, the same for a receiving region's store: keys, certificates,
/// schemas, and an access log that is this region's or not there yet.
#[test]
fn store_check_says_what_it_found_and_refuses_another_regions_data() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (code, _, err) = ih(&[
        "pki",
        "dev",
        "--out",
        d.join("pki").to_str().unwrap(),
        "--regions",
        "01",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let cfg = d.join("store.toml");
    std::fs::write(
        &cfg,
        "org = \"2321000016\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\nkeys_dir = \"keys\"\n\
         [tls]\nca = \"pki/ca.pem\"\ncert = \"pki/store-2321000016.pem\"\nkey = \"pki/store-2321000016.key\"\n\
         [access]\nwriters = [\"hsa:SE0000000000-HUB\"]\nreaders = [\"hsa:SE2321000016-READER1\"]\n",
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();

    let (code, _, err) = ih(&["store", "--config", cfg, "--check"]);
    assert_eq!(code, Some(2), "keys are missing before --init: {err}");
    assert!(err.contains("body.key"), "the missing key is named: {err}");

    let (code, _, err) = ih(&["store", "--config", cfg, "--init"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, out, err) = ih(&["store", "--config", cfg, "--check"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("none yet; the store creates it at start"),
        "{out}"
    );
    assert!(
        out.contains("1 writer(s), 1 reader(s), 0 reviewer(s)"),
        "{out}"
    );
    assert!(out.contains("the store would start"), "{out}");
    assert!(!d.join("data").exists(), "a check creates nothing");

    // An access log another region's store wrote, with the same key.
    let key = LogSigningKey::load(&d.join("keys/log-signing.key")).unwrap();
    let other = LogConfig::new("store-2321000115", key);
    drop(AuditLog::open(&d.join("data/access-log"), other).unwrap());
    let (code, _, err) = ih(&["store", "--config", cfg, "--check"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("belongs to \"store-2321000115\""), "{err}");
}

/// The shipped files themselves: `deploy/` copied beside a `run/` made as `make run` makes it
/// (development certificates, the hub's keys, each store's keys). Every daemon's `--check` passes
/// on them; a copy with one field broken fails, naming the file and the field.
#[test]
fn every_daemon_checks_out_on_the_shipped_files_and_names_a_broken_field() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let deploy = tmp.path().join("deploy");
    let o = std::process::Command::new("cp")
        .arg("-r")
        .arg(repo.join("deploy"))
        .arg(&deploy)
        .output()
        .unwrap();
    assert!(o.status.success());
    let run = tmp.path().join("run");
    let p = |s: &str| run.join(s).to_str().unwrap().to_owned();
    let (code, _, err) = ih(&["pki", "dev", "--out", &p("pki"), "--regions", "01,13,14"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, _, err) = ih(&["audit", "keygen", "--out", &p("hub-keys")]);
    assert_eq!(code, Some(0), "{err}");
    let file = |f: &str| deploy.join(f).to_str().unwrap().to_owned();
    for org in ["2321000016", "2321000115", "2321000131"] {
        let cfg = file(&format!("store-{org}.toml"));
        let (code, _, err) = ih(&["store", "--config", &cfg, "--init"]);
        assert_eq!(code, Some(0), "{err}");
        let (code, out, err) = ih(&["store", "--config", &cfg, "--check"]);
        assert_eq!(code, Some(0), "store-{org}.toml: {out}{err}");
    }
    for daemon in ["hub", "gateway", "witness"] {
        let (code, out, err) = ih(&[
            daemon,
            "--config",
            &file(&format!("{daemon}.toml")),
            "--check",
        ]);
        assert_eq!(code, Some(0), "{daemon}.toml: {out}{err}");
        assert!(out.contains("would start"), "{daemon}: {out}");
    }

    // One field broken in each: the answer names the file and the field.
    let breaks = [
        (
            "hub.toml",
            "signing_key = \"../run/hub-keys/log-signing.key\"",
            "signing_key = \"../run/hub-keys/nope.key\"",
            "nope.key",
        ),
        (
            "gateway.toml",
            "cert = \"../run/pki/gateway.pem\"",
            "cert = \"../run/pki/missing.pem\"",
            "missing.pem",
        ),
        (
            "witness.toml",
            "\"hub-a\" = \"../run/hub-keys/log-signing.pub\"",
            "\"hub-a\" = \"../run/hub-keys/gone.pub\"",
            "logs.\"hub-a\"",
        ),
        (
            "store-2321000016.toml",
            "patient_key = \"../run/hub-keys/patient-hmac.key\"",
            "patient_key = \"../run/hub-keys/other.key\"",
            "other.key",
        ),
    ];
    for (name, from, to, names) in breaks {
        let text = std::fs::read_to_string(deploy.join(name)).unwrap();
        assert!(text.contains(from), "{name} no longer has {from}");
        let broken = deploy.join(format!("broken-{name}"));
        std::fs::write(&broken, text.replacen(from, to, 1)).unwrap();
        let daemon = name.split(['-', '.']).next().unwrap();
        let (code, out, err) = ih(&[daemon, "--config", broken.to_str().unwrap(), "--check"]);
        assert_ne!(code, Some(0), "{name} broken: {out}{err}");
        assert!(
            err.contains(&format!("broken-{name}")) || err.contains(names),
            "{name}: the error names neither the file nor the field:\n{err}"
        );
        assert!(
            err.contains(names),
            "{name}: the error does not name {names}:\n{err}"
        );
    }
}
