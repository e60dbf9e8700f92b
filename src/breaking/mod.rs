//! The breaking-point search of `LD_find_breaking_point`: LoadDensity's
//! binary search (`je_load_density/utils/ai/smart_shape.py`), as a state
//! machine the action drives one probe at a time ([`Search`]), the limits
//! a probe is judged by ([`Limits`]), what the search found ([`Outcome`]),
//! and the slot that holds the running search ([`SearchSlot`]) so
//! `LD_stop_test` can stop it and no test starts between its probes.

mod slot;

pub use slot::{SearchClaim, SearchSlot};

use serde::{Serialize, Serializer};
use serde_json::{json, Map, Value};

/// What the search moves: the users of a closed-model test, or the
/// arrival rate (iterations per second) of an open-model one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Searched {
    /// The users (LoadDensity's search): `safe_users`, `breaking_users`.
    Users,
    /// The arrival rate, `users` users serving it: `safe_arrival_rate`,
    /// `breaking_arrival_rate`.
    ArrivalRate {
        /// The users serving the arrivals, at every probe.
        users: u64,
    },
}

impl Searched {
    /// The search's name, as the `search` argument spells it.
    pub fn name(self) -> &'static str {
        match self {
            Searched::Users => "users",
            Searched::ArrivalRate { .. } => "arrival_rate",
        }
    }
}

/// The levels searched and how many probes at most.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// The lowest level probed (at least 1).
    pub min: u64,
    /// The highest level probed (more than `min`).
    pub max: u64,
    /// Probes at most (at least 1).
    pub max_iterations: u32,
}

/// A latency a probe must stay within: its `percentile` (0 to 100, over
/// every request name) at most `limit_ms`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatencyLimit {
    /// The percentile judged, over 0 and at most 100.
    pub percentile: f64,
    /// The most it may be, in milliseconds.
    pub limit_ms: f64,
}

/// What makes a probe unsafe: a failure rate over `failure_threshold`
/// (LoadDensity's rule), or, when given, a latency over its limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// The highest failure rate (0 to 1) a safe probe may have.
    pub failure_threshold: f64,
    /// A latency limit, if any.
    pub latency: Option<LatencyLimit>,
}

/// What one probe measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Measured {
    /// Users that ran.
    pub users: u64,
    /// Requests completed (answered or failed).
    pub requests: u64,
    /// Of them, failed.
    pub failures: u64,
    /// Requests abandoned unanswered at the probe's end: counted as failures
    /// in its failure rate.
    pub abandoned: u64,
    /// Latency percentiles over every name, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// The latency limit's percentile, ms, when there is a limit.
    pub latency_ms: Option<f64>,
}

impl Measured {
    /// `(failures + abandoned) / (requests + abandoned)`; 1 when the probe
    /// completed no request at all (a target that answers nothing is broken).
    pub fn failure_rate(&self) -> f64 {
        let tried = self.requests + self.abandoned;
        if tried == 0 {
            1.0
        } else {
            (self.failures + self.abandoned) as f64 / tried as f64
        }
    }
}

/// One probe of the search: its level, what it measured, its verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    /// The level probed (users, or iterations per second).
    pub level: u64,
    /// What it measured.
    pub measured: Measured,
    /// Whether it stayed within the limits.
    pub safe: bool,
    /// Why it is unsafe (`None` when safe).
    pub reason: Option<String>,
}

impl Limits {
    /// Judges `measured`: `None` when safe, else why not.
    pub fn judge(&self, measured: &Measured) -> Option<String> {
        let rate = measured.failure_rate();
        if rate > self.failure_threshold {
            return Some(if measured.requests + measured.abandoned == 0 {
                "no request completed".to_owned()
            } else {
                format!(
                    "failure rate {rate:.4} over failure_threshold {}",
                    self.failure_threshold
                )
            });
        }
        let limit = self.latency?;
        let latency = measured.latency_ms.unwrap_or(0.0);
        (latency > limit.limit_ms).then(|| {
            format!(
                "p{} latency {latency:.1} ms over latency_limit_ms {}",
                limit.percentile, limit.limit_ms
            )
        })
    }
}

/// LoadDensity's binary search, one probe at a time: [`Search::next`]
/// says which level to probe, [`Search::record`] takes what it measured.
/// `mid = (lo + hi) // 2`; a safe level moves `lo` above it, an unsafe
/// one `hi` below it; it ends when `lo > hi` or after `max_iterations`
/// probes.
#[derive(Clone, Debug)]
pub struct Search {
    bounds: Bounds,
    limits: Limits,
    lo: u64,
    hi: u64,
    last_safe: u64,
    history: Vec<Probe>,
}

