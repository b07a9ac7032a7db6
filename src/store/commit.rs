//! Group commit for the store's database: deliveries that finish their transaction while a
//! flush is running wait for the next flush together, so one fsync makes many receipts durable
//! instead of one fsync per delivery. Each caller still returns only after a flush that began
//! after its own write, so "durable before the receipt goes out" holds for every delivery.
//!
//! The first caller to find no flush running becomes the leader and flushes on its own (blocking)
//! thread; the others sleep on a condition variable until a flush that covers them has finished,
//! or take over as leader if the flush they were waiting for failed.

use std::sync::{Condvar, Mutex};

/// Coordinates the flushes of one database.
#[derive(Debug, Default)]
pub struct GroupCommit {
    state: Mutex<State>,
    done: Condvar,
}

#[derive(Debug, Default)]
struct State {
    /// Tickets handed out: one per caller, in order.
    issued: u64,
    /// Every ticket up to this one is durable.
    durable: u64,
    /// A leader is flushing now.
    flushing: bool,
}

impl GroupCommit {
    /// Returns once everything the caller wrote before calling is durable, running `flush`
    /// itself or sharing another caller's run of it. An error of the caller's own run is
    /// returned; a failed run of another caller makes this one try again as leader.
    pub fn commit<E>(&self, flush: impl Fn() -> Result<(), E>) -> Result<(), E> {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.issued += 1;
        let mine = s.issued;
        loop {
            if s.durable >= mine {
                return Ok(());
            }
            if !s.flushing {
                // Every ticket issued so far was written before this flush starts.
                let covers = s.issued;
                s.flushing = true;
                drop(s);
                let result = flush();
                s = self.state.lock().unwrap_or_else(|p| p.into_inner());
                s.flushing = false;
                if result.is_ok() {
                    s.durable = s.durable.max(covers);
                }
                self.done.notify_all();
                return result;
            }
            s = self.done.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    #[test]
    fn one_caller_flushes_once() {
        let g = GroupCommit::default();
        let n = AtomicU64::new(0);
        g.commit(|| -> Result<(), ()> {
            n.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn concurrent_callers_share_flushes_and_each_sees_its_write_flushed() {
        let g = Arc::new(GroupCommit::default());
        // `written` counts writes; a flush makes everything written so far durable.
        let written = Arc::new(AtomicU64::new(0));
        let durable = Arc::new(AtomicU64::new(0));
        let flushes = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (g, written, durable, flushes) =
                    (g.clone(), written.clone(), durable.clone(), flushes.clone());
                std::thread::spawn(move || {
                    for _ in 0..50 {
                        let me = written.fetch_add(1, Ordering::SeqCst) + 1;
                        g.commit(|| -> Result<(), ()> {
                            let upto = written.load(Ordering::SeqCst);
                            #[expect(
                                clippy::disallowed_methods,
                                reason = "a test's writer thread holds the commit open on purpose"
                            )]
                            std::thread::sleep(std::time::Duration::from_millis(1));
                            durable.fetch_max(upto, Ordering::SeqCst);
                            flushes.fetch_add(1, Ordering::SeqCst);
                            Ok(())
                        })
                        .unwrap();
                        assert!(
                            durable.load(Ordering::SeqCst) >= me,
                            "returned before durable"
                        );
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let f = flushes.load(Ordering::SeqCst);
        assert!(f < 800, "{f} flushes for 800 commits: none was shared");
    }

    #[test]
    fn a_failed_flush_is_the_leaders_error_and_the_next_caller_flushes_again() {
        let g = GroupCommit::default();
        assert_eq!(g.commit(|| Err("disk full")), Err("disk full"));
        let n = AtomicU64::new(0);
        g.commit(|| -> Result<(), ()> {
            n.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
        .unwrap();
        assert_eq!(n.load(Ordering::SeqCst), 1);
    }
}
