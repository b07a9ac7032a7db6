//! The store's HTTPS API over mutual TLS.
//!
//! | request | who | answer |
//! |---|---|---|
//! | `PUT /v1/claims/{id}` (XML body) | writers (the hub) | `201` receipt; same bytes again `200` + the same receipt; other bytes `409`; too big `413`; not a valid basis `422` + report |
//! | `GET /v1/claims?sender=&since=&until=&after=&limit=` | readers | metadata only, arrival order, paginated |
//! | `GET /v1/claims/{id}` | readers | the XML, after the read is in the access log |
//! | `GET /v1/access-log?actor=&basis=&after=&limit=` | reviewers | access log entries |
//! | `GET /v1/access-log/verify` | reviewers | the log recomputed and checked, with a signed tree head |
//!
//! A client without a certificate, with one of another CA or an expired one never gets here:
//! the TLS handshake refuses it. Everyone else gets `403` for what they may not do.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::SecondsFormat;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest as _, Sha256};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::audit::Query;
use crate::pki::Identity;
use crate::validate::xsd::Schema;
use crate::validate::{Finding, RuleContext, Validator};

use super::access::AccessLog;
use super::authz::{Action, Authorizer};
use super::crypto::BodyKey;
use super::storage::{ClaimMeta, ListQuery, PutOutcome, Storage};
use super::{StoreConfig, StoreError};

/// A client has this long to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Default and largest page of `GET /v1/claims` and `GET /v1/access-log`.
const DEFAULT_PAGE: usize = 100;
const MAX_PAGE: usize = 1000;

/// Rule id of the store's own checks on a delivery beyond the validator's.
pub const RULE_STORE: &str = "STORE";

/// Everything a request needs: the database, the keys, the access log, the permissions.
pub struct Store {
    cfg: StoreConfig,
    storage: Storage,
    body_key: BodyKey,
    access: AccessLog,
    authz: Authorizer,
    schema: Arc<Schema>,
}

impl Store {
    /// Opens the data directory with the keys of `keys_dir` (which must exist: see
    /// [`super::init_keys`]).
    pub fn open(cfg: StoreConfig) -> Result<Store, StoreError> {
        let body_key = BodyKey::load(&cfg.keys_dir.join(super::BODY_KEY_FILE))?;
        std::fs::create_dir_all(&cfg.data_dir).map_err(|e| StoreError::io(&cfg.data_dir, e))?;
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&cfg.data_dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| StoreError::io(&cfg.data_dir, e))?;
        }
        let storage =
            Storage::open(&cfg.data_dir.join("claims"))?.with_group_commit(cfg.group_commit);
        let access = AccessLog::open(&cfg.data_dir, &cfg.keys_dir, &cfg.org)?;
        let schema = Arc::new(Schema::embedded()?);
        Ok(Store {
            authz: Authorizer::new(&cfg.org, cfg.access.clone()),
            cfg,
            storage,
            body_key,
            access,
            schema,
        })
    }

    pub fn config(&self) -> &StoreConfig {
        &self.cfg
    }

    /// Flushes the database and closes the access log with a signed head.
    pub fn close(self) -> Result<(), StoreError> {
        self.storage.flush_blocking()?;
        self.access.close()
    }
}

/// A bound store, ready to serve.
pub struct Server {
    listener: TcpListener,
    acceptor: TlsAcceptor,
    store: Arc<Store>,
}

