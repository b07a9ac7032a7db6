//! The decide stage: what the routing core does with one basis from the submit queue, as a
//! sequence of steps, each a function with named inputs and outputs:
//!
//! ```text
//! admit ─▶ validate ─▶ check ─▶ assess ─▶ log ─┬─▶ hand over (a disclosure → the receiver's delivery queue)
//! (sender)  (limits,    (id, sender,  (policy)  (received  └─▶ answer ERROR / WITHHELD / REJECTED
//!            XSD, rules) receiver,              + decision,
//!                        id reused)              durable)
//! ```
//!
//! Idempotent by basis id and content hash: the log is the memory. Before anything is written,
//! the entries already logged for this basis id are read, and an event already logged for the
//! same content is not logged again, so a redelivery after a crash or a re-publish adds nothing
//! but the answer. A re-publish of a basis already delivered is answered with the first receipt
//! and handed over no more (its receiver is not told twice). The same id with other content,
//! after the first was disclosed or withheld, is refused and logged.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use chrono::NaiveDate;
use sha2::{Digest as _, Sha256};

use super::config::ValidationSettings;
use super::health::ReceiverHealth;
use super::id_locks::IdLocks;
use super::journal::{History, Journal};
use super::review::{Desk, HandError};
use super::stage::Verdict;
use crate::audit::{Digest, Event, PatientHash, PatientKey, PolicyRef, Record};
use crate::broker::handover::HandOver;
use crate::broker::on_behalf::AnswerTo;
use crate::broker::{Outcome, Outgoing, StatusMessage, StoreReceipt, Withholding};
use crate::claim::{basis_id_ok, ClaimSpecification, BASIS_ID_RULE};
use crate::clock::Clock;
use crate::policy::{Assessor, Decision, Outcome as PolicyOutcome, PolicySet};
use crate::store::withheld::{DecisionForHub, ReviewRequest, Verdict as Review, WhyWithheld};
use crate::validate::xsd::Schema;
use crate::validate::{Finding, Profile, Report, RuleContext, Validator};

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
    /// The broker-checked `user_id`'s region: the sending region's organisation number.
    pub sender: Option<String>,
    /// Who the broker let in: the sending certificate's identity (`hsa:<SERIALNUMBER>` of the
    /// broker user), recorded as the `received` entry's actor.
    pub sent_by: Option<String>,
    pub message_id: Option<String>,
    pub body: Bytes,
    /// For a basis a gateway submitted: where the answer to its call goes (instead of the
    /// sending region's status queue).
    pub answer_to: Option<AnswerTo>,
    /// A claim to be sent on someone's behalf from a user that is no gateway: why it is
    /// refused (the basis is answered ERROR under [`RULE_SENDER`] and logged).
    pub false_claim: Option<String>,
}

/// What the decide stage is made of.
pub(crate) struct Parts {
    pub instance: String,
    pub clock: Arc<dyn Clock>,
    pub schema: Arc<Schema>,
    pub policies: PolicySet,
    pub validation: ValidationSettings,
    pub journal: Journal,
    pub patient_key: PatientKey,
    /// The receiving regions the hub delivers to.
    pub receivers: BTreeSet<String>,
    /// Those of them that pull their delivery queue themselves.
    pub pulling: BTreeSet<String>,
    /// Each receiver's delivery as its stage reports it: a sender whose basis is handed over to
    /// a delivery that is held up is told QUEUED at once.
    pub health: BTreeMap<String, Arc<ReceiverHealth>>,
    pub id_locks: Arc<IdLocks>,
    /// Where the sending regions in `[review.stores]` review what their policy withholds.
    pub desk: Arc<Desk>,
}

/// The decide stage; shared by all its in-flight messages.
pub(crate) struct Decide {
    instance: String,
    clock: Arc<dyn Clock>,
    schema: Arc<Schema>,
    policies: Arc<PolicySet>,
    /// The checks of the current day (the rules compare dates with today).
    day: Mutex<Day>,
    validation: ValidationSettings,
    journal: Journal,
    patient_key: PatientKey,
    receivers: BTreeSet<String>,
    pulling: BTreeSet<String>,
    health: BTreeMap<String, Arc<ReceiverHealth>>,
    id_locks: Arc<IdLocks>,
    desk: Arc<Desk>,
}

