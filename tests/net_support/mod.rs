//! Clients that misbehave on purpose, for the tests of the servers' limits (the store, the
//! gateway).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A TLS connection to `addr` (server name `localhost`).
async fn connect(
    addr: &(String, u16),
    tls: Arc<rustls::ClientConfig>,
) -> Option<std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>> {
    let tcp = tokio::net::TcpStream::connect((addr.0.as_str(), addr.1))
        .await
        .ok()?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    Some(
        tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await,
    )
}

/// A TLS connection with a valid certificate (`tls`) that sends half a request head (`line`,
/// then one header never finished) and then nothing; returns how long the server took to close
/// it (or `None` if it had not after `give_up`).
pub(crate) async fn slow_header(
    addr: (String, u16),
    tls: Arc<rustls::ClientConfig>,
    line: &[u8],
    give_up: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    let mut s = match connect(&addr, tls).await? {
        Ok(s) => s,
        // Refused at once (the identity's cap): closed, in no time.
        Err(_) => return Some(started.elapsed()),
    };
    let head = [line, b" HTTP/1.1\r\nHost: localhost\r\nX-Slow: "].concat();
    if s.write_all(&head).await.is_err() {
        return Some(started.elapsed());
    }
    let _ = s.flush().await;
    closed_within(&mut s, started, give_up).await
}

/// Reads (and drops) whatever comes until the server closes; how long after `since` that was,
/// or `None` if it had not after `give_up`.
async fn closed_within(
    s: &mut tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    since: Instant,
    give_up: Duration,
) -> Option<Duration> {
    let mut buf = [0u8; 16 * 1024];
    let read = async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return since.elapsed(),
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(give_up, read).await.ok()
}

/// A TLS connection with a valid certificate that sends one whole request (`request`, a
/// complete HTTP/1.1 head without a body), reads what comes back, and then stays silent; returns
/// how long after the answer began the server closed it (or `None` if it had not after
/// `give_up`).
pub(crate) async fn idle_after_one_request(
    addr: (String, u16),
    tls: Arc<rustls::ClientConfig>,
    request: &[u8],
    give_up: Duration,
) -> Option<Duration> {
    let mut s = connect(&addr, tls).await?.ok()?;
    s.write_all(request).await.ok()?;
    s.flush().await.ok()?;
    let mut buf = [0u8; 16 * 1024];
    let first = s.read(&mut buf).await.ok()?;
    assert!(first > 0, "no answer to the request");
    closed_within(&mut s, Instant::now(), give_up).await
}
