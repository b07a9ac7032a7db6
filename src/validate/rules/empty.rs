//! ÖR1: no empty elements anywhere. Checked on the raw bytes in one streaming pass (names are
//! borrowed from the input, nothing is allocated unless a finding is made), because the typed
//! model cannot tell `<invoiceId/>` from an absent element in every place, and because the rule
//! covers extension elements too.
//!
//! Empty means: no child element and no character data other than whitespace. A foreign
//! (extension) element that carries attributes is not empty: the attributes are its content.
//! The official Schematron reads it otherwise (profile `official-schematron`): whitespace is
//! content, attributes are not.

use quick_xml::events::Event;
use quick_xml::Reader;

use super::Findings;

/// Elements that may repeat, so their paths carry a position (as in the model's paths).
const REPEATED: &[&[u8]] = &[
    b"healthCareServicesSpecificationLine",
    b"healthcarePerformed",
    b"identification",
    b"unspecified",
    b"patientSpecificCare",
    b"biDiagnosis",
    b"typeOfTreatment",
    b"ATC",
];

struct Frame<'a> {
    name: &'a [u8],
    /// 1-based position among consecutive same-name siblings.
    position: usize,
    content: bool,
    last_child: Option<&'a [u8]>,
    run: usize,
}

fn local(qname: &[u8]) -> &[u8] {
    match qname.iter().position(|&b| b == b':') {
        Some(i) => &qname[i + 1..],
        None => qname,
    }
}

/// Whether the start tag has an attribute other than a namespace declaration.
fn has_attributes(start: &quick_xml::events::BytesStart) -> bool {
    start.attributes().with_checks(false).flatten().any(|a| {
        let k = a.key.as_ref();
        k != b"xmlns" && !k.starts_with(b"xmlns:")
    })
}

pub(super) fn check(raw: &[u8], out: &mut Findings) {
    let official = out.official();
    let blank = |t: &[u8]| !official && t.iter().all(u8::is_ascii_whitespace);
    let mut reader = Reader::from_reader(raw);
    let mut stack: Vec<Frame> = Vec::with_capacity(16);
    loop {
        let event = match reader.read_event() {
            Ok(e) => e,
            // Not well-formed: the XML layer has already reported it.
            Err(_) => return,
        };
        let (s, is_empty_tag) = match event {
            Event::Start(s) => (s, false),
            Event::Empty(s) => (s, true),
            Event::End(_) => {
                close(&mut stack, out);
                continue;
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    if !blank(&t) {
                        top.content = true;
                    }
                }
                continue;
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    if !blank(&c) {
                        top.content = true;
                    }
                }
                continue;
            }
            Event::Eof => return,
            _ => continue,
        };
        // Borrow the name from the input, not from the event, so the stack can keep it.
        let name = borrow_from(raw, s.name().into_inner()).map_or(&b"?"[..], local);
        let attrs = !official && has_attributes(&s);
        let position = match stack.last_mut() {
            Some(parent) => {
                parent.content = true;
                if parent.last_child == Some(name) {
                    parent.run += 1;
                } else {
                    parent.last_child = Some(name);
                    parent.run = 1;
                }
                parent.run
            }
            None => 1,
        };
        stack.push(Frame {
            name,
            position,
            content: attrs,
            last_child: None,
            run: 0,
        });
        if is_empty_tag {
            close(&mut stack, out);
        }
    }
}

/// `part` as a slice of `raw` (with `raw`'s lifetime) when it lies inside it, which it does for
/// every name quick-xml reads from a byte slice.
fn borrow_from<'a>(raw: &'a [u8], part: &[u8]) -> Option<&'a [u8]> {
    let base = raw.as_ptr() as usize;
    let start = (part.as_ptr() as usize).checked_sub(base)?;
    raw.get(start..start + part.len())
}

fn close(stack: &mut Vec<Frame>, out: &mut Findings) {
    let Some(top) = stack.last() else { return };
    if !top.content {
        let path = render(stack);
        let name = String::from_utf8_lossy(top.name).into_owned();
        let rule = if out.official() { "R1" } else { "ÖR1" };
        out.list.push(crate::validate::Finding::new(
            rule,
            path,
            format!(
                "element {name} is empty; leave an element out instead of sending it without a value"
            ),
        ));
    }
    stack.pop();
}

/// The path from `claimSpecification` down (the envelope's root is left out, as in the
/// model's paths), or from the envelope root for its own extension elements.
fn render(stack: &[Frame]) -> String {
    let skip = match stack.get(1) {
        Some(f) if f.name == b"claimSpecification" => 1,
        _ => 0,
    };
    let mut p = String::with_capacity(128);
    for f in &stack[skip..] {
        p.push('/');
        p.push_str(&String::from_utf8_lossy(f.name));
        if REPEATED.contains(&f.name) {
            p.push('[');
            p.push_str(&f.position.to_string());
            p.push(']');
        }
    }
    if p.is_empty() {
        p.push('/');
    }
    p
}
