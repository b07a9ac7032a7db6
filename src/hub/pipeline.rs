//! What the routing core does with one basis, in order: safety limits, XSD and business rules →
//! the sender is the authenticated broker user and the supplier in the document → the receiver
//! is routable → the sending region's policy → the disclosure log (durable) → delivery to the
//! receiver's store → the store's receipt logged → the answers for the sender and receiver.
//!
//! Idempotent by basis id and content hash: the log is the memory. Before anything is written,
//! the entries already logged for this basis id are read (through the basis index), and an event
//! already logged for the same content is not logged again, so a redelivery after a crash or a
//! re-publish adds nothing but the answer. The same id with other content, after the first was
//! disclosed or withheld, is refused and logged.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use chrono::NaiveDate;
use sha2::{Digest as _, Sha256};
use tokio::sync::Semaphore;

use super::config::ValidationSettings;
use super::deliver::{Deliverer, DeliveryError};
use super::journal::Journal;
use crate::audit::{Digest, Event, PatientKey, PolicyRef, Query, Record};
use crate::broker::{Notice, Outcome, StatusMessage, StoreReceipt, Withholding};
use crate::claim::ClaimSpecification;
use crate::claim::{basis_id_ok, BASIS_ID_RULE};
use crate::policy::{Assessor, Decision, Outcome as PolicyOutcome};
use crate::validate::xsd::Schema;
use crate::validate::{Finding, Profile, RuleContext, Validator};

/// The sender is not who the document says.
pub const RULE_SENDER: &str = "SENDER";
/// The receiver has no store the hub knows.
pub const RULE_RECEIVER: &str = "RECEIVER";
/// The basis id was already used for other content.
pub const RULE_ID_REUSED: &str = "ID-REUSED";
/// The basis id cannot name a basis safely (a path, a line break, over 64 characters).
pub const RULE_BASIS_ID: &str = "BASIS-ID";

/// One message from the submit queue.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// The broker-checked `user_id`: the sending region's organisation number.
    pub sender: Option<String>,
    pub message_id: Option<String>,
    pub body: Bytes,
}

/// What to do with the message once its basis has been handled.
#[derive(Debug)]
pub enum Verdict {
    /// Publish these, then acknowledge.
    Answer {
        sender: String,
        status: Box<StatusMessage>,
        notice: Option<(String, Notice)>,
    },
    /// Give the message to the parked queue (reject without requeue), for an operator.
    Park { basis_id: String, why: String },
    /// Something of the hub's own failed (the log could not be written): requeue and try again.
    Retry { why: String },
}

/// Everything a basis needs; shared by all in-flight messages.
pub struct Pipeline {
    instance: String,
    schema: Arc<Schema>,
    /// The checks of the current day (the rules compare dates with today).
    day: Mutex<Day>,
    policies: Arc<crate::policy::PolicySet>,
    journal: Journal,
    patient_key: PatientKey,
    deliverer: Deliverer,
    receivers: BTreeMap<String, String>,
    per_receiver: BTreeMap<String, Semaphore>,
    /// Two messages with one id (a re-publish racing its original, or other content under the
    /// same id) are handled one after the other, so the second sees what the first logged.
    id_locks: IdLocks,
    /// Which rule profile each sender gets.
    validation: ValidationSettings,
}

/// The rule ids of `findings`, each once, in the order they were first found (`dedup` alone
/// kept a repeat that was not next to its first).
fn distinct_rules(findings: &[Finding]) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    findings
        .iter()
        .filter(|f| seen.insert(f.rule.as_str()))
        .map(|f| f.rule.clone())
        .collect()
}

fn sha256(bytes: &[u8]) -> Digest {
    Digest(Sha256::digest(bytes).into())
}

