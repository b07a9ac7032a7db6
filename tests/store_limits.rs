//! A client with a valid certificate cannot hold the store hostage: connections whose request
//! headers do not arrive in time are closed, one identity's connections are capped, and the
//! store goes on serving everyone else. Real TLS on loopback.

mod net_support;
mod store_harness;

use std::sync::Arc;
use std::time::Duration;

use hyper::StatusCode;
use net_support::slow_header;
use store_harness::*;

const SLOW: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_header_connections_with_a_valid_certificate_are_closed_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let mut setup = Setup::for_org(STOCKHOLM);
    setup.extra_toml =
        "[limits]\nheader_timeout_secs = 2\nmax_connections_per_identity = 40\n".into();
    let store = StoreProc::start(dir.path(), STOCKHOLM, &setup);
    let authority = store
        .url
        .trim_start_matches("https://")
        .trim_end_matches('/');
    let (host, port) = authority.rsplit_once(':').unwrap();
    let addr = (host.to_string(), port.parse::<u16>().unwrap());
    let p = &pkis().main;
    let tls = Arc::new(
        invoice_hub::tls::client_config(
            &p.join("ca.pem"),
            Some((&p.join("hub.pem"), &p.join("hub.key"))),
            None,
        )
        .unwrap(),
    );

    let give_up = Duration::from_secs(30);
    let slow: Vec<_> = (0..SLOW)
        .map(|_| {
            tokio::spawn(slow_header(
                addr.clone(),
                tls.clone(),
                b"GET /v1/claims",
                give_up,
            ))
        })
        .collect();
    // While they hang, a reader is served.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let a = store
        .client(&format!("staff-{STOCKHOLM}"))
        .list("")
        .await
        .unwrap();
    assert_eq!(a.status, StatusCode::OK);

    let mut closed = Vec::new();
    for s in slow {
        closed.push(s.await.unwrap());
    }
    let open: Vec<_> = closed.iter().filter(|c| c.is_none()).collect();
    assert!(
        open.is_empty(),
        "{} of {SLOW} slow connections still open after {give_up:?}",
        open.len()
    );
    // The cap turned the excess away (at most 40 were let in); the header timeout closed the
    // rest, or they would still be open.
    let log = store.stderr();
    let capped = log
        .matches("this identity holds as many connections as it may")
        .count();
    assert!(capped >= SLOW - 40, "{capped} refused by the cap:\n{log}");
    // A kept-alive connection left idle after a request is closed by the same header timeout.
    let request = b"GET /v1/claims HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let idle = net_support::idle_after_one_request(addr.clone(), tls.clone(), request, give_up)
        .await
        .expect("an idle kept-alive connection is closed");
    assert!(
        idle < Duration::from_secs(15),
        "closed {idle:?} after the answer"
    );
    // And the store still serves.
    let a = store
        .client(&format!("staff-{STOCKHOLM}"))
        .list("")
        .await
        .unwrap();
    assert_eq!(a.status, StatusCode::OK);
}
