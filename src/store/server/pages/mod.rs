//! The staff pages: what the receiving region's staff use in a browser, over the store's own
//! mutual-TLS listener (the browser presents the staff certificate the store's `readers`
//! name). Server-rendered HTML from templates in the crate: no build step, no scripts, no
//! external assets, a strict Content-Security-Policy ([`html::CSP`]), Swedish and English.
//!
//! - `GET /staff`: the list (filters sender, arrival period, state; paging);
//! - `GET /staff/claims/{id}` one basis, `?view=print` its print view, `/xml` the document;
//! - `POST /staff/claims/{id}/state`: processed, or disputed with a reason;
//! - `GET /staff/export.csv`: the selection for the finance system;
//! - `GET /staff/review`: the periodic access review, for the region's reviewers;
//! - `GET /staff/withheld`, `GET`/`POST /staff/withheld/{id}`: manual review of the bases this
//!   region's policy withheld, for its officials (`assessors`; [`withheld`]).
//!
//! Every view of a basis, every download, export and state change is an access-log entry
//! naming the certificate identity, written before the answer goes out.

mod basis;
mod html;
mod list;
mod review;
mod text;
mod withheld;

use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{CONTENT_DISPOSITION, LOCATION};
use hyper::{Method, Request, StatusCode};

use crate::pki::Identity;
use crate::store::case::{check_reason, Case, CaseState};
use crate::store::StoreError;

use super::query::{param, parse_query};
use super::respond::Resp;
use super::Store;
use basis::View;
use html::{error_page, page, respond, Lang};

/// The stylesheet, served from the store itself (the policy allows nothing else).
const STYLE: &str = include_str!("style.css");
/// The largest form a state change may post.
const MAX_FORM: usize = 4096;

/// Where the pages begin: every path under it is a staff page.
pub(super) const PREFIX: &str = "/staff";

