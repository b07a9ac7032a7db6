//! The generator: realistic synthetic invoice bases, the same for the same seed.
//!
//! Why it exists: every other part (validation, policy, delivery, the disclosure log) needs
//! documents that look like a month of real inter-region traffic — all 21 regions, outpatient
//! and inpatient care, DRG and patient-specific pricing, credit notes, the sensitive cases
//! (psychiatry, abortion, contraception, protected identity, asylum seekers) — and tests need
//! documents that break one known rule and say which.
//!
//! Determinism: document `i` is built only from `(seed, i)` (ChaCha8 streams keyed by the
//! index), so the output does not depend on how many threads generate it, and the first 10
//! documents of `--count 1000` are the 10 documents of `--count 10`. A credit note refers to an
//! earlier document of the same run; it finds it by rebuilding that document from its own
//! `(seed, j)`, never by looking at what another thread produced.

mod amounts;
pub mod codes;
pub mod inject;
mod lines;
mod manifest;
pub mod people;

use std::ops::RangeInclusive;

use chrono::{Datelike, Duration, NaiveDate};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use crate::claim::regions::{Region, REGIONS};
use crate::claim::{Amount, ClaimSpecification, Contact, Party, Unspecified, II};
use codes::oid;
use lines::{BasisContext, Kind};
use people::Patient;

pub use manifest::{Features, ManifestEntry, MANIFEST_FILE, PROTECTED_FILE};
pub use people::IdKind;

/// The id's counter has six digits: at most this many documents per run.
pub const MAX_DOCUMENTS: u64 = 999_999;

/// Share of documents that are credit notes (when an earlier basis exists to credit).
const CREDIT_NOTE_SHARE: f64 = 0.05;
/// How far back a credit note looks for the basis it credits.
const CREDIT_LOOKBACK: u64 = 500;

/// What to generate. Everything that changes the output is here, so the same options give the
/// same bytes.
#[derive(Debug, Clone)]
pub struct GenOptions {
    pub seed: u64,
    /// Share of documents (0.0–1.0) that get exactly one known rule violation.
    pub invalid_rate: f64,
    /// healthcarePerformed lines per basis; most bases are small (skewed towards `start`).
    pub lines: RangeInclusive<u32>,
    /// First day of the month the bases are issued in.
    pub month: NaiveDate,
    /// No date is later than this (and ÖR2 is injected relative to it).
    pub today: NaiveDate,
    /// Suppliers and customers are drawn from these; empty means all 21 regions. A demo or a
    /// test with stores for a few regions generates traffic between those only.
    pub regions: Vec<&'static Region>,
}

/// Options the generator refuses, with what to do instead.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GenError {
    #[error("invalid rate {0} is not between 0 and 1")]
    InvalidRate(f64),
    #[error("lines {0}-{1}: need 1 <= MIN <= MAX <= 1000")]
    Lines(u32, u32),
    #[error("month {0} starts after today ({1}): bases cannot be issued in the future")]
    MonthInFuture(String, NaiveDate),
    #[error("month {0} is before 1990: the generator makes recent bases")]
    MonthTooEarly(String),
    #[error("{0} region(s) given: bases go between two different regions, so give at least two")]
    TooFewRegions(usize),
}

impl GenOptions {
    /// Defaults for `seed`: valid documents of 1–100 lines issued in the last full month before
    /// `today`.
    pub fn new(seed: u64, today: NaiveDate) -> GenOptions {
        GenOptions {
            seed,
            invalid_rate: 0.0,
            lines: 1..=100,
            month: last_full_month(today),
            today,
            regions: Vec::new(),
        }
    }

