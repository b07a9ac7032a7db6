//! One client connection: the TLS handshake (where the client certificate is verified) within
//! its time limit, the certificate's identity, then HTTP until the client or a shutdown ends it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
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
