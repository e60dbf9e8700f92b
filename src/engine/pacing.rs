//! Pacing: the pause between a user's iterations (`wait_time`), and the
//! constant arrival rate schedule (`arrival_rate`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

/// The pause after each iteration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Wait {
    /// None: as fast as possible.
    None,
    /// Always this long.
    Constant(Duration),
    /// Uniformly between the two.
    Between(Duration, Duration),
}

impl Default for Wait {
    /// LoadDensity's users wait 0.1 to 0.2 s.
    fn default() -> Self {
        Wait::Between(Duration::from_millis(100), Duration::from_millis(200))
    }
}

fn seconds(value: &Value) -> Result<Duration, String> {
    value
        .as_f64()
        .filter(|s| *s >= 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .ok_or_else(|| format!("{value} is not a number of seconds from 0"))
}

impl Wait {
    /// Parses `wait_time`: `0`, a number of seconds, `[min, max]` or
    /// `{"min": .., "max": ..}`.
    pub fn parse(value: &Value) -> Result<Wait, String> {
        let between = |min: &Value, max: &Value| {
            let (min, max) = (seconds(min)?, seconds(max)?);
            if max < min {
                return Err(format!("wait_time: max {max:?} is below min {min:?}"));
            }
            Ok(if min == max {
                Wait::constant(min)
            } else {
                Wait::Between(min, max)
            })
        };
        match value {
            Value::Number(_) => Ok(Wait::constant(
                seconds(value).map_err(|e| format!("wait_time: {e}"))?,
            )),
            Value::Array(pair) if pair.len() == 2 => between(&pair[0], &pair[1]),
            Value::Object(map) => match (map.get("min"), map.get("max")) {
                (Some(min), Some(max)) => between(min, max),
                (Some(min), None) => between(min, min),
                _ => Err("wait_time: {\"min\": .., \"max\": ..} needs min".into()),
            },
            _ => Err(
                "wait_time: give 0, a number of seconds, [min, max] or {\"min\": .., \"max\": ..}"
                    .into(),
            ),
        }
    }

    fn constant(d: Duration) -> Wait {
        if d.is_zero() {
            Wait::None
        } else {
            Wait::Constant(d)
        }
    }

    /// The next pause.
    pub fn next(&self, rng: &mut fastrand::Rng) -> Option<Duration> {
        match *self {
            Wait::None => None,
            Wait::Constant(d) => Some(d),
            Wait::Between(min, max) => {
                let span = (max - min).as_nanos().min(u128::from(u64::MAX)) as u64;
                Some(min + Duration::from_nanos(rng.u64(0..=span)))
            }
        }
    }
}

/// A constant arrival rate across all users: iteration `k` is due at
/// `start + k / rate`, whoever runs it. Latency is measured from when an
/// iteration was due, so a slow target cannot hide behind fewer arrivals.
#[derive(Debug)]
pub struct Arrivals {
    start: Instant,
    interval: Duration,
    next: AtomicU64,
}

impl Arrivals {
    /// `rate` iterations per second from `start`.
    pub fn new(start: Instant, rate: f64) -> Option<Arrivals> {
        let interval = Duration::try_from_secs_f64(1.0 / rate).ok()?;
        Some(Arrivals {
            start,
            interval,
            next: AtomicU64::new(0),
        })
    }

    /// When the next unclaimed iteration is due.
    pub fn claim(&self) -> Instant {
        let k = self.next.fetch_add(1, Ordering::Relaxed);
        let offset = self.interval.as_nanos().saturating_mul(u128::from(k));
        self.start + Duration::from_nanos(u64::try_from(offset).unwrap_or(u64::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wait_forms() {
        assert_eq!(Wait::parse(&json!(0)), Ok(Wait::None));
        assert_eq!(
            Wait::parse(&json!(0.5)),
            Ok(Wait::Constant(Duration::from_millis(500)))
        );
        assert_eq!(
            Wait::parse(&json!([1, 2])),
            Ok(Wait::Between(
                Duration::from_secs(1),
                Duration::from_secs(2)
            ))
        );
        assert_eq!(
            Wait::parse(&json!({"min": 1, "max": 1})),
            Ok(Wait::Constant(Duration::from_secs(1)))
        );
        assert!(Wait::parse(&json!([2, 1])).is_err());
        assert!(Wait::parse(&json!("soon")).is_err());
        let mut rng = fastrand::Rng::with_seed(1);
        for _ in 0..100 {
            let d = Wait::default().next(&mut rng).unwrap_or_default();
            assert!(d >= Duration::from_millis(100) && d <= Duration::from_millis(200));
        }
    }

    #[test]
    fn arrivals_are_evenly_spaced() {
        let start = Instant::now();
        let a = Arrivals::new(start, 4.0).expect("rate");
        assert_eq!(a.claim(), start);
        assert_eq!(a.claim(), start + Duration::from_millis(250));
        assert_eq!(a.claim(), start + Duration::from_millis(500));
    }
}
