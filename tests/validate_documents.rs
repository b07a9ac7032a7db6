//! The hand-made documents pass every layer, and the report turns into the contract's answer.

use invoice_hub::claim::{ProcessClaimSpecificationResponse, ResultCode};
use invoice_hub::validate::{RuleContext, Validator};

fn validator() -> Validator {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    Validator::new(RuleContext { today }).unwrap()
}

#[test]
fn every_hand_made_document_is_valid() {
    let v = validator();
    let dir = format!("{}/tests/data", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "xml") {
            let r = v.validate(&std::fs::read(&path).unwrap());
            assert!(r.is_valid(), "{}:\n{}", path.display(), r.text());
            assert!(r.id.as_deref().is_some_and(|id| id.starts_with("ZVF")));
            let resp = r.to_response();
            assert_eq!(resp.result_code, ResultCode::Ok);
            n += 1;
        }
    }
    assert!(n >= 4);
}

#[test]
fn an_invalid_document_answers_error_with_the_report() {
    let v = validator();
    let raw = std::fs::read_to_string(format!(
        "{}/tests/data/credit_note_381.xml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let raw = raw.replace(
        "<c:issueDate>20261120</c:issueDate>",
        "<c:issueDate>2026-11-20</c:issueDate>",
    );
    let r = v.validate(raw.as_bytes());
    let resp = r.to_response();
    assert_eq!(resp.result_code, ResultCode::Error);
    let comment = resp.comment.clone().unwrap();
    assert!(comment.contains("ZVF23210002552611000150"), "{comment}");
    assert!(
        comment.contains("XSD at /claimSpecification/issueDate"),
        "{comment}"
    );
    let xml = resp.to_xml();
    assert_eq!(
        ProcessClaimSpecificationResponse::from_xml(xml.as_bytes()).unwrap(),
        resp
    );
    // The response document is itself valid against the responder schema.
    assert!(v.schema().validate(xml.as_bytes(), 10).is_empty());
}
