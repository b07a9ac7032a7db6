//! The SOAP gateway: the national contract's front door. A region's finance system calls
//! `ProcessClaimSpecification` (RIVTA BP 2.1, SOAP 1.1 over mutual TLS) exactly as it calls any
//! producer through the national platform, and the gateway is a region adapter like `publish`:
//! it checks the call, puts the basis on the submit exchange under the caller's identity and
//! answers as the contract says — `OK` only once the hub has logged its decision and handed the
//! basis to the receiver's queue.
//!
//! | request | answer |
//! |---|---|
//! | `POST <path>` (a SOAP 1.1 envelope) | the contract's answer (200) or a Fault (500) |
//! | `GET <path>?wsdl` | the WSDL, its `soap:address` this endpoint |
//! | `GET` the schemas' relative paths | the responder, core and header schemas |
//!
//! In its concepts, one file each:
//!
//! - this file — the gateway ([`Gateway`]), its listener ([`Server`]) and the HTTP routes;
//! - `config` — `gateway.toml`;
//! - `caller` — who is calling (the certificate's SERIALNUMBER; the platform's header);
//! - `call` — one call from the envelope to the answer;
//! - `repeats` — the first answer again for a repeat;
//! - `submit` — the broker: the basis in, the hub's answer out.
//!
//! The contract's envelope, answers, Faults and WSDL are [`crate::rivta`]'s, shared with the
//! store's producer endpoint and the hub's `rivta` sink.
//!
//! The connections themselves (mutual TLS, revocation, header and body timeouts, connections
//! per identity) are [`crate::net`]'s, as for the store.

mod call;
mod caller;
pub mod config;
mod repeats;
mod submit;

pub use config::GatewayConfig;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::net::body::{drain_cap, read_body, BodyError};
use crate::pki::Identity;
use crate::validate::xsd::Schema;

use crate::rivta::soap::{self, Code};
use call::Checks;
use repeats::Repeats;
use submit::Submitter;

/// How many answers are kept for repeats.
const REPEATS_KEPT: usize = 10_000;
/// How long a shutdown lets the calls in progress finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(25);

/// What every call needs.
pub struct Gateway {
    cfg: GatewayConfig,
    checks: Checks,
    repeats: Repeats,
    submitter: Arc<Submitter>,
    /// Calls worked on at once (the contract asks for 10 concurrent).
    calls: tokio::sync::Semaphore,
    crl: Option<Arc<crate::tls::CrlFile>>,
}

/// A bound gateway, ready to serve.
pub struct Server {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    gw: Arc<Gateway>,
}

