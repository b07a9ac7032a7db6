//! The store's own database ([`crate::db`]): one record of metadata and one sealed body per
//! basis, in arrival order.
//!
//! Tables: `claims` (id → [`ClaimMeta`] JSON), `bodies` (id → AES-GCM sealed XML), `order`
//! (seq, big-endian → id, for listing in arrival order), `meta` (the next sequence number) and
//! `cases` (id → [`Case`] JSON, once staff have opened the basis), and for a sending region's
//! manual review `withheld` (id → [`Withheld`] JSON) and `withheld_bodies` (id → sealed XML).
//! A delivery writes all four in one transaction, so a crash leaves a basis either wholly there or
//! not at all, and the check "is this id already here, with which content" is atomic with the
//! insert: two deliveries of one id racing each other give one copy.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::db::{self, Db, Durability, Table, View};

use super::case::{Case, CaseState};
use super::commit::GroupCommit;
use super::withheld::{Decided, Withheld};
use super::StoreError;

/// What the store knows about a basis besides its body. Holds no patient data in clear: patients
/// appear only as keyed hashes, for the access log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimMeta {
    pub id: String,
    /// Arrival order in this store, from 1.
    pub seq: u64,
    /// SHA-256 of the body as received, lowercase hex.
    pub sha256: String,
    /// RFC 3339 UTC, seconds.
    pub received_at: String,
    /// The supplier's (care-giving region's) organisation number.
    pub sender: String,
    pub size: u64,
    /// Keyed hashes (hex) of the patients on the basis.
    pub patients: Vec<String>,
    /// The invoice's number, the basis's issue date (YYYYMMDD), the payable amount as written
    /// and the number of care lines: what staff see in the list without opening (and so
    /// logging a read of) a basis. Absent on bases stored before 2026-12-03.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payable_amount: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lines: Option<u32>,
}

/// The answer to a delivery: what the hub logs as the store's receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub id: String,
    pub sha256: String,
    pub received_at: String,
    pub seq: u64,
}

impl ClaimMeta {
    pub fn receipt(&self) -> Receipt {
        Receipt {
            id: self.id.clone(),
            sha256: self.sha256.clone(),
            received_at: self.received_at.clone(),
            seq: self.seq,
        }
    }
}

/// How a delivery went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// Stored now (not yet durable: the caller commits before answering).
    Created(ClaimMeta),
    /// The same bytes were stored before: the original receipt stands.
    Same(ClaimMeta),
    /// Other bytes are stored under this id.
    Conflict(ClaimMeta),
}

/// A page of metadata.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub sender: Option<String>,
    /// Received at or after (RFC 3339 compares as text for the fixed UTC format stored).
    pub since: Option<String>,
    /// Received before.
    pub until: Option<String>,
    /// Only bases in this state.
    pub state: Option<CaseState>,
    /// Only bases after this seq.
    pub after: u64,
    pub limit: usize,
}

/// One basis in a list: its metadata and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub meta: ClaimMeta,
    pub case: Case,
}

#[derive(Debug, Clone)]
pub struct ListPage {
    pub items: Vec<Listed>,
    /// Pass as `after` for the next page.
    pub next_after: Option<u64>,
}

/// The claims database.
pub struct Storage {
    path: std::path::PathBuf,
    /// `Some` when concurrent deliveries share flushes ([`Storage::commit_blocking`]).
    group: Option<GroupCommit>,
    db: Db,
}

const CLAIMS: Table = db::table("claims");
const BODIES: Table = db::table("bodies");
const ORDER: Table = db::table("order");
const META: Table = db::table("meta");
const CASES: Table = db::table("cases");
const WITHHELD: Table = db::table("withheld");
const WITHHELD_BODIES: Table = db::table("withheld_bodies");

const NEXT_SEQ: &[u8] = b"next_seq";

impl Storage {
    pub fn open(dir: &Path) -> Result<Storage, StoreError> {
        Ok(Storage {
            db: Db::open(
                dir,
                &[
                    CLAIMS,
                    BODIES,
                    ORDER,
                    META,
                    CASES,
                    WITHHELD,
                    WITHHELD_BODIES,
                ],
            )?,
            path: dir.to_path_buf(),
            group: Some(GroupCommit::default()),
        })
    }

    /// `false`: every [`Storage::commit_blocking`] flushes by itself (no group commit).
    pub fn with_group_commit(mut self, on: bool) -> Storage {
        self.group = on.then(GroupCommit::default);
        self
    }

    /// A stored record that does not decode: the database was damaged or written by another
    /// program.
    fn damaged(&self, what: impl std::fmt::Display) -> StoreError {
        StoreError::Damaged {
            path: self.path.clone(),
            message: what.to_string(),
        }
    }

