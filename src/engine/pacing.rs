//! Pacing: the pause between a user's iterations (`wait_time`), and the
//! constant arrival rate schedule (`arrival_rate`).

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use std::fmt;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

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

/// `wait_time`'s schema: what [`Wait`]'s visitor takes.
impl schemars::JsonSchema for Wait {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "WaitTime".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "The pause after each iteration, seconds: 0, a number, [min, max] or {\"min\": .., \"max\": ..}",
            "anyOf": [
                {"type": "number", "minimum": 0},
                {"type": "array", "prefixItems": [{"type": "number", "minimum": 0}, {"type": "number", "minimum": 0}], "minItems": 2, "maxItems": 2},
                {"type": "object", "properties": {"min": {"type": "number", "minimum": 0}, "max": {"type": ["number", "null"], "minimum": 0}}, "required": ["min"], "additionalProperties": false}
            ]
        })
    }
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
///
/// The rate can change while the test runs ([`Arrivals::set_rate`]): the
/// schedule goes on from that moment at the new rate, in phase (the part
/// of the old interval still to run is run as the same part of the new
/// one: no burst, no gap). Iterations already due stay due as scheduled
/// (a test behind its schedule stays behind); users waiting for a slot not
/// yet due are woken and take one of the new schedule.
#[derive(Debug)]
pub struct Arrivals {
    schedule: Mutex<Schedule>,
    /// The schedule's epoch, bumped by each change of rate.
    changes: watch::Sender<u64>,
}

/// Evenly spaced slots: slot `k` (from `first`) is due at
/// `origin + (k - first) * interval`.
#[derive(Clone, Copy, Debug)]
struct Segment {
    origin: Instant,
    interval: Duration,
    first: u64,
}

impl Segment {
    fn due(&self, k: u64) -> Instant {
        let n = u128::from(k.saturating_sub(self.first));
        let offset = self.interval.as_nanos().saturating_mul(n);
        self.origin + Duration::from_nanos(u64::try_from(offset).unwrap_or(u64::MAX))
    }

    /// The first slot due after `now`.
    fn first_after(&self, now: Instant) -> u64 {
        if now < self.origin || self.interval.is_zero() {
            return self.first;
        }
        let since = (now - self.origin).as_nanos() / self.interval.as_nanos();
        self.first
            .saturating_add(u64::try_from(since).unwrap_or(u64::MAX))
            .saturating_add(1)
    }
}

/// How many past changes of rate a waiting user's slot is checked against;
/// a slot older than that is given up (one arrival missed, never one run
/// twice).
const REMEMBERED_CHANGES: usize = 8;

#[derive(Debug)]
struct Schedule {
    rate: f64,
    /// Slots due before the last change and not yet claimed: `(their
    /// times, the first slot after them)`.
    owed: Option<(Segment, u64)>,
    current: Segment,
    /// The next slot to claim.
    next: u64,
    epoch: u64,
    /// When the last changes were made, by epoch modulo [`REMEMBERED_CHANGES`].
    changed_at: [Instant; REMEMBERED_CHANGES],
}

impl Schedule {
    fn due(&self, k: u64) -> Instant {
        match self.owed {
            Some((owed, end)) if k < end => owed.due(k),
            _ => self.current.due(k),
        }
    }

    fn claim(&mut self) -> Slot {
        let k = self.next;
        self.next = self.next.saturating_add(1);
        Slot {
            due: self.due(k),
            epoch: self.epoch,
        }
    }
}

/// A claimed iteration: when it is due, and under which schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// When the iteration is due.
    pub due: Instant,
    epoch: u64,
}

fn interval(rate: f64) -> Option<Duration> {
    Duration::try_from_secs_f64(1.0 / rate).ok()
}

impl Arrivals {
    /// `rate` iterations per second from `start`.
    pub fn new(start: Instant, rate: f64) -> Option<Arrivals> {
        let interval = interval(rate)?;
        Some(Arrivals {
            schedule: Mutex::new(Schedule {
                rate,
                owed: None,
                current: Segment {
                    origin: start,
                    interval,
                    first: 0,
                },
                next: 0,
                epoch: 0,
                changed_at: [start; REMEMBERED_CHANGES],
            }),
            changes: watch::Sender::new(0),
        })
    }

    fn schedule(&self) -> MutexGuard<'_, Schedule> {
        self.schedule.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The rate now, in iterations per second.
    pub fn rate(&self) -> f64 {
        self.schedule().rate
    }

    /// The next unclaimed iteration.
    pub fn claim(&self) -> Slot {
        self.schedule().claim()
    }

    /// Whether `slot` still stands: claimed under the schedule now, or due
    /// before the change of rate that followed its claim.
    pub fn holds(&self, slot: &Slot) -> bool {
        let schedule = self.schedule();
        if slot.epoch == schedule.epoch {
            return true;
        }
        let since = schedule.epoch.saturating_sub(slot.epoch);
        let after = slot.epoch.wrapping_add(1) as usize % REMEMBERED_CHANGES;
        since <= REMEMBERED_CHANGES as u64 && slot.due <= schedule.changed_at[after]
    }

