//! `invoice-hub witness`: a witness of disclosure logs that runs alone — for a party that keeps
//! the hub's signed heads without running a store (a supervisory authority, another region's
//! operations, the auditors' own machine). It does what every store does as a witness and
//! nothing else: holds the newest signed head of each log it is given a key for, accepts a new
//! one only with a consistency proof from the one it holds, and refuses (loudly, and keeps a
//! record) a head that forks or shrinks the log. `audit verify --witness URL` asks it.
//!
//! | request | who | answer |
//! |---|---|---|
//! | `GET /v1/witness/{log_id}` | any federation certificate | the held head; `404` none yet |
//! | `POST /v1/witness/{log_id}` | `writers` (the hub) | `200` kept, `409` refused |
//!
//! The connections are [`crate::net`]'s (mutual TLS, the CRL, time limits, connections per
//! identity), the requests [`http`]'s, shared with the store's witness routes.

mod config;
pub(crate) mod http;

pub use config::WitnessConfig;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::audit::witness::{log_id_ok, Witness};
use crate::pki::Identity;

/// A bound witness, ready to serve.
pub struct Server {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    state: Arc<State>,
}

struct State {
    cfg: WitnessConfig,
    witness: Arc<Witness>,
    crl: Option<Arc<crate::tls::CrlFile>>,
}

/// `witness --check`: what a start would read, read without starting — the TLS material, each
/// log's public key, where the heads are kept — one line per part; creates nothing and listens on
/// nothing. Errors name `file` and the field.
pub fn check(cfg: &WitnessConfig, file: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let f = file.display();
    crate::net::RawServerTls::load(&cfg.tls).with_context(|| format!("{f}: [tls]"))?;
    let mut found = vec![format!(
        "TLS: {} with clients of {}",
        cfg.tls.cert.display(),
        cfg.tls.ca.display()
    )];
    for (id, path) in &cfg.logs {
        let key =
            crate::audit::LogPublicKey::load(path).with_context(|| format!("{f}: logs.{id:?}"))?;
        found.push(format!(
            "log {id:?}: heads signed with key {}",
            key.key_id()
        ));
    }
    let held = &cfg.data_dir;
    let parent = held.parent().unwrap_or(std::path::Path::new("."));
    if !held.is_dir() && !parent.is_dir() {
        anyhow::bail!(
            "{f}: data_dir: neither {} nor its parent directory exists",
            held.display()
        );
    }
    found.push(format!(
        "heads kept in {}{}; {} writer(s); listens on {}",
        held.display(),
        if held.is_dir() {
            ""
        } else {
            " (created at start)"
        },
        cfg.writers.len(),
        cfg.listen
    ));
    Ok(found)
}

impl Server {
    /// Reads the keys and certificates and binds the address (port 0 picks a free one).
    pub async fn bind(cfg: WitnessConfig) -> anyhow::Result<Server> {
        let (tls, crl) = crate::net::RawServerTls::load(&cfg.tls)?;
        let mut keys = std::collections::BTreeMap::new();
        for (id, path) in &cfg.logs {
            let key = crate::audit::LogPublicKey::load(path)
                .with_context(|| format!("[logs] {id:?}: {}", path.display()))?;
            keys.insert(id.clone(), key);
        }
        let witness = Witness::open(&cfg.data_dir, keys)?;
        let listener = TcpListener::bind(cfg.listen)
            .await
            .with_context(|| format!("listening on {}", cfg.listen))?;
        Ok(Server {
            listener,
            acceptor: TlsAcceptor::from(Arc::new(tls)),
            state: Arc::new(State {
                cfg,
                witness: Arc::new(witness),
                crl,
            }),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let limits = self.state.cfg.limits;
        let grace = Duration::from_secs(5);
        let routes = Routes(self.state);
        crate::net::serve(
            self.listener,
            self.acceptor,
            limits,
            routes,
            shutdown,
            grace,
        )
        .await;
    }
}

#[derive(Clone)]
struct Routes(Arc<State>);

impl crate::net::Handler for Routes {
    async fn handle(&self, who: Arc<Identity>, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let s = &self.0;
        let path = req.uri().path().to_string();
        let method = req.method().clone();
        let revoked = s
            .crl
            .as_ref()
            .is_some_and(|c| c.is_revoked(&who.issuer, &who.serial));
        let resp = match path.strip_prefix("/v1/witness/") {
            _ if revoked => crate::net::respond::error(
                StatusCode::FORBIDDEN,
                "the certificate has been revoked",
            ),
            Some(id) if !log_id_ok(id) => {
                crate::net::respond::error(StatusCode::BAD_REQUEST, "not a log id")
            }
            Some(id) if method == Method::GET || method == Method::HEAD => {
                http::held(&s.witness, id)
            }
            Some(id) if method == Method::POST => {
                if s.cfg.writers.iter().any(|p| p.matches(&who)) {
                    let within = s.cfg.limits.body_timeout;
                    http::submit(s.witness.clone(), id, req, within).await
                } else {
                    crate::net::respond::error(
                        StatusCode::FORBIDDEN,
                        "this certificate may not send heads",
                    )
                }
            }
            Some(_) => crate::net::respond::error(StatusCode::METHOD_NOT_ALLOWED, "GET or POST"),
            None => crate::net::respond::error(StatusCode::NOT_FOUND, "no such resource"),
        };
        tracing::info!(who = %who.id(), %method, %path, status = resp.status().as_u16(), "request");
        resp
    }
}
