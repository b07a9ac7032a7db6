//! What a run found, as `target/bench/summary.json` and as the table it prints, with the
//! targets of issue 21 (cost per basis) checked against figures of the same run.

use std::time::Duration;

use serde::Serialize;

use crate::deploy::Usage;
use crate::floor::{LogRate, XsdOnly};
use crate::load::{Basis, Pace, Timing};

/// One measurement on one fresh deployment.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Point {
    pub name: String,
    /// Target rate for a paced run (bases/s); none when publishing as fast as confirmed.
    pub paced_rate: Option<f64>,
    /// The share of the end-to-end maximum a paced run aimed at.
    pub load_share: Option<f64>,
    /// Lines per basis, for the lines points.
    pub lines: Option<u32>,
    pub mean_lines: f64,
    pub timing: Timing,
    pub hub: Usage,
    /// The largest peak RSS of the four stores, MiB.
    pub store_peak_rss_mib: f64,
    /// CPU milliseconds per basis: hub, all stores, the broker, this driver (publishers and
    /// status readers).
    pub cpu_ms_per_basis: CpuShare,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct CpuShare {
    pub hub: f64,
    pub stores: f64,
    pub broker: f64,
    pub driver: f64,
    /// All four together ÷ wall time: how many of the machine's cores the run kept busy.
    pub cores_busy: f64,
}

impl CpuShare {
    /// From CPU seconds (hub, stores, broker, driver) before and after `n` bases in `secs`.
    pub(crate) fn of(cpu0: [f64; 4], cpu1: [f64; 4], n: usize, secs: f64) -> CpuShare {
        let n = n.max(1) as f64;
        let d: Vec<f64> = (0..4).map(|i| (cpu1[i] - cpu0[i]).max(0.0)).collect();
        CpuShare {
            hub: d[0] * 1e3 / n,
            stores: d[1] * 1e3 / n,
            broker: d[2] * 1e3 / n,
            driver: d[3] * 1e3 / n,
            cores_busy: d.iter().sum::<f64>() / secs.max(1e-9),
        }
    }
}

impl Point {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        name: &str,
        pace: Pace,
        bases: &[Basis],
        timing: Timing,
        hub: Usage,
        stores: Vec<Usage>,
        cpu0: [f64; 4],
        cpu1: [f64; 4],
    ) -> Point {
        Point {
            name: name.to_string(),
            paced_rate: match pace {
                Pace::Rate(r) => Some(r),
                Pace::Max { .. } => None,
            },
            load_share: None,
            lines: None,
            mean_lines: bases.iter().map(|b| b.lines as f64).sum::<f64>()
                / bases.len().max(1) as f64,
            cpu_ms_per_basis: CpuShare::of(cpu0, cpu1, bases.len(), timing.secs),
            timing,
            hub,
            store_peak_rss_mib: stores.iter().map(|s| s.peak_rss_mib).fold(0.0, f64::max),
        }
    }

    pub(crate) fn one_line(&self) -> String {
        let t = &self.timing;
        format!(
            "{}: {} bases in {:.1} s = {:.1} bases/s ({:.2} MB/s); latency p50 {:.0} ms p99 {:.0} ms max {:.0} ms; \
             peak RSS hub {:.0} MiB store {:.0} MiB; {:?}",
            self.name,
            t.bases,
            t.secs,
            t.bases_per_sec,
            t.mb_per_sec,
            t.p50_ms,
            t.p99_ms,
            t.max_ms,
            self.hub.peak_rss_mib,
            self.store_peak_rss_mib,
            t.outcomes
        )
    }
}

/// A target and whether this run met it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Target {
    pub what: String,
    pub measured: String,
    pub met: bool,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Summary {
    pub n: usize,
    pub growth_full: bool,
    pub cores: usize,
    pub load_average_at_end: String,
    pub wall_secs: f64,
    pub baseline: Timing,
    /// CPU ms per message of the broker and this driver during the baseline.
    pub baseline_cpu_ms_per_message: CpuShare,
    pub end_to_end: Point,
    /// End-to-end throughput ÷ baseline throughput.
    pub ratio_end_to_end_to_baseline: f64,
    pub paced: Vec<Point>,
    pub growth_bases: Vec<Point>,
    pub growth_lines: Vec<Point>,
    /// The end-to-end point again through each build `BENCH_COMPARE_BIN` names.
    pub compared: Vec<Point>,
    /// libxml2 XSD-only validation of the end-to-end documents, in the driver.
    pub xsd_only: Option<XsdOnly>,
    /// The disclosure log's durable appends at batch sizes 1, 64 and 512.
    pub log_appends: Vec<LogRate>,
    /// The SOAP gateway's point: answers as its callers saw them.
    pub gateway: Option<Timing>,
    pub targets: Vec<Target>,
}

