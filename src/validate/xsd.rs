//! The contract's XSD, checked by libxml2 (a real XSD engine) through the `libxml` crate's raw
//! bindings. The safe wrappers of `libxml` 0.3 compile the schema once per validation context
//! (and those are not `Send`) and drop the node an error belongs to; this module compiles the
//! schema once, shares the compiled, read-only `xmlSchema` across threads, makes a cheap
//! validation context per document, and turns every error into a [`Finding`] with line and path.
//!
//! libxml2 parses with `XML_PARSE_NONET` and without `NOENT`/`DTDLOAD`/`HUGE`: it never expands
//! entities, loads a DTD or touches the network. [`super::safety`] has already refused any
//! DOCTYPE before libxml2 sees the bytes; these options are the second wall, not the first.
//!
//! The one module of the crate allowed `unsafe` (Cargo.toml denies it everywhere else): every
//! block says above it why it is sound.

#![allow(unsafe_code)]

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::Path;
use std::sync::Once;

use libxml::bindings;

use super::Finding;

/// The core schema as shipped in `schemas/`, compiled into the binary so the validator works
/// wherever it is installed.
pub const CORE_XSD: &str = include_str!("../../schemas/core_components/claim_1.1.xsd");
/// The responder schema (root elements), which imports the core schema.
pub const RESPONDER_XSD: &str = include_str!(
    "../../schemas/interactions/ProcessClaimSpecificationInteraction/ProcessClaimSpecificationResponder_1.1.xsd"
);
/// Where the responder schema lives below a schema directory.
pub const RESPONDER_PATH: &str =
    "interactions/ProcessClaimSpecificationInteraction/ProcessClaimSpecificationResponder_1.1.xsd";
const CORE_PATH: &str = "core_components/claim_1.1.xsd";

/// Rule id for a document libxml2 cannot even parse.
pub const RULE_XML: &str = "XML";
/// Rule id for a schema violation.
pub const RULE_XSD: &str = "XSD";

/// Elements that may repeat in the contract: their paths always carry a position, the same as
/// the model's and the rules' paths do.
const REPEATED: &[&str] = &[
    "healthCareServicesSpecificationLine",
    "healthcarePerformed",
    "identification",
    "unspecified",
    "patientSpecificCare",
    "biDiagnosis",
    "typeOfTreatment",
    "ATC",
];

/// Why the schema itself could not be compiled: a deployment problem, never an input problem.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    #[error("cannot prepare schema files in {dir}: {source}")]
    Io { dir: String, source: std::io::Error },
    #[error("schema file {0} does not exist or is not a file")]
    BadPath(String),
    #[error("the XSD {path} does not compile: {messages}")]
    Compile { path: String, messages: String },
}

/// A compiled schema, shareable across threads.
pub struct Schema {
    ptr: *mut bindings::_xmlSchema,
}

// SAFETY: after `xmlSchemaParse` returns, libxml2 never writes to the `xmlSchema`; validation
// contexts (one per call here, never shared) only read it. libxml2 documents compiled schemas
// as safe to use from several validation contexts in different threads once the library is
// initialised (`xmlInitParser`, done in `init`). The pointer is freed only in `Drop`, when no
// other reference exists.
unsafe impl Send for Schema {}
unsafe impl Sync for Schema {}

impl Drop for Schema {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `xmlSchemaParse` and is freed exactly once.
        unsafe { bindings::xmlSchemaFree(self.ptr) }
    }
}

impl std::fmt::Debug for Schema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Schema")
    }
}

fn init() {
    static INIT: Once = Once::new();
    // SAFETY: xmlInitParser must run once before libxml2 is used from several threads, and
    // xmlSchemaInitTypes (called lazily, and not thread-safely, by xmlSchemaParse in libxml2
    // 2.9) is run here once instead.
    INIT.call_once(|| unsafe {
        bindings::xmlInitParser();
        bindings::xmlSchemaInitTypes();
    });
}

/// Schema compilation is rare and touches libxml2's global state; one at a time.
static COMPILE: std::sync::Mutex<()> = std::sync::Mutex::new(());

