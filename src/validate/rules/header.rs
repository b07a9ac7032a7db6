//! Rules on the basis as a whole and its two parties: ÖR2 (issue date), ÖR3/ÖR46/ÖR48
//! (party identifications), ÖR4 (type of invoice), ÖR37 (basis id), ÖR52 (credit note refers to
//! its original) and the organisation-number check digit (`ID-ORGNR`).

use super::{characters, date, v, ymd, At, Findings};
use crate::claim::{ClaimSpecification, Party};
use crate::validate::ids::{self, GLN_OID, ORG_NUMBER_OID};

pub(super) fn check(c: &ClaimSpecification, out: &mut Findings) {
    let root = At::ROOT;

    // ÖR37: "ZVF" + supplier org number (10) + YYMM + 6-digit counter = 23 characters.
    let id = v(&c.id);
    if !id.starts_with("ZVF") || id.chars().count() != 23 {
        out.add(
            "ÖR37",
            &root.at("id"),
            format!(
                "the basis id has {}{}; expected 23 characters starting with ZVF \
                 (ZVF + supplier organisation number + YYMM + 6-digit counter)",
                characters(id.chars().count()),
                if id.starts_with("ZVF") {
                    ""
                } else {
                    " and does not start with ZVF"
                }
            ),
        );
    }

    // ÖR2: issueDate is not in the future.
    if let Some(issued) = date(&c.issue_date) {
        if issued > out.ctx.today {
            out.add(
                "ÖR2",
                &root.at("issueDate"),
                format!(
                    "issue date {} is in the future (today is {})",
                    ymd(issued),
                    ymd(out.ctx.today)
                ),
            );
        }
    }

    // ÖR4: 380 invoice or 381 credit note.
    let kind = v(&c.type_of_invoice);
    if kind != "380" && kind != "381" {
        out.add(
            "ÖR4",
            &root.at("typeOfInvoice"),
            format!("type of invoice is '{kind}'; expected 380 (invoice) or 381 (credit note)"),
        );
    }

    // ÖR52: a credit note names the basis it credits.
    if kind == "381" && c.reference_to_process_claim_specification_id.is_none() {
        out.add(
            "ÖR52",
            &root.at("referenceToProcessClaimSpecificationId"),
            "a credit note (381) must give referenceToProcessClaimSpecificationId, the id of \
             the basis it credits"
                .to_owned(),
        );
    }

    party(
        &c.supplier_party,
        &root.at("supplierParty"),
        "ÖR3",
        "supplier",
        out,
    );
    party(
        &c.customer_party,
        &root.at("customerParty"),
        "ÖR46",
        "customer",
        out,
    );
}

/// ÖR3 (supplier) / ÖR46 (customer): an identification with root 1.3.7 is required; ÖR48: its
/// extension has 10 characters and any other identification is a GLN (root 2.51.1.6, 13
/// characters) — the official Schematron reports every wrong length as R48, so does the
/// project; ID-ORGNR: the organisation number's check digit.
fn party(p: &Party, at: &At, rule: &'static str, role: &str, out: &mut Findings) {
    let has_org = p
        .identification
        .iter()
        .any(|i| v(&i.root) == ORG_NUMBER_OID);
    let mut org_seen = false;
    for (i, ident) in p.identification.iter().enumerate() {
        let at_i = at.nth("identification", i);
        let root = v(&ident.root);
        let ext = v(&ident.extension);
        if root == ORG_NUMBER_OID && !org_seen {
            org_seen = true;
            let n = ext.chars().count();
            if n != 10 {
                out.add(
                    "ÖR48",
                    &at_i.at("extension"),
                    format!(
                        "the {role}'s organisation number has {}; expected 10 \
                         digits without hyphen",
                        characters(n)
                    ),
                );
            } else if let Err(problem) = ids::check_org_number(ext) {
                out.add(
                    "ID-ORGNR",
                    &at_i.at("extension"),
                    format!("the {role}'s organisation number {ext} {problem}"),
                );
            }
        } else if root != GLN_OID && has_org {
            // (Without any org number this is the missing org number, ÖR3/ÖR46, below.)
            out.add(
                "ÖR48",
                &at_i.at("root"),
                format!(
                    "the {role}'s identification number {} has root '{root}'; a second \
                     identification must be a GLN with root {GLN_OID}",
                    i + 1
                ),
            );
        } else if root == GLN_OID {
            let n = ext.chars().count();
            if n != 13 {
                out.add(
                    "ÖR48",
                    &at_i.at("extension"),
                    format!("the {role}'s GLN has {}; expected 13 digits", characters(n)),
                );
            }
        }
    }
    if !org_seen {
        out.add(
            rule,
            &at.nth("identification", 0).at("root"),
            format!(
                "the {role} has no identification with root {ORG_NUMBER_OID} (organisation \
                 number); it is required"
            ),
        );
    }
}
