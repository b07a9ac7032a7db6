//! Indexes for auditors' questions, so that a query reads only the entries it returns.
//!
//! One table per index; key = encoded value ‖ seq (big-endian), empty value. A prefix scan
//! lists the seqs with a value in order; a point lookup tells whether a given seq has it, which is
//! how several filters are intersected without reading records. Strings are length-prefixed so
//! that no value is a prefix of another; times are µs since the epoch with the sign bit flipped
//! so that byte order is time order.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::log::{index_table, AuditLog, ENTRIES};
use super::record::{Entry, Event, PatientHash};
use super::{AuditError, Result};
use crate::db::View;

/// The indexes, in tree order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    Basis = 0,
    Patient = 1,
    Sender = 2,
    Receiver = 3,
    Event = 4,
    Time = 5,
    Actor = 6,
}

impl IndexKind {
    pub const ALL: [IndexKind; 7] = [
        IndexKind::Basis,
        IndexKind::Patient,
        IndexKind::Sender,
        IndexKind::Receiver,
        IndexKind::Event,
        IndexKind::Time,
        IndexKind::Actor,
    ];

    /// The table's name.
    pub fn tree_name(self) -> &'static str {
        match self {
            IndexKind::Basis => "ix_basis",
            IndexKind::Patient => "ix_patient",
            IndexKind::Sender => "ix_sender",
            IndexKind::Receiver => "ix_receiver",
            IndexKind::Event => "ix_event",
            IndexKind::Time => "ix_time",
            IndexKind::Actor => "ix_actor",
        }
    }

    /// A human name for messages.
    pub fn name(self) -> &'static str {
        &self.tree_name()[3..]
    }
}

fn str_prefix(s: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + s.len() + 8);
    k.extend_from_slice(&(s.len() as u32).to_be_bytes());
    k.extend_from_slice(s.as_bytes());
    k
}

fn time_prefix(t: &DateTime<Utc>) -> Vec<u8> {
    ((t.timestamp_micros() as u64) ^ (1u64 << 63))
        .to_be_bytes()
        .to_vec()
}

fn with_seq(mut prefix: Vec<u8>, seq: u64) -> Vec<u8> {
    prefix.extend_from_slice(&seq.to_be_bytes());
    prefix
}

/// The seq at the end of an index key.
pub(crate) fn seq_of(key: &[u8]) -> Option<u64> {
    let n = key.len().checked_sub(8)?;
    Some(u64::from_be_bytes(key[n..].try_into().ok()?))
}

/// Every index key an entry must have (and no others).
pub fn keys_for(e: &Entry) -> Vec<(IndexKind, Vec<u8>)> {
    let r = &e.record;
    let mut out = vec![
        (IndexKind::Basis, with_seq(str_prefix(&r.basis_id), e.seq)),
        (IndexKind::Sender, with_seq(str_prefix(&r.sender), e.seq)),
        (
            IndexKind::Receiver,
            with_seq(str_prefix(&r.receiver), e.seq),
        ),
        (IndexKind::Event, with_seq(vec![r.event.code()], e.seq)),
        (IndexKind::Time, with_seq(time_prefix(&r.time), e.seq)),
    ];
    let mut patients = r.patients.clone();
    patients.sort();
    patients.dedup();
    for p in patients {
        out.push((IndexKind::Patient, with_seq(p.0.to_vec(), e.seq)));
    }
    if let Some(a) = &r.actor {
        out.push((IndexKind::Actor, with_seq(str_prefix(a), e.seq)));
    }
    out
}

/// What an auditor asks. Every given filter must hold; `from` is inclusive, `to` exclusive.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pub basis: Option<String>,
    pub patient: Option<PatientHash>,
    pub sender: Option<String>,
    pub receiver: Option<String>,
    pub actor: Option<String>,
    pub event: Option<Event>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Pagination cursor: only entries after this seq (in the result order).
    pub after: Option<u64>,
    /// At most this many entries (0 = no limit).
    pub limit: usize,
}

/// The answer to a [`Query`].
#[derive(Debug, Clone, Serialize)]
pub struct QueryResult {
    pub entries: Vec<Entry>,
    /// How many log entries were read to answer: equals `entries.len()` when the filters are
    /// all answered by indexes (time filters combined with others are checked on the entry).
    pub records_read: u64,
    /// Pass as `after` to get the next page; `None` when there is no more.
    pub next_after: Option<u64>,
}