enum Page<'a> {
    List,
    Style,
    Export,
    Review,
    Basis(&'a str),
    Xml(&'a str),
    State(&'a str),
    Withheld,
    WithheldBasis(&'a str),
    WithheldDecide(&'a str),
    NotFound,
    MethodNotAllowed,
}

fn route<'a>(method: &Method, path: &'a str) -> Page<'a> {
    let get = method == Method::GET || method == Method::HEAD;
    let rest = path.strip_prefix(PREFIX).unwrap_or("");
    let page = match rest {
        "" | "/" => Page::List,
        "/style.css" => Page::Style,
        "/export.csv" => Page::Export,
        "/review" => Page::Review,
        "/withheld" => Page::Withheld,
        _ if rest.starts_with("/withheld/") => {
            let id = &rest["/withheld/".len()..];
            return match (crate::claim::basis_id_ok(id), method) {
                (false, _) => Page::NotFound,
                (true, &Method::POST) => Page::WithheldDecide(id),
                (true, _) if get => Page::WithheldBasis(id),
                _ => Page::MethodNotAllowed,
            };
        }
        _ => match rest.strip_prefix("/claims/") {
            None => return Page::NotFound,
            Some(r) => {
                let (id, tail) = r.split_once('/').unwrap_or((r, ""));
                if !crate::claim::basis_id_ok(id) {
                    return Page::NotFound;
                }
                match tail {
                    "" => Page::Basis(id),
                    "xml" => Page::Xml(id),
                    "state" if method == Method::POST => return Page::State(id),
                    "state" => return Page::MethodNotAllowed,
                    _ => return Page::NotFound,
                }
            }
        },
    };
    if get {
        page
    } else {
        Page::MethodNotAllowed
    }
}

/// Answers one staff request from a caller `routes` has let read bases.
pub(super) async fn handle(store: &Arc<Store>, who: &Identity, req: Request<Incoming>) -> Resp {
    let params = parse_query(req.uri().query().unwrap_or(""));
    let lang = Lang::of(&params);
    let org = store.cfg.org.clone();
    let path = req.uri().path().to_string();
    match route(req.method(), &path) {
        Page::List => {
            blocking(store, lang, {
                let s = store.clone();
                move || Ok(list::list(&s, &params, lang))
            })
            .await
        }
        Page::Style => respond(
            StatusCode::OK,
            "text/css; charset=utf-8",
            Bytes::from_static(STYLE.as_bytes()),
        ),
        Page::Export => {
            blocking(store, lang, {
                let (s, who) = (store.clone(), who.clone());
                move || Ok(list::export(&s, &who, &params, lang))
            })
            .await
        }
        Page::Review => {
            blocking(store, lang, {
                let s = store.clone();
                move || review::page_of(&s, &params, lang)
            })
            .await
        }
        Page::Basis(id) => {
            let view = if param(&params, "view") == Some("print") {
                View::Print
            } else {
                View::Page
            };
            show(store, who, id, view, lang).await
        }
        Page::Xml(id) => xml(store, who, id, lang).await,
        Page::State(id) => set_state(store, who, id, req, lang).await,
        Page::Withheld => {
            let s = store.clone();
            blocking(store, lang, move || withheld::list(&s, lang)).await
        }
        Page::WithheldBasis(id) => {
            let (s, who, id) = (store.clone(), who.clone(), id.to_string());
            blocking(store, lang, move || {
                let shown = withheld::show(&s, &who, &id, lang)?;
                Ok(shown.unwrap_or_else(|| no_basis(lang, &s.cfg.org)))
            })
            .await
        }
        Page::WithheldDecide(id) => {
            let form = match read_form(store, req, lang).await {
                Ok(f) => f,
                Err(r) => return r,
            };
            let (s, who, id) = (store.clone(), who.clone(), id.to_string());
            blocking(store, lang, move || {
                withheld::decide(&s, &who, &id, &form, lang)
            })
            .await
        }
        Page::NotFound => error_page(
            StatusCode::NOT_FOUND,
            lang,
            &org,
            lang.t("Sidan finns inte.", "No such page."),
        ),
        Page::MethodNotAllowed => error_page(
            StatusCode::METHOD_NOT_ALLOWED,
            lang,
            &org,
            lang.t("Det går inte att göra så här.", "Method not allowed."),
        ),
    }
}

/// The permission a staff path needs: the review is the reviewers' (it reads the access log);
/// the stylesheet anyone's the TLS layer lets in (it holds nothing, and the refusal page uses
/// it too); every other page the readers'.
pub(super) fn action_for(path: &str) -> crate::store::authz::Action {
    use crate::store::authz::Action;
    match path.strip_prefix(PREFIX) {
        Some("/review") => Action::ReadAccessLog,
        Some(p) if p == "/withheld" || p.starts_with("/withheld/") => Action::Assess,
        Some("/style.css") => Action::ReadWitness,
        _ => Action::Read,
    }
}

/// A caller the store does not let read bases (another region's staff, a certificate not
/// among the `readers`): a page that says so and why.
pub(super) fn refused(
    store: &Store,
    params: &[(String, String)],
    why: &impl std::fmt::Display,
) -> Resp {
    let lang = Lang::of(params);
    let m = format!("{} {why}", lang.t("Åtkomst nekas:", "Access refused:"));
    error_page(StatusCode::FORBIDDEN, lang, &store.cfg.org, &m)
}

/// Runs a page's blocking work (the database, AES, the access log) off the reactor.
async fn blocking(
    store: &Arc<Store>,
    lang: Lang,
    f: impl FnOnce() -> Result<Resp, StoreError> + Send + 'static,
) -> Resp {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => internal(lang, &store.cfg.org, e),
        Err(e) => internal(lang, &store.cfg.org, StoreError::task("a staff page")(e)),
    }
}

/// A failure of the store itself: logged, and a page that says where to look.
fn internal(lang: Lang, org: &str, e: StoreError) -> Resp {
    tracing::error!("{e}");
    error_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        lang,
        org,
        lang.t(
            "Ett internt fel; se lagrets logg.",
            "An internal error; see the store's log.",
        ),
    )
}

