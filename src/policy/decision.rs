//! The answer of an assessment, in a form the sender, the disclosure log and an auditor can all
//! read: what happens to the basis, which rules said so, and the board decision behind them.

use serde::Serialize;

use super::file::BoardDecision;

/// What a rule asks for. Ordered by restrictiveness: a later variant beats an earlier one.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Disclose,
    Remove,
    Withhold,
    Reject,
}

/// What happens to the basis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Sent as received.
    Disclose,
    /// Sent with the listed elements left out.
    Remove,
    /// Not sent; the sender is told it needs manual review, and why.
    Withhold,
    /// Not sent; the policy refuses it outright.
    Reject,
}

impl Outcome {
    /// Whether the basis (or its reduced form) goes to the receiving region.
    pub fn discloses(self) -> bool {
        matches!(self, Outcome::Disclose | Outcome::Remove)
    }
}

impl From<Action> for Outcome {
    fn from(a: Action) -> Self {
        match a {
            Action::Disclose => Outcome::Disclose,
            Action::Remove => Outcome::Remove,
            Action::Withhold => Outcome::Withhold,
            Action::Reject => Outcome::Reject,
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Outcome::Disclose => "disclose",
            Outcome::Remove => "disclose with elements removed",
            Outcome::Withhold => "withhold for manual review",
            Outcome::Reject => "reject",
        })
    }
}

/// A rule that matched, and on which units of care.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchedRule {
    pub id: String,
    pub action: Action,
    pub description: String,
    /// Paths of the `healthcarePerformed` elements it matched (1-based positions).
    pub matched: Vec<String>,
}

/// The decision on one basis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    pub basis_id: String,
    pub outcome: Outcome,
    /// Policy id and version; `None` only when the sender has no policy in force.
    pub policy_id: Option<String>,
    pub policy_version: Option<String>,
    pub board_decision: Option<BoardDecision>,
    /// Every rule that matched, in policy order. Synthetic rules (`PROTECTED-IDENTITY`,
    /// `NO-RULE`, `REVALIDATION`, `NO-POLICY`) appear here too, so the list always says why.
    pub rules: Vec<MatchedRule>,
    /// Absolute paths of the elements left out (sorted), for `remove`.
    pub removed: Vec<String>,
    /// Why the basis is withheld or rejected, in words the sender's clerk understands.
    pub reason: Option<String>,
    /// The document to send: `Some` exactly when the outcome discloses.
    #[serde(skip)]
    pub disclosed: Option<Vec<u8>>,
}

impl Decision {
    /// The ids of the matched rules, for the disclosure log.
    pub fn rule_ids(&self) -> Vec<String> {
        self.rules.iter().map(|r| r.id.clone()).collect()
    }

    /// A few lines for people: outcome, policy, board decision, rules, removals, reason.
    pub fn text(&self) -> String {
        let mut s = format!("{}: {}\n", self.basis_id, self.outcome);
        if let (Some(id), Some(v)) = (&self.policy_id, &self.policy_version) {
            s.push_str(&format!("  policy {id} version {v}\n"));
        }
        if let Some(b) = &self.board_decision {
            s.push_str(&format!("  board decision {} of {}\n", b.reference, b.date));
        }
        for r in &self.rules {
            s.push_str(&format!(
                "  rule {} ({:?}) on {} unit(s) of care: {}\n",
                r.id,
                r.action,
                r.matched.len(),
                r.description
            ));
        }
        for p in &self.removed {
            s.push_str(&format!("  removed {p}\n"));
        }
        if let Some(r) = &self.reason {
            s.push_str(&format!("  reason: {r}\n"));
        }
        s
    }
}
