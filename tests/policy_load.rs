//! A malformed policy never loads, and the error names the file, the line and the key, so the
//! person who wrote it can fix it. One case per promise.

use std::path::PathBuf;

use invoice_hub::policy::PolicySet;

const GOOD: &str = r#"id = "p"
version = "1"
region = "2321000255"

[board_decision]
reference = "RS 2026/1 §1"
date = "2026-01-10"

[validity]
from = "2026-01-01"
to = "2026-12-31"

[[rule]]
id = "A"
description = "psychiatry"
action = "remove"
remove = ["healthcarePerformed/diagnosis"]
when = { medical_field_code = ["9"] }

[[rule]]
id = "B"
description = "default"
action = "disclose"
"#;

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Loads `text` (as `policy.toml`) and returns the error message; panics if it loads.
fn error_of(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "policy.toml", text);
    match PolicySet::load(&[p]) {
        Ok(_) => panic!("loaded:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).expect(needle) + 1
}

/// Asserts the error names policy.toml, the line holding `at` and every one of `words`.
fn expect(text: &str, at: &str, words: &[&str]) {
    let e = error_of(text);
    let line = line_of(text, at);
    assert!(
        e.contains(&format!("policy.toml:{line}:")),
        "want line {line}: {e}"
    );
    for w in words {
        assert!(e.contains(w), "want {w:?} in: {e}");
    }
}

#[test]
fn the_good_policy_loads() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "policy.toml", GOOD);
    let set = PolicySet::load(&[p]).unwrap();
    assert_eq!(set.iter().count(), 1);
}

#[test]
fn an_unknown_top_level_key() {
    let t = GOOD.replace("version = \"1\"", "version = \"1\"\nrgeion = \"x\"");
    expect(&t, "rgeion", &["rgeion"]);
}

#[test]
fn an_unknown_key_in_a_rule() {
    let t = GOOD.replace("action = \"disclose\"", "action = \"disclose\"\nwhne = {}");
    expect(&t, "whne", &["whne"]);
}

#[test]
fn an_unknown_condition() {
    let t = GOOD.replace("medical_field_code = [\"9\"]", "medical_field = [\"9\"]");
    expect(&t, "medical_field =", &["medical_field"]);
}

#[test]
fn an_unknown_action() {
    let t = GOOD.replace("action = \"disclose\"", "action = \"publish\"");
    expect(&t, "publish", &["publish"]);
}

#[test]
fn a_removal_path_that_does_not_exist() {
    let t = GOOD.replace(
        "healthcarePerformed/diagnosis",
        "healthcarePerformed/diagnoses",
    );
    expect(
        &t,
        "diagnoses",
        &[
            "rule[0].remove",
            "healthcarePerformed/diagnoses",
            "not an element",
        ],
    );
}

#[test]
fn a_removal_of_a_required_element() {
    let t = GOOD.replace(
        "[\"healthcarePerformed/diagnosis\"]",
        "[\"healthcarePerformed/diagnosis\",\n          \"healthcarePerformed/activity/medicalFieldCode\"]",
    );
    expect(
        &t,
        "medicalFieldCode",
        &["rule[0].remove", "required by the contract"],
    );
}

#[test]
fn remove_without_elements_and_elements_without_remove() {
    let t = GOOD.replace("remove = [\"healthcarePerformed/diagnosis\"]\n", "");
    expect(&t, "[[rule]]", &["rule[0].remove", "needs a list"]);
    let t = GOOD.replace(
        "remove = [\"healthcarePerformed/diagnosis\"]",
        "remove = []",
    );
    expect(&t, "[[rule]]", &["rule[0].remove", "at least one"]);
    let t = GOOD.replace(
        "action = \"disclose\"",
        "action = \"disclose\"\nremove = [\"healthcarePerformed/diagnosis\"]",
    );
    let at = t.rfind("remove = ").unwrap();
    let line = t[..at].matches('\n').count() + 1;
    let e = error_of(&t);
    assert!(
        e.contains(&format!("policy.toml:{line}:")) && e.contains("rule[1].remove"),
        "{e}"
    );
}