    /// Stores `sealed` under `meta.id` unless the id is taken; `meta.seq` is assigned here. The
    /// write is visible at once and durable after [`Storage::commit_blocking`]; the check for the
    /// id and the insert are one transaction, so two deliveries of one id give one copy.
    pub fn put(&self, meta: ClaimMeta, sealed: &[u8]) -> Result<PutOutcome, StoreError> {
        let id = meta.id.clone();
        let id = id.as_bytes();
        self.db.write(Durability::Deferred, |w| {
            if let Some(old) = w.get(CLAIMS, id)? {
                let old: ClaimMeta = serde_json::from_slice(&old).map_err(|e| self.damaged(e))?;
                return Ok(if old.sha256 == meta.sha256 {
                    PutOutcome::Same(old)
                } else {
                    PutOutcome::Conflict(old)
                });
            }
            let seq = match w.get(META, NEXT_SEQ)? {
                Some(v) => u64::from_be_bytes(
                    v.as_slice()
                        .try_into()
                        .map_err(|_| self.damaged("next_seq is not 8 bytes"))?,
                ),
                None => 1,
            };
            w.insert(META, NEXT_SEQ, &(seq + 1).to_be_bytes())?;
            let stored = ClaimMeta { seq, ..meta };
            let json = serde_json::to_vec(&stored).map_err(|e| self.damaged(e))?;
            w.insert(CLAIMS, id, &json)?;
            w.insert(BODIES, id, sealed)?;
            w.insert(ORDER, &seq.to_be_bytes(), id)?;
            Ok(PutOutcome::Created(stored))
        })
    }

