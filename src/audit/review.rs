//! The periodic access review (HSLF-FS 2016:40 4 kap. 9 §: the care giver follows up access to
//! patient data systematically and regularly) over the `accessed` entries of the stores' access
//! logs: what each certificate identity read, reads outside office hours, an identity that read
//! many patients' bases, and bases someone read but never processed or disputed.
//!
//! Each of those is a question a reviewer follows up, not a verdict: staff read out of hours on
//! duty, and one person reads what a colleague processes. The report says who and what, so the
//! follow-up can ask the right person about the right basis.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Timelike, Weekday};
use serde::Serialize;

use super::{Entry, Event};

/// The actions that show or hand out a basis (the others change its state).
pub const READ_ACTIONS: [&str; 5] = ["get", "page", "print", "xml", "export"];
/// The actions that settle a basis.
pub const SETTLE_ACTIONS: [&str; 2] = ["processed", "disputed"];

/// What counts as unusual.
#[derive(Debug, Clone, Copy)]
pub struct ReviewOptions {
    /// Office hours, Swedish time: from this hour (inclusive) …
    pub office_from: u32,
    /// … to this hour (exclusive), Monday to Friday. Public holidays are not known here.
    pub office_to: u32,
    /// An identity that read at least this many patients' bases in the period is listed.
    pub many_patients: usize,
}

impl Default for ReviewOptions {
    fn default() -> Self {
        ReviewOptions {
            office_from: 7,
            office_to: 18,
            many_patients: 50,
        }
    }
}

/// One identity's reads in the period.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct IdentityReads {
    pub actor: String,
    /// Entries that showed or handed out a basis.
    pub reads: usize,
    pub bases: usize,
    /// Distinct patients (keyed hashes) on the bases read.
    pub patients: usize,
    /// Bases this identity marked processed or disputed.
    pub settled: usize,
    /// Entries per action (`page`, `print`, `processed`, …).
    pub actions: BTreeMap<String, usize>,
    pub first: String,
    pub last: String,
}

/// One access, as the report lists it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Access {
    /// The log (store) that holds the entry, and its sequence number there.
    pub log: String,
    pub seq: u64,
    pub actor: String,
    /// Swedish local time, `YYYY-MM-DD hh:mm (weekday)`.
    pub time: String,
    pub basis: String,
    pub action: String,
}

/// A basis an identity read but never processed or disputed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Unsettled {
    pub actor: String,
    pub basis: String,
    pub reads: usize,
    pub first_read: String,
}

/// The report.
#[derive(Debug, Clone, Serialize)]
pub struct ReviewReport {
    pub entries: usize,
    pub office_hours: String,
    pub per_identity: Vec<IdentityReads>,
    pub outside_office_hours: Vec<Access>,
    pub many_patients: Vec<IdentityReads>,
    pub many_patients_threshold: usize,
    pub read_never_settled: Vec<Unsettled>,
}

#[derive(Default)]
struct Tally {
    reads: usize,
    bases: BTreeSet<String>,
    patients: BTreeSet<String>,
    settled: BTreeSet<String>,
    actions: BTreeMap<String, usize>,
    first: String,
    last: String,
}

/// The report over `entries` (each with the id of the log that holds it), in any order; entries
/// that are not `accessed` are skipped.
pub fn review(entries: &[(String, Entry)], opts: &ReviewOptions) -> ReviewReport {
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let mut outside = Vec::new();
    // (actor, basis) → (reads, first read)
    let mut read: BTreeMap<(String, String), (usize, String)> = BTreeMap::new();
    let mut count = 0;
    for (log, e) in entries {
        let r = &e.record;
        if r.event != Event::Accessed {
            continue;
        }
        count += 1;
        let actor = r.actor.clone().unwrap_or_default();
        let action = r.action.clone().unwrap_or_default();
        let local = r.time.with_timezone(&crate::clock::SWEDEN);
        let when = local.format("%Y-%m-%d %H:%M (%a)").to_string();
        let t = tallies.entry(actor.clone()).or_default();
        if t.first.is_empty() {
            t.first = when.clone();
        }
        t.last = when.clone();
        *t.actions.entry(action.clone()).or_default() += 1;
        if SETTLE_ACTIONS.contains(&action.as_str()) {
            t.settled.insert(r.basis_id.clone());
        }
        if !READ_ACTIONS.contains(&action.as_str()) {
            continue;
        }
        t.reads += 1;
        t.bases.insert(r.basis_id.clone());
        t.patients.extend(r.patients.iter().map(|p| p.to_hex()));
        let slot = read.entry((actor.clone(), r.basis_id.clone()));
        slot.or_insert((0, when.clone())).0 += 1;
        let weekend = matches!(local.weekday(), Weekday::Sat | Weekday::Sun);
        if weekend || !(opts.office_from..opts.office_to).contains(&local.hour()) {
            outside.push(Access {
                log: log.clone(),
                seq: e.seq,
                actor,
                time: when,
                basis: r.basis_id.clone(),
                action,
            });
        }
    }
    finish(count, tallies, outside, read, opts)
}