    /// Runs at `rate` iterations per second from `now` (see [`Arrivals`]);
    /// `None` (nothing changed) when `rate` makes no interval.
    pub fn set_rate(&self, rate: f64, now: Instant) -> Option<()> {
        let new = interval(rate)?;
        let mut s = self.schedule();
        // Slots due by now keep their times; the first one after now is
        // where the new rate starts, at the same phase.
        let start = s.current.first_after(now).max(s.current.first);
        if s.next < start {
            let owed = match s.owed {
                // Still owing from an earlier change: one even spread from
                // the next owed slot to the last one due now.
                Some((_, end)) if s.next < end => {
                    let (from, to) = (s.due(s.next), s.due(start - 1));
                    let steps = u32::try_from(start - 1 - s.next).unwrap_or(u32::MAX).max(1);
                    Segment {
                        origin: from,
                        interval: (to - from) / steps,
                        first: s.next,
                    }
                }
                _ => s.current,
            };
            s.owed = Some((owed, start));
        } else {
            // Slots claimed but not due yet are given up and claimed again.
            s.owed = None;
            s.next = start;
        }
        let left = s.current.due(start).saturating_duration_since(now);
        let phase = if s.current.interval.is_zero() {
            0.0
        } else {
            (left.as_secs_f64() / s.current.interval.as_secs_f64()).min(1.0)
        };
        s.current = Segment {
            origin: now + new.mul_f64(phase),
            interval: new,
            first: start,
        };
        s.rate = rate;
        s.epoch = s.epoch.wrapping_add(1);
        let epoch = s.epoch;
        s.changed_at[epoch as usize % REMEMBERED_CHANGES] = now;
        drop(s);
        self.changes.send_replace(epoch);
        Some(())
    }

    /// Waits for this user's next iteration: claims a slot and sleeps until
    /// it is due; a slot a change of rate gave up is claimed again. When
    /// the iteration was due; `None` when `done` comes first.
    pub async fn next_due(&self, done: &CancellationToken) -> Option<Instant> {
        let mut changes = self.changes.subscribe();
        let mut slot = self.claim();
        loop {
            tokio::select! {
                biased;
                () = done.cancelled() => return None,
                () = tokio::time::sleep_until(slot.due) => {}
                Ok(()) = changes.changed() => {}
            }
            if !self.holds(&slot) {
                slot = self.claim();
            } else if slot.due <= Instant::now() {
                return Some(slot.due);
            }
        }
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
        assert_eq!(a.claim().due, start);
        assert_eq!(a.claim().due, start + Duration::from_millis(250));
        assert_eq!(a.claim().due, start + Duration::from_millis(500));
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_new_rate_goes_on_in_phase_and_waiting_slots_are_claimed_again() {
        let start = Instant::now();
        let a = Arrivals::new(start, 4.0).expect("rate");
        let due_now = a.claim(); // 0 ms
        let waiting = a.claim(); // 250 ms, not due at 100 ms
                                 // At 100 ms, 150 of the 250 ms interval are left: 60% of the new
                                 // 100 ms interval.
        a.set_rate(10.0, start + ms(100)).expect("rate");
        assert_eq!(a.rate(), 10.0);
        assert!(a.holds(&due_now), "due before the change");
        assert!(!a.holds(&waiting), "not due yet: given up");
        assert_eq!(a.claim().due, start + ms(160));
        assert_eq!(a.claim().due, start + ms(260));
        assert_eq!(a.claim().due, start + ms(360));
    }

    #[test]
    fn a_schedule_behind_keeps_what_is_owed_then_runs_at_the_new_rate() {
        let start = Instant::now();
        let a = Arrivals::new(start, 10.0).expect("rate");
        assert_eq!(a.claim().due, start);
        // At 250 ms no user took the slots due at 100 and 200 ms: still owed.
        a.set_rate(2.0, start + ms(250)).expect("rate");
        assert_eq!(a.claim().due, start + ms(100));
        assert_eq!(a.claim().due, start + ms(200));
        // 50 of 100 ms left: half of the new 500 ms.
        assert_eq!(a.claim().due, start + ms(500));
        assert_eq!(a.claim().due, start + ms(1000));
        // Slowing down while still owing, then a burst of changes: no slot
        // is ever due before an earlier one.
        let b = Arrivals::new(start, 100.0).expect("rate");
        b.set_rate(50.0, start + ms(95)).expect("rate");
        b.set_rate(1000.0, start + ms(135)).expect("rate");
        let dues: Vec<Instant> = (0..40).map(|_| b.claim().due).collect();
        assert!(dues.windows(2).all(|w| w[0] <= w[1]), "{dues:?}");
        assert!(dues[0] == start && dues[39] > start + ms(135));
        assert!(Arrivals::new(start, 0.0).is_none());
        assert!(a.set_rate(0.0, start).is_none(), "no interval: refused");
    }

    #[tokio::test(start_paused = true)]
    async fn a_user_waiting_for_a_slot_takes_one_of_the_new_rate() {
        let start = Instant::now();
        let a = std::sync::Arc::new(Arrivals::new(start, 1.0).expect("rate"));
        let done = CancellationToken::new();
        assert_eq!(a.next_due(&done).await, Some(start));
        let waiter = tokio::spawn({
            let (a, done) = (std::sync::Arc::clone(&a), done.clone());
            async move { a.next_due(&done).await }
        });
        tokio::time::sleep(ms(100)).await;
        // Its slot was due at 1 s; at 100 ms the rate becomes 100 per
        // second: the next slot is 9 ms later (900 of 1,000 ms left).
        a.set_rate(100.0, Instant::now()).expect("rate");
        let due = waiter.await.expect("waiter");
        assert_eq!(due, Some(start + ms(109)));
        done.cancel();
        assert_eq!(a.next_due(&done).await, None);
    }
}
