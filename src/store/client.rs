//! An HTTPS client for a store, over tokio-rustls with a client certificate: what
//! `invoice-hub fetch` uses, and what the hub, the tests and the benchmark deliver with.
//!
//! One client keeps one connection alive (HTTP/1.1) and reconnects when the store closed it.
//! A store that refuses the certificate (another CA, expired, none) surfaces as an error naming
//! the TLS alert, not as an HTTP status: in TLS 1.3 the server's verdict on the client
//! certificate arrives with the first read, so it is reported by the first request.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::header::{CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::StoreError;

/// What went wrong talking to a store. Never holds key material or a body.
#[derive(Debug, thiserror::Error)]
pub enum StoreClientError {
    #[error("store URL {url:?}: {message}")]
    Url { url: String, message: String },
    #[error("connecting to {addr}: {message}")]
    Connect { addr: String, message: String },
    #[error("TLS with {addr}: {message}")]
    Tls { addr: String, message: String },
    #[error("HTTP with {addr}: {message}")]
    Http { addr: String, message: String },
    #[error(transparent)]
    Setup(#[from] StoreError),
}

impl StoreClientError {
    /// The whole cause chain as one line (hyper hides the TLS alert in its source).
    fn chain(e: &(dyn std::error::Error + 'static)) -> String {
        let mut s = e.to_string();
        let mut cur = e.source();
        while let Some(c) = cur {
            let t = c.to_string();
            if !s.contains(&t) {
                s.push_str(": ");
                s.push_str(&t);
            }
            cur = c.source();
        }
        s
    }
}

/// A store's answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub content_type: Option<String>,
    pub body: Bytes,
}

impl Answer {
    /// The body as text (JSON answers, error messages).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// A store that is busy or failing (408, 429, 5xx): the same request may succeed later. Any
    /// other refusal is for good. The one rule for every client that delivers to a store (the
    /// hub's store sink, `receive` into a region's own store).
    pub fn is_unavailable(&self) -> bool {
        matches!(self.status.as_u16(), 408 | 429 | 500..=599)
    }
}

/// A client of one store.
pub struct StoreClient {
    host: String,
    port: u16,
    server_name: ServerName<'static>,
    connector: TlsConnector,
    sender: Option<http1::SendRequest<Full<Bytes>>>,
    /// The server certificate this client talks to only (checked after every handshake).
    expect: Option<crate::pki::Pin>,
    /// The task driving the connection; ends with the connection's error, if any (where a TLS
    /// alert sent after the handshake, e.g. a refused client certificate, ends up).
    conn: Option<tokio::task::JoinHandle<Option<String>>>,
}

impl StoreClient {
    /// A client for `url` (`https://host[:port]`) with a TLS configuration.
    pub fn new(url: &str, tls: Arc<ClientConfig>) -> Result<StoreClient, StoreClientError> {
        let bad = |message: &str| StoreClientError::Url {
            url: url.to_string(),
            message: message.to_string(),
        };
        let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
        if uri.scheme_str() != Some("https") {
            return Err(bad("a store is reached over https://"));
        }
        if uri.path() != "/" && !uri.path().is_empty() {
            return Err(bad("give only https://host:port (no path)"));
        }
        let host = uri.host().ok_or_else(|| bad("no host"))?.to_string();
        let port = uri.port_u16().unwrap_or(443);
        let server_name = ServerName::try_from(host.trim_matches(['[', ']']).to_string())
            .map_err(|_| bad("the host is not a valid DNS name or IP address"))?;
        Ok(StoreClient {
            host,
            port,
            server_name,
            connector: TlsConnector::from(tls),
            sender: None,
            conn: None,
            expect: None,
        })
    }

    /// A client presenting `cert`/`key`, trusting stores certified by `ca`.
    pub fn from_files(
        url: &str,
        ca: &std::path::Path,
        cert: &std::path::Path,
        key: &std::path::Path,
    ) -> Result<StoreClient, StoreClientError> {
        let tls =
            crate::tls::client_config(ca, Some((cert, key)), None).map_err(StoreError::from)?;
        StoreClient::new(url, Arc::new(tls))
    }

    /// Talks only to a server whose certificate is `pin` (none: any the CA vouches for with the
    /// URL's host name): the check is made after each handshake, before a request is sent.
    pub fn expecting(mut self, pin: Option<crate::pki::Pin>) -> StoreClient {
        self.expect = pin;
        self
    }

