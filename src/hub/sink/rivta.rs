//! The `rivta` sink: a receiving region that runs its own producer of the national contract
//! gets each basis as the platform would bring it — `ProcessClaimSpecification` over mutual
//! TLS, `LogicalAddress` = the region. `OK` is the receipt (the answer's SHA-256 and the time go
//! into the log); `ERROR` is the producer's refusal for good (the basis is parked with the
//! comment); a Fault, a 5xx or no answer in time is tried again with backoff.

use bytes::Bytes;
use hyper::Method;
use sha2::{Digest as _, Sha256};

use super::{Delivered, DeliveryError};
use crate::broker::StoreReceipt;
use crate::claim::{ProcessClaimSpecificationResponse, ResultCode, RESPONDER_NS};
use crate::clock::Clock;
use crate::rivta::envelope::{self, REGISTRY_NS, SOAP11_NS};
use crate::rivta::soap::SOAP_ACTION;
use crate::store::client::Answer;
use crate::store::{StoreClient, StoreClientError};
use crate::validate::safety;

/// Calls the producer at `path` with `document` (a `ProcessClaimSpecification`).
pub(super) async fn call(
    client: &mut StoreClient,
    path: &str,
    logical_address: &str,
    document: Bytes,
) -> Result<Answer, StoreClientError> {
    let action = format!("\"{SOAP_ACTION}\"");
    let body = Bytes::from(request(logical_address, &document));
    let headers = [("SOAPAction", action.as_str())];
    let ct = "text/xml; charset=UTF-8";
    client
        .request_with(Method::POST, path, Some((body, ct)), &headers)
        .await
}

/// The request envelope: the document in the body, without its XML declaration.
fn request(logical_address: &str, document: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(document);
    let mut doc = text.trim_start_matches('\u{feff}').trim_start();
    if doc.starts_with("<?xml") {
        doc = doc.find("?>").map_or(doc, |end| &doc[end + 2..]);
    }
    let address = quick_xml::escape::escape(logical_address);
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope xmlns:soap=\"{SOAP11_NS}\" \
         xmlns:itr=\"{REGISTRY_NS}\"><soap:Header><itr:LogicalAddress>{address}</itr:LogicalAddress>\
         </soap:Header><soap:Body>{}</soap:Body></soap:Envelope>\n",
        doc.trim()
    )
    .into_bytes()
}

/// What the producer's answer means for the delivery.
pub(super) fn receipt(
    url: &str,
    basis_id: &str,
    answer: &Answer,
    clock: &dyn Clock,
) -> Result<Delivered, DeliveryError> {
    let status = answer.status.as_u16();
    let unavailable = |why: String| DeliveryError::Unavailable {
        url: url.to_string(),
        why,
    };
    if status != 200 {
        // A Fault (500) is technical by the contract: sending again is what it asks for.
        return Err(if answer.is_unavailable() {
            unavailable(format!("HTTP {status}: {}", fault_text(answer)))
        } else {
            DeliveryError::Refused {
                url: url.to_string(),
                status,
                body: answer.text().chars().take(500).collect(),
            }
        });
    }
    let response = response_of(answer).map_err(unavailable)?;
    match response.result_code {
        ResultCode::Ok | ResultCode::Info => {
            let receipt = StoreReceipt {
                id: basis_id.to_string(),
                sha256: hex::encode(Sha256::digest(&answer.body)),
                received_at: clock.now().to_rfc3339(),
                seq: 0,
            };
            let raw = serde_json::json!({
                "id": receipt.id,
                "sha256": receipt.sha256,
                "received_at": receipt.received_at,
                "seq": 0,
                "resultCode": response.result_code.as_str(),
                "producer": url,
            })
            .to_string();
            Ok(Delivered { receipt, raw })
        }
        ResultCode::Error => Err(DeliveryError::Refused {
            url: url.to_string(),
            status,
            // One line for the log: the comment's findings joined.
            body: format!(
                "resultCode ERROR: {}",
                response
                    .comment
                    .as_deref()
                    .map_or("(no comment)".into(), |c| c
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty())
                        .collect::<Vec<_>>()
                        .join(" | "))
            ),
        }),
    }
}

/// The `ProcessClaimSpecificationResponse` in an answer's envelope.
fn response_of(answer: &Answer) -> Result<ProcessClaimSpecificationResponse, String> {
    let limits = safety::Limits::default();
    let env = envelope::read_any(&answer.body, &limits)
        .map_err(|e| format!("the answer is not a SOAP envelope: {e}"))?;
    if env.operation != format!("{{{RESPONDER_NS}}}ProcessClaimSpecificationResponse") {
        return Err(format!("the answer's body holds {}", env.operation));
    }
    ProcessClaimSpecificationResponse::from_xml(&env.document)
        .map_err(|e| format!("the answer cannot be read: {e}"))
}

/// A Fault's `faultstring` (or the start of whatever came), for the log.
fn fault_text(answer: &Answer) -> String {
    let text = answer.text();
    match (text.find("<faultstring>"), text.find("</faultstring>")) {
        (Some(a), Some(b)) if a < b => text[a + "<faultstring>".len()..b].to_string(),
        _ => text.chars().take(200).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_is_the_contract_envelope_the_gateway_reads() {
        let doc = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<r:ProcessClaimSpecification xmlns:r=\"{RESPONDER_NS}\"/>"
        );
        let env = request("2321000016", doc.as_bytes());
        let read = envelope::read(&env, &safety::Limits::default()).unwrap();
        assert_eq!(read.logical_address.as_deref(), Some("2321000016"));
        assert!(String::from_utf8(read.document)
            .unwrap()
            .contains("<r:ProcessClaimSpecification"));
    }
}
