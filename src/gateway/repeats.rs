//! The first answer to a basis, kept for its repeats. A consumer resends after a timeout or a
//! Fault (RIVTA BP 2.1 rule 22), so the same basis can arrive twice, even while the first call
//! is still being decided. The repeat waits for, and gets, the first call's answer; the basis
//! goes to the exchange once. A Fault is not kept: it asks for exactly this resend.
//!
//! The memory is bounded (the oldest answers go first). Beyond it, and across a restart of the
//! gateway, the hub's log is the memory: a basis it already decided is answered from the log
//! and nothing is logged, delivered or notified twice.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::call::Reply;

/// A call by the calling region, its `LogicalAddress` and the SHA-256 of the document: a caller
/// that corrects the address and sends the same document again makes a new call.
pub(crate) type Key = (String, String, [u8; 32]);

type Slot = Arc<OnceCell<Reply>>;

/// The answers of the latest calls.
pub(crate) struct Repeats {
    cap: usize,
    kept: Mutex<(HashMap<Key, Slot>, VecDeque<Key>)>,
}

impl Repeats {
    pub(crate) fn new(cap: usize) -> Repeats {
        Repeats {
            cap: cap.max(1),
            kept: Mutex::new((HashMap::new(), VecDeque::new())),
        }
    }

    /// The answer for `key`: the first one if it was answered (or is being), else what
    /// `decide` gives, kept unless it is a Fault (`Err`).
    pub(crate) async fn answer(
        &self,
        key: Key,
        decide: impl Future<Output = Result<Reply, Reply>>,
    ) -> Reply {
        let slot = self.slot(key);
        match slot.get_or_try_init(|| decide).await {
            Ok(first) => first.clone(),
            Err(fault) => fault,
        }
    }

    fn slot(&self, key: Key) -> Slot {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        let (map, order) = &mut *kept;
        if let Some(s) = map.get(&key) {
            return s.clone();
        }
        while map.len() >= self.cap {
            match order.pop_front() {
                Some(old) => {
                    map.remove(&old);
                }
                None => break,
            }
        }
        let s = Slot::default();
        map.insert(key.clone(), s.clone());
        order.push_back(key);
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::claim::ResultCode;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn ok() -> Reply {
        Reply::Answer {
            result: ResultCode::Ok,
            comment: None,
        }
    }

    #[tokio::test]
    async fn a_repeat_gets_the_first_answer_and_a_fault_is_not_kept() {
        let r = Repeats::new(2);
        let decided = AtomicUsize::new(0);
        let key = ("2321000131".to_string(), "2321000016".to_string(), [1; 32]);
        let decide = || async {
            decided.fetch_add(1, Ordering::SeqCst);
            Ok(ok())
        };
        let (a, b) = tokio::join!(
            r.answer(key.clone(), decide()),
            r.answer(key.clone(), decide())
        );
        assert_eq!((a, b), (ok(), ok()));
        assert_eq!(decided.load(Ordering::SeqCst), 1, "decided twice");

        let other = ("2321000131".to_string(), "2321000016".to_string(), [2; 32]);
        let fault = Reply::Fault {
            code: crate::rivta::soap::Code::Vp009,
            why: "later".into(),
        };
        assert_eq!(
            r.answer(other.clone(), async { Err(fault.clone()) }).await,
            fault
        );
        assert_eq!(r.answer(other, async { Ok(ok()) }).await, ok());
    }
}
