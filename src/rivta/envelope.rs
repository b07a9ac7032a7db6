//! Reading a SOAP 1.1 request of the contract: the envelope, the `LogicalAddress` header and
//! the body's one child, which becomes the document the rest of the exchange checks.
//!
//! Clients write the envelope as they please — `soap:`, `soapenv:`, `s:` or a default
//! namespace; the contract's namespaces declared on the envelope, on the body or on the element
//! itself. Only namespaces count, never prefixes. The body's child is cut out byte for byte
//! (nothing is re-serialised, so the basis's bytes and hash are what the caller sent) and the
//! namespace declarations it inherited from the envelope are written onto its start tag, so
//! the cut-out is a document of its own with the same infoset.
//!
//! Before any of this, the whole request passes the same safety checks as every basis
//! ([`crate::validate::safety`]: size, UTF-8, no DOCTYPE, depth), so nothing here ever sees an
//! entity declaration.

use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::claim::RESPONDER_NS;
use crate::validate::{safety, Finding};

/// The SOAP 1.1 envelope namespace.
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The SOAP 1.2 envelope namespace: not this contract's (RIVTA BP 2.1 is SOAP 1.1).
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
/// The namespace of the `LogicalAddress` header.
pub const REGISTRY_NS: &str = "urn:riv:itintegration:registry:1";

/// What a request (or an answer) carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The first header element named `LogicalAddress` (the platform's rule), trimmed.
    pub logical_address: Option<String>,
    /// The body's child, `{namespace}local`.
    pub operation: String,
    /// The body's child as a document of its own (`ProcessClaimSpecification` in a request).
    pub document: Vec<u8>,
}

/// Reads one request of this contract: [`read_any`], and the body's child must be
/// `ProcessClaimSpecification`.
pub fn read(bytes: &[u8], limits: &safety::Limits) -> Result<Request, EnvelopeError> {
    let r = read_any(bytes, limits)?;
    if r.operation != format!("{{{RESPONDER_NS}}}ProcessClaimSpecification") {
        return Err(EnvelopeError::WrongOperation(r.operation));
    }
    Ok(r)
}

/// Why a request is not one of this contract's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The request failed a safety check (size, encoding, DOCTYPE, depth).
    #[error("{0}")]
    Unsafe(Finding),
    #[error("the request is not well-formed XML: {0}")]
    Syntax(String),
    #[error("the root element is {{{0}}}Envelope: this contract is SOAP 1.1 ({SOAP11_NS})")]
    VersionMismatch(String),
    #[error("the root element is {0}, not a SOAP 1.1 Envelope")]
    NotEnvelope(String),
    #[error("the envelope has no Body, or the Body is empty")]
    NoBody,
    #[error(
        "the body holds {0}; this endpoint answers {{{RESPONDER_NS}}}ProcessClaimSpecification"
    )]
    WrongOperation(String),
}

/// Namespace declarations in scope: one frame per open element.
#[derive(Default)]
struct Scope {
    frames: Vec<Vec<(String, String)>>,
}

impl Scope {
    fn push(&mut self, e: &BytesStart<'_>) -> Result<(), EnvelopeError> {
        let mut frame = Vec::new();
        for a in e.attributes() {
            let a = a.map_err(|e| EnvelopeError::Syntax(e.to_string()))?;
            let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
            let prefix = match key.as_str() {
                "xmlns" => "",
                k => match k.strip_prefix("xmlns:") {
                    Some(p) => p,
                    None => continue,
                },
            };
            let uri = a
                .unescape_value()
                .map_err(|e| EnvelopeError::Syntax(e.to_string()))?;
            frame.push((prefix.to_string(), uri.into_owned()));
        }
        self.frames.push(frame);
        Ok(())
    }

    fn pop(&mut self) {
        self.frames.pop();
    }

    /// The namespace a prefix names here (`""`: the default namespace).
    fn resolve(&self, prefix: &str) -> Option<&str> {
        self.frames
            .iter()
            .rev()
            .flat_map(|f| f.iter())
            .find(|(p, _)| p == prefix)
            .map(|(_, u)| u.as_str())
    }

    /// `{namespace}local` of an element name.
    fn expanded(&self, qname: &[u8]) -> (Option<String>, String) {
        let name = String::from_utf8_lossy(qname);
        let (prefix, local) = match name.split_once(':') {
            Some((p, l)) => (p, l),
            None => ("", name.as_ref()),
        };
        (self.resolve(prefix).map(str::to_string), local.to_string())
    }

    /// Every declaration in scope, innermost first for each prefix.
    fn in_scope(&self) -> Vec<(String, String)> {
        let mut seen = std::collections::BTreeMap::new();
        for (p, u) in self.frames.iter().rev().flat_map(|f| f.iter()) {
            seen.entry(p.clone()).or_insert_with(|| u.clone());
        }
        seen.into_iter().collect()
    }
}

