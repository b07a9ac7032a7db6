//! Waiting and trying again: one backoff schedule and one retry loop for everything that retries
//! — broker connections and subscriptions, re-publishes, the hub's deliveries to the stores, and
//! opening a database another process is still letting go of.
//!
//! Why one place: the loops used to be written out where they were needed, each with its own
//! idea of when to give up, how to count attempts and whether a wait may end past the limit. Here
//! a [`Retry`] says how long to wait ([`Backoff`]) and when to stop ([`Limit`]); the caller says
//! which errors are worth another attempt. The jitter keeps many clients that lost the same broker
//! or store from all coming back in the same millisecond.

use std::future::Future;
use std::time::{Duration, Instant};

use rand::Rng;

/// Delays that start at `initial` and double up to `max`, each jittered down by up to half.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

/// A backoff that cannot work as one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackoffError {
    #[error("a backoff's first delay must be longer than zero")]
    Zero,
    #[error("a backoff's first delay ({initial:?}) is longer than its longest ({max:?})")]
    Inverted { initial: Duration, max: Duration },
}

impl Backoff {
    /// A schedule from `initial` up to `max`; refuses a zero first delay and `initial > max`.
    pub fn try_new(initial: Duration, max: Duration) -> Result<Backoff, BackoffError> {
        if initial.is_zero() {
            return Err(BackoffError::Zero);
        }
        if initial > max {
            return Err(BackoffError::Inverted { initial, max });
        }
        Ok(Backoff {
            initial,
            max,
            attempt: 0,
        })
    }

    /// A schedule written in the code, known to be valid (panics otherwise, at the first use).
    pub(crate) fn fixed(initial: Duration, max: Duration) -> Backoff {
        Backoff::try_new(initial, max).expect("a backoff written in the code is valid")
    }

    /// The delay before the next attempt; each call moves the schedule on.
    pub fn next_delay(&mut self) -> Duration {
        let exp = self
            .initial
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let full = exp.as_millis() as u64;
        let jittered = rand::thread_rng().gen_range(full / 2..=full.max(1));
        Duration::from_millis(jittered)
    }

    /// Waits the next delay.
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next_delay()).await;
    }

    /// Back to the first delay, after a success.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// How many delays were handed out since the last reset.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }
}

/// When a [`Retry`] stops trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Never: the hub's own connections, which must come back whenever the broker does.
    Never,
    /// After this many attempts in all.
    Attempts(u32),
    /// When the next wait would end later than this after the first attempt.
    Time(Duration),
}

/// Why a retried operation stopped without succeeding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped<E> {
    /// An error not worth another attempt.
    Fatal(E),
    /// Still failing when the [`Limit`] was reached; `attempts` counts every try.
    GaveUp {
        attempts: u32,
        elapsed: Duration,
        last: E,
    },
}

/// A backoff and a limit: how one kind of operation is retried.
#[derive(Debug, Clone)]
pub struct Retry {
    backoff: Backoff,
    limit: Limit,
}

impl Retry {
    pub fn new(backoff: Backoff, limit: Limit) -> Retry {
        Retry { backoff, limit }
    }

    /// Runs `op` (given the attempt number, from 1) until it succeeds, fails with an error
    /// `transient` calls not worth retrying, or the limit is reached. `on_retry` hears each
    /// failure that will be tried again, with its attempt number and the wait before the next
    /// attempt (for the log).
    /// Returns the value and the attempts it took.
    pub async fn run<T, E, F, Fut>(
        &self,
        mut op: F,
        transient: impl Fn(&E) -> bool,
        mut on_retry: impl FnMut(&E, u32, Duration),
    ) -> Result<(T, u32), Stopped<E>>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut tries = Tries::new(self);
        loop {
            let attempt = tries.begin();
            match op(attempt).await {
                Ok(v) => return Ok((v, attempt)),
                Err(e) => {
                    let (e, delay) = tries.after_failure(e, &transient)?;
                    on_retry(&e, attempt, delay);
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// [`Retry::run`] for blocking code (a thread that may sleep).
    pub fn run_blocking<T, E>(
        &self,
        mut op: impl FnMut(u32) -> Result<T, E>,
        transient: impl Fn(&E) -> bool,
        mut on_retry: impl FnMut(&E, u32, Duration),
    ) -> Result<(T, u32), Stopped<E>> {
        let mut tries = Tries::new(self);
        loop {
            let attempt = tries.begin();
            match op(attempt) {
                Ok(v) => return Ok((v, attempt)),
                Err(e) => {
                    let (e, delay) = tries.after_failure(e, &transient)?;
                    on_retry(&e, attempt, delay);
                    #[expect(
                        clippy::disallowed_methods,
                        reason = "run_blocking is for blocking callers (the log's wait for its lock); async code uses run"
                    )]
                    std::thread::sleep(delay);
                }
            }
        }
    }
}

/// The bookkeeping of one run: the decision after a failure, shared by both loops.
struct Tries<'a> {
    retry: &'a Retry,
    backoff: Backoff,
    start: Instant,
    attempt: u32,
}

