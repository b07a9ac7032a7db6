//! Applying a policy to one validated basis: facts per unit of care → matching rules → the most
//! restrictive outcome → removals → the reduced document validated again.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::NaiveDate;

use super::decision::{Action, Decision, MatchedRule, Outcome};
use super::facts::LineFacts;
use super::file::{Policy, PolicySet};
use super::removal;
use crate::claim::{ClaimSpecification, ProcessClaimSpecification};
use crate::validate::Validator;

/// A patient on the basis has protected identity.
pub const RULE_PROTECTED: &str = "PROTECTED-IDENTITY";
/// No rule of the policy matched: nothing allows disclosure.
pub const RULE_NO_RULE: &str = "NO-RULE";
/// The sending region has no policy in force.
pub const RULE_NO_POLICY: &str = "NO-POLICY";
/// The reduced document no longer satisfies the contract.
pub const RULE_REVALIDATION: &str = "REVALIDATION";

/// Applies the sending region's policy. Built once; `Send + Sync`, shared across workers.
#[derive(Debug, Clone)]
pub struct Assessor {
    policies: Arc<PolicySet>,
    validator: Validator,
}

fn synthetic(id: &str, action: Action, description: impl Into<String>) -> MatchedRule {
    MatchedRule {
        id: id.into(),
        action,
        description: description.into(),
        matched: Vec::new(),
    }
}

fn line_path(i: usize) -> String {
    format!(
        "/claimSpecification/healthCareServicesSpecificationLine[{}]",
        i + 1
    )
}

fn performed_path(i: usize, j: usize) -> String {
    format!("{}/healthcarePerformed[{}]", line_path(i), j + 1)
}

impl Assessor {
    /// `validator` checks documents after removal; give it the same rule context as the one
    /// that checked them on arrival.
    pub fn new(policies: impl Into<Arc<PolicySet>>, validator: Validator) -> Assessor {
        Assessor {
            policies: policies.into(),
            validator,
        }
    }

    pub fn policies(&self) -> &PolicySet {
        &self.policies
    }

    /// Decides on one basis that has already passed validation. `raw` is the document as
    /// received (disclosed as is when nothing is removed); `claim` its model; `today` picks the
    /// policy version in force.
    pub fn assess(&self, raw: &[u8], claim: &ClaimSpecification, today: NaiveDate) -> Decision {
        self.assess_with(raw, claim, today, false)
    }

    /// The decision after a manual review released a withheld basis: as received
    /// (`with_removals` false), or with what the policy's `remove` rules leave out — every
    /// `withhold` the official overrode counting as `disclose`, and the result checked against
    /// the contract again (withheld still if it no longer satisfies it). The rules that matched
    /// are recorded all the same.
    pub fn assess_released(
        &self,
        raw: &[u8],
        claim: &ClaimSpecification,
        today: NaiveDate,
        with_removals: bool,
    ) -> Decision {
        let mut d = self.assess_with(raw, claim, today, true);
        if !with_removals && d.outcome != Outcome::Reject {
            d.outcome = Outcome::Disclose;
            d.removed.clear();
            d.disclosed = Some(raw.to_vec());
        }
        if d.outcome.discloses() {
            d.reason = None;
        }
        d
    }

