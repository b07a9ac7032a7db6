//! The review pages of a sending region's officials (`assessors`): the bases their policy
//! withheld, one of them with why (policy, board decision, rules, reason) beside the basis
//! itself, and the decision — release as received, release with the policy's removals, or keep
//! withheld — with the official's reason. Each view and decision is an access-log entry;
//! the decision goes to the hub, which logs it in the disclosure log naming the official.

use hyper::StatusCode;

use crate::pki::Identity;
use crate::store::withheld::{Decided, Verdict, Withheld};
use crate::store::StoreError;

use super::super::respond::Resp;
use super::super::withheld::{read, Decision};
use super::super::Store;
use super::html::{error_page, esc, page, Lang};
use super::text;

/// `GET /staff/withheld`: the queue, waiting ones first.
pub(super) fn list(store: &Store, lang: Lang) -> Result<Resp, StoreError> {
    let mut items = store.storage.list_withheld()?;
    items.sort_by_key(|w| w.decided.is_some());
    let mut rows = String::new();
    for w in &items {
        let receiver = crate::claim::regions::region(&w.why.receiver)
            .map_or(w.why.receiver.as_str(), |r| r.name);
        rows.push_str(&format!(
            r#"<tr><td><a href="/staff/withheld/{id}?lang={code}">{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(receiver),
            esc(&text::instant(&w.meta.received_at)),
            esc(&rule_ids(w)),
            decided_label(lang, w.decided.as_ref()),
            id = esc(&w.meta.id),
            code = lang.code(),
        ));
    }
    let body = format!(
        r#"<h1>{}</h1><p>{}</p>
<table class="list"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr></thead><tbody>{rows}</tbody></table>"#,
        lang.t("Innehållna underlag", "Withheld bases"),
        lang.t(
            "Underlag som regionens policy höll inne och som väntar på menprövning.",
            "Bases the region's policy withheld, waiting for an individual harm assessment."
        ),
        lang.t("Underlag", "Basis"),
        lang.t("Mottagare", "Receiver"),
        lang.t("Inne sedan", "Withheld since"),
        lang.t("Regler", "Rules"),
        lang.t("Beslut", "Decision"),
    );
    let title = lang.t("Menprövning", "Harm assessment");
    Ok(page(
        StatusCode::OK,
        lang,
        &store.cfg.org,
        title,
        "/staff/withheld",
        &body,
    ))
}

