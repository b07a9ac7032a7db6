//! The store as a witness of the hub's log: the two requests every witness answers
//! ([`crate::witness::http`]), with the store's permissions (`routes`) and body time limit.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::Request;

use super::respond::Resp;
use super::Store;

/// `GET /v1/witness/{log_id}`.
pub(super) fn held(store: &Arc<Store>, log_id: &str) -> Resp {
    crate::witness::http::held(&store.witness, log_id)
}

/// `POST /v1/witness/{log_id}`.
pub(super) async fn submit(store: &Arc<Store>, log_id: &str, req: Request<Incoming>) -> Resp {
    let within = store.cfg.limits.body_timeout;
    crate::witness::http::submit(store.witness.clone(), log_id, req, within).await
}
