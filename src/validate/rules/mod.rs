//! The contract's business rules ÖR1–ÖR52 (ÖR32 was retired upstream and replaced by ÖR39)
//! and the identifier checks beyond the contract (`ID-*`, see [`super::ids`]).
//!
//! Split by theme: [`empty`] (ÖR1, on the raw bytes), [`header`] (the basis as a whole and its
//! parties), [`patient`] (who the patient is and where they live), [`line`] (one contact or
//! stay: codes, dates, required fields), [`amounts`] (every rule that adds up money) and
//! [`codes`] (the medical field code register ÖR49 checks against).
//!
//! Rules look only at fields that are present, except where a rule makes a field required.
//! A value that does not parse (a date that is not `YYYYMMDD`, an amount that is not a
//! decimal) is the XSD's finding; the rules that need it then say nothing rather than report
//! the same problem twice.
//!
//! Speed: a valid document must cost no string formatting. Paths are chains of borrowed
//! segments on the stack ([`At`]) rendered only when a finding is made.

mod amounts;
pub mod catalogue;
pub mod codes;
mod empty;
mod header;
mod line;
mod patient;

use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;

pub use codes::{CodeListError, MedicalFieldCodes};

use super::profile::{official_id, Origin, Profile};
use super::Finding;
use crate::claim::ClaimSpecification;

/// What the rules need besides the document: the date "today" is (ÖR2 compares with it, and
/// tests must be able to fix it), the register of medical field codes (ÖR49), which a
/// deployment replaces with its authoritative copy, and whose verdict to reproduce
/// ([`Profile`]).
#[derive(Debug, Clone)]
pub struct RuleContext {
    pub today: NaiveDate,
    medical_field_codes: Arc<MedicalFieldCodes>,
    profile: Profile,
}

impl RuleContext {
    /// Rules checked as of `today`, with the medical field codes built into the binary
    /// (`schemas/medical-field-codes.txt`).
    pub fn new(today: NaiveDate) -> Self {
        RuleContext {
            today,
            medical_field_codes: MedicalFieldCodes::embedded(),
            profile: Profile::Contract,
        }
    }

    /// The same rules as `profile` reads them.
    pub fn with_profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The same rules with the medical field codes read from `path` (same format as
    /// `schemas/medical-field-codes.txt`). The error names the file and the line.
    pub fn with_medical_field_codes_file(self, path: &Path) -> Result<Self, CodeListError> {
        let codes = MedicalFieldCodes::from_file(path)?;
        Ok(self.with_medical_field_codes(codes))
    }

    /// The same rules with this register of medical field codes.
    pub fn with_medical_field_codes(mut self, codes: MedicalFieldCodes) -> Self {
        self.medical_field_codes = Arc::new(codes);
        self
    }

    /// The register ÖR49 checks against.
    pub fn medical_field_codes(&self) -> &MedicalFieldCodes {
        &self.medical_field_codes
    }
}

/// Checks every business rule and identifier check. `raw` is the document as received (ÖR1,
/// empty elements, is checked on it, so extension elements are covered too); `claim` is its
/// typed model. Findings come in document order per theme: ÖR1, then the header, then line by
/// line.
pub fn check(raw: &[u8], claim: &ClaimSpecification, ctx: &RuleContext) -> Vec<Finding> {
    let mut out = Findings {
        ctx,
        list: Vec::new(),
    };
    empty::check(raw, &mut out);
    header::check(claim, &mut out);
    amounts::check_payable(claim, &mut out);
    let root = At::ROOT;
    let mut line_ids = line::LineIds::default();
    for (li, l) in claim
        .health_care_services_specification_line
        .iter()
        .enumerate()
    {
        let at_l = root.nth("healthCareServicesSpecificationLine", li);
        patient::check(
            &l.patient_information,
            &at_l.at("patientInformation"),
            &mut out,
        );
        for (hi, hp) in l.healthcare_performed.iter().enumerate() {
            let at_hp = at_l.nth("healthcarePerformed", hi);
            line::check_line_id(hp, &at_hp, &mut line_ids, &mut out);
            line::check(claim, hp, &at_hp, &mut out);
            amounts::check_line(hp, &at_hp, &mut out);
        }
    }
    out.list
}

/// Where a rule looks: a chain of borrowed path segments, rendered as
/// `/claimSpecification/healthCareServicesSpecificationLine[2]/…` only when a finding needs it
/// (1-based positions on elements that may repeat, as the model's own errors write them).
#[derive(Clone, Copy)]
pub(crate) struct At<'a> {
    parent: Option<&'a At<'a>>,
    name: &'a str,
    /// 1-based position among repeated siblings; 0 for an element that cannot repeat.
    index: usize,
}

