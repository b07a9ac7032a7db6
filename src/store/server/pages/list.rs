//! The staff's list of what has arrived, and the same selection as CSV for the finance system.
//! Both show only what the store keeps beside a basis (sender, invoice number, dates, amounts,
//! state): no patient and no care, so the list needs no decryption. The export is an
//! access-log entry per basis; opening a basis from the list is another.

use hyper::StatusCode;

use crate::claim::regions::{region, REGIONS};
use crate::pki::Identity;
use crate::store::case::CaseState;
use crate::store::storage::{ListQuery, Listed};

use super::super::query::param;
use super::super::respond::Resp;
use super::super::Store;
use super::html::{error_page, esc, page, respond, url, Lang};
use super::text;

/// Bases per page of the list.
const PAGE: usize = 50;
/// The most one export holds: a month of a large region's bases, several times over.
const MAX_EXPORT: usize = 100_000;

/// The list's filters as given, checked.
pub(super) struct Filter {
    sender: Option<String>,
    from: Option<String>,
    to: Option<String>,
    state: Option<CaseState>,
    after: u64,
}

impl Filter {
    /// Reads `sender`, `from`, `to` (arrival dates, YYYY-MM-DD, both inclusive, Swedish
    /// time), `state` and `after`; an empty field means no filter.
    pub(super) fn read(params: &[(String, String)], lang: Lang) -> Result<Filter, String> {
        let given = |k: &str| param(params, k).map(str::trim).filter(|v| !v.is_empty());
        let day = |k: &str| -> Result<Option<chrono::NaiveDate>, String> {
            given(k)
                .map(|v| {
                    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
                        format!(
                            "{k}: {} ({v:?})",
                            lang.t("ett datum skrivs ÅÅÅÅ-MM-DD", "a date is YYYY-MM-DD")
                        )
                    })
                })
                .transpose()
        };
        let sender = given("sender").map(str::to_string);
        if let Some(s) = &sender {
            if region(s).is_none_or(|r| r.org != s) {
                return Err(format!(
                    "sender: {} ({s:?})",
                    lang.t(
                        "ingen region med det organisationsnumret",
                        "no region has that organisation number"
                    )
                ));
            }
        }
        let state = match given("state") {
            None => None,
            Some(v) => Some(CaseState::parse(v).ok_or_else(|| {
                format!("state: {} ({v:?})", lang.t("okänd status", "unknown state"))
            })?),
        };
        let after = match given("after") {
            None => 0,
            Some(v) => v.parse().map_err(|_| format!("after: {v:?}"))?,
        };
        Ok(Filter {
            sender,
            from: day("from")?.map(|d| d.to_string()),
            to: day("to")?.map(|d| d.to_string()),
            state,
            after,
        })
    }

    /// The store's query: arrival dates are Swedish days, the store keeps UTC instants.
    fn query(&self, limit: usize) -> ListQuery {
        let utc = |d: &str, next: bool| {
            let day = chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").expect("checked");
            let day = if next {
                day.succ_opt().unwrap_or(day)
            } else {
                day
            };
            crate::clock::swedish_midnight_utc(day)
        };
        ListQuery {
            sender: self.sender.clone(),
            since: self.from.as_deref().map(|d| utc(d, false)),
            until: self.to.as_deref().map(|d| utc(d, true)),
            state: self.state,
            after: self.after,
            limit,
        }
    }

    /// The filters as a query string (without `after`), for links that keep them.
    fn query_string(&self, lang: Lang) -> String {
        let mut q = format!("lang={}", lang.code());
        for (k, v) in [
            ("sender", self.sender.as_deref()),
            ("from", self.from.as_deref()),
            ("to", self.to.as_deref()),
            ("state", self.state.map(CaseState::as_str)),
        ] {
            if let Some(v) = v {
                q.push_str(&format!("&{k}={}", url(v)));
            }
        }
        q
    }
}

/// The label of a state.
pub(super) fn state_label(lang: Lang, s: CaseState) -> &'static str {
    match s {
        CaseState::New => lang.t("Ny", "New"),
        CaseState::Opened => lang.t("Öppnad", "Opened"),
        CaseState::Processed => lang.t("Behandlad", "Processed"),
        CaseState::Disputed => lang.t("Bestriden", "Disputed"),
    }
}

fn sender_name(org: &str) -> String {
    region(org).map_or_else(|| org.to_string(), |r| r.name.to_string())
}

