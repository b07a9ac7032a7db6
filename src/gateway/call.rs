//! One call of `ProcessClaimSpecification`, from the authenticated certificate to the answer:
//!
//! ```text
//! caller ─▶ envelope ─▶ LogicalAddress ─▶ repeat? ─▶ checks ─────────────▶ the exchange ─▶ answer
//! (cert,     (safety,    (present: VP003,  (first     (XSD, rules; receiver  (submit, wait for
//!  VP007,     SOAP 1.1,   a receiver:       answer     = LogicalAddress,      the decision:
//!  VP013)     operation)  VP004)            again)     caller = supplier)     ACCEPTED → OK)
//! ```
//!
//! What the caller did wrong in the basis is the contract's `ERROR` with one finding per line
//! (the basis is not received); what the caller did wrong in the call is a Fault with the
//! platform's code; what the exchange could not do is a `soap:Server` Fault (VP009), which the
//! caller answers by sending again — and a repeat gets the first answer.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use chrono::NaiveDate;
use sha2::{Digest as _, Sha256};

use crate::broker::{Outcome, StatusMessage, Withholding};
use crate::claim::ResultCode;
use crate::hub::{RULE_RECEIVER, RULE_SENDER};
use crate::pki::Identity;
use crate::validate::xsd::Schema;
use crate::validate::{contract_comment, safety, Finding, Profile, Report, RuleContext, Validator};

use super::caller::{identify, Caller};
use super::Gateway;
use crate::rivta::envelope::{self, EnvelopeError};
use crate::rivta::soap::{self, Code};

/// What the gateway sends back: an answer (HTTP 200) or a Fault (HTTP 500).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reply {
    Answer {
        result: ResultCode,
        comment: Option<String>,
    },
    Fault {
        code: Code,
        why: String,
    },
}

impl Reply {
    fn error(comment: String) -> Reply {
        Reply::Answer {
            result: ResultCode::Error,
            comment: Some(comment),
        }
    }

    fn fault(code: Code, why: impl Into<String>) -> Reply {
        Reply::Fault {
            code,
            why: why.into(),
        }
    }

    /// The label of `ih_gateway_calls_total` and the log line.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            Reply::Answer { result, .. } => result.as_str(),
            Reply::Fault { code, .. } => code.as_str(),
        }
    }
}

/// Answers one call by `who` (the verified client certificate) with the value of
/// `x-rivta-original-serviceconsumer-hsaid`, if sent, and the request's body.
pub(crate) async fn answer(
    gw: &Gateway,
    who: &Identity,
    original: Option<&str>,
    body: Bytes,
) -> Reply {
    let caller = match identify(&gw.cfg, who, original) {
        Ok(c) => c,
        Err(refused) => {
            tracing::warn!(who = %who.id(), code = refused.code.as_str(), "call refused: {}", refused.why);
            return Reply::fault(refused.code, refused.why);
        }
    };
    let request = match envelope::read(&body, &gw.checks.limits) {
        Ok(r) => r,
        Err(EnvelopeError::Unsafe(f)) => return Reply::error(contract_comment(None, &[f])),
        Err(e) => return Reply::fault(Code::Vp015, e.to_string()),
    };
    let Some(address) = request.logical_address.filter(|a| !a.is_empty()) else {
        return Reply::fault(
            Code::Vp003,
            "the header has no LogicalAddress ({urn:riv:itintegration:registry:1}LogicalAddress: \
             the receiving region's organisation number)",
        );
    };
    if !gw.cfg.receivers.contains(&address) {
        return Reply::fault(
            Code::Vp004,
            format!(
                "no route for LogicalAddress {address}: the exchange delivers to no such region"
            ),
        );
    }
    let digest = Sha256::digest(&request.document).into();
    let key = (caller.org.clone(), address.clone(), digest);
    let call = Call {
        gw,
        caller: &caller,
        address: &address,
        document: request.document,
    };
    gw.repeats.answer(key, call.decide()).await
}

/// A call that passed the envelope's checks.
struct Call<'a> {
    gw: &'a Gateway,
    caller: &'a Caller,
    address: &'a str,
    document: Vec<u8>,
}

