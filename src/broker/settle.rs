//! Acknowledging a delivery (ack, nack, reject) with a time limit. lapin 4.12 never resolves one
//! whose connection died under it: seen in `make chaos`, where a region's reader sat in `ack`
//! after the broker restarted, never asked for its next delivery, and so never noticed it had to
//! resubscribe; its queue stayed without a consumer. An unsettled message comes again from the
//! broker anyway, so giving up after [`SETTLE_TIMEOUT`] loses nothing.

use std::future::Future;
use std::time::Duration;

use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions, BasicRejectOptions};

use super::error::BrokerError;

/// Long enough for a broker under load, short enough that a reader is back within seconds.
pub const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Acknowledges: the message is done.
pub async fn ack(d: &Delivery) -> Result<(), BrokerError> {
    within(d.acker.ack(BasicAckOptions::default())).await
}

/// Gives the message back to its queue for another try.
pub async fn requeue(d: &Delivery) -> Result<(), BrokerError> {
    within(d.acker.nack(BasicNackOptions {
        requeue: true,
        ..Default::default()
    }))
    .await
}

/// Refuses the message for good: it goes to the queue's dead-letter exchange.
pub async fn reject(d: &Delivery) -> Result<(), BrokerError> {
    within(d.acker.reject(BasicRejectOptions { requeue: false })).await
}

async fn within<T>(f: impl Future<Output = Result<T, lapin::Error>>) -> Result<(), BrokerError> {
    match tokio::time::timeout(SETTLE_TIMEOUT, f).await {
        Ok(r) => r.map(|_| ()).map_err(BrokerError::from),
        Err(_) => Err(BrokerError::NotSettled {
            secs: SETTLE_TIMEOUT.as_secs(),
        }),
    }
}