    /// [`Assessor::assess`]; `released`: a reviewer overrode every `withhold`.
    #[expect(
        clippy::too_many_lines,
        reason = "the assessment in the order a policy reads: the sender's policy in force, its rules in order, removals, the check after removal"
    )]
    fn assess_with(
        &self,
        raw: &[u8],
        claim: &ClaimSpecification,
        today: NaiveDate,
        released: bool,
    ) -> Decision {
        let sender = claim.supplier_party.organisation_number().unwrap_or("");
        let mut decision = Decision {
            basis_id: claim.id.trim().to_string(),
            outcome: Outcome::Withhold,
            policy_id: None,
            policy_version: None,
            board_decision: None,
            rules: Vec::new(),
            removed: Vec::new(),
            reason: None,
            disclosed: None,
        };
        let Some(policy) = self.policies.in_force(sender, today) else {
            decision.rules.push(synthetic(
                RULE_NO_POLICY,
                Action::Withhold,
                "the sending region has no policy in force",
            ));
            decision.reason = Some(format!(
                "no policy of the sending region {sender} is in force on {today}: without a \
                 board decision nothing is disclosed automatically"
            ));
            if released {
                decision.outcome = Outcome::Disclose;
                decision.disclosed = Some(raw.to_vec());
            }
            return decision;
        };
        decision.policy_id = Some(policy.id.clone());
        decision.policy_version = Some(policy.version.clone());
        decision.board_decision = Some(policy.board_decision.clone());

        let units: Vec<(usize, usize, LineFacts<'_>)> = claim
            .health_care_services_specification_line
            .iter()
            .enumerate()
            .flat_map(|(i, line)| {
                line.healthcare_performed
                    .iter()
                    .enumerate()
                    .map(move |(j, p)| (i, j, LineFacts::of(claim, line, p)))
            })
            .collect();

        // (rule index, units it matched) for every rule that matched.
        let mut hits: Vec<(usize, Vec<(usize, usize)>)> = Vec::new();
        for (k, rule) in policy.rules.iter().enumerate() {
            let on: Vec<(usize, usize)> = units
                .iter()
                .filter(|(_, _, f)| rule.when.holds(f))
                .map(|(i, j, _)| (*i, *j))
                .collect();
            if !on.is_empty() {
                decision.rules.push(MatchedRule {
                    id: rule.id.clone(),
                    action: rule.action,
                    description: rule.description.clone(),
                    matched: on.iter().map(|&(i, j)| performed_path(i, j)).collect(),
                });
                hits.push((k, on));
            }
        }
        let protected_lines: Vec<usize> = claim
            .health_care_services_specification_line
            .iter()
            .enumerate()
            .filter(|(_, l)| {
                policy
                    .protected
                    .contains(&l.patient_information.patient_identity.extension)
            })
            .map(|(i, _)| i)
            .collect();
        if !protected_lines.is_empty() {
            let mut m = synthetic(
                RULE_PROTECTED,
                Action::Withhold,
                "a patient has protected identity (skyddad identitet)",
            );
            m.matched = protected_lines.iter().map(|&i| line_path(i)).collect();
            decision.rules.push(m);
        }

        let effective = |a: Action| match a {
            Action::Withhold if released => Action::Disclose,
            a => a,
        };
        let top = decision.rules.iter().map(|r| effective(r.action)).max();
        let top = match top {
            None if released => Some(Action::Disclose),
            top => top,
        };
        let Some(top) = top else {
            decision.rules.push(synthetic(
                RULE_NO_RULE,
                Action::Withhold,
                "no rule of the policy allows disclosing this basis",
            ));
            decision.reason = Some(format!(
                "no rule of policy {} version {} matches this basis, so nothing allows its \
                 disclosure; it needs manual review",
                policy.id, policy.version
            ));
            return decision;
        };
        decision.outcome = top.into();
        match decision.outcome {
            Outcome::Disclose => decision.disclosed = Some(raw.to_vec()),
            Outcome::Remove => self.remove(raw, policy, &hits, &mut decision),
            Outcome::Withhold | Outcome::Reject => {
                decision.reason = Some(self.refusal(policy, &decision));
            }
        }
        decision
    }

    /// Why a basis is withheld or rejected: the reasons of the rules that decided it.
    fn refusal(&self, policy: &Policy, decision: &Decision) -> String {
        let top = decision.rules.iter().map(|r| r.action).max();
        let reasons: Vec<String> = decision
            .rules
            .iter()
            .filter(|r| Some(r.action) == top)
            .map(|m| {
                let stated = policy
                    .rules
                    .iter()
                    .find(|r| r.id == m.id)
                    .and_then(|r| r.reason.clone())
                    .unwrap_or_else(|| m.description.clone());
                format!("rule {}: {}", m.id, stated)
            })
            .collect();
        reasons.join("; ")
    }

    /// Leaves out what the matched `remove` rules name, on the units they matched, and checks
    /// the result against the contract again ([`Validator::recheck`]: the reduced model and its
    /// bytes, without reading them back).
    fn remove(
        &self,
        raw: &[u8],
        policy: &Policy,
        hits: &[(usize, Vec<(usize, usize)>)],
        decision: &mut Decision,
    ) {
        // The envelope too, so that nothing but the removed elements changes.
        let mut doc = match ProcessClaimSpecification::from_xml(raw) {
            Ok(d) => d,
            Err(e) => {
                decision.outcome = Outcome::Withhold;
                decision.reason = Some(format!("the basis could not be read again: {e}"));
                return;
            }
        };
        let lines = &mut doc
            .claim_specification
            .health_care_services_specification_line;
        let mut removed = BTreeSet::new();
        let mut touched = BTreeSet::new();
        for (k, on) in hits {
            let rule = &policy.rules[*k];
            if rule.action != Action::Remove {
                continue;
            }
            for &(i, j) in on {
                for path in &rule.remove {
                    let r = removal::find(path).expect("checked when the policy was read");
                    if r.is_patient_level() {
                        let o = &mut lines[i].patient_information.patient_other_information;
                        if r.apply_patient(o) {
                            removed.insert(format!(
                                "{}/patientInformation/{}",
                                line_path(i),
                                r.tail()
                            ));
                        }
                    } else if r.apply_performed(&mut lines[i].healthcare_performed[j]) {
                        removed.insert(format!("{}/{}", performed_path(i, j), r.tail()));
                        touched.insert((i, j));
                    }
                }
            }
        }
        for (i, j) in touched {
            for container in removal::prune(&mut lines[i].healthcare_performed[j]) {
                removed.insert(format!("{}/{container}", performed_path(i, j)));
            }
        }
        if removed.is_empty() {
            // The rules named elements this basis does not have: it goes as it is.
            decision.outcome = Outcome::Disclose;
            decision.disclosed = Some(raw.to_vec());
            return;
        }
        decision.removed = removed.into_iter().collect();
        let bytes = doc.to_xml().into_bytes();
        // The reduced model is in hand: check it, not a parse of its bytes.
        let findings = self.validator.recheck(&bytes, &doc.claim_specification);
        if findings.is_empty() {
            decision.disclosed = Some(bytes);
            return;
        }
        decision.outcome = Outcome::Withhold;
        decision.rules.push(synthetic(
            RULE_REVALIDATION,
            Action::Withhold,
            "the basis with the policy's removals no longer satisfies the contract",
        ));
        let broken: Vec<String> = findings.iter().take(5).map(|f| f.to_string()).collect();
        decision.reason = Some(format!(
            "leaving out what the policy removes would break the contract, so the basis is \
             withheld instead of sent broken: {}",
            broken.join("; ")
        ));
    }
}
