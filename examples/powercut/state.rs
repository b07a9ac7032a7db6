//! What must hold after every power cut, read from the disk as it survived (the log, opened with
//! the hub down) and from the stores (started again): what was acknowledged is there.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use crate::check::{list_store, read_log, verify_access_log, Breaches};

pub(crate) struct AfterCut<'a> {
    pub log_dir: &'a Path,
    pub log_key: &'a Path,
    pub pki: &'a Path,
    /// org → store URL.
    pub stores: &'a BTreeMap<String, String>,
    /// Bases the senders got OK for so far → the receiver the answer names.
    pub seen: &'a BTreeMap<String, String>,
}

/// One cut's findings.
#[derive(Default)]
pub(crate) struct CutCheck {
    pub ok_answered: usize,
    pub log_entries: u64,
    pub stored: usize,
    /// Answered OK, but missing from the log or from the receiver's store.
    pub lost: Vec<String>,
    /// In a store without a disclosure to that store in the log.
    pub without_log: Vec<String>,
    /// The log or an access log that does not open or verify.
    pub broken: Vec<String>,
}

impl CutCheck {
    pub(crate) fn summary(&self) -> String {
        let mut s = format!(
            "log opens with {} entries; {} bases answered OK so far, {} lost; stores hold {}, {} without a log entry; {} broken",
            self.log_entries,
            self.ok_answered,
            self.lost.len(),
            self.stored,
            self.without_log.len(),
            self.broken.len()
        );
        if let Some(b) = self.broken.first() {
            s.push_str(&format!(" ({b})"));
        }
        s
    }
}

pub(crate) fn check_after_cut(a: &AfterCut) -> anyhow::Result<CutCheck> {
    let mut c = CutCheck {
        ok_answered: a.seen.len(),
        ..Default::default()
    };
    // A log that does not open holds nothing: everything answered OK is then lost.
    let logged = match read_log(a.log_dir, a.log_key) {
        Ok(read) => {
            c.log_entries = read.entries;
            c.broken.extend(read.problems);
            read.logged
        }
        Err(e) => {
            c.broken
                .push(format!("the disclosure log does not open: {e:#}"));
            HashMap::new()
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut held: BTreeMap<&str, HashMap<String, String>> = BTreeMap::new();
    for (org, url) in a.stores {
        let items = rt.block_on(list_store(url, a.pki, org))?;
        c.stored += items.len();
        for (id, sha) in &items {
            let ok = logged
                .get(id)
                .and_then(|l| l.disclosure())
                .is_some_and(|(r, s)| r == org && s == sha);
            if !ok {
                c.without_log.push(format!(
                    "store {org} holds basis {id} without a disclosure of that content to it in the log"
                ));
            }
        }
        held.insert(org, items.into_iter().collect());
        if !rt
            .block_on(verify_access_log(url, a.pki, org))
            .unwrap_or(false)
        {
            c.broken
                .push(format!("store {org}: its access log does not verify"));
        }
    }
    for (id, receiver) in a.seen {
        let l = logged.get(id);
        let events = l.map_or((0, false, 0), |l| {
            (l.n("received"), l.disclosure().is_some(), l.n("delivered"))
        });
        let Some((to, sha)) = l
            .and_then(|l| l.disclosure())
            .filter(|_| events.0 > 0 && events.2 > 0)
        else {
            c.lost.push(format!(
                "basis {id}: answered OK, but the log has received={} disclosed={} delivered={}",
                events.0, events.1, events.2
            ));
            continue;
        };
        if to != receiver {
            c.lost.push(format!(
                "basis {id}: answered OK to {receiver}, logged for {to}"
            ));
        }
        match held.get(to).and_then(|h| h.get(id)) {
            Some(s) if s == sha => {}
            Some(_) => c
                .lost
                .push(format!("basis {id}: store {to} holds other content")),
            None => c.lost.push(format!(
                "basis {id}: answered OK, but store {to} does not hold it"
            )),
        }
    }
    Ok(c)
}

/// Every cut's findings, added up; each loss a breach naming the cut.
#[derive(Default)]
pub(crate) struct CutTally {
    pub lost: usize,
    pub without_log: usize,
    pub cuts: usize,
    pub min_entries: Option<u64>,
}

impl CutTally {
    pub(crate) fn add(&mut self, c: &CutCheck, cut: usize, b: &mut Breaches) {
        self.cuts += 1;
        self.lost += c.lost.len();
        self.without_log += c.without_log.len();
        self.min_entries = Some(
            self.min_entries
                .map_or(c.log_entries, |m| m.min(c.log_entries)),
        );
        // What is broken first: it explains the losses that follow.
        for what in c.broken.iter().chain(&c.without_log).chain(&c.lost) {
            b.add(format!("after cut {cut}: {what}"));
        }
    }

    pub(crate) fn figures(&self) -> String {
        format!(
            "{} cuts checked: {} acknowledged bases lost, {} stored without a log entry",
            self.cuts, self.lost, self.without_log
        )
    }
}