impl Call<'_> {
    /// The basis's checks, then the exchange's decision. `Err` is a Fault: not kept as the
    /// answer to a repeat, since sending again is what a Fault asks for.
    async fn decide(mut self) -> Result<Reply, Reply> {
        let profile = self.gw.cfg.validation.profile_of(&self.caller.org);
        let validator = self.gw.checks.today(profile);
        let doc = Bytes::from(std::mem::take(&mut self.document));
        let for_check = doc.clone();
        let mut report = crate::cpu::run(move || validator.validate(&for_check))
            .await
            .map_err(|e| Reply::fault(Code::Vp009, format!("the check failed: {e}")))?;
        report.findings.extend(self.route_checks(&report));
        let Some(id) = report.id.clone().filter(|_| report.is_valid()) else {
            return Ok(Reply::error(
                report.to_response().comment.unwrap_or_default(),
            ));
        };
        let caller = (self.caller.org.as_str(), self.caller.id.as_str());
        let within = self.gw.cfg.answer_timeout;
        match self
            .gw
            .submitter
            .submit(&id, doc.to_vec(), caller, within)
            .await
        {
            Ok(status) => Ok(contract_answer(&status)),
            Err(e) => {
                tracing::warn!(basis = %id, error = %e, "no answer from the exchange");
                Err(Reply::fault(
                    Code::Vp009,
                    format!("{e}; send the basis again"),
                ))
            }
        }
    }

    /// The receiver is the call's LogicalAddress and the supplier is the caller's region.
    fn route_checks(&self, report: &Report) -> Vec<Finding> {
        let Some(c) = &report.claim else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let customer = c.customer_party.organisation_number().unwrap_or("");
        if customer != self.address {
            out.push(Finding::new(
                RULE_RECEIVER,
                "/claimSpecification/customerParty/identification",
                format!(
                    "the customer {customer} is not the call's LogicalAddress {}",
                    self.address
                ),
            ));
        }
        let supplier = c.supplier_party.organisation_number().unwrap_or("");
        if supplier != self.caller.org {
            out.push(Finding::new(
                RULE_SENDER,
                "/claimSpecification/supplierParty/identification",
                format!(
                    "the supplier {supplier} is not the calling region {} (certificate {})",
                    self.caller.org, self.caller.id
                ),
            ));
        }
        out
    }
}

/// The contract's answer for the hub's decision.
fn contract_answer(s: &StatusMessage) -> Reply {
    match s.outcome {
        Outcome::Ok | Outcome::Accepted | Outcome::Queued => Reply::Answer {
            result: ResultCode::Ok,
            comment: None,
        },
        Outcome::Error => Reply::error(contract_comment(Some(&s.basis_id), &s.findings)),
        Outcome::Withheld | Outcome::Rejected => Reply::error(withheld_comment(
            &s.basis_id,
            s.outcome,
            s.withheld.as_ref(),
        )),
    }
}

/// A basis the sending region's policy keeps: the rule and the board decision, in the
/// contract's line form; for the receiving region it is not received.
fn withheld_comment(id: &str, outcome: Outcome, w: Option<&Withholding>) -> String {
    let (rule, board, reason) = w.map_or(("(unknown)", "(unknown)", ""), |w| {
        (
            w.rule.as_str(),
            w.board_decision.as_str(),
            w.reason.as_str(),
        )
    });
    let what = match outcome {
        Outcome::Rejected => "refuses to disclose this basis",
        _ => "withholds this basis for manual review (menprövning)",
    };
    format!(
        "1 problem in invoice basis {id}:\nError: the sending region's policy {what}: {reason}; \
         the receiving region has not received it / Location: \
         /urn1:ProcessClaimSpecification/urn1:claimSpecification / Id: {rule} / Test: the \
         sending region's standardised harm assessment, rule {rule}, board decision {board}\n"
    )
}

/// Today's validators (the rules compare dates with today), and the safety limits.
pub(crate) struct Checks {
    schema: Arc<Schema>,
    pub(crate) limits: safety::Limits,
    day: Mutex<Option<(NaiveDate, Validator, Validator)>>,
}

impl Checks {
    pub(crate) fn new(schema: Arc<Schema>, max_bytes: usize) -> Checks {
        Checks {
            schema,
            limits: safety::Limits {
                max_bytes,
                ..safety::Limits::default()
            },
            day: Mutex::new(None),
        }
    }

    fn today(&self, profile: Profile) -> Validator {
        let now = crate::clock::today();
        let mut day = self.day.lock().unwrap_or_else(|p| p.into_inner());
        if day.as_ref().is_none_or(|d| d.0 != now) {
            let make = |ctx: RuleContext| {
                Validator::with_schema(self.schema.clone(), ctx).with_limits(self.limits)
            };
            let official = RuleContext::new(now).with_profile(Profile::OfficialSchematron);
            *day = Some((now, make(RuleContext::new(now)), make(official)));
        }
        let (_, contract, official) = day.as_ref().expect("set above");
        match profile {
            Profile::Contract => contract.clone(),
            Profile::OfficialSchematron => official.clone(),
        }
    }
}

/// `soap::answer`/`soap::fault` for a reply, with its HTTP status.
pub(crate) fn render(reply: &Reply) -> (u16, String) {
    match reply {
        Reply::Answer { result, comment } => (200, soap::answer(*result, comment.as_deref())),
        Reply::Fault { code, why } => (500, soap::fault(*code, why)),
    }
}
