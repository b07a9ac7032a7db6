//! Pull delivery, a receiving region's side (`invoice-hub receive`): the region consumes its own
//! delivery queue over AMQPS with its own certificate, keeps each basis durably — in its
//! directory, or in its own restricted store ([`super::own_store`]) — sends a receipt back to the
//! hub that decided, and only then acknowledges.
//!
//! ```text
//! ih.deliver.<org> ──▶ write <dir>/<id>.xml ──▶ receipt (confirmed, user_id = the region) ──▶ ack
//!                      (temporary file, fsync,     to ih.receipt, routed by the
//!                       rename, fsync the dir,     hand-over's reply_to
//!                       mode 0600)
//!                  or  PUT <store>/v1/claims/<id>   (the store's own receipt)
//! ```
//!
//! Killing the reader at any moment loses nothing and writes nothing twice: before the rename
//! there is only a temporary file (removed at the next start) and the basis comes again; after
//! it, the basis that comes again is found already written with the same bytes, and only its
//! receipt is sent again. The receipt is made from the file (its hash and time), so a repeat is
//! the same receipt. The same id with other bytes is never overwritten: it is refused, to the
//! parked queue, for a person to look at.

use std::future::Future;
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use lapin::message::Delivery;
use lapin::options::BasicGetOptions;
use serde::Deserialize;
use sha2::Digest as _;

use super::endpoint::Endpoint;
use super::error::BrokerError;
use super::handover::Received;
use super::messages::StoreReceipt;
use super::own_store::OwnStore;
use super::publisher::Publisher;
use super::session::Session;
use super::subscription::Subscription;
use super::{settle, topology};
use crate::claim::basis_id_ok;

/// `[receive]` of `region.toml`: where `invoice-hub receive` puts the bases, `dir` or `store`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReceiveSettings {
    /// A directory each basis is written to as `<basis id>.xml` (mode 0600). Relative to the
    /// configuration file.
    #[serde(default)]
    pub dir: Option<PathBuf>,
    /// The region's own restricted store, `https://host:port`: each basis is `PUT` there with
    /// the region's certificate (`[broker]` cert and key), which the store must list among its
    /// writers.
    #[serde(default)]
    pub store: Option<String>,
    /// Bases the broker hands the reader ahead of the one it writes.
    #[serde(default = "default_prefetch")]
    pub prefetch: u16,
}

fn default_prefetch() -> u16 {
    16
}

/// Where a region keeps what it receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keep {
    Dir(PathBuf),
    Store(String),
}

impl ReceiveSettings {
    /// The one place `[receive]` names, or why it does not name exactly one.
    pub fn keep(&self) -> Result<Keep, String> {
        match (&self.dir, &self.store) {
            (Some(dir), None) => Ok(Keep::Dir(dir.clone())),
            (None, Some(url)) => Ok(Keep::Store(url.clone())),
            (Some(_), Some(_)) => Err("[receive] names both dir and store: give one".into()),
            (None, None) => Err("[receive] names neither dir (a directory) nor store (the \
                 region's own store, https://host:port): give one"
                .into()),
        }
    }
}

/// Why receiving stopped or a basis was refused.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The directory or the store holds other bytes under this basis id: not overwritten.
    #[error("{place} already holds other content for this basis id; not overwritten")]
    Conflict { place: String },
    /// The region's store is down or failing (tried again for a while).
    #[error("the region's store {url} is unavailable: {why}")]
    StoreUnavailable { url: String, why: String },
    /// The region's store refused this basis for good (too large, invalid by its checks).
    #[error("{place}: the region's store refused the basis: HTTP {status}: {body}")]
    StoreRefused {
        place: String,
        status: u16,
        body: String,
    },
    /// The store cannot be used as configured (its URL, the region's certificate).
    #[error("{0}")]
    StoreSetup(String),
    #[error("not a hand-over: {0}")]
    NotAHandOver(String),
    #[error(transparent)]
    Broker(#[from] BrokerError),
}

