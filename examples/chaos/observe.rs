//! What the regions see: one consumer per region's status queue and one per notify queue, with
//! the region's own certificate, for the whole run. They are `broker::Subscription`s, so they
//! resubscribe after the broker restart; a message whose ack was lost then comes again, which is
//! why everything is kept per basis and repeats are counted, not trusted away.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use invoice_hub::broker::{settle, Notice, RegionConfig, Session, StatusMessage, Subscription};

/// Everything the regions were told, per basis id.
#[derive(Default)]
pub(crate) struct Seen {
    pub statuses: HashMap<String, Vec<StatusMessage>>,
    /// The QUEUED statuses (not answers: word that a basis waits for a held-up delivery).
    pub queued: Vec<StatusMessage>,
    /// When each basis got its first status (the isolation figure is a rate of these).
    pub first_at: HashMap<String, std::time::Instant>,
    /// basis id → (the region whose notify queue it came on, the notice).
    pub notices: HashMap<String, Vec<(String, Notice)>>,
    pub status_messages: u64,
    pub notice_messages: u64,
    /// Bodies that were not a status or notice (must stay 0).
    pub unreadable: Vec<String>,
}

pub(crate) struct Observer {
    pub seen: Arc<Mutex<Seen>>,
    rt: tokio::runtime::Runtime,
}

#[derive(Clone, Copy)]
enum Kind {
    Status,
    Notice,
}

impl Observer {
    /// Starts reading every region's status and notify queue (`OUT/region-<org>.toml`).
    pub(crate) fn start(out: &Path, orgs: &[String]) -> anyhow::Result<Observer> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let seen = Arc::new(Mutex::new(Seen::default()));
        for org in orgs {
            let path = out.join(format!("region-{org}.toml"));
            let cfg =
                RegionConfig::load(&path).with_context(|| format!("reading {}", path.display()))?;
            let session = Arc::new(Session::new(cfg.broker.clone()));
            for (queue, kind) in [
                (cfg.status_queue(), Kind::Status),
                (cfg.notify_queue(), Kind::Notice),
            ] {
                rt.spawn(consume(
                    session.clone(),
                    queue,
                    org.clone(),
                    kind,
                    seen.clone(),
                ));
            }
        }
        Ok(Observer { seen, rt })
    }

    /// How many distinct bases have a status.
    pub(crate) fn answered(&self) -> usize {
        self.seen.lock().unwrap().statuses.len()
    }

    /// How many distinct bases of one sending region have a status (basis ids begin with
    /// `ZVF` and the sender's organisation number).
    pub(crate) fn answered_from(&self, org: &str) -> usize {
        let prefix = format!("ZVF{org}");
        let seen = self.seen.lock().unwrap();
        seen.statuses
            .keys()
            .filter(|id| id.starts_with(&prefix))
            .count()
    }

    /// The bases answered OK so far, each with the receiver its first OK answer names.
    #[allow(dead_code)] // make powercut's, not make chaos's
    pub(crate) fn answered_ok(&self) -> std::collections::BTreeMap<String, String> {
        let seen = self.seen.lock().unwrap();
        seen.statuses
            .iter()
            .filter_map(|(id, s)| {
                let ok = s
                    .iter()
                    .find(|s| s.outcome == invoice_hub::broker::Outcome::Ok)?;
                Some((id.clone(), ok.receiver.clone().unwrap_or_default()))
            })
            .collect()
    }

    /// Bases answered for the first time in `[from, to)` among those `counted` picks.
    #[allow(dead_code)] // make chaos's, not make powercut's
    pub(crate) fn first_answers(
        &self,
        from: std::time::Instant,
        to: std::time::Instant,
        counted: impl Fn(&str) -> bool,
    ) -> usize {
        let seen = self.seen.lock().unwrap();
        seen.first_at
            .iter()
            .filter(|(id, t)| **t >= from && **t < to && counted(id))
            .count()
    }

    /// When the first and the last basis among those `counted` picks were first answered.
    #[allow(dead_code)] // make chaos's, not make powercut's
    pub(crate) fn first_answer_span(
        &self,
        counted: impl Fn(&str) -> bool,
    ) -> Option<(std::time::Instant, std::time::Instant)> {
        let seen = self.seen.lock().unwrap();
        let times: Vec<std::time::Instant> = seen
            .first_at
            .iter()
            .filter(|(id, _)| counted(id))
            .map(|(_, t)| *t)
            .collect();
        Some((*times.iter().min()?, *times.iter().max()?))
    }

    pub(crate) fn stop(self) -> Seen {
        self.rt.shutdown_timeout(Duration::from_secs(2));
        Arc::try_unwrap(self.seen)
            .map(|m| m.into_inner().unwrap())
            .unwrap_or_else(|a| std::mem::take(&mut *a.lock().unwrap()))
    }
}

async fn consume(
    session: Arc<Session>,
    queue: String,
    org: String,
    kind: Kind,
    seen: Arc<Mutex<Seen>>,
) {
    let mut sub = Subscription::new(session, queue.clone(), 500);
    loop {
        let d = match sub.next().await {
            Ok(d) => d,
            Err(e) => {
                eprintln!("chaos: reading {queue}: {e}; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        {
            let mut s = seen.lock().unwrap();
            match kind {
                Kind::Status => match serde_json::from_slice::<StatusMessage>(&d.data) {
                    Ok(m) if !m.outcome.is_final() => s.queued.push(m),
                    Ok(m) => {
                        s.status_messages += 1;
                        s.first_at
                            .entry(m.basis_id.clone())
                            .or_insert_with(std::time::Instant::now);
                        s.statuses.entry(m.basis_id.clone()).or_default().push(m);
                    }
                    Err(e) => s.unreadable.push(format!("{queue}: {e}")),
                },
                Kind::Notice => match serde_json::from_slice::<Notice>(&d.data) {
                    Ok(n) => {
                        s.notice_messages += 1;
                        s.notices
                            .entry(n.basis_id.clone())
                            .or_default()
                            .push((org.clone(), n));
                    }
                    Err(e) => s.unreadable.push(format!("{queue}: {e}")),
                },
            }
        }
        // A lost ack (the broker restarting) brings the message again: it is counted as a repeat.
        let _ = settle::ack(&d).await;
    }
}
