//! `make chaos`: the whole exchange on this machine under the faults production has, then proof
//! that nothing confirmed was lost, duplicated or delivered where it does not belong.
//!
//! ```text
//! scripts/setup.sh run/chaos        certificates, CHAOS_COUNT bases from three regions, keys,
//!                                   policies, store/hub/region configurations
//! broker/ctl up, 3 stores, the hub  (release build)
//! 3 × invoice-hub publish           one per region, in parallel
//! consumers of every status and notify queue (the regions' certificates)
//!
//! faults, at random moments from CHAOS_SEED (moments measured in answered bases):
//!   the hub SIGKILLed ≥ 5 times and restarted       a publisher SIGKILLed mid-batch and rerun
//!   the broker stopped and restarted once           one store SIGKILLed, back after 60 s
//!
//! isolation: while that store is down (no other fault meanwhile), the other receivers' bases are
//! answered at ≥ 80 % of their rate in the 10 s before it went down (one printed line).
//!
//! checks: every confirmed basis has exactly one final outcome (every answer says the same, the
//! disclosure log has one received + one decision + one delivery when disclosed); each store holds
//! exactly the bases disclosed to it, once, with the disclosed content; the disclosure log and
//! every store's access log verify; no withheld, rejected or invalid basis reached a store.
//! ```
//!
//! Exit status 0 when every check holds; 1 with every breach listed otherwise.
//! `CHAOS_SEED` (default: from the clock; always printed), `CHAOS_COUNT` (default 20 000).

mod check;
mod env;
mod observe;
mod procs;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use check::Breaches;
use env::{binary, env_number, exit_code, node_name, plain, say, STALL};
use procs::{wait_for_port, Broker, Service};

const HUB_KILLS: usize = 6;
const STORE_DOWN: Duration = Duration::from_secs(60);
/// The window before the store outage the other receivers' rate is measured over.
const BEFORE_OUTAGE: Duration = Duration::from_secs(10);
/// Below this share of their rate before, the other receivers were stalled by the outage.
const ISOLATION_MIN: f64 = 0.80;
fn main() -> ExitCode {
    exit_code("chaos", run())
}

/// The other receivers' answer rate while `down_org`'s store was down (from `down` for
/// [`STORE_DOWN`], or until their last answer if their work ran out sooner) as a share of their
/// rate in the [`BEFORE_OUTAGE`] before it (from their first answer, if that came later), with
/// the line that says so.
fn isolation(
    observer: &observe::Observer,
    manifest: &[invoice_hub::synth::ManifestEntry],
    down_org: &str,
    down: Instant,
) -> Option<(f64, String)> {
    let receiver: std::collections::HashMap<&str, &str> = manifest
        .iter()
        .map(|m| (m.id.as_str(), m.receiver.as_str()))
        .collect();
    let other = |id: &str| receiver.get(id).is_some_and(|r| *r != down_org);
    let (first, last) = observer.first_answer_span(other)?;
    let from = down.checked_sub(BEFORE_OUTAGE).unwrap_or(first).max(first);
    let before_secs = down.checked_duration_since(from)?.as_secs_f64();
    let end = (down + STORE_DOWN).min(last + Duration::from_millis(1));
    let during_secs = end.checked_duration_since(down)?.as_secs_f64();
    if before_secs < 2.0 || during_secs < 2.0 {
        return None;
    }
    let before = observer.first_answers(from, down, other) as f64 / before_secs;
    let during = observer.first_answers(down, end, other) as f64 / during_secs;
    if before <= 0.0 {
        return None;
    }
    let share = during / before;
    let line = format!(
        "isolation: other receivers answered at {:.0} % of their rate before the outage while \
         {down_org} was down ({during:.0}/s over {during_secs:.0} s, against {before:.0}/s over \
         the {before_secs:.0} s before)",
        share * 100.0
    );
    Some((share, line))
}

/// What happens when, drawn from the seed before anything starts.
struct Plan {
    /// Answered-bases counts at which the hub is killed, with the delay before the kill and the
    /// delay before the restart.
    hub_kills: Vec<(usize, Duration, Duration)>,
    broker_restart_at: usize,
    store_down_at: usize,
    store_down_org: String,
    /// How long after the first answer to its bases (proof that it has had confirms) one
    /// publisher is killed, while it is still sending.
    publisher_kill_after: Duration,
    publisher_kill_org: String,
}

