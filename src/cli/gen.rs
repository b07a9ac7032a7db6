//! `invoice-hub gen`: writes a directory of synthetic invoice bases, a manifest describing each
//! one and the list of patients with protected identity, the same bytes for the same options
//! however many threads write them.

use crate::cli::output::say;
use std::collections::{BTreeMap, HashSet};
use std::io::{BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use anyhow::{bail, Context};
use chrono::NaiveDate;

use crate::synth::{
    GenOptions, Generated, Generator, MANIFEST_FILE, MAX_DOCUMENTS, PROTECTED_FILE,
};

#[derive(clap::Args, Debug)]
#[command(after_help = "What you get in DIR:\n  \
NNNNNN-<id>.xml            one ProcessClaimSpecification per file (NNNNNN = position in the run)\n  \
manifest.jsonl             one JSON object per file: file, id, sender, receiver, type (380/381),\n                             \
lines, patients, bytes, injected_rule (null = must be valid), credits\n                             \
(the basis a credit note credits) and features (psychiatry, abortion,\n                             \
reduced_fee_03, primary_care, asylum, protected_identity, inpatient,\n                             \
outpatient, drg_pricing, patient_specific_pricing, credit_note,\n                             \
patient_id_kinds)\n  \
protected-identities.txt   ids of the patients marked as having protected identity, one per line\n\n\
The same --seed (and the same other options) gives byte-identical files whatever --jobs is, and\n\
--count 10 gives the first 10 files of --count 1000. Documents are issued in --month (default:\n\
the last full month before today) and never dated after today.\n\n\
Examples:\n  \
invoice-hub gen --count 1000 --seed 7 --out bases/\n  \
invoice-hub gen --count 200 --seed 7 --invalid-rate 0.2 --out broken/   # 1 in 5 breaks one rule\n  \
invoice-hub gen --count 1 --seed 1 --lines 100 --out big/                # exactly 100 lines\n  \
invoice-hub gen --count 5000 --seed 2026 --month 2026-10 --today 20261123 --out oct/\n  \
invoice-hub validate bases/                                              # then check them")]
pub(super) struct Args {
    /// How many documents to write (1 to 999999).
    #[arg(long, value_name = "N")]
    pub count: u64,

    /// Seed of the run: the same seed gives the same documents.
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub seed: u64,

    /// Output directory (created; must be empty unless --force).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,

    /// Share of documents (0 to 1) that break exactly one known rule, named in the manifest.
    #[arg(long, value_name = "R", default_value_t = 0.0)]
    pub invalid_rate: f64,

    /// healthcarePerformed lines per document: MIN-MAX, or N for exactly N. Most documents
    /// are small; a few reach MAX.
    #[arg(long, value_name = "MIN-MAX", default_value = "1-100", value_parser = parse_lines)]
    pub lines: (u32, u32),

    /// Month the documents are issued in, YYYY-MM (default: the last full month before today).
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_month)]
    pub month: Option<NaiveDate>,

    /// The date to treat as today, YYYYMMDD (no date is later; an injected ÖR2 violation is
    /// after it). Give it together with --month for output that does not change with the date.
    #[arg(long, value_name = "YYYYMMDD", value_parser = parse_day)]
    pub today: Option<NaiveDate>,

    /// Worker threads (default: the number of CPUs). Does not change the output.
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Only bases between these regions (county codes or organisation numbers, e.g. 01,13,14);
    /// default all 21.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub regions: Vec<String>,

    /// Write into a non-empty DIR, replacing files an earlier `gen` wrote there.
    #[arg(long)]
    pub force: bool,
}

fn parse_lines(s: &str) -> Result<(u32, u32), String> {
    let num = |p: &str| {
        p.trim()
            .parse::<u32>()
            .map_err(|_| format!("'{s}' is not MIN-MAX or N (whole numbers, e.g. 1-100 or 10)"))
    };
    let (lo, hi) = match s.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let n = num(s)?;
            (n, n)
        }
    };
    if lo == 0 || lo > hi || hi > 1000 {
        return Err(format!(
            "'{s}': need 1 <= MIN <= MAX <= 1000 lines per document"
        ));
    }
    Ok((lo, hi))
}

fn parse_month(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(&format!("{s}-01"), "%Y-%m-%d")
        .ok()
        .filter(|_| s.len() == 7)
        .ok_or_else(|| format!("'{s}' is not a month YYYY-MM (e.g. 2026-10)"))
}

