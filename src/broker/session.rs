//! A supervised connection. lapin 4's `enable_auto_recover` is young (recovery after a broker
//! restart is reported not to work), so the session owns the connection, notices when it is gone
//! and opens a new one with backoff the next time someone needs a channel. Callers keep the
//! session (in an `Arc`) for the life of the program and ask it for channels; they never hold a
//! connection themselves.
//!
//! With a cluster (an endpoint listing several nodes) the session tries the node it last had,
//! then the others in turn, and only backs off after a whole round failed: a node that stops
//! costs one refused connection, not a backoff.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lapin::options::ConfirmSelectOptions;
use lapin::{Channel, Connection};
use tokio::sync::Mutex;

use super::endpoint::Endpoint;
use super::error::BrokerError;
use crate::retry::{Backoff, Limit, Retry, Stopped};

struct Live {
    conn: Connection,
    /// The channel in confirm mode that every publish of this session shares.
    publish: Option<PublishChannel>,
}

/// The shared publishing channel, lent to each publish for as long as its confirm is awaited:
/// a channel being renewed is closed only once no publish holds it (see
/// [`Session::renew_publish_channel`]).
#[derive(Clone)]
pub struct PublishChannel {
    pub channel: Channel,
    lent: Arc<()>,
}

impl PublishChannel {
    /// Whether any publish still holds this channel (beyond `own` clones of the caller's).
    fn lent_beyond(&self, own: usize) -> bool {
        Arc::strong_count(&self.lent) > own
    }
}

/// A connection to one broker that comes back after the broker does.
pub struct Session {
    endpoint: Endpoint,
    live: Mutex<Option<Live>>,
    backoff: Backoff,
    give_up_after: Option<Duration>,
    connects: AtomicU64,
    /// The node to try first (the one connected last).
    node: AtomicUsize,
    /// Someone is (re)connecting: there is no connection until they succeed.
    connecting: AtomicBool,
}

impl Session {
    /// A session that connects on first use and keeps trying to reconnect forever (the hub).
    pub fn new(endpoint: Endpoint) -> Self {
        Session {
            endpoint,
            live: Mutex::new(None),
            backoff: Backoff::fixed(Duration::from_millis(250), Duration::from_secs(5)),
            give_up_after: None,
            connects: AtomicU64::new(0),
            node: AtomicUsize::new(0),
            connecting: AtomicBool::new(false),
        }
    }

    /// Stop reconnecting after this long without a connection (a command-line tool should tell
    /// its user instead of hanging).
    pub fn give_up_after(mut self, limit: Duration) -> Self {
        self.give_up_after = Some(limit);
        self
    }

    /// The reconnect schedule.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// How many connections this session has opened: 1 means it never had to reconnect.
    pub fn connects(&self) -> u64 {
        self.connects.load(Ordering::Relaxed)
    }

    /// Whether a channel opened when [`Session::connects`] was `generation` has lost its
    /// connection: the session reconnected since, or its connection is no longer open. lapin does
    /// not always end a consumer's stream, nor mark its channel closed, when the connection dies
    /// under it (seen in `make chaos` and `make cluster-test`: readers waiting forever after a
    /// broker restart), so a consumer asks this as well.
    pub fn connection_lost_since(&self, generation: u64) -> bool {
        if self.connects() != generation {
            return true;
        }
        match self.live.try_lock() {
            Ok(live) => !live.as_ref().is_some_and(|l| l.conn.status().connected()),
            // Someone is taking a channel or reconnecting right now: ask again later.
            Err(_) => false,
        }
    }

    /// Whether the session has a connection now (for a readiness probe): it connected once, no
    /// one is reconnecting, and the connection it holds is open.
    pub fn is_connected(&self) -> bool {
        let now = self.connects();
        now > 0 && !self.connecting.load(Ordering::Relaxed) && !self.connection_lost_since(now)
    }

    /// The node (an index into the endpoint's addresses) connected last, or to be tried first.
    pub fn current_node(&self) -> usize {
        self.node.load(Ordering::Relaxed)
    }

    /// Connects now (if not connected) so a caller learns at start-up about a wrong certificate
    /// or an unknown user instead of at the first message.
    pub async fn ensure_connected(&self) -> Result<(), BrokerError> {
        let mut live = self.live.lock().await;
        self.connected(&mut live).await.map(|_| ())
    }

    /// The shared publishing channel, in confirm mode, reopened if the broker closed it (it does
    /// that after a refused publish) or the connection was lost.
    pub async fn publish_channel(&self) -> Result<PublishChannel, BrokerError> {
        let mut guard = self.live.lock().await;
        let live = self.connected(&mut guard).await?;
        if let Some(lent) = &live.publish {
            if lent.channel.status().connected() {
                return Ok(lent.clone());
            }
        }
        let channel = live.conn.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let lent = PublishChannel {
            channel,
            lent: Arc::new(()),
        };
        live.publish = Some(lent.clone());
        Ok(lent)
    }

