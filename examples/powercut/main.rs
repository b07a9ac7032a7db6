//! `make powercut`: the exchange under load from three regions while the power is cut, again
//! and again; after each cut, proof that nothing acknowledged was lost.
//!
//! ```text
//! scripts/setup.sh run/powercut      certificates, POWERCUT_COUNT bases, keys, configurations
//! tools/lazyfs over run/powercut/disk   the hub's disclosure log and every store's database
//!                                       live here; the broker stays on the real disk (its
//!                                       durability is RabbitMQ's)
//! broker, 3 stores, the hub, 3 × publish
//!
//! POWERCUT_CUTS times (default 20), at moments drawn from POWERCUT_SEED:
//!   SIGKILL the hub and every store at once; lazyfs `cut` drops every write not fsynced
//!   check: the log opens and verifies; every basis a sender got OK for has received, disclosed
//!          and delivered in the log and is in its receiver's store with the disclosed content;
//!          no store holds a basis the log has no disclosure of; each access log verifies
//!   restart everything, without repair
//! at the end the checks of `make chaos` over the whole run
//! ```
//!
//! Prints `powercut: N cuts, M bases answered, L lost, W without a log entry` and exits 1 on any
//! breach (2 when it could not run).

#[path = "../chaos/check.rs"]
#[allow(dead_code)] // shared with make chaos, which uses all of it
mod check;
#[path = "../chaos/env.rs"]
#[allow(dead_code)] // shared with make chaos, which uses all of it
mod env;
#[path = "../chaos/observe.rs"]
#[allow(dead_code)] // shared with make chaos, which uses all of it
mod observe;
#[path = "../chaos/procs.rs"]
#[allow(dead_code)] // shared with make chaos, which uses all of it
mod procs;

mod disk;
mod state;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use check::Breaches;
use env::{binary, env_number, exit_code, node_name, say, STALL};
use procs::{wait_for_port, Broker, Service};

fn main() -> ExitCode {
    exit_code("powercut", run())
}

/// The answered-bases counts at which power is cut: one in each of `cuts` equal slices of
/// 3 %–97 % of the bases, with a delay of up to a second after it is reached.
fn draw_cuts(seed: u64, cuts: usize, total: usize) -> Vec<(usize, Duration)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let slice = 0.94 / cuts as f64;
    (0..cuts)
        .map(|k| {
            let f = 0.03 + slice * (k as f64 + rng.gen_range(0.1..0.9));
            (
                (f * total as f64) as usize,
                Duration::from_millis(rng.gen_range(0..1000)),
            )
        })
        .collect()
}

/// Everything the run started, and how to reach it.
struct Exchange {
    out: PathBuf,
    hub: Service,
    stores: BTreeMap<String, Service>,
    store_ports: BTreeMap<String, u16>,
}

impl Exchange {
    fn store_urls(&self) -> BTreeMap<String, String> {
        self.store_ports
            .iter()
            .map(|(org, port)| (org.clone(), format!("https://127.0.0.1:{port}")))
            .collect()
    }

    fn start_stores(&mut self) -> anyhow::Result<()> {
        for (org, s) in self.stores.iter_mut() {
            s.start()?;
            wait_for_port(self.store_ports[org], Duration::from_secs(60))
                .with_context(|| format!("store {org} after a cut:\n{}", s.log_tail(8)))?;
        }
        Ok(())
    }

    /// Starts the hub and waits until it consumes.
    fn start_hub(&mut self) -> anyhow::Result<()> {
        self.hub.start()?;
        self.hub
            .wait_for_log("hub consuming", Duration::from_secs(120))
    }

    /// The power cut: every process that writes to the lazy disk dies at the same moment.
    fn kill_all(&mut self) {
        self.hub.kill();
        for s in self.stores.values_mut() {
            s.kill();
        }
    }
}

/// A run's directory and what scripts/setup.sh made in it.
struct Setup {
    out: PathBuf,
    made: env::Setup,
}

