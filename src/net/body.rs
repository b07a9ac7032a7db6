//! Reading a request body within a limit. A body over the limit is still read to its
//! end (up to a cap) so that the client, still sending, gets the `413` instead of a reset.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;

/// Up to how many bytes of an oversized body are read and discarded before answering `413`, so
/// the client, still sending, gets the answer instead of a reset connection.
pub(crate) fn drain_cap(max: usize) -> usize {
    max.saturating_mul(4).max(16 * 1024 * 1024)
}

pub(crate) enum BodyError {
    /// Over the limit; `drained` when the whole body was read (the connection stays usable).
    TooBig {
        drained: bool,
    },
    Read(hyper::Error),
    /// The body did not arrive within the store's body timeout (the connection is closed).
    TimedOut,
}

/// Reads a body of at most `max` bytes within `within`; a bigger one is read to its end (up to
/// `cap`) and discarded.
pub(crate) async fn read_body(
    body: Incoming,
    max: usize,
    cap: usize,
    within: std::time::Duration,
) -> Result<Bytes, BodyError> {
    tokio::time::timeout(within, read_all(body, max, cap))
        .await
        .unwrap_or(Err(BodyError::TimedOut))
}

async fn read_all(mut body: Incoming, max: usize, cap: usize) -> Result<Bytes, BodyError> {
    let mut buf = bytes::BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(BodyError::Read)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        total = total.saturating_add(data.len());
        if total > cap {
            return Err(BodyError::TooBig { drained: false });
        }
        if total > max {
            buf = bytes::BytesMut::new();
            continue;
        }
        buf.extend_from_slice(&data);
    }
    if total > max {
        return Err(BodyError::TooBig { drained: true });
    }
    Ok(buf.freeze())
}