impl Server {
    /// Reads the certificates, connects to the broker (declaring the answer queue) and binds
    /// the address (port 0 picks a free one: see [`Server::local_addr`]).
    pub async fn bind(cfg: GatewayConfig) -> anyhow::Result<Server> {
        let (tls, crl) = crate::net::RawServerTls::load(&cfg.tls)?;
        let schema = Arc::new(Schema::embedded()?);
        let submitter = Submitter::start(cfg.broker.clone(), &cfg.instance)
            .await
            .context("connecting to the broker and declaring the gateway's answer queue")?;
        let listener = TcpListener::bind(cfg.listen)
            .await
            .with_context(|| format!("listening on {}", cfg.listen))?;
        let gw = Gateway {
            checks: Checks::new(schema, crate::rivta::MAX_MESSAGE),
            repeats: Repeats::new(REPEATS_KEPT),
            submitter,
            calls: tokio::sync::Semaphore::new(cfg.max_calls),
            crl,
            cfg,
        };
        Ok(Server {
            listener,
            acceptor: TlsAcceptor::from(Arc::new(tls)),
            gw: Arc::new(gw),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes; the calls in progress get their answers.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let limits = self.gw.cfg.limits;
        let handler = Routes(self.gw);
        crate::net::serve(
            self.listener,
            self.acceptor,
            limits,
            handler,
            shutdown,
            SHUTDOWN_GRACE,
        )
        .await;
    }
}

type Resp = Response<Full<Bytes>>;

#[derive(Clone)]
struct Routes(Arc<Gateway>);

impl crate::net::Handler for Routes {
    async fn handle(&self, who: Arc<Identity>, req: Request<Incoming>) -> Resp {
        let gw = &self.0;
        if gw
            .crl
            .as_ref()
            .is_some_and(|c| c.is_revoked(&who.issuer, &who.serial))
        {
            tracing::warn!(who = %who.id(), serial = %who.serial, "refused: the certificate has been revoked");
            let why = format!("the certificate {} has been revoked", who.id());
            return crate::net::respond::close_after(soap_response(
                500,
                soap::fault(Code::Vp002, &why),
            ));
        }
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or("").to_ascii_lowercase();
        match (req.method().clone(), path == gw.cfg.path) {
            (Method::POST, true) => post(gw, &who, req).await,
            (Method::GET | Method::HEAD, true) if query == "wsdl" => {
                let host = req
                    .headers()
                    .get(HOST)
                    .and_then(|h| h.to_str().ok())
                    .map_or_else(|| gw.cfg.listen.to_string(), str::to_string);
                let address = format!("https://{host}{}", gw.cfg.path);
                soap_response(200, soap::wsdl(&address))
            }
            (Method::GET | Method::HEAD, _) => match soap::schema_at(&gw.cfg.path, &path) {
                Some(xsd) => soap_response(200, xsd.to_string()),
                None => plain(StatusCode::NOT_FOUND, "no such document"),
            },
            _ => plain(StatusCode::METHOD_NOT_ALLOWED, "POST a SOAP 1.1 envelope"),
        }
    }
}

/// One call: the HTTP checks (content type, soapAction, size), then [`call::answer`].
async fn post(gw: &Arc<Gateway>, who: &Identity, req: Request<Incoming>) -> Resp {
    if let Err(why) = http_checks(&req) {
        return soap_response(500, soap::fault(Code::Vp015, &why));
    }
    let original = req
        .headers()
        .get(caller::ORIGINAL_CONSUMER)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let max = crate::rivta::MAX_MESSAGE;
    let within = gw.cfg.limits.body_timeout;
    let body = match read_body(req.into_body(), max, drain_cap(max), within).await {
        Ok(b) => b,
        Err(BodyError::TooBig { drained }) => {
            let f = crate::validate::Finding::new(
                crate::validate::safety::RULE_SIZE,
                "/",
                format!("the message is over the contract's limit of {max} bytes"),
            );
            let comment = crate::validate::contract_comment(None, &[f]);
            let r = soap_response(
                200,
                soap::answer(crate::claim::ResultCode::Error, Some(&comment)),
            );
            return if drained {
                r
            } else {
                crate::net::respond::close_after(r)
            };
        }
        Err(BodyError::TimedOut) => {
            let why = format!(
                "the request body did not arrive within {} s",
                within.as_secs()
            );
            return crate::net::respond::close_after(soap_response(
                500,
                soap::fault(Code::Vp015, &why),
            ));
        }
        Err(BodyError::Read(e)) => {
            return crate::net::respond::close_after(soap_response(
                500,
                soap::fault(Code::Vp015, &e.to_string()),
            ));
        }
    };
    let Ok(_turn) = gw.calls.acquire().await else {
        return soap_response(500, soap::fault(Code::Vp009, "the gateway is stopping"));
    };
    let started = std::time::Instant::now();
    let reply = call::answer(gw, who, original.as_deref(), body).await;
    let label = reply.label();
    metrics::counter!("ih_gateway_calls_total", "answer" => label).increment(1);
    metrics::histogram!("ih_gateway_call_seconds").record(started.elapsed().as_secs_f64());
    tracing::info!(who = %who.id(), answer = label, ms = started.elapsed().as_millis() as u64, "call answered");
    let (status, body) = call::render(&reply);
    soap_response(status, body)
}

/// SOAP 1.1 is `text/xml` (UTF-8 here), and the soapAction, when given, is this operation's.
fn http_checks(req: &Request<Incoming>) -> Result<(), String> {
    let ct = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let mut parts = ct.split(';').map(str::trim);
    if parts.next() != Some("text/xml") {
        return Err(format!(
            "Content-Type {ct:?}: SOAP 1.1 is sent as text/xml; charset=UTF-8"
        ));
    }
    let charset = parts.find_map(|p| p.strip_prefix("charset="));
    if let Some(cs) = charset.map(|c| c.trim_matches('"')) {
        if cs != "utf-8" {
            return Err(format!("charset {cs}: this endpoint reads UTF-8 only"));
        }
    }
    let action = req
        .headers()
        .get("soapaction")
        .and_then(|v| v.to_str().ok())
        .map(|a| a.trim().trim_matches('"'));
    match action {
        None | Some("") => Ok(()),
        Some(a) if a == soap::SOAP_ACTION => Ok(()),
        Some(a) => Err(format!(
            "SOAPAction {a:?}: this endpoint answers {}",
            soap::SOAP_ACTION
        )),
    }
}

fn soap_response(status: u16, body: String) -> Resp {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, soap::CONTENT_TYPE)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

fn plain(status: StatusCode, text: &str) -> Resp {
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/plain; charset=UTF-8")
        .body(Full::new(Bytes::from(format!("{text}\n"))))
        .expect("a valid response")
}