impl Server {
    /// Opens the store and binds its address (port 0 picks a free one: see [`local_addr`]).
    ///
    /// [`local_addr`]: Server::local_addr
    pub async fn bind(cfg: StoreConfig) -> Result<Server, StoreError> {
        let tls = crate::tls::server_config(&cfg.tls.ca, &cfg.tls.cert, &cfg.tls.key)?;
        let listen = cfg.listen;
        let store = tokio::task::spawn_blocking(move || Store::open(cfg))
            .await
            .map_err(StoreError::task("opening the store"))??;
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|e| StoreError::Listen {
                addr: listen,
                source: e,
            })?;
        Ok(Server {
            listener,
            acceptor: TlsAcceptor::from(Arc::new(tls)),
            store: Arc::new(store),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until `shutdown` completes, then stops accepting, lets the requests in progress
    /// finish (idle connections close at once; [`SHUTDOWN_GRACE`] at most), flushes and closes
    /// the store.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), StoreError> {
        let Server {
            listener,
            acceptor,
            store,
        } = self;
        let (stopping, stop) = tokio::sync::watch::channel(false);
        let mut conns = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => {
                    let (tcp, peer) = match accepted {
                        Ok(a) => a,
                        Err(e) => {
                            tracing::warn!("accept failed: {e}");
                            continue;
                        }
                    };
                    let _ = tcp.set_nodelay(true);
                    conns.spawn(connection(acceptor.clone(), store.clone(), tcp, peer, stop.clone()));
                }
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        drop(listener);
        let _ = stopping.send(true);
        let drain = async { while conns.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
            tracing::warn!(
                "requests still running {} s after shutdown began: their connections are cut",
                SHUTDOWN_GRACE.as_secs()
            );
            conns.abort_all();
            while conns.join_next().await.is_some() {}
        }
        let store = last_handle(store).await?;
        tokio::task::spawn_blocking(move || store.close())
            .await
            .map_err(StoreError::task("closing the store"))?
    }
}

/// How long a shutdown waits for the requests in progress, and then for the blocking work they
/// started (a delivery being validated and stored), before it gives up closing cleanly.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The store once no request holds it any more: a cut connection does not stop the blocking
/// task it started, which finishes its write and then lets go.
async fn last_handle(mut store: Arc<Store>) -> Result<Store, StoreError> {
    let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
    loop {
        match Arc::try_unwrap(store) {
            Ok(s) => return Ok(s),
            Err(_) if tokio::time::Instant::now() >= deadline => {
                return Err(StoreError::InUseAtShutdown {
                    secs: 2 * SHUTDOWN_GRACE.as_secs(),
                })
            }
            Err(still) => store = still,
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One client connection: handshake (the client certificate is verified here), then HTTP.
async fn connection(
    acceptor: TlsAcceptor,
    store: Arc<Store>,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::info!(%peer, "TLS handshake refused: {e}");
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let who = match tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| Identity::from_der(c))
    {
        Some(Ok(id)) => Arc::new(id),
        Some(Err(e)) => {
            tracing::info!(%peer, "client certificate has no usable subject: {e}");
            return;
        }
        None => {
            tracing::info!(%peer, "no client certificate");
            return;
        }
    };
    let svc = service_fn(move |req| {
        let store = store.clone();
        let who = who.clone();
        async move { Ok::<_, Infallible>(handle(&store, &who, req).await) }
    });
    let http = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    let conn = http.serve_connection(TokioIo::new(tls), svc);
    tokio::pin!(conn);
    // (The guard `wait_for` returns is not `Send`: drop it inside.)
    let stopping = async move {
        let _ = stop.wait_for(|stopping| *stopping).await.map(|_| ());
    };
    let ended = tokio::select! {
        ended = conn.as_mut() => ended,
        () = stopping => {
            // The request in progress finishes and is answered; then the connection closes.
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = ended {
        tracing::debug!(%peer, "connection ended: {e}");
    }
}

type Resp = Response<Full<Bytes>>;

fn json_response(status: StatusCode, body: &impl Serialize) -> Resp {
    let bytes = serde_json::to_vec_pretty(body).expect("response bodies serialise");
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .expect("a valid response")
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Resp {
    json_response(status, &json!({ "error": message.to_string() }))
}

fn internal(e: StoreError) -> Resp {
    tracing::error!("{e}");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error; see the store's log",
    )
}

enum Route<'a> {
    PutClaim(&'a str),
    GetClaim(&'a str),
    ListClaims,
    AccessLog,
    VerifyAccessLog,
    BadId,
    NotFound,
    MethodNotAllowed,
}

fn route<'a>(method: &Method, path: &'a str) -> Route<'a> {
    let get = method == Method::GET || method == Method::HEAD;
    match path {
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
        _ => match path.strip_prefix("/v1/claims/") {
            Some(id) if !crate::claim::basis_id_ok(id) => Route::BadId,
            Some(id) if method == Method::PUT => Route::PutClaim(id),
            Some(id) if get => Route::GetClaim(id),
            Some(_) => Route::MethodNotAllowed,
            None => Route::NotFound,
        },
    }
}

async fn handle(store: &Arc<Store>, who: &Identity, req: Request<Incoming>) -> Resp {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let params = parse_query(req.uri().query().unwrap_or(""));
    let need = |action| store.authz.check(who, action);
    let resp = match route(&method, &path) {
        Route::PutClaim(id) => match need(Action::Write) {
            Ok(()) => put_claim(store, id, req).await,
            Err(d) => {
                // Read (and drop) what the client is still sending, so it gets the 403 rather
                // than a reset connection.
                let max = store.cfg.max_body_bytes;
                let drained = read_body(req.into_body(), max, drain_cap(max)).await;
                let mut r = error(StatusCode::FORBIDDEN, d);
                if matches!(drained, Err(BodyError::TooBig { drained: false })) {
                    r.headers_mut().insert(
                        hyper::header::CONNECTION,
                        "close".parse().expect("a header value"),
                    );
                }
                r
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
        Route::BadId => error(
            StatusCode::BAD_REQUEST,
            "a basis id is 1 to 64 letters, digits, '-', '_' or '.'",
        ),
        Route::NotFound => error(StatusCode::NOT_FOUND, "no such resource"),
        Route::MethodNotAllowed => error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed"),
    };
    // Names and ids only: never bodies, patient data or certificates.
    tracing::info!(who = %who.cn, %method, %path, status = resp.status().as_u16(), "request");
    resp
}

async fn put_claim(store: &Arc<Store>, id: &str, req: Request<Incoming>) -> Resp {
    let max = store.cfg.max_body_bytes;
    let too_big = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than this store accepts ({max} bytes)"),
        )
    };
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let cap = drain_cap(max);
    if declared.is_some_and(|n| n > cap as u64) {
        // Far too big to read and throw away: answer now and close the connection.
        let mut r = too_big();
        r.headers_mut().insert(
            hyper::header::CONNECTION,
            "close".parse().expect("a header value"),
        );
        return r;
    }
    let body = match read_body(req.into_body(), max, cap).await {
        Ok(b) => b,
        Err(BodyError::TooBig { drained }) => {
            let mut r = too_big();
            if !drained {
                r.headers_mut().insert(
                    hyper::header::CONNECTION,
                    "close".parse().expect("a header value"),
                );
            }
            return r;
        }
        Err(BodyError::Read(e)) => {
            return error(StatusCode::BAD_REQUEST, format!("reading the body: {e}"))
        }
    };
    let sha256 = hex::encode(Sha256::digest(&body));

    // Already here? Answer from what is stored, without validating again.
    match store.storage.meta(id) {
        Ok(Some(old)) if old.sha256 == sha256 => {
            return json_response(StatusCode::OK, &old.receipt())
        }
        Ok(Some(old)) => return conflict(&old),
        Ok(None) => {}
        Err(e) => return internal(e),
    }

    let s = store.clone();
    let id_owned = id.to_string();
    let outcome = tokio::task::spawn_blocking(move || accept(&s, &id_owned, &body, sha256)).await;
    match outcome {
        // `accept` flushed it: durable before the receipt goes out.
        Ok(Ok(Accepted::Stored(PutOutcome::Created(meta)))) => {
            json_response(StatusCode::CREATED, &meta.receipt())
        }
        Ok(Ok(Accepted::Stored(PutOutcome::Same(meta)))) => {
            json_response(StatusCode::OK, &meta.receipt())
        }
        Ok(Ok(Accepted::Stored(PutOutcome::Conflict(old)))) => conflict(&old),
        Ok(Ok(Accepted::Invalid { id, findings })) => json_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!({
                "error": "not a valid invoice basis",
                "id": id,
                "findings": findings,
            }),
        ),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(StoreError::task("validating a delivery")(e)),
    }
}

/// Up to how many bytes of an oversized body are read and discarded before answering `413`, so
/// the client, still sending, gets the answer instead of a reset connection.
fn drain_cap(max: usize) -> usize {
    max.saturating_mul(4).max(16 * 1024 * 1024)
}

enum BodyError {
    /// Over the limit; `drained` when the whole body was read (the connection stays usable).
    TooBig {
        drained: bool,
    },
    Read(hyper::Error),
}

/// Reads a body of at most `max` bytes; a bigger one is read to its end (up to `cap`) and
/// discarded.
async fn read_body(mut body: Incoming, max: usize, cap: usize) -> Result<Bytes, BodyError> {
    let mut buf = bytes::BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(BodyError::Read)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total > cap {
            return Err(BodyError::TooBig { drained: false });
        }
        if total > max {
            buf = bytes::BytesMut::new();
            continue;
        }
        buf.extend_from_slice(&data);
    }
    if total > max {
        return Err(BodyError::TooBig { drained: true });
    }
    Ok(buf.freeze())
}

fn conflict(old: &ClaimMeta) -> Resp {
    json_response(
        StatusCode::CONFLICT,
        &json!({
            "error": format!(
                "basis {} is already stored with other content (sha256 {}); a basis id is never reused",
                old.id, old.sha256
            ),
            "stored": old.receipt(),
        }),
    )
}

enum Accepted {
    Stored(PutOutcome),
    Invalid {
        id: Option<String>,
        findings: Vec<Finding>,
    },
}

/// Validates, seals and stores one delivery (blocking: libxml2, AES, the database).
fn accept(store: &Store, id: &str, body: &[u8], sha256: String) -> Result<Accepted, StoreError> {
    let validator = Validator::with_schema(
        store.schema.clone(),
        // The same day as the hub's: the Swedish date (crate::clock).
        RuleContext::new(crate::clock::today()),
    );
    let report = validator.validate(body);
    let mut findings = report.findings;
    if report.id.as_deref().is_some_and(|doc_id| doc_id != id) {
        findings.push(Finding::new(
            RULE_STORE,
            "/claimSpecification/id",
            format!(
                "the basis id in the document is {}, but it was delivered as {id}",
                report.id.as_deref().unwrap_or("")
            ),
        ));
    }
    let claim = match report.claim {
        Some(c) if findings.is_empty() => c,
        _ => {
            if findings.is_empty() {
                findings.push(Finding::new(
                    RULE_STORE,
                    "/",
                    "the document could not be read",
                ));
            }
            return Ok(Accepted::Invalid {
                id: report.id,
                findings,
            });
        }
    };
    let receiver = claim.customer_party.organisation_number().unwrap_or("");
    if receiver != store.cfg.org {
        return Ok(Accepted::Invalid {
            id: report.id,
            findings: vec![Finding::new(
                RULE_STORE,
                "/claimSpecification/customerParty/identification",
                format!(
                    "the basis is addressed to {receiver:?}; this is the store of {}",
                    store.cfg.org
                ),
            )],
        });
    }
    let meta = ClaimMeta {
        id: id.to_string(),
        seq: 0,
        sha256,
        received_at: crate::clock::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        sender: claim
            .supplier_party
            .organisation_number()
            .unwrap_or("")
            .to_string(),
        size: body.len() as u64,
        patients: store.access.patient_hashes(&claim),
    };
    let sealed = store.body_key.seal(id, body);
    let outcome = store.storage.put(meta, &sealed)?;
    if matches!(outcome, PutOutcome::Created(_)) {
        // A blocking flush on this blocking thread. Deliveries that commit while a flush runs
        // share the next one (group commit): one fsync for all of them, not one each.
        store.storage.commit_blocking()?;
    }
    Ok(Accepted::Stored(outcome))
}

async fn get_claim(store: &Arc<Store>, who: &Identity, id: &str) -> Resp {
    let s = store.clone();
    let who = who.clone();
    let id = id.to_string();
    let r = tokio::task::spawn_blocking(move || -> Result<Option<Vec<u8>>, StoreError> {
        let Some((meta, sealed)) = s.storage.get(&id)? else {
            return Ok(None);
        };
        let plain = s
            .body_key
            .open(&id, &sealed)
            .ok_or_else(|| StoreError::Undecryptable { id: id.clone() })?;
        // Logged (durably) before anything is disclosed.
        s.access.record_read(&who, &meta, "get")?;
        Ok(Some(plain))
    })
    .await;
    match r {
        Ok(Ok(Some(xml))) => Response::builder()
            .status(StatusCode::OK)
            .header(CONTENT_TYPE, "application/xml")
            .body(Full::new(Bytes::from(xml)))
            .expect("a valid response"),
        Ok(Ok(None)) => error(StatusCode::NOT_FOUND, "no basis with this id"),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(StoreError::task("reading a basis")(e)),
    }
}

/// The metadata a reader sees in a list: nothing from inside the basis.
#[derive(Serialize)]
struct Listed<'a> {
    id: &'a str,
    seq: u64,
    sender: &'a str,
    received_at: &'a str,
    sha256: &'a str,
    size: u64,
}

fn page_limit(params: &[(String, String)]) -> Result<usize, String> {
    match param(params, "limit") {
        None => Ok(DEFAULT_PAGE),
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
            _ => Err(format!("limit must be 1 to {MAX_PAGE}")),
        },
    }
}

