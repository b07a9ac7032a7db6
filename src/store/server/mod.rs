//! The store's HTTPS API over mutual TLS.
//!
//! | request | who | answer |
//! |---|---|---|
//! | `PUT /v1/claims/{id}` (XML body) | writers (the hub) | `201` receipt; same bytes again `200` + the same receipt; other bytes `409`; too big `413`; not a valid basis `422` + report |
//! | `GET /v1/claims?sender=&since=&until=&after=&limit=` | readers | metadata only, arrival order, paginated |
//! | `GET /v1/claims/{id}` | readers | the XML, after the read is in the access log |
//! | `GET /v1/access-log?actor=&basis=&after=&limit=` | reviewers | access log entries |
//! | `GET /v1/access-log/verify` | reviewers | the log recomputed and checked, with a signed tree head |
//! | `GET /v1/witness/{log_id}` | any federation certificate | the head this store holds of a log it witnesses |
//! | `POST /ProcessClaimSpecification/1/rivtabp21` (SOAP 1.1) | writers (the hub's `rivta` sink) | the contract's answer: `OK`, `ERROR` + comment, or a Fault |
//! | `POST /v1/witness/{log_id}` | writers (the hub) | a new signed head + consistency proof: `200` kept, `409` refused (shrinks, forks, not proven) |
//!
//! A client without a certificate, with one of another CA or an expired one never gets here:
//! the TLS handshake refuses it. Everyone else gets `403` for what they may not do.
//!
//! The server in its concepts, one file each:
//!
//! - this file — the store a request works on ([`Store`]), the listener and shutdown (the
//!   connections themselves, their limits and the client's identity are [`crate::net`]'s);
//! - `routes` — which handler a method and path go to, and who may call it;
//! - `query` — the query string and paging parameters;
//! - `handlers` — one function per request kind;
//! - `witness` — the two witness requests;
//! - `intake` — the domain step of a delivery: validate, check the address, seal, store;
//! - `producer` — the same delivery as a call of the national contract (SOAP);
//! - `respond` — the answers' shapes (JSON, errors).

mod handlers;
mod intake;
mod pages;
mod producer;
mod query;
mod respond;
mod routes;
mod withheld;
mod witness;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::validate::xsd::Schema;

use super::access::AccessLog;
use super::authz::Authorizer;
use super::crypto::BodyKey;
use super::storage::Storage;
use super::{StoreConfig, StoreError};

/// Everything a request needs: the database, the keys, the access log, the permissions.
pub struct Store {
    cfg: StoreConfig,
    storage: Storage,
    body_key: BodyKey,
    access: AccessLog,
    authz: Authorizer,
    schema: Arc<Schema>,
    /// The heads of the logs this store witnesses.
    witness: Arc<crate::audit::witness::Witness>,
    /// The CRL, also checked on every request: a connection opened before a revocation ends
    /// with the next request, not when the client chooses to close it.
    crl: Option<Arc<crate::tls::CrlFile>>,
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
        let access = AccessLog::open(&cfg.data_dir, &cfg.keys_dir, &cfg.patient_key, &cfg.org)?;
        let schema = Arc::new(Schema::embedded()?);
        let witness = open_witness(&cfg)?;
        Ok(Store {
            witness: Arc::new(witness),
            authz: Authorizer::new(&cfg.org, cfg.access.clone()),
            cfg,
            storage,
            body_key,
            access,
            schema,
            crl: None,
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

/// The witness of the configured logs, its heads in `data_dir/witness`.
fn open_witness(cfg: &StoreConfig) -> Result<crate::audit::witness::Witness, StoreError> {
    let mut keys = std::collections::BTreeMap::new();
    for (id, path) in &cfg.witness {
        keys.insert(id.clone(), crate::audit::LogPublicKey::load(path)?);
    }
    crate::audit::witness::Witness::open(&cfg.data_dir.join("witness"), keys).map_err(|e| {
        StoreError::Config {
            path: e.path,
            message: e.why,
        }
    })
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
        let crl = match &cfg.tls.crl {
            Some(p) => Some(crate::tls::CrlFile::open(p, cfg.tls.crl_reload)?),
            None => None,
        };
        let tls =
            crate::tls::server_config(&cfg.tls.ca, &cfg.tls.cert, &cfg.tls.key, crl.as_ref())?;
        let listen = cfg.listen;
        let mut store = tokio::task::spawn_blocking(move || Store::open(cfg))
            .await
            .map_err(StoreError::task("opening the store"))??;
        store.crl = crl;
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
        let limits = store.cfg.limits;
        let handler = Requests(store.clone());
        crate::net::serve(
            listener,
            acceptor,
            limits,
            handler,
            shutdown,
            SHUTDOWN_GRACE,
        )
        .await;
        let store = last_handle(store).await?;
        tokio::task::spawn_blocking(move || store.close())
            .await
            .map_err(StoreError::task("closing the store"))?
    }
}

/// The store's answer to each request: [`routes::handle`].
#[derive(Clone)]
struct Requests(Arc<Store>);

impl crate::net::Handler for Requests {
    async fn handle(
        &self,
        who: Arc<crate::pki::Identity>,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> respond::Resp {
        routes::handle(&self.0, &who, req).await
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