impl Plan {
    /// `busiest` sends the most bases: its publisher runs longest, so it can be caught mid-batch.
    fn draw(seed: u64, count: usize, orgs: &[String], busiest: &str) -> Plan {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        // One kill in each of HUB_KILLS equal slices of 25 %–95 % of the answers: random moments,
        // never two in a row. The store outage comes first (12 %–18 %), with nothing else
        // happening, so its isolation figure measures the outage alone.
        let slice = 0.7 / HUB_KILLS as f64;
        let hub_kills = (0..HUB_KILLS)
            .map(|k| {
                let f = 0.25 + slice * (k as f64 + rng.gen_range(0.1..0.9));
                (
                    (f * count as f64) as usize,
                    Duration::from_millis(rng.gen_range(0..1500)),
                    Duration::from_millis(rng.gen_range(0..3000)),
                )
            })
            .collect();
        let pick = |rng: &mut ChaCha8Rng| orgs[rng.gen_range(0..orgs.len())].clone();
        Plan {
            hub_kills,
            broker_restart_at: (rng.gen_range(0.30..0.75) * count as f64) as usize,
            store_down_at: (rng.gen_range(0.12..0.18) * count as f64) as usize,
            store_down_org: pick(&mut rng),
            publisher_kill_after: Duration::from_millis(rng.gen_range(0..300)),
            publisher_kill_org: busiest.to_string(),
        }
    }
}

struct Publishers {
    by_org: BTreeMap<String, Service>,
    /// Reruns after an exit that was not "all confirmed", per region.
    reruns: BTreeMap<String, u32>,
    done: BTreeSet<String>,
    /// Regions whose publisher ended with every basis confirmed.
    confirmed: BTreeSet<String>,
}