    pub fn validate(&self) -> Result<(), GenError> {
        if !(0.0..=1.0).contains(&self.invalid_rate) {
            return Err(GenError::InvalidRate(self.invalid_rate));
        }
        let (lo, hi) = (*self.lines.start(), *self.lines.end());
        if lo == 0 || lo > hi || hi > 1000 {
            return Err(GenError::Lines(lo, hi));
        }
        let month = self.month.format("%Y-%m").to_string();
        if self.month.with_day(1).expect("day 1") > self.today {
            return Err(GenError::MonthInFuture(month, self.today));
        }
        if self.month.year() < 1990 {
            return Err(GenError::MonthTooEarly(month));
        }
        if self.regions.len() == 1 {
            return Err(GenError::TooFewRegions(1));
        }
        Ok(())
    }
}

/// The first day of the last month that ended before `today`.
pub fn last_full_month(today: NaiveDate) -> NaiveDate {
    let first = today.with_day(1).expect("day 1");
    (first - Duration::days(1)).with_day(1).expect("day 1")
}

/// One generated document.
#[derive(Debug, Clone)]
pub struct Generated {
    pub file_name: String,
    pub xml: Vec<u8>,
    pub entry: ManifestEntry,
    /// Ids of the patients on this basis marked as having protected identity.
    pub protected_ids: Vec<String>,
}

/// Builds documents for one set of options. Cheap to share between threads (`&self` only).
#[derive(Debug, Clone)]
pub struct Generator {
    opts: GenOptions,
    month_end: NaiveDate,
}

/// Independent random streams of one document, so deciding "is document j a credit note" or
/// "is it invalid" does not require building it.
#[derive(Clone, Copy)]
enum Stream {
    Kind = 0,
    Inject = 1,
    Body = 2,
}

/// A basis before it is written, with what the manifest needs and XML does not carry.
struct Built {
    claim: ClaimSpecification,
    /// Who sends it and who receives it, as generated (an injected violation may spoil the
    /// organisation numbers in the document itself).
    sender: &'static str,
    receiver: &'static str,
    lines: u32,
    protected_ids: Vec<String>,
    credits: Option<String>,
}