fn rule_ids(w: &Withheld) -> String {
    w.why
        .rules
        .iter()
        .map(|r| r.split(':').next().unwrap_or(r).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn verdict_label(lang: Lang, v: Verdict) -> &'static str {
    match v {
        Verdict::Release => lang.t("Lämnas ut", "Released"),
        Verdict::ReleaseWithRemovals => lang.t(
            "Lämnas ut med policyns borttag",
            "Released with the policy's removals",
        ),
        Verdict::Keep => lang.t("Hålls inne", "Kept withheld"),
    }
}

fn decided_label(lang: Lang, d: Option<&Decided>) -> String {
    match d {
        None => format!(
            r#"<span class="state new">{}</span>"#,
            lang.t("Väntar", "Waiting")
        ),
        Some(d) => format!(
            "{} · {} · {}",
            verdict_label(lang, d.verdict),
            esc(&d.by),
            esc(&text::instant(&d.at))
        ),
    }
}

/// `GET /staff/withheld/{id}`: why, the basis, and the decision (or its form).
pub(super) fn show(
    store: &Store,
    who: &Identity,
    id: &str,
    lang: Lang,
) -> Result<Option<Resp>, StoreError> {
    let Some((w, doc)) = read(store, who, id, "review-page")? else {
        return Ok(None);
    };
    let claim =
        crate::claim::ClaimSpecification::from_xml(&doc).map_err(|e| StoreError::Damaged {
            path: store.cfg.data_dir.clone(),
            message: format!("withheld basis {id} does not read: {e}"),
        })?;
    let mut body = format!(
        r#"<h1>{} {}</h1>"#,
        lang.t("Innehållet underlag", "Withheld basis"),
        esc(id)
    );
    body.push_str(&why(lang, &w));
    body.push_str(&match &w.decided {
        Some(d) => format!(
            r#"<section class="decided" id="decided"><h2>{}</h2><p>{}</p><p>{}: {}</p></section>"#,
            lang.t("Beslut", "Decision"),
            decided_label(lang, Some(d)),
            lang.t("Skäl", "Reason"),
            esc(&d.reason)
        ),
        None => form(lang, id),
    });
    body.push_str(&super::basis::contents(lang, &w.meta, &claim));
    let title = format!("{} {id}", lang.t("Menprövning", "Harm assessment"));
    let here = format!("/staff/withheld/{id}");
    Ok(Some(page(
        StatusCode::OK,
        lang,
        &store.cfg.org,
        &title,
        &here,
        &body,
    )))
}

/// Why the hub withheld it, as the disclosure log recorded.
fn why(lang: Lang, w: &Withheld) -> String {
    let policy = match (&w.why.policy_id, &w.why.policy_version) {
        (Some(p), Some(v)) => format!("{p} v{v}"),
        _ => lang.t("ingen i kraft", "none in force").to_string(),
    };
    let rules: String = w
        .why
        .rules
        .iter()
        .map(|r| format!("<li>{}</li>", esc(r)))
        .collect();
    let receiver = crate::claim::regions::region(&w.why.receiver)
        .map_or(w.why.receiver.clone(), |r| {
            format!("{} ({})", r.name, r.org)
        });
    format!(
        r#"<section class="why" id="why"><h2>{}</h2><dl class="facts">
<dt>{}</dt><dd>{}</dd><dt>Policy</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd><dt>{}</dt><dd>{}</dd></dl><ul>{rules}</ul></section>"#,
        lang.t("Varför det hölls inne", "Why it was withheld"),
        lang.t("Mottagare", "Receiver"),
        esc(&receiver),
        esc(&policy),
        lang.t("Nämndbeslut", "Board decision"),
        esc(w.why.board_decision.as_deref().unwrap_or("–")),
        lang.t("Skäl", "Reason"),
        esc(w.why.reason.as_deref().unwrap_or("–")),
    )
}

/// The decision's form: one verdict, a reason.
fn form(lang: Lang, id: &str) -> String {
    let options: String = Verdict::ALL
        .iter()
        .map(|v| {
            format!(
                r#"<label class="choice"><input type="radio" name="verdict" value="{}" required> {}</label>"#,
                v.as_str(),
                match v {
                    Verdict::Release => lang.t("Lämna ut som det är", "Release as it is"),
                    Verdict::ReleaseWithRemovals => lang.t(
                        "Lämna ut med policyns borttag",
                        "Release with the policy's removals",
                    ),
                    Verdict::Keep => lang.t("Håll inne", "Keep withheld"),
                }
            )
        })
        .collect();
    format!(
        r#"<section class="decide" id="decide"><h2>{}</h2>
<form method="post" action="/staff/withheld/{id}?lang={code}">{options}
<label>{} <input type="text" name="reason" required maxlength="500"></label> <button type="submit">{}</button></form></section>"#,
        lang.t(
            "Beslut efter menprövning",
            "Decision after the harm assessment"
        ),
        lang.t("Skäl", "Reason"),
        lang.t("Besluta", "Decide"),
        id = esc(id),
        code = lang.code(),
    )
}

/// `POST /staff/withheld/{id}`: records the decision; `Err` is the page that says why not.
pub(super) fn decide(
    store: &Store,
    who: &Identity,
    id: &str,
    form: &[(String, String)],
    lang: Lang,
) -> Result<Resp, StoreError> {
    let org = &store.cfg.org;
    let param = |k: &str| super::super::query::param(form, k);
    let Some(verdict) = param("verdict").and_then(Verdict::parse) else {
        return Ok(error_page(
            StatusCode::BAD_REQUEST,
            lang,
            org,
            "verdict: release, release-with-removals or keep",
        ));
    };
    let reason = param("reason").unwrap_or("");
    Ok(
        match super::super::withheld::decide(store, who, id, verdict, reason)? {
            Decision::Recorded(_) => super::see_other(&format!(
                "/staff/withheld/{id}?lang={}#decided",
                lang.code()
            )),
            Decision::Already(d) => error_page(
                StatusCode::CONFLICT,
                lang,
                org,
                &format!(
                    "{}: {} ({})",
                    lang.t("Redan beslutat", "Decided already"),
                    verdict_label(lang, d.verdict),
                    d.by
                ),
            ),
            Decision::NoSuchBasis => error_page(
                StatusCode::NOT_FOUND,
                lang,
                org,
                lang.t(
                    "Inget innehållet underlag med det id:t.",
                    "No withheld basis has this id.",
                ),
            ),
            Decision::BadReason(m) => {
                error_page(StatusCode::BAD_REQUEST, lang, org, &format!("reason: {m}"))
            }
        },
    )
}
