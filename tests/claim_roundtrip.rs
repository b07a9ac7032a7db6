//! The model reads what a conforming parser reads and writes back what means the same. Generated
//! bases and the example documents are written again in many lexical forms the contract allows
//! (CRLF and tabs between and inside values, character references, CDATA, comments and
//! processing instructions, any prefixes, the core namespace as default namespace, `xsi:type`
//! and `xsi:schemaLocation` anywhere, with prefixes declared where they are used). Each is read
//! by the model and written back, and libxml2 (through Python's lxml, a parser nobody here
//! wrote) reads both files: their infosets must be equal.
//!
//! The infoset compared: elements by expanded name, in order; attributes by expanded name with
//! their normalised values (an `xsi:type` as the type it names, since its prefix may change);
//! character data, adjacent pieces joined. Not compared, by design: whitespace between elements
//! of element-only content, comments and processing instructions. The exchange does not forward
//! comments: a comment is text that no rule and no policy reads.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use chrono::NaiveDate;
use invoice_hub::claim::{Element, Node, ProcessClaimSpecification};
use invoice_hub::synth::{GenOptions, Generator};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const CORE_NS: &str = "urn:riv:financial:billing:claim:1";
const RESPONDER_NS: &str = "urn:riv:financial:billing:claim:ProcessClaimSpecificationResponder:1";
const XSI_NS: &str = "http://www.w3.org/2001/XMLSchema-instance";
const GENERATED: u64 = 150;
const FORMS_PER_EXAMPLE: u64 = 10;

/// How one document is written: chosen once per document.
struct Form {
    /// Prefix for the core namespace; `None` makes it the default namespace.
    core: Option<&'static str>,
    /// Prefix for the responder namespace (the root and `claimSpecification`).
    responder: &'static str,
    crlf: bool,
}

struct Writer<'r> {
    rng: &'r mut ChaCha8Rng,
    form: Form,
    out: String,
}