/// scripts/setup.sh into run/powercut, after unmounting what a killed run left behind.
fn prepare(repo: &Path, bin: &Path, seed: u64, count: usize, node: &str) -> anyhow::Result<Setup> {
    let out = repo.join("run/powercut");
    disk::unmount_stale(&out.join("disk"));
    let made = env::setup(repo, &out, bin, node, count, seed)?;
    Ok(Setup { out, made })
}

impl Setup {
    /// The hub and a store per region as `invoice-hub` processes, not yet started.
    fn exchange(&self, bin: &Path) -> Exchange {
        let out = &self.out;
        Exchange {
            hub: Service::new(
                "hub",
                bin,
                &[&"hub", &"--config", &out.join("hub.toml")],
                out.join("hub.log"),
            ),
            stores: self
                .made
                .orgs
                .iter()
                .map(|org| {
                    let d = out.join(format!("store-{org}"));
                    let s = Service::new(
                        &format!("store {org}"),
                        bin,
                        &[&"store", &"--config", &d.join("store.toml")],
                        d.join("store.log"),
                    );
                    (org.clone(), s)
                })
                .collect(),
            store_ports: self.made.store_ports.clone(),
            out: out.clone(),
        }
    }

    /// One `invoice-hub publish` per sending region, started.
    fn publishers(&self, bin: &Path) -> anyhow::Result<BTreeMap<String, Service>> {
        let mut publishers = BTreeMap::new();
        for org in &self.made.orgs {
            let outbox = self.out.join(format!("outbox-{org}"));
            if !outbox.exists() {
                continue;
            }
            let mut p = Service::new(
                &format!("publisher {org}"),
                bin,
                &[
                    &"publish",
                    &"--quiet",
                    &"--config",
                    &self.out.join(format!("region-{org}.toml")),
                    &outbox,
                ],
                self.out.join(format!("publish-{org}.log")),
            );
            p.start()?;
            publishers.insert(org.clone(), p);
        }
        Ok(publishers)
    }
}

/// The run so far: cuts made and what their checks found.
struct Progress {
    breaches: Breaches,
    tally: state::CutTally,
    cuts: usize,
    /// A store or the hub did not start after a cut: the run cannot go on.
    no_restart: bool,
}

/// One power cut: everything writing to the lazy disk dies at once, the unsynced writes go,
/// the checks run on what survived, and everything starts again.
fn power_cut(
    x: &mut Exchange,
    lazy: &disk::LazyDisk,
    observer: &observe::Observer,
    p: &mut Progress,
    planned: usize,
    started: Instant,
) -> anyhow::Result<()> {
    p.cuts += 1;
    let answered = observer.answered();
    x.kill_all();
    let dropped = lazy.cut()?;
    say(format!(
        "[{:>5.1}s] power cut {}/{planned} at {answered} answers: hub and stores SIGKILLed, {dropped}",
        started.elapsed().as_secs_f64(),
        p.cuts
    ));
    let seen = observer.answered_ok();
    // Starting again must need no repair: a store or hub that cannot is a breach.
    if let Err(e) = x.start_stores() {
        p.breaches.add(format!(
            "after cut {}: a store does not start: {e:#}",
            p.cuts
        ));
        p.no_restart = true;
        return Ok(());
    }
    let c = state::check_after_cut(&state::AfterCut {
        log_dir: &lazy.hub_log(),
        log_key: &x.out.join("keys/log-signing.pub"),
        pki: &x.out.join("pki"),
        stores: &x.store_urls(),
        seen: &seen,
    })?;
    say(format!("         after the cut: {}", c.summary()));
    p.tally.add(&c, p.cuts, &mut p.breaches);
    if let Err(e) = x.start_hub() {
        p.breaches.add(format!(
            "after cut {}: the hub does not start: {e:#}",
            p.cuts
        ));
        p.no_restart = true;
    }
    Ok(())
}