/// A message with a sender: what [`admit`] lets through.
struct Admitted {
    sender: String,
    sent_by: Option<String>,
    message_id: Option<String>,
    body: Bytes,
    sha: Digest,
    answer_to: Option<AnswerTo>,
    false_claim: Option<String>,
}

/// The facts of one basis every record repeats.
struct Facts {
    /// The sending certificate's identity (see [`Incoming::sent_by`]).
    sent_by: Option<String>,
    id: String,
    sha: Digest,
    supplier: String,
    customer: String,
    patients: Vec<PatientHash>,
    /// A gateway's call this basis answers (see [`Incoming::answer_to`]).
    answer_to: Option<AnswerTo>,
}

/// What [`Decide::check`] found: the basis's facts, its model if it was read, every finding.
struct Checked {
    facts: Facts,
    claim: Option<ClaimSpecification>,
    findings: Vec<Finding>,
}

impl Decide {
    pub(crate) fn new(p: Parts) -> Decide {
        let policies = Arc::new(p.policies);
        let day = Day::new(p.clock.today(), &p.schema, &policies);
        Decide {
            instance: p.instance,
            clock: p.clock,
            schema: p.schema,
            policies,
            day: Mutex::new(day),
            validation: p.validation,
            journal: p.journal,
            patient_key: p.patient_key,
            receivers: p.receivers,
            pulling: p.pulling,
            health: p.health,
            id_locks: p.id_locks,
            desk: p.desk,
        }
    }

    /// Handles one message completely. Never panics on input; every outcome is a [`Verdict`].
    pub(crate) async fn process(&self, m: Incoming) -> Verdict {
        let started = Instant::now();
        let verdict = self.decide(m).await;
        metrics::counter!("ih_bases_total", "outcome" => verdict.label()).increment(1);
        metrics::histogram!("ih_basis_seconds").record(started.elapsed().as_secs_f64());
        verdict
    }

    async fn decide(&self, m: Incoming) -> Verdict {
        let admitted = match admit(m) {
            Ok(a) => a,
            Err(parked) => return parked,
        };
        let day = self.today();
        let profile = self.validation.profile_of(&admitted.sender);
        let report = match validate(&day, profile, admitted.body.clone()).await {
            Ok(r) => r,
            Err(why) => return Verdict::Retry { why },
        };
        let id = basis_id(
            report.id.as_deref(),
            admitted.message_id.as_deref(),
            admitted.sha,
        );
        let _same_id = self.id_locks.lock(&id).await;
        let history = match self.journal.history(&id, admitted.sha) {
            Ok(h) => h,
            Err(why) => return Verdict::Retry { why },
        };
        let Checked {
            facts,
            claim,
            findings,
        } = self.check(&admitted, report, id, &history);
        let claim = match claim {
            Some(c) if findings.is_empty() => c,
            _ => return self.refuse(&facts, findings, &history).await,
        };
        let decision = match assess(&day, &admitted.body, claim).await {
            Ok(d) => d,
            Err(why) => return Verdict::Retry { why },
        };
        match (&decision.disclosed, decision.outcome.discloses()) {
            (Some(doc), true) => {
                let doc = Bytes::from(doc.clone());
                self.disclose(&facts, &decision, doc, &history).await
            }
            _ => {
                self.withhold(&facts, &decision, &history, &admitted.body)
                    .await
            }
        }
    }

    /// Today's validator and assessor (Swedish date), made anew when the date changes.
    fn today(&self) -> Day {
        let now = self.clock.today();
        let mut d = self.day.lock().unwrap_or_else(|p| p.into_inner());
        if d.day != now {
            *d = Day::new(now, &self.schema, &self.policies);
        }
        d.clone()
    }

