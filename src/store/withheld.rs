//! Manual review (menprövning) of the bases a sending region's own policy withheld, in a store
//! run for that region: the hub hands each withheld basis here (`PUT /v1/review/{id}`, the
//! hub's certificate), where only the region's own named officials (`[access] assessors`) can
//! read it and decide. The decision waits here until the hub has fetched it
//! (`GET /v1/review/decisions`), logged it in the disclosure log naming the official, and, on a
//! release, sent the basis on through the normal delivery; then the hub marks it returned
//! (`POST /v1/review/{id}/returned`).
//!
//! So the withheld document never leaves the sending region's reach: it is in the hub's hands
//! while it is decided on, then in this store, sealed like every basis, and each view and
//! decision is an access-log entry.

use serde::{Deserialize, Serialize};

use super::storage::ClaimMeta;

/// Why the hub withheld a basis: what the official needs to see to decide, as the disclosure
/// log recorded it. No patient data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WhyWithheld {
    /// The receiving region's organisation number (where a release goes).
    pub receiver: String,
    pub policy_id: Option<String>,
    pub policy_version: Option<String>,
    /// The board decision the policy rests on: its reference and date.
    pub board_decision: Option<String>,
    /// The rules that matched, as `id: description`.
    pub rules: Vec<String>,
    /// The policy's reason, in the sender's clerk's words.
    pub reason: Option<String>,
    /// The hub instance that withheld it.
    pub withheld_by: String,
}

/// What the hub sends with a withheld basis (`PUT /v1/review/{id}`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewRequest {
    pub why: WhyWithheld,
    /// The document as received, base64.
    pub document: String,
}

/// What an official decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Disclose the basis as received.
    Release,
    /// Disclose it with what the policy's `remove` rules leave out.
    ReleaseWithRemovals,
    /// It stays withheld.
    Keep,
}

impl Verdict {
    pub const ALL: [Verdict; 3] = [
        Verdict::Release,
        Verdict::ReleaseWithRemovals,
        Verdict::Keep,
    ];

    /// The name in forms, JSON, the command line and the logs' `action`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Release => "release",
            Verdict::ReleaseWithRemovals => "release-with-removals",
            Verdict::Keep => "keep",
        }
    }

    pub fn parse(s: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn releases(self) -> bool {
        self != Verdict::Keep
    }
}

/// One official's decision: who (a certificate identity, never a name), when, what, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decided {
    pub verdict: Verdict,
    /// Issuer-bound identity of the certificate that decided ([`crate::pki::Identity::id`]).
    pub by: String,
    /// RFC 3339 UTC, seconds.
    pub at: String,
    pub reason: String,
}

/// A withheld basis in the review queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withheld {
    /// As for a received basis (`sender` is this region): for the list and the access log.
    pub meta: ClaimMeta,
    pub why: WhyWithheld,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided: Option<Decided>,
    /// The hub has logged the decision (and sent a release on): nothing more to fetch.
    #[serde(default)]
    pub returned: bool,
}

/// A decision as the hub fetches it: the basis, the document (base64), the decision.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecisionForHub {
    pub basis_id: String,
    /// SHA-256 of the document, lowercase hex: the hub checks it is the content it withheld.
    pub sha256: String,
    pub document: String,
    pub decided: Decided,
}
