//! A small namespace-resolved XML tree. It exists because the contract's `xs:any ##other lax`
//! extension points may hold anything from any namespace, and serde's XML mapping cannot carry
//! arbitrary foreign elements with their namespaces losslessly. The whole document is first read
//! into this tree, then mapped onto the typed model; extension elements stay as trees.

use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;
use serde::{Deserialize, Serialize};

use super::ClaimError;

/// Deepest nesting the reader accepts. Real documents are about ten levels deep; the limit keeps
/// a hostile document (or an extension element) from exhausting the stack when the tree is
/// walked, dropped or written recursively.
pub const MAX_DEPTH: usize = 256;

/// One element with its expanded name. Prefixes are not part of the infoset; `prefix` is only a
/// hint the writer reuses so that QName-valued content in extensions keeps meaning.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Element {
    /// Namespace URI; `None` for an element in no namespace.
    pub namespace: Option<String>,
    /// Local name.
    pub name: String,
    /// The prefix the element had when read, if any (a hint for writing, not compared).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Node>,
}

/// Equality is infoset equality: the prefix is only a writing hint and is not compared.
impl PartialEq for Element {
    fn eq(&self, other: &Self) -> bool {
        self.namespace == other.namespace
            && self.name == other.name
            && self.attributes == other.attributes
            && self.children == other.children
    }
}

impl Eq for Element {}

/// The XML Schema instance namespace: `xsi:type`, `xsi:schemaLocation`, `xsi:nil`, … which the
/// schema allows on every element.
pub(crate) const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";

/// An attribute other than a namespace declaration (those are re-derived when writing).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Attribute {
    pub namespace: Option<String>,
    pub name: String,
    pub value: String,
    /// For `xsi:type`, whose value is a QName: the namespace its prefix (or the default
    /// namespace) was bound to where it was read. The writer binds a prefix to it again, so the
    /// value means the same type wherever the element is written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_namespace: Option<String>,
}

/// Equality is infoset equality: an `xsi:type` names a type, so two are equal when they name the
/// same one, whatever prefix each was written with.
impl PartialEq for Attribute {
    fn eq(&self, other: &Self) -> bool {
        if self.namespace != other.namespace || self.name != other.name {
            return false;
        }
        if self.is_xsi_type() {
            self.value_namespace == other.value_namespace
                && self.qname_local() == other.qname_local()
        } else {
            self.value == other.value
        }
    }
}

impl Eq for Attribute {}

impl Attribute {
    /// Whether this is `xsi:type`, the one attribute whose value is a QName.
    pub fn is_xsi_type(&self) -> bool {
        self.name == "type" && self.namespace.as_deref() == Some(XSI_NS)
    }

    /// The value's local part, for an `xsi:type`: what follows the prefix.
    fn qname_local(&self) -> &str {
        self.value
            .trim()
            .split_once(':')
            .map_or(self.value.trim(), |(_, l)| l)
    }
}