    /// The checks after validation: the id is a safe name, the sender is the supplier, the
    /// receiver is one the hub delivers to, the id was not used for other content. Every problem
    /// is found, also on an invalid basis: the sender gets them all in one answer.
    fn check(&self, a: &Admitted, report: Report, id: String, history: &History) -> Checked {
        let mut findings = report.findings;
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
        if let Some(why) = &a.false_claim {
            findings.push(Finding::new(
                RULE_SENDER,
                "/claimSpecification/supplierParty/identification",
                why.clone(),
            ));
        }
        let mut facts = Facts {
            sent_by: a.sent_by.clone(),
            id,
            sha: a.sha,
            supplier: a.sender.clone(),
            customer: String::new(),
            patients: Vec::new(),
            answer_to: a.answer_to.clone(),
        };
        if let Some(c) = &report.claim {
            facts.customer = c
                .customer_party
                .organisation_number()
                .unwrap_or("")
                .to_string();
            facts.patients = patients(&self.patient_key, c);
            findings.extend(route_checks(&a.sender, c, &self.receivers));
        }
        if history.other_content_final && findings.is_empty() {
            findings.push(Finding::new(
                RULE_ID_REUSED,
                "/claimSpecification/id",
                format!(
                    "basis id {} was already used for a basis with other content; a correction \
                     needs a new id (or a credit note)",
                    facts.id
                ),
            ));
        }
        for f in &findings {
            metrics::counter!("ih_findings_total", "rule" => f.rule.clone()).increment(1);
        }
        Checked {
            facts,
            claim: report.claim,
            findings,
        }
    }

    /// An invalid basis: logged as received and rejected with its rules, answered ERROR.
    async fn refuse(&self, facts: &Facts, findings: Vec<Finding>, history: &History) -> Verdict {
        let mut rejected = self.record(Event::Rejected, facts);
        rejected.matched_rules = distinct_rules(&findings);
        rejected.reason = findings
            .first()
            .map(|first| format!("{} problem(s), first: {first}", findings.len()));
        let records = vec![self.record(Event::Received, facts), rejected];
        if let Err(why) = self.journal.append_new(records, history).await {
            return Verdict::Retry { why };
        }
        self.answer(facts, Outcome::Error, findings, None, None)
    }

    /// A basis the sending region's policy withholds or rejects: logged with the policy rule
    /// and board decision, handed to the sending region's review desk if it has one, answered
    /// WITHHELD or REJECTED with them. A basis a review released since is answered as the
    /// disclosure it became.
    async fn withhold(
        &self,
        facts: &Facts,
        decision: &Decision,
        history: &History,
        body: &Bytes,
    ) -> Verdict {
        if let Some(receipt) = history.delivered_receipt() {
            let delivered = Some((facts.customer.clone(), receipt));
            return self.answer(facts, Outcome::Ok, Vec::new(), None, delivered);
        }
        let (event, outcome) = match decision.outcome {
            PolicyOutcome::Reject => (Event::Rejected, Outcome::Rejected),
            _ => (Event::Withheld, Outcome::Withheld),
        };
        let records = vec![
            self.record(Event::Received, facts),
            self.decided(event, facts, decision),
        ];
        if let Err(why) = self.journal.append_new(records, history).await {
            return Verdict::Retry { why };
        }
        let reviewed = history.has(Event::Reviewed);
        if event == Event::Withheld && !reviewed && self.desk.reviews(&facts.supplier) {
            if let Err(why) = self.to_review(facts, decision, body).await {
                return Verdict::Retry { why };
            }
        }
        let withheld = withholding(decision);
        self.answer(facts, outcome, Vec::new(), Some(withheld), None)
    }

    /// Hands a withheld basis to its sending region's review desk; `Err` (tried again) while
    /// the desk is unavailable. A desk that refuses it is said in the log: the basis stays
    /// withheld, and the sender has its answer.
    async fn to_review(
        &self,
        facts: &Facts,
        decision: &Decision,
        body: &Bytes,
    ) -> Result<(), String> {
        use base64::Engine as _;
        let request = ReviewRequest {
            why: WhyWithheld {
                receiver: facts.customer.clone(),
                policy_id: decision.policy_id.clone(),
                policy_version: decision.policy_version.clone(),
                board_decision: decision
                    .board_decision
                    .as_ref()
                    .map(|b| format!("{} ({})", b.reference, b.date)),
                rules: decision
                    .rules
                    .iter()
                    .map(|r| format!("{}: {}", r.id, r.description))
                    .collect(),
                reason: decision.reason.clone(),
                withheld_by: self.instance.clone(),
            },
            document: base64::engine::general_purpose::STANDARD.encode(body),
        };
        match self.desk.hand(&facts.supplier, &facts.id, &request).await {
            Ok(()) => Ok(()),
            Err(e @ HandError::Unavailable { .. }) => Err(e.to_string()),
            Err(e @ HandError::Refused { .. }) => {
                tracing::error!(basis_id = %facts.id, error = %e, "withheld, but not in the review queue");
                Ok(())
            }
        }
    }