#[test]
fn overlapping_validity_periods() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir, "a.toml", GOOD);
    let second = GOOD.replace("version = \"1\"", "version = \"2\"").replace(
        "from = \"2026-01-01\"\nto = \"2026-12-31\"",
        "from = \"2026-12-01\"",
    );
    write(&dir, "b.toml", &second);
    let e = PolicySet::load(&[dir.path().to_path_buf()])
        .unwrap_err()
        .to_string();
    let line = line_of(&second, "[validity]");
    assert!(e.contains(&format!("b.toml:{line}: `validity`")), "{e}");
    assert!(
        e.contains("a.toml") && e.contains("overlaps version 1"),
        "{e}"
    );

    // Back to back is fine.
    let third = second.replace("from = \"2026-12-01\"", "from = \"2027-01-01\"");
    write(&dir, "b.toml", &third);
    PolicySet::load(&[dir.path().to_path_buf()]).unwrap();
}

#[test]
fn bad_dates_and_an_inverted_validity() {
    let t = GOOD.replace("from = \"2026-01-01\"", "from = \"2026-13-01\"");
    expect(&t, "2026-13-01", &["validity.from", "not a date"]);
    let t = GOOD.replace("to = \"2026-12-31\"", "to = \"2025-12-31\"");
    expect(&t, "2025-12-31", &["validity.to", "before it starts"]);
    let t = GOOD.replace("date = \"2026-01-10\"", "date = \"10 jan\"");
    expect(&t, "[board_decision]", &["board_decision.date"]);
}

#[test]
fn a_policy_without_a_board_decision_or_rules() {
    let t = GOOD.replace("reference = \"RS 2026/1 §1\"", "reference = \" \"");
    expect(
        &t,
        "[board_decision]",
        &["board_decision.reference", "must not be empty"],
    );
    let t = GOOD.replace(
        "[board_decision]\nreference = \"RS 2026/1 §1\"\ndate = \"2026-01-10\"\n",
        "",
    );
    let e = error_of(&t);
    assert!(
        e.contains("policy.toml:") && e.contains("board_decision"),
        "{e}"
    );
    let t = &GOOD[..GOOD.find("[[rule]]").unwrap()];
    expect(t, "id = \"p\"", &["`rule`", "at least one"]);
}

#[test]
fn duplicate_rule_ids() {
    let t = GOOD.replace("id = \"B\"", "id = \"A\"");
    let at = t.rfind("id = \"A\"").unwrap();
    let line = t[..at].matches('\n').count() + 1;
    let e = error_of(&t);
    assert!(
        e.contains(&format!("policy.toml:{line}:")) && e.contains("used twice"),
        "{e}"
    );
}

#[test]
fn conditions_that_could_never_be_meant() {
    let t = GOOD.replace("medical_field_code = [\"9\"]", "medical_field_code = []");
    expect(&t, "[[rule]]", &["when.medical_field_code", "empty list"]);
    let t = GOOD.replace(
        "medical_field_code = [\"9\"]",
        "age = { min = 18, max = 17 }",
    );
    expect(&t, "[[rule]]", &["when.age", "greater"]);
    let t = GOOD.replace(
        "medical_field_code = [\"9\"]",
        "any = [{ icd10 = [\"O08-O00\"] }]",
    );
    expect(&t, "[[rule]]", &["when.any[0].icd10", "O08-O00"]);
    let t = GOOD.replace(
        "medical_field_code = [\"9\"]",
        "not = { receiver = [\"Region Halland\"] }",
    );
    expect(&t, "[[rule]]", &["when.not.receiver", "10-digit"]);
    let t = GOOD.replace(
        "medical_field_code = [\"9\"]",
        "patient_id = [\"passport\"]",
    );
    expect(&t, "passport", &["passport"]);
}

#[test]
fn a_bad_region_and_a_missing_protected_identities_file() {
    let t = GOOD.replace("region = \"2321000255\"", "region = \"Skåne\"");
    expect(&t, "Skåne", &["`region`", "10-digit"]);
    let t = GOOD.replace(
        "region = \"2321000255\"",
        "region = \"2321000255\"\nprotected_identities = \"nope.txt\"",
    );
    expect(&t, "nope.txt", &["protected_identities", "cannot be read"]);
}

#[test]
fn a_directory_without_policies_and_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let e = PolicySet::load(&[dir.path().to_path_buf()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("no policy files"), "{e}");
    let e = PolicySet::load(&[dir.path().join("gone.toml")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("gone.toml") && e.contains("cannot read"), "{e}");
}
