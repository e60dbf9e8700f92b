//! Steering a running test: its users ([`Engine::set_users`]), its arrival
//! rate ([`Engine::set_rate`]) or its load shape ([`Engine::set_shape`])
//! changed while it runs, from any connection. A change is checked and
//! admitted here, recorded in the test's [`Changes`], and handed to the
//! drive loop, which wakes at once and heads for the new count (or
//! shape) from that moment; the arrival rate changes in the schedule
//! itself ([`Arrivals::set_rate`]).
//!
//! - `set_users` holds the count it is given: a load shape running is
//!   dropped, and the test then ends at its `test_time` (or when stopped).
//! - `set_shape` replaces the count or shape: the new shape starts at its
//!   own second 0 at once (a change made live is meant from now: a spike
//!   sent at minute 5 starts at minute 5, not 5 minutes into its own
//!   timeline), its seconds then counted on the test's ticks (its first
//!   second is the rest of the test's current one), and the test ends
//!   when it does (or at `test_time`).
//! - More users than the test was admitted for (its peak at the start, or
//!   since) are admitted again: against the engine's descriptors, and the
//!   memory they would cost is taken from what `--max-memory` left the
//!   test's responses; refused, with the reason, when it does not fit.

use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};

use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

use super::http::Budget;
use super::memory::{Lease, USER_BYTES};
use super::{lock, Arrivals, Engine, Live, Shape, MAX_USERS};
use crate::json_size::json_size;

/// The most changes a test's record keeps; later ones still take effect,
/// and are counted in [`Changes::not_kept`].
pub const MAX_CHANGES: usize = 256;

/// The most bytes (as JSON) the kept changes may hold together: a shape's
/// configuration can be long.
pub const MAX_CHANGE_BYTES: usize = 256 * 1024;

/// Why a running test could not be changed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SteerError {
    /// No test runs.
    #[error("no test is running (start one with LD_start_test)")]
    NoTest,
    /// The test paces its users by `wait_time`: it has no rate to change.
    #[error(
        "the running test has no arrival_rate (its users pace themselves by wait_time): start the test with arrival_rate to change its rate while it runs"
    )]
    NoArrivalRate,
    /// A value out of range; the message names its key.
    #[error("{0}")]
    Invalid(String),
    /// More users than the engine can hold.
    #[error("{0}")]
    OverBudget(String),
}

/// What a change did, as recorded.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "action")]
pub enum Changed {
    /// `LD_set_users`.
    #[serde(rename = "LD_set_users")]
    Users {
        /// The users now held.
        user_count: usize,
        /// Users started (or stopped) per second to get there.
        spawn_rate: f64,
    },
    /// `LD_set_rate`.
    #[serde(rename = "LD_set_rate")]
    Rate {
        /// Iterations per second across the users.
        arrival_rate: f64,
    },
    /// `LD_set_load_shape`.
    #[serde(rename = "LD_set_load_shape")]
    Shape {
        /// The shape's name.
        load_shape: &'static str,
        /// Its configuration, every default filled in.
        shape_config: Value,
    },
}

/// One change to a running test.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// Seconds after the test started.
    pub at_s: f64,
    /// What changed.
    #[serde(flatten)]
    pub what: Changed,
}

/// The changes made to a test while it ran, in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Changes {
    /// The first [`MAX_CHANGES`] (within [`MAX_CHANGE_BYTES`]).
    pub kept: Vec<Change>,
    /// Changes made but not kept, past those bounds.
    pub not_kept: u64,
    /// Bytes the kept ones hold, as JSON.
    #[serde(skip)]
    bytes: usize,
}

impl Changes {
    fn push(&mut self, change: Change) {
        let room = MAX_CHANGE_BYTES.saturating_sub(self.bytes);
        match json_size(&change, room) {
            Some(size) if self.kept.len() < MAX_CHANGES => {
                self.bytes += size;
                self.kept.push(change);
            }
            _ => self.not_kept += 1,
        }
    }

