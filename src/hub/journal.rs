//! Group commit for the disclosure log: every in-flight basis hands its records to one writer
//! thread, which appends whatever has queued up with a single flush. One durable write then
//! serves many bases, and each still waits until its own records are on disk before it moves on.
//!
//! The log is also the stages' memory: [`Journal::history`] reads what is already logged for a
//! basis, and [`Journal::append_new`] appends only what is not, so a redelivery or a re-publish
//! adds nothing but its answer.

use std::collections::BTreeSet;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::audit::{Appended, AuditLog, Digest, Event, Query, Record};
use crate::broker::StoreReceipt;

type Reply = oneshot::Sender<Result<Vec<Appended>, String>>;

/// A handle to the writer; cheap to clone.
#[derive(Clone)]
pub struct Journal {
    tx: mpsc::Sender<(Vec<Record>, Reply)>,
    log: Arc<AuditLog>,
}

/// At most this many records in one flush.
const MAX_BATCH: usize = 1024;

impl Journal {
    /// Starts the writer thread; it ends when every handle is dropped.
    pub fn start(log: Arc<AuditLog>) -> Journal {
        let (tx, mut rx) = mpsc::channel::<(Vec<Record>, Reply)>(4096);
        let writer = log.clone();
        std::thread::Builder::new()
            .name("ih-journal".into())
            .spawn(move || {
                while let Some(first) = rx.blocking_recv() {
                    let mut waiting = vec![first];
                    let mut n = waiting[0].0.len();
                    while n < MAX_BATCH {
                        match rx.try_recv() {
                            Ok(next) => {
                                n += next.0.len();
                                waiting.push(next);
                            }
                            Err(_) => break,
                        }
                    }
                    let all: Vec<Record> = waiting
                        .iter()
                        .flat_map(|(r, _)| r.iter().cloned())
                        .collect();
                    metrics::histogram!("ih_log_batch_records").record(all.len() as f64);
                    match writer.append_batch(&all) {
                        Ok(appended) => {
                            let mut it = appended.into_iter();
                            for (records, reply) in waiting {
                                let mine: Vec<Appended> = it.by_ref().take(records.len()).collect();
                                let _ = reply.send(Ok(mine));
                            }
                        }
                        Err(e) => {
                            let why = e.to_string();
                            for (_, reply) in waiting {
                                let _ = reply.send(Err(why.clone()));
                            }
                        }
                    }
                }
            })
            .expect("spawn the journal thread");
        Journal { tx, log }
    }

    /// Appends `records` and returns once they are durable.
    pub async fn append(&self, records: Vec<Record>) -> Result<Vec<Appended>, String> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((records, reply))
            .await
            .map_err(|_| "the journal has stopped".to_string())?;
        answer
            .await
            .map_err(|_| "the journal has stopped".to_string())?
    }

    /// The log, for reads (idempotency checks).
    pub fn log(&self) -> &Arc<AuditLog> {
        &self.log
    }

    /// What the log already holds for basis `id` with content `sha`, and whether other content
    /// under the same id was already disclosed, delivered or withheld.
    pub(crate) fn history(&self, id: &str, sha: Digest) -> Result<History, String> {
        let mut h = History::default();
        for r in self.records_of(id)? {
            if r.received_sha256 == Some(sha) {
                h.logged.insert(r.event);
                if r.event == Event::Delivered {
                    h.receipt = r.receipt;
                }
            } else if matches!(
                r.event,
                Event::Disclosed | Event::Delivered | Event::Withheld
            ) {
                h.other_content_final = true;
            }
        }
        Ok(h)
    }

    /// Every record the log holds for basis `id`, in log order (through the basis index).
    pub(crate) fn records_of(&self, id: &str) -> Result<Vec<Record>, String> {
        let q = Query {
            basis: Some(id.to_string()),
            ..Query::default()
        };
        let found = self.log.query(&q).map_err(|e| e.to_string())?;
        Ok(found.entries.into_iter().map(|e| e.record).collect())
    }

    /// Appends those of `records` whose events `history` does not hold yet (durable on return).
    pub(crate) async fn append_new(
        &self,
        records: Vec<Record>,
        history: &History,
    ) -> Result<(), String> {
        let new: Vec<Record> = records
            .into_iter()
            .filter(|r| !history.logged.contains(&r.event))
            .collect();
        self.append(new).await.map(|_| ())
    }
}

/// What the log holds for one basis id and content.
#[derive(Debug, Default)]
pub(crate) struct History {
    /// The events logged for this content.
    pub logged: BTreeSet<Event>,
    /// Other content under this id was already disclosed, delivered or withheld.
    pub other_content_final: bool,
    /// The receipt `delivered` was logged with, verbatim.
    pub receipt: Option<String>,
}

impl History {
    pub(crate) fn has(&self, event: Event) -> bool {
        self.logged.contains(&event)
    }

    /// The receipt of the delivery already logged for this content, if there was one.
    pub(crate) fn delivered_receipt(&self) -> Option<StoreReceipt> {
        if !self.has(Event::Delivered) {
            return None;
        }
        self.receipt
            .as_deref()
            .and_then(|raw| serde_json::from_str(raw).ok())
    }
}