/// Publishers that exited without every basis confirmed are run again, as a sender would;
/// `confirmed` gains the regions whose publisher ended with everything confirmed.
fn tend(
    publishers: &mut BTreeMap<String, Service>,
    confirmed: &mut BTreeSet<String>,
    reruns: &mut u32,
) -> anyhow::Result<()> {
    for (org, p) in publishers.iter_mut() {
        if confirmed.contains(org) {
            continue;
        }
        match p.exited() {
            Some(s) if s.success() => {
                confirmed.insert(org.clone());
            }
            Some(_) if *reruns < 10 => {
                *reruns += 1;
                p.start()?;
            }
            _ => {}
        }
    }
    Ok(())
}

// The run in order: set up, start, the load loop with its cuts, finish. About 90 lines: the
// loop keeps the publishers, the cut plan and the stall clock in one place.
fn run() -> anyhow::Result<bool> {
    let started = Instant::now();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin = binary()?;
    let seed = match std::env::var("POWERCUT_SEED") {
        Ok(s) => s.parse().context("POWERCUT_SEED must be a number")?,
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    };
    let count = env_number("POWERCUT_COUNT", 4000)? as usize;
    let cuts = env_number("POWERCUT_CUTS", 20)? as usize;
    say(format!(
        "== make powercut: POWERCUT_SEED={seed} POWERCUT_COUNT={count} POWERCUT_CUTS={cuts} (in run/powercut)"
    ));
    let name = node_name(&repo, "powercut");
    let setup = prepare(&repo, &bin, seed, count, &name)?;
    let total = setup.made.manifest.len();
    let plan = draw_cuts(seed, cuts, total);
    say(format!(
        "{total} bases generated; power cut at {:?} answers",
        plan.iter().map(|c| c.0).collect::<Vec<_>>()
    ));
    // The hub's log and the stores' databases move onto the lazy disk.
    let lazy = disk::LazyDisk::mount(&repo, &setup.out, &setup.made.orgs)?;
    say(format!(
        "lazyfs mounted at {} (backing {})",
        lazy.mount.display(),
        lazy.backing.display()
    ));
    let (env, orgs) = (&setup.made.env, &setup.made.orgs);
    let broker = Broker::up(
        &repo,
        &name,
        &setup.out.join("pki"),
        &env["AMQPS"],
        &env["DIST"],
        &orgs.join(","),
    )?;
    say(format!("broker {name} up on amqps {}", env["AMQPS"]));
    let mut x = setup.exchange(&bin);
    x.start_stores()?;
    x.start_hub()?;
    let observer = observe::Observer::start(&setup.out, orgs)?;
    let mut publishers = setup.publishers(&bin)?;

    let mut p = Progress {
        breaches: Breaches::default(),
        tally: state::CutTally::default(),
        cuts: 0,
        no_restart: false,
    };
    let (mut confirmed_orgs, mut reruns) = (BTreeSet::new(), 0u32);
    let mut due: Option<Instant> = None;
    let mut last_progress = (0usize, Instant::now());
    let mut last_print = Instant::now();
    let all_answered = loop {
        #[expect(
            clippy::disallowed_methods,
            reason = "the driver's own thread waits; no async runtime runs on it"
        )]
        std::thread::sleep(Duration::from_millis(100));
        let answered = observer.answered();
        if answered != last_progress.0 {
            last_progress = (answered, Instant::now());
        }
        tend(&mut publishers, &mut confirmed_orgs, &mut reruns)?;
        if let Some(&(at, delay)) = plan.get(p.cuts) {
            if answered >= at && due.is_none() {
                due = Some(Instant::now() + delay);
            }
            if due.is_some_and(|t| Instant::now() >= t) {
                due = None;
                power_cut(&mut x, &lazy, &observer, &mut p, plan.len(), started)?;
                if p.no_restart {
                    return report(seed, p.cuts, observer.answered(), &p.tally, &p.breaches);
                }
                last_progress.1 = Instant::now();
            }
        }
        if last_print.elapsed() >= Duration::from_secs(15) {
            last_print = Instant::now();
            say(format!(
                "[{:>5.1}s] {answered}/{total} bases answered, {} cuts",
                started.elapsed().as_secs_f64(),
                p.cuts
            ));
        }
        if answered >= total && p.cuts == plan.len() && confirmed_orgs.len() == publishers.len() {
            break true;
        }
        if last_progress.1.elapsed() >= STALL {
            break false;
        }
    };
    if !all_answered {
        p.breaches.add(format!(
            "stuck: no new answer for {} s with {}/{total} bases answered",
            STALL.as_secs(),
            observer.answered()
        ));
    }
    if p.cuts < cuts {
        p.breaches.add(format!(
            "only {} of the {cuts} planned power cuts happened",
            p.cuts
        ));
    }
    finish(
        &setup,
        x,
        broker,
        observer,
        &confirmed_orgs,
        p,
        &lazy,
        seed,
        started,
    )
}