    /// Whether the server's certificate is the expected one.
    fn check_server(
        &self,
        tls: &tokio_rustls::client::TlsStream<TcpStream>,
    ) -> Result<(), StoreClientError> {
        let Some(pin) = &self.expect else {
            return Ok(());
        };
        let who = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| crate::pki::Identity::from_der(c));
        match who {
            Some(Ok(who)) if pin.matches(&who) => Ok(()),
            Some(Ok(who)) => Err(StoreClientError::Tls {
                addr: self.addr(),
                message: format!(
                    "the server's certificate is {} (CN {}), not the configured {pin}",
                    who.id(),
                    who.cn
                ),
            }),
            _ => Err(StoreClientError::Tls {
                addr: self.addr(),
                message: "the server's certificate cannot be read".into(),
            }),
        }
    }

    fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    async fn connect(&mut self) -> Result<(), StoreClientError> {
        let addr = self.addr();
        let tcp = TcpStream::connect((self.host.trim_matches(['[', ']']), self.port))
            .await
            .map_err(|e| StoreClientError::Connect {
                addr: addr.clone(),
                message: e.to_string(),
            })?;
        let _ = tcp.set_nodelay(true);
        let tls = self
            .connector
            .connect(self.server_name.clone(), tcp)
            .await
            .map_err(|e| StoreClientError::Tls {
                addr: addr.clone(),
                message: StoreClientError::chain(&e),
            })?;
        self.check_server(&tls)?;
        let (sender, conn) =
            http1::handshake(TokioIo::new(tls))
                .await
                .map_err(|e| StoreClientError::Http {
                    addr: addr.clone(),
                    message: StoreClientError::chain(&e),
                })?;
        self.conn = Some(tokio::spawn(async move {
            conn.await.err().map(|e| StoreClientError::chain(&e))
        }));
        self.sender = Some(sender);
        Ok(())
    }

    /// Sends one request on the kept-alive connection (connecting first if needed).
    pub async fn request(
        &mut self,
        method: Method,
        path_and_query: &str,
        body: Option<(Bytes, &str)>,
    ) -> Result<Answer, StoreClientError> {
        self.request_with(method, path_and_query, body, &[]).await
    }

    /// [`StoreClient::request`] with more headers (a SOAP call's `SOAPAction`).
    pub async fn request_with(
        &mut self,
        method: Method,
        path_and_query: &str,
        body: Option<(Bytes, &str)>,
        headers: &[(&str, &str)],
    ) -> Result<Answer, StoreClientError> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            self.connect().await?;
        }
        let addr = self.addr();
        let mut req = Request::builder()
            .method(method)
            .uri(path_and_query)
            .header(HOST, &addr);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let body = match body {
            Some((b, ct)) => {
                req = req.header(CONTENT_TYPE, ct);
                b
            }
            None => Bytes::new(),
        };
        let req = req
            .body(Full::new(body))
            .map_err(|e| StoreClientError::Http {
                addr: addr.clone(),
                message: e.to_string(),
            })?;
        let sender = self.sender.as_mut().expect("connected above");
        let sent = match sender.ready().await {
            Ok(()) => sender.send_request(req).await,
            Err(e) => Err(e),
        };
        let resp = match sent {
            Ok(r) => r,
            Err(e) => return Err(self.failed(e).await),
        };
        let status = resp.status();
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = match resp.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => return Err(self.failed(e).await),
        };
        Ok(Answer {
            status,
            content_type,
            body,
        })
    }

    /// The error of a failed request, with the connection's own error (a TLS alert) when the
    /// request only saw the channel close. Drops the connection.
    async fn failed(&mut self, e: hyper::Error) -> StoreClientError {
        self.sender = None;
        let mut message = StoreClientError::chain(&e);
        if let Some(conn) = self.conn.take() {
            if let Ok(Ok(Some(why))) =
                tokio::time::timeout(std::time::Duration::from_secs(2), conn).await
            {
                if !message.contains(&why) {
                    message = format!("{why} ({message})");
                }
            }
        }
        StoreClientError::Http {
            addr: self.addr(),
            message,
        }
    }

    /// `PUT /v1/claims/{id}`.
    pub async fn put_claim(&mut self, id: &str, xml: Bytes) -> Result<Answer, StoreClientError> {
        self.request(
            Method::PUT,
            &format!("/v1/claims/{id}"),
            Some((xml, "application/xml")),
        )
        .await
    }

    /// `GET /v1/claims/{id}`.
    pub async fn get_claim(&mut self, id: &str) -> Result<Answer, StoreClientError> {
        self.request(Method::GET, &format!("/v1/claims/{id}"), None)
            .await
    }

    /// `GET /v1/claims?QUERY`.
    pub async fn list(&mut self, query: &str) -> Result<Answer, StoreClientError> {
        let path = if query.is_empty() {
            "/v1/claims".to_string()
        } else {
            format!("/v1/claims?{query}")
        };
        self.request(Method::GET, &path, None).await
    }
}
