//! The hand-made documents pass every layer, and the report turns into the contract's answer.

use invoice_hub::claim::{ProcessClaimSpecificationResponse, ResultCode};
use invoice_hub::validate::{RuleContext, Validator};

fn validator() -> Validator {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    Validator::new(RuleContext::new(today)).unwrap()
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
    // One finding per line, in the form an official producer writes.
    assert!(
        comment.contains(
            "/ Location: /urn1:ProcessClaimSpecification/urn1:claimSpecification/urn2:issueDate \
             / Id: XSD / Test: the contract's XML schema"
        ),
        "{comment}"
    );
    assert!(
        comment.lines().nth(1).unwrap().starts_with("Error: "),
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

#[test]
fn what_the_model_writes_is_valid_against_the_schema() {
    let v = validator();
    let dir = format!("{}/tests/data", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "xml") {
            let doc = invoice_hub::claim::ProcessClaimSpecification::from_xml(
                &std::fs::read(&path).unwrap(),
            )
            .unwrap();
            let written = doc.to_xml();
            let r = v.validate(written.as_bytes());
            assert!(r.is_valid(), "{} as written:\n{}", path.display(), r.text());
        }
    }
}

#[test]
fn the_schema_directory_on_disk_compiles_and_agrees() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let schema = invoice_hub::validate::xsd::Schema::from_dir(&dir).unwrap();
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    let v = Validator::with_schema(std::sync::Arc::new(schema), RuleContext::new(today));
    let raw = std::fs::read(format!(
        "{}/tests/data/inpatient_drg.xml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    assert!(v.validate(&raw).is_valid());
    let bad = String::from_utf8(raw)
        .unwrap()
        .replace("<c:typeOfInvoice>380</c:typeOfInvoice>", "");
    assert_eq!(v.validate(bad.as_bytes()).findings[0].rule, "XSD");
    // A directory without the schemas is a clear error, not a panic.
    assert!(
        invoice_hub::validate::xsd::Schema::from_dir(std::path::Path::new("/nonexistent")).is_err()
    );
}

/// Thousands of randomly damaged documents (bytes flipped, cut, duplicated): the validator
/// never panics, always reports something for a broken document, and still accepts the
/// original afterwards.
#[test]
fn damaged_documents_never_panic() {
    use rand::{Rng, SeedableRng};
    let v = validator();
    let original = std::fs::read(format!(
        "{}/tests/data/asylum_extensions_default_ns.xml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut refused = 0;
    for _ in 0..2000 {
        let mut doc = original.clone();
        match rng.gen_range(0..4) {
            0 => {
                for _ in 0..rng.gen_range(1..4) {
                    let i = rng.gen_range(0..doc.len());
                    doc[i] = rng.gen();
                }
            }
            1 => doc.truncate(rng.gen_range(0..doc.len())),
            2 => {
                let a = rng.gen_range(0..doc.len());
                let b = rng.gen_range(a..doc.len().min(a + 200));
                let piece = doc[a..b].to_vec();
                let at = rng.gen_range(0..doc.len());
                doc.splice(at..at, piece);
            }
            _ => {
                let a = rng.gen_range(0..doc.len());
                let b = rng.gen_range(a..doc.len().min(a + 50));
                doc.drain(a..b);
            }
        }
        let r = v.validate(&doc);
        if !r.is_valid() {
            refused += 1;
            assert!(r
                .findings
                .iter()
                .all(|f| !f.rule.is_empty() && f.path.starts_with('/')));
        }
    }
    assert!(
        refused > 1000,
        "only {refused} of 2000 damaged documents refused"
    );
    assert!(v.validate(&original).is_valid());
}