    /// Whether no change was made.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty() && self.not_kept == 0
    }
}

/// What a running test is set to now.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct InEffect {
    /// Users the test is heading for now.
    pub user_count: usize,
    /// Users started (or stopped) per second on the way.
    pub spawn_rate: f64,
    /// Iterations per second across the users; `None`: paced by `wait_time`.
    pub arrival_rate: Option<f64>,
    /// The load shape running, if one does.
    pub load_shape: Option<&'static str>,
    /// Users running now.
    pub users: usize,
}

/// How the users are set: a count, or a shape second by second.
#[derive(Clone, Debug)]
pub(super) enum Aim {
    /// Hold `users`, reached at `spawn_rate` users per second.
    Count { users: usize, spawn_rate: f64 },
    /// Follow the shape, from its second 0 when it was set.
    Shape(Shape),
}

impl Aim {
    /// The users and spawn rate at the aim's second `second`; `None`: a
    /// shape that has ended.
    pub(super) fn at(&self, second: u64) -> Option<(usize, f64)> {
        match self {
            Aim::Count { users, spawn_rate } => Some((*users, *spawn_rate)),
            Aim::Shape(shape) => shape.tick(second).map(|(u, r)| (u, r as f64)),
        }
    }

    /// Whether a shape sets the users.
    pub(super) fn is_shape(&self) -> bool {
        matches!(self, Aim::Shape(_))
    }
}

/// A running test's steering: what it is set to, what it was admitted for,
/// what changed.
#[derive(Debug)]
pub(super) struct Steer {
    aim: Aim,
    /// Bumped by each change of aim: the drive loop applies each once.
    version: u64,
    /// The spawn rate in effect (a shape's, this second).
    spawn_rate: f64,
    /// The most users the test may run, as admitted.
    admitted: usize,
    /// Users admitted when the test started.
    first_admitted: usize,
    /// What the test's connections and responses are counted against.
    budget: Budget,
    /// Memory taken from the responses' pool for users over `first_admitted`.
    reserve: Option<Lease>,
    changes: Changes,
}

impl Steer {
    /// A test starting with `aim`, admitted for `admitted` users within `budget`.
    pub(super) fn new(aim: Aim, admitted: usize, budget: Budget) -> Steer {
        let spawn_rate = aim.at(0).map_or(0.0, |(_, rate)| rate);
        Steer {
            aim,
            version: 0,
            spawn_rate,
            admitted,
            first_admitted: admitted,
            budget,
            reserve: None,
            changes: Changes::default(),
        }
    }

    /// The aim and its version.
    pub(super) fn aim(&self) -> (u64, Aim) {
        (self.version, self.aim.clone())
    }

    /// The shape's name, when one runs.
    pub(super) fn shape_name(&self) -> Option<&'static str> {
        match &self.aim {
            Aim::Shape(shape) => Some(shape.name()),
            Aim::Count { .. } => None,
        }
    }

    /// The spawn rate in effect.
    pub(super) fn spawn_rate(&self) -> f64 {
        self.spawn_rate
    }

    /// The changes so far.
    pub(super) fn changes(&self) -> Changes {
        self.changes.clone()
    }

    /// Admits `users` at once (`what` names where the count comes from).
    fn admit(&mut self, users: usize, what: &str) -> Result<(), SteerError> {
        if users <= self.admitted {
            return Ok(());
        }
        self.budget
            .connections
            .admit(users, what)
            .map_err(SteerError::OverBudget)?;
        let more = users - self.first_admitted;
        let bytes = USER_BYTES.saturating_mul(u64::try_from(more).unwrap_or(u64::MAX));
        let mut reserve = self
            .reserve
            .take()
            .unwrap_or_else(|| Lease::new(Arc::clone(&self.budget.responses)));
        let held = reserve.hold(usize::try_from(bytes).unwrap_or(usize::MAX));
        self.reserve = Some(reserve);
        held.map_err(|full| {
            SteerError::OverBudget(format!(
                "{what} is over the {} users the test was admitted for, and the memory {more} more users would cost ({} each) does not fit in what --max-memory leaves the test ({full}); lower the users, or start the server with a larger --max-memory",
                self.first_admitted,
                bytesize::ByteSize(USER_BYTES),
            ))
        })?;
        self.admitted = users;
        Ok(())
    }

    fn record(&mut self, live: &Live, what: Changed) {
        self.changes.push(Change {
            at_s: live.started.elapsed().as_secs_f64(),
            what,
        });
    }
}