impl Generator {
    pub fn new(opts: GenOptions) -> Result<Generator, GenError> {
        opts.validate()?;
        let next = if opts.month.month() == 12 {
            NaiveDate::from_ymd_opt(opts.month.year() + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(opts.month.year(), opts.month.month() + 1, 1)
        }
        .expect("valid month");
        let month_end = (next - Duration::days(1)).min(opts.today);
        let opts = GenOptions {
            month: opts.month.with_day(1).expect("day 1"),
            ..opts
        };
        Ok(Generator { opts, month_end })
    }

    pub fn options(&self) -> &GenOptions {
        &self.opts
    }

    fn rng(&self, index: u64, stream: Stream) -> ChaCha8Rng {
        let mut r = ChaCha8Rng::seed_from_u64(self.opts.seed);
        r.set_stream(index.wrapping_mul(4).wrapping_add(stream as u64));
        r
    }

    /// Whether document `index` gets a violation, and which one to try first.
    fn injection(&self, index: u64) -> Option<usize> {
        if self.opts.invalid_rate <= 0.0 {
            return None;
        }
        let mut r = self.rng(index, Stream::Inject);
        r.gen_bool(self.opts.invalid_rate)
            .then(|| r.gen_range(0..inject::INJECTIONS.len()))
    }

    fn wants_credit_note(&self, index: u64) -> bool {
        index > 0 && self.rng(index, Stream::Kind).gen_bool(CREDIT_NOTE_SHARE)
    }

    /// The earlier invoice document `index` credits, if it is a credit note: a valid invoice
    /// (not itself a credit note, no injected violation) among the previous documents.
    fn credited(&self, index: u64) -> Option<u64> {
        if !self.wants_credit_note(index) {
            return None;
        }
        let mut r = self.rng(index, Stream::Kind);
        let _ = r.gen_bool(CREDIT_NOTE_SHARE);
        let back = index.min(CREDIT_LOOKBACK);
        (0..16).find_map(|_| {
            let j = index - 1 - r.gen_range(0..back);
            (!self.wants_credit_note(j) && self.injection(j).is_none()).then_some(j)
        })
    }

    /// Document `index` (0-based).
    ///
    /// # Panics
    /// If `index >= MAX_DOCUMENTS` (the id has a six-digit counter); the CLI refuses such
    /// counts before generating.
    pub fn generate(&self, index: u64) -> Generated {
        assert!(
            index < MAX_DOCUMENTS,
            "at most {MAX_DOCUMENTS} documents per run"
        );
        let mut built = match self.credited(index) {
            Some(j) => self.credit_note(index, j),
            None => self.invoice(index),
        };
        let injected = self.injection(index).map(|start| {
            let mut r = self.rng(index, Stream::Inject);
            let _ = r.gen_bool(self.opts.invalid_rate);
            let _ = r.gen_range(0..inject::INJECTIONS.len());
            inject::inject(
                &mut built.claim,
                start,
                &mut r,
                &inject::InjectContext {
                    today: self.opts.today,
                },
            )
        });
        let claim = &built.claim;
        let xml = claim.to_xml().into_bytes();
        let file_name = format!("{:06}-{}.xml", index, safe_file_part(&claim.id));
        let present: Vec<String> = built
            .protected_ids
            .iter()
            .filter(|id| {
                claim
                    .health_care_services_specification_line
                    .iter()
                    .any(|l| &l.patient_information.patient_identity.extension == *id)
            })
            .cloned()
            .collect();
        let entry = ManifestEntry {
            index,
            file: file_name.clone(),
            id: claim.id.clone(),
            sender: built.sender.into(),
            receiver: built.receiver.into(),
            type_of_invoice: claim.type_of_invoice.clone(),
            lines: built.lines,
            patients: claim.health_care_services_specification_line.len() as u32,
            bytes: xml.len() as u64,
            injected_rule: injected.map(Into::into),
            credits: built.credits.clone(),
            features: Features::of(claim, !present.is_empty()),
        };
        Generated {
            file_name,
            xml,
            entry,
            protected_ids: present,
        }
    }

    /// Supplier and customer of document `index`: any two different regions, the big ones
    /// more often.
    fn parties(&self, r: &mut ChaCha8Rng) -> (&'static Region, &'static Region) {
        let weight = |reg: &Region| match reg.county {
            "01" | "14" | "12" => 6,
            "03" | "05" | "06" | "13" | "18" | "19" | "20" | "21" | "24" => 3,
            _ => 2,
        };
        let all: Vec<&'static Region> = REGIONS.iter().collect();
        let pool = if self.opts.regions.is_empty() {
            &all
        } else {
            &self.opts.regions
        };
        let supplier = *pool.choose_weighted(r, |reg| weight(reg)).expect("regions");
        let customer = loop {
            let c = *pool.choose_weighted(r, |reg| weight(reg)).expect("regions");
            if c.org != supplier.org {
                break c;
            }
        };
        (supplier, customer)
    }

    /// How many healthcarePerformed lines: mostly a few, now and then up to the maximum.
    fn line_count(&self, r: &mut ChaCha8Rng) -> u32 {
        let (lo, hi) = (*self.opts.lines.start(), *self.opts.lines.end());
        if lo == hi {
            return lo;
        }
        let n = if r.gen_bool(0.95) {
            // Exponential with mean 3 above the minimum.
            let u: f64 = r.gen_range(f64::EPSILON..1.0);
            lo.saturating_add((-u.ln() * 3.0) as u32)
        } else {
            r.gen_range(lo..=hi)
        };
        n.min(hi)
    }

    fn issue_date(&self, r: &mut ChaCha8Rng, not_before: NaiveDate) -> NaiveDate {
        let from = self.opts.month.max(not_before);
        let span = (self.month_end - from).num_days().max(0);
        from + Duration::days(r.gen_range(0..=span))
    }

    fn id(&self, supplier: &Region, issue: NaiveDate, index: u64) -> String {
        format!(
            "ZVF{}{:02}{:02}{:06}",
            supplier.org,
            issue.year() % 100,
            issue.month(),
            index + 1
        )
    }

    /// Document `index` as an invoice (380), before any injected violation.
    #[expect(
        clippy::too_many_lines,
        reason = "a whole invoice built in the contract's element order"
    )]
    fn invoice(&self, index: u64) -> Built {
        let mut r = self.rng(index, Stream::Body);
        let (supplier, customer) = self.parties(&mut r);
        let issue = self.issue_date(&mut r, self.opts.month);
        let ctx = BasisContext {
            supplier,

            issue_date: issue,
            month_start: self.opts.month,
        };
        let total = self.line_count(&mut r);
        let mut lines = Vec::new();
        let mut protected_ids = Vec::new();
        let mut next_id = 1u32;
        while next_id <= total {
            let left = total - next_id + 1;
            let count = match r.gen_range(0..100) {
                0..=79 => 1,
                80..=94 => 2,
                _ => 3,
            }
            .min(left);
            let kind = Kind::draw(&mut r);
            let asylum = r.gen_bool(0.03);
            let patient = Patient::random(
                &mut r,
                customer.county,
                customer.org,
                asylum,
                kind.needs(),
                issue,
            );
            if patient.protected {
                protected_ids.push(patient.id.clone());
            }
            lines.push(lines::patient_line(
                &mut r, &ctx, &patient, kind, count, next_id,
            ));
            next_id += count;
        }
        let payable: Decimal = lines
            .iter()
            .flat_map(|l| l.healthcare_performed.iter())
            .map(|p| {
                p.invoiced_amount_details
                    .patient_care_invoice_net_amount
                    .value()
                    .expect("generated amount")
            })
            .sum();
        let claim = ClaimSpecification {
            id: self.id(supplier, issue, index),
            issue_date: fmt(issue),
            issue_time: r.gen_bool(0.6).then(|| {
                format!(
                    "{:02}{:02}{:02}",
                    r.gen_range(7..18),
                    r.gen_range(0..60),
                    r.gen_range(0..60)
                )
            }),
            type_of_invoice: "380".into(),
            invoice_id: Some(format!(
                "F{}-{:06}",
                issue.year(),
                r.gen_range(100_000..1_000_000)
            )),
            invoice_date_of_issue: Some(fmt(issue)),
            reference_to_invoice: None,
            reference_to_process_claim_specification_id: None,
            payable_amount: Amount::sek(payable),
            unspecified: if r.gen_bool(0.1) {
                vec![Unspecified {
                    text: "Utomlänsvård enligt Riksavtalet".into(),
                    r#type: Some("note".into()),
                    ..Default::default()
                }]
            } else {
                Vec::new()
            },
            supplier_party: party(&mut r, supplier, true),
            customer_party: party(&mut r, customer, false),
            health_care_services_specification_line: lines,
            ..Default::default()
        };
        Built {
            claim,
            sender: supplier.org,
            receiver: customer.org,
            lines: total,
            protected_ids,
            credits: None,
        }
    }

    /// Document `index` as a credit note (381) of document `original`: some of its lines again,
    /// each referring to the line it credits, with the reason.
    #[expect(
        clippy::too_many_lines,
        reason = "a whole credit note built in the contract's element order"
    )]
    fn credit_note(&self, index: u64, original: u64) -> Built {
        let orig = self.invoice(original);
        let mut r = self.rng(index, Stream::Body);
        let o = &orig.claim;
        let orig_issue = lexical_date(&o.issue_date);
        let issue = self.issue_date(&mut r, orig_issue);
        let want = self.line_count(&mut r).min(orig.lines);
        // Which of the original's lines to credit: `want` of them, in their original order.
        let mut all: Vec<(usize, usize)> = o
            .health_care_services_specification_line
            .iter()
            .enumerate()
            .flat_map(|(i, l)| (0..l.healthcare_performed.len()).map(move |j| (i, j)))
            .collect();
        all.shuffle(&mut r);
        all.truncate(want as usize);
        all.sort();
        let reason = r.gen_range(1..=9).to_string();
        let mut lines: Vec<crate::claim::HealthCareServicesSpecificationLine> = Vec::new();
        let mut last_patient = usize::MAX;
        for (n, &(i, j)) in all.iter().enumerate() {
            let ol = &o.health_care_services_specification_line[i];
            let mut p = ol.healthcare_performed[j].clone();
            p.reference_to_line_id = Some(p.line_id.clone());
            p.line_id = (n + 1).to_string();
            p.reason_for_credit = Some(reason.clone());
            if i != last_patient {
                lines.push(crate::claim::HealthCareServicesSpecificationLine {
                    patient_information: ol.patient_information.clone(),
                    healthcare_performed: Vec::new(),
                    ..Default::default()
                });
                last_patient = i;
            }
            lines
                .last_mut()
                .expect("pushed")
                .healthcare_performed
                .push(p);
        }
        let payable: Decimal = lines
            .iter()
            .flat_map(|l| l.healthcare_performed.iter())
            .map(|p| {
                p.invoiced_amount_details
                    .patient_care_invoice_net_amount
                    .value()
                    .expect("generated amount")
            })
            .sum();
        let supplier = crate::claim::regions::region(
            o.supplier_party.organisation_number().expect("generated"),
        )
        .expect("generated region");
        let protected_ids = orig
            .protected_ids
            .iter()
            .filter(|id| {
                lines
                    .iter()
                    .any(|l| &l.patient_information.patient_identity.extension == *id)
            })
            .cloned()
            .collect();
        let claim = ClaimSpecification {
            id: self.id(supplier, issue, index),
            issue_date: fmt(issue),
            issue_time: None,
            type_of_invoice: "381".into(),
            invoice_id: Some(format!(
                "K{}-{:06}",
                issue.year(),
                r.gen_range(100_000..1_000_000)
            )),
            invoice_date_of_issue: Some(fmt(issue)),
            reference_to_invoice: o.invoice_id.clone(),
            reference_to_process_claim_specification_id: Some(o.id.clone()),
            payable_amount: Amount::sek(payable),
            unspecified: Vec::new(),
            supplier_party: o.supplier_party.clone(),
            customer_party: o.customer_party.clone(),
            health_care_services_specification_line: lines,
            ..Default::default()
        };
        Built {
            claim,
            sender: orig.sender,
            receiver: orig.receiver,
            lines: want,
            protected_ids,
            credits: Some(o.id.clone()),
        }
    }
}