/// Drain, stop the hub cleanly, and check the whole run as make chaos does.
#[allow(clippy::too_many_arguments)]
fn finish(
    setup: &Setup,
    mut x: Exchange,
    broker: Broker,
    observer: observe::Observer,
    confirmed_orgs: &BTreeSet<String>,
    mut p: Progress,
    lazy: &disk::LazyDisk,
    seed: u64,
    started: Instant,
) -> anyhow::Result<bool> {
    let drain = Instant::now();
    while drain.elapsed() < Duration::from_secs(60) && broker.depth("ih.submit").unwrap_or(1) > 0 {
        #[expect(
            clippy::disallowed_methods,
            reason = "the driver's own thread waits; no async runtime runs on it"
        )]
        std::thread::sleep(Duration::from_secs(2));
    }
    if let Err(e) = x.hub.terminate(Duration::from_secs(60)) {
        p.breaches.add(format!("{e:#}"));
    }
    #[expect(
        clippy::disallowed_methods,
        reason = "the driver's own thread waits; no async runtime runs on it"
    )]
    std::thread::sleep(Duration::from_secs(3));
    let seen = observer.stop();
    let confirmed: BTreeSet<String> = setup
        .made
        .manifest
        .iter()
        .filter(|m| confirmed_orgs.contains(&m.sender))
        .map(|m| m.id.clone())
        .collect();
    let final_tally = check::run(
        &check::Inputs {
            manifest: &setup.made.manifest,
            confirmed: &confirmed,
            seen: &seen,
            log_dir: &lazy.hub_log(),
            log_key: &setup.out.join("keys/log-signing.pub"),
            pki: &setup.out.join("pki"),
            stores: &x.store_urls(),
        },
        &mut p.breaches,
    )?;
    say(format!(
        "\n== figures\n  {} bases, {} confirmed; outcomes {:?}; stores hold {:?}; log {} entries; whole run {:.0} s",
        setup.made.manifest.len(),
        confirmed.len(),
        final_tally.outcomes,
        final_tally.stored,
        final_tally.log_entries,
        started.elapsed().as_secs_f64()
    ));
    say(format!("  {}", p.tally.figures()));
    drop(x);
    drop(broker);
    report(seed, p.cuts, seen.statuses.len(), &p.tally, &p.breaches)
}

/// The last lines: the figure the issue asks for, then PASS or every breach.
fn report(
    seed: u64,
    cuts: usize,
    answered: usize,
    tally: &state::CutTally,
    breaches: &Breaches,
) -> anyhow::Result<bool> {
    say(format!(
        "powercut: {cuts} cuts, {answered} bases answered, {} lost, {} without a log entry",
        tally.lost, tally.without_log
    ));
    if breaches.0.is_empty() {
        say(format!("powercut: PASS (seed {seed})"));
        return Ok(true);
    }
    say(format!(
        "powercut: FAIL (seed {seed}): {} breach(es)",
        breaches.0.len()
    ));
    for b in breaches.0.iter().take(40) {
        say(format!("  BREACH {b}"));
    }
    Ok(false)
}
