//! Retry delays: exponential backoff with full jitter, capped.
//!
//! Full jitter (a uniform delay between zero and the exponential bound) spreads the retries of jobs
//! that failed together — e.g. every conversation hitting one LLM outage — instead of sending them back
//! in synchronised waves. The delay is stored as the job's `run_at`; nothing sleeps.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Bound of the first retry's delay.
    pub base: Duration,
    /// No delay exceeds this.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(600),
        }
    }
}

impl Backoff {
    /// The upper bound of the delay after `attempt` failed attempts (1-based): base × 2^(attempt−1),
    /// capped.
    pub fn bound(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(32);
        self.base
            .checked_mul(1u32 << exponent.min(31))
            .unwrap_or(self.cap)
            .min(self.cap)
    }

    /// A random delay in `[0, bound(attempt)]`.
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let bound = self.bound(attempt).as_millis() as u64;
        Duration::from_millis(rng.random_range(0..=bound))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn bound_doubles_until_the_cap() {
        let b = Backoff {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(60),
        };
        let bounds: Vec<u64> = (1..=9).map(|a| b.bound(a).as_millis() as u64).collect();
        assert_eq!(
            bounds,
            [500, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]
        );
        assert_eq!(b.bound(1000), Duration::from_secs(60));
    }

    #[test]
    fn delays_are_jittered_within_the_bound() {
        let b = Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(30),
        };
        let mut rng = StdRng::seed_from_u64(7);
        let delays: Vec<Duration> = (0..200).map(|_| b.delay(4, &mut rng)).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_secs(8)));
        // Full jitter: the delays spread over the whole range rather than clustering at the bound.
        assert!(delays.iter().any(|d| *d < Duration::from_secs(2)));
        assert!(delays.iter().any(|d| *d > Duration::from_secs(6)));
    }
}
