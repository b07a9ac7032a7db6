//! The JSON answers every server of the edge gives the same way: a body, or `{"error": …}`, and
//! an answer that closes its connection.

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::CONTENT_TYPE;
use hyper::{Response, StatusCode};

pub(crate) type Resp = Response<Full<Bytes>>;

pub(crate) fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Resp {
    let bytes = serde_json::to_vec_pretty(body).expect("response bodies serialise");
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .expect("a valid response")
}

pub(crate) fn error(status: StatusCode, message: impl std::fmt::Display) -> Resp {
    json_response(status, &serde_json::json!({ "error": message.to_string() }))
}

/// The answer closes the connection (the client is still sending, or too slow to wait for).
pub(crate) fn close_after(mut r: Resp) -> Resp {
    r.headers_mut().insert(
        hyper::header::CONNECTION,
        hyper::header::HeaderValue::from_static("close"),
    );
    r
}