impl Writer<'_> {
    fn maybe(&mut self, p: f64) -> bool {
        self.rng.gen_bool(p)
    }

    fn newline(&self) -> &'static str {
        if self.form.crlf {
            "\r\n"
        } else {
            "\n"
        }
    }

    /// Whitespace, maybe a comment or a processing instruction, between two elements.
    fn between(&mut self) {
        let nl = self.newline();
        self.out.push_str(nl);
        if self.maybe(0.3) {
            self.out.push('\t');
        }
        if self.maybe(0.05) {
            self.out.push_str("<!-- a remark\r\n across lines -->");
            self.out.push_str(nl);
        }
        if self.maybe(0.02) {
            self.out.push_str("<?invoice-hub note?>");
        }
        self.out.push_str("  ");
    }

    /// Character data in a random lexical form that reads back as `text`.
    fn text(&mut self, text: &str) {
        if !text.contains("]]>") && self.maybe(0.1) {
            let _ = write!(self.out, "<![CDATA[{text}]]>");
            return;
        }
        let split = if self.maybe(0.05) {
            text.char_indices()
                .nth(text.chars().count() / 2)
                .map(|(i, _)| i)
        } else {
            None
        };
        for (i, c) in text.char_indices() {
            if Some(i) == split {
                self.out.push_str("<!--split-->");
            }
            match c {
                '<' => self.out.push_str("&lt;"),
                '&' => self.out.push_str("&amp;"),
                '>' if self.maybe(0.5) => self.out.push_str("&gt;"),
                '\r' => self.out.push_str("&#13;"),
                '\n' if self.form.crlf => self.out.push_str("\r\n"),
                c if self.maybe(0.03) => {
                    let _ = if self.maybe(0.5) {
                        write!(self.out, "&#{};", c as u32)
                    } else {
                        write!(self.out, "&#x{:X};", c as u32)
                    };
                }
                c => self.out.push(c),
            }
        }
    }

    /// Changes a value now and then so that line ends, tabs and a carriage return written as a
    /// reference occur inside values too.
    fn vary_value(&mut self, text: &str) -> String {
        if text.trim().is_empty() || !self.maybe(0.05) {
            return text.to_owned();
        }
        let extra = ["\n", "\t", "\r", " \n\t "][self.rng.gen_range(0..4)];
        format!("{text}{extra}{text}")
    }

    /// The tag's name for an element.
    fn tag(&self, e: &Element) -> String {
        match e.namespace.as_deref() {
            Some(CORE_NS) => match self.form.core {
                Some(p) => format!("{p}:{}", e.name),
                None => e.name.clone(),
            },
            Some(RESPONDER_NS) => format!("{}:{}", self.form.responder, e.name),
            // Foreign (extension) elements get a prefix of their own, declared on them.
            Some(_) => format!("x:{}", e.name),
            None => e.name.clone(),
        }
    }

    /// The declarations an element needs beyond the root's.
    fn declarations(&mut self, e: &Element) {
        match e.namespace.as_deref() {
            Some(CORE_NS) | Some(RESPONDER_NS) => {}
            Some(ns) => {
                let _ = write!(self.out, " xmlns:x=\"{ns}\"");
            }
            // An element in no namespace where the core namespace is the default.
            None if self.form.core.is_none() => self.out.push_str(" xmlns=\"\""),
            None => {}
        }
    }

    /// `xsi:type` on a contract element now and then, naming a core type by a prefix that is
    /// bound where it is used: the document's own, one declared on this element, or none when
    /// the core namespace is the default.
    fn xsi_type(&mut self, e: &Element) -> Option<(String, Option<String>)> {
        if e.namespace.as_deref() != Some(CORE_NS) || !self.maybe(0.08) {
            return None;
        }
        let type_name = format!("{}Type", e.name);
        if self.maybe(0.4) {
            return Some((
                format!("t:{type_name}"),
                Some(format!(" xmlns:t=\"{CORE_NS}\"")),
            ));
        }
        Some(match self.form.core {
            Some(p) => (format!("{p}:{type_name}"), None),
            None => (type_name, None),
        })
    }

    fn element(&mut self, e: &Element, depth: usize) {
        let tag = self.tag(e);
        let _ = write!(self.out, "<{tag}");
        if depth == 0 {
            let _ = write!(
                self.out,
                " xmlns:{}=\"{}\"",
                self.form.responder,
                e.namespace.as_deref().unwrap_or_default()
            );
            let _ = write!(self.out, " xmlns:xsi=\"{XSI_NS}\"");
            match self.form.core {
                Some(p) => {
                    let _ = write!(self.out, " xmlns:{p}=\"{CORE_NS}\"");
                }
                None => {
                    let _ = write!(self.out, " xmlns=\"{CORE_NS}\"");
                }
            }
            if self.maybe(0.5) {
                // Literal tabs and line ends in an attribute read as spaces (XML 1.0 §3.3.3).
                let _ = write!(
                    self.out,
                    " xsi:schemaLocation=\"{}\t ProcessClaimSpecificationResponder_1.1.xsd{}x.xsd\"",
                    e.namespace.as_deref().unwrap_or_default(),
                    self.newline()
                );
            }
        }
        self.declarations(e);
        if let Some((value, declare)) = self.xsi_type(e) {
            let _ = write!(
                self.out,
                "{} xsi:type=\"{value}\"",
                declare.unwrap_or_default()
            );
        }
        for a in &e.attributes {
            // Extension elements' own attributes: in their element's namespace, or in none.
            let prefix = match (&a.namespace, &e.namespace) {
                (Some(a), Some(e)) if a == e => "x:",
                _ => "",
            };
            let value = a
                .value
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('"', "&quot;");
            let _ = write!(self.out, " {prefix}{}=\"{value}\"", a.name);
        }
        self.out.push('>');
        let has_elements = e.children.iter().any(|c| matches!(c, Node::Element(_)));
        for c in &e.children {
            match c {
                Node::Element(child) => {
                    self.between();
                    self.element(child, depth + 1);
                }
                Node::Text(t) if has_elements => {
                    if !t.trim().is_empty() {
                        self.text(t);
                    }
                }
                Node::Text(t) => {
                    let t = self.vary_value(t);
                    self.text(&t);
                }
            }
        }
        if has_elements {
            self.between();
        }
        let _ = write!(self.out, "</{tag}>");
    }
}