/// One basis kept.
#[derive(Debug, Clone)]
pub struct Written {
    /// Where: the file, or the store's URL of the basis.
    pub place: String,
    /// What the receipt says: the file's hash and when it was written, or the store's receipt.
    pub receipt: StoreReceipt,
    /// False when it was there already (a basis that came again).
    pub new: bool,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PullError + '_ {
    move |source| PullError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `body` as basis `id` into `dir`, durably and once (see the module's text).
pub fn write_once(dir: &Path, id: &str, body: &[u8]) -> Result<Written, PullError> {
    if !basis_id_ok(id) {
        return Err(PullError::NotAHandOver(format!(
            "basis id {id:?} is not usable as a file name"
        )));
    }
    let path = dir.join(format!("{id}.xml"));
    let sha = hex::encode(sha2::Sha256::digest(body));
    let new = match std::fs::read(&path) {
        Ok(there) if hex::encode(sha2::Sha256::digest(&there)) == sha => false,
        Ok(_) => {
            let place = path.display().to_string();
            return Err(PullError::Conflict { place });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            write_new(dir, &path, body)?;
            true
        }
        Err(e) => return Err(io(&path)(e)),
    };
    let written: DateTime<Utc> = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .map_err(io(&path))?
        .into();
    let receipt = StoreReceipt {
        id: id.to_string(),
        sha256: sha,
        received_at: written.to_rfc3339_opts(SecondsFormat::Secs, true),
        seq: 0,
    };
    let place = path.display().to_string();
    Ok(Written {
        place,
        receipt,
        new,
    })
}

/// A temporary file (mode 0600) written and flushed, renamed into place, the rename flushed.
fn write_new(dir: &Path, path: &Path, body: &[u8]) -> Result<(), PullError> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("basis");
    let tmp = dir.join(format!(".{name}.partial"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    f.write_all(body).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

/// Makes `dir` (mode 0700) if it is not there, and removes what a reader killed mid-write left
/// (`.<id>.xml.partial`): those bases were not acknowledged and come again. Returns how many.
pub fn prepare(dir: &Path) -> Result<usize, PullError> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io(dir))?;
    let mut removed = 0;
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.starts_with('.') && name.ends_with(".partial") {
            std::fs::remove_file(&path).map_err(io(&path))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// What became of one message of the delivery queue.
#[derive(Debug)]
pub enum Outcome {
    /// Written (or found written) and its receipt confirmed.
    Received(Box<(Received, Written)>),
    /// Not a basis this reader can take (not a hand-over, no reply address, other content
    /// under a written id): given to the parked queue, with why.
    Refused { message_id: String, why: String },
}

/// Where the reader keeps each basis.
enum Target {
    Dir(PathBuf),
    Store(Box<OwnStore>),
}

/// The region's reader of its delivery queue.
pub struct Puller {
    org: String,
    /// The region's broker user: its receipts' `user_id`.
    user: String,
    target: Target,
    prefetch: u16,
    session: Arc<Session>,
    publisher: Publisher,
}

impl Puller {
    /// The reader for region `org`, keeping its bases where `settings` say; a store is reached
    /// with the region's certificate from `broker`.
    pub fn new(
        org: &str,
        settings: &ReceiveSettings,
        broker: &Endpoint,
        session: Arc<Session>,
    ) -> Result<Puller, PullError> {
        let target = match settings.keep().map_err(PullError::StoreSetup)? {
            Keep::Dir(dir) => Target::Dir(dir),
            Keep::Store(url) => Target::Store(Box::new(OwnStore::new(&url, broker)?)),
        };
        Ok(Puller {
            org: org.to_string(),
            user: broker.user()?,
            target,
            prefetch: settings.prefetch.max(1),
            publisher: Publisher::new(session.clone()),
            session,
        })
    }

    /// Takes what waits on the queue now, each handed to `seen`, and returns how many.
    pub async fn drain(&self, mut seen: impl FnMut(&Outcome)) -> Result<usize, PullError> {
        let ch = self.session.new_channel().await?;
        let queue = topology::deliver_queue(&self.org);
        let mut n = 0;
        while let Some(msg) = ch
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
            .await
            .map_err(BrokerError::from)?
        {
            seen(&self.take(&msg.delivery).await?);
            n += 1;
        }
        let _ = ch.close(200, "drained".into()).await;
        Ok(n)
    }

    /// Takes every basis as it comes, across broker restarts, until `stop` resolves (between
    /// two bases: one being written is finished first).
    pub async fn follow(
        &self,
        stop: impl Future<Output = ()>,
        mut seen: impl FnMut(&Outcome),
    ) -> Result<usize, PullError> {
        let mut sub = Subscription::new(
            self.session.clone(),
            topology::deliver_queue(&self.org),
            self.prefetch,
        );
        sub.subscribe().await?;
        tokio::pin!(stop);
        let mut n = 0;
        loop {
            let d = tokio::select! {
                _ = &mut stop => return Ok(n),
                d = sub.next() => d?,
            };
            seen(&self.take(&d).await?);
            n += 1;
        }
    }

    /// One message: written, receipt confirmed, acknowledged; or refused to the parked queue.
    /// An error (a disk that fails, a broker that refuses the receipt) leaves the message
    /// unacknowledged: it comes again.
    async fn take(&self, d: &Delivery) -> Result<Outcome, PullError> {
        let message_id = d.properties.message_id().as_ref().map(|s| s.to_string());
        let refused = |why: String| Outcome::Refused {
            message_id: message_id.clone().unwrap_or_default(),
            why,
        };
        let outcome = match self.write(d).await {
            Ok((r, w)) => match r.reply_to.clone() {
                Some(hub) => {
                    self.publisher
                        .publish(&w.receipt.to_outgoing(&self.user, &hub))
                        .await?;
                    Outcome::Received(Box::new((r, w)))
                }
                None => refused("the hand-over names no hub to send the receipt to".into()),
            },
            Err(
                e @ (PullError::Conflict { .. }
                | PullError::NotAHandOver(_)
                | PullError::StoreRefused { .. }),
            ) => refused(e.to_string()),
            Err(e) => return Err(e),
        };
        match &outcome {
            Outcome::Received(_) => settle::ack(d).await?,
            Outcome::Refused { .. } => settle::reject(d).await?,
        }
        Ok(outcome)
    }

    async fn write(&self, d: &Delivery) -> Result<(Received, Written), PullError> {
        let r = Received::read(d).map_err(PullError::NotAHandOver)?;
        let (id, body) = (r.handover.basis_id.clone(), r.body.clone());
        let written = match &self.target {
            Target::Store(store) => store.keep(&id, body).await?,
            Target::Dir(dir) => {
                let dir = dir.clone();
                let at = dir.clone();
                tokio::task::spawn_blocking(move || write_once(&dir, &id, &body))
                    .await
                    .map_err(|e| PullError::Io {
                        path: at,
                        source: std::io::Error::other(e.to_string()),
                    })??
            }
        };
        Ok((r, written))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    #[test]
    fn a_basis_is_written_once_private_and_the_same_receipt_comes_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = write_once(dir.path(), "ZVF1", b"<doc/>").unwrap();
        assert!(first.new);
        let path = dir.path().join("ZVF1.xml");
        assert_eq!(first.place, path.display().to_string());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = write_once(dir.path(), "ZVF1", b"<doc/>").unwrap();
        assert!(!again.new);
        assert_eq!(again.receipt, first.receipt);
        assert!(matches!(
            write_once(dir.path(), "ZVF1", b"<other/>"),
            Err(PullError::Conflict { .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"<doc/>");
        assert!(write_once(dir.path(), "../x", b"<doc/>").is_err());
    }

    #[test]
    fn receive_names_exactly_one_place() {
        let parse = |t: &str| toml::from_str::<ReceiveSettings>(t).unwrap().keep();
        assert_eq!(parse("dir = \"in\""), Ok(Keep::Dir("in".into())));
        assert_eq!(
            parse("store = \"https://s:1\""),
            Ok(Keep::Store("https://s:1".into()))
        );
        assert!(parse("dir = \"in\"\nstore = \"https://s:1\"")
            .unwrap_err()
            .contains("both"));
        assert!(parse("prefetch = 4").unwrap_err().contains("neither"));
    }

    #[test]
    fn what_a_killed_reader_left_half_written_is_removed_at_start() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".ZVF2.xml.partial"), b"<do").unwrap();
        std::fs::write(dir.path().join("ZVF3.xml"), b"<doc/>").unwrap();
        assert_eq!(prepare(dir.path()).unwrap(), 1);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1);
    }
}
