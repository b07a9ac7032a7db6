//! Hostile and broken input: each is refused with a clear finding under the right rule id, and
//! the next good document is checked normally afterwards by the same validator.

use std::sync::Arc;

use invoice_hub::validate::{Limits, Report, RuleContext, Validator};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn validator() -> Validator {
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
    Validator::new(RuleContext::new(today)).expect("the shipped schema compiles")
}

fn good(v: &Validator) {
    for name in ["outpatient_patient_specific.xml", "inpatient_drg.xml"] {
        let r = v.validate(&data(name));
        assert!(r.is_valid(), "{name}: {}", r.text());
        assert!(r.claim.is_some());
    }
}

fn rules(r: &Report) -> Vec<&str> {
    r.findings.iter().map(|f| f.rule.as_str()).collect()
}

fn expect(v: &Validator, doc: &[u8], rule: &str, message_part: &str) -> Report {
    let r = v.validate(doc);
    assert!(!r.is_valid(), "accepted a document that breaks {rule}");
    assert!(
        r.findings
            .iter()
            .any(|f| f.rule == rule && f.message.contains(message_part)),
        "expected {rule} mentioning {message_part:?}, got:\n{}",
        r.text()
    );
    good(v);
    r
}

fn replace(name: &str, from: &str, to: &str) -> Vec<u8> {
    let raw = String::from_utf8(data(name)).unwrap();
    assert!(raw.contains(from), "{from}");
    raw.replacen(from, to, 1).into_bytes()
}