fn after(params: &[(String, String)]) -> Result<Option<u64>, String> {
    match param(params, "after") {
        None => Ok(None),
        Some(v) => v
            .parse::<u64>()
            .map(Some)
            .map_err(|_| "after must be a sequence number".to_string()),
    }
}

fn list_claims(store: &Store, params: &[(String, String)]) -> Resp {
    for (k, _) in params {
        if !["sender", "since", "until", "after", "limit"].contains(&k.as_str()) {
            return error(
                StatusCode::BAD_REQUEST,
                format!("unknown parameter {k:?} (sender, since, until, after, limit)"),
            );
        }
    }
    let limit = match page_limit(params) {
        Ok(l) => l,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let after = match after(params) {
        Ok(a) => a.unwrap_or(0),
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let q = ListQuery {
        sender: param(params, "sender").map(str::to_string),
        since: param(params, "since").map(str::to_string),
        until: param(params, "until").map(str::to_string),
        after,
        limit,
    };
    match store.storage.list(&q) {
        Ok(page) => {
            let items: Vec<Listed> = page
                .items
                .iter()
                .map(|m| Listed {
                    id: &m.id,
                    seq: m.seq,
                    sender: &m.sender,
                    received_at: &m.received_at,
                    sha256: &m.sha256,
                    size: m.size,
                })
                .collect();
            json_response(
                StatusCode::OK,
                &json!({ "items": items, "next_after": page.next_after }),
            )
        }
        Err(e) => internal(e),
    }
}

fn access_log(store: &Store, params: &[(String, String)]) -> Resp {
    for (k, _) in params {
        if !["actor", "basis", "after", "limit"].contains(&k.as_str()) {
            return error(
                StatusCode::BAD_REQUEST,
                format!("unknown parameter {k:?} (actor, basis, after, limit)"),
            );
        }
    }
    let limit = match page_limit(params) {
        Ok(l) => l,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let after = match after(params) {
        Ok(a) => a,
        Err(m) => return error(StatusCode::BAD_REQUEST, m),
    };
    let q = Query {
        actor: param(params, "actor").map(str::to_string),
        basis: param(params, "basis").map(str::to_string),
        after,
        limit,
        ..Default::default()
    };
    match store.access.query(&q) {
        Ok(r) => json_response(
            StatusCode::OK,
            &json!({
                "size": store.access.size(),
                "entries": r.entries,
                "next_after": r.next_after,
            }),
        ),
        Err(e) => internal(e),
    }
}

async fn verify_access_log(store: &Arc<Store>) -> Resp {
    let s = store.clone();
    let r = tokio::task::spawn_blocking(move || -> Result<_, StoreError> {
        let head = s.access.sign_head()?;
        let report = s.access.verify()?;
        Ok((report, head))
    })
    .await;
    match r {
        Ok(Ok((report, head))) => json_response(
            StatusCode::OK,
            &json!({ "ok": report.ok(), "report": report, "head": head }),
        ),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(StoreError::task("verifying the access log")(e)),
    }
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// `a=1&b=x%3Ay` → pairs, percent-decoded (`+` is a space).
fn parse_query(q: &str) -> Vec<(String, String)> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                if let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2)) {
                    out.push((h * 16 + l) as u8);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode() {
        let q =
            parse_query("since=2026-11-23T10%3A00%3A00Z&sender=2321000255&x=a+b&bad=%zz&end=%4");
        assert_eq!(param(&q, "since"), Some("2026-11-23T10:00:00Z"));
        assert_eq!(param(&q, "sender"), Some("2321000255"));
        assert_eq!(param(&q, "x"), Some("a b"));
        assert_eq!(param(&q, "bad"), Some("%zz"));
        assert_eq!(param(&q, "end"), Some("%4"));
    }

    #[test]
    fn routes() {
        assert!(matches!(
            route(&Method::PUT, "/v1/claims/ZVF1"),
            Route::PutClaim("ZVF1")
        ));
        assert!(matches!(
            route(&Method::GET, "/v1/claims/ZVF1"),
            Route::GetClaim("ZVF1")
        ));
        assert!(matches!(
            route(&Method::GET, "/v1/claims"),
            Route::ListClaims
        ));
        assert!(matches!(
            route(&Method::PUT, "/v1/claims"),
            Route::MethodNotAllowed
        ));
        assert!(matches!(
            route(&Method::GET, "/v1/claims/../x"),
            Route::BadId
        ));
        assert!(matches!(
            route(&Method::DELETE, "/v1/claims/ZVF1"),
            Route::MethodNotAllowed
        ));
        assert!(matches!(route(&Method::GET, "/"), Route::NotFound));
    }
}
