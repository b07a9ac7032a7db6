//! Where a basis stands for the receiving region's staff: new until someone opens it, then
//! opened, and at last processed or disputed (with a reason). Kept in the store's database
//! beside the basis ([`super::storage::Storage::set_case`]); every change is also an entry in
//! the access log naming who made it, as every read is.

use serde::{Deserialize, Serialize};

/// The four states of the staff's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaseState {
    New,
    Opened,
    Processed,
    Disputed,
}

impl CaseState {
    pub const ALL: [CaseState; 4] = [
        CaseState::New,
        CaseState::Opened,
        CaseState::Processed,
        CaseState::Disputed,
    ];

    /// The lowercase name used in URLs, JSON, CSV and the access log's `action`.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::New => "new",
            CaseState::Opened => "opened",
            CaseState::Processed => "processed",
            CaseState::Disputed => "disputed",
        }
    }

    pub fn parse(s: &str) -> Option<CaseState> {
        CaseState::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// A basis's state, who set it (a certificate identity, never a name), when, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub state: CaseState,
    /// Issuer + serial of the certificate that set it; `None` while new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// RFC 3339 UTC, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// A dispute's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Default for Case {
    fn default() -> Case {
        Case {
            state: CaseState::New,
            by: None,
            at: None,
            reason: None,
        }
    }
}

/// The longest reason a dispute may give.
pub const MAX_REASON: usize = 500;

/// Checks a dispute's reason: required, at most [`MAX_REASON`] characters, one line of text, and
/// no run of ten or more digits — a personnummer typed into a reason would put a patient's
/// identity in clear into the access log, which holds patients only as keyed hashes.
pub fn check_reason(reason: &str) -> Result<&str, &'static str> {
    let r = reason.trim();
    if r.is_empty() {
        return Err("a dispute needs a reason");
    }
    if r.chars().count() > MAX_REASON {
        return Err("the reason is longer than 500 characters");
    }
    if r.chars().any(char::is_control) {
        return Err("the reason is one line of text");
    }
    let mut run = 0;
    for c in r.chars() {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        if run >= 10 {
            return Err(
                "the reason must not hold a personal identity number (ten or more digits in a row)",
            );
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_by_name() {
        for s in CaseState::ALL {
            assert_eq!(CaseState::parse(s.as_str()), Some(s));
        }
        assert_eq!(CaseState::parse("done"), None);
    }

    #[test]
    fn reasons_are_checked() {
        assert_eq!(check_reason("  wrong price list "), Ok("wrong price list"));
        assert!(check_reason(" ").is_err());
        assert!(check_reason("patient 196107044170 was not here").is_err());
        assert!(check_reason("invoice 123456789 twice").is_ok());
        assert!(check_reason("a\nb").is_err());
        assert!(check_reason(&"x".repeat(501)).is_err());
    }
}