impl Summary {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        n: usize,
        growth_full: bool,
        baseline: Timing,
        baseline_cpu_ms_per_message: CpuShare,
        end_to_end: Point,
        paced: Vec<Point>,
        growth_bases: Vec<Point>,
        growth_lines: Vec<Point>,
        wall: Duration,
    ) -> Summary {
        let ratio = end_to_end.timing.bases_per_sec / baseline.bases_per_sec;
        let targets = targets(
            &baseline_cpu_ms_per_message,
            &end_to_end,
            ratio,
            &paced,
            &growth_bases,
        );
        Summary {
            n,
            growth_full,
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            load_average_at_end: std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .trim()
                .to_string(),
            wall_secs: wall.as_secs_f64(),
            ratio_end_to_end_to_baseline: ratio,
            baseline,
            baseline_cpu_ms_per_message,
            end_to_end,
            paced,
            growth_bases,
            growth_lines,
            compared: Vec::new(),
            xsd_only: None,
            log_appends: Vec::new(),
            gateway: None,
            targets,
        }
    }

    /// The floors measured in the driver, and the targets held against them (placed first:
    /// they are issue 21's).
    pub(crate) fn add_floors(&mut self, xsd: XsdOnly, log: Vec<LogRate>) {
        let hub = self.end_to_end.cpu_ms_per_basis.hub;
        let r = hub / xsd.cpu_ms_per_doc;
        let mut first = vec![Target {
            what: "hub CPU per basis ÷ libxml2 XSD-only validation of the same documents <= 1.5"
                .into(),
            measured: format!(
                "{r:.2} ({hub:.3} vs {:.3} ms over {} documents)",
                xsd.cpu_ms_per_doc, xsd.docs
            ),
            met: r <= 1.5,
        }];
        let best = log.iter().map(|l| l.appends_per_sec).fold(0.0, f64::max);
        first.push(Target {
            what: "durable log appends per second, batched >= 20 000".into(),
            measured: log
                .iter()
                .map(|l| format!("batch {}: {:.0}/s", l.batch, l.appends_per_sec))
                .collect::<Vec<_>>()
                .join(", "),
            met: best >= 20_000.0,
        });
        self.targets.splice(0..0, first);
        self.xsd_only = Some(xsd);
        self.log_appends = log;
    }

    /// The gateway's point, and its target: the contract's answer time (< 3 s up to 1 MB).
    pub(crate) fn add_gateway(&mut self, t: Timing, callers: usize) {
        self.targets.push(Target {
            what: format!(
                "gateway: p99 answer < 3 s with {callers} callers at once (the contract)"
            ),
            measured: format!(
                "p50 {:.0} ms, p99 {:.0} ms, {:.1} bases/s ({:.2} of end to end by AMQP)",
                t.p50_ms,
                t.p99_ms,
                t.bases_per_sec,
                t.bases_per_sec / self.end_to_end.timing.bases_per_sec
            ),
            met: t.p99_ms < 3000.0,
        });
        self.gateway = Some(t);
    }

    /// The table for people.
    pub(crate) fn table(&self) -> String {
        let mut s = String::new();
        let b = &self.baseline;
        let e = &self.end_to_end.timing;
        s += &format!(
            "invoice-hub bench: N = {}, {} cores, load average at the end {}; {:.0} s in all\n\n",
            self.n, self.cores, self.load_average_at_end, self.wall_secs
        );
        s += &format!(
            "{:<22}{:>9}{:>10}{:>9}{:>9}{:>9}{:>9}{:>10}{:>10}\n",
            "run", "bases", "bases/s", "MB/s", "p50 ms", "p99 ms", "max ms", "hub MiB", "store MiB"
        );
        let row = |name: &str, t: &Timing, hub: Option<f64>, store: Option<f64>| {
            let mib = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
            format!(
                "{:<22}{:>9}{:>10.1}{:>9.2}{:>9.0}{:>9.0}{:>9.0}{:>10}{:>10}\n",
                name,
                t.bases,
                t.bases_per_sec,
                t.mb_per_sec,
                t.p50_ms,
                t.p99_ms,
                t.max_ms,
                mib(hub),
                mib(store)
            )
        };
        let point = |p: &Point| {
            row(
                &p.name,
                &p.timing,
                Some(p.hub.peak_rss_mib),
                Some(p.store_peak_rss_mib),
            )
        };
        s += &row("raw broker (baseline)", b, None, None);
        s += &point(&self.end_to_end);
        for p in &self.compared {
            s += &point(p);
        }
        if let Some(g) = &self.gateway {
            s += &row("SOAP gateway, 10 callers", g, None, None);
        }
        s += &format!(
            "\nend to end ÷ baseline: {:.3} ({:.1} vs {:.1} bases/s)\n\nlatency under load (paced):\n",
            self.ratio_end_to_end_to_baseline, e.bases_per_sec, b.bases_per_sec
        );
        for p in &self.paced {
            s += &point(p);
        }
        s += "\nhow cost grows with the number of bases:\n";
        for p in &self.growth_bases {
            s += &point(p);
        }
        s += "\nhow cost grows with lines per basis:\n";
        for p in &self.growth_lines {
            s += &point(p);
        }
        let c = &self.baseline_cpu_ms_per_message;
        s += &format!(
            "\nCPU ms per basis (hub / stores / broker / driver, cores busy):\n  {:<20}{:>8.2}{:>8.2}{:>8.2}{:>8.2}{:>7.2}\n{}",
            "raw broker",
            c.hub,
            c.stores,
            c.broker,
            c.driver,
            c.cores_busy,
            [&self.end_to_end]
                .into_iter()
                .chain(&self.compared)
                .chain(&self.growth_lines)
                .map(|p| {
                    let c = &p.cpu_ms_per_basis;
                    format!(
                        "  {:<20}{:>8.2}{:>8.2}{:>8.2}{:>8.2}{:>7.2}\n",
                        p.name, c.hub, c.stores, c.broker, c.driver, c.cores_busy
                    )
                })
                .collect::<String>()
        );
        if let Some(x) = &self.xsd_only {
            s += &format!(
                "\nfloors (in the driver, same run):\n  libxml2 XSD only: {:.3} CPU ms per document ({} documents)\n",
                x.cpu_ms_per_doc, x.docs
            );
        }
        for l in &self.log_appends {
            s += &format!(
                "  log, durable appends in batches of {:>3}: {:>8.0}/s ({} records)\n",
                l.batch, l.appends_per_sec, l.records
            );
        }
        s += "\ntargets (issue 21):\n";
        for t in &self.targets {
            s += &format!(
                "  [{}] {}: {}\n",
                if t.met { "MET" } else { "MISSED" },
                t.what,
                t.measured
            );
        }
        s
    }
}

