//! Exponential backoff with jitter, shared by reconnects and re-publishes, so that many
//! publishers that lost the same broker do not all come back in the same millisecond.

use std::time::Duration;

use rand::Rng;

/// A backoff schedule: `initial`, doubling up to `max`, each delay jittered down by up to half.
#[derive(Debug, Clone)]
pub struct Backoff {
    pub initial: Duration,
    pub max: Duration,
    attempt: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(Duration::from_millis(200), Duration::from_secs(10))
    }
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            initial,
            max,
            attempt: 0,
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(1000));
        let d: Vec<u128> = (0..8).map(|_| b.next_delay().as_millis()).collect();
        assert!((50..=100).contains(&d[0]), "{d:?}");
        assert!((100..=200).contains(&d[1]), "{d:?}");
        assert!(d[7] >= 500 && d[7] <= 1000, "capped: {d:?}");
        assert_eq!(b.attempts(), 8);
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