impl<'a> At<'a> {
    pub(crate) const ROOT: At<'static> = At {
        parent: None,
        name: "claimSpecification",
        index: 0,
    };

    /// A child element that occurs at most once.
    pub(crate) fn at(&'a self, name: &'a str) -> At<'a> {
        At {
            parent: Some(self),
            name,
            index: 0,
        }
    }

    /// The `i`-th (0-based) of a repeated child element; rendered 1-based.
    pub(crate) fn nth(&'a self, name: &'a str, i: usize) -> At<'a> {
        At {
            parent: Some(self),
            name,
            index: i + 1,
        }
    }

    pub(crate) fn render(&self) -> String {
        let mut segments: Vec<&At> = Vec::with_capacity(8);
        let mut p = Some(self);
        while let Some(seg) = p {
            segments.push(seg);
            p = seg.parent;
        }
        let mut out = String::with_capacity(128);
        for seg in segments.iter().rev() {
            out.push('/');
            out.push_str(seg.name);
            if seg.index > 0 {
                out.push('[');
                out.push_str(&seg.index.to_string());
                out.push(']');
            }
        }
        out
    }
}

/// Where findings are collected while the rules run.
pub(crate) struct Findings<'c> {
    pub(crate) ctx: &'c RuleContext,
    pub(crate) list: Vec<Finding>,
}

impl Findings<'_> {
    /// Records that `rule` is broken at `at`. Call only when it is: this is where the path is
    /// rendered. Its origin follows from the rule id ([`Origin::of_rule`]).
    pub(crate) fn add(&mut self, rule: &'static str, at: &At, message: String) {
        self.add_as(rule, Origin::of_rule(rule), at, message);
    }

    /// Records a finding of a check the official Schematron does not make under an `ÖRn` id
    /// (the county and municipality lists, the asylum seekers' code-system rule).
    pub(crate) fn add_as(&mut self, rule: &'static str, origin: Origin, at: &At, message: String) {
        let rule = match self.ctx.profile {
            Profile::Contract => rule.to_owned(),
            // An official receiver makes only its own findings, under its own ids.
            Profile::OfficialSchematron if origin.official() => official_id(rule).into_owned(),
            Profile::OfficialSchematron => return,
        };
        self.list.push(Finding {
            rule,
            path: at.render(),
            message,
            origin,
        });
    }

    /// Whether the rules reproduce the official Schematron's verdict.
    pub(crate) fn official(&self) -> bool {
        self.ctx.profile == Profile::OfficialSchematron
    }

    /// A leaf as a rule compares it: trimmed, as a reader sees it, under the contract; as
    /// written under the official Schematron, whose R11, R23, R34, R35 and R49 compare values
    /// untrimmed (`' SEK'` is not `SEK`).
    pub(crate) fn val<'s>(&self, s: &'s str) -> &'s str {
        if self.official() {
            s
        } else {
            s.trim()
        }
    }

    /// [`Findings::val`] of an optional leaf.
    pub(crate) fn oval<'s>(&self, s: &'s Option<String>) -> Option<&'s str> {
        s.as_deref().map(|s| self.val(s))
    }
}

/// A trimmed leaf value: the schema collapses whitespace in most leaves, so the rules compare
/// what a reader sees.
pub(crate) fn v(s: &str) -> &str {
    s.trim()
}

/// An optional leaf, trimmed.
pub(crate) fn ov(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim)
}

/// A `DateType` value, or `None` when it does not parse (then the XSD has reported it).
pub(crate) fn date(s: &str) -> Option<NaiveDate> {
    crate::claim::lexical::date(s.trim())
}

/// `YYYYMMDD` for messages.
pub(crate) fn ymd(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

/// "1 character", "9 characters".
pub(crate) fn characters(n: usize) -> String {
    if n == 1 {
        "1 character".to_owned()
    } else {
        format!("{n} characters")
    }
}

/// "a, b or c" for messages listing allowed values.
pub(crate) fn one_of(allowed: &[&str]) -> String {
    match allowed {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [init @ .., last] => format!("{} or {}", init.join(", "), last),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_with_positions_on_repeated_elements() {
        let root = At::ROOT;
        let l = root.nth("healthCareServicesSpecificationLine", 1);
        let hp = l.nth("healthcarePerformed", 0);
        let a = hp.at("invoicedAmountDetails");
        assert_eq!(
            a.render(),
            "/claimSpecification/healthCareServicesSpecificationLine[2]/healthcarePerformed[1]/invoicedAmountDetails"
        );
        assert_eq!(root.render(), "/claimSpecification");
    }

    #[test]
    fn lists_read_as_words() {
        assert_eq!(one_of(&["1", "2", "3"]), "1, 2 or 3");
        assert_eq!(one_of(&["01"]), "01");
    }
}
