//! `make bench`: the whole exchange under load, beside the best the broker alone can do on the
//! same machine in the same run.
//!
//! 1. **Raw-broker baseline**: N generated bases as persistent messages with publisher confirms
//!    through the submit quorum queue (AMQPS, the regions' certificates) to a consumer with the
//!    hub's certificate that acknowledges each at once.
//! 2. **End to end**: the same N bases from four regions through publish → hub (safety, XSD,
//!    rules, policy, disclosure log) → mutual-TLS store → the sender's status; each basis timed
//!    from its publish to its status. Ratio end to end ÷ baseline.
//! 3. **Latency under load**: paced publishing at 25, 50 and 90 % of the throughput of 2.
//! 4. **How cost grows**: throughput, peak RSS (VmHWM) and CPU of the hub and the stores at 1 000,
//!    10 000 bases, N and 100 000 (`BENCH_GROWTH=short` leaves 100 000 out); and at 1, 10 and 100
//!    lines per basis.
//! 5. **The SOAP gateway**: 10 callers at once.
//! 6. **The floors** ([`floor`]): libxml2 XSD-only validation of the same N documents, and the
//!    disclosure log's durable appends at batch sizes 1, 64 and 512.
//!
//! The targets of issue 21 are checked against figures of this one run and printed as MET or
//! MISSED at the end of the table.
//!
//! Every measurement runs against a fresh deployment (new stores, new hub, new disclosure log) of
//! the release binary; one RabbitMQ node serves the whole run. Writes `target/bench/summary.json`,
//! `target/bench/summary.txt` (the table it prints) and `target/bench/performance.png`.
//!
//! Knobs (environment): `BENCH_N` (default 20000), `BENCH_GROWTH=short` (no 100 000 point),
//! `BENCH_COMPARE_BIN` (other builds of `invoice-hub`, `:`-separated: the end-to-end point again
//! through each),
//! `BENCH_LINES_N` (bases per lines point, default 500), `BENCH_PACED_SECS` (length of a paced
//! run, default 20), `IH_BIN` (the build every other point runs; default the release binary cargo
//! built for the bench; `deploy::bin`).
//!
//! Run by `cargo test --all-targets` (no `--bench` argument), it is a smoke test instead: 60
//! bases, the same steps, results in `target/bench/smoke/`, and it fails if any basis goes
//! unanswered.

#[path = "../../tests/common/mod.rs"]
mod common;
mod deploy;
mod floor;
mod gateway;
mod load;
#[path = "../support/log_record.rs"]
mod log_record;
mod plot;
mod report;
#[path = "../../tests/store_harness/mod.rs"]
mod store_harness;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use deploy::{Deployment, Shared};
use load::{Basis, Pace, Regions};
use report::{Point, Summary};

/// The four sending and receiving regions: Stockholm, Skåne, Halland, Västra Götaland.
const COUNTIES: &str = "01,12,13,14";
const ORGS: [&str; 4] = ["2321000016", "2321000255", "2321000115", "2321000131"];
/// Unconfirmed publishes per region, as `invoice-hub publish` keeps them.
const IN_FLIGHT: usize = 64;

struct Knobs {
    n: usize,
    full: bool,
    lines_n: usize,
    paced_secs: f64,
    /// Under `cargo test`: a quick run that proves the bench works, not a measurement.
    smoke: bool,
}

impl Knobs {
    fn from_env() -> Knobs {
        if !std::env::args().any(|a| a == "--bench") {
            return Knobs {
                n: 60,
                full: false,
                lines_n: 4,
                paced_secs: 1.0,
                smoke: true,
            };
        }
        let num = |k: &str, d: usize| {
            std::env::var(k)
                .ok()
                .map(|v| {
                    v.parse()
                        .unwrap_or_else(|_| panic!("{k}={v}: not a number"))
                })
                .unwrap_or(d)
        };
        Knobs {
            n: num("BENCH_N", 20_000),
            full: !std::env::var("BENCH_GROWTH").is_ok_and(|v| v == "short"),
            lines_n: num("BENCH_LINES_N", 500),
            paced_secs: num("BENCH_PACED_SECS", 20) as f64,
            smoke: false,
        }
    }
}

/// `invoice-hub gen` into `dir`, unless the same set is already there from an earlier run.
fn generate(dir: &Path, count: usize, lines: &str) -> Vec<Basis> {
    let args = format!("--count {count} --seed 2026 --regions {COUNTIES} --lines {lines}");
    let stamp = dir.join("bench-args.txt");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(args.as_str()) {
        let t = Instant::now();
        let _ = std::fs::remove_dir_all(dir);
        let (out, count) = (dir.to_string_lossy(), count.to_string());
        deploy::run_ok(&[
            "gen",
            "--count",
            &count,
            "--seed",
            "2026",
            "--regions",
            COUNTIES,
            "--lines",
            lines,
            "--out",
            &out,
        ]);
        std::fs::write(&stamp, &args).unwrap();
        eprintln!(
            "bench: generated {count} bases ({lines} lines) in {:.0?}",
            t.elapsed()
        );
    }
    load::read_manifest(dir)
}

