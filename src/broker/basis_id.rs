//! The basis id (`claimSpecification/id`) read from a document without building the whole model:
//! the adapter only needs it for the AMQP `message_id`, and must not choke on a large file. The
//! hub validates everything properly; this only has to find the id or say clearly it cannot.

use quick_xml::events::Event;
use quick_xml::Reader;

use super::error::BrokerError;

/// Returns the text of the first `id` element that is a direct child of `claimSpecification`.
/// Refuses a DOCTYPE (entity tricks are the hub's to report, not the adapter's to expand).
pub fn basis_id(xml: &[u8]) -> Result<String, BrokerError> {
    let mut reader = Reader::from_reader(xml);
    let mut buf = Vec::new();
    let mut path: Vec<Vec<u8>> = Vec::new();
    let mut in_id = false;
    let mut id = String::new();
    loop {
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| BrokerError::NotABasis(format!("not well-formed XML: {e}")))?;
        match ev {
            Event::DocType(_) => {
                return Err(BrokerError::NotABasis("has a DOCTYPE".into()));
            }
            Event::Start(s) => {
                let name = s.local_name().as_ref().to_vec();
                in_id = name == b"id" && path.last().is_some_and(|p| p == b"claimSpecification");
                path.push(name);
            }
            Event::Text(t) if in_id => {
                let text = t
                    .unescape()
                    .map_err(|e| BrokerError::NotABasis(format!("bad text in id: {e}")))?;
                id.push_str(&text);
            }
            Event::End(_) => {
                if in_id {
                    let id = id.trim().to_string();
                    if !crate::claim::basis_id_ok(&id) {
                        return Err(BrokerError::NotABasis(format!(
                            "claimSpecification/id is not usable as a name: {}",
                            crate::claim::BASIS_ID_RULE
                        )));
                    }
                    return Ok(id);
                }
                path.pop();
            }
            Event::Eof => {
                return Err(BrokerError::NotABasis(
                    "no claimSpecification/id element".into(),
                ))
            }
            _ => {}
        }
        buf.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_id_under_claim_specification() {
        let xml = br#"<?xml version="1.0"?>
<r:ProcessClaimSpecification xmlns:r="urn:riv:financial:billing:claim:ProcessClaimSpecificationResponder:1" xmlns:c="urn:riv:financial:billing:claim:1">
  <r:claimSpecification><c:id>ZVF23210000162601000001</c:id><c:issueDate>20260101</c:issueDate></r:claimSpecification>
</r:ProcessClaimSpecification>"#;
        assert_eq!(basis_id(xml).unwrap(), "ZVF23210000162601000001");
    }

    #[test]
    fn reads_the_id_of_every_example_document() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        let mut n = 0;
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            if e.path().extension().is_some_and(|x| x == "xml") {
                let id = basis_id(&std::fs::read(e.path()).unwrap())
                    .unwrap_or_else(|err| panic!("{}: {err}", e.path().display()));
                assert!(id.starts_with("ZVF") && id.len() == 23, "{id}");
                n += 1;
            }
        }
        assert!(n > 0);
    }

    #[test]
    fn ignores_nested_ids_and_refuses_what_is_not_a_basis() {
        let nested = b"<a><claimSpecification><x><id>NO</id></x></claimSpecification></a>";
        assert!(basis_id(nested).is_err());
        assert!(basis_id(b"not xml <<").is_err());
        let doctype =
            b"<!DOCTYPE a [<!ENTITY e 'x'>]><claimSpecification><id>&e;</id></claimSpecification>";
        assert!(basis_id(doctype)
            .unwrap_err()
            .to_string()
            .contains("DOCTYPE"));
        assert!(basis_id(b"<claimSpecification><id> </id></claimSpecification>").is_err());
    }
}