impl Schema {
    /// The schemas built into the binary. They are written to a private temporary directory
    /// just long enough to compile them, because libxml2 resolves the responder schema's
    /// `xs:import schemaLocation` against a file location.
    pub fn embedded() -> Result<Schema, SchemaError> {
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "invoice-hub-xsd-{}-{}-{}",
            std::process::id(),
            n,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        ));
        let io = |source| SchemaError::Io {
            dir: dir.display().to_string(),
            source,
        };
        std::fs::create_dir(&dir).map_err(io)?;
        let result = (|| {
            for (rel, text) in [(CORE_PATH, CORE_XSD), (RESPONDER_PATH, RESPONDER_XSD)] {
                let p = dir.join(rel);
                std::fs::create_dir_all(p.parent().expect("relative path has a parent"))
                    .map_err(io)?;
                std::fs::write(&p, text).map_err(io)?;
            }
            Schema::from_dir(&dir)
        })();
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    /// The schemas in a directory laid out like `schemas/` (a deployment may ship its own copy).
    pub fn from_dir(dir: &Path) -> Result<Schema, SchemaError> {
        Schema::from_file(&dir.join(RESPONDER_PATH))
    }

    /// Compiles the responder schema at `path` (its imports are resolved next to it).
    pub fn from_file(path: &Path) -> Result<Schema, SchemaError> {
        init();
        let shown = path.display().to_string();
        if !path.is_file() {
            return Err(SchemaError::BadPath(shown));
        }
        let c_path =
            CString::new(shown.clone()).map_err(|_| SchemaError::BadPath(shown.clone()))?;
        let mut errors = Collector::new(20);
        let _one_at_a_time = COMPILE.lock().unwrap_or_else(|e| e.into_inner());
        // SAFETY: a fresh schema parser context, owned by the guard.
        let Some(pctx) = (unsafe {
            Owned::new(
                bindings::xmlSchemaNewParserCtxt(c_path.as_ptr()),
                FREE_SCHEMA_PARSER_CTXT,
            )
        }) else {
            return Err(SchemaError::BadPath(shown));
        };
        // SAFETY: the collector outlives every callback (they happen inside xmlSchemaParse);
        // the compiled schema does not point into the parser context, which the guard frees.
        let ptr = unsafe {
            bindings::xmlSchemaSetParserStructuredErrors(
                pctx.ptr,
                error_handler(),
                &mut errors as *mut Collector as *mut c_void,
            );
            bindings::xmlSchemaParse(pctx.ptr)
        };
        drop(pctx);
        if ptr.is_null() {
            let messages = errors
                .findings
                .iter()
                .map(|f| f.message.clone())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(SchemaError::Compile {
                path: shown,
                messages,
            });
        }
        Ok(Schema { ptr })
    }

    /// Parses and validates one document. Returns the problems found, at most `max_findings`
    /// of them (plus one saying how many more there were); empty means valid.
    pub fn validate(&self, bytes: &[u8], max_findings: usize) -> Vec<Finding> {
        let Ok(len) = c_int::try_from(bytes.len()) else {
            return vec![Finding::new(
                RULE_XML,
                "/",
                "the document is too large to parse",
            )];
        };
        let mut collector = Collector::new(max_findings);
        let parsed = match parse(bytes, len) {
            Ok(parsed) => parsed,
            Err(finding) => return vec![finding],
        };
        // SAFETY: `self.ptr` is a compiled schema, alive as long as `self`.
        let Some(vctx) =
            (unsafe { Owned::new(bindings::xmlSchemaNewValidCtxt(self.ptr), FREE_VALID_CTXT) })
        else {
            return vec![Finding::new(RULE_XSD, "/", "out of memory")];
        };
        // SAFETY: the collector outlives every callback (they happen only inside
        // xmlSchemaValidateDoc, below), and the document is alive while errors point into it
        // (`parsed` drops after `vctx`, declared later).
        let rc = unsafe {
            bindings::xmlSchemaSetValidStructuredErrors(
                vctx.ptr,
                error_handler(),
                &mut collector as *mut Collector as *mut c_void,
            );
            bindings::xmlSchemaValidateDoc(vctx.ptr, parsed.doc.ptr)
        };
        if rc != 0 && collector.findings.is_empty() {
            collector.findings.push(Finding::new(
                RULE_XSD,
                "/",
                format!("the document does not match the contract's schema (code {rc})"),
            ));
        }
        collector.finish()
    }
}

/// A libxml2 object this module made and owns, freed exactly once when the guard drops, so no
/// early return can leak it or free it twice.
struct Owned<T> {
    ptr: *mut T,
    free: unsafe extern "C" fn(*mut T),
}

impl<T> Owned<T> {
    /// Takes ownership of `ptr`; `None` if libxml2 returned null (out of memory, or it could not
    /// make the object).
    ///
    /// # Safety
    /// `ptr` must be null or an object that `free` frees and that nobody else frees.
    unsafe fn new(ptr: *mut T, free: unsafe extern "C" fn(*mut T)) -> Option<Owned<T>> {
        (!ptr.is_null()).then_some(Owned { ptr, free })
    }
}