    /// An official's decision on a basis this hub withheld (fetched from the sending region's
    /// store): logged as `reviewed` naming the official's certificate, then a release is
    /// disclosed and handed over as every disclosure, and a basis kept is answered WITHHELD
    /// again, with the decision. Checked as the basis was: the same content, still valid, and
    /// withheld by this hub. Idempotent: a decision fetched again logs nothing twice.
    pub(crate) async fn reviewed(&self, sender: &str, d: &DecisionForHub) -> Verdict {
        let park = |why: String| Verdict::Park {
            basis_id: d.basis_id.clone(),
            why,
        };
        let Some(doc) = super::review::document(d) else {
            return park("the decided document is not base64".into());
        };
        let body = Bytes::from(doc);
        let sha = sha256(&body);
        if sha.to_hex() != d.sha256 {
            return park("the document is not the one the store says was decided on".into());
        }
        let day = self.today();
        let report = match validate(&day, self.validation.profile_of(sender), body.clone()).await {
            Ok(r) => r,
            Err(why) => return Verdict::Retry { why },
        };
        if report.id.as_deref() != Some(d.basis_id.as_str()) {
            return park("the document's id is not the decided basis's".into());
        }
        let _same_id = self.id_locks.lock(&d.basis_id).await;
        let history = match self.journal.history(&d.basis_id, sha) {
            Ok(h) if h.has(Event::Withheld) => h,
            Ok(_) => return park("this hub never withheld this basis".into()),
            Err(why) => return Verdict::Retry { why },
        };
        let admitted = Admitted {
            sender: sender.to_string(),
            sent_by: None,
            message_id: None,
            body,
            sha,
            answer_to: None,
            false_claim: None,
        };
        let checked = self.check(&admitted, report, d.basis_id.clone(), &history);
        let (facts, claim) = match (checked.claim, checked.findings.first()) {
            (Some(c), None) => (checked.facts, c),
            (_, first) => {
                let first = first.map(|f| f.to_string()).unwrap_or_default();
                return park(format!("the basis no longer passes the checks: {first}"));
            }
        };
        let verdict = d.decided.verdict;
        let decision = if verdict.releases() {
            let with_removals = verdict == Review::ReleaseWithRemovals;
            day.assessor
                .assess_released(&admitted.body, &claim, day.day, with_removals)
        } else {
            day.assessor.assess(&admitted.body, &claim, day.day)
        };
        self.act_on_review(&facts, d, &decision, &history).await
    }

    /// Logs the review, then discloses a release (or answers WITHHELD).
    async fn act_on_review(
        &self,
        facts: &Facts,
        d: &DecisionForHub,
        decision: &Decision,
        history: &History,
    ) -> Verdict {
        let mut reviewed = self.decided(Event::Reviewed, facts, decision);
        reviewed.actor = Some(d.decided.by.clone());
        reviewed.action = Some(d.decided.verdict.as_str().to_string());
        reviewed.reason = Some(d.decided.reason.clone());
        if let Err(why) = self.journal.append_new(vec![reviewed], history).await {
            return Verdict::Retry { why };
        }
        if let (Some(doc), true) = (&decision.disclosed, decision.outcome.discloses()) {
            let doc = Bytes::from(doc.clone());
            return self.disclose(facts, decision, doc, history).await;
        }
        let mut withheld = withholding(decision);
        withheld.reason = match d.decided.verdict {
            Review::Keep => format!(
                "kept withheld after manual review by {}: {}",
                d.decided.by, d.decided.reason
            ),
            _ => format!("released by {}, but {}", d.decided.by, withheld.reason),
        };
        self.answer(facts, Outcome::Withheld, Vec::new(), Some(withheld), None)
    }

