//! What the gateway writes: the contract's answer in a SOAP 1.1 envelope, SOAP 1.1 Faults with
//! the national platform's codes, and the WSDL with its schemas as the endpoint serves them.

use crate::claim::{ProcessClaimSpecificationResponse, ResultCode};

use super::envelope::SOAP11_NS;

/// The operation's soapAction; clients send it quoted or not (or empty).
pub const SOAP_ACTION: &str =
    "urn:riv:financial:billing:claim:ProcessClaimSpecificationResponder:1:ProcessClaimSpecification";

/// `Content-Type` of everything the gateway answers, as the platform writes it.
pub const CONTENT_TYPE: &str = "text/xml; charset=UTF-8";

/// The answer's body: `OK`, or `ERROR` with the comment (one finding per line).
pub fn answer(result: ResultCode, comment: Option<&str>) -> String {
    let response = ProcessClaimSpecificationResponse::new(result, comment.map(str::to_string));
    let doc = response.to_xml();
    let body = doc
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n")
        .unwrap_or(&doc);
    envelope(body.trim_end())
}

/// Who a Fault blames: the caller (`soap:Client`: the request is wrong, sending it again will
/// not help) or the exchange (`soap:Server`: a technical failure, send again later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Blame {
    Client,
    Server,
}

/// A platform code and what it means, as the platform's own faults start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The caller's certificate cannot be used.
    Vp002,
    /// No `LogicalAddress` header.
    Vp003,
    /// No route for the logical address (not a receiver of the exchange).
    Vp004,
    /// The caller may not call this receiver (not a caller the configuration names).
    Vp007,
    /// The exchange did not answer in time, or could not be reached.
    Vp009,
    /// `x-rivta-original-serviceconsumer-hsaid` from a caller that is not the platform.
    Vp013,
    /// Not a request of this contract (not SOAP 1.1, not this operation, malformed).
    Vp015,
}

impl Code {
    pub fn as_str(self) -> &'static str {
        match self {
            Code::Vp002 => "VP002",
            Code::Vp003 => "VP003",
            Code::Vp004 => "VP004",
            Code::Vp007 => "VP007",
            Code::Vp009 => "VP009",
            Code::Vp013 => "VP013",
            Code::Vp015 => "VP015",
        }
    }

    /// Whose fault it is.
    pub fn blame(self) -> Blame {
        match self {
            Code::Vp009 => Blame::Server,
            _ => Blame::Client,
        }
    }
}

/// A SOAP 1.1 Fault whose `faultstring` starts with the code (served with HTTP 500).
pub fn fault(code: Code, why: &str) -> String {
    let faultcode = match code.blame() {
        Blame::Client => "soap:Client",
        Blame::Server => "soap:Server",
    };
    let text = quick_xml::escape::escape(format!("{} {why}", code.as_str()));
    envelope(&format!(
        "<soap:Fault><faultcode>{faultcode}</faultcode><faultstring>{text}</faultstring></soap:Fault>"
    ))
}

fn envelope(body: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope xmlns:soap=\"{SOAP11_NS}\">\
         <soap:Header/><soap:Body>{body}</soap:Body></soap:Envelope>\n"
    )
}

/// The WSDL as the gateway serves it at `<endpoint>?wsdl`: the contract's file with its
/// `soap:address` set to where it was asked for.
pub fn wsdl(address: &str) -> String {
    WSDL.replace(WSDL_PLACEHOLDER, &quick_xml::escape::escape(address))
}

/// The schemas the WSDL names, at the paths its relative `schemaLocation`s resolve to from the
/// endpoint `/<a>/<b>/<c>` (the contract's layout: `interactions/…` beside `core_components/`).
pub fn schema_at(endpoint: &str, path: &str) -> Option<&'static str> {
    let dir = endpoint.rsplit_once('/').map_or("", |(d, _)| d);
    let root = dir.rsplitn(3, '/').nth(2).unwrap_or("");
    if path == format!("{dir}/ProcessClaimSpecificationResponder_1.1.xsd") {
        return Some(RESPONDER_XSD);
    }
    match path.strip_prefix(root)? {
        "/core_components/claim_1.1.xsd" => Some(CORE_XSD),
        "/core_components/itintegration_registry_1.0.xsd" => Some(REGISTRY_XSD),
        _ => None,
    }
}

const WSDL_PLACEHOLDER: &str = "https://localhost/ProcessClaimSpecification/1/rivtabp21";
const WSDL: &str = include_str!(
    "../../schemas/interactions/ProcessClaimSpecificationInteraction/ProcessClaimSpecificationInteraction_1.1_RIVTABP21.wsdl"
);
const RESPONDER_XSD: &str = include_str!(
    "../../schemas/interactions/ProcessClaimSpecificationInteraction/ProcessClaimSpecificationResponder_1.1.xsd"
);
const CORE_XSD: &str = include_str!("../../schemas/core_components/claim_1.1.xsd");
const REGISTRY_XSD: &str =
    include_str!("../../schemas/core_components/itintegration_registry_1.0.xsd");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schemas_are_where_the_wsdl_says() {
        let ep = "/ProcessClaimSpecification/1/rivtabp21";
        assert!(schema_at(
            ep,
            "/ProcessClaimSpecification/1/ProcessClaimSpecificationResponder_1.1.xsd"
        )
        .is_some());
        assert!(schema_at(ep, "/core_components/claim_1.1.xsd").is_some());
        assert!(schema_at(ep, "/core_components/itintegration_registry_1.0.xsd").is_some());
        assert!(schema_at(ep, "/core_components/other.xsd").is_none());
        assert!(WSDL.contains(WSDL_PLACEHOLDER));
        assert!(wsdl("https://127.0.0.1:1/x").contains("location=\"https://127.0.0.1:1/x\""));
    }

    #[test]
    fn a_fault_starts_with_its_code() {
        let f = fault(Code::Vp003, "no LogicalAddress <header>");
        assert!(f.contains("<faultcode>soap:Client</faultcode>"), "{f}");
        assert!(
            f.contains("<faultstring>VP003 no LogicalAddress &lt;header&gt;</faultstring>"),
            "{f}"
        );
        assert!(fault(Code::Vp009, "x").contains("soap:Server"));
        let a = answer(ResultCode::Ok, None);
        assert!(
            a.contains(":resultCode>OK<") && !a.contains("comment"),
            "{a}"
        );
    }
}