impl Query {
    fn equality_filters(&self) -> Vec<(IndexKind, Vec<u8>)> {
        let mut f = Vec::new();
        if let Some(b) = &self.basis {
            f.push((IndexKind::Basis, str_prefix(b)));
        }
        if let Some(p) = &self.patient {
            f.push((IndexKind::Patient, p.0.to_vec()));
        }
        if let Some(a) = &self.actor {
            f.push((IndexKind::Actor, str_prefix(a)));
        }
        if let Some(s) = &self.sender {
            f.push((IndexKind::Sender, str_prefix(s)));
        }
        if let Some(r) = &self.receiver {
            f.push((IndexKind::Receiver, str_prefix(r)));
        }
        if let Some(e) = self.event {
            f.push((IndexKind::Event, vec![e.code()]));
        }
        f
    }

    fn time_ok(&self, e: &Entry) -> bool {
        self.from.is_none_or(|f| e.record.time >= f) && self.to.is_none_or(|t| e.record.time < t)
    }
}

impl AuditLog {
    /// Answer a query through the indexes. Results are in seq order, except a query with only a
    /// time range, which is answered in time order (seq breaks ties).
    pub fn query(&self, q: &Query) -> Result<QueryResult> {
        let limit = if q.limit == 0 { usize::MAX } else { q.limit };
        let mut res = QueryResult {
            entries: Vec::new(),
            records_read: 0,
            next_after: None,
        };
        let filters = q.equality_filters();
        let start_seq = q.after.map_or(0, |a| a.saturating_add(1));
        let snap = self.snapshot()?;
        let entries = snap.table(ENTRIES)?;
        if let Some(((drive_kind, drive_prefix), others)) = filters.split_first() {
            let tree = snap.table(index_table(*drive_kind))?;
            let others = others
                .iter()
                .map(|(kind, prefix)| Ok((snap.table(index_table(*kind))?, prefix)))
                .collect::<Result<Vec<_>>>()?;
            let start = with_seq(drive_prefix.clone(), start_seq);
            let end = with_seq(drive_prefix.clone(), u64::MAX);
            for kv in tree.range(start.as_slice()..=end.as_slice())? {
                let (k, _) = kv?;
                let seq = seq_of(&k).ok_or_else(|| AuditError::decode("index key", "short"))?;
                let mut all = true;
                for (index, prefix) in &others {
                    if !index.contains(&with_seq((*prefix).clone(), seq))? {
                        all = false;
                        break;
                    }
                }
                if !all {
                    continue;
                }
                let e = read_entry(&entries, seq, &mut res.records_read)?;
                if !q.time_ok(&e) {
                    continue;
                }
                if res.entries.len() == limit {
                    res.next_after = res.entries.last().map(|e| e.seq);
                    break;
                }
                res.entries.push(e);
            }
        } else if q.from.is_some() || q.to.is_some() {
            let tree = snap.table(index_table(IndexKind::Time))?;
            let mut start = q.from.map_or(vec![0u8; 8], |f| time_prefix(&f));
            start.extend_from_slice(&0u64.to_be_bytes());
            if let Some(a) = q.after {
                let prev = read_entry(&entries, a, &mut res.records_read)?;
                let resume = with_seq(time_prefix(&prev.record.time), a.saturating_add(1));
                if resume > start {
                    start = resume;
                }
            }
            let end =
                q.to.map_or(vec![0xff; 16], |t| with_seq(time_prefix(&t), 0));
            for kv in tree.range(start.as_slice()..end.as_slice())? {
                let (k, _) = kv?;
                let seq = seq_of(&k).ok_or_else(|| AuditError::decode("index key", "short"))?;
                if res.entries.len() == limit {
                    res.next_after = res.entries.last().map(|e| e.seq);
                    break;
                }
                res.entries
                    .push(read_entry(&entries, seq, &mut res.records_read)?);
            }
        } else {
            let start = start_seq.to_be_bytes();
            for kv in entries.range(&start[..]..)? {
                let (_, v) = kv?;
                if res.entries.len() == limit {
                    res.next_after = res.entries.last().map(|e| e.seq);
                    break;
                }
                res.records_read += 1;
                res.entries.push(Entry::decode(&v)?);
            }
        }
        Ok(res)
    }
}

/// The entry an index points at, from the query's snapshot (one read transaction per query,
/// not one per entry).
fn read_entry(entries: &View, seq: u64, counter: &mut u64) -> Result<Entry> {
    *counter += 1;
    let v = entries.get(&seq.to_be_bytes())?.ok_or_else(|| {
        AuditError::NotFound(format!(
            "an index points at entry {seq}, which is missing; run `invoice-hub audit verify`"
        ))
    })?;
    Entry::decode(&v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_keys_do_not_prefix_each_other_and_times_sort() {
        assert!(!str_prefix("B-1").starts_with(&str_prefix("B-")));
        let early = DateTime::from_timestamp(-10, 0).unwrap();
        let late = DateTime::from_timestamp(10, 0).unwrap();
        assert!(time_prefix(&early) < time_prefix(&late));
        assert_eq!(seq_of(&with_seq(vec![1, 2], 77)), Some(77));
    }
}