struct Bench {
    rt: tokio::runtime::Runtime,
    shared: Shared,
    regions: Regions,
    work: PathBuf,
    broker_pid: Option<u32>,
}

impl Bench {
    /// One measurement on a fresh deployment.
    fn point(&self, name: &str, bases: &[Basis], pace: Pace) -> Point {
        self.point_of(deploy::bin(), name, bases, pace)
    }

    /// [`Bench::point`] with the build `bin`.
    fn point_of(&self, bin: &str, name: &str, bases: &[Basis], pace: Pace) -> Point {
        eprintln!("bench: {name}: {} bases, {pace:?}", bases.len());
        let d = Deployment::start(&self.work.join("deployment"), &self.shared, bin);
        let cpu0 = self.cpu_now(&d);
        let stall = Duration::from_secs(180);
        let timing = self
            .rt
            .block_on(self.regions.end_to_end(bases, pace, stall));
        let (hub, stores) = d.usage();
        let cpu1 = self.cpu_now(&d);
        d.stop();
        let p = Point::new(name, pace, bases, timing, hub, stores, cpu0, cpu1);
        eprintln!("bench: {}", p.one_line());
        p
    }

    /// CPU seconds so far of (hub, stores, broker, this driver).
    fn cpu_now(&self, d: &Deployment) -> [f64; 4] {
        let (hub, stores) = d.usage();
        [
            hub.cpu_secs,
            stores.iter().map(|s| s.cpu_secs).sum(),
            self.broker_pid.map(deploy::cpu_secs_of).unwrap_or(0.0),
            deploy::cpu_secs_of(std::process::id()),
        ]
    }
}