impl Pipeline {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        instance: String,
        schema: Arc<Schema>,
        policies: crate::policy::PolicySet,
        journal: Journal,
        patient_key: PatientKey,
        deliverer: Deliverer,
        receivers: BTreeMap<String, String>,
        per_receiver: usize,
    ) -> Pipeline {
        let policies = Arc::new(policies);
        let day = Day::new(crate::clock::today(), &schema, &policies);
        let per_receiver = receivers
            .keys()
            .map(|k| (k.clone(), Semaphore::new(per_receiver)))
            .collect();
        Pipeline {
            instance,
            schema,
            day: Mutex::new(day),
            policies,
            journal,
            patient_key,
            deliverer,
            receivers,
            per_receiver,
            id_locks: IdLocks::default(),
            validation: ValidationSettings::default(),
        }
    }

    /// Checks each sender's bases under the profile `validation` names for it.
    pub fn with_validation(mut self, validation: ValidationSettings) -> Pipeline {
        self.validation = validation;
        self
    }

    /// Today's validator and assessor, made anew when the date changes.
    fn today(&self) -> Day {
        let now = crate::clock::today();
        let mut d = self.day.lock().unwrap_or_else(|p| p.into_inner());
        if d.day != now {
            *d = Day::new(now, &self.schema, &self.policies);
        }
        d.clone()
    }

    fn record(&self, event: Event, basis: &Basis) -> Record {
        let mut r = Record::new(
            crate::clock::now(),
            event,
            basis.id.clone(),
            basis.supplier.clone(),
            basis.customer.clone(),
            self.instance.clone(),
        );
        r.patients = basis.patients.clone();
        r.received_sha256 = Some(basis.sha);
        r
    }

    /// Signs a tree head over everything logged so far: at shutdown, so an auditor's latest
    /// head covers the last entries.
    pub fn sign_head(&self) -> Result<crate::audit::SignedTreeHead, crate::audit::AuditError> {
        self.journal.log().sign_head()
    }

    /// Handles one message completely. Never panics on input; every outcome is a [`Verdict`].
    pub async fn process(&self, m: Incoming) -> Verdict {
        let started = Instant::now();
        let verdict = self.process_inner(m).await;
        let label = match &verdict {
            Verdict::Answer { status, .. } => status.outcome.to_string(),
            Verdict::Park { .. } => "PARKED".into(),
            Verdict::Retry { .. } => "RETRY".into(),
        };
        metrics::counter!("ih_bases_total", "outcome" => label).increment(1);
        metrics::histogram!("ih_basis_seconds").record(started.elapsed().as_secs_f64());
        verdict
    }

    #[expect(
        clippy::too_many_lines,
        reason = "the whole decide path of one basis; issue 15 makes it a sequence of typed steps"
    )]
    async fn process_inner(&self, m: Incoming) -> Verdict {
        let sha = sha256(&m.body);
        let Some(sender) = m.sender.clone() else {
            // Without a broker-checked user there is nobody to answer: park it.
            return Verdict::Park {
                basis_id: m.message_id.unwrap_or_default(),
                why: "the message has no user_id, so its sender is unknown".into(),
            };
        };
        let checks = self.today();
        let validator = checks
            .validator(self.validation.profile_of(&sender))
            .clone();
        let body = m.body.clone();
        let report = match tokio::task::spawn_blocking(move || validator.validate(&body)).await {
            Ok(r) => r,
            Err(e) => {
                return Verdict::Retry {
                    why: format!("validation task failed: {e}"),
                }
            }
        };
        // The id names the basis in the disclosure log, in the store's URL and in the hub's own
        // log: one that is no safe name (a path, a line break) is refused, and the answer goes
        // under the message's id instead.
        let id = report
            .id
            .iter()
            .chain(&m.message_id)
            .find(|i| basis_id_ok(i))
            .cloned()
            .unwrap_or_else(|| format!("unknown-{}", &sha.to_hex()[..16]));
        let _same_id = self.id_locks.lock(&id).await;
        let mut findings = report.findings.clone();
        if report.id.as_deref().is_some_and(|i| !basis_id_ok(i)) {
            findings.push(Finding::new(
                RULE_BASIS_ID,
                "/claimSpecification/id",
                format!(
                    "the basis id is not usable as a name: {BASIS_ID_RULE} (it names the basis \
                     in the receiver's store and in every log)"
                ),
            ));
        }
        let claim = report.claim.as_ref();
        let mut basis = Basis {
            id: id.clone(),
            sha,
            supplier: sender.clone(),
            customer: String::new(),
            patients: Vec::new(),
        };
        if let Some(c) = claim {
            basis.customer = c
                .customer_party
                .organisation_number()
                .unwrap_or("")
                .to_string();
            basis.patients = patients(&self.patient_key, c);
        }
        if let Some(c) = claim {
            // Also on an invalid basis: the sender gets every problem in one answer.
            findings.extend(self.route_checks(&sender, c));
        }

        let history = match self.history(&id, sha) {
            Ok(h) => h,
            Err(why) => return Verdict::Retry { why },
        };
        if history.other_content_final && findings.is_empty() {
            findings.push(Finding::new(
                RULE_ID_REUSED,
                "/claimSpecification/id",
                format!(
                    "basis id {id} was already used for a basis with other content; a correction \
                     needs a new id (or a credit note)"
                ),
            ));
        }
        for f in &findings {
            metrics::counter!("ih_findings_total", "rule" => f.rule.clone()).increment(1);
        }

        if !findings.is_empty() {
            let mut rejected = self.record(Event::Rejected, &basis);
            rejected.matched_rules = distinct_rules(&findings);
            rejected.reason = Some(format!(
                "{} problem(s), first: {}",
                findings.len(),
                findings[0]
            ));
            let records = vec![self.record(Event::Received, &basis), rejected];
            if let Err(why) = self.log_new(records, &history.logged).await {
                return Verdict::Retry { why };
            }
            return answer(sender, &id, Outcome::Error, findings, None, None, None);
        }
        let claim = claim.expect("no findings means the model was read");

        let raw = m.body.clone();
        let decision = checks.assessor.assess(&raw, claim, checks.day);
        let withheld = |d: &Decision| Withholding {
            rule: d
                .rules
                .iter()
                .filter(|r| PolicyOutcome::from(r.action) == d.outcome)
                .map(|r| r.id.clone())
                .collect::<Vec<_>>()
                .join(", "),
            board_decision: d
                .board_decision
                .as_ref()
                .map(|b| b.reference.clone())
                .unwrap_or_else(|| "none in force".into()),
            reason: d.reason.clone().unwrap_or_default(),
        };
        let policy_ref = decision.policy_id.as_ref().map(|id| PolicyRef {
            id: id.clone(),
            version: decision.policy_version.clone().unwrap_or_default(),
            board_decision: decision
                .board_decision
                .as_ref()
                .map(|b| format!("{} ({})", b.reference, b.date))
                .unwrap_or_default(),
        });
        let decided = |event: Event| {
            let mut r = self.record(event, &basis);
            r.policy = policy_ref.clone();
            r.matched_rules = decision.rule_ids();
            r.removed_paths = decision.removed.clone();
            r.reason = decision.reason.clone();
            r
        };

        let disclosed = match (&decision.disclosed, decision.outcome.discloses()) {
            (Some(doc), true) => Bytes::from(doc.clone()),
            _ => {
                let (event, outcome) = match decision.outcome {
                    PolicyOutcome::Reject => (Event::Rejected, Outcome::Rejected),
                    _ => (Event::Withheld, Outcome::Withheld),
                };
                let records = vec![self.record(Event::Received, &basis), decided(event)];
                if let Err(why) = self.log_new(records, &history.logged).await {
                    return Verdict::Retry { why };
                }
                return answer(
                    sender,
                    &id,
                    outcome,
                    Vec::new(),
                    Some(withheld(&decision)),
                    None,
                    None,
                );
            }
        };
        let mut disclose = decided(Event::Disclosed);
        disclose.disclosed_sha256 = Some(sha256(&disclosed));
        if let Err(why) = self
            .log_new(
                vec![self.record(Event::Received, &basis), disclose],
                &history.logged,
            )
            .await
        {
            return Verdict::Retry { why };
        }

        let receiver = basis.customer.clone();
        let store = &self.receivers[&receiver];
        let delivered = {
            let _slot = self.per_receiver[&receiver].acquire().await;
            self.deliverer.deliver(store, &id, disclosed).await
        };
        let delivered = match delivered {
            Ok(d) => d,
            Err(
                e @ (DeliveryError::GaveUp { .. }
                | DeliveryError::Refused { .. }
                | DeliveryError::Tls(_)),
            ) => {
                tracing::error!(basis_id = %id, receiver = %receiver, error = %e, "delivery given up: parking the basis");
                return Verdict::Park {
                    basis_id: id,
                    why: e.to_string(),
                };
            }
            Err(e) => return Verdict::Retry { why: e.to_string() },
        };
        let mut logged = self.record(Event::Delivered, &basis);
        logged.policy = policy_ref.clone();
        logged.receipt = Some(delivered.raw.clone());
        if let Err(why) = self.log_new(vec![logged], &history.logged).await {
            return Verdict::Retry { why };
        }
        let notice = Notice {
            basis_id: id.clone(),
            sender: sender.clone(),
            receipt: delivered.receipt.clone(),
            at: crate::clock::now(),
        };
        answer(
            sender,
            &id,
            Outcome::Ok,
            Vec::new(),
            None,
            Some((receiver.clone(), delivered.receipt)),
            Some((receiver, notice)),
        )
    }

    /// The sender must be the supplier, and the receiver a region the hub can deliver to.
    fn route_checks(&self, sender: &str, c: &ClaimSpecification) -> Vec<Finding> {
        let mut out = Vec::new();
        let supplier = c.supplier_party.organisation_number().unwrap_or("");
        if supplier != sender {
            out.push(Finding::new(
                RULE_SENDER,
                "/claimSpecification/supplierParty/identification",
                format!(
                    "the supplier's organisation number {supplier} is not the sending region \
                     {sender} (the certificate the basis was sent with)"
                ),
            ));
        }
        let customer = c.customer_party.organisation_number().unwrap_or("");
        if !self.receivers.contains_key(customer) {
            out.push(Finding::new(
                RULE_RECEIVER,
                "/claimSpecification/customerParty/identification",
                format!("the receiving region {customer} has no store this exchange delivers to"),
            ));
        }
        out
    }

    /// What the log already holds for this basis id: the events logged for this content, and
    /// whether other content under the same id was already disclosed or withheld.
    fn history(&self, id: &str, sha: Digest) -> Result<History, String> {
        let q = Query {
            basis: Some(id.to_string()),
            ..Query::default()
        };
        let found = self.journal.log().query(&q).map_err(|e| e.to_string())?;
        let mut h = History::default();
        for e in found.entries {
            let r = e.record;
            if r.received_sha256 == Some(sha) {
                h.logged.insert(r.event.as_str());
            } else if matches!(
                r.event,
                Event::Disclosed | Event::Delivered | Event::Withheld
            ) {
                h.other_content_final = true;
            }
        }
        Ok(h)
    }

    /// Appends the records whose events are not yet logged for this content (durable on return).
    async fn log_new(
        &self,
        records: Vec<Record>,
        logged: &BTreeSet<&'static str>,
    ) -> Result<(), String> {
        let new: Vec<Record> = records
            .into_iter()
            .filter(|r| !logged.contains(r.event.as_str()))
            .collect();
        self.journal.append(new).await.map(|_| ())
    }
}

