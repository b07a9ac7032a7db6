//! One client connection: the TLS handshake (where the client certificate is verified) within
//! its time limit, the certificate's identity, a connection slot of that identity, then
//! HTTP/1.1 until the client, a time limit or a shutdown ends it.
//!
//! A client cannot hold a server hostage, not even with a valid certificate: request headers
//! must arrive within `header_timeout` (hyper closes the connection otherwise), and one identity
//! has at most `max_connections_per_identity` connections; the next is closed at once. HTTP/2
//! is never spoken: the TLS layer offers only `http/1.1` by ALPN, and this is an HTTP/1.1
//! server.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio_rustls::TlsAcceptor;

use super::Limits;
use crate::pki::Identity;

/// A client has this long to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a server answers one request with, knowing who asks.
pub(crate) trait Handler: Clone + Send + Sync + 'static {
    fn handle(
        &self,
        who: Arc<Identity>,
        req: Request<Incoming>,
    ) -> impl Future<Output = Response<Full<Bytes>>> + Send;
}

/// Open connections per identity.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    held: Mutex<HashMap<String, usize>>,
}

/// One client connection: handshake (the client certificate is verified here), then HTTP.
pub(crate) async fn serve<H: Handler>(
    acceptor: TlsAcceptor,
    (limits, slots): (Limits, Arc<Slots>),
    handler: H,
    (tcp, peer): (tokio::net::TcpStream, SocketAddr),
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
    let max = limits.max_connections_per_identity;
    let Some(_slot) = Slot::take(&slots, &who.id(), max) else {
        tracing::warn!(%peer, who = %who.id(), max, "connection refused: this identity holds as many connections as it may");
        return;
    };
    let svc = service_fn(move |req| {
        let (handler, who) = (handler.clone(), who.clone());
        async move { Ok::<_, Infallible>(handler.handle(who, req).await) }
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
    slots: Arc<Slots>,
    id: String,
}

impl Slot {
    fn take(slots: &Arc<Slots>, id: &str, max: usize) -> Option<Slot> {
        let mut held = slots.held.lock().unwrap_or_else(|p| p.into_inner());
        let n = held.entry(id.to_string()).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Slot {
            slots: slots.clone(),
            id: id.to_string(),
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut held = self.slots.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = held.get_mut(&self.id) {
            *n -= 1;
            if *n == 0 {
                held.remove(&self.id);
            }
        }
    }
}