impl Live {
    /// The drive loop's shape (of the aim's `version`) moved to `(users,
    /// spawn_rate)`: in effect, unless a change has replaced the shape
    /// meanwhile (then false: the loop is about to apply that change).
    pub(super) fn shape_moved(&self, version: u64, (users, spawn_rate): (usize, f64)) -> bool {
        let mut steer = lock(&self.steer);
        if version != steer.version {
            return false;
        }
        steer.spawn_rate = spawn_rate;
        self.target_users.store(users, Ordering::Relaxed);
        true
    }
}

/// A positive, finite rate, or the error naming `key` and its `unit`.
fn positive(key: &str, value: f64, unit: &str) -> Result<f64, SteerError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(SteerError::Invalid(format!(
            "{key} must be a positive number of {unit} per second, not {value}"
        )))
    }
}

impl Engine {
    /// The running test, or [`SteerError::NoTest`].
    fn live_test(&self) -> Result<Arc<Live>, SteerError> {
        lock(&self.live).clone().ok_or(SteerError::NoTest)
    }

    /// What `live` is set to now, `steer` being its steering.
    fn in_effect(live: &Live, steer: &Steer) -> InEffect {
        InEffect {
            user_count: live.target_users.load(Ordering::Relaxed),
            spawn_rate: steer.spawn_rate,
            arrival_rate: live.arrivals.as_ref().map(|a| a.rate()),
            load_shape: steer.shape_name(),
            users: live.users.load(Ordering::Relaxed),
        }
    }

    /// Hands a change of aim to the drive loop, which applies it at once.
    fn aim_at(live: &Live, mut steer: MutexGuard<'_, Steer>, aim: Aim, what: Changed) -> InEffect {
        if let Some((users, spawn_rate)) = aim.at(0) {
            live.target_users.store(users, Ordering::Relaxed);
            steer.spawn_rate = spawn_rate;
        }
        steer.aim = aim;
        steer.version += 1;
        steer.record(live, what);
        let effect = Engine::in_effect(live, &steer);
        drop(steer);
        live.steered.notify_one();
        effect
    }

    /// Holds the running test at `users` (0 pauses it: it goes on until
    /// its time), reached at `spawn_rate` users per second (by default the
    /// rate in effect); a load shape running is dropped. What is now in
    /// effect.
    pub fn set_users(&self, users: usize, spawn_rate: Option<f64>) -> Result<InEffect, SteerError> {
        if users > MAX_USERS {
            return Err(SteerError::Invalid(format!(
                "user_count {users} is over the limit of {MAX_USERS}"
            )));
        }
        let spawn_rate = spawn_rate
            .map(|rate| positive("spawn_rate", rate, "users"))
            .transpose()?;
        let live = self.live_test()?;
        let mut steer = lock(&live.steer);
        let spawn_rate = match spawn_rate {
            Some(rate) => rate,
            // A shape's rate may be 0 between its stages: then one a second.
            None => Some(steer.spawn_rate)
                .filter(|rate| *rate > 0.0)
                .unwrap_or(1.0),
        };
        steer.admit(users, &format!("user_count {users}"))?;
        let what = Changed::Users {
            user_count: users,
            spawn_rate,
        };
        let aim = Aim::Count { users, spawn_rate };
        Ok(Engine::aim_at(&live, steer, aim, what))
    }