fn named(ns: &Option<String>, local: &str) -> String {
    match ns {
        Some(ns) => format!("{{{ns}}}{local}"),
        None => local.to_string(),
    }
}

/// Reads one SOAP 1.1 envelope, whatever its body holds (a producer's answer, a Fault).
/// `limits` are the safety limits of a basis (the envelope adds little).
pub fn read_any(bytes: &[u8], limits: &safety::Limits) -> Result<Request, EnvelopeError> {
    safety::check(bytes, limits).map_err(EnvelopeError::Unsafe)?;
    // `check` proved the bytes UTF-8.
    let text = std::str::from_utf8(bytes).map_err(|e| EnvelopeError::Syntax(e.to_string()))?;
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut scope = Scope::default();
    let mut path: Vec<(Option<String>, String)> = Vec::new();
    let mut logical_address = None;
    let mut in_logical_address = false;
    loop {
        let at = reader.buffer_position() as usize;
        let event = reader
            .read_event()
            .map_err(|e| EnvelopeError::Syntax(format!("{e} (byte {at})")))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) if in_body(&path) => {
                let empty = matches!(event, Event::Empty(_));
                let (operation, document) =
                    take_document(&mut reader, text, at, &mut scope, e, empty)?;
                return Ok(Request {
                    logical_address,
                    operation,
                    document,
                });
            }
            Event::Start(e) => {
                scope.push(&e)?;
                let name = scope.expanded(e.name().as_ref());
                check_root(&path, &name)?;
                in_logical_address = path.len() == 2
                    && is_header(&path)
                    && name.1 == "LogicalAddress"
                    && logical_address.is_none();
                path.push(name);
            }
            Event::Empty(e) => {
                scope.push(&e)?;
                let name = scope.expanded(e.name().as_ref());
                check_root(&path, &name)?;
                scope.pop();
            }
            Event::Text(t) if in_logical_address => {
                let t = t
                    .unescape()
                    .map_err(|e| EnvelopeError::Syntax(e.to_string()))?;
                logical_address = Some(t.trim().to_string());
            }
            Event::End(_) => {
                in_logical_address = false;
                path.pop();
                scope.pop();
            }
            Event::Eof => return Err(EnvelopeError::NoBody),
            _ => {}
        }
    }
}

/// The body's child, its name and its bytes to its end.
fn take_document(
    reader: &mut Reader<&[u8]>,
    text: &str,
    at: usize,
    scope: &mut Scope,
    e: &BytesStart<'_>,
    empty: bool,
) -> Result<(String, Vec<u8>), EnvelopeError> {
    scope.push(e)?;
    let (ns, local) = scope.expanded(e.name().as_ref());
    if !empty {
        reader
            .read_to_end(e.name())
            .map_err(|e| EnvelopeError::Syntax(e.to_string()))?;
    }
    let end = reader.buffer_position() as usize;
    let document = cut_out(text, at, end, e.name().as_ref().len(), scope, e);
    Ok((named(&ns, &local), document))
}

/// Whether the next element is the Body's child.
fn in_body(path: &[(Option<String>, String)]) -> bool {
    path.len() == 2 && is_body(path)
}

fn is_body(path: &[(Option<String>, String)]) -> bool {
    path[1].0.as_deref() == Some(SOAP11_NS) && path[1].1 == "Body"
}

fn is_header(path: &[(Option<String>, String)]) -> bool {
    path[1].0.as_deref() == Some(SOAP11_NS) && path[1].1 == "Header"
}

/// The root must be the SOAP 1.1 Envelope; a SOAP 1.2 one is named as such.
fn check_root(
    path: &[(Option<String>, String)],
    name: &(Option<String>, String),
) -> Result<(), EnvelopeError> {
    if !path.is_empty() {
        return Ok(());
    }
    match (name.0.as_deref(), name.1.as_str()) {
        (Some(SOAP11_NS), "Envelope") => Ok(()),
        (Some(ns), "Envelope") => Err(EnvelopeError::VersionMismatch(ns.to_string())),
        _ => Err(EnvelopeError::NotEnvelope(named(&name.0, &name.1))),
    }
}

