//! What each fuzz target asserts, shared by the fuzz targets (`fuzz/fuzz_targets/*.rs`) and by
//! the regression test (`tests/fuzz_regressions.rs`), so a crash file found by the fuzzer is
//! replayed through exactly the same checks on stable Rust in `make test`.
//!
//! Every check returns normally for any input; a broken promise panics, which libFuzzer reports
//! as a crash and the regression test as a failure.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use invoice_hub::claim::regions::REGIONS;
use invoice_hub::claim::ClaimSpecification;
use invoice_hub::policy::{Assessor, Outcome, Policy, PolicySet};
use invoice_hub::validate::{RuleContext, Validator};

/// A fixed "today", so a crash replays the same way on any day.
fn today() -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(2026, 11, 23).expect("a date")
}

fn policies_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|d| d.join("deploy/policies").is_dir())
        .expect("the repository's deploy/policies")
        .join("deploy/policies")
}

fn validator() -> &'static Validator {
    static V: OnceLock<Validator> = OnceLock::new();
    V.get_or_init(|| Validator::new(RuleContext::new(today())).expect("the schema compiles"))
}

fn example() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(|| {
        Policy::load(&policies_dir().join("region-halland.toml")).expect("the example policy")
    })
}

fn assessor() -> &'static Assessor {
    static A: OnceLock<Assessor> = OnceLock::new();
    A.get_or_init(|| {
        let set = PolicySet::template(example(), REGIONS.iter().map(|r| r.org));
        Assessor::new(set, validator().clone())
    })
}

/// Any bytes through the validation entry point: a report, never a panic; a report is valid
/// exactly when it has no findings, and a valid one carries the model the hub routes on.
pub(crate) fn validate(data: &[u8]) {
    let report = validator().validate(data);
    assert_eq!(report.is_valid(), report.findings.is_empty());
    if report.is_valid() {
        assert!(report.claim.is_some(), "a valid report carries its claim");
    }
    for f in &report.findings {
        assert!(!f.rule.is_empty(), "every finding names its rule");
    }
    let _ = report.text();
    let _ = report.to_response();
}

/// The example policy over any document: assessing never panics, and for a document that
/// passed validation — the only kind the hub assesses — every decision names its rules and a
/// disclosure is itself a valid basis (the "never send a broken basis" promise).
pub(crate) fn policy_assess(data: &[u8]) {
    let report = validator().validate(data);
    if let Some(claim) = report.claim.as_ref().filter(|_| report.is_valid()) {
        let d = assessor().assess(data, claim, today());
        assert!(!d.rules.is_empty(), "a decision names its rules");
        if matches!(d.outcome, Outcome::Disclose | Outcome::Remove) {
            let out = d
                .disclosed
                .as_deref()
                .expect("a disclosure carries its document");
            let again = validator().validate(out);
            assert!(
                again.is_valid(),
                "disclosed an invalid basis:\n{}",
                again.text()
            );
            assert!(
                d.board_decision.is_some(),
                "a disclosure names its board decision"
            );
        }
    } else if let Ok(claim) = ClaimSpecification::from_xml(data) {
        // A model that did not validate: the hub never assesses it, but the engine must not
        // fall over on it either.
        let _ = assessor().assess(data, &claim, today());
    }
}

/// Any text as a policy file: a clear error or a policy; a policy that loads is then applied to
/// a few valid bases of every shape without panicking, and its decisions name their rules.
pub(crate) fn policy_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // Policies are operator files; the fuzzer may not point one at another file to read.
    if text.contains("protected_identities") && !text.contains("\"protected-identities.txt\"") {
        return;
    }
    let path = policies_dir().join("fuzzed.toml");
    let Ok(policy) = Policy::parse(text, &path) else {
        return;
    };
    let set = PolicySet::template(&policy, REGIONS.iter().map(|r| r.org));
    let assessor = Assessor::new(set, validator().clone());
    for doc in sample_documents() {
        let claim = validator()
            .validate(doc)
            .claim
            .expect("sample documents are valid");
        let d = assessor.assess(doc, &claim, today());
        assert!(!d.rules.is_empty(), "a decision names its rules");
    }
}

fn sample_documents() -> &'static [Vec<u8>] {
    static DOCS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    DOCS.get_or_init(|| {
        let dir = policies_dir()
            .parent()
            .and_then(Path::parent)
            .map(|r| r.join("tests/data"));
        let dir = dir.expect("the repository");
        [
            "outpatient_patient_specific.xml",
            "inpatient_drg.xml",
            "credit_note_381.xml",
        ]
        .iter()
        .map(|f| std::fs::read(dir.join(f)).expect("tests/data document"))
        .collect()
    })
}