    /// Gives up the shared publishing channel if it is still `stale`, so the next publish opens
    /// a fresh one. After a nack: the broker keeps, per channel, its own client state of each
    /// quorum queue, and seen in `make cluster-test` (RabbitMQ 3.10, a node stopped while a
    /// queue's new leader was being elected) one channel had every later publish to one queue
    /// nacked for eight minutes while its publishes to every other queue were confirmed. The old
    /// channel is closed only once no publish holds it any more and its confirms have come (or
    /// `grace` has passed): closed earlier, a publish the broker had taken would lose its confirm
    /// and be sent again, and its receiver would be told twice (seen in CI: a publish that took
    /// the channel just before the renewal sent its message after the close had begun).
    pub async fn renew_publish_channel(&self, stale: PublishChannel, grace: Duration) {
        {
            let mut guard = self.live.lock().await;
            let Some(live) = guard.as_mut() else { return };
            if live
                .publish
                .as_ref()
                .is_none_or(|lent| lent.channel.id() != stale.channel.id())
            {
                return; // someone renewed it already
            }
            live.publish = None;
        }
        tracing::info!(
            channel = stale.channel.id(),
            "a nack: publishing on a fresh channel"
        );
        tokio::spawn(async move {
            let settled = async {
                // `stale` itself is the one clone left once every publish has let go.
                while stale.lent_beyond(1) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let _ = stale.channel.wait_for_confirms().await;
            };
            let _ = tokio::time::timeout(grace, settled).await;
            let close = stale.channel.close(200, "renewed after a nack".into());
            let _ = tokio::time::timeout(Duration::from_secs(2), close).await;
        });
    }

    /// A fresh channel of its own (for a consumer: its prefetch and acks belong to it).
    pub async fn new_channel(&self) -> Result<Channel, BrokerError> {
        let mut guard = self.live.lock().await;
        let live = self.connected(&mut guard).await?;
        Ok(live.conn.create_channel().await?)
    }

    /// Declares a durable quorum queue of this party's own and binds it to `exchange` under
    /// `key` (a hub's receipt queue, a gateway's answer queue); `dead_letter` is the exchange
    /// a message it rejects goes to. Declaring what exists with the same arguments is a no-op.
    pub async fn declare_own_queue(
        &self,
        queue: &str,
        (exchange, key): (&str, &str),
        dead_letter: Option<&str>,
    ) -> Result<(), BrokerError> {
        use lapin::options::{QueueBindOptions, QueueDeclareOptions};
        use lapin::types::{AMQPValue, FieldTable};
        let ch = self.new_channel().await?;
        let mut args = FieldTable::default();
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
        if let Some(dlx) = dead_letter {
            args.insert(
                "x-dead-letter-exchange".into(),
                AMQPValue::LongString(dlx.into()),
            );
        }
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        ch.queue_declare(queue.into(), durable, args).await?;
        ch.queue_bind(
            queue.into(),
            exchange.into(),
            key.into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
        let _ = ch.close(200, "declared".into()).await;
        Ok(())
    }

    /// Closes the connection politely; the next use reconnects. Bounded: while the broker is
    /// unreachable someone holds the connection's lock to reconnect, and there is nothing to
    /// close, so a closer that cannot get the lock within 2 s just goes (a stopping hub must not
    /// wait for a broker that may never come back).
    pub async fn close(&self) {
        let Ok(mut live) = tokio::time::timeout(Duration::from_secs(2), self.live.lock()).await
        else {
            tracing::debug!("not closing the broker connection: a reconnect holds it");
            return;
        };
        if let Some(live) = live.take() {
            if live.conn.status().connected() {
                let _ = tokio::time::timeout(
                    Duration::from_secs(2),
                    live.conn.close(200, "bye".into()),
                )
                .await;
            }
        }
    }

    async fn connected<'a>(&self, live: &'a mut Option<Live>) -> Result<&'a mut Live, BrokerError> {
        if live.as_ref().is_some_and(|l| l.conn.status().connected()) {
            return Ok(live.as_mut().expect("checked above"));
        }
        *live = None;
        self.connecting.store(true, Ordering::Relaxed);
        let connected = self.reconnect().await;
        self.connecting.store(false, Ordering::Relaxed);
        Ok(live.insert(Live {
            conn: connected?,
            publish: None,
        }))
    }

    /// Connects with backoff, for ever or until `give_up_after`.
    async fn reconnect(&self) -> Result<Connection, BrokerError> {
        let limit = self.give_up_after.map_or(Limit::Never, Limit::Time);
        let on_retry = |e: &BrokerError, _, delay: Duration| {
            tracing::warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "broker unreachable");
        };
        let (conn, _) = Retry::new(self.backoff.clone(), limit)
            .run(
                |_| self.connect_round(),
                BrokerError::is_transient,
                on_retry,
            )
            .await
            .map_err(|stopped| match stopped {
                Stopped::Fatal(e) => e,
                Stopped::GaveUp { attempts, last, .. } => BrokerError::GaveUp {
                    attempts,
                    last: last.to_string(),
                },
            })?;
        Ok(conn)
    }

    /// One round: the node connected last, then the others in turn; the last error if none
    /// answered (a node that is down costs one refused connection, not a backoff).
    async fn connect_round(&self) -> Result<Connection, BrokerError> {
        let nodes = self.endpoint.addresses()?.len();
        let first = self.node.load(Ordering::Relaxed);
        let mut last = None;
        for i in 0..nodes {
            let node = (first + i) % nodes;
            match self.endpoint.connect_node(node).await {
                Ok(conn) => {
                    let n = self.connects.fetch_add(1, Ordering::Relaxed) + 1;
                    self.node.store(node, Ordering::Relaxed);
                    if n > 1 {
                        tracing::info!(url = %self.endpoint.node_url(node)?, connects = n, "reconnected to the broker");
                    }
                    return Ok(conn);
                }
                Err(e) if !e.is_transient() => return Err(e),
                Err(e) => {
                    if nodes > 1 {
                        tracing::warn!(error = %e, "broker node unreachable; trying the next");
                    }
                    last = Some(e);
                }
            }
        }
        Err(last.expect("an endpoint has at least one node"))
    }
}
