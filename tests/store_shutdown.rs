//! A store that is told to stop (SIGTERM) lets the delivery in progress finish and answers it
//! before it exits, instead of cutting the connection under it: the hub would otherwise retry a
//! basis the store may already have written.

mod store_harness;

use std::sync::Arc;

use hyper::StatusCode;
use rustls::pki_types::ServerName;
use store_harness::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;

/// Reads from `tls` until `needle` has arrived; returns all that was read.
async fn read_until(tls: &mut (impl AsyncReadExt + Unpin), needle: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(needle) {
        let n = tls.read(&mut buf).await.expect("read from the store");
        assert!(
            n > 0,
            "the store closed the connection before {needle:?}; got {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_in_progress_at_sigterm_is_finished_and_answered() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = StoreProc::start(dir.path(), STOCKHOLM, &Setup::for_org(STOCKHOLM));
    let (id, xml) = basis(1);

    // The hub's certificate, over a raw TLS stream, so the request can stop half-way.
    let p = &pkis().main;
    let tls = invoice_hub::tls::client_config(
        &p.join("ca.pem"),
        Some((&p.join("hub.pem"), &p.join("hub.key"))),
        None,
    )
    .unwrap();
    let authority = store
        .url
        .trim_start_matches("https://")
        .trim_end_matches('/');
    let (host, port) = authority.rsplit_once(':').unwrap();
    let tcp = tokio::net::TcpStream::connect((host, port.parse::<u16>().unwrap()))
        .await
        .unwrap();
    let server = ServerName::try_from(host.to_string()).unwrap();
    let mut tls = TlsConnector::from(Arc::new(tls))
        .connect(server, tcp)
        .await
        .unwrap();

    // `Expect: 100-continue`: the "100 Continue" says the store's handler is reading the body,
    // so the delivery is in progress when the signal comes.
    let head = format!(
        "PUT /v1/claims/{id} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/xml\r\n\
         Content-Length: {}\r\nExpect: 100-continue\r\n\r\n",
        xml.len()
    );
    tls.write_all(head.as_bytes()).await.unwrap();
    read_until(&mut tls, "100 Continue").await;
    store.signal_stop();

    tls.write_all(&xml).await.unwrap();
    let answer = read_until(&mut tls, "\"sha256\"").await;
    assert!(answer.contains("201 Created"), "{answer}");
    store.wait_stopped();

    // Durable: the store, started again, has it, with the same content.
    let store = store.restart();
    let again = store
        .client("hub")
        .put_claim(&id, xml.into())
        .await
        .unwrap();
    assert_eq!(again.status, StatusCode::OK, "{}", again.text());
}