fn no_basis(lang: Lang, org: &str) -> Resp {
    error_page(
        StatusCode::NOT_FOUND,
        lang,
        org,
        lang.t(
            "Det finns inget underlag med det id:t.",
            "No basis has this id.",
        ),
    )
}

/// `GET /staff/claims/{id}`: the readable page or its print view.
async fn show(store: &Arc<Store>, who: &Identity, id: &str, view: View, lang: Lang) -> Resp {
    let (s, who, id) = (store.clone(), who.clone(), id.to_string());
    blocking(store, lang, move || {
        let org = &s.cfg.org;
        let Some((meta, case, xml)) = basis::open(&s, &who, &id, view.action())? else {
            return Ok(no_basis(lang, org));
        };
        let claim = match crate::claim::ClaimSpecification::from_xml(&xml) {
            Ok(c) => c,
            Err(e) => {
                return Err(StoreError::Damaged {
                    path: s.cfg.data_dir.clone(),
                    message: format!("basis {id} does not read: {e}"),
                })
            }
        };
        let body = basis::render(lang, view, &who, &meta, &case, &claim);
        let here = match view {
            View::Page => format!("/staff/claims/{id}"),
            View::Print => format!("/staff/claims/{id}?view=print"),
        };
        let title = format!("{} {id}", lang.t("Underlag", "Basis"));
        Ok(page(StatusCode::OK, lang, org, &title, &here, &body))
    })
    .await
}

/// `GET /staff/claims/{id}/xml`: the document as received, as a download.
async fn xml(store: &Arc<Store>, who: &Identity, id: &str, lang: Lang) -> Resp {
    let (s, who, id) = (store.clone(), who.clone(), id.to_string());
    blocking(store, lang, move || {
        let Some((_, _, xml)) = basis::open(&s, &who, &id, "xml")? else {
            return Ok(no_basis(lang, &s.cfg.org));
        };
        let mut r = respond(StatusCode::OK, "application/xml", Bytes::from(xml));
        let name = format!("attachment; filename=\"{id}.xml\"");
        r.headers_mut()
            .insert(CONTENT_DISPOSITION, name.parse().expect("an id is ascii"));
        Ok(r)
    })
    .await
}

/// Whether a form post comes from this store's own pages: the browser says so
/// (`Sec-Fetch-Site: same-origin`), or, from one that does not send that, its `Origin` is the
/// host it was sent to (`Host`, or HTTP/2's `:authority`). A page elsewhere that the browser
/// would send the staff certificate from cannot change a basis's state: the certificate acts
/// like a cookie.
fn same_origin(req: &Request<Incoming>) -> bool {
    let header = |h| req.headers().get(h).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return site == "same-origin";
    }
    let host = header("host").or_else(|| req.uri().authority().map(|a| a.as_str()));
    match (header("origin"), host) {
        (Some(origin), Some(host)) => origin.strip_prefix("https://") == Some(host),
        _ => false,
    }
}

/// A form posted from the store's own pages, read; `Err` is the page that says why not.
async fn read_form(
    store: &Store,
    req: Request<Incoming>,
    lang: Lang,
) -> Result<Vec<(String, String)>, Resp> {
    let org = &store.cfg.org;
    if !same_origin(&req) {
        let m = lang.t(
            "Formuläret kom inte från lagrets egna sidor.",
            "The form did not come from the store's own pages.",
        );
        return Err(error_page(StatusCode::FORBIDDEN, lang, org, m));
    }
    let within = store.cfg.limits.body_timeout;
    match crate::net::body::read_body(req.into_body(), MAX_FORM, MAX_FORM, within).await {
        Ok(b) => Ok(parse_query(&String::from_utf8_lossy(&b))),
        Err(_) => Err(error_page(
            StatusCode::BAD_REQUEST,
            lang,
            org,
            lang.t(
                "Formuläret kunde inte läsas.",
                "The form could not be read.",
            ),
        )),
    }
}