impl Search {
    /// A search within `bounds`, judged by `limits`.
    pub fn new(bounds: Bounds, limits: Limits) -> Search {
        Search {
            bounds,
            limits,
            lo: bounds.min,
            hi: bounds.max,
            last_safe: 0,
            history: Vec::new(),
        }
    }

    /// The next level to probe; `None` when the search is over.
    pub fn next(&self) -> Option<u64> {
        let probed = u32::try_from(self.history.len()).unwrap_or(u32::MAX);
        (probed < self.bounds.max_iterations && self.lo <= self.hi)
            .then(|| self.lo + (self.hi - self.lo) / 2)
    }

    /// Takes what the probe of `level` (the one [`Search::next`] gave)
    /// measured; returns whether it was safe.
    pub fn record(&mut self, level: u64, measured: Measured) -> bool {
        let reason = self.limits.judge(&measured);
        let safe = reason.is_none();
        if safe {
            self.last_safe = level;
            self.lo = level.saturating_add(1);
        } else {
            // `level >= min >= 1`.
            self.hi = level.saturating_sub(1);
        }
        self.history.push(Probe {
            level,
            measured,
            safe,
            reason,
        });
        safe
    }

    /// The highest safe level probed last (LoadDensity's `last_safe`): 0
    /// when none was safe.
    pub fn safe(&self) -> u64 {
        self.last_safe
    }

    /// The lowest unsafe level probed, if any.
    pub fn breaking(&self) -> Option<u64> {
        self.history
            .iter()
            .filter(|p| !p.safe)
            .map(|p| p.level)
            .min()
    }

    /// The probes so far, in order.
    pub fn history(&self) -> &[Probe] {
        &self.history
    }

    /// The search's outcome so far.
    pub fn outcome(&self, searched: Searched, stopped_early: bool) -> Outcome {
        Outcome {
            searched,
            bounds: self.bounds,
            limits: self.limits,
            safe: self.safe(),
            breaking: self.breaking(),
            history: self.history.clone(),
            stopped_early,
            kept: None,
        }
    }
}

/// What a search found: `LD_find_breaking_point`'s result (with the
/// probe time and the probe kept in the records added by the action), and
/// the reports' table of probes.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// What was searched.
    pub searched: Searched,
    /// Within what.
    pub bounds: Bounds,
    /// Judged by what.
    pub limits: Limits,
    /// The highest safe level (0 when none was).
    pub safe: u64,
    /// The lowest unsafe level probed, if any.
    pub breaking: Option<u64>,
    /// Every probe judged, in order.
    pub history: Vec<Probe>,
    /// Whether `LD_stop_test` (or shutdown) stopped the search; the probe
    /// then under way is not in `history`.
    pub stopped_early: bool,
    /// The level of the probe whose figures the records keep, if any.
    pub kept: Option<u64>,
}

