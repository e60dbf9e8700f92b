//! Pacing: the pause between a user's iterations (`wait_time`), and the
//! constant arrival rate schedule (`arrival_rate`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
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

fn seconds<E: de::Error>(s: f64) -> Result<Duration, E> {
    if s >= 0.0 {
        if let Ok(d) = Duration::try_from_secs_f64(s) {
            return Ok(d);
        }
    }
    Err(E::custom(format!("{s} is not a number of seconds from 0")))
}

/// `wait_time`: `0`, a number of seconds, `[min, max]` or `{"min": .., "max": ..}`.
impl<'de> Deserialize<'de> for Wait {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        #[derive(Deserialize)]
        struct MinMax {
            min: f64,
            #[serde(default)]
            max: Option<f64>,
        }
        fn between<E: de::Error>(min: f64, max: f64) -> Result<Wait, E> {
            let (min, max) = (seconds::<E>(min)?, seconds::<E>(max)?);
            if max < min {
                return Err(E::custom(format!("max {max:?} is below min {min:?}")));
            }
            Ok(if min == max {
                Wait::constant(min)
            } else {
                Wait::Between(min, max)
            })
        }
        impl<'de> Visitor<'de> for V {
            type Value = Wait;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("0, a number of seconds, [min, max] or {\"min\": .., \"max\": ..}")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Wait, E> {
                Ok(Wait::constant(seconds(v)?))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Wait, E> {
                self.visit_f64(v as f64)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Wait, E> {
                self.visit_f64(v as f64)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Wait, A::Error> {
                let (min, max) = <(f64, f64)>::deserialize(SeqAccessDeserializer::new(seq))?;
                between(min, max)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Wait, A::Error> {
                let MinMax { min, max } = MinMax::deserialize(MapAccessDeserializer::new(map))?;
                between(min, max.unwrap_or(min))
            }
        }
        d.deserialize_any(V)
    }
}

impl Wait {
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
        assert_eq!(
            serde_json::from_value::<Wait>(json!(0)).map_err(|e| e.to_string()),
            Ok(Wait::None)
        );
        assert_eq!(
            serde_json::from_value::<Wait>(json!(0.5)).map_err(|e| e.to_string()),
            Ok(Wait::Constant(Duration::from_millis(500)))
        );
        assert_eq!(
            serde_json::from_value::<Wait>(json!([1, 2])).map_err(|e| e.to_string()),
            Ok(Wait::Between(
                Duration::from_secs(1),
                Duration::from_secs(2)
            ))
        );
        assert_eq!(
            serde_json::from_value::<Wait>(json!({"min": 1, "max": 1})).map_err(|e| e.to_string()),
            Ok(Wait::Constant(Duration::from_secs(1)))
        );
        assert_eq!(
            serde_json::from_value::<Wait>(json!([2, 1])).map_err(|e| e.to_string()),
            Err("max 1s is below min 2s".to_owned())
        );
        assert!(serde_json::from_value::<Wait>(json!("soon")).is_err());
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
