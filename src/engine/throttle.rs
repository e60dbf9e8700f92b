//! `throttle`: token buckets shared by every user of a test, one per key.
//!
//! LoadDensity's bucket lets every waiting user through at once (a waiter
//! sleeps its deficit, then takes a token by force: 5 users at 2 rps make
//! ~10 rps). Here a token is *reserved* under the lock: the bucket may go
//! below zero, and each waiter sleeps until its own token is due, so the
//! waiters are spaced 1/rps apart whatever their number.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::lock;

/// A token bucket: starts full with `burst` tokens, refills at `rps`.
#[derive(Debug)]
pub struct Bucket {
    rps: f64,
    burst: f64,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    /// Tokens now (below zero: tokens reserved ahead).
    tokens: f64,
    /// When `tokens` was last brought up to date.
    at: Instant,
}

impl Bucket {
    /// A full bucket of `burst` tokens refilled at `rps` per second (both
    /// positive and finite: checked where tasks are compiled).
    pub fn new(rps: f64, burst: u32) -> Bucket {
        Bucket {
            rps,
            burst: f64::from(burst.max(1)),
            state: Mutex::new(State {
                tokens: f64::from(burst.max(1)),
                at: Instant::now(),
            }),
        }
    }

    /// The rate.
    pub fn rps(&self) -> f64 {
        self.rps
    }

    /// The burst.
    pub fn burst(&self) -> u32 {
        self.burst as u32
    }

    /// Takes a token: `None` when one is there now, else the instant the
    /// reserved token is due (the caller sleeps until then).
    pub fn reserve(&self) -> Option<Instant> {
        let now = Instant::now();
        let mut state = lock(&self.state);
        let elapsed = now.saturating_duration_since(state.at).as_secs_f64();
        state.tokens = (state.tokens + elapsed * self.rps).min(self.burst) - 1.0;
        state.at = now;
        if state.tokens >= 0.0 {
            return None;
        }
        let wait = Duration::try_from_secs_f64(-state.tokens / self.rps).unwrap_or(Duration::MAX);
        Some(
            now.checked_add(wait)
                .unwrap_or(now + Duration::from_secs(86_400)),
        )
    }
}

/// The buckets of one test, by key: the first task to name a key sets its
/// rate and burst, as in LoadDensity.
#[derive(Debug, Default)]
pub struct Throttles {
    buckets: HashMap<String, Arc<Bucket>>,
}

impl Throttles {
    /// The bucket of `key`, made with `rps` and `burst` if it is new; and
    /// whether an existing one has another rate or burst (kept).
    pub fn bucket(&mut self, key: &str, rps: f64, burst: u32) -> (Arc<Bucket>, bool) {
        if let Some(bucket) = self.buckets.get(key) {
            let differs = bucket.rps != rps || bucket.burst() != burst.max(1);
            return (Arc::clone(bucket), differs);
        }
        let bucket = Arc::new(Bucket::new(rps, burst));
        self.buckets.insert(key.to_owned(), Arc::clone(&bucket));
        (bucket, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_are_spaced_not_released_together() {
        let bucket = Bucket::new(10.0, 2);
        assert_eq!(bucket.reserve(), None);
        assert_eq!(bucket.reserve(), None);
        let now = Instant::now();
        let third = bucket
            .reserve()
            .map(|due| due.saturating_duration_since(now));
        let fourth = bucket
            .reserve()
            .map(|due| due.saturating_duration_since(now));
        let (Some(third), Some(fourth)) = (third, fourth) else {
            panic!("the bucket was empty: {third:?} {fourth:?}");
        };
        assert!(third <= Duration::from_millis(100) && third > Duration::from_millis(80));
        assert!(fourth > Duration::from_millis(180) && fourth <= Duration::from_millis(200));
    }

    #[test]
    fn the_first_task_of_a_key_sets_it() {
        let mut throttles = Throttles::default();
        let (a, differs) = throttles.bucket("k", 2.0, 2);
        assert!(!differs);
        let (b, differs) = throttles.bucket("k", 5.0, 5);
        assert!(differs);
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(b.rps(), 2.0);
    }
}
