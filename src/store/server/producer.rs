//! The store as a producer of the national contract: `POST /ProcessClaimSpecification/1/rivtabp21`
//! with a SOAP 1.1 envelope, as the hub's `rivta` sink (or the national platform) calls a
//! region's own system. The same intake as a `PUT` — validated again, addressed to this region,
//! sealed and stored durably before the answer — answered as the contract says: `OK`, or
//! `ERROR` with one finding per line (not received), or a Fault for what is not a call of the
//! contract. The same basis again is `OK` again; its id with other content is `ERROR`.
//!
//! So `make run` and the tests deliver over SOAP to a real endpoint of the project's own.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::CONTENT_TYPE;
use hyper::{Request, Response};
use sha2::{Digest as _, Sha256};

use crate::claim::ResultCode;
use crate::net::body::{drain_cap, read_body, BodyError};
use crate::rivta::envelope::{self, EnvelopeError};
use crate::rivta::soap::{self, Code};
use crate::store::storage::PutOutcome;
use crate::validate::{contract_comment, safety, Finding};

use super::intake::{accept, Accepted, RULE_STORE};
use super::respond::Resp;
use super::Store;

/// The endpoint's path: the contract's, as the platform's routing table names producers.
pub(super) const PATH: &str = crate::rivta::DEFAULT_PATH;

/// One call.
pub(super) async fn call(store: &Arc<Store>, req: Request<Incoming>) -> Resp {
    let max = store.cfg.max_body_bytes;
    let within = store.cfg.limits.body_timeout;
    let body = match read_body(req.into_body(), max, drain_cap(max), within).await {
        Ok(b) => b,
        Err(BodyError::TooBig { .. }) => {
            let f = Finding::new(
                safety::RULE_SIZE,
                "/",
                format!("the message is larger than this producer accepts ({max} bytes)"),
            );
            return answer(ResultCode::Error, Some(&contract_comment(None, &[f])));
        }
        Err(BodyError::TimedOut) => return fault(Code::Vp015, "the body did not arrive in time"),
        Err(BodyError::Read(e)) => return fault(Code::Vp015, &e.to_string()),
    };
    let limits = safety::Limits {
        max_bytes: max,
        ..safety::Limits::default()
    };
    let request = match envelope::read(&body, &limits) {
        Ok(r) => r,
        Err(EnvelopeError::Unsafe(f)) => {
            return answer(ResultCode::Error, Some(&contract_comment(None, &[f])))
        }
        Err(e) => return fault(Code::Vp015, &e.to_string()),
    };
    match request.logical_address.as_deref() {
        None | Some("") => return fault(Code::Vp003, "the header has no LogicalAddress"),
        Some(a) if a != store.cfg.org => {
            let why = format!(
                "LogicalAddress {a}: this is the producer of {}",
                store.cfg.org
            );
            return fault(Code::Vp004, &why);
        }
        Some(_) => {}
    }
    let doc = request.document;
    let sha256 = hex::encode(Sha256::digest(&doc));
    match accept(store, None, Bytes::from(doc), sha256).await {
        Ok(accepted) => answer_of(accepted),
        Err(e) => {
            tracing::error!("storing a call's basis: {e}");
            fault(
                Code::Vp009,
                "the producer could not store the basis; send it again",
            )
        }
    }
}

/// The contract's answer for what the intake did.
fn answer_of(accepted: Accepted) -> Resp {
    match accepted {
        Accepted::Stored(PutOutcome::Created(_) | PutOutcome::Same(_)) => {
            answer(ResultCode::Ok, None)
        }
        Accepted::Stored(PutOutcome::Conflict(old)) => {
            let f = Finding::new(
                RULE_STORE,
                "/claimSpecification/id",
                format!(
                    "basis {} was already received with other content (sha256 {}); a basis id \
                     is never reused",
                    old.id, old.sha256
                ),
            );
            answer(
                ResultCode::Error,
                Some(&contract_comment(Some(&old.id), &[f])),
            )
        }
        Accepted::Invalid { id, findings } => answer(
            ResultCode::Error,
            Some(&contract_comment(id.as_deref(), &findings)),
        ),
    }
}

fn answer(result: ResultCode, comment: Option<&str>) -> Resp {
    respond(200, soap::answer(result, comment))
}

fn fault(code: Code, why: &str) -> Resp {
    respond(500, soap::fault(code, why))
}

fn respond(status: u16, body: String) -> Resp {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, soap::CONTENT_TYPE)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}