impl Outcome {
    /// The level's key in the result and history (`users`, `arrival_rate`).
    fn level_key(&self) -> &'static str {
        match self.searched {
            Searched::Users => "users",
            Searched::ArrivalRate { .. } => "arrival_rate",
        }
    }

    /// One history entry as the result shows it.
    pub fn probe_json(&self, probe: &Probe) -> Value {
        let m = &probe.measured;
        let mut entry = Map::new();
        // A users search's level is its users.
        entry.insert("users".into(), json!(m.users));
        entry.insert(self.level_key().into(), json!(probe.level));
        for (key, value) in [
            ("failure_rate", json!(m.failure_rate())),
            ("requests", json!(m.requests)),
            ("failures", json!(m.failures)),
            ("abandoned", json!(m.abandoned)),
            ("p50_ms", json!(m.p50_ms)),
            ("p95_ms", json!(m.p95_ms)),
            ("p99_ms", json!(m.p99_ms)),
        ] {
            entry.insert(key.into(), value);
        }
        if let Some(latency) = m.latency_ms {
            entry.insert("latency_ms".into(), json!(latency));
        }
        entry.insert("safe".into(), json!(probe.safe));
        if let Some(reason) = &probe.reason {
            entry.insert("reason".into(), json!(reason));
        }
        Value::Object(entry)
    }

    /// The outcome as `LD_find_breaking_point`'s result shows it.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        match self.searched {
            Searched::Users => {
                map.insert("safe_users".into(), json!(self.safe));
                map.insert("breaking_users".into(), json!(self.breaking));
            }
            Searched::ArrivalRate { users } => {
                map.insert("safe_arrival_rate".into(), json!(self.safe));
                map.insert("breaking_arrival_rate".into(), json!(self.breaking));
                map.insert("users".into(), json!(users));
            }
        }
        let history: Vec<Value> = self.history.iter().map(|p| self.probe_json(p)).collect();
        map.insert("history".into(), Value::Array(history));
        map.insert("search".into(), json!(self.searched.name()));
        let (min, max) = match self.searched {
            Searched::Users => ("min_users", "max_users"),
            Searched::ArrivalRate { .. } => ("min_rate", "max_rate"),
        };
        map.insert(min.into(), json!(self.bounds.min));
        map.insert(max.into(), json!(self.bounds.max));
        map.insert(
            "failure_threshold".into(),
            json!(self.limits.failure_threshold),
        );
        map.insert("max_iterations".into(), json!(self.bounds.max_iterations));
        if let Some(limit) = self.limits.latency {
            map.insert("latency_percentile".into(), json!(limit.percentile));
            map.insert("latency_limit_ms".into(), json!(limit.limit_ms));
        }
        map.insert("stopped_early".into(), json!(self.stopped_early));
        map.insert("records_from".into(), json!(self.kept));
        Value::Object(map)
    }

    /// An outcome read back from its [`Outcome::to_json`] form (as the
    /// last run's parameters keep it); `None` when `value` is not one.
    pub fn from_json(value: &Value) -> Option<Outcome> {
        let count = |key: &str| value.get(key).and_then(Value::as_u64);
        let searched = match value.get("search")?.as_str()? {
            "users" => Searched::Users,
            "arrival_rate" => Searched::ArrivalRate {
                users: count("users")?,
            },
            _ => return None,
        };
        let (safe, breaking, min, max) = match searched {
            Searched::Users => ("safe_users", "breaking_users", "min_users", "max_users"),
            Searched::ArrivalRate { .. } => (
                "safe_arrival_rate",
                "breaking_arrival_rate",
                "min_rate",
                "max_rate",
            ),
        };
        let mut outcome = Outcome {
            searched,
            bounds: Bounds {
                min: count(min)?,
                max: count(max)?,
                max_iterations: u32::try_from(count("max_iterations")?).ok()?,
            },
            limits: Limits {
                failure_threshold: value.get("failure_threshold")?.as_f64()?,
                latency: match (
                    value.get("latency_percentile").and_then(Value::as_f64),
                    value.get("latency_limit_ms").and_then(Value::as_f64),
                ) {
                    (Some(percentile), Some(limit_ms)) => Some(LatencyLimit {
                        percentile,
                        limit_ms,
                    }),
                    _ => None,
                },
            },
            safe: count(safe)?,
            breaking: count(breaking),
            history: Vec::new(),
            stopped_early: value.get("stopped_early")?.as_bool()?,
            kept: count("records_from"),
        };
        let level_key = outcome.level_key();
        for entry in value.get("history")?.as_array()? {
            let count = |key: &str| entry.get(key).and_then(Value::as_u64);
            let ms = |key: &str| entry.get(key).and_then(Value::as_f64);
            let level = count(level_key)?;
            outcome.history.push(Probe {
                level,
                measured: Measured {
                    users: count("users")?,
                    requests: count("requests")?,
                    failures: count("failures")?,
                    abandoned: count("abandoned")?,
                    p50_ms: ms("p50_ms")?,
                    p95_ms: ms("p95_ms")?,
                    p99_ms: ms("p99_ms")?,
                    latency_ms: ms("latency_ms"),
                },
                safe: entry.get("safe")?.as_bool()?,
                reason: entry
                    .get("reason")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            });
        }
        Some(outcome)
    }
}

impl Serialize for Outcome {
    /// As [`Outcome::to_json`].
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(failure_threshold: f64) -> Limits {
        Limits {
            failure_threshold,
            latency: None,
        }
    }