/// Element content: child elements and character data (CDATA is folded into text; comments and
/// processing instructions are not kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    /// `{namespace}name`, the form used in messages, because prefixes vary between senders.
    pub fn expanded_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{{{ns}}}{}", self.name),
            None => self.name.clone(),
        }
    }

    /// Whether this is `name` in `namespace`.
    pub fn is(&self, namespace: &str, name: &str) -> bool {
        self.name == name && self.namespace.as_deref() == Some(namespace)
    }

    /// Child elements only, in document order.
    pub fn child_elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// All character data directly inside this element, concatenated.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                s.push_str(t);
            }
        }
        s
    }

    /// Reads a whole document into a tree. Refuses DOCTYPE outright and nesting deeper than
    /// [`MAX_DEPTH`]; quick-xml itself expands only the five predefined entities and character
    /// references, so nothing here can fetch or expand anything else.
    #[expect(
        clippy::too_many_lines,
        reason = "one loop over quick-xml's events with a short arm for each kind"
    )]
    pub fn parse_document(bytes: &[u8]) -> Result<Element, ClaimError> {
        let text = std::str::from_utf8(bytes).map_err(|e| ClaimError::Utf8 {
            offset: e.valid_up_to(),
        })?;
        let text = normalise_line_ends(text);
        let mut reader = NsReader::from_str(&text);
        reader.config_mut().expand_empty_elements = true;
        reader.config_mut().check_end_names = true;

        // Stack of open elements; the root ends up alone on it.
        let mut stack: Vec<Element> = Vec::new();
        let mut root: Option<Element> = None;
        let syntax = |stack: &[Element], offset: u64, reason: String| ClaimError::Syntax {
            path: path_of(stack),
            offset,
            reason,
        };
        loop {
            let offset = reader.buffer_position();
            let (res, event) = reader
                .read_resolved_event()
                .map_err(|e| syntax(&stack, offset, e.to_string()))?;
            match event {
                Event::Start(start) => {
                    if root.is_some() {
                        return Err(syntax(
                            &stack,
                            offset,
                            "content after the root element".into(),
                        ));
                    }
                    if stack.len() >= MAX_DEPTH {
                        return Err(ClaimError::TooDeep {
                            path: path_of(&stack),
                            limit: MAX_DEPTH,
                        });
                    }
                    let namespace = namespace_of(&res, &stack, offset)?;
                    let qname = start.name();
                    let name = utf8(qname.local_name().as_ref());
                    let prefix = qname.prefix().map(|p| utf8(p.as_ref()));
                    let mut attributes = Vec::new();
                    for attr in start.attributes() {
                        let attr = attr.map_err(|e| syntax(&stack, offset, e.to_string()))?;
                        if attr.key.as_namespace_binding().is_some() {
                            continue;
                        }
                        let (ares, local) = reader.resolve_attribute(attr.key);
                        let anamespace = namespace_of(&ares, &stack, offset)?;
                        let value =
                            attribute_value(&attr.value).map_err(|e| syntax(&stack, offset, e))?;
                        let mut a = Attribute {
                            namespace: anamespace,
                            name: utf8(local.as_ref()),
                            value,
                            value_namespace: None,
                        };
                        if a.is_xsi_type() {
                            let qname = quick_xml::name::QName(a.value.trim().as_bytes());
                            let (vres, _) = reader.resolve(qname, false);
                            a.value_namespace = namespace_of(&vres, &stack, offset)?;
                        }
                        attributes.push(a);
                    }
                    stack.push(Element {
                        namespace,
                        name,
                        prefix,
                        attributes,
                        children: Vec::new(),
                    });
                }
                Event::End(_) => {
                    let done = stack.pop().expect("quick-xml checks end names");
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(Node::Element(done)),
                        None => root = Some(done),
                    }
                }
                Event::Text(t) => {
                    let s = t
                        .unescape()
                        .map_err(|e| syntax(&stack, offset, e.to_string()))?;
                    push_text(&mut stack, &s, offset)?;
                }
                Event::CData(c) => {
                    let raw = c.into_inner();
                    let s = std::str::from_utf8(&raw).map_err(|_| ClaimError::Utf8 {
                        offset: offset as usize,
                    })?;
                    push_text(&mut stack, s, offset)?;
                }
                Event::DocType(_) => return Err(ClaimError::Doctype { offset }),
                Event::Empty(_) => unreachable!("expand_empty_elements is on"),
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
                Event::Eof => break,
            }
        }
        if !stack.is_empty() {
            return Err(syntax(
                &stack,
                reader.buffer_position(),
                "the document ends inside an element".into(),
            ));
        }
        root.ok_or_else(|| ClaimError::Syntax {
            path: "/".into(),
            offset: 0,
            reason: "no root element".into(),
        })
    }
}

fn push_text(stack: &mut [Element], s: &str, offset: u64) -> Result<(), ClaimError> {
    match stack.last_mut() {
        Some(parent) => {
            if let Some(Node::Text(prev)) = parent.children.last_mut() {
                prev.push_str(s);
            } else if !s.is_empty() {
                parent.children.push(Node::Text(s.to_owned()));
            }
            Ok(())
        }
        None if s.trim().is_empty() => Ok(()),
        None => Err(ClaimError::Syntax {
            path: "/".into(),
            offset,
            reason: "text outside the root element".into(),
        }),
    }
}

fn namespace_of(
    res: &ResolveResult,
    stack: &[Element],
    offset: u64,
) -> Result<Option<String>, ClaimError> {
    match res {
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Bound(ns) => Ok(Some(utf8(ns.as_ref()))),
        ResolveResult::Unknown(p) => Err(ClaimError::Syntax {
            path: path_of(stack),
            offset,
            reason: format!("namespace prefix '{}' is not declared", utf8(p)),
        }),
    }
}

fn utf8(b: &[u8]) -> String {
    // The input was checked as UTF-8 as a whole, and names are cut at ASCII delimiters.
    String::from_utf8_lossy(b).into_owned()
}

fn path_of(stack: &[Element]) -> String {
    if stack.is_empty() {
        return "/".into();
    }
    let mut p = String::new();
    for e in stack {
        p.push('/');
        p.push_str(&e.name);
    }
    p
}