/// A redirect to `to` after a form (303).
fn see_other(to: &str) -> Resp {
    let mut r = respond(
        StatusCode::SEE_OTHER,
        "text/plain; charset=utf-8",
        Bytes::new(),
    );
    r.headers_mut()
        .insert(LOCATION, to.parse().expect("an ascii path"));
    r
}

/// `POST /staff/claims/{id}/state`: `state=processed`, or `state=disputed&reason=…`; then back
/// to the basis (303).
async fn set_state(
    store: &Arc<Store>,
    who: &Identity,
    id: &str,
    req: Request<Incoming>,
    lang: Lang,
) -> Resp {
    let org = store.cfg.org.clone();
    let form = match read_form(store, req, lang).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let (state, reason) = match param(&form, "state").and_then(CaseState::parse) {
        Some(CaseState::Processed) => (CaseState::Processed, None),
        Some(CaseState::Disputed) => match check_reason(param(&form, "reason").unwrap_or("")) {
            Ok(r) => (CaseState::Disputed, Some(r.to_string())),
            Err(m) => {
                return error_page(StatusCode::BAD_REQUEST, lang, &org, &format!("reason: {m}"))
            }
        },
        _ => {
            return error_page(
                StatusCode::BAD_REQUEST,
                lang,
                &org,
                "state: processed or disputed",
            )
        }
    };
    let (s, who, id) = (store.clone(), who.clone(), id.to_string());
    blocking(store, lang, move || {
        let Some(meta) = s.storage.meta(&id)? else {
            return Ok(no_basis(lang, &s.cfg.org));
        };
        // The access log first: a change that could not be logged does not happen.
        s.access
            .record(&who, &meta, state.as_str(), reason.as_deref())?;
        let case = Case {
            state,
            by: Some(who.id()),
            at: Some(crate::clock::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            reason,
        };
        s.storage.set_case(&id, &case, false)?;
        tracing::info!(who = %who.id(), basis = %id, state = state.as_str(), "state changed");
        Ok(see_other(&format!(
            "/staff/claims/{id}?lang={}",
            lang.code()
        )))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_route() {
        let name = |p: Page| match p {
            Page::List => "List".to_string(),
            Page::Style => "Style".into(),
            Page::Export => "Export".into(),
            Page::Review => "Review".into(),
            Page::Basis(id) => format!("Basis({id})"),
            Page::Xml(id) => format!("Xml({id})"),
            Page::State(id) => format!("State({id})"),
            Page::Withheld => "Withheld".into(),
            Page::WithheldBasis(id) => format!("WithheldBasis({id})"),
            Page::WithheldDecide(id) => format!("WithheldDecide({id})"),
            Page::NotFound => "NotFound".into(),
            Page::MethodNotAllowed => "MethodNotAllowed".into(),
        };
        for (m, p, want) in [
            (Method::GET, "/staff", "List"),
            (Method::GET, "/staff/", "List"),
            (Method::GET, "/staff/style.css", "Style"),
            (Method::GET, "/staff/export.csv", "Export"),
            (Method::GET, "/staff/review", "Review"),
            (Method::GET, "/staff/claims/ZVF1", "Basis(ZVF1)"),
            (Method::GET, "/staff/claims/ZVF1/xml", "Xml(ZVF1)"),
            (Method::POST, "/staff/claims/ZVF1/state", "State(ZVF1)"),
            (Method::GET, "/staff/claims/ZVF1/state", "MethodNotAllowed"),
            (Method::POST, "/staff", "MethodNotAllowed"),
            (Method::GET, "/staff/claims/../x", "NotFound"),
            (Method::GET, "/staff/other", "NotFound"),
            (Method::GET, "/staff/withheld", "Withheld"),
            (Method::GET, "/staff/withheld/ZVF1", "WithheldBasis(ZVF1)"),
            (Method::POST, "/staff/withheld/ZVF1", "WithheldDecide(ZVF1)"),
            (Method::DELETE, "/staff/withheld/ZVF1", "MethodNotAllowed"),
            (Method::GET, "/staff/withheld/../x", "NotFound"),
        ] {
            assert_eq!(name(route(&m, p)), want, "{m} {p}");
        }
    }
}