fn run() -> anyhow::Result<bool> {
    let started = Instant::now();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let bin = binary()?;
    let seed: u64 = match std::env::var("CHAOS_SEED") {
        Ok(s) => s.parse().context("CHAOS_SEED must be a number")?,
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
    };
    let count = env_number("CHAOS_COUNT", 20_000)? as usize;
    let out = repo.join("run/chaos");
    say(format!(
        "== make chaos: CHAOS_SEED={seed} CHAOS_COUNT={count} (in {})",
        out.display()
    ));

    // ---- setup: the same directory layout as make run
    let name = node_name(&repo, "chaos");
    let env::Setup {
        env,
        store_ports,
        orgs,
        manifest,
    } = env::setup(&repo, &out, &bin, &name, count, seed)?;
    let busiest = orgs
        .iter()
        .max_by_key(|o| manifest.iter().filter(|m| &m.sender == *o).count())
        .context("no regions")?;
    let plan = Plan::draw(seed, manifest.len(), &orgs, busiest);
    say(format!(
        "{} bases generated; plan: hub SIGKILL at {:?} answers, broker restart at {}, store {} down 60 s at {}, publisher of {} killed {} ms after its first answer",
        manifest.len(),
        plan.hub_kills.iter().map(|k| k.0).collect::<Vec<_>>(),
        plan.broker_restart_at,
        plan.store_down_org,
        plan.store_down_at,
        plan.publisher_kill_org,
        plan.publisher_kill_after.as_millis()
    ));

    let broker = Arc::new(Broker::up(
        &repo,
        &name,
        &out.join("pki"),
        &env["AMQPS"],
        &env["DIST"],
        &orgs.join(","),
    )?);
    say(format!("broker {name} up on amqps {}", env["AMQPS"]));
    let mut stores: BTreeMap<String, Arc<Mutex<Service>>> = BTreeMap::new();
    for org in &orgs {
        let d = out.join(format!("store-{org}"));
        let mut s = Service::new(
            &format!("store {org}"),
            &bin,
            &[&"store", &"--config", &d.join("store.toml")],
            d.join("store.log"),
        );
        s.start()?;
        wait_for_port(store_ports[org], Duration::from_secs(30))?;
        stores.insert(org.clone(), Arc::new(Mutex::new(s)));
    }
    let mut hub = Service::new(
        "hub",
        &bin,
        &[&"hub", &"--config", &out.join("hub.toml")],
        out.join("hub.log"),
    );
    hub.start()?;
    // Publishing starts once the hub consumes, so answers follow confirms from the start.
    hub.wait_for_log("hub consuming", Duration::from_secs(120))?;
    // The regions' readers log what their subscriptions do (resubscribes, lost consumers) here.
    let readers_log = std::fs::File::create(out.join("readers.log"))?;
    let _ = tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(readers_log))
        .with_ansi(false)
        .try_init();
    let observer = observe::Observer::start(&out, &orgs)?;

    // ---- publish, with faults
    let mut pubs = Publishers {
        by_org: BTreeMap::new(),
        reruns: BTreeMap::new(),
        done: BTreeSet::new(),
        confirmed: BTreeSet::new(),
    };
    for org in &orgs {
        let outbox = out.join(format!("outbox-{org}"));
        if !outbox.exists() {
            pubs.done.insert(org.clone());
            continue;
        }
        let mut p = Service::new(
            &format!("publisher {org}"),
            &bin,
            &[
                &"publish",
                &"--quiet",
                &"--config",
                &out.join(format!("region-{org}.toml")),
                &outbox,
            ],
            out.join(format!("publish-{org}.log")),
        );
        p.start()?;
        pubs.by_org.insert(org.clone(), p);
    }
    let publish_start = Instant::now();
    let mut breaches = Breaches::default();
    let mut figures: Vec<String> = Vec::new();

    let mut publisher_killed = false;
    let mut publisher_kill_due: Option<Instant> = None;
    let mut kills_done = 0usize;
    let mut hub_down_since: Option<(Instant, Duration)> = None;
    let mut kill_due: Option<Instant> = None;
    let broker_restarting = Arc::new(AtomicBool::new(false));
    let mut broker_thread: Option<std::thread::JoinHandle<anyhow::Result<Duration>>> = None;
    let mut store_thread: Option<std::thread::JoinHandle<anyhow::Result<()>>> = None;
    let mut store_down_from: Option<Instant> = None;
    let mut hub_died_alone = 0u32;
    let mut last_progress = (0usize, Instant::now());
    let mut last_print = Instant::now();
    let total = manifest.len();
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

        // A publisher killed mid-batch, then run again over the same bases, as its operator would.
        if publisher_kill_due.is_none() && observer.answered_from(&plan.publisher_kill_org) > 0 {
            publisher_kill_due = Some(Instant::now() + plan.publisher_kill_after);
        }
        if !publisher_killed && publisher_kill_due.is_some_and(|t| Instant::now() >= t) {
            publisher_killed = true;
            let had = observer.answered_from(&plan.publisher_kill_org);
            let p = pubs
                .by_org
                .get_mut(&plan.publisher_kill_org)
                .expect("the planned region publishes");
            if !p.running() {
                breaches.add(format!(
                    "fault not applied: the publisher of {} had finished before it could be killed",
                    plan.publisher_kill_org
                ));
            } else {
                p.kill();
                say(format!(
                    "[{:>5.1}s] SIGKILL publisher {} mid-batch ({had} of its bases answered); running it again",
                    started.elapsed().as_secs_f64(),
                    plan.publisher_kill_org
                ));
                figures.push(format!(
                    "publisher {} SIGKILLed mid-batch ({had} of its bases already answered) and rerun over all its bases",
                    plan.publisher_kill_org
                ));
                p.start()?;
            }
        }
        for (org, p) in pubs.by_org.iter_mut() {
            if pubs.done.contains(org) {
                continue;
            }
            if let Some(status) = p.exited() {
                if status.success() {
                    pubs.done.insert(org.clone());
                    pubs.confirmed.insert(org.clone());
                    let line = p.log_tail(1);
                    say(format!(
                        "[{:>5.1}s] {line}",
                        started.elapsed().as_secs_f64()
                    ));
                } else {
                    // Not everything confirmed: a sender must send again (harmless for the rest).
                    let n = pubs.reruns.entry(org.clone()).or_default();
                    *n += 1;
                    say(format!(
                        "[{:>5.1}s] publisher {org} exited {status}: sending again ({n})",
                        started.elapsed().as_secs_f64()
                    ));
                    if *n > 5 {
                        breaches.add(format!(
                            "publisher {org}: bases still not confirmed after 5 reruns:\n{}",
                            p.log_tail(5)
                        ));
                        pubs.done.insert(org.clone());
                    } else {
                        p.start()?;
                    }
                }
            }
        }

        // While the store is down nothing else happens: the isolation figure is the outage's.
        let store_down = store_thread.as_ref().is_some_and(|t| !t.is_finished());
        // The hub, SIGKILLed at the planned moments and started again.
        if let Some((since, wait)) = hub_down_since {
            if since.elapsed() >= wait {
                hub.start()?;
                hub_down_since = None;
            }
        } else if let Some(status) = hub.exited() {
            hub_died_alone += 1;
            breaches.add(format!(
                "the hub exited by itself ({status}):\n{}",
                hub.log_tail(8)
            ));
            hub.start()?;
        } else if kills_done < plan.hub_kills.len() && !store_down {
            let (at, delay, down) = plan.hub_kills[kills_done];
            if answered >= at && kill_due.is_none() {
                kill_due = Some(Instant::now() + delay);
            }
            if kill_due.is_some_and(|t| Instant::now() >= t) {
                hub.kill();
                kills_done += 1;
                kill_due = None;
                say(format!("[{:>5.1}s] SIGKILL hub ({kills_done}/{}) at {answered} answers; restart in {} ms", started.elapsed().as_secs_f64(), plan.hub_kills.len(), down.as_millis()));
                hub_down_since = Some((Instant::now(), down));
            }
        }

        // The broker, stopped and booted again with its data.
        if broker_thread.is_none() && answered >= plan.broker_restart_at && !store_down {
            say(format!(
                "[{:>5.1}s] broker restart at {answered} answers",
                started.elapsed().as_secs_f64()
            ));
            let (b, flag) = (broker.clone(), broker_restarting.clone());
            flag.store(true, Ordering::SeqCst);
            broker_thread = Some(std::thread::spawn(move || {
                let t = Instant::now();
                let r = b.restart();
                flag.store(false, Ordering::SeqCst);
                r.map(|_| t.elapsed())
            }));
        }

        // One store down for 60 s, when nothing else is happening.
        let quiet = hub_down_since.is_none() && kill_due.is_none() && broker_thread.is_none();
        if store_thread.is_none() && answered >= plan.store_down_at && quiet {
            let org = plan.store_down_org.clone();
            say(format!(
                "[{:>5.1}s] SIGKILL store {org} at {answered} answers, back in 60 s",
                started.elapsed().as_secs_f64()
            ));
            store_down_from = Some(Instant::now());
            let (s, port) = (stores[&org].clone(), store_ports[&org]);
            store_thread = Some(std::thread::spawn(move || {
                s.lock().unwrap().kill();
                #[expect(
                    clippy::disallowed_methods,
                    reason = "the driver's own thread waits; no async runtime runs on it"
                )]
                std::thread::sleep(STORE_DOWN);
                s.lock().unwrap().start()?;
                wait_for_port(port, Duration::from_secs(30))
            }));
        }

        if last_print.elapsed() >= Duration::from_secs(10) {
            last_print = Instant::now();
            say(format!(
                "[{:>5.1}s] {answered}/{total} bases answered, {}/{} publishers done",
                started.elapsed().as_secs_f64(),
                pubs.done.len(),
                orgs.len()
            ));
        }
        let faults_done = kills_done == plan.hub_kills.len()
            && hub_down_since.is_none()
            && broker_thread.as_ref().is_some_and(|t| t.is_finished())
            && store_thread.as_ref().is_some_and(|t| t.is_finished())
            && publisher_killed;
        if answered >= total && pubs.done.len() == orgs.len() && faults_done {
            break true;
        }
        if !broker_restarting.load(Ordering::SeqCst) && last_progress.1.elapsed() >= STALL {
            break false;
        }
    };
    let elapsed = publish_start.elapsed();
    if !all_answered {
        breaches.add(format!(
            "stuck: no new answer for {} s with {}/{total} bases answered",
            STALL.as_secs(),
            observer.answered()
        ));
    }
    match broker_thread.map(|t| t.join()) {
        Some(Ok(Ok(d))) => figures.push(format!(
            "broker stopped and restarted once (down and booting {:.0} s)",
            d.as_secs_f64()
        )),
        Some(Ok(Err(e))) => breaches.add(format!("the broker did not come back: {e:#}")),
        _ => breaches.add("fault not applied: the broker restart"),
    }
    match store_thread.map(|t| t.join()) {
        Some(Ok(Ok(()))) => figures.push(format!(
            "store {} SIGKILLed and down for 60 s",
            plan.store_down_org
        )),
        Some(Ok(Err(e))) => breaches.add(format!(
            "store {} did not come back: {e:#}",
            plan.store_down_org
        )),
        _ => breaches.add("fault not applied: the store outage"),
    }
    match store_down_from.map(|down| isolation(&observer, &manifest, &plan.store_down_org, down)) {
        Some(Some((share, line))) => {
            say(line.clone());
            if share < ISOLATION_MIN {
                breaches.add(format!(
                    "{line}: below {:.0} %, the outage stalled the others",
                    ISOLATION_MIN * 100.0
                ));
            }
            figures.push(line);
        }
        Some(None) => breaches.add(
            "isolation: too few answers to other receivers around the store outage to measure a rate",
        ),
        None => {}
    }
    figures.push(format!(
        "hub SIGKILLed {kills_done} times and restarted (started {} times)",
        hub.starts
    ));
    if kills_done < 5 {
        breaches.add(format!(
            "fault not applied: the hub was killed only {kills_done} times"
        ));
    }

    // ---- drain: duplicates from the rerun publisher are still answered (from the log)
    let drain_start = Instant::now();
    let mut zero_seen = 0;
    while drain_start.elapsed() < Duration::from_secs(120) && zero_seen < 2 {
        #[expect(
            clippy::disallowed_methods,
            reason = "the driver's own thread waits; no async runtime runs on it"
        )]
        std::thread::sleep(Duration::from_secs(3));
        match broker.depth("ih.submit") {
            Ok(0) => zero_seen += 1,
            _ => zero_seen = 0,
        }
    }
    if zero_seen < 2 {
        breaches.add(format!(
            "the submit queue did not drain: {:?}",
            broker.queue_depths()?
        ));
    }
    let parked = broker.depth("ih.parked")?;
    if parked > 0 {
        breaches.add(format!(
            "{parked} message(s) parked in ih.parked (a confirmed basis without an answer)"
        ));
    }
    match hub.terminate(Duration::from_secs(60)) {
        Ok(s) if s.success() => {}
        Ok(s) => breaches.add(format!(
            "the hub exited {s} on SIGTERM:\n{}",
            hub.log_tail(8)
        )),
        Err(e) => breaches.add(format!("{e:#}")),
    }
    // Answers published just before the stop are still on their way.
    #[expect(
        clippy::disallowed_methods,
        reason = "the driver's own thread waits; no async runtime runs on it"
    )]
    std::thread::sleep(Duration::from_secs(3));
    let seen = observer.stop();

    // ---- checks
    let confirmed: BTreeSet<String> = manifest
        .iter()
        .filter(|m| pubs.confirmed.contains(&m.sender))
        .map(|m| m.id.clone())
        .collect();
    let store_urls: BTreeMap<String, String> = store_ports
        .iter()
        .map(|(org, port)| (org.clone(), format!("https://127.0.0.1:{port}")))
        .collect();
    let tally = check::run(
        &check::Inputs {
            manifest: &manifest,
            confirmed: &confirmed,
            seen: &seen,
            log_dir: &out.join("hub-log"),
            log_key: &out.join("keys/log-signing.pub"),
            pki: &out.join("pki"),
            stores: &store_urls,
        },
        &mut breaches,
    )?;
    let hub_log = plain(&std::fs::read_to_string(out.join("hub.log")).unwrap_or_default());
    let answers = hub_log.lines().filter(|l| l.contains(" answered ")).count();
    let redelivered = hub_log
        .lines()
        .filter(|l| l.contains(" answered ") && l.contains("redelivered=true"))
        .count();
    let retries = hub_log
        .lines()
        .filter(|l| l.contains("store unavailable"))
        .count();

    // ---- report
    say("\n== figures");
    for f in &figures {
        say(format!("  {f}"));
    }
    say(format!(
        "  {} bases ({} confirmed) published and answered in {:.1} s under faults: {:.0} bases/s; whole run {:.0} s",
        total,
        confirmed.len(),
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        started.elapsed().as_secs_f64()
    ));
    say(format!("  outcomes: {:?}", tally.outcomes));
    say(format!("  stores hold: {:?}", tally.stored));
    say(format!(
        "  the hub answered {answers} times for {total} bases ({} repeats); {redelivered} of the messages were redeliveries (after a crash or a lost ack); {retries} delivery retries",
        answers.saturating_sub(total)
    ));
    say(format!(
        "  the regions got {} status messages for {} bases ({} repeated), {} QUEUED while a delivery was held up, {} notices ({} repeated)",
        seen.status_messages,
        seen.statuses.len(),
        tally.repeated_statuses,
        tally.queued,
        seen.notice_messages,
        tally.repeated_notices,
    ));
    say(format!(
        "  disclosure log: {} entries; duplicates found (log or stores): {}; parked: {parked}; hub exits by itself: {hub_died_alone}",
        tally.log_entries, tally.duplicates
    ));
    drop(stores);
    drop(broker);
    if breaches.0.is_empty() {
        say(format!("\nchaos: PASS (seed {seed}): every confirmed basis has exactly one final outcome; every store holds exactly what was disclosed to it, once; the disclosure log and every access log verify; nothing withheld, rejected or invalid reached a store"));
        Ok(true)
    } else {
        say(format!(
            "\nchaos: FAIL (seed {seed}): {} breach(es)",
            breaches.0.len()
        ));
        for b in breaches.0.iter().take(40) {
            say(format!("  BREACH {b}"));
        }
        if breaches.0.len() > 40 {
            say(format!("  … and {} more", breaches.0.len() - 40));
        }
        Ok(false)
    }
}
