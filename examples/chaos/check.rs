//! The end of a run: what the regions were told, what the disclosure log holds and what each
//! store holds must tell one story, once. Every disagreement is a breach, named with the basis.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use anyhow::Context;
use invoice_hub::audit::{AuditLog, Event, LogPublicKey, VerifyOptions};
use invoice_hub::broker::Outcome;
use invoice_hub::store::StoreClient;
use invoice_hub::synth::ManifestEntry;

use crate::observe::Seen;

/// Breaches, collected (not the first only), each a line naming what and where.
#[derive(Default)]
pub(crate) struct Breaches(pub Vec<String>);

impl Breaches {
    pub(crate) fn add(&mut self, what: impl Into<String>) {
        self.0.push(what.into());
    }
}

/// What the disclosure log says happened to one basis.
#[derive(Default, Debug)]
pub(crate) struct Logged {
    events: BTreeMap<&'static str, u32>,
    contents: BTreeSet<String>,
    pub receiver: String,
    /// `rejected` by the policy (it names one) rather than by validation.
    policy_rejected: bool,
    pub disclosed_sha256: Option<String>,
}

/// The disclosure log read whole: per basis what it holds, its size, and every problem found
/// (it does not verify against the deployment's key, an entry is missing).
pub(crate) struct LogRead {
    pub logged: HashMap<String, Logged>,
    pub entries: u64,
    pub problems: Vec<String>,
}

/// Opens the log in `log_dir`, verifies it against `log_key` and reads every entry.
pub(crate) fn read_log(log_dir: &Path, log_key: &Path) -> anyhow::Result<LogRead> {
    let log = AuditLog::open_existing(log_dir, None).context("opening the disclosure log")?;
    let key = LogPublicKey::load(log_key).context("the log's public key")?;
    let report = log.verify(&VerifyOptions {
        public_key: Some(key),
        saved_heads: Vec::new(),
    })?;
    let mut problems = Vec::new();
    if !report.ok() {
        problems.push(format!(
            "the disclosure log does not verify: {}",
            report.first().map(|p| p.to_string()).unwrap_or_default()
        ));
    }
    let mut logged: HashMap<String, Logged> = HashMap::new();
    for seq in 0..log.size() {
        let Some(e) = log.get(seq)? else {
            problems.push(format!("disclosure log entry {seq} is missing"));
            continue;
        };
        let r = e.record;
        let l = logged.entry(r.basis_id.clone()).or_default();
        *l.events.entry(r.event.as_str()).or_default() += 1;
        if let Some(sha) = r.received_sha256 {
            l.contents.insert(sha.to_hex());
        }
        l.receiver = r.receiver.clone();
        match r.event {
            Event::Rejected => l.policy_rejected = r.policy.is_some(),
            Event::Disclosed => l.disclosed_sha256 = r.disclosed_sha256.map(|d| d.to_hex()),
            _ => {}
        }
    }
    Ok(LogRead {
        logged,
        entries: log.size(),
        problems,
    })
}

impl Logged {
    /// How many entries of event `e` the basis has.
    pub(crate) fn n(&self, e: &str) -> u32 {
        self.events.get(e).copied().unwrap_or(0)
    }

    /// To whom, and which content, the basis was disclosed, when it was.
    #[allow(dead_code)] // make powercut's
    pub(crate) fn disclosure(&self) -> Option<(&str, &str)> {
        let sha = self.disclosed_sha256.as_deref()?;
        (self.n("disclosed") > 0).then_some((self.receiver.as_str(), sha))
    }

    /// The one final outcome the log records, or why there is not exactly one.
    fn outcome(&self) -> Result<Outcome, String> {
        let shape = |e: &BTreeMap<&str, u32>| format!("{e:?}");
        let finals = self.n("rejected") + self.n("withheld") + self.n("disclosed");
        if self.n("received") != 1 || finals != 1 || self.contents.len() != 1 {
            return Err(format!(
                "not exactly one received and one decision for one content: {} ({} contents)",
                shape(&self.events),
                self.contents.len()
            ));
        }
        if self.n("disclosed") == 1 {
            return match self.n("delivered") {
                1 => Ok(Outcome::Ok),
                n => Err(format!(
                    "disclosed but delivered {n} times: {}",
                    shape(&self.events)
                )),
            };
        }
        if self.n("delivered") != 0 {
            return Err(format!(
                "delivered without a disclosure: {}",
                shape(&self.events)
            ));
        }
        Ok(if self.n("withheld") == 1 {
            Outcome::Withheld
        } else if self.policy_rejected {
            Outcome::Rejected
        } else {
            Outcome::Error
        })
    }
}

