//! The run's figure for docs/performance.md: throughput and peak memory against the number of
//! bases, throughput against lines per basis, latency against load. Drawn with plotters into an
//! RGB buffer and written as PNG; text needs a TrueType font from the system (DejaVu Sans, the
//! Debian package `fonts-dejavu-core`).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::report::Summary;

const W: u32 = 1400;
const H: u32 = 1000;
const FONTS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
];

type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;
type Series = (&'static str, RGBColor, Vec<(f64, f64)>);

fn err(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

fn register_font() -> Result<(), String> {
    let path = FONTS
        .iter()
        .find(|p| Path::new(p).exists())
        .ok_or("no DejaVu Sans font on this machine (apt-get install fonts-dejavu-core)")?;
    let bytes: &'static [u8] = Box::leak(std::fs::read(path).map_err(err)?.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| format!("{path}: not a font plotters can read"))
}

/// Draws the summary into a PNG at `path`.
pub(crate) fn draw(s: &Summary, path: &Path) -> Result<(), String> {
    register_font()?;
    let mut buf = vec![0u8; (W * H * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, (W, H)).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let (top, rest) = root.split_vertically(50);
        top.titled(
            &format!(
                "invoice-hub end to end: N = {}, {:.1} bases/s = {:.1} % of the raw broker ({:.0} msg/s)",
                s.n,
                s.end_to_end.timing.bases_per_sec,
                s.ratio_end_to_end_to_baseline * 100.0,
                s.baseline.bases_per_sec
            ),
            ("sans-serif", 26),
        )
        .map_err(err)?;
        let p = rest.split_evenly((2, 2));
        let log = |v: &f64| format!("{:.0}", 10f64.powf(*v));
        let pct = |v: &f64| format!("{v:.0} %");
        let lg = |x: f64| x.log10();
        let g = &s.growth_bases;
        panel(
            &p[0],
            "throughput vs bases in the run",
            "bases (log)",
            "bases/s",
            &log,
            &[(
                "end to end",
                BLUE,
                g.iter()
                    .map(|q| (lg(q.timing.bases as f64), q.timing.bases_per_sec))
                    .collect(),
            )],
        )?;
        panel(
            &p[1],
            "peak RSS (VmHWM) vs bases in the run",
            "bases (log)",
            "MiB",
            &log,
            &[
                (
                    "hub",
                    RED,
                    g.iter()
                        .map(|q| (lg(q.timing.bases as f64), q.hub.peak_rss_mib))
                        .collect(),
                ),
                (
                    "store (largest of 4)",
                    GREEN,
                    g.iter()
                        .map(|q| (lg(q.timing.bases as f64), q.store_peak_rss_mib))
                        .collect(),
                ),
            ],
        )?;
        let l = &s.growth_lines;
        panel(
            &p[2],
            "throughput vs lines per basis",
            "lines per basis (log)",
            "bases/s",
            &log,
            &[(
                "end to end",
                BLUE,
                l.iter()
                    .map(|q| (lg(q.mean_lines), q.timing.bases_per_sec))
                    .collect(),
            )],
        )?;
        let pc = &s.paced;
        let share = |q: &crate::report::Point| q.load_share.unwrap_or(0.0) * 100.0;
        panel(
            &p[3],
            "latency under paced load",
            "share of the measured maximum",
            "ms, publish to status",
            &pct,
            &[
                (
                    "p50",
                    BLUE,
                    pc.iter().map(|q| (share(q), q.timing.p50_ms)).collect(),
                ),
                (
                    "p99",
                    RED,
                    pc.iter().map(|q| (share(q), q.timing.p99_ms)).collect(),
                ),
            ],
        )?;
        root.present().map_err(err)?;
    }
    let file = std::fs::File::create(path).map_err(err)?;
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), W, H);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header()
        .and_then(|mut w| w.write_image_data(&buf))
        .map_err(err)
}

fn panel(
    area: &Area,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    x_fmt: &dyn Fn(&f64) -> String,
    series: &[Series],
) -> Result<(), String> {
    let pts = series.iter().flat_map(|s| s.2.iter());
    let (mut x0, mut x1, mut y1) = (f64::MAX, f64::MIN, 0f64);
    for &(x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y1 = y1.max(y);
    }
    if x0 > x1 {
        return Ok(());
    }
    let pad = ((x1 - x0) * 0.08).max(0.1);
    let mut chart = ChartBuilder::on(area)
        .caption(title, ("sans-serif", 22))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d((x0 - pad)..(x1 + pad), 0f64..(y1 * 1.2).max(1.0))
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(x_fmt)
        .label_style(("sans-serif", 16))
        .draw()
        .map_err(err)?;
    for (name, color, pts) in series {
        let c = *color;
        chart
            .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
            .map_err(err)?
            .label(*name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
        chart
            .draw_series(pts.iter().map(|p| Circle::new(*p, 5, c.filled())))
            .map_err(err)?;
    }
    chart
        .configure_series_labels()
        .label_font(("sans-serif", 16))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}