/// The checks of one day: the rules compare dates with today, and the policy in force is
/// today's.
#[derive(Clone)]
struct Day {
    day: NaiveDate,
    /// The contract's rules; the assessor re-checks removals with these.
    validator: Validator,
    /// The official Schematron's verdict, for senders configured to get it.
    official: Validator,
    assessor: Assessor,
}

impl Day {
    fn new(day: NaiveDate, schema: &Arc<Schema>, policies: &Arc<crate::policy::PolicySet>) -> Day {
        let validator = Validator::with_schema(schema.clone(), RuleContext::new(day));
        let official = Validator::with_schema(
            schema.clone(),
            RuleContext::new(day).with_profile(Profile::OfficialSchematron),
        );
        Day {
            day,
            assessor: Assessor::new(policies.clone(), validator.clone()),
            validator,
            official,
        }
    }

    fn validator(&self, profile: Profile) -> &Validator {
        match profile {
            Profile::Contract => &self.validator,
            Profile::OfficialSchematron => &self.official,
        }
    }
}

/// One lock per basis id in flight; entries go when their last holder does.
#[derive(Default)]
struct IdLocks(Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>);

struct IdGuard<'a> {
    locks: &'a IdLocks,
    id: String,
    _guard: tokio::sync::OwnedMutexGuard<()>,
}