/// Writes XML text with namespace declarations made up as needed. Contract elements use fixed
/// prefixes declared on the root; foreign elements get their original prefix when it is free,
/// else a fresh `nsN`, declared on the element that first needs it.
pub(crate) struct XmlWriter {
    pub(crate) out: String,
    /// In-scope prefix bindings, innermost last, with the stack depth each was declared at.
    scopes: Vec<(String, String, usize)>,
    depth: usize,
    fresh: usize,
}

impl XmlWriter {
    pub(crate) fn new() -> Self {
        XmlWriter {
            out: String::with_capacity(4096),
            scopes: Vec::new(),
            depth: 0,
            fresh: 0,
        }
    }

    /// Opens an element in `ns` with the given `(prefix, uri)` declarations forced onto it.
    pub(crate) fn open_with(&mut self, prefix: &str, name: &str, declare: &[(&str, &str)]) {
        self.open_attributed(prefix, name, declare, &[]);
    }

    /// Opens an element with declarations forced onto it and attributes (a contract element's
    /// `xsi:*`), declaring what the attributes' names and `xsi:type` values need.
    pub(crate) fn open_attributed(
        &mut self,
        prefix: &str,
        name: &str,
        declare: &[(&str, &str)],
        attributes: &[&Attribute],
    ) {
        self.depth += 1;
        for (p, uri) in declare {
            self.scopes
                .push(((*p).to_owned(), (*uri).to_owned(), self.depth));
        }
        let mut decls: Vec<(String, String)> = declare
            .iter()
            .map(|(p, u)| ((*p).to_owned(), (*u).to_owned()))
            .collect();
        let mut attrs = String::new();
        for a in attributes {
            self.attribute(&mut attrs, &mut decls, a);
        }
        self.out.push('<');
        self.out.push_str(prefix);
        self.out.push(':');
        self.out.push_str(name);
        self.declarations(&decls);
        self.out.push_str(&attrs);
        self.out.push('>');
    }

    fn declarations(&mut self, decls: &[(String, String)]) {
        for (p, uri) in decls {
            self.out.push_str(" xmlns:");
            self.out.push_str(p);
            self.out.push_str("=\"");
            escape_attr(&mut self.out, uri);
            self.out.push('"');
        }
    }

    /// A prefix bound to `uri` here, declared on the element being opened if it must be.
    fn bind(&mut self, uri: &str, hint: Option<&str>, decls: &mut Vec<(String, String)>) -> String {
        let (p, declare) = self.prefix_for(uri, hint);
        if declare {
            self.scopes.push((p.clone(), uri.to_owned(), self.depth));
            decls.push((p.clone(), uri.to_owned()));
        }
        p
    }

    /// Writes ` name="value"` into `attrs`, binding the prefixes its name and (for `xsi:type`)
    /// its value need.
    fn attribute(&mut self, attrs: &mut String, decls: &mut Vec<(String, String)>, a: &Attribute) {
        attrs.push(' ');
        if let Some(uri) = &a.namespace {
            if uri == "http://www.w3.org/XML/1998/namespace" {
                attrs.push_str("xml:");
            } else {
                let hint = (uri == XSI_NS).then_some("xsi");
                let p = self.bind(uri, hint, decls);
                attrs.push_str(&p);
                attrs.push(':');
            }
        }
        attrs.push_str(&a.name);
        attrs.push_str("=\"");
        match (&a.value_namespace, a.is_xsi_type()) {
            (Some(uri), true) => {
                let hint = a.value.trim().split_once(':').map(|(p, _)| p.to_owned());
                let p = self.bind(uri, hint.as_deref(), decls);
                escape_attr(attrs, &format!("{p}:{}", a.qname_local()));
            }
            _ => escape_attr(attrs, &a.value),
        }
        attrs.push('"');
    }

    pub(crate) fn close(&mut self, prefix: &str, name: &str) {
        self.out.push_str("</");
        self.out.push_str(prefix);
        self.out.push(':');
        self.out.push_str(name);
        self.out.push('>');
        self.pop_scope();
    }

    fn pop_scope(&mut self) {
        while matches!(self.scopes.last(), Some((_, _, d)) if *d >= self.depth) {
            self.scopes.pop();
        }
        self.depth -= 1;
    }

    pub(crate) fn text(&mut self, s: &str) {
        escape_text(&mut self.out, s);
    }