impl<T> Drop for Owned<T> {
    fn drop(&mut self) {
        // SAFETY: `new`'s contract: a live object `free` frees, owned only by this guard.
        unsafe { (self.free)(self.ptr) }
    }
}

const FREE_PARSER_CTXT: unsafe extern "C" fn(*mut bindings::_xmlParserCtxt) =
    bindings::xmlFreeParserCtxt;
const FREE_DOC: unsafe extern "C" fn(*mut bindings::_xmlDoc) = bindings::xmlFreeDoc;
const FREE_SCHEMA_PARSER_CTXT: unsafe extern "C" fn(*mut bindings::_xmlSchemaParserCtxt) =
    bindings::xmlSchemaFreeParserCtxt;
const FREE_VALID_CTXT: unsafe extern "C" fn(*mut bindings::_xmlSchemaValidCtxt) =
    bindings::xmlSchemaFreeValidCtxt;

/// A parsed document and the parser context that made it. Fields drop in declaration order:
/// the document first, then the context whose dictionary it uses.
struct Parsed {
    doc: Owned<bindings::_xmlDoc>,
    _ctxt: Owned<bindings::_xmlParserCtxt>,
}

/// Parses `bytes` (never the network, no entities, no DTD) into a document, or says on which
/// line it is not well-formed.
fn parse(bytes: &[u8], len: c_int) -> Result<Parsed, Finding> {
    let options = (bindings::xmlParserOption_XML_PARSE_NONET
        | bindings::xmlParserOption_XML_PARSE_NOERROR
        | bindings::xmlParserOption_XML_PARSE_NOWARNING) as c_int;
    // SAFETY: a fresh parser context, owned by the guard.
    let pctx = unsafe { Owned::new(bindings::xmlNewParserCtxt(), FREE_PARSER_CTXT) }
        .ok_or_else(|| Finding::new(RULE_XML, "/", "out of memory"))?;
    // SAFETY: `bytes` (of `len` bytes) outlives the call; the document is owned by the guard.
    let doc = unsafe {
        Owned::new(
            bindings::xmlCtxtReadMemory(
                pctx.ptr,
                bytes.as_ptr() as *const c_char,
                len,
                c"basis.xml".as_ptr(),
                c"UTF-8".as_ptr(),
                options,
            ),
            FREE_DOC,
        )
    };
    match doc {
        Some(doc) => Ok(Parsed { doc, _ctxt: pctx }),
        // SAFETY: the context's last error, alive while the context is.
        None => Err(unsafe { not_well_formed(&pctx) }),
    }
}

/// The finding for a document libxml2 could not parse, from the context's last error.
///
/// # Safety
/// `pctx` is the context that failed to parse.
unsafe fn not_well_formed(pctx: &Owned<bindings::_xmlParserCtxt>) -> Finding {
    // SAFETY: the error belongs to the live context.
    let err = unsafe { bindings::xmlCtxtGetLastError(pctx.ptr as *mut c_void) };
    if err.is_null() {
        return Finding::new(RULE_XML, "/", "the document is not well-formed XML");
    }
    // SAFETY: non-null, alive while the context is.
    let e = unsafe { &*err };
    Finding::new(
        RULE_XML,
        "/",
        format!(
            "line {}: not well-formed XML: {}",
            e.line,
            sanitize(&unsafe { c_str(e.message) })
        ),
    )
}

/// The callback signature in libxml2 2.9 (`xmlErrorPtr`) and 2.12+ (`const xmlError *`) differ
/// only in constness; the ABI is the same, so one function serves both through a transmute.
type ErrorFn = unsafe extern "C" fn(*mut c_void, *const bindings::_xmlError);

fn error_handler() -> bindings::xmlStructuredErrorFunc {
    // SAFETY: same ABI, the only difference being the constness of the error pointer.
    unsafe {
        std::mem::transmute::<Option<ErrorFn>, bindings::xmlStructuredErrorFunc>(Some(
            collect_error,
        ))
    }
}

struct Collector {
    findings: Vec<Finding>,
    max: usize,
    dropped: usize,
}

impl Collector {
    fn new(max: usize) -> Self {
        Collector {
            findings: Vec::new(),
            max,
            dropped: 0,
        }
    }

    fn finish(mut self) -> Vec<Finding> {
        if self.dropped > 0 {
            self.findings.push(Finding::new(
                RULE_XSD,
                "/",
                format!("{} more schema errors not listed", self.dropped),
            ));
        }
        self.findings
    }
}