impl<'a> Tries<'a> {
    fn new(retry: &'a Retry) -> Self {
        let mut backoff = retry.backoff.clone();
        backoff.reset();
        Tries {
            retry,
            backoff,
            start: Instant::now(),
            attempt: 0,
        }
    }

    fn begin(&mut self) -> u32 {
        self.attempt += 1;
        self.attempt
    }

    /// The error back with the wait before the next attempt, or why there is none.
    fn after_failure<E>(
        &mut self,
        e: E,
        transient: &impl Fn(&E) -> bool,
    ) -> Result<(E, Duration), Stopped<E>> {
        if !transient(&e) {
            return Err(Stopped::Fatal(e));
        }
        let delay = self.backoff.next_delay();
        let elapsed = self.start.elapsed();
        let over = match self.retry.limit {
            Limit::Never => false,
            Limit::Attempts(n) => self.attempt >= n,
            Limit::Time(t) => elapsed + delay > t,
        };
        if over {
            return Err(Stopped::GaveUp {
                attempts: self.attempt,
                elapsed,
                last: e,
            });
        }
        Ok((e, delay))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn grows_to_the_cap_and_resets() {
        let mut b = Backoff::try_new(ms(100), ms(1000)).unwrap();
        let d: Vec<u128> = (0..8).map(|_| b.next_delay().as_millis()).collect();
        assert!((50..=100).contains(&d[0]), "{d:?}");
        assert!((100..=200).contains(&d[1]), "{d:?}");
        assert!(d[7] >= 500 && d[7] <= 1000, "capped: {d:?}");
        assert_eq!(b.attempts(), 8);
        b.reset();
        assert!(b.next_delay() <= ms(100));
    }

    #[test]
    fn a_backoff_that_cannot_work_is_refused() {
        assert_eq!(
            Backoff::try_new(ms(0), ms(10)).unwrap_err(),
            BackoffError::Zero
        );
        let e = Backoff::try_new(ms(500), ms(100)).unwrap_err();
        assert!(e.to_string().contains("longer than its longest"), "{e}");
    }

    #[test]
    fn retries_transient_errors_and_returns_the_attempts_it_took() {
        let r = Retry::new(Backoff::fixed(ms(1), ms(2)), Limit::Attempts(5));
        let mut heard = 0;
        let out = r.run_blocking(
            |n| if n < 3 { Err("busy") } else { Ok(n * 10) },
            |_| true,
            |_, _, _| heard += 1,
        );
        assert_eq!(out, Ok((30, 3)));
        assert_eq!(heard, 2);
    }

    #[test]
    fn a_fatal_error_stops_at_once_and_the_limit_names_the_attempts() {
        let r = Retry::new(Backoff::fixed(ms(1), ms(2)), Limit::Attempts(4));
        let fatal = r.run_blocking(
            |_| Err::<(), _>("refused"),
            |e| *e != "refused",
            |_, _, _| {},
        );
        assert_eq!(fatal, Err(Stopped::Fatal("refused")));
        match r.run_blocking(|_| Err::<(), _>("busy"), |_| true, |_, _, _| {}) {
            Err(Stopped::GaveUp { attempts, last, .. }) => {
                assert_eq!((attempts, last), (4, "busy"))
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn a_time_limit_never_plans_a_wait_past_its_end() {
        let r = Retry::new(Backoff::fixed(ms(20), ms(20)), Limit::Time(ms(100)));
        let mut planned = Duration::ZERO;
        let out = r
            .run(
                |_| async { Err::<(), _>("down") },
                |_| true,
                |_, _, d| planned += d,
            )
            .await;
        assert!(matches!(out, Err(Stopped::GaveUp { .. })), "{out:?}");
        // Each wait began after the ones before had passed, so together they fit the limit.
        assert!(planned <= ms(100), "{planned:?}");
    }
}
