//! One client connection: the TLS handshake (where the client certificate is verified) within
//! its time limit, the certificate's identity, a connection slot of that identity, then
//! HTTP/1.1 until the client, a time limit or a shutdown ends it.
//!
//! A client cannot hold the store hostage, not even with a valid certificate: request headers
//! must arrive within `[limits] header_timeout_secs` (hyper closes the connection otherwise),
//! and one identity has at most `max_connections_per_identity` connections; the next is closed
//! at once. HTTP/2 is never spoken: the TLS layer offers only `http/1.1` by ALPN, and this is
//! an HTTP/1.1 server.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio_rustls::TlsAcceptor;

use crate::pki::Identity;

use super::routes::handle;
use super::Store;

/// A client has this long to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One client connection: handshake (the client certificate is verified here), then HTTP.
pub(super) async fn serve(
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
    let Some(_slot) = Slot::take(&store, &who.id()) else {
        tracing::warn!(%peer, who = %who.id(), max = store.cfg.limits.max_connections_per_identity, "connection refused: this identity holds as many connections as it may");
        return;
    };
    let limits = store.cfg.limits;
    let svc = service_fn(move |req| {
        let store = store.clone();
        let who = who.clone();
        async move { Ok::<_, Infallible>(handle(&store, &who, req).await) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .serve_connection(TokioIo::new(tls), svc);
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

/// One of an identity's connections, given back when the connection ends.
struct Slot {
    store: Arc<Store>,
    id: String,
}

impl Slot {
    fn take(store: &Arc<Store>, id: &str) -> Option<Slot> {
        let mut held = store.connections.lock().unwrap_or_else(|p| p.into_inner());
        let n = held.entry(id.to_string()).or_insert(0);
        if *n >= store.cfg.limits.max_connections_per_identity {
            return None;
        }
        *n += 1;
        Some(Slot {
            store: store.clone(),
            id: id.to_string(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self
            .store
            .connections
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(n) = held.get_mut(&self.id) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.id);
            }
        }
    }
}
