//! Reading a region's own queue (status or notify), for `invoice-hub status` and `notify`. Reading
//! takes a message off the queue only after the caller has handled it (printed it), so a reader
//! that dies half-way loses nothing; `keep` leaves every message where it was.

use std::sync::Arc;

use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicGetOptions};

use super::error::BrokerError;
use super::session::Session;
use super::subscription::Subscription;

/// How to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Take what is there now and return.
    Drain { keep: bool },
    /// Wait for more, forever (across broker restarts), until the caller's future is dropped.
    Follow,
}

/// Hands each message of `queue` to `handle`, then acknowledges it (unless `keep`). Returns how
/// many were handled. A handler error stops the reading; that message stays on the queue.
pub async fn read<F>(
    session: Arc<Session>,
    queue: &str,
    mode: Mode,
    handle: F,
) -> Result<usize, BrokerError>
where
    F: FnMut(&Delivery) -> Result<(), BrokerError>,
{
    read_with(session, queue, mode, handle).await
}

/// [`read`] with a handler error of the handler's own kind (a reader whose output pipe closed
/// stops with that, and the message it could not print stays on the queue).
pub async fn read_with<F, E>(
    session: Arc<Session>,
    queue: &str,
    mode: Mode,
    mut handle: F,
) -> Result<usize, E>
where
    F: FnMut(&Delivery) -> Result<(), E>,
    E: From<BrokerError>,
{
    let mut n = 0;
    match mode {
        Mode::Drain { keep } => {
            let ch = session.new_channel().await?;
            while let Some(msg) = ch
                .basic_get(queue.into(), BasicGetOptions { no_ack: false })
                .await
                .map_err(BrokerError::from)?
            {
                handle(&msg.delivery)?;
                n += 1;
                if !keep {
                    msg.delivery
                        .ack(BasicAckOptions::default())
                        .await
                        .map_err(BrokerError::from)?;
                }
            }
            // Closing the channel puts back whatever was kept unacknowledged.
            let _ = ch.close(200, "done".into()).await;
        }
        Mode::Follow => {
            let mut sub = Subscription::new(session, queue, 50);
            sub.subscribe().await?;
            loop {
                let d = sub.next().await?;
                handle(&d)?;
                // A lost ack means the message comes again: readers print it twice, never zero
                // times.
                if let Err(e) = super::settle::ack(&d).await {
                    tracing::warn!(error = %e, "ack failed; the message will be delivered again");
                }
            }
        }
    }
    Ok(n)
}