    /// Runs a search whose probe of `n` has failure rate `rate(n)`.
    fn run(bounds: Bounds, threshold: f64, rate: impl Fn(u64) -> f64) -> Search {
        let mut search = Search::new(bounds, limits(threshold));
        while let Some(level) = search.next() {
            let failures = (rate(level) * 1000.0).round() as u64;
            search.record(
                level,
                Measured {
                    users: level,
                    requests: 1000,
                    failures,
                    ..Measured::default()
                },
            );
        }
        search
    }

    fn bounds(min: u64, max: u64) -> Bounds {
        Bounds {
            min,
            max,
            max_iterations: 12,
        }
    }

    fn levels(search: &Search) -> Vec<u64> {
        search.history().iter().map(|p| p.level).collect()
    }

    #[test]
    fn converges_on_the_breaking_point_as_loaddensity_does() {
        let bounds = bounds(1, 64);
        let search = run(bounds, 0.0, |n| if n > 13 { 0.5 } else { 0.0 });
        // LoadDensity's sequence: (1+64)//2 = 32, 16, 8, 12, 14, 13.
        assert_eq!(levels(&search), [32, 16, 8, 12, 14, 13]);
        assert_eq!((search.safe(), search.breaking()), (13, Some(14)));
    }

    #[test]
    fn nothing_safe_is_zero_and_iterations_bound_the_probes() {
        let bounds = bounds(1, 1000);
        let search = run(bounds, 0.01, |_| 1.0);
        assert_eq!(levels(&search), [500, 250, 125, 62, 31, 15, 7, 3, 1]);
        assert_eq!((search.safe(), search.breaking()), (0, Some(1)));
        let all_safe = run(bounds, 0.01, |_| 0.01);
        assert_eq!(all_safe.safe(), 1000);
        assert_eq!(all_safe.breaking(), None);
        let short = run(
            Bounds {
                max_iterations: 3,
                ..bounds
            },
            0.01,
            |_| 0.0,
        );
        assert_eq!(levels(&short), [500, 750, 875]);
    }

    #[test]
    fn latency_and_empty_probes_are_unsafe() {
        let limits = Limits {
            failure_threshold: 0.01,
            latency: Some(LatencyLimit {
                percentile: 95.0,
                limit_ms: 200.0,
            }),
        };
        let slow = Measured {
            requests: 10,
            latency_ms: Some(200.5),
            ..Measured::default()
        };
        assert_eq!(
            limits.judge(&slow).as_deref(),
            Some("p95 latency 200.5 ms over latency_limit_ms 200")
        );
        let fast = Measured {
            latency_ms: Some(200.0),
            ..slow.clone()
        };
        assert_eq!(limits.judge(&fast), None);
        let nothing = Measured::default();
        assert_eq!(nothing.failure_rate(), 1.0);
        assert_eq!(
            limits.judge(&nothing).as_deref(),
            Some("no request completed")
        );
        let abandoned = Measured {
            requests: 3,
            abandoned: 1,
            ..Measured::default()
        };
        assert_eq!(abandoned.failure_rate(), 0.25);
    }

    #[test]
    fn result_names_the_level_searched() {
        let bounds = bounds(1, 4);
        let search = run(bounds, 0.0, |n| if n > 2 { 1.0 } else { 0.0 });
        let users = search.outcome(Searched::Users, false).to_json();
        assert_eq!(users["safe_users"], json!(2));
        assert_eq!(users["breaking_users"], json!(3));
        assert_eq!(users["history"][0]["users"], json!(2));
        assert_eq!(users["history"][0]["failure_rate"], json!(0.0));
        let rate = search
            .outcome(Searched::ArrivalRate { users: 7 }, false)
            .to_json();
        assert_eq!(rate["safe_arrival_rate"], json!(2));
        assert_eq!(rate["history"][1]["arrival_rate"], json!(3));
        assert_eq!(rate["history"][1]["users"], json!(3));
        assert_eq!(rate["users"], json!(7));
        assert!(rate.get("safe_users").is_none());
        // Read back as the reports read it from the last run's parameters.
        for searched in [Searched::Users, Searched::ArrivalRate { users: 7 }] {
            let mut outcome = search.outcome(searched, true);
            outcome.kept = Some(2);
            outcome.limits.latency = Some(LatencyLimit {
                percentile: 99.9,
                limit_ms: 12.5,
            });
            outcome.history[0].measured.latency_ms = Some(3.25);
            assert_eq!(Outcome::from_json(&outcome.to_json()), Some(outcome));
        }
        assert_eq!(Outcome::from_json(&json!({"search": "users"})), None);
    }
}