/// Issue 21's targets that the exchange's own points decide.
fn targets(
    raw: &CpuShare,
    e2e: &Point,
    ratio: f64,
    paced: &[Point],
    growth: &[Point],
) -> Vec<Target> {
    let all = |c: &CpuShare| c.hub + c.stores + c.broker + c.driver;
    let c = &e2e.cpu_ms_per_basis;
    let cpu = all(c) / all(raw);
    let mut t = vec![
        Target {
            what: "all processes' CPU per basis ÷ per raw-broker message <= 3".into(),
            measured: format!(
                "{cpu:.2} ({:.2} ms: hub {:.2}, stores {:.2}, broker {:.2}, driver {:.2}; vs {:.2} ms)",
                all(c),
                c.hub,
                c.stores,
                c.broker,
                c.driver,
                all(raw)
            ),
            met: cpu <= 3.0,
        },
        Target {
            what: "end to end ÷ raw broker >= 0.35".into(),
            measured: format!("{ratio:.3}"),
            met: ratio >= 0.35,
        },
    ];
    let at = |k: usize| growth.iter().find(|p| p.timing.bases == k);
    match (at(10_000), at(100_000)) {
        (Some(a), Some(b)) => {
            let hub = b.hub.peak_rss_mib / a.hub.peak_rss_mib;
            let store = b.store_peak_rss_mib / a.store_peak_rss_mib;
            t.push(Target {
                what: "peak RSS of hub and store at 100 000 bases ÷ at 10 000 <= 1.1".into(),
                measured: format!(
                    "hub ×{hub:.3} ({:.1} → {:.1} MiB), store ×{store:.3} ({:.1} → {:.1} MiB)",
                    a.hub.peak_rss_mib,
                    b.hub.peak_rss_mib,
                    a.store_peak_rss_mib,
                    b.store_peak_rss_mib
                ),
                met: hub <= 1.1 && store <= 1.1,
            });
        }
        _ => t.push(Target {
            what: "peak RSS of hub and store at 100 000 bases ÷ at 10 000 <= 1.1".into(),
            measured: "not measured in this run (no 100 000-base point)".into(),
            met: false,
        }),
    }
    if let Some(p) = paced.iter().find(|p| p.load_share == Some(0.5)) {
        t.push(Target {
            what: "p99 publish → status at 50 % load < 50 ms".into(),
            measured: format!("{:.0} ms (p50 {:.0} ms)", p.timing.p99_ms, p.timing.p50_ms),
            met: p.timing.p99_ms < 50.0,
        });
    }
    t
}