    /// Makes everything written so far durable (blocking: call from a blocking thread).
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        Ok(self.db.flush()?)
    }

    /// Makes everything this thread wrote durable, sharing one flush with the deliveries that
    /// commit at the same time (group commit; blocking: call from a blocking thread).
    pub fn commit_blocking(&self) -> Result<(), StoreError> {
        match &self.group {
            Some(g) => g.commit(|| self.flush_blocking()),
            None => self.flush_blocking(),
        }
    }

    pub fn meta(&self, id: &str) -> Result<Option<ClaimMeta>, StoreError> {
        self.meta_in(&self.db.read()?.table(CLAIMS)?, id)
    }

    /// The metadata of `id` in `claims`, a table of a snapshot the caller already holds.
    fn meta_in(&self, claims: &View, id: &str) -> Result<Option<ClaimMeta>, StoreError> {
        match claims.get(id.as_bytes())? {
            Some(v) => serde_json::from_slice(&v)
                .map(Some)
                .map_err(|e| self.damaged(e)),
            None => Ok(None),
        }
    }

    /// The metadata and the sealed body of a basis, from one snapshot.
    pub fn get(&self, id: &str) -> Result<Option<(ClaimMeta, Vec<u8>)>, StoreError> {
        let snap = self.db.read()?;
        let Some(meta) = self.meta_in(&snap.table(CLAIMS)?, id)? else {
            return Ok(None);
        };
        let body = snap
            .table(BODIES)?
            .get(id.as_bytes())?
            .ok_or_else(|| self.damaged(format!("basis {id} has metadata but no body")))?;
        Ok(Some((meta, body)))
    }

    /// Metadata in arrival order, filtered, one page.
    pub fn list(&self, q: &ListQuery) -> Result<ListPage, StoreError> {
        let limit = q.limit.max(1);
        let mut items = Vec::new();
        let start = q.after.saturating_add(1).to_be_bytes();
        let mut more = false;
        let snap = self.db.read()?;
        let (order, claims) = (snap.table(ORDER)?, snap.table(CLAIMS)?);
        let cases = snap.table(CASES)?;
        for kv in order.range(&start[..]..)? {
            let (_, id) = kv?;
            let id = String::from_utf8_lossy(&id).into_owned();
            let Some(m) = self.meta_in(&claims, &id)? else {
                continue;
            };
            let keep = q.sender.as_deref().is_none_or(|s| m.sender == s)
                && q.since
                    .as_deref()
                    .is_none_or(|s| m.received_at.as_str() >= s)
                && q.until
                    .as_deref()
                    .is_none_or(|u| m.received_at.as_str() < u);
            if !keep {
                continue;
            }
            let case = self.case_in(&cases, &id)?;
            if q.state.is_some_and(|s| case.state != s) {
                continue;
            }
            if items.len() == limit {
                more = true;
                break;
            }
            items.push(Listed { meta: m, case });
        }
        let next_after = if more {
            items.last().map(|l| l.meta.seq)
        } else {
            None
        };
        Ok(ListPage { items, next_after })
    }

    /// Where basis `id` stands for the staff ([`CaseState::New`] until someone opens it).
    pub fn case(&self, id: &str) -> Result<Case, StoreError> {
        self.case_in(&self.db.read()?.table(CASES)?, id)
    }

    fn case_in(&self, cases: &View, id: &str) -> Result<Case, StoreError> {
        match cases.get(id.as_bytes())? {
            Some(v) => serde_json::from_slice(&v).map_err(|e| self.damaged(e)),
            None => Ok(Case::default()),
        }
    }

    /// Records (durably) where basis `id` now stands. `only_if_new`: leave a case that has
    /// moved on as it is (opening a processed basis does not make it "opened" again). Returns
    /// whether it changed.
    pub fn set_case(&self, id: &str, case: &Case, only_if_new: bool) -> Result<bool, StoreError> {
        let json = serde_json::to_vec(case).map_err(|e| self.damaged(e))?;
        self.db.write(Durability::Durable, |w| {
            if w.get(CLAIMS, id.as_bytes())?.is_none() {
                return Err(self.damaged(format!("no basis {id} to set the state of")));
            }
            if only_if_new && w.get(CASES, id.as_bytes())?.is_some() {
                return Ok(false);
            }
            w.insert(CASES, id.as_bytes(), &json)?;
            Ok(true)
        })
    }

    /// Puts a withheld basis in the review queue (durably), unless its id is there: the same
    /// content again is `Same`, other content `Conflict` (the old entry stays).
    pub fn put_withheld(&self, item: &Withheld, sealed: &[u8]) -> Result<PutOutcome, StoreError> {
        let id = item.meta.id.as_bytes();
        let json = serde_json::to_vec(item).map_err(|e| self.damaged(e))?;
        self.db.write(Durability::Durable, |w| {
            if let Some(old) = w.get(WITHHELD, id)? {
                let old: Withheld = serde_json::from_slice(&old).map_err(|e| self.damaged(e))?;
                return Ok(if old.meta.sha256 == item.meta.sha256 {
                    PutOutcome::Same(old.meta)
                } else {
                    PutOutcome::Conflict(old.meta)
                });
            }
            w.insert(WITHHELD, id, &json)?;
            w.insert(WITHHELD_BODIES, id, sealed)?;
            Ok(PutOutcome::Created(item.meta.clone()))
        })
    }

    /// A withheld basis and its sealed body.
    pub fn withheld(&self, id: &str) -> Result<Option<(Withheld, Vec<u8>)>, StoreError> {
        let snap = self.db.read()?;
        let Some(v) = snap.table(WITHHELD)?.get(id.as_bytes())? else {
            return Ok(None);
        };
        let item: Withheld = serde_json::from_slice(&v).map_err(|e| self.damaged(e))?;
        let body = snap
            .table(WITHHELD_BODIES)?
            .get(id.as_bytes())?
            .ok_or_else(|| self.damaged(format!("withheld basis {id} has no body")))?;
        Ok(Some((item, body)))
    }

    /// Every basis in the review queue, oldest first.
    pub fn list_withheld(&self) -> Result<Vec<Withheld>, StoreError> {
        let snap = self.db.read()?;
        let mut out = Vec::new();
        for kv in snap.table(WITHHELD)?.iter()? {
            let (_, v) = kv?;
            out.push(serde_json::from_slice::<Withheld>(&v).map_err(|e| self.damaged(e))?);
        }
        out.sort_by(|a, b| a.meta.received_at.cmp(&b.meta.received_at));
        Ok(out)
    }

    /// Records (durably) an official's decision on `id`, once: `Ok(None)` when there is no such
    /// basis, `Ok(Some(earlier))` when it was decided before (and stays as it was).
    pub fn decide_withheld(
        &self,
        id: &str,
        decided: &Decided,
    ) -> Result<Option<Option<Decided>>, StoreError> {
        self.update_withheld(id, |item| match &item.decided {
            Some(earlier) => (false, Some(earlier.clone())),
            None => {
                item.decided = Some(decided.clone());
                (true, None)
            }
        })
    }

    /// Marks the decision on `id` as logged by the hub; `Ok(None)` when there is no such basis.
    pub fn withheld_returned(&self, id: &str) -> Result<Option<()>, StoreError> {
        self.update_withheld(id, |item| {
            let changed = item.decided.is_some() && !item.returned;
            item.returned |= item.decided.is_some();
            (changed, ())
        })
    }

    /// Reads, changes (when `change` says so) and writes back one review entry in one
    /// transaction.
    fn update_withheld<T>(
        &self,
        id: &str,
        change: impl Fn(&mut Withheld) -> (bool, T),
    ) -> Result<Option<T>, StoreError> {
        self.db.write(Durability::Durable, |w| {
            let Some(v) = w.get(WITHHELD, id.as_bytes())? else {
                return Ok(None);
            };
            let mut item: Withheld = serde_json::from_slice(&v).map_err(|e| self.damaged(e))?;
            let (changed, out) = change(&mut item);
            if changed {
                let json = serde_json::to_vec(&item).map_err(|e| self.damaged(e))?;
                w.insert(WITHHELD, id.as_bytes(), &json)?;
            }
            Ok(Some(out))
        })
    }

    /// How many bases are stored.
    pub fn len(&self) -> Result<u64, StoreError> {
        Ok(self.db.read()?.table(CLAIMS)?.len()?)
    }

    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(id: &str, sha: &str, sender: &str, at: &str) -> ClaimMeta {
        ClaimMeta {
            id: id.into(),
            seq: 0,
            sha256: sha.into(),
            received_at: at.into(),
            sender: sender.into(),
            size: 1,
            patients: vec![],
            invoice_id: None,
            issue_date: None,
            payable_amount: None,
            lines: None,
        }
    }

    #[test]
    fn put_is_idempotent_per_content_and_conflicts_on_other_content() {
        let d = tempfile::tempdir().unwrap();
        let s = Storage::open(d.path()).unwrap();
        let a = meta("A", "aa", "2321000255", "2026-11-23T10:00:00Z");
        let PutOutcome::Created(first) = s.put(a.clone(), b"x").unwrap() else {
            panic!()
        };
        assert_eq!(first.seq, 1);
        let again = meta("A", "aa", "2321000255", "2026-11-23T11:00:00Z");
        assert_eq!(s.put(again, b"y").unwrap(), PutOutcome::Same(first.clone()));
        assert_eq!(
            s.put(meta("A", "bb", "x", "t"), b"z").unwrap(),
            PutOutcome::Conflict(first.clone())
        );
        assert_eq!(s.get("A").unwrap().unwrap().1, b"x");
        assert!(matches!(
            s.put(meta("B", "cc", "2321000016", "2026-11-23T12:00:00Z"), b"w")
                .unwrap(),
            PutOutcome::Created(ClaimMeta { seq: 2, .. })
        ));
        assert_eq!(s.len().unwrap(), 2);
    }

    #[test]
    fn list_pages_in_arrival_order_with_filters() {
        let d = tempfile::tempdir().unwrap();
        let s = Storage::open(d.path()).unwrap();
        for i in 0..5 {
            let sender = if i % 2 == 0 { "S1" } else { "S2" };
            s.put(
                meta(
                    &format!("id{i}"),
                    &format!("h{i}"),
                    sender,
                    &format!("2026-11-2{i}T00:00:00Z"),
                ),
                b"b",
            )
            .unwrap();
        }
        let p = s
            .list(&ListQuery {
                limit: 2,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            p.items.iter().map(|l| l.meta.seq).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(p.next_after, Some(2));
        let p = s
            .list(&ListQuery {
                limit: 2,
                after: 2,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            p.items.iter().map(|l| l.meta.seq).collect::<Vec<_>>(),
            [3, 4]
        );
        let p = s
            .list(&ListQuery {
                limit: 10,
                after: 4,
                ..Default::default()
            })
            .unwrap();
        assert_eq!((p.items.len(), p.next_after), (1, None));
        let p = s
            .list(&ListQuery {
                sender: Some("S1".into()),
                since: Some("2026-11-21".into()),
                until: Some("2026-11-24".into()),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            p.items
                .iter()
                .map(|l| l.meta.id.as_str())
                .collect::<Vec<_>>(),
            ["id2"]
        );
    }

    #[test]
    fn cases_are_kept_and_filter_the_list() {
        let d = tempfile::tempdir().unwrap();
        let s = Storage::open(d.path()).unwrap();
        for i in 1..=3 {
            let at = format!("2026-11-2{i}T00:00:00Z");
            s.put(meta(&format!("id{i}"), "h", "S1", &at), b"b")
                .unwrap();
        }
        let disputed = Case {
            state: CaseState::Disputed,
            by: Some("CN=x/serial=1".into()),
            at: Some("2026-12-03T10:00:00Z".into()),
            reason: Some("wrong price".into()),
        };
        assert!(s.set_case("id3", &disputed, false).unwrap());
        assert!(!s.set_case("id3", &Case::default(), true).unwrap());
        assert_eq!(s.case("id3").unwrap(), disputed);
        assert_eq!(s.case("id1").unwrap().state, CaseState::New);
        let p = s
            .list(&ListQuery {
                state: Some(CaseState::Disputed),
                limit: 10,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(p.items.len(), 1);
        assert_eq!(p.items[0].case, disputed);
        assert!(s.set_case("nope", &disputed, false).is_err());
    }
}
