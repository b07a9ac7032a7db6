//! `GET /staff/review`: the periodic access review of this store's access log as a page, for
//! the region's reviewers (the certificates `[access] reviewers` name). The same report as
//! `invoice-hub audit review-report` ([`crate::audit::review`]), over a period of arrival dates.

use hyper::StatusCode;

use crate::audit::review::{review, IdentityReads, ReviewOptions, ReviewReport};
use crate::audit::{Event, Query};
use crate::store::StoreError;

use super::super::query::param;
use super::super::respond::Resp;
use super::super::Store;
use super::html::{error_page, esc, page, Lang};

/// The review's period and threshold, from the query string; the last 30 days by default.
struct Period {
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    many: usize,
}

fn period(params: &[(String, String)], lang: Lang) -> Result<Period, String> {
    let today = crate::clock::today();
    let day = |k: &str, default: chrono::NaiveDate| match param(params, k).filter(|v| !v.is_empty())
    {
        None => Ok(default),
        Some(v) => chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").map_err(|_| {
            format!(
                "{k}: {} ({v:?})",
                lang.t("ett datum skrivs ÅÅÅÅ-MM-DD", "a date is YYYY-MM-DD")
            )
        }),
    };
    let from = day("from", today - chrono::Days::new(30))?;
    let to = day("to", today)?;
    if from > to {
        return Err(format!("from > to ({from} > {to})"));
    }
    let many = match param(params, "many").filter(|v| !v.is_empty()) {
        None => ReviewOptions::default().many_patients,
        Some(v) => v.parse().map_err(|_| format!("many: {v:?}"))?,
    };
    Ok(Period { from, to, many })
}

pub(super) fn page_of(
    store: &Store,
    params: &[(String, String)],
    lang: Lang,
) -> Result<Resp, StoreError> {
    let org = &store.cfg.org;
    let p = match period(params, lang) {
        Ok(p) => p,
        Err(m) => return Ok(error_page(StatusCode::BAD_REQUEST, lang, org, &m)),
    };
    let utc = |d: chrono::NaiveDate| {
        chrono::DateTime::parse_from_rfc3339(&crate::clock::swedish_midnight_utc(d))
            .map(|t| t.to_utc())
            .ok()
    };
    let q = Query {
        event: Some(Event::Accessed),
        from: utc(p.from),
        to: utc(p.to.succ_opt().unwrap_or(p.to)),
        ..Default::default()
    };
    let res = store.access.query(&q)?;
    let log = format!("store-{org}");
    let entries: Vec<_> = res.entries.into_iter().map(|e| (log.clone(), e)).collect();
    let opts = ReviewOptions {
        many_patients: p.many,
        ..Default::default()
    };
    let report = review(&entries, &opts);
    let title = lang.t("Uppföljning av åtkomst", "Access review");
    let body = format!(
        "<h1>{title}</h1>{}{}",
        form(&p, lang),
        sections(&report, lang)
    );
    Ok(page(
        StatusCode::OK,
        lang,
        org,
        title,
        "/staff/review",
        &body,
    ))
}

fn form(p: &Period, lang: Lang) -> String {
    format!(
        r#"<form class="filters" method="get" action="/staff/review">
<input type="hidden" name="lang" value="{code}">
<label>{l_from} <input type="date" name="from" value="{from}"></label>
<label>{l_to} <input type="date" name="to" value="{to}"></label>
<label>{l_many} <input type="number" name="many" min="1" value="{many}"></label>
<button type="submit">{l_show}</button>
</form>
"#,
        code = lang.code(),
        l_from = lang.t("Från", "From"),
        l_to = lang.t("till och med", "to"),
        l_many = lang.t("Många patienter, från", "Many patients, from"),
        l_show = lang.t("Visa", "Show"),
        from = p.from,
        to = p.to,
        many = p.many,
    )
}

fn identities(list: &[IdentityReads], lang: Lang) -> String {
    let mut t = format!(
        "<table class=\"list\"><thead><tr><th>{}</th><th class=\"num\">{}</th><th class=\"num\">{}</th>\
         <th class=\"num\">{}</th><th class=\"num\">{}</th><th>{}</th></tr></thead><tbody>",
        lang.t("Identitet", "Identity"),
        lang.t("Läsningar", "Reads"),
        lang.t("Underlag", "Bases"),
        lang.t("Patienter", "Patients"),
        lang.t("Avslutade", "Settled"),
        lang.t("Första – senaste", "First – last"),
    );
    for i in list {
        t.push_str(&format!(
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td>{} – {}</td></tr>",
            esc(&i.actor), i.reads, i.bases, i.patients, i.settled, esc(&i.first), esc(&i.last)
        ));
    }
    t.push_str("</tbody></table>");
    t
}

fn sections(r: &ReviewReport, lang: Lang) -> String {
    let mut s = format!(
        "<p>{} {}</p><h2>{} ({})</h2>{}",
        r.entries,
        lang.t(
            "poster i åtkomstloggen under perioden.",
            "access-log entries in the period."
        ),
        lang.t("Läsningar per identitet", "Reads per identity"),
        r.per_identity.len(),
        identities(&r.per_identity, lang),
    );
    s.push_str(&format!(
        "<h2 id=\"outside\">{} ({})</h2><ul>",
        lang.t(
            "Utanför kontorstid (mån–fre 07–18)",
            "Outside office hours (Mon–Fri 07–18)"
        ),
        r.outside_office_hours.len()
    ));
    for a in &r.outside_office_hours {
        s.push_str(&format!(
            "<li>{} · {} · {} <a href=\"/staff/claims/{id}\">{id}</a></li>",
            esc(&a.time),
            esc(&a.actor),
            esc(&a.action),
            id = esc(&a.basis)
        ));
    }
    s.push_str(&format!(
        "</ul><h2 id=\"many\">{} {} ({})</h2>{}",
        lang.t(
            "Identiteter som läst underlag om minst",
            "Identities that read bases of at least"
        ),
        r.many_patients_threshold,
        r.many_patients.len(),
        identities(&r.many_patients, lang)
    ));
    s.push_str(&format!(
        "<h2 id=\"unsettled\">{} ({})</h2><ul>",
        lang.t(
            "Lästa men aldrig behandlade eller bestridda av den som läste",
            "Read but never processed or disputed by the reader"
        ),
        r.read_never_settled.len()
    ));
    for u in &r.read_never_settled {
        s.push_str(&format!(
            "<li>{} · <a href=\"/staff/claims/{id}\">{id}</a> · {} × · {}</li>",
            esc(&u.actor),
            u.reads,
            esc(&u.first_read),
            id = esc(&u.basis)
        ));
    }
    s.push_str("</ul>");
    s
}