    /// A disclosure: logged (durable) before the document leaves, then handed over to the
    /// receiver's delivery queue; the deliver stage answers OK once the receiver has it. A
    /// region that reads its queue itself gets no patient hashes, and its receipt comes back here
    /// (`reply_to`), to the hub whose log has them.
    async fn disclose(
        &self,
        facts: &Facts,
        decision: &Decision,
        doc: Bytes,
        history: &History,
    ) -> Verdict {
        let disclosed_sha256 = sha256(&doc);
        let mut disclosed = self.decided(Event::Disclosed, facts, decision);
        disclosed.disclosed_sha256 = Some(disclosed_sha256);
        let records = vec![self.record(Event::Received, facts), disclosed];
        if let Err(why) = self.journal.append_new(records, history).await {
            return Verdict::Retry { why };
        }
        if let Some(receipt) = history.delivered_receipt() {
            let delivered = Some((facts.customer.clone(), receipt));
            return self.answer(facts, Outcome::Ok, Vec::new(), None, delivered);
        }
        let pulled = self.pulling.contains(&facts.customer);
        let handover = HandOver {
            basis_id: facts.id.clone(),
            sender: facts.supplier.clone(),
            receiver: facts.customer.clone(),
            received_sha256: facts.sha,
            disclosed_sha256,
            patients: if pulled {
                Vec::new()
            } else {
                facts.patients.clone()
            },
            policy: policy_ref(decision),
            decided_by: self.instance.clone(),
        };
        let at = self.clock.now().timestamp().max(0) as u64;
        let reply_to = pulled.then_some(self.instance.as_str());
        let mut messages = vec![handover.to_outgoing(doc, at, reply_to)];
        match &facts.answer_to {
            // After the hand-over's confirm (the messages go in order): the gateway answers OK.
            Some(to) => messages.push(self.accepted(facts).to_answer(to)),
            None => messages.extend(self.queued(facts)),
        }
        Verdict::Send {
            basis_id: facts.id.clone(),
            outcome: "HANDED-OVER".into(),
            done: "handed over",
            messages,
        }
    }

    /// QUEUED for the sender, after the hand-over's confirm, when the receiver's delivery is
    /// held up; nothing otherwise (OK follows in moments).
    fn queued(&self, facts: &Facts) -> Option<Outgoing> {
        let now = self.clock.now();
        let waiting = self.health.get(&facts.customer)?.held_up(now)?;
        let status = StatusMessage {
            basis_id: facts.id.clone(),
            outcome: Outcome::Queued,
            findings: Vec::new(),
            withheld: None,
            receiver: Some(facts.customer.clone()),
            receipt: None,
            waiting: Some(waiting),
            at: now,
        };
        Some(status.to_outgoing(&facts.supplier))
    }

    /// ACCEPTED for a gateway's call: disclosed, logged and on the receiver's delivery queue.
    fn accepted(&self, facts: &Facts) -> StatusMessage {
        StatusMessage {
            basis_id: facts.id.clone(),
            outcome: Outcome::Accepted,
            findings: Vec::new(),
            withheld: None,
            receiver: Some(facts.customer.clone()),
            receipt: None,
            waiting: None,
            at: self.clock.now(),
        }
    }

    fn record(&self, event: Event, facts: &Facts) -> Record {
        let mut r = Record::new(
            self.clock.now(),
            event,
            facts.id.clone(),
            facts.supplier.clone(),
            facts.customer.clone(),
            self.instance.clone(),
        );
        r.patients = facts.patients.clone();
        r.received_sha256 = Some(facts.sha);
        if event == Event::Received {
            r.actor = facts.sent_by.clone();
        }
        r
    }

    /// The record of a policy decision: the policy, its rules, what it removed, why.
    fn decided(&self, event: Event, facts: &Facts, decision: &Decision) -> Record {
        let mut r = self.record(event, facts);
        r.policy = policy_ref(decision);
        r.matched_rules = decision.rule_ids();
        r.removed_paths = decision.removed.clone();
        r.reason = decision.reason.clone();
        r
    }