    /// Runs the test's arrivals at `rate` iterations per second from now
    /// (see [`Arrivals::set_rate`]); refused for a test started without
    /// `arrival_rate`. What is now in effect.
    pub fn set_rate(&self, rate: f64) -> Result<InEffect, SteerError> {
        let rate = positive("arrival_rate", rate, "iterations")?;
        let live = self.live_test()?;
        let arrivals: &Arrivals = live.arrivals.as_deref().ok_or(SteerError::NoArrivalRate)?;
        let mut steer = lock(&live.steer);
        arrivals
            .set_rate(rate, Instant::now())
            .ok_or_else(|| SteerError::Invalid(format!("arrival_rate {rate} makes no interval")))?;
        steer.record(&live, Changed::Rate { arrival_rate: rate });
        Ok(Engine::in_effect(&live, &steer))
    }

    /// Runs `shape` from its second 0 now, instead of the test's count or
    /// shape; the test ends when it does (or at its time). What is now in
    /// effect.
    pub fn set_shape(&self, shape: Shape) -> Result<InEffect, SteerError> {
        if shape.tick(0).is_none() {
            return Err(SteerError::Invalid(format!(
                "load_shape {:?} lasts 0 seconds",
                shape.name()
            )));
        }
        let live = self.live_test()?;
        let mut steer = lock(&live.steer);
        let peak = shape.max_users();
        steer.admit(
            peak,
            &format!("load_shape {:?} at its peak of {peak} users", shape.name()),
        )?;
        let what = Changed::Shape {
            load_shape: shape.name(),
            shape_config: shape.config(),
        };
        Ok(Engine::aim_at(&live, steer, Aim::Shape(shape), what))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn shape_change(at_s: f64, bytes: usize) -> Change {
        Change {
            at_s,
            what: Changed::Shape {
                load_shape: "stages",
                shape_config: json!({"note": "x".repeat(bytes)}),
            },
        }
    }

    #[test]
    fn changes_are_kept_up_to_their_count_and_bytes_then_counted() {
        let mut changes = Changes::default();
        for n in 0..3 {
            changes.push(shape_change(f64::from(n), 100 * 1024));
        }
        assert_eq!(changes.kept.len(), 2, "the third is past 256 KiB");
        assert_eq!(changes.not_kept, 1);
        // A small one still fits in what the bytes leave.
        changes.push(Change {
            at_s: 4.0,
            what: Changed::Rate { arrival_rate: 2.0 },
        });
        assert_eq!(changes.kept.len(), 3);
        let mut many = Changes::default();
        for n in 0..MAX_CHANGES + 5 {
            many.push(Change {
                at_s: n as f64,
                what: Changed::Users {
                    user_count: n,
                    spawn_rate: 1.0,
                },
            });
        }
        assert_eq!((many.kept.len(), many.not_kept), (MAX_CHANGES, 5));
        assert_eq!(
            serde_json::to_value(&many.kept[1]).ok(),
            Some(
                json!({"at_s": 1.0, "action": "LD_set_users", "user_count": 1, "spawn_rate": 1.0})
            )
        );
        assert!(!many.is_empty() && Changes::default().is_empty());
    }

    #[test]
    fn a_count_holds_and_a_shape_follows_its_seconds() {
        let count = Aim::Count {
            users: 3,
            spawn_rate: 2.0,
        };
        assert_eq!(
            (count.at(0), count.at(99), count.is_shape()),
            (Some((3, 2.0)), Some((3, 2.0)), false)
        );
        let shape = Shape::parse(
            "stages",
            &json!({"stages": [{"duration": 2, "users": 4, "spawn_rate": 5}]}),
        )
        .map(Aim::Shape)
        .ok();
        let at = |s: u64| shape.as_ref().and_then(|aim| aim.at(s));
        assert_eq!(
            (at(0), at(1), at(2)),
            (Some((4, 5.0)), Some((4, 5.0)), None)
        );
    }
}