fn parse_day(s: &str) -> Result<NaiveDate, String> {
    crate::claim::lexical::date(s).ok_or_else(|| format!("'{s}' is not a date YYYYMMDD"))
}

#[expect(
    clippy::too_many_lines,
    reason = "the command's steps in order (options, generation with progress, manifest, summary), each a few lines"
)]
pub(super) fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.count == 0 || args.count > MAX_DOCUMENTS {
        bail!(
            "--count {}: give 1 to {MAX_DOCUMENTS} documents (the basis id has a six-digit counter)",
            args.count
        );
    }
    if !(0.0..=1.0).contains(&args.invalid_rate) {
        bail!(
            "--invalid-rate {}: give a share between 0 and 1 (0.2 = one document in five)",
            args.invalid_rate
        );
    }
    if args.jobs == Some(0) {
        bail!("--jobs 0: give at least one worker thread");
    }
    let today = args.today.unwrap_or_else(crate::clock::today);
    let mut opts = GenOptions::new(args.seed, today);
    opts.invalid_rate = args.invalid_rate;
    opts.lines = args.lines.0..=args.lines.1;
    for r in &args.regions {
        let region = crate::claim::regions::region(r.trim()).ok_or_else(|| {
            anyhow::anyhow!(
                "--regions: '{r}' is not a county code (01–25) or a region's organisation number"
            )
        })?;
        if !opts.regions.contains(&region) {
            opts.regions.push(region);
        }
    }
    if let Some(m) = args.month {
        opts.month = m;
    }
    let generator = Generator::new(opts).map_err(|e| anyhow::anyhow!("{e}"))?;
    prepare_dir(&args.out, args.force)?;

    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .min(args.count as usize)
        .max(1);
    let started = Instant::now();
    let progress = std::io::stderr().is_terminal().then(|| {
        let pb = indicatif::ProgressBar::new(args.count);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} documents  {msg}  {per_sec}  eta {eta}",
            )
            .expect("template"),
        );
        pb
    });

    let next = AtomicU64::new(0);
    let (tx, rx) = mpsc::sync_channel::<anyhow::Result<Generated>>(jobs * 4);
    let mut entries: Vec<Option<Generated>> = Vec::new();
    entries.resize_with(args.count as usize, || None);
    let mut first_error = None;
    std::thread::scope(|s| {
        for _ in 0..jobs {
            let tx = tx.clone();
            let (next, generator, out) = (&next, &generator, &args.out);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= args.count {
                    break;
                }
                let mut g = generator.generate(i);
                let path = out.join(&g.file_name);
                let written = std::fs::write(&path, &g.xml)
                    .with_context(|| format!("cannot write {}", path.display()))
                    .map(|()| {
                        // The manifest needs the bytes' size only; keep memory flat.
                        g.xml = Vec::new();
                        g
                    });
                let failed = written.is_err();
                if tx.send(written).is_err() || failed {
                    break;
                }
            });
        }
        drop(tx);
        let mut bytes = 0u64;
        for r in rx {
            match r {
                Ok(g) => {
                    bytes += g.entry.bytes;
                    if let Some(pb) = &progress {
                        pb.inc(1);
                        pb.set_message(format!("{:.1} MB", bytes as f64 / 1e6));
                    }
                    let i = g.entry.index as usize;
                    entries[i] = Some(g);
                }
                Err(e) => {
                    // Stop the workers: nothing more is handed out.
                    next.store(args.count, Ordering::Relaxed);
                    first_error.get_or_insert(e);
                }
            }
        }
    });
    if let Some(pb) = &progress {
        pb.finish_and_clear();
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let generated: Vec<Generated> = entries
        .into_iter()
        .map(|e| e.expect("every index"))
        .collect();
    write_manifest(&args.out, &generated)?;
    let protected = write_protected(&args.out, &generated)?;
    print_summary(&args, &generated, protected, started.elapsed())?;
    Ok(ExitCode::SUCCESS)
}