/// The body's child, from its `<` at or after `from` to `end`, with the declarations it
/// inherits written onto its start tag (those it declares itself win).
fn cut_out(
    text: &str,
    from: usize,
    end: usize,
    name_len: usize,
    scope: &Scope,
    own: &BytesStart<'_>,
) -> Vec<u8> {
    let start = from + text[from..].find('<').unwrap_or(0);
    let own_prefixes: Vec<String> = own
        .attributes()
        .flatten()
        .filter_map(|a| {
            let k = String::from_utf8_lossy(a.key.as_ref()).into_owned();
            if k == "xmlns" {
                Some(String::new())
            } else {
                k.strip_prefix("xmlns:").map(str::to_string)
            }
        })
        .collect();
    let mut inherited = String::new();
    for (prefix, uri) in scope.in_scope() {
        if own_prefixes.contains(&prefix) {
            continue;
        }
        let uri = quick_xml::escape::escape(uri.as_str());
        match prefix.as_str() {
            "" => inherited.push_str(&format!(" xmlns=\"{uri}\"")),
            p => inherited.push_str(&format!(" xmlns:{p}=\"{uri}\"")),
        }
    }
    let after_name = start + 1 + name_len;
    let mut out = String::with_capacity(end - start + inherited.len() + 40);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&text[start..after_name]);
    out.push_str(&inherited);
    out.push_str(&text[after_name..end]);
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "<r:ProcessClaimSpecification><r:claimSpecification><c:id>X</c:id>\
                       </r:claimSpecification></r:ProcessClaimSpecification>";

    fn limits() -> safety::Limits {
        safety::Limits::default()
    }

    #[test]
    fn prefixes_on_the_envelope_are_carried_onto_the_document() {
        let env = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
             <soapenv:Envelope xmlns:soapenv=\"{SOAP11_NS}\" xmlns:r=\"{RESPONDER_NS}\" \
             xmlns:c=\"urn:riv:financial:billing:claim:1\" xmlns:itr=\"{REGISTRY_NS}\">\
             <soapenv:Header><itr:LogicalAddress> 2321000016 </itr:LogicalAddress></soapenv:Header>\
             <soapenv:Body>{DOC}</soapenv:Body></soapenv:Envelope>"
        );
        let r = read(env.as_bytes(), &limits()).unwrap();
        assert_eq!(r.logical_address.as_deref(), Some("2321000016"));
        let doc = String::from_utf8(r.document).unwrap();
        assert!(
            doc.contains(&format!("xmlns:r=\"{RESPONDER_NS}\"")),
            "{doc}"
        );
        assert!(
            doc.contains("xmlns:c=\"urn:riv:financial:billing:claim:1\""),
            "{doc}"
        );
        assert!(doc.ends_with("</r:ProcessClaimSpecification>"), "{doc}");
        // A namespace-aware reader resolves every element of the cut-out on its own.
        let mut r = quick_xml::NsReader::from_str(&doc);
        let mut seen = Vec::new();
        loop {
            match r.read_resolved_event().unwrap() {
                (quick_xml::name::ResolveResult::Bound(ns), Event::Start(e)) => seen.push(format!(
                    "{}|{}",
                    String::from_utf8_lossy(ns.as_ref()),
                    String::from_utf8_lossy(e.local_name().as_ref())
                )),
                (_, Event::Eof) => break,
                (res, Event::Start(e)) => panic!("unbound {res:?} {e:?}"),
                _ => {}
            }
        }
        assert_eq!(
            seen,
            [
                format!("{RESPONDER_NS}|ProcessClaimSpecification"),
                format!("{RESPONDER_NS}|claimSpecification"),
                "urn:riv:financial:billing:claim:1|id".to_string()
            ]
        );
    }

    #[test]
    fn a_default_namespace_and_no_header() {
        let env = format!(
            "<Envelope xmlns=\"{SOAP11_NS}\"><Body>\
             <ProcessClaimSpecification xmlns=\"{RESPONDER_NS}\"/></Body></Envelope>"
        );
        let r = read(env.as_bytes(), &limits()).unwrap();
        assert_eq!(r.logical_address, None);
        let doc = String::from_utf8(r.document).unwrap();
        assert!(
            doc.contains(&format!(
                "<ProcessClaimSpecification xmlns=\"{RESPONDER_NS}\"/>"
            )),
            "{doc}"
        );
    }

    #[test]
    fn what_is_not_this_contract_is_named() {
        let soap12 = format!("<e:Envelope xmlns:e=\"{SOAP12_NS}\"><e:Body/></e:Envelope>");
        assert!(matches!(
            read(soap12.as_bytes(), &limits()),
            Err(EnvelopeError::VersionMismatch(_))
        ));
        let other = format!(
            "<s:Envelope xmlns:s=\"{SOAP11_NS}\"><s:Body><x:Other xmlns:x=\"urn:x\"/></s:Body></s:Envelope>"
        );
        assert!(matches!(
            read(other.as_bytes(), &limits()),
            Err(EnvelopeError::WrongOperation(w)) if w == "{urn:x}Other"
        ));
        let empty = format!("<s:Envelope xmlns:s=\"{SOAP11_NS}\"><s:Body></s:Body></s:Envelope>");
        assert_eq!(
            read(empty.as_bytes(), &limits()),
            Err(EnvelopeError::NoBody)
        );
        let doctype = "<!DOCTYPE x [<!ENTITY a \"b\">]><x/>";
        assert!(matches!(
            read(doctype.as_bytes(), &limits()),
            Err(EnvelopeError::Unsafe(_))
        ));
    }
}
