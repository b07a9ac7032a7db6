//! One basis as a person reads it: who sent it and when, each patient's care with its dates,
//! unit, codes and amounts, and the total checked against the payable amount. The same page
//! without its buttons is the print view. Every view is logged (durably) in the access log
//! before the page goes out, and opening a new basis marks it opened.

use rust_decimal::Decimal;

use crate::claim::lexical::decimal;
use crate::claim::{ClaimSpecification, HealthCareServicesSpecificationLine, HealthcarePerformed};
use crate::pki::Identity;
use crate::store::case::{Case, CaseState};
use crate::store::storage::ClaimMeta;
use crate::store::StoreError;

use super::html::{esc, Lang};
use super::list::state_label;
use super::text::{self, coded, CodeList};

/// How the page is shown, and the access log's `action` for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum View {
    Page,
    Print,
}

impl View {
    pub(super) fn action(self) -> &'static str {
        match self {
            View::Page => "page",
            View::Print => "print",
        }
    }
}

/// A label in both languages.
type Label = (&'static str, &'static str);

/// A definition list of facts, each row left out when its value is empty.
struct Facts {
    lang: Lang,
    html: String,
}

impl Facts {
    fn new(lang: Lang) -> Facts {
        Facts {
            lang,
            html: String::from(r#"<dl class="facts">"#),
        }
    }

    fn row(&mut self, (sv, en): Label, value: impl AsRef<str>) {
        let v = value.as_ref();
        if !v.is_empty() {
            let l = self.lang.t(sv, en);
            self.html
                .push_str(&format!("<dt>{}</dt><dd>{}</dd>", esc(l), esc(v)));
        }
    }

    fn opt(&mut self, label: Label, value: Option<&str>) {
        self.row(label, value.unwrap_or(""));
    }

    fn code(&mut self, label: Label, list: CodeList, code: Option<&str>) {
        if let Some(c) = code {
            self.row(label, coded(self.lang, list, c));
        }
    }

    fn amount(&mut self, label: Label, a: Option<&crate::claim::Amount>) {
        if let Some(a) = a {
            self.row(label, text::amount(self.lang, &a.amount));
        }
    }

    fn finish(mut self) -> String {
        self.html.push_str("</dl>");
        self.html
    }
}

/// The page's body: the header facts, the total's check, each patient and line, and (unless
/// printing) the actions.
pub(super) fn render(
    lang: Lang,
    view: View,
    who: &Identity,
    meta: &ClaimMeta,
    case: &Case,
    claim: &ClaimSpecification,
) -> String {
    let mut b = format!(
        r#"<h1>{} {} <span class="state {}">{}</span></h1>"#,
        lang.t("Fakturaunderlag", "Invoice basis"),
        esc(&claim.id),
        case.state.as_str(),
        state_label(lang, case.state),
    );
    if view == View::Print {
        b.push_str(&format!(
            r#"<p class="printed">{} {} · {}</p>"#,
            lang.t("Utskrift av", "Printed by"),
            esc(&who.id()),
            text::instant(&crate::clock::now().to_rfc3339()),
        ));
    }
    b.push_str(&contents(lang, meta, claim));
    if matches!(case.state, CaseState::Processed | CaseState::Disputed) {
        b.push_str(&decided(lang, case));
    }
    if view == View::Page {
        b.push_str(&actions(lang, &claim.id, case));
    }
    b
}

/// The basis itself: the header facts, the total's check, each patient and line.
pub(super) fn contents(lang: Lang, meta: &ClaimMeta, claim: &ClaimSpecification) -> String {
    let mut b = header(lang, meta, claim);
    b.push_str(&total_check(lang, claim));
    for (i, line) in claim
        .health_care_services_specification_line
        .iter()
        .enumerate()
    {
        b.push_str(&patient(lang, i + 1, line));
    }
    b
}

/// Who sent what, when, and what is to be paid.
fn header(lang: Lang, meta: &ClaimMeta, c: &ClaimSpecification) -> String {
    let mut f = Facts::new(lang);
    f.code(
        ("Typ", "Type"),
        CodeList::TypeOfInvoice,
        Some(&c.type_of_invoice),
    );
    f.opt(("Fakturanummer", "Invoice number"), c.invoice_id.as_deref());
    f.opt(
        ("Fakturadatum", "Invoice date"),
        c.invoice_date_of_issue
            .as_deref()
            .map(text::date)
            .as_deref(),
    );
    let issued = match &c.issue_time {
        Some(t) => format!("{} {}", text::date(&c.issue_date), text::time(t)),
        None => text::date(&c.issue_date),
    };
    f.row(("Underlaget utfärdat", "Basis issued"), issued);
    f.opt(
        ("Krediterar faktura", "Credits invoice"),
        c.reference_to_invoice.as_deref(),
    );
    f.opt(
        ("Krediterar underlag", "Credits basis"),
        c.reference_to_process_claim_specification_id.as_deref(),
    );
    f.row(("Avsändare", "Sender"), party(&c.supplier_party, true));
    f.row(("Mottagare", "Receiver"), party(&c.customer_party, false));
    f.row(("Ankom", "Arrived"), text::instant(&meta.received_at));
    f.amount(("Att betala", "Payable amount"), Some(&c.payable_amount));
    f.finish()
}

/// Who decided, when, and why.
fn decided(lang: Lang, case: &Case) -> String {
    format!(
        r#"<p class="decided">{}: {} · {} · {}{}</p>"#,
        lang.t("Status", "State"),
        state_label(lang, case.state),
        esc(case.by.as_deref().unwrap_or("")),
        case.at.as_deref().map(text::instant).unwrap_or_default(),
        case.reason
            .as_deref()
            .map(|r| format!(" · {}: {}", lang.t("Skäl", "Reason"), esc(r)))
            .unwrap_or_default(),
    )
}

fn party(p: &crate::claim::Party, seller: bool) -> String {
    let org = p.organisation_number().unwrap_or("");
    let name = crate::claim::regions::region(org).map_or("", |r| r.name);
    let contact = if seller {
        &p.seller_contact
    } else {
        &p.buyer_contact
    };
    let contact = contact
        .as_ref()
        .and_then(|c| c.name.clone())
        .map(|n| format!(" · {n}"))
        .unwrap_or_default();
    format!("{name} ({org}){contact}")
}

/// ÖR5 in words: the lines' net amounts add up to the payable amount, or by how much they do
/// not (the store validated the basis, so a difference means a rule profile that lets it pass).
fn total_check(lang: Lang, c: &ClaimSpecification) -> String {
    let lines = c.health_care_services_specification_line.iter();
    let nets: Option<Vec<Decimal>> = lines
        .flat_map(|l| &l.healthcare_performed)
        .map(|h| {
            decimal(
                &h.invoiced_amount_details
                    .patient_care_invoice_net_amount
                    .amount,
            )
        })
        .collect();
    let (Some(nets), Some(payable)) = (nets, decimal(&c.payable_amount.amount)) else {
        return String::new();
    };
    let sum: Decimal = nets.iter().sum();
    let (class, mark, op, says) = if sum == payable {
        let says = lang.t(
            "Radernas nettobelopp summerar till att betala:",
            "The lines' net amounts add up to the payable amount:",
        );
        ("ok", "✓", "=", says)
    } else {
        let says = lang.t(
            "Radernas nettobelopp stämmer inte med att betala:",
            "The lines' net amounts differ from the payable amount:",
        );
        ("differs", "✗", "≠", says)
    };
    format!(
        r#"<p class="check {class}">{mark} {says} {} {op} {}</p>"#,
        esc(&text::money(lang, sum)),
        esc(&text::money(lang, payable)),
    )
}

fn patient(lang: Lang, n: usize, line: &HealthCareServicesSpecificationLine) -> String {
    let p = &line.patient_information;
    let o = &p.patient_other_information;
    let mut s = format!(
        r#"<section class="patient"><h2>{} {n}</h2>"#,
        lang.t("Patient", "Patient")
    );
    let mut f = Facts::new(lang);
    f.row(
        ("Identitet", "Identity"),
        text::person(&p.patient_identity.extension),
    );
    f.code(
        ("Län", "County"),
        CodeList::County,
        o.county.code.as_deref(),
    );
    f.opt(("Kommun", "Municipality"), o.municipality.code.as_deref());
    let gender = o.gender.as_ref().and_then(|g| g.code.as_deref());
    f.code(("Kön", "Gender"), CodeList::Gender, gender);
    f.opt(("LMA-kort", "LMA card"), o.lma_card_number.as_deref());
    f.opt(("EU-kort", "EU card"), o.eu_card_number.as_deref());
    s.push_str(&f.finish());
    for h in &line.healthcare_performed {
        s.push_str(&care(lang, h));
    }
    s.push_str("</section>");
    s
}

/// One contact or stay: what care, when, where, under which agreement, which codes, what it
/// costs, in the contract's order.
fn care(lang: Lang, h: &HealthcarePerformed) -> String {
    let mut f = Facts::new(lang);
    care_what(&mut f, h);
    care_agreement(&mut f, h);
    care_codes(&mut f, h);
    let a = &h.invoiced_amount_details;
    f.amount(
        ("Bruttobelopp", "Gross amount"),
        Some(&a.patient_care_invoice_gross_amount),
    );
    f.amount(
        ("Nettobelopp", "Net amount"),
        Some(&a.patient_care_invoice_net_amount),
    );
    f.amount(
        ("Patientavgift", "Patient fee"),
        a.out_patient_care_fee.as_ref(),
    );
    format!(
        r#"<article class="care"><h3>{} {}</h3>{}</article>"#,
        lang.t("Rad", "Line"),
        esc(&h.line_id),
        f.finish()
    )
}

fn care_what(f: &mut Facts, h: &HealthcarePerformed) {
    let cat = &h.healthcare_category;
    let kind = cat.type_of_care.code.as_deref();
    f.code(("Vårdtyp", "Type of care"), CodeList::TypeOfCare, kind);
    f.row(
        ("Planerad vård", "Planned care"),
        text::yes_no(f.lang, &cat.planned_healthcare),
    );
    let visit = cat.type_of_visit.as_deref();
    f.code(("Besökstyp", "Type of visit"), CodeList::TypeOfVisit, visit);
    f.opt(
        ("Vårdkontakt", "Care contact"),
        h.care_contact_id.as_deref(),
    );
    let t = &h.timespan;
    let visit_date = text::date(&t.healthcare_visit_date_time.care_visit_date);
    f.row(("Besök / inskrivning", "Visit / admission"), visit_date);
    let discharge = t.healthcare_discharge_date_time.as_ref();
    let discharge = discharge.map(|d| text::date(&d.care_discharge_date));
    f.opt(("Utskrivning", "Discharge"), discharge.as_deref());
    let days = t.number_of_days.as_ref().and_then(|d| d.in_care.as_deref());
    f.opt(("Vårddagar", "Days in care"), days);
    let unit = &h.healthcare_unit;
    let hsa = unit.care_unit_id.as_ref();
    let hsa = hsa
        .map(|i| format!(" ({})", i.extension))
        .unwrap_or_default();
    f.row(
        ("Vårdenhet", "Care unit"),
        format!("{}{hsa}", unit.care_unit_name),
    );
    f.row(
        ("Verksamhetsområde", "Medical field"),
        &h.activity.medical_field_code,
    );
    let level = h.activity.care_level.as_deref();
    f.code(("Vårdnivå", "Care level"), CodeList::CareLevel, level);
}

fn care_agreement(f: &mut Facts, h: &HealthcarePerformed) {
    if let Some(pc) = &h.payment_commitment {
        let agreement = pc.type_of_agreement.as_deref();
        f.code(("Avtal", "Agreement"), CodeList::TypeOfAgreement, agreement);
        let chapter = pc.type_of_chapter.as_deref();
        let label = ("Riksavtalets kapitel", "Agreement chapter");
        f.code(label, CodeList::TypeOfChapter, chapter);
        let reimb = pc.type_of_reimbursement.as_deref();
        f.code(
            ("Ersättning", "Reimbursement"),
            CodeList::TypeOfReimbursement,
            reimb,
        );
        let number = pc.payment_commitment_number.as_deref();
        f.opt(("Betalningsförbindelse", "Payment commitment"), number);
    }
    let drg = h.categorization.as_ref().and_then(|c| c.drg_cost.as_ref());
    if let Some(drg) = drg {
        let code = drg.drg_code.as_ref().and_then(|c| c.original_text.clone());
        let price = drg
            .drg_price
            .as_ref()
            .map(|p| text::amount(f.lang, &p.amount));
        let parts: Vec<String> = [code, price].into_iter().flatten().collect();
        f.row(("DRG", "DRG"), parts.join(" · "));
    }
}

fn care_codes(f: &mut Facts, h: &HealthcarePerformed) {
    if let Some(d) = &h.diagnosis {
        let mut codes = Vec::new();
        let both = [&d.inpatient_care_diagnosis, &d.outpatient_care_diagnosis];
        for cd in both.into_iter().flatten() {
            for e in std::iter::once(&cd.main_diagnosis).chain(&cd.bi_diagnosis) {
                codes.push(cv(&e.diagnosis_code));
            }
        }
        f.row(
            ("Diagnoser (ICD-10-SE)", "Diagnoses (ICD-10-SE)"),
            codes.join("; "),
        );
    }
    if let Some(tr) = &h.treatment {
        let codes: Vec<String> = tr.type_of_treatment.iter().chain(&tr.atc).map(cv).collect();
        f.row(
            ("Åtgärder (KVÅ, ATC)", "Treatments (KVÅ, ATC)"),
            codes.join("; "),
        );
    }
}

/// A coded value: the code and, when the sender gave one, its display name.
fn cv(c: &crate::claim::CV) -> String {
    let code = c
        .code
        .as_deref()
        .or(c.original_text.as_deref())
        .unwrap_or("")
        .trim();
    match c.display_name.as_deref() {
        Some(n) if !n.trim().is_empty() => format!("{code} {}", n.trim()),
        _ => code.to_string(),
    }
}

/// The print view, the XML, and the two decisions (processed; disputed with a reason).
fn actions(lang: Lang, id: &str, case: &Case) -> String {
    let id = esc(id);
    let code = lang.code();
    let mut s = format!(
        r#"<nav class="actions"><a class="button" href="/staff/claims/{id}?view=print&amp;lang={code}">{}</a> <a class="button" download href="/staff/claims/{id}/xml">{}</a></nav>"#,
        lang.t("Utskriftsvy", "Print view"),
        lang.t("Ladda ned XML", "Download the XML"),
    );
    if case.state == CaseState::Processed || case.state == CaseState::Disputed {
        return s;
    }
    s.push_str(&format!(
        r#"<section class="decide"><h2>{}</h2>
<form method="post" action="/staff/claims/{id}/state?lang={code}"><input type="hidden" name="state" value="processed"><button type="submit" name="do" value="processed">{}</button></form>
<form method="post" action="/staff/claims/{id}/state?lang={code}"><input type="hidden" name="state" value="disputed"><label>{} <input type="text" name="reason" required maxlength="500"></label> <button type="submit" name="do" value="disputed">{}</button></form>
</section>"#,
        lang.t("Hantera", "Handle"),
        lang.t("Markera som behandlad", "Mark as processed"),
        lang.t("Skäl", "Reason"),
        lang.t("Bestrid", "Dispute"),
    ));
    s
}

/// Opens basis `id` for `who`: decrypts it, logs the view (durably, before anything is shown),
/// and marks a new basis opened. Blocking: AES, the database, the access log.
pub(super) fn open(
    store: &super::super::Store,
    who: &Identity,
    id: &str,
    action: &str,
) -> Result<Option<(ClaimMeta, Case, Vec<u8>)>, StoreError> {
    let Some((meta, sealed)) = store.storage.get(id)? else {
        return Ok(None);
    };
    let plain = store
        .body_key
        .open(id, &sealed)
        .ok_or_else(|| StoreError::Undecryptable { id: id.to_string() })?;
    store.access.record_read(who, &meta, action)?;
    let opened = Case {
        state: CaseState::Opened,
        by: Some(who.id()),
        at: Some(crate::clock::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        reason: None,
    };
    store.storage.set_case(id, &opened, true)?;
    let case = store.storage.case(id)?;
    Ok(Some((meta, case, plain)))
}