fn write_form(doc: &Element, rng: &mut ChaCha8Rng) -> String {
    let core = [Some("clm"), Some("c"), Some("ns2"), Some("tns"), None][rng.gen_range(0..5)];
    let responder = if core == Some("tns") {
        "rsp"
    } else {
        ["tns", "rsp", "ns1"][rng.gen_range(0..3)]
    };
    let crlf = rng.gen_bool(0.5);
    let mut w = Writer {
        rng,
        form: Form {
            core,
            responder,
            crlf,
        },
        out: String::new(),
    };
    if w.maybe(0.7) {
        w.out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
        w.out.push_str(if crlf { "\r\n" } else { "\n" });
    }
    if w.maybe(0.3) {
        w.out.push_str("<!-- before the root -->\n");
    }
    w.element(doc, 0);
    w.out.push_str(if crlf { "\r\n" } else { "\n" });
    w.out
}

/// The documents the forms are made from: generated bases and the example files.
fn sources() -> Vec<(String, Vec<u8>)> {
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let mut opts = GenOptions::new(20261201, today);
    opts.lines = 1..=6;
    let generator = Generator::new(opts).unwrap();
    let mut out: Vec<(String, Vec<u8>)> = (0..GENERATED)
        .map(|i| {
            let g = generator.generate(i);
            (g.file_name, g.xml)
        })
        .collect();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for entry in std::fs::read_dir(&data).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "xml") {
            let bytes = std::fs::read(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            for k in 0..FORMS_PER_EXAMPLE {
                out.push((format!("{k}-{name}"), bytes.clone()));
            }
        }
    }
    out
}

const COMPARE: &str = r#"
import sys, os
from lxml import etree
XSI_TYPE = "{http://www.w3.org/2001/XMLSchema-instance}type"
parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)

def info(el):
    attrs = []
    for k, v in el.attrib.items():
        if k == XSI_TYPE:
            p, _, local = v.strip().rpartition(":")
            ns = el.nsmap.get(p or None)
            v = "{%s}%s" % (ns, local) if ns else local
        attrs.append((k, v))
    parts, buf = [], el.text or ""
    for c in el:
        if isinstance(c.tag, str):
            parts.append(("t", buf)); buf = ""
            parts.append(("e", info(c)))
        buf += c.tail or ""
    parts.append(("t", buf))
    if any(k == "e" for k, _ in parts):
        parts = [(k, v) for k, v in parts if not (k == "t" and v.strip() == "")]
    parts = [(k, v) for k, v in parts if not (k == "t" and v == "")]
    return (el.tag, tuple(sorted(attrs)), tuple(parts))

def first_difference(a, b, path=""):
    if a[0] != b[0]: return f"{path}: element {a[0]} / {b[0]}"
    here = f"{path}/{a[0].split('}')[-1]}"
    if a[1] != b[1]: return f"{here}: attributes {a[1]} / {b[1]}"
    for (ka, va), (kb, vb) in zip(a[2], b[2]):
        if ka != kb: return f"{here}: {ka} / {kb}"
        if ka == "t" and va != vb: return f"{here}: text {va!r} / {vb!r}"
        if ka == "e":
            d = first_difference(va, vb, here)
            if d: return d
    if len(a[2]) != len(b[2]): return f"{here}: {len(a[2])} / {len(b[2])} children"
    return None

d = sys.argv[1]
bad, n = 0, 0
for name in sorted(os.listdir(d)):
    if not name.endswith(".in.xml"): continue
    base = name[:-len(".in.xml")]
    a = info(etree.parse(os.path.join(d, name), parser).getroot())
    b = info(etree.parse(os.path.join(d, base + ".out.xml"), parser).getroot())
    n += 1
    if a != b:
        bad += 1
        print(f"DIFFERENT {base}: {first_difference(a, b)}")
print(f"compared {n} documents, {bad} different")
sys.exit(1 if bad or n == 0 else 0)
"#;