    fn bound(&self, prefix: &str) -> Option<&str> {
        self.scopes
            .iter()
            .rev()
            .find(|(p, _, _)| p == prefix)
            .map(|(_, u, _)| u.as_str())
    }

    /// The prefix to use for `uri`, and whether it must be declared here.
    fn prefix_for(&mut self, uri: &str, hint: Option<&str>) -> (String, bool) {
        if let Some(h) = hint {
            if self.bound(h) == Some(uri) {
                return (h.to_owned(), false);
            }
        }
        // Any prefix whose innermost binding is this uri.
        for (p, u, _) in self.scopes.iter().rev() {
            if u == uri && self.bound(p) == Some(uri) {
                return (p.clone(), false);
            }
        }
        if let Some(h) = hint {
            let reserved = h.eq_ignore_ascii_case("xml") || h.starts_with("xmlns");
            if !reserved && self.bound(h).is_none() {
                return (h.to_owned(), true);
            }
        }
        loop {
            self.fresh += 1;
            let p = format!("ns{}", self.fresh);
            if self.bound(&p).is_none() {
                return (p, true);
            }
        }
    }

    /// Writes a foreign (extension) element and everything inside it.
    pub(crate) fn element(&mut self, e: &Element) {
        self.depth += 1;
        let mut decls: Vec<(String, String)> = Vec::new();
        let tag = match &e.namespace {
            Some(uri) => {
                let p = self.bind(uri, e.prefix.as_deref(), &mut decls);
                format!("{p}:{}", e.name)
            }
            None => e.name.clone(),
        };
        let mut attrs = String::new();
        for a in &e.attributes {
            self.attribute(&mut attrs, &mut decls, a);
        }
        self.out.push('<');
        self.out.push_str(&tag);
        self.declarations(&decls);
        self.out.push_str(&attrs);
        if e.children.is_empty() {
            self.out.push_str("/>");
        } else {
            self.out.push('>');
            for c in &e.children {
                match c {
                    Node::Element(child) => self.element(child),
                    Node::Text(t) => escape_text(&mut self.out, t),
                }
            }
            self.out.push_str("</");
            self.out.push_str(&tag);
            self.out.push('>');
        }
        self.pop_scope();
    }
}

/// XML 1.0 §2.11: a parser reads every `\r\n` and every lone `\r` as `\n`, in text, CDATA and
/// attributes alike, before anything else (a `\r` written as `&#13;` stays). Byte offsets in
/// errors count in the normalised text: one fewer per CRLF before the place.
fn normalise_line_ends(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\r') {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
}

/// XML 1.0 §3.3.3 for an attribute without a DTD (CDATA): each literal tab and line end becomes
/// a space, then references are expanded (so `&#9;` stays a tab).
fn attribute_value(raw: &[u8]) -> Result<String, String> {
    let raw = std::str::from_utf8(raw).map_err(|e| e.to_string())?;
    let spaced = raw.replace(['\t', '\n'], " ");
    quick_xml::escape::unescape(&spaced)
        .map(|v| v.into_owned())
        .map_err(|e| e.to_string())
}

/// Escapes character data so that reading it back gives exactly `s` (including `\r`, which a
/// parser would otherwise normalise away).
fn escape_text(out: &mut String, s: &str) {
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(out: &mut String, s: &str) {
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            '\n' => out.push_str("&#10;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(xml: &str) -> Element {
        Element::parse_document(xml.as_bytes()).unwrap()
    }

    #[test]
    fn line_ends_are_read_as_xml_1_0_says() {
        let e = parse("<a>one\r\ntwo\rthree<![CDATA[four\r\nfive]]>&#13;</a>");
        assert_eq!(e.text(), "one\ntwo\nthreefour\nfive\r");
    }

    #[test]
    fn attribute_values_are_normalised_but_character_references_stay() {
        let e = parse("<a x=\"1\t2\r\n3\n4\" y=\"a&#9;b&#10;c\"/>");
        assert_eq!(e.attributes[0].value, "1 2 3 4");
        assert_eq!(e.attributes[1].value, "a\tb\nc");
    }

    #[test]
    fn what_is_written_reads_back_the_same() {
        let e = parse("<a y=\"a&#9;b&#10;c&#13;\">x&#13;\r\ny</a>");
        let mut w = XmlWriter::new();
        w.element(&e);
        let again = parse(&w.out);
        assert_eq!(again.text(), e.text());
        assert_eq!(again.attributes[0].value, e.attributes[0].value);
        assert!(
            !w.out.contains('\t') && w.out.contains("&#13;"),
            "{}",
            w.out
        );
    }
}