fn finish(
    count: usize,
    tallies: BTreeMap<String, Tally>,
    outside: Vec<Access>,
    read: BTreeMap<(String, String), (usize, String)>,
    opts: &ReviewOptions,
) -> ReviewReport {
    let read_never_settled = read
        .into_iter()
        .filter(|((actor, basis), _)| !tallies[actor].settled.contains(basis))
        .map(|((actor, basis), (reads, first_read))| Unsettled {
            actor,
            basis,
            reads,
            first_read,
        })
        .collect();
    let per_identity: Vec<IdentityReads> = tallies
        .into_iter()
        .map(|(actor, t)| IdentityReads {
            actor,
            reads: t.reads,
            bases: t.bases.len(),
            patients: t.patients.len(),
            settled: t.settled.len(),
            actions: t.actions,
            first: t.first,
            last: t.last,
        })
        .collect();
    let mut many_patients: Vec<IdentityReads> = per_identity
        .iter()
        .filter(|i| i.patients >= opts.many_patients)
        .cloned()
        .collect();
    many_patients.sort_by_key(|i| std::cmp::Reverse(i.patients));
    ReviewReport {
        entries: count,
        office_hours: format!(
            "Monday–Friday {:02}:00–{:02}:00 Swedish time",
            opts.office_from, opts.office_to
        ),
        per_identity,
        outside_office_hours: outside,
        many_patients,
        many_patients_threshold: opts.many_patients,
        read_never_settled,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{PatientHash, Record};

    fn entry(
        seq: u64,
        at: &str,
        actor: &str,
        basis: &str,
        action: &str,
        patient: u8,
    ) -> (String, Entry) {
        let mut r = Record::new(
            chrono::DateTime::parse_from_rfc3339(at).unwrap().to_utc(),
            Event::Accessed,
            basis,
            "2321000255",
            "2321000016",
            "store-2321000016",
        );
        r.actor = Some(actor.into());
        r.action = Some(action.into());
        r.patients = vec![PatientHash([patient; 32])];
        ("store-2321000016".into(), Entry { seq, record: r })
    }

    #[test]
    fn the_report_finds_what_a_reviewer_follows_up() {
        let entries = vec![
            // Tuesday 09:00 Swedish time (08:00 UTC): office hours; read and processed.
            entry(0, "2026-12-01T08:00:00Z", "A", "B1", "page", 1),
            entry(1, "2026-12-01T08:05:00Z", "A", "B1", "processed", 1),
            // Tuesday 22:30 Swedish time: outside.
            entry(2, "2026-12-01T21:30:00Z", "A", "B2", "page", 2),
            // Saturday noon: outside; B read by someone who never settled it.
            entry(3, "2026-12-05T11:00:00Z", "B", "B1", "print", 1),
            entry(4, "2026-12-01T09:00:00Z", "B", "B3", "page", 3),
        ];
        let opts = ReviewOptions {
            many_patients: 2,
            ..Default::default()
        };
        let r = review(&entries, &opts);
        assert_eq!(r.entries, 5);
        let a = &r.per_identity[0];
        assert_eq!(
            (a.actor.as_str(), a.reads, a.bases, a.patients, a.settled),
            ("A", 2, 2, 2, 1)
        );
        assert_eq!(a.actions["processed"], 1);
        let outside: Vec<u64> = r.outside_office_hours.iter().map(|a| a.seq).collect();
        assert_eq!(outside, [2, 3]);
        assert!(
            r.outside_office_hours[1].time.ends_with("(Sat)"),
            "{:?}",
            r.outside_office_hours
        );
        let many: Vec<&str> = r.many_patients.iter().map(|i| i.actor.as_str()).collect();
        assert_eq!(many, ["A", "B"]);
        let unsettled: Vec<(&str, &str)> = r
            .read_never_settled
            .iter()
            .map(|u| (u.actor.as_str(), u.basis.as_str()))
            .collect();
        assert_eq!(unsettled, [("A", "B2"), ("B", "B1"), ("B", "B3")]);
    }
}