#[test]
fn every_lexical_form_reads_and_writes_back_the_same_infoset() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(22);
    let mut refused = Vec::new();
    let mut written = 0;
    let mut with_xsi_type = 0;
    for (i, (name, xml)) in sources().into_iter().enumerate() {
        let tree = Element::parse_document(&xml).unwrap_or_else(|e| panic!("{name}: {e}"));
        let form = write_form(&tree, &mut rng);
        with_xsi_type += usize::from(form.contains("xsi:type"));
        let stem = format!("{i:04}-{}", name.trim_end_matches(".xml"));
        std::fs::write(dir.path().join(format!("{stem}.in.xml")), &form).unwrap();
        match ProcessClaimSpecification::from_xml(form.as_bytes()) {
            Ok(doc) => {
                std::fs::write(dir.path().join(format!("{stem}.out.xml")), doc.to_xml()).unwrap();
                written += 1;
            }
            Err(e) => refused.push(format!("{stem}: {e}")),
        }
    }
    assert!(
        refused.is_empty(),
        "the model refused forms the contract allows:\n{}",
        refused.join("\n")
    );
    assert!(
        with_xsi_type > written / 2,
        "only {with_xsi_type} of {written} forms carry xsi:type"
    );

    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let out = Command::new(&python)
        .arg("-c")
        .arg(COMPARE)
        .arg(dir.path())
        .output()
        .unwrap_or_else(|e| panic!("{python} (with lxml) is needed for this test: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "libxml2 reads a different infoset from what the model wrote:\n{stdout}{stderr}\n(files kept in {})",
        dir.keep().display()
    );
    assert!(
        stdout.contains(&format!("compared {written} documents, 0 different")),
        "{stdout}"
    );
}

/// What the property above relies on, shown once by hand: `xsi:type` below the root is read
/// and written back, bound to a prefix that means the same namespace.
#[test]
fn xsi_type_on_a_leaf_and_on_a_complex_element_is_kept() {
    let xml = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/asylum_extensions_default_ns.xml"),
    )
    .unwrap();
    let text = String::from_utf8(xml).unwrap();
    let text = text.replacen("<typeOfInvoice>", &format!("<typeOfInvoice xmlns:q=\"{CORE_NS}\" xmlns:xsi=\"{XSI_NS}\" xsi:type=\"q:TypeOfInvoiceType\">"), 1);
    assert!(
        text.contains("xsi:type"),
        "the example changed: no typeOfInvoice to mark"
    );
    let doc = ProcessClaimSpecification::from_xml(text.as_bytes()).unwrap();
    let out = doc.to_xml();
    assert!(
        out.contains("xsi:type=\"clm:TypeOfInvoiceType\"")
            || out.contains("xsi:type=\"q:TypeOfInvoiceType\""),
        "{out}"
    );
    let again = ProcessClaimSpecification::from_xml(out.as_bytes()).unwrap();
    assert_eq!(again, doc);
}

/// The bug this file was written for: `xsi:type` and `xsi:schemaLocation` below the root, which
/// the official schema accepts, were refused by the model. Now the whole validator accepts such
/// a document, and what the model writes back (as the hub does after a policy removal) is still
/// valid and still carries them.
#[test]
fn a_valid_basis_with_xsi_attributes_below_the_root_is_valid_and_written_back_valid() {
    use invoice_hub::validate::{RuleContext, Validator};
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/asylum_extensions_default_ns.xml");
    let text = std::fs::read_to_string(path).unwrap();
    let marked = text
        .replacen(
            "<tns:claimSpecification xmlns=\"urn:riv:financial:billing:claim:1\">",
            &format!(
                "<tns:claimSpecification xmlns=\"{CORE_NS}\" xmlns:xsi=\"{XSI_NS}\" \
                 xsi:schemaLocation=\"{CORE_NS} claim_1.1.xsd\">"
            ),
            1,
        )
        .replacen(
            "<supplierParty>",
            &format!("<supplierParty xmlns:c=\"{CORE_NS}\" xsi:type=\"c:SupplierPartyType\">"),
            1,
        )
        .replacen(
            "<typeOfInvoice>",
            "<typeOfInvoice xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" xsi:type=\"xs:string\">",
            1,
        );
    assert_eq!(marked.matches("xsi:").count(), 3, "the example changed");
    let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let validator = Validator::new(RuleContext::new(today)).unwrap();
    let report = validator.validate(marked.as_bytes());
    assert!(report.is_valid(), "{:#?}", report.findings);

    let written = ProcessClaimSpecification::from_xml(marked.as_bytes())
        .unwrap()
        .to_xml();
    let again = validator.validate(written.as_bytes());
    assert!(again.is_valid(), "{:#?}\n{written}", again.findings);
    for needle in ["xsi:schemaLocation=", ":SupplierPartyType\"", ":string\""] {
        assert!(written.contains(needle), "{needle} lost:\n{written}");
    }
}
