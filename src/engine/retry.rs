//! `retry`: LoadDensity's adaptive retry policy, as its native engine
//! applies it (its Locust path never fires): a failed request is sent again
//! while the budget of its failure's class lasts, after an exponential
//! delay with jitter; every attempt is recorded.

use std::time::Duration;

/// What kind of failure an attempt had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// The request got no response: refused, reset, closed, timed out.
    Transient,
    /// An assertion failed, or an extractor found nothing.
    Flaky,
    /// Anything else: an HTTP error status, a request that cannot be made.
    Permanent,
}

/// A task's retry policy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Retries per class: transient, flaky, permanent.
    pub budgets: [u32; 3],
    /// The first delay.
    pub base_delay: Duration,
    /// The longest delay (before jitter).
    pub max_delay: Duration,
    /// Each delay is this times the one before.
    pub backoff_factor: f64,
    /// Up to this fraction of the delay is added at random.
    pub jitter: f64,
}

impl RetryPolicy {
    /// The delay after failed attempt `attempt` (1-based):
    /// `min(max_delay, base_delay * factor^(attempt-1))`, plus up to
    /// `jitter` of that, at millisecond granularity.
    pub fn delay(&self, attempt: u32, rng: &mut fastrand::Rng) -> Duration {
        let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
        let raw = self.base_delay.as_secs_f64() * self.backoff_factor.powi(exponent);
        let capped = if raw.is_finite() {
            raw.min(self.max_delay.as_secs_f64())
        } else {
            self.max_delay.as_secs_f64()
        };
        if self.jitter <= 0.0 {
            return Duration::from_secs_f64(capped.max(0.0));
        }
        let span_ms = ((capped * self.jitter * 1000.0) as u64).max(1);
        Duration::from_secs_f64(capped.max(0.0)) + Duration::from_millis(rng.u64(0..span_ms))
    }
}

/// The retries one task execution has used.
#[derive(Clone, Copy, Debug, Default)]
pub struct Attempts {
    used: [u32; 3],
    attempt: u32,
}

impl Attempts {
    /// After a failed attempt of `class`: the delay before the next one, or
    /// `None` when that class's budget is spent.
    pub fn retry(
        &mut self,
        policy: &RetryPolicy,
        class: Class,
        rng: &mut fastrand::Rng,
    ) -> Option<Duration> {
        self.attempt += 1;
        let index = class as usize;
        if self.used[index] >= policy.budgets[index] {
            return None;
        }
        self.used[index] += 1;
        Some(policy.delay(self.attempt, rng))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            budgets: [3, 1, 0],
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(250),
            backoff_factor: 2.0,
            jitter: 0.0,
        }
    }

    #[test]
    fn delays_grow_to_the_cap_and_budgets_are_per_class() {
        let mut rng = fastrand::Rng::with_seed(1);
        let mut attempts = Attempts::default();
        let p = policy();
        assert_eq!(
            attempts.retry(&p, Class::Transient, &mut rng),
            Some(Duration::from_millis(100))
        );
        assert_eq!(
            attempts.retry(&p, Class::Flaky, &mut rng),
            Some(Duration::from_millis(200))
        );
        assert_eq!(attempts.retry(&p, Class::Flaky, &mut rng), None);
        assert_eq!(attempts.retry(&p, Class::Permanent, &mut rng), None);
        assert_eq!(
            attempts.retry(&p, Class::Transient, &mut rng),
            Some(Duration::from_millis(250))
        );
    }

    #[test]
    fn jitter_adds_at_most_its_fraction() {
        let mut rng = fastrand::Rng::with_seed(7);
        let p = RetryPolicy {
            jitter: 0.5,
            ..policy()
        };
        for _ in 0..100 {
            let d = p.delay(1, &mut rng);
            assert!(d >= Duration::from_millis(100) && d < Duration::from_millis(150));
        }
    }
}