    fn answer(
        &self,
        facts: &Facts,
        outcome: Outcome,
        findings: Vec<Finding>,
        withheld: Option<Withholding>,
        delivered: Option<(String, StoreReceipt)>,
    ) -> Verdict {
        let (receiver, receipt) = delivered.unzip();
        let status = StatusMessage {
            basis_id: facts.id.clone(),
            outcome,
            findings,
            withheld,
            receiver,
            receipt,
            waiting: None,
            at: self.clock.now(),
        };
        match &facts.answer_to {
            Some(to) => Verdict::Send {
                basis_id: status.basis_id.clone(),
                outcome: status.outcome.to_string(),
                done: "answered the gateway",
                messages: vec![status.to_answer(to)],
            },
            None => Verdict::answered(&facts.supplier, status, None),
        }
    }
}

/// The first step: a message must have a broker-checked sender; without one there is nobody to
/// answer, so it is parked.
fn admit(m: Incoming) -> Result<Admitted, Verdict> {
    let sha = sha256(&m.body);
    match m.sender {
        Some(sender) => Ok(Admitted {
            sender,
            sent_by: m.sent_by,
            message_id: m.message_id,
            body: m.body,
            sha,
            answer_to: m.answer_to,
            false_claim: m.false_claim,
        }),
        None => Err(Verdict::Park {
            basis_id: m.message_id.unwrap_or_default(),
            why: "the message has no user_id, so its sender is unknown".into(),
        }),
    }
}

/// Safety limits, XSD and rules, on a CPU thread (libxml2 works synchronously; `crate::cpu`).
async fn validate(day: &Day, profile: Profile, body: Bytes) -> Result<Report, String> {
    let validator = day.validator(profile).clone();
    crate::cpu::run(move || validator.validate(&body))
        .await
        .map_err(|e| e.to_string())
}

/// The sending region's policy, on a CPU thread: a removal re-serialises the document and checks
/// it again.
async fn assess(day: &Day, body: &Bytes, claim: ClaimSpecification) -> Result<Decision, String> {
    let (assessor, body, today) = (day.assessor.clone(), body.clone(), day.day);
    crate::cpu::run(move || assessor.assess(&body, &claim, today))
        .await
        .map_err(|e| e.to_string())
}

/// The id names the basis in the disclosure log, in the store's URL and in the hub's own log:
/// one that is no safe name (a path, a line break) is not used, and the answer goes under the
/// message's id instead (or a name made from the content's hash).
fn basis_id(document: Option<&str>, message: Option<&str>, sha: Digest) -> String {
    document
        .into_iter()
        .chain(message)
        .find(|i| basis_id_ok(i))
        .map(str::to_string)
        .unwrap_or_else(|| format!("unknown-{}", &sha.to_hex()[..16]))
}

/// The sender must be the supplier, and the receiver a region the hub delivers to.
fn route_checks(
    sender: &str,
    c: &ClaimSpecification,
    receivers: &BTreeSet<String>,
) -> Vec<Finding> {
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
    if !receivers.contains(customer) {
        out.push(Finding::new(
            RULE_RECEIVER,
            "/claimSpecification/customerParty/identification",
            format!("the receiving region {customer} has no store this exchange delivers to"),
        ));
    }
    out
}

/// Why a basis was withheld, for the sender: the rules that decided, the board decision.
fn withholding(d: &Decision) -> Withholding {
    Withholding {
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
    }
}

fn policy_ref(d: &Decision) -> Option<PolicyRef> {
    d.policy_id.as_ref().map(|id| PolicyRef {
        id: id.clone(),
        version: d.policy_version.clone().unwrap_or_default(),
        board_decision: d
            .board_decision
            .as_ref()
            .map(|b| format!("{} ({})", b.reference, b.date))
            .unwrap_or_default(),
    })
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

pub(crate) fn sha256(bytes: &[u8]) -> Digest {
    Digest(Sha256::digest(bytes).into())
}

/// One keyed hash per distinct patient on the basis, in order of first appearance.
fn patients(key: &PatientKey, c: &ClaimSpecification) -> Vec<PatientHash> {
    let mut seen = BTreeSet::new();
    c.health_care_services_specification_line
        .iter()
        .map(|l| key.hash(&l.patient_information.patient_identity.extension))
        .filter(|h| seen.insert(*h))
        .collect()
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
    fn new(day: NaiveDate, schema: &Arc<Schema>, policies: &Arc<PolicySet>) -> Day {
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