/// `GET /staff`: one page of the list.
pub(super) fn list(store: &Store, params: &[(String, String)], lang: Lang) -> Resp {
    let org = &store.cfg.org;
    let f = match Filter::read(params, lang) {
        Ok(f) => f,
        Err(m) => return error_page(StatusCode::BAD_REQUEST, lang, org, &m),
    };
    let listed = match store.storage.list(&f.query(PAGE)) {
        Ok(p) => p,
        Err(e) => return super::internal(lang, org, e),
    };
    let mut body = format!(
        "<h1>{}</h1>\n{}",
        lang.t("Inkomna fakturaunderlag", "Invoice bases received"),
        filter_form(&f, lang)
    );
    if listed.items.is_empty() {
        body.push_str(&format!(
            r#"<p class="empty">{}</p>"#,
            lang.t("Inga underlag matchar.", "No bases match.")
        ));
    } else {
        body.push_str(&table(&listed.items, lang));
    }
    let qs = f.query_string(lang);
    body.push_str(r#"<nav class="pages">"#);
    if f.after > 0 {
        body.push_str(&format!(
            r#"<a href="/staff?{}">{}</a> "#,
            esc(&qs),
            lang.t("Första sidan", "First page")
        ));
    }
    if let Some(next) = listed.next_after {
        body.push_str(&format!(
            r#"<a rel="next" href="/staff?{}&amp;after={next}">{}</a>"#,
            esc(&qs),
            lang.t("Nästa sida", "Next page")
        ));
    }
    body.push_str(&format!(
        r#"</nav><p><a class="button" download href="/staff/export.csv?{}">{}</a></p>"#,
        esc(&qs),
        lang.t("Exportera urvalet som CSV", "Export the selection as CSV")
    ));
    let here = format!("/staff?{}", qs.split_once('&').map_or("", |(_, rest)| rest));
    page(
        StatusCode::OK,
        lang,
        org,
        lang.t("Fakturaunderlag", "Invoice bases"),
        &here,
        &body,
    )
}

fn filter_form(f: &Filter, lang: Lang) -> String {
    let mut senders = format!(r#"<option value="">{}</option>"#, lang.t("Alla", "All"));
    for r in &REGIONS {
        let sel = if f.sender.as_deref() == Some(r.org) {
            " selected"
        } else {
            ""
        };
        senders.push_str(&format!(
            r#"<option value="{}"{sel}>{}</option>"#,
            r.org,
            esc(r.name)
        ));
    }
    let mut states = format!(r#"<option value="">{}</option>"#, lang.t("Alla", "All"));
    for s in CaseState::ALL {
        let sel = if f.state == Some(s) { " selected" } else { "" };
        states.push_str(&format!(
            r#"<option value="{}"{sel}>{}</option>"#,
            s.as_str(),
            state_label(lang, s)
        ));
    }
    format!(
        r#"<form class="filters" method="get" action="/staff">
<input type="hidden" name="lang" value="{code}">
<label>{l_sender} <select name="sender">{senders}</select></label>
<label>{l_from} <input type="date" name="from" value="{from}"></label>
<label>{l_to} <input type="date" name="to" value="{to}"></label>
<label>{l_state} <select name="state">{states}</select></label>
<button type="submit">{l_filter}</button>
</form>
"#,
        code = lang.code(),
        l_sender = lang.t("Avsändare", "Sender"),
        l_from = lang.t("Ankom från", "Arrived from"),
        l_to = lang.t("till och med", "to"),
        l_state = lang.t("Status", "State"),
        l_filter = lang.t("Filtrera", "Filter"),
        from = esc(f.from.as_deref().unwrap_or("")),
        to = esc(f.to.as_deref().unwrap_or("")),
    )
}

fn table(items: &[Listed], lang: Lang) -> String {
    let mut t = format!(
        "<table class=\"list\">\n<thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th>\
         <th class=\"num\">{}</th><th class=\"num\">{}</th><th>{}</th><th>{}</th></tr></thead>\n<tbody>\n",
        lang.t("Underlag", "Basis"),
        lang.t("Avsändare", "Sender"),
        lang.t("Fakturanummer", "Invoice number"),
        lang.t("Underlagets datum", "Issue date"),
        lang.t("Att betala", "Payable amount"),
        lang.t("Rader", "Lines"),
        lang.t("Ankom", "Arrived"),
        lang.t("Status", "State"),
    );
    for Listed { meta: m, case } in items {
        let dash = || "—".to_string();
        t.push_str(&format!(
            "<tr data-id=\"{id}\"><td><a href=\"/staff/claims/{id}?lang={code}\">{id}</a></td><td>{sender}</td>\
             <td>{invoice}</td><td>{issued}</td><td class=\"num\">{amount}</td><td class=\"num\">{lines}</td>\
             <td>{arrived}</td><td><span class=\"state {state}\">{state_label}</span></td></tr>\n",
            id = esc(&m.id),
            code = lang.code(),
            sender = esc(&sender_name(&m.sender)),
            invoice = esc(m.invoice_id.as_deref().unwrap_or("—")),
            issued = m.issue_date.as_deref().map_or_else(dash, text::date),
            amount = esc(&m.payable_amount.as_deref().map_or_else(dash, |a| text::amount(lang, a))),
            lines = m.lines.map_or_else(dash, |n| n.to_string()),
            arrived = text::instant(&m.received_at),
            state = case.state.as_str(),
            state_label = state_label(lang, case.state),
        ));
    }
    t.push_str("</tbody></table>\n");
    t
}

/// `GET /staff/export.csv`: every basis the filters select (not one page), as CSV for the
/// finance system, logged as an export of each. No patient identity and no care: ids, sender,
/// invoice number, dates, amounts, state.
pub(super) fn export(
    store: &Store,
    who: &Identity,
    params: &[(String, String)],
    lang: Lang,
) -> Resp {
    let org = &store.cfg.org;
    let f = match Filter::read(params, lang) {
        Ok(f) => f,
        Err(m) => return error_page(StatusCode::BAD_REQUEST, lang, org, &m),
    };
    let mut q = f.query(1000);
    let mut rows: Vec<Listed> = Vec::new();
    loop {
        let p = match store.storage.list(&q) {
            Ok(p) => p,
            Err(e) => return super::internal(lang, org, e),
        };
        rows.extend(p.items);
        match p.next_after {
            Some(n) if rows.len() < MAX_EXPORT => q.after = n,
            Some(_) => {
                let m = lang.t(
                    "urvalet är större än en export rymmer (100 000 underlag): välj en kortare period",
                    "the selection is larger than one export holds (100,000 bases): choose a shorter period",
                );
                return error_page(StatusCode::UNPROCESSABLE_ENTITY, lang, org, m);
            }
            None => break,
        }
    }
    let metas: Vec<_> = rows.iter().map(|l| l.meta.clone()).collect();
    // Logged (durably) before anything is handed out, as every read is.
    if let Err(e) = store.access.record_export(who, &metas) {
        return super::internal(lang, org, e);
    }
    let mut csv = String::from(
        "basis_id,invoice_id,sender,sender_name,issue_date,payable_amount,currency,lines,received_at,state,sha256\r\n",
    );
    for Listed { meta: m, case } in &rows {
        let fields = [
            m.id.as_str(),
            m.invoice_id.as_deref().unwrap_or(""),
            m.sender.as_str(),
            &sender_name(&m.sender),
            &m.issue_date.as_deref().map(text::date).unwrap_or_default(),
            m.payable_amount.as_deref().map(str::trim).unwrap_or(""),
            "SEK",
            &m.lines.map(|n| n.to_string()).unwrap_or_default(),
            m.received_at.as_str(),
            case.state.as_str(),
            m.sha256.as_str(),
        ];
        let line: Vec<String> = fields.iter().map(|v| csv_field(v)).collect();
        csv.push_str(&line.join(","));
        csv.push_str("\r\n");
    }
    let mut r = respond(StatusCode::OK, "text/csv; charset=utf-8", csv.into());
    let name = format!(
        "attachment; filename=\"fakturaunderlag-{org}-{}.csv\"",
        crate::clock::today()
    );
    r.headers_mut().insert(
        hyper::header::CONTENT_DISPOSITION,
        name.parse().expect("an ascii header"),
    );
    r
}

/// One CSV field (RFC 4180). A field a spreadsheet would run as a formula (`=`, `+`, `-`, `@`
/// first: the sender writes the invoice number) starts with `'`; a number (a credit note's
/// negative amount) stays a number.
fn csv_field(v: &str) -> String {
    let number = crate::claim::lexical::decimal(v).is_some();
    let v = if v.starts_with(['=', '+', '-', '@']) && !number {
        format!("'{v}")
    } else {
        v.to_string()
    };
    if v.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("ZVF1"), "ZVF1");
        assert_eq!(csv_field("a,\"b\""), "\"a,\"\"b\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-12.50"), "-12.50");
        assert_eq!(csv_field("-cmd"), "'-cmd");
    }
}