/// Creates DIR, or checks it may be written into: empty, or (with --force) holding only what
/// an earlier `gen` wrote, which is removed first.
fn prepare_dir(dir: &Path, force: bool) -> anyhow::Result<()> {
    if !dir.exists() {
        return std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create output directory {}", dir.display()));
    }
    if !dir.is_dir() {
        bail!("--out {}: exists and is not a directory", dir.display());
    }
    let mut ours = Vec::new();
    let mut others = 0usize;
    for e in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let e = e.with_context(|| format!("cannot read {}", dir.display()))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if is_generated_name(&name) {
            ours.push(e.path());
        } else {
            others += 1;
        }
    }
    if ours.is_empty() && others == 0 {
        return Ok(());
    }
    if !force {
        bail!(
            "--out {}: the directory is not empty; give an empty or new directory, or --force to \
             replace what an earlier `invoice-hub gen` wrote there",
            dir.display()
        );
    }
    if others > 0 {
        bail!(
            "--out {}: holds {others} file(s) `invoice-hub gen` did not write; refusing to mix \
             them with generated documents even with --force",
            dir.display()
        );
    }
    for p in ours {
        std::fs::remove_file(&p).with_context(|| format!("cannot remove {}", p.display()))?;
    }
    Ok(())
}

fn is_generated_name(name: &str) -> bool {
    if name == MANIFEST_FILE || name == PROTECTED_FILE {
        return true;
    }
    let b = name.as_bytes();
    name.ends_with(".xml") && b.len() > 11 && b[..6].iter().all(u8::is_ascii_digit) && b[6] == b'-'
}

fn write_manifest(dir: &Path, docs: &[Generated]) -> anyhow::Result<()> {
    let path = dir.join(MANIFEST_FILE);
    let f = std::fs::File::create(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    let mut w = BufWriter::new(f);
    for d in docs {
        serde_json::to_writer(&mut w, &d.entry)?;
        w.write_all(b"\n")?;
    }
    w.flush()
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Writes the protected ids, each once, in the order they first appear. Returns how many.
fn write_protected(dir: &Path, docs: &[Generated]) -> anyhow::Result<usize> {
    let path = dir.join(PROTECTED_FILE);
    let mut seen = HashSet::new();
    let mut out = String::new();
    for id in docs.iter().flat_map(|d| d.protected_ids.iter()) {
        if seen.insert(id.as_str()) {
            out.push_str(id);
            out.push('\n');
        }
    }
    std::fs::write(&path, out).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(seen.len())
}

fn print_summary(
    args: &Args,
    docs: &[Generated],
    protected: usize,
    elapsed: std::time::Duration,
) -> std::io::Result<()> {
    let bytes: u64 = docs.iter().map(|d| d.entry.bytes).sum();
    let lines: u64 = docs.iter().map(|d| u64::from(d.entry.lines)).sum();
    let credit = docs
        .iter()
        .filter(|d| d.entry.type_of_invoice == "381")
        .count();
    let mut per_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for d in docs {
        if let Some(r) = &d.entry.injected_rule {
            *per_rule.entry(r.as_str()).or_default() += 1;
        }
    }
    let invalid: usize = per_rule.values().sum();
    say!(
        "wrote {} documents ({credit} credit notes, {lines} lines, {:.1} MB) to {} in {:.1} s",
        docs.len(),
        bytes as f64 / 1e6,
        args.out.display(),
        elapsed.as_secs_f64()
    );
    say!(
        "{} patient id(s) with protected identity in {}",
        protected,
        PROTECTED_FILE
    );
    if invalid == 0 {
        say!("invalid on purpose: none (every document must pass `invoice-hub validate`)");
    } else {
        let list: Vec<String> = per_rule.iter().map(|(r, n)| format!("{r} {n}")).collect();
        say!(
            "invalid on purpose: {invalid} ({} rules): {}",
            per_rule.len(),
            list.join(", ")
        );
    }
    say!("manifest: {}", args.out.join(MANIFEST_FILE).display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_argument() {
        assert_eq!(parse_lines("1-100"), Ok((1, 100)));
        assert_eq!(parse_lines("10"), Ok((10, 10)));
        assert!(parse_lines("0-3").is_err());
        assert!(parse_lines("5-2").is_err());
        assert!(parse_lines("a-b").is_err());
        assert!(parse_lines("1-5000").is_err());
    }

    #[test]
    fn month_argument() {
        assert_eq!(
            parse_month("2026-10"),
            Ok(NaiveDate::from_ymd_opt(2026, 10, 1).unwrap())
        );
        assert!(parse_month("2026-13").is_err());
        assert!(parse_month("202610").is_err());
        assert!(parse_month("2026-1").is_err());
    }

    #[test]
    fn generated_names() {
        assert!(is_generated_name("000001-ZVF23210000162610000002.xml"));
        assert!(is_generated_name("manifest.jsonl"));
        assert!(!is_generated_name("notes.txt"));
        assert!(!is_generated_name("basis.xml"));
    }
}
