//! Which handler a request goes to, and the permission it needs.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, StatusCode};

use crate::pki::Identity;
use crate::store::authz::Action;

use super::handlers::{access_log, get_claim, list_claims, put_claim, verify_access_log};
use super::query::parse_query;
use super::respond::{close_after, error, Resp};
use super::{witness, Store};
use crate::net::body::{drain_cap, read_body, BodyError};

enum Route<'a> {
    PutClaim(&'a str),
    GetClaim(&'a str),
    ListClaims,
    AccessLog,
    VerifyAccessLog,
    GetWitness(&'a str),
    PostWitness(&'a str),
    /// `POST` of a `ProcessClaimSpecification` call: the store as the contract's producer.
    Produce,
    /// A staff page (`/staff…`, [`super::pages`]).
    Staff,
    /// The review queue ([`super::withheld`]).
    Review(ReviewRoute<'a>),
    BadId,
    NotFound,
    MethodNotAllowed,
}

#[derive(Debug)]
enum ReviewRoute<'a> {
    List,
    Decisions,
    Put(&'a str),
    Get(&'a str),
    Decide(&'a str),
    Returned(&'a str),
}

fn review_route<'a>(method: &Method, rest: &'a str) -> Route<'a> {
    let get = method == Method::GET || method == Method::HEAD;
    let post = method == Method::POST;
    let r = match rest.split_once('/').unwrap_or((rest, "")) {
        ("", "") if get => ReviewRoute::List,
        ("decisions", "") if get => ReviewRoute::Decisions,
        (id, _) if !crate::claim::basis_id_ok(id) => return Route::BadId,
        (id, "") if method == Method::PUT => ReviewRoute::Put(id),
        (id, "") if get => ReviewRoute::Get(id),
        (id, "decision") if post => ReviewRoute::Decide(id),
        (id, "returned") if post => ReviewRoute::Returned(id),
        (_, "" | "decision" | "returned") => return Route::MethodNotAllowed,
        _ => return Route::NotFound,
    };
    Route::Review(r)
}

fn route<'a>(method: &Method, path: &'a str) -> Route<'a> {
    if path == "/v1/review" {
        return review_route(method, "");
    }
    if let Some(rest) = path.strip_prefix("/v1/review/") {
        return review_route(method, rest);
    }
    let get = method == Method::GET || method == Method::HEAD;
    if path == super::pages::PREFIX || path.starts_with(&format!("{}/", super::pages::PREFIX)) {
        return Route::Staff;
    }
    match path {
        super::producer::PATH => {
            if method == Method::POST {
                Route::Produce
            } else {
                Route::MethodNotAllowed
            }
        }
        "/v1/claims" | "/v1/claims/" => {
            if get {
                Route::ListClaims
            } else {
                Route::MethodNotAllowed
            }
        }
        "/v1/access-log" => {
            if get {
                Route::AccessLog
            } else {
                Route::MethodNotAllowed
            }
        }
        "/v1/access-log/verify" => {
            if get {
                Route::VerifyAccessLog
            } else {
                Route::MethodNotAllowed
            }
        }
        _ if path.starts_with("/v1/witness/") => {
            let id = &path["/v1/witness/".len()..];
            if !crate::audit::witness::log_id_ok(id) {
                Route::BadId
            } else if get {
                Route::GetWitness(id)
            } else if method == Method::POST {
                Route::PostWitness(id)
            } else {
                Route::MethodNotAllowed
            }
        }
        _ => match path.strip_prefix("/v1/claims/") {
            Some(id) if !crate::claim::basis_id_ok(id) => Route::BadId,
            Some(id) if method == Method::PUT => Route::PutClaim(id),
            Some(id) if get => Route::GetClaim(id),
            Some(_) => Route::MethodNotAllowed,
            None => Route::NotFound,
        },
    }
}

/// Routes one request, checks the caller's permission for it, answers, and logs the request
/// (names and ids, never bodies).
pub(super) async fn handle(store: &Arc<Store>, who: &Identity, req: Request<Incoming>) -> Resp {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let params = parse_query(req.uri().query().unwrap_or(""));
    if store
        .crl
        .as_ref()
        .is_some_and(|c| c.is_revoked(&who.issuer, &who.serial))
    {
        tracing::warn!(who = %who.id(), serial = %who.serial, %method, %path, "refused: the certificate has been revoked");
        return close_after(error(
            StatusCode::FORBIDDEN,
            format!("{} has been revoked", who.id()),
        ));
    }
    let need = |action| store.authz.check(who, action);
    let resp = match route(&method, &path) {
        Route::PutClaim(id) => match need(Action::Write) {
            Ok(()) => put_claim(store, id, req).await,
            Err(d) => {
                // Read (and drop) what the client is still sending, so it gets the 403 rather
                // than a reset connection.
                let max = store.cfg.max_body_bytes;
                let within = store.cfg.limits.body_timeout;
                let drained = read_body(req.into_body(), max, drain_cap(max), within).await;
                let r = error(StatusCode::FORBIDDEN, d);
                if matches!(
                    drained,
                    Err(BodyError::TooBig { drained: false } | BodyError::TimedOut)
                ) {
                    close_after(r)
                } else {
                    r
                }
            }
        },
        Route::GetClaim(id) => match need(Action::Read) {
            Ok(()) => get_claim(store, who, id).await,
            Err(d) => error(StatusCode::FORBIDDEN, d),
        },
        Route::ListClaims => match need(Action::Read) {
            Ok(()) => list_claims(store, &params),
            Err(d) => error(StatusCode::FORBIDDEN, d),
        },
        Route::AccessLog => match need(Action::ReadAccessLog) {
            Ok(()) => access_log(store, &params),
            Err(d) => error(StatusCode::FORBIDDEN, d),
        },
        Route::VerifyAccessLog => match need(Action::ReadAccessLog) {
            Ok(()) => verify_access_log(store).await,
            Err(d) => error(StatusCode::FORBIDDEN, d),
        },
        Route::GetWitness(id) => match need(Action::ReadWitness) {
            Ok(()) => witness::held(store, id),
            Err(d) => error(StatusCode::FORBIDDEN, d),
        },
        Route::PostWitness(id) => match need(Action::Witness) {
            Ok(()) => witness::submit(store, id, req).await,
            Err(d) => error(StatusCode::FORBIDDEN, d),
        },
        Route::Produce => match need(Action::Write) {
            Ok(()) => super::producer::call(store, req).await,
            Err(d) => error(StatusCode::FORBIDDEN, d),
        },
        Route::Staff => match need(super::pages::action_for(&path)) {
            Ok(()) => super::pages::handle(store, who, req).await,
            Err(d) => super::pages::refused(store, &params, &d),
        },
        Route::Review(r) => review(store, who, r, req, &need).await,
        Route::BadId => error(
            StatusCode::BAD_REQUEST,
            "an id is 1 to 64 letters, digits, '-', '_' or '.'",
        ),
        Route::NotFound => error(StatusCode::NOT_FOUND, "no such resource"),
        Route::MethodNotAllowed => error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
    };
    // Names and ids only: never bodies, patient data or certificates.
    tracing::info!(who = %who.id(), %method, %path, status = resp.status().as_u16(), "request");
    resp
}

/// One request of the review queue: the hub's side needs `Write`, the officials' `Assess`.
async fn review(
    store: &Arc<Store>,
    who: &Identity,
    r: ReviewRoute<'_>,
    req: Request<Incoming>,
    need: &impl Fn(Action) -> Result<(), crate::store::authz::Denied>,
) -> Resp {
    use super::withheld as w;
    let action = match r {
        ReviewRoute::Decisions | ReviewRoute::Put(_) | ReviewRoute::Returned(_) => Action::Write,
        _ => Action::Assess,
    };
    if let Err(d) = need(action) {
        return error(StatusCode::FORBIDDEN, d);
    }
    match r {
        ReviewRoute::List => w::list(store).await,
        ReviewRoute::Decisions => w::decisions(store).await,
        ReviewRoute::Put(id) => w::put(store, id, req).await,
        ReviewRoute::Get(id) => w::get(store, who, id).await,
        ReviewRoute::Decide(id) => w::post_decision(store, who, id, req).await,
        ReviewRoute::Returned(id) => w::returned(store, id).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        let cases = [
            (Method::PUT, "/v1/claims/ZVF1", "PutClaim(ZVF1)"),
            (Method::GET, "/v1/claims/ZVF1", "GetClaim(ZVF1)"),
            (Method::HEAD, "/v1/claims/ZVF1", "GetClaim(ZVF1)"),
            (Method::GET, "/v1/claims", "ListClaims"),
            (Method::GET, "/v1/access-log", "AccessLog"),
            (Method::GET, "/v1/access-log/verify", "VerifyAccessLog"),
            (Method::PUT, "/v1/claims", "MethodNotAllowed"),
            (Method::GET, "/v1/claims/../x", "BadId"),
            (Method::DELETE, "/v1/claims/ZVF1", "MethodNotAllowed"),
            (Method::GET, "/", "NotFound"),
            (Method::GET, "/staff", "Staff"),
            (Method::POST, "/staff/claims/ZVF1/state", "Staff"),
            (Method::GET, "/staffing", "NotFound"),
            (Method::GET, "/v1/review", "Review(List)"),
            (Method::GET, "/v1/review/decisions", "Review(Decisions)"),
            (Method::PUT, "/v1/review/ZVF1", "Review(Put(\"ZVF1\"))"),
            (
                Method::POST,
                "/v1/review/ZVF1/decision",
                "Review(Decide(\"ZVF1\"))",
            ),
            (
                Method::POST,
                "/v1/review/ZVF1/returned",
                "Review(Returned(\"ZVF1\"))",
            ),
            (Method::DELETE, "/v1/review/ZVF1", "MethodNotAllowed"),
            (Method::GET, "/v1/review/a%2Fx", "BadId"),
            (Method::GET, "/v1/review/ZVF1/other", "NotFound"),
            (Method::GET, "/v1/witness/hub-a", "GetWitness(hub-a)"),
            (Method::POST, "/v1/witness/hub-a", "PostWitness(hub-a)"),
            (Method::POST, "/v1/witness/../x", "BadId"),
            (
                Method::POST,
                "/ProcessClaimSpecification/1/rivtabp21",
                "Produce",
            ),
            (
                Method::GET,
                "/ProcessClaimSpecification/1/rivtabp21",
                "MethodNotAllowed",
            ),
        ];
        for (method, path, want) in cases {
            let got = match route(&method, path) {
                Route::PutClaim(id) => format!("PutClaim({id})"),
                Route::GetClaim(id) => format!("GetClaim({id})"),
                Route::ListClaims => "ListClaims".into(),
                Route::AccessLog => "AccessLog".into(),
                Route::VerifyAccessLog => "VerifyAccessLog".into(),
                Route::GetWitness(id) => format!("GetWitness({id})"),
                Route::PostWitness(id) => format!("PostWitness({id})"),
                Route::Produce => "Produce".into(),
                Route::Staff => "Staff".into(),
                Route::Review(r) => format!("Review({r:?})"),
                Route::BadId => "BadId".into(),
                Route::NotFound => "NotFound".into(),
                Route::MethodNotAllowed => "MethodNotAllowed".into(),
            };
            assert_eq!(got, want, "{method} {path}");
        }
    }
}