unsafe extern "C" fn collect_error(data: *mut c_void, error: *const bindings::_xmlError) {
    if data.is_null() || error.is_null() {
        return;
    }
    // SAFETY: `data` is the `Collector` registered with this context, alive for the call;
    // `error` is valid for the duration of the callback, and its node (if any) belongs to the
    // document being validated, which is alive.
    let (collector, e) = unsafe { (&mut *(data as *mut Collector), &*error) };
    if e.level == bindings::xmlErrorLevel_XML_ERR_WARNING {
        return;
    }
    if collector.findings.len() >= collector.max {
        collector.dropped += 1;
        return;
    }
    let path = unsafe { node_path(e.node as *const bindings::_xmlNode) };
    let message = format!(
        "line {}: {}",
        e.line,
        sanitize(&unsafe { c_str(e.message) })
    );
    collector
        .findings
        .push(Finding::new(RULE_XSD, path, message));
}

unsafe fn c_str(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    unsafe { CStr::from_ptr(p) }
        .to_string_lossy()
        .trim()
        .to_owned()
}

/// The element path in the same form the model and the rules use:
/// `/claimSpecification/healthCareServicesSpecificationLine[2]/…` (the envelope root is left
/// out, as in every other report path).
unsafe fn node_path(mut node: *const bindings::_xmlNode) -> String {
    let mut parts = Vec::new();
    // SAFETY: walking parent/prev links of a live libxml2 tree.
    unsafe {
        while !node.is_null() && (*node).type_ == bindings::xmlElementType_XML_ELEMENT_NODE {
            let name = c_str((*node).name as *const c_char);
            let mut pos = 1;
            let mut same = false;
            let mut sib = (*node).prev as *const bindings::_xmlNode;
            while !sib.is_null() {
                if (*sib).type_ == bindings::xmlElementType_XML_ELEMENT_NODE
                    && c_str((*sib).name as *const c_char) == name
                {
                    pos += 1;
                    same = true;
                }
                sib = (*sib).prev;
            }
            let mut sib = (*node).next as *const bindings::_xmlNode;
            while !same && !sib.is_null() {
                if (*sib).type_ == bindings::xmlElementType_XML_ELEMENT_NODE
                    && c_str((*sib).name as *const c_char) == name
                {
                    same = true;
                }
                sib = (*sib).next;
            }
            if same || REPEATED.contains(&name.as_str()) {
                parts.push(format!("{name}[{pos}]"));
            } else {
                parts.push(name);
            }
            node = (*node).parent;
        }
    }
    parts.reverse();
    if parts.len() > 1 && parts[0] == "ProcessClaimSpecification" {
        parts.remove(0);
    }
    if parts.is_empty() {
        return "/".into();
    }
    let mut p = String::new();
    for part in parts {
        p.push('/');
        p.push_str(&part);
    }
    p
}

/// Makes a libxml2 message fit a report that may be logged: namespaces shortened to local
/// names, and the offending value left out (it may be a patient's data; the path says where
/// to look).
fn sanitize(message: &str) -> String {
    let mut m = message
        .replace(&format!("{{{}}}", crate::claim::CORE_NS), "")
        .replace(&format!("{{{}}}", crate::claim::RESPONDER_NS), "")
        .replace("[facet 'pattern'] ", "")
        .replace("[facet 'enumeration'] ", "");
    // "'<value>' is not a valid value of ..." → "the value is not a valid value of ..."
    while let Some(end) = m.find("' is not a valid value") {
        match m[..end].rfind(": '") {
            Some(start) => m.replace_range(start + 2..end + 1, "the value"),
            None => break,
        }
    }
    // "The value '<value>' is not accepted/an element of ..." → "The value is not ..."
    while let Some(start) = m.find("The value '") {
        match m[start + 11..].find("' is ") {
            Some(rel) => m.replace_range(start + 9..start + 11 + rel + 1, ""),
            None => break,
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn values_are_left_out_of_messages() {
        let m = sanitize("Element '{urn:riv:financial:billing:claim:1}amount': 'abc 197803122386' is not a valid value of the atomic type 'xs:decimal'.");
        assert_eq!(
            m,
            "Element 'amount': the value is not a valid value of the atomic type 'xs:decimal'."
        );
        let m = sanitize("Element '{urn:riv:financial:billing:claim:1}issueDate': [facet 'pattern'] The value '2026-11-15' is not accepted by the pattern '(19|20)'.");
        assert_eq!(
            m,
            "Element 'issueDate': The value is not accepted by the pattern '(19|20)'."
        );
    }
}
