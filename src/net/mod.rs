//! The HTTPS edge every server of the exchange stands behind — the store and the SOAP gateway:
//! a TCP listener, mutual TLS (the client certificate verified in the handshake, [`crate::tls`]),
//! one [`Identity`] per connection, limits no client can get around, and a shutdown that lets
//! the requests in progress finish.
//!
//! - [`Limits`] — `[limits]` of a server's configuration; [`ServerTls`] — its `[tls]`;
//! - `connection` — one client connection, its identity and its slot;
//! - [`body`] — reading a request body within a size and a time limit;
//! - [`respond`] — JSON answers and errors, an answer that closes its connection.
//!
//! What a request may do is the server's business ([`Handler`]); this module only says who asks.
//!
//! [`Identity`]: crate::pki::Identity

pub(crate) mod body;
mod connection;
mod limits;
pub(crate) mod respond;
mod tls_files;

pub(crate) use connection::{Handler, Slots};
pub use limits::Limits;
pub(crate) use limits::RawLimits;
pub(crate) use tls_files::RawServerTls;
pub use tls_files::ServerTls;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// Serves `listener` with `handler` until `shutdown` completes, then stops accepting and lets
/// the requests in progress finish (idle connections close at once) for `grace` at most; those
/// still running then are cut.
pub(crate) async fn serve<H: Handler>(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    limits: Limits,
    handler: H,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let slots = Arc::new(Slots::default());
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
                conns.spawn(connection::serve(
                    acceptor.clone(),
                    (limits, slots.clone()),
                    handler.clone(),
                    (tcp, peer),
                    stop.clone(),
                ));
            }
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
    drop(listener);
    let _ = stopping.send(true);
    let drain = async { while conns.join_next().await.is_some() {} };
    if tokio::time::timeout(grace, drain).await.is_err() {
        tracing::warn!(
            "requests still running {} s after shutdown began: their connections are cut",
            grace.as_secs()
        );
        conns.abort_all();
        while conns.join_next().await.is_some() {}
    }
}
