//! Group commit for the disclosure log: every in-flight basis hands its records to one writer
//! thread, which appends whatever has queued up with a single flush. One durable write then
//! serves many bases, and each still waits until its own records are on disk before it moves on.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::audit::{Appended, AuditLog, Record};

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
}