/// The broker node's operating-system process (`beam.smp`), for its CPU time.
fn broker_pid(broker: &common::TestBroker) -> Option<u32> {
    let dir = broker
        .repo
        .join("run")
        .join(format!("broker-{}", broker.name));
    std::fs::read_to_string(dir.join("mnesia/node.pid"))
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

fn main() {
    let knobs = Knobs::from_env();
    let repo = common::repo();
    let (out, work) = if knobs.smoke {
        (
            repo.join("target/bench/smoke"),
            repo.join("run/bench-smoke"),
        )
    } else {
        (repo.join("target/bench"), repo.join("run/bench-exchange"))
    };
    std::fs::create_dir_all(&out).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let started = Instant::now();

    let broker = common::TestBroker::start_with(
        if knobs.smoke { "smoke" } else { "exchange" },
        COUNTIES,
        &ORGS,
    );
    let sizes: Vec<usize> = match (knobs.smoke, knobs.full) {
        (true, _) => vec![],
        (false, false) => vec![1_000, 10_000],
        (false, true) => vec![1_000, 10_000, 100_000],
    };
    let mix_n = sizes.iter().copied().fold(knobs.n, usize::max);
    let mix = generate(&work.join("bases-mix"), mix_n, "1-100");
    let by_lines: Vec<(u32, Vec<Basis>)> = [1u32, 10, 100]
        .iter()
        .map(|&l| {
            let dir = work.join(format!("bases-{l}-lines"));
            (l, generate(&dir, knobs.lines_n, &l.to_string()))
        })
        .collect();
    let protected: Vec<PathBuf> = ["bases-mix", "bases-1-lines", "bases-10-lines"]
        .iter()
        .chain(["bases-100-lines"].iter())
        .map(|d| work.join(d).join(invoice_hub::synth::PROTECTED_FILE))
        .collect();
    let shared = Shared::prepare(&work, &broker.certs, broker.amqps_port, &ORGS, &protected);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let regions = {
        let _g = rt.enter();
        Regions::new(|org| broker.endpoint(org), &ORGS)
    };
    let bench = Bench {
        rt,
        shared,
        regions,
        work: work.clone(),
        broker_pid: broker_pid(&broker),
    };
    let n = &mix[..knobs.n];

    // 1. The raw broker, with no hub running: the same messages, the same connections.
    eprintln!("bench: raw-broker baseline: {} messages", n.len());
    let cpu = |b: &Bench| {
        [
            b.broker_pid.map(deploy::cpu_secs_of).unwrap_or(0.0),
            deploy::cpu_secs_of(std::process::id()),
        ]
    };
    let cpu0 = cpu(&bench);
    let baseline = bench.rt.block_on(bench.regions.baseline(
        broker.endpoint("hub"),
        n,
        Pace::Max {
            in_flight: IN_FLIGHT,
        },
    ));
    let cpu1 = cpu(&bench);
    let baseline_cpu = report::CpuShare::of(
        [0.0, 0.0, cpu0[0], cpu0[1]],
        [0.0, 0.0, cpu1[0], cpu1[1]],
        n.len(),
        baseline.secs,
    );
    // 2. End to end.
    let e2e = bench.point(
        "end-to-end",
        n,
        Pace::Max {
            in_flight: IN_FLIGHT,
        },
    );
    // The same bases through other builds, when asked (`BENCH_COMPARE_BIN`, paths separated by
    // `:`): before and after a change, in one run.
    let compared: Vec<Point> = std::env::var("BENCH_COMPARE_BIN")
        .unwrap_or_default()
        .split(':')
        .filter(|p| !p.is_empty())
        .map(|other| {
            let file = Path::new(other)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned());
            let name = format!("end-to-end ({})", file.unwrap_or_default());
            bench.point_of(
                other,
                &name,
                n,
                Pace::Max {
                    in_flight: IN_FLIGHT,
                },
            )
        })
        .collect();
    // 3. Latency under load.
    let mut paced = Vec::new();
    let shares: &[f64] = if knobs.smoke {
        &[0.5]
    } else {
        &[0.25, 0.5, 0.9]
    };
    for &share in shares {
        let rate = e2e.timing.bases_per_sec * share;
        let k = ((rate * knobs.paced_secs) as usize).clamp(10, n.len());
        let mut p = bench.point(
            &format!("paced {:.0} %", share * 100.0),
            &n[..k],
            Pace::Rate(rate),
        );
        p.load_share = Some(share);
        paced.push(p);
    }
    // 4. How cost grows.
    let mut growth = Vec::new();
    for size in sizes {
        if size == knobs.n {
            continue;
        }
        growth.push(bench.point(
            &format!("{size} bases"),
            &mix[..size],
            Pace::Max {
                in_flight: IN_FLIGHT,
            },
        ));
    }
    growth.push(e2e.clone());
    growth.sort_by_key(|p| p.timing.bases);
    let mut lines = Vec::new();
    for (l, set) in &by_lines {
        let mut p = bench.point(
            &format!("{l} lines"),
            set,
            Pace::Max {
                in_flight: IN_FLIGHT,
            },
        );
        p.lines = Some(*l);
        lines.push(p);
    }

    // 5. The SOAP gateway: 10 callers at once, as the regions' systems call the contract.
    let gateway_n = if knobs.smoke { 20 } else { n.len().min(2_000) };
    eprintln!("bench: the SOAP gateway, {} callers", gateway::CALLERS);
    let gateway = gateway::measure(&work, &bench.shared, &n[..gateway_n]);

    // 6. The floors, in this process, with nothing else of the bench running.
    eprintln!(
        "bench: libxml2 XSD-only validation of the same {} documents",
        n.len()
    );
    let xsd = floor::xsd_only(n);
    let log_rates = floor::log_rates(&work.join("log-floor"), if knobs.smoke { 50 } else { 1 });

    let mut summary = Summary::new(
        knobs.n,
        knobs.full,
        baseline,
        baseline_cpu,
        e2e,
        paced,
        growth,
        lines,
        started.elapsed(),
    );
    summary.add_floors(xsd, log_rates);
    summary.compared = compared;
    summary.add_gateway(gateway, gateway::CALLERS);
    let table = summary.table();
    println!("{table}");
    std::fs::write(out.join("summary.txt"), &table).unwrap();
    std::fs::write(
        out.join("summary.json"),
        serde_json::to_string_pretty(&summary).unwrap(),
    )
    .unwrap();
    match plot::draw(&summary, &out.join("performance.png")) {
        Ok(()) => eprintln!("bench: wrote {}", out.join("performance.png").display()),
        Err(e) => eprintln!("bench: no plot: {e}"),
    }
    eprintln!(
        "bench: wrote {} and summary.txt in {:.0?}",
        out.join("summary.json").display(),
        started.elapsed()
    );
    if knobs.smoke {
        let e = &summary.end_to_end.timing;
        assert_eq!(
            e.outcomes.values().sum::<usize>(),
            knobs.n,
            "{:?}",
            e.outcomes
        );
        assert!(
            e.outcomes.get("OK").is_some_and(|&ok| ok > 0),
            "{:?}",
            e.outcomes
        );
        assert_eq!(summary.baseline.bases, knobs.n);
    }
    broker.stop();
}