fn fmt(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

fn lexical_date(s: &str) -> NaiveDate {
    crate::claim::lexical::date(s).expect("generated date")
}

/// The id as part of a file name: an injected violation may have put anything in it.
fn safe_file_part(id: &str) -> String {
    id.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// A party: organisation number, now and then a GLN, and a contact for the invoicing office.
fn party(r: &mut ChaCha8Rng, region: &Region, supplier: bool) -> Party {
    let mut identification = vec![II {
        root: oid::ORG_NUMBER.into(),
        extension: region.org.into(),
        ..Default::default()
    }];
    if r.gen_bool(0.2) {
        identification.push(II {
            root: oid::GLN.into(),
            extension: gln(region),
            ..Default::default()
        });
    }
    let contact = r.gen_bool(0.5).then(|| Contact {
        name: Some(format!("Utomlänsfakturering {}", region.name)),
        telephone: r.gen_bool(0.5).then(|| {
            format!(
                "+46 {} {:03} {:02} {:02}",
                10 + r.gen_range(0..90),
                r.gen_range(0..1000),
                r.gen_range(0..100),
                r.gen_range(0..100)
            )
        }),
        electronic_mail: None,
        ..Default::default()
    });
    let (seller_contact, buyer_contact) = if supplier {
        (contact, None)
    } else {
        (None, contact)
    };
    Party {
        identification,
        seller_contact,
        buyer_contact,
        ..Default::default()
    }
}

/// A GLN (13 digits, GS1 check digit) for a region, stable per region.
fn gln(region: &Region) -> String {
    let body = format!("7350{}", &region.org[2..]);
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(seed: u64) -> GenOptions {
        GenOptions::new(seed, NaiveDate::from_ymd_opt(2026, 11, 23).unwrap())
    }

    #[test]
    fn last_full_month_is_the_month_before() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        assert_eq!(last_full_month(d(2026, 11, 23)), d(2026, 10, 1));
        assert_eq!(last_full_month(d(2026, 1, 1)), d(2025, 12, 1));
    }

    #[test]
    fn regions_restrict_suppliers_and_customers() {
        let mut o = opts(7);
        o.lines = 1..=2;
        o.regions = ["01", "13", "14"]
            .iter()
            .map(|c| crate::claim::regions::region(c).unwrap())
            .collect();
        let allowed: Vec<&str> = o.regions.iter().map(|r| r.org).collect();
        let g = Generator::new(o).unwrap();
        for i in 0..200 {
            let e = g.generate(i).entry;
            assert!(allowed.contains(&e.sender.as_str()), "{}", e.sender);
            assert!(allowed.contains(&e.receiver.as_str()), "{}", e.receiver);
            assert_ne!(e.sender, e.receiver);
        }
        let mut one = opts(7);
        one.regions = vec![crate::claim::regions::region("13").unwrap()];
        assert_eq!(Generator::new(one).unwrap_err(), GenError::TooFewRegions(1));
    }

    #[test]
    fn bad_options_are_refused() {
        let mut o = opts(1);
        o.invalid_rate = 1.5;
        assert_eq!(Generator::new(o).unwrap_err(), GenError::InvalidRate(1.5));
        let mut o = opts(1);
        #[allow(clippy::reversed_empty_ranges)]
        {
            o.lines = 5..=2;
        }
        assert!(matches!(Generator::new(o), Err(GenError::Lines(5, 2))));
        let mut o = opts(1);
        o.month = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert!(matches!(
            Generator::new(o),
            Err(GenError::MonthInFuture(..))
        ));
    }

    #[test]
    fn gln_has_13_digits_and_a_check_digit() {
        for r in REGIONS {
            let g = gln(&r);
            assert_eq!(g.len(), 13);
        }
        // GS1's example: 629104150021 → check digit 3.
        let sum: u32 = "629104150021"
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
            .sum();
        assert_eq!((10 - sum % 10) % 10, 3);
    }

    #[test]
    fn ids_are_unique_and_well_formed_and_credit_notes_refer_back() {
        let g = Generator::new(opts(42)).unwrap();
        let mut ids = std::collections::HashSet::new();
        let mut credit_notes = 0;
        for i in 0..300 {
            let d = g.generate(i);
            let id = &d.entry.id;
            assert_eq!(id.len(), 23, "{id}");
            assert!(id.starts_with(&format!("ZVF{}", d.entry.sender)), "{id}");
            assert!(ids.insert(id.clone()), "duplicate {id}");
            assert_ne!(d.entry.sender, d.entry.receiver);
            if let Some(orig) = &d.entry.credits {
                credit_notes += 1;
                assert!(
                    ids.contains(orig),
                    "{id} credits {orig}, not an earlier basis"
                );
                assert_eq!(d.entry.type_of_invoice, "381");
            }
        }
        assert!(credit_notes > 3, "{credit_notes} credit notes in 300");
    }

    #[test]
    fn line_counts_stay_in_range_and_are_mostly_small() {
        let mut o = opts(3);
        o.lines = 1..=100;
        let g = Generator::new(o).unwrap();
        let counts: Vec<u32> = (0..400).map(|i| g.generate(i).entry.lines).collect();
        assert!(counts.iter().all(|&n| (1..=100).contains(&n)));
        let small = counts.iter().filter(|&&n| n <= 5).count();
        assert!(small > 200, "{small} of 400 with at most 5 lines");
        assert!(counts.iter().any(|&n| n > 20));
        let mut o = opts(3);
        o.lines = 10..=10;
        let g = Generator::new(o).unwrap();
        assert!((0..50).all(|i| g.generate(i).entry.lines == 10));
    }
}
