//! The model reads every hand-made document, writes it back with the same infoset, and reads
//! that back to an equal model; bad structure is refused with the element path.

use invoice_hub::claim::{
    ClaimError, ClaimSpecification, Element, Node, ProcessClaimSpecification,
    ProcessClaimSpecificationResponse, ResultCode, CORE_NS,
};
use rust_decimal::Decimal;

const DOCS: &[&str] = &[
    "outpatient_patient_specific.xml",
    "inpatient_drg.xml",
    "credit_note_381.xml",
    "asylum_extensions_default_ns.xml",
];

fn data(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The infoset as compared here: expanded names, attributes, text; no prefixes, no
/// whitespace-only text between elements.
fn infoset(e: &Element) -> Element {
    let children: Vec<Node> = e
        .children
        .iter()
        .filter_map(|n| match n {
            Node::Element(c) => Some(Node::Element(infoset(c))),
            Node::Text(t) if t.trim().is_empty() && e.child_elements().next().is_some() => None,
            Node::Text(t) => Some(Node::Text(t.clone())),
        })
        .collect();
    let mut attributes = e.attributes.clone();
    attributes.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    Element {
        namespace: e.namespace.clone(),
        name: e.name.clone(),
        prefix: None,
        attributes,
        children,
    }
}

#[test]
fn every_document_round_trips_with_the_same_infoset() {
    for name in DOCS {
        let raw = data(name);
        let doc =
            ProcessClaimSpecification::from_xml(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
        let written = doc.to_xml();
        let again = ProcessClaimSpecification::from_xml(written.as_bytes())
            .unwrap_or_else(|e| panic!("{name} as written: {e}\n{written}"));
        assert_eq!(doc, again, "{name}: model changed by a round trip");
        let before = infoset(&Element::parse_document(&raw).unwrap());
        let after = infoset(&Element::parse_document(written.as_bytes()).unwrap());
        assert_eq!(before, after, "{name}: infoset changed by a round trip");
        // Writing is deterministic: a second write is byte-identical.
        assert_eq!(written, again.to_xml(), "{name}: second write differs");
    }
}

#[test]
fn json_round_trip_keeps_the_model() {
    for name in DOCS {
        let claim = ClaimSpecification::from_xml(&data(name)).unwrap();
        let json = serde_json::to_string(&claim).unwrap();
        let back: ClaimSpecification = serde_json::from_str(&json).unwrap();
        assert_eq!(claim, back, "{name}");
    }
}

#[test]
fn values_land_in_the_right_fields() {
    let c = ClaimSpecification::from_xml(&data("outpatient_patient_specific.xml")).unwrap();
    assert_eq!(c.id, "ZVF23210002552611000123");
    assert_eq!(c.payable_amount.value(), Some(Decimal::new(230000, 2)));
    assert_eq!(c.customer_party.identification.len(), 2);
    assert_eq!(c.customer_party.identification[1].root, "2.51.1.6");
    assert_eq!(c.customer_party.organisation_number(), Some("2321000016"));
    assert_eq!(c.supplier_party.organisation_number(), Some("2321000255"));
    assert!(c.supplier_party.seller_contact.is_some());
    let line = &c.health_care_services_specification_line[0];
    assert_eq!(
        line.patient_information.patient_identity.extension,
        "197803122386"
    );
    let hp = &line.healthcare_performed[0];
    assert_eq!(
        hp.healthcare_category.planned_healthcare_value(),
        Some(true)
    );
    let psc = &hp.categorization.as_ref().unwrap().patient_specific_care;
    assert_eq!(psc.len(), 2);
    assert_eq!(psc[0].number_value(), Some(2));
    assert_eq!(
        hp.diagnosis
            .as_ref()
            .unwrap()
            .outpatient_care_diagnosis
            .as_ref()
            .unwrap()
            .main_diagnosis
            .diagnosis_code
            .code
            .as_deref(),
        Some("I48.9")
    );
    assert!(!c.is_credit_note());

    let c = ClaimSpecification::from_xml(&data("inpatient_drg.xml")).unwrap();
    assert_eq!(c.health_care_services_specification_line.len(), 2);
    let hp = &c.health_care_services_specification_line[1].healthcare_performed[0];
    assert!(hp.healthcare_category.is_inpatient());
    let drg = hp
        .categorization
        .as_ref()
        .unwrap()
        .drg_cost
        .as_ref()
        .unwrap();
    assert_eq!(
        drg.drg_code.as_ref().unwrap().original_text.as_deref(),
        Some("I03B")
    );
    assert_eq!(
        drg.drg_price.as_ref().unwrap().value(),
        Some(Decimal::new(6187550, 2))
    );
    assert_eq!(
        hp.timespan.number_of_days.as_ref().unwrap().in_care_value(),
        Some(7)
    );
    assert_eq!(c.unspecified[0].r#type.as_deref(), Some("note"));

    let c = ClaimSpecification::from_xml(&data("credit_note_381.xml")).unwrap();
    assert!(c.is_credit_note());
    assert_eq!(
        c.reference_to_process_claim_specification_id.as_deref(),
        Some("ZVF23210002552611000123")
    );
    assert_eq!(
        c.health_care_services_specification_line[0].healthcare_performed[0]
            .reason_for_credit
            .as_deref(),
        Some("2")
    );
}

#[test]
fn extension_elements_are_kept_with_namespaces_attributes_and_text() {
    let c = ClaimSpecification::from_xml(&data("asylum_extensions_default_ns.xml")).unwrap();
    let poi = &c.health_care_services_specification_line[0]
        .patient_information
        .patient_other_information;
    assert_eq!(poi.county.code.as_deref(), Some("99"));
    assert_eq!(poi.county.code_system, None);
    assert_eq!(poi.lma_card_number.as_deref(), Some("12345678"));
    assert_eq!(poi.extensions.len(), 1);
    let case = &poi.extensions[0];
    assert_eq!(
        case.namespace.as_deref(),
        Some("urn:example:migrationsverket:ext:1")
    );
    assert_eq!(case.name, "asylumCase");
    assert_eq!(case.attributes[0].name, "kind");
    assert_eq!(
        case.attributes[0].namespace.as_deref(),
        Some("urn:example:migrationsverket:ext:1")
    );
    let kids: Vec<_> = case.child_elements().collect();
    assert_eq!(kids[1].text(), "Mottagningsenheten & boende, Göteborg");
    assert_eq!(kids[1].attributes[0].namespace, None);
    assert_eq!(kids[2].namespace.as_deref(), Some("urn:example:third:ns"));
    assert_eq!(
        kids[2]
            .child_elements()
            .next()
            .unwrap()
            .namespace
            .as_deref(),
        Some("urn:example:third:ns")
    );

    let hp = &c.health_care_services_specification_line[0].healthcare_performed[0];
    assert_eq!(hp.extensions.len(), 1);
    assert_eq!(hp.extensions[0].text(), "Besök <akut> 08:10");
    assert_eq!(c.extensions.len(), 1);
    assert_eq!(c.extensions[0].name, "routingHint");
    assert_ne!(c.extensions[0].namespace.as_deref(), Some(CORE_NS));
}

#[test]
fn prefixes_do_not_matter() {
    let raw = String::from_utf8(data("outpatient_patient_specific.xml")).unwrap();
    let renamed = raw
        .replace("urn1:", "q:")
        .replace("xmlns:urn1=", "xmlns:q=");
    let as_default = raw.replace("urn1:", "").replace("xmlns:urn1=", "xmlns=");
    let a = ClaimSpecification::from_xml(raw.as_bytes()).unwrap();
    assert_eq!(a, ClaimSpecification::from_xml(renamed.as_bytes()).unwrap());
    assert_eq!(
        a,
        ClaimSpecification::from_xml(as_default.as_bytes()).unwrap()
    );
}

#[test]
fn leaf_values_are_kept_byte_for_byte() {
    let raw = String::from_utf8(data("outpatient_patient_specific.xml")).unwrap();
    let odd = raw.replace(
        "<urn1:careUnitName>Hjärtmottagningen Helsingborg</urn1:careUnitName>",
        "<urn1:careUnitName>  Hjärt\r\n&lt;mott&gt; &#x1F600; \"x\" 'y'  </urn1:careUnitName>",
    );
    let c = ClaimSpecification::from_xml(odd.as_bytes()).unwrap();
    let name = &c.health_care_services_specification_line[0].healthcare_performed[0]
        .healthcare_unit
        .care_unit_name;
    // A literal CR LF is read as "\n", as XML 1.0 §2.11 and libxml2 read it (it was kept as
    // "\r\n" before issue 22); everything else is kept as written.
    assert_eq!(name, "  Hjärt\n<mott> \u{1F600} \"x\" 'y'  ");
    let again = ClaimSpecification::from_xml(c.to_xml().as_bytes()).unwrap();
    assert_eq!(c, again);
}

fn err(doc: &str) -> ClaimError {
    ClaimSpecification::from_xml(doc.as_bytes()).expect_err("must be refused")
}

fn replace(name: &str, from: &str, to: &str) -> String {
    let raw = String::from_utf8(data(name)).unwrap();
    assert!(raw.contains(from), "{from}");
    raw.replacen(from, to, 1)
}

#[test]
fn structure_errors_name_the_path() {
    // A required element missing.
    let e = err(&replace(
        "inpatient_drg.xml",
        "<c:plannedHealthcare>false</c:plannedHealthcare>",
        "",
    ));
    match &e {
        ClaimError::Missing { path, expected, .. } => {
            assert_eq!(path, "/claimSpecification/healthCareServicesSpecificationLine[1]/healthcarePerformed[1]/healthcareCategory");
            assert_eq!(expected, "plannedHealthcare");
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("plannedHealthcare"));

    // Out of order: issueTime after typeOfInvoice.
    let raw = replace(
        "outpatient_patient_specific.xml",
        "<urn1:issueTime>093000</urn1:issueTime>\n",
        "",
    );
    let raw = raw.replacen(
        "<urn1:typeOfInvoice>380</urn1:typeOfInvoice>",
        "<urn1:typeOfInvoice>380</urn1:typeOfInvoice><urn1:issueTime>093000</urn1:issueTime>",
        1,
    );
    assert!(
        matches!(err(&raw), ClaimError::Missing { ref path, ref expected, found: Some(ref found) }
        if path == "/claimSpecification" && expected == "payableAmount" && found.ends_with("}issueTime"))
    );

    // Wrong namespace on the core elements.
    let raw = replace(
        "outpatient_patient_specific.xml",
        "xmlns:urn1=\"urn:riv:financial:billing:claim:1\"",
        "xmlns:urn1=\"urn:riv:financial:billing:claim:2\"",
    );
    assert!(matches!(err(&raw), ClaimError::Missing { ref expected, .. } if expected == "id"));

    // Wrong root.
    assert!(matches!(
        err("<ProcessClaimSpecification/>"),
        ClaimError::WrongRoot { .. }
    ));
    // Text where elements belong.
    let raw = replace(
        "credit_note_381.xml",
        "<c:lineId>1</c:lineId>",
        "<c:lineId>1</c:lineId>stray",
    );
    assert!(matches!(err(&raw), ClaimError::UnexpectedText { .. }));
    // An element inside a leaf.
    let raw = replace(
        "credit_note_381.xml",
        "<c:lineId>1</c:lineId>",
        "<c:lineId><c:x/></c:lineId>",
    );
    assert!(
        matches!(err(&raw), ClaimError::Unexpected { ref path, .. } if path.ends_with("healthcarePerformed[1]/lineId"))
    );
    // A foreign element in no namespace is not an extension (##other excludes it).
    let raw = replace(
        "credit_note_381.xml",
        "</c:activity>",
        "</c:activity><plain/>",
    );
    assert!(matches!(err(&raw), ClaimError::Unexpected { .. }));
}

#[test]
fn hostile_xml_is_refused_by_the_reader_itself() {
    let doctype = "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]><a>&lol2;</a>";
    assert!(matches!(err(doctype), ClaimError::Doctype { .. }));
    let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
    assert!(matches!(err(&deep), ClaimError::TooDeep { .. }));
    let undeclared = "<a>&ent;</a>";
    assert!(matches!(err(undeclared), ClaimError::Syntax { .. }));
    let mut bad = data("credit_note_381.xml");
    bad[300] = 0xff;
    assert!(matches!(
        ClaimSpecification::from_xml(&bad),
        Err(ClaimError::Utf8 { .. })
    ));
    assert!(matches!(err("<a><b></a>"), ClaimError::Syntax { .. }));
    assert!(matches!(err(""), ClaimError::Syntax { .. }));
    assert!(matches!(err("<x:a/>"), ClaimError::Syntax { .. }));
}

#[test]
fn response_reads_and_writes() {
    let r = ProcessClaimSpecificationResponse::new(
        ResultCode::Error,
        Some("ÖR5 at /claimSpecification/payableAmount: 1 < 2 & more".into()),
    );
    let xml = r.to_xml();
    assert!(xml.contains("<rsp:resultCode>ERROR</rsp:resultCode>"));
    assert_eq!(
        ProcessClaimSpecificationResponse::from_xml(xml.as_bytes()).unwrap(),
        r
    );
    let ok = "<r:ProcessClaimSpecificationResponse xmlns:r=\"urn:riv:financial:billing:claim:ProcessClaimSpecificationResponder:1\"><r:resultCode>OK</r:resultCode></r:ProcessClaimSpecificationResponse>";
    let r = ProcessClaimSpecificationResponse::from_xml(ok.as_bytes()).unwrap();
    assert_eq!((r.result_code, r.comment), (ResultCode::Ok, None));
    let bad = ok.replace(">OK<", ">MAYBE<");
    assert!(ProcessClaimSpecificationResponse::from_xml(bad.as_bytes()).is_err());
}