/// The figures the checks produce.
#[derive(Default)]
pub(crate) struct Tally {
    pub outcomes: BTreeMap<String, u64>,
    pub log_entries: u64,
    pub stored: BTreeMap<String, usize>,
    pub repeated_statuses: u64,
    pub repeated_notices: u64,
    pub duplicates: u64,
    /// QUEUED statuses: bases handed over to a receiver whose delivery was held up.
    pub queued: u64,
}

pub(crate) struct Inputs<'a> {
    pub manifest: &'a [ManifestEntry],
    /// Bases whose publisher ended with every basis confirmed.
    pub confirmed: &'a BTreeSet<String>,
    pub seen: &'a Seen,
    pub log_dir: &'a Path,
    pub log_key: &'a Path,
    pub pki: &'a Path,
    /// org → store URL.
    pub stores: &'a BTreeMap<String, String>,
}

pub(crate) fn run(i: &Inputs, b: &mut Breaches) -> anyhow::Result<Tally> {
    let mut t = Tally::default();
    let manifest: HashMap<&str, &ManifestEntry> =
        i.manifest.iter().map(|m| (m.id.as_str(), m)).collect();

    // 1. The disclosure log verifies against the key the deployment trusts, and 2. per basis,
    //    exactly one received and one decision (and one delivery when disclosed).
    let read = read_log(i.log_dir, i.log_key)?;
    for p in read.problems {
        b.add(p);
    }
    t.log_entries = read.entries;
    let logged = read.logged;
    let mut final_outcome: HashMap<&str, Outcome> = HashMap::new();
    for (id, l) in &logged {
        if !manifest.contains_key(id.as_str()) {
            b.add(format!(
                "basis {id}: in the disclosure log but never generated"
            ));
            continue;
        }
        match l.outcome() {
            Ok(o) => {
                final_outcome.insert(id.as_str(), o);
            }
            Err(why) => {
                t.duplicates += 1;
                b.add(format!("basis {id}: disclosure log: {why}"));
            }
        }
    }

    // 3. Every confirmed basis has an answer, every answer for it says the same, and the log
    //    agrees with it.
    for id in i.confirmed {
        let Some(statuses) = i.seen.statuses.get(id) else {
            b.add(format!("basis {id}: confirmed, but no status ever came"));
            continue;
        };
        t.repeated_statuses += statuses.len() as u64 - 1;
        let first = &statuses[0];
        *t.outcomes.entry(first.outcome.to_string()).or_default() += 1;
        for s in &statuses[1..] {
            if s.outcome != first.outcome
                || s.receipt != first.receipt
                || s.receiver != first.receiver
            {
                b.add(format!(
                    "basis {id}: two different answers: {} then {}",
                    first.summary_line(),
                    s.summary_line()
                ));
            }
        }
        match final_outcome.get(id.as_str()) {
            None => b.add(format!(
                "basis {id}: answered {} but has no final outcome in the disclosure log",
                first.outcome
            )),
            Some(o) if *o != first.outcome => b.add(format!(
                "basis {id}: answered {} but the disclosure log says {o}",
                first.outcome
            )),
            Some(_) => {}
        }
        if first.outcome == Outcome::Ok {
            let Some(l) = logged.get(id) else {
                b.add(format!(
                    "basis {id}: answered OK but the disclosure log has nothing of it"
                ));
                continue;
            };
            let receipt_sha = first.receipt.as_ref().map(|r| r.sha256.clone());
            if receipt_sha != l.disclosed_sha256 {
                b.add(format!(
                    "basis {id}: the store's receipt is not for the disclosed content"
                ));
            }
            if first.receiver.as_deref() != Some(l.receiver.as_str()) {
                b.add(format!(
                    "basis {id}: answered as delivered to another region than the log says"
                ));
            }
            match i.seen.notices.get(id) {
                Some(n) if n.iter().all(|(org, _)| *org == l.receiver) => {
                    t.repeated_notices += n.len() as u64 - 1;
                }
                Some(_) => b.add(format!(
                    "basis {id}: a notice went to a region that is not its receiver"
                )),
                None => b.add(format!(
                    "basis {id}: delivered, but its receiver got no notice"
                )),
            }
        } else if i.seen.notices.contains_key(id) {
            b.add(format!(
                "basis {id}: {} but its receiver got a notice",
                first.outcome
            ));
        }
    }
    for id in i.seen.statuses.keys() {
        if !manifest.contains_key(id.as_str()) {
            b.add(format!(
                "a status for basis {id}, which was never generated"
            ));
        }
    }
    for u in &i.seen.unreadable {
        b.add(format!("an unreadable answer: {u}"));
    }
    // A basis said QUEUED was disclosed: its answer, when it comes, is OK.
    for q in &i.seen.queued {
        t.queued += 1;
        let answer = i.seen.statuses.get(&q.basis_id).map(|s| s[0].outcome);
        if answer.is_some_and(|o| o != Outcome::Ok) {
            b.add(format!(
                "basis {}: said QUEUED, then answered {}",
                q.basis_id,
                answer.unwrap()
            ));
        }
    }

    // 4. Each store holds exactly what was delivered to it, once, with the disclosed content,
    //    and its access log verifies.
    let mut expected: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::new();
    for (id, o) in &final_outcome {
        if *o == Outcome::Ok {
            let l = &logged[*id];
            expected
                .entry(l.receiver.as_str())
                .or_default()
                .insert(id, l.disclosed_sha256.as_deref().unwrap_or(""));
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    for (org, url) in i.stores {
        let listed = rt.block_on(list_store(url, i.pki, org))?;
        let mut held: BTreeMap<String, String> = BTreeMap::new();
        for (id, sha) in listed {
            if held.insert(id.clone(), sha).is_some() {
                t.duplicates += 1;
                b.add(format!("store {org}: basis {id} is held twice"));
            }
        }
        t.stored.insert(org.clone(), held.len());
        let want = expected.remove(org.as_str()).unwrap_or_default();
        for (id, sha) in &held {
            match want.get(id.as_str()) {
                Some(w) if w == sha => {}
                Some(_) => b.add(format!(
                    "store {org}: basis {id} holds other content than was disclosed"
                )),
                None => {
                    let why = match final_outcome.get(id.as_str()) {
                        Some(o) => format!("its outcome is {o}"),
                        None => "it has no outcome".into(),
                    };
                    b.add(format!(
                        "store {org}: holds basis {id}, which was not disclosed to it ({why})"
                    ));
                }
            }
            if manifest
                .get(id.as_str())
                .is_some_and(|m| m.injected_rule.is_some())
            {
                b.add(format!(
                    "store {org}: holds basis {id}, generated invalid on purpose"
                ));
            }
        }
        for id in want.keys() {
            if !held.contains_key(*id) {
                b.add(format!(
                    "store {org}: basis {id} was delivered to it (log) but it does not hold it"
                ));
            }
        }
        match rt.block_on(verify_access_log(url, i.pki, org)) {
            Ok(true) => {}
            Ok(false) => b.add(format!("store {org}: its access log does not verify")),
            Err(e) => b.add(format!("store {org}: verifying its access log: {e:#}")),
        }
    }
    for (org, want) in expected {
        b.add(format!(
            "{} bases delivered to {org}, which has no store",
            want.len()
        ));
    }
    Ok(t)
}

/// A client of the store presenting `pki/<who>.pem`.
pub(crate) fn client(url: &str, pki: &Path, who: &str) -> anyhow::Result<StoreClient> {
    let cert = |ext: &str| pki.join(format!("{who}.{ext}"));
    Ok(StoreClient::from_files(
        url,
        &pki.join("ca.pem"),
        &cert("pem"),
        &cert("key"),
    )?)
}

/// Every basis a store holds (`GET /v1/claims`, paged) as staff: (id, sha256).
pub(crate) async fn list_store(
    url: &str,
    pki: &Path,
    org: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let mut c = client(url, pki, &format!("staff-{org}"))?;
    let mut out = Vec::new();
    let mut after: Option<u64> = None;
    loop {
        let q = match after {
            Some(a) => format!("limit=1000&after={a}"),
            None => "limit=1000".into(),
        };
        let a = c
            .list(&q)
            .await
            .with_context(|| format!("listing store {org}"))?;
        let v = a
            .json()
            .filter(|_| a.status.is_success())
            .with_context(|| format!("store {org} answered {}: {}", a.status, a.text()))?;
        for item in v["items"].as_array().cloned().unwrap_or_default() {
            out.push((
                item["id"].as_str().unwrap_or_default().to_string(),
                item["sha256"].as_str().unwrap_or_default().to_string(),
            ));
        }
        match v["next_after"].as_u64() {
            Some(n) => after = Some(n),
            None => return Ok(out),
        }
    }
}

/// `GET /v1/access-log/verify` as the store's reviewer.
pub(crate) async fn verify_access_log(url: &str, pki: &Path, org: &str) -> anyhow::Result<bool> {
    let mut c = client(url, pki, &format!("reviewer-{org}"))?;
    let a = c
        .request(hyper::Method::GET, "/v1/access-log/verify", None)
        .await?;
    let v = a
        .json()
        .filter(|_| a.status.is_success())
        .with_context(|| format!("answered {}: {}", a.status, a.text()))?;
    Ok(v["ok"].as_bool() == Some(true))
}