impl IdLocks {
    async fn lock(&self, id: &str) -> IdGuard<'_> {
        let m = {
            let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(id.to_string()).or_default().clone()
        };
        IdGuard {
            locks: self,
            id: id.to_string(),
            _guard: m.lock_owned().await,
        }
    }
}

impl Drop for IdGuard<'_> {
    fn drop(&mut self) {
        let mut map = self.locks.0.lock().unwrap_or_else(|p| p.into_inner());
        // The map's own reference and this guard's mutex: nobody else waits for this id.
        if map.get(&self.id).is_some_and(|m| Arc::strong_count(m) <= 2) {
            map.remove(&self.id);
        }
    }
}

/// The facts of one basis every record repeats.
struct Basis {
    id: String,
    sha: Digest,
    supplier: String,
    customer: String,
    patients: Vec<crate::audit::PatientHash>,
}

#[derive(Default)]
struct History {
    logged: BTreeSet<&'static str>,
    other_content_final: bool,
}

/// One keyed hash per distinct patient on the basis, in order of first appearance.
fn patients(key: &PatientKey, c: &ClaimSpecification) -> Vec<crate::audit::PatientHash> {
    let mut seen = BTreeSet::new();
    c.health_care_services_specification_line
        .iter()
        .map(|l| key.hash(&l.patient_information.patient_identity.extension))
        .filter(|h| seen.insert(*h))
        .collect()
}

fn answer(
    sender: String,
    id: &str,
    outcome: Outcome,
    findings: Vec<Finding>,
    withheld: Option<Withholding>,
    delivered: Option<(String, StoreReceipt)>,
    notice: Option<(String, Notice)>,
) -> Verdict {
    let (receiver, receipt) = match delivered {
        Some((r, rc)) => (Some(r), Some(rc)),
        None => (None, None),
    };
    Verdict::Answer {
        sender,
        status: Box::new(StatusMessage {
            basis_id: id.to_string(),
            outcome,
            findings,
            withheld,
            receiver,
            receipt,
            at: crate::clock::now(),
        }),
        notice,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_is_named_once_in_the_order_it_was_first_found() {
        let f = |rule: &str| Finding::new(rule, "/claimSpecification", "x");
        let findings = [f("ÖR5"), f("ÖR28"), f("ÖR5"), f("ÖR28"), f("ÖR2")];
        assert_eq!(distinct_rules(&findings), ["ÖR5", "ÖR28", "ÖR2"]);
    }
}