#[test]
fn billion_laughs_is_refused_before_any_parser() {
    let v = validator();
    let mut doc =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        doc.push_str(&format!(
            " <!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    doc.push_str("]>\n<lolz>&lol9;</lolz>\n");
    let r = expect(&v, doc.as_bytes(), "SAFETY-DOCTYPE", "DOCTYPE");
    assert_eq!(r.findings.len(), 1);
}

#[test]
fn external_entity_is_refused() {
    let v = validator();
    let doc = replace(
        "outpatient_patient_specific.xml",
        "<urn:ProcessClaimSpecification",
        "<!DOCTYPE urn:ProcessClaimSpecification [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n<urn:ProcessClaimSpecification",
    );
    let doc = String::from_utf8(doc)
        .unwrap()
        .replace(">Ekokardiografi<", ">&xxe;<");
    let r = expect(&v, doc.as_bytes(), "SAFETY-DOCTYPE", "line 4");
    assert!(!r.text().contains("root:"), "no file content in the report");
    // Even a parameter-entity-only DOCTYPE without internal subset is refused.
    expect(
        &v,
        b"<!DOCTYPE a SYSTEM \"http://example.invalid/x.dtd\"><a/>",
        "SAFETY-DOCTYPE",
        "DOCTYPE",
    );
}

#[test]
fn deep_nesting_is_refused() {
    let v = validator();
    let doc = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
    expect(&v, doc.as_bytes(), "SAFETY-DEPTH", "nested more than 64");
    // Deep nesting hidden inside an extension element of a real document.
    let doc = replace(
        "asylum_extensions_default_ns.xml",
        "<x:batch>2026-11-W47</x:batch>",
        &format!("{}{}", "<x:n>".repeat(1000), "</x:n>".repeat(1000)),
    );
    expect(&v, &doc, "SAFETY-DEPTH", "nested");
}

#[test]
fn oversize_is_refused_and_the_limit_is_configurable() {
    let v = validator();
    let mut doc = data("outpatient_patient_specific.xml");
    let pad = format!("<!--{}-->", "x".repeat(6 * 1024 * 1024));
    doc.extend_from_slice(pad.as_bytes());
    expect(&v, &doc, "SAFETY-SIZE", "limit is 5242880 bytes");

    let small = validator().with_limits(Limits {
        max_bytes: 1000,
        ..Limits::default()
    });
    let r = small.validate(&data("outpatient_patient_specific.xml"));
    assert_eq!(rules(&r), ["SAFETY-SIZE"]);
}

#[test]
fn invalid_utf8_and_other_encodings_are_refused() {
    let v = validator();
    let doc = replace(
        "inpatient_drg.xml",
        "Medicinkliniken Lund",
        "Medicinkliniken Lund\u{FFFD}",
    );
    let mut doc = doc;
    let at = doc
        .windows(3)
        .position(|w| w == "\u{FFFD}".as_bytes())
        .unwrap();
    doc.splice(at..at + 3, [0xC3, 0x28]);
    expect(&v, &doc, "SAFETY-UTF8", "not valid UTF-8");
    let latin1 = replace(
        "inpatient_drg.xml",
        "encoding=\"UTF-8\"",
        "encoding=\"ISO-8859-1\"",
    );
    expect(&v, &latin1, "SAFETY-ENCODING", "ISO-8859-1");
    // UTF-16 with a BOM is not UTF-8 either.
    let utf16: Vec<u8> = "\u{FEFF}<a/>"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    expect(&v, &utf16, "SAFETY-UTF8", "UTF-8");
}

#[test]
fn not_well_formed_is_refused_with_a_line() {
    let v = validator();
    let doc = replace("credit_note_381.xml", "</c:lineId>", "</c:lineIdx>");
    let r = expect(
        &v,
        &doc,
        "XML",
        "line 51: not well-formed XML: Opening and ending tag mismatch",
    );
    assert_eq!(r.findings.len(), 1);
    expect(&v, b"just text", "XML", "not well-formed");
    expect(&v, b"", "SAFETY-EMPTY", "empty");
}

#[test]
fn wrong_or_missing_namespace_is_an_xsd_finding() {
    let v = validator();
    let wrong = replace(
        "outpatient_patient_specific.xml",
        "xmlns:urn1=\"urn:riv:financial:billing:claim:1\"",
        "xmlns:urn1=\"urn:riv:financial:billing:claim:2\"",
    );
    let r = expect(&v, &wrong, "XSD", "not expected");
    assert_eq!(r.findings[0].path, "/claimSpecification/id");
    assert_eq!(r.id, None, "the id element is in the wrong namespace");

    let none = String::from_utf8(data("asylum_extensions_default_ns.xml"))
        .unwrap()
        .replace("xmlns=\"urn:riv:financial:billing:claim:1\"", "")
        .replace(
            " xmlns:tns=\"urn:riv:financial:billing:claim:ProcessClaimSpecificationResponder:1\"",
            "",
        )
        .replace("tns:", "");
    expect(&v, none.as_bytes(), "XSD", "No matching global declaration");
}

#[test]
fn wrong_order_names_element_and_path() {
    let v = validator();
    let doc = replace(
        "inpatient_drg.xml",
        "<c:careContactId>VT-2026-0044812</c:careContactId>",
        "",
    );
    let doc = String::from_utf8(doc).unwrap().replacen(
        "<c:lineId>1</c:lineId>",
        "<c:paymentCommitment><c:typeOfAgreement>1</c:typeOfAgreement></c:paymentCommitment><c:lineId>1</c:lineId>",
        1,
    );
    let r = expect(&v, doc.as_bytes(), "XSD", "paymentCommitment");
    assert_eq!(
        r.findings[0].path,
        "/claimSpecification/healthCareServicesSpecificationLine[1]/healthcarePerformed[1]/paymentCommitment[1]"
    );
    assert!(
        r.findings[0].message.contains("Expected is ( lineId )"),
        "{}",
        r.text()
    );
    assert_eq!(r.id.as_deref(), Some("ZVF23210002552611000124"));
}

#[test]
fn empty_and_badly_typed_elements_are_found_without_echoing_values() {
    let v = validator();
    let doc = replace(
        "inpatient_drg.xml",
        "<c:amount>48330.00</c:amount>",
        "<c:amount></c:amount>",
    );
    let r = expect(&v, &doc, "XSD", "xs:decimal");
    assert!(r.findings[0]
        .path
        .ends_with("invoicedAmountDetails/patientCareInvoiceGrossAmount/amount"));

    let doc = replace(
        "inpatient_drg.xml",
        "<c:careVisitDate>20261012</c:careVisitDate>",
        "<c:careVisitDate>2026-10-12</c:careVisitDate>",
    );
    let r = expect(&v, &doc, "XSD", "pattern");
    assert!(r.findings[0]
        .path
        .contains("healthCareServicesSpecificationLine[2]"));
    assert!(
        !r.text().contains("2026-10-12"),
        "the value is not echoed: {}",
        r.text()
    );

    let doc = replace(
        "credit_note_381.xml",
        "<c:lineId>1</c:lineId>",
        "<c:lineId>0</c:lineId>",
    );
    expect(&v, &doc, "XSD", "positiveInteger");
}

#[test]
fn thousands_of_errors_make_a_bounded_report() {
    let v = validator();
    let doc = replace(
        "credit_note_381.xml",
        "</c:activity>",
        &format!("</c:activity>{}", "<c:bogus/>".repeat(20_000)),
    );
    let r = v.validate(&doc);
    assert!(!r.is_valid());
    assert!(r.findings.len() <= 51, "{}", r.findings.len());
    good(&v);
}

#[test]
fn one_validator_serves_many_threads() {
    let v = Arc::new(validator());
    let bad = replace(
        "credit_note_381.xml",
        "<c:lineId>1</c:lineId>",
        "<c:lineId>x</c:lineId>",
    );
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let v = Arc::clone(&v);
            let bad = bad.clone();
            std::thread::spawn(move || {
                for i in 0..100 {
                    if (i + t) % 2 == 0 {
                        assert!(v.validate(&data("inpatient_drg.xml")).is_valid());
                    } else {
                        let r = v.validate(&bad);
                        assert_eq!(rules(&r), ["XSD"], "{}", r.text());
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}
