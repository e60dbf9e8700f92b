//! Load shapes: LoadDensity's `load_shape` / `shape_config` (`stages`,
//! `spike`, `soak`), the users a test should have, and how fast to get
//! there, as a function of the whole seconds since it started.
//!
//! The formulas are LoadDensity's (`utils/load_shapes/shapes.py`), down to
//! Python's `int()`: counts truncate toward zero, fractions are computed in
//! the same order in `f64`, so `int(10 * (1 - 8/10))` is 1 here too. The
//! engine asks [`Shape::tick`] once a second; `None` ends the test.
//!
//! ```
//! use ld_tower::engine::Shape;
//! use serde_json::json;
//!
//! let shape = Shape::parse(
//!     "Stages",
//!     &json!({"stages": [{"duration": 2, "users": 1}, {"duration": 2, "users": 4, "spawn_rate": 10}]}),
//! )?;
//! let ticks: Vec<_> = (0..5).map(|t| shape.tick(t)).collect();
//! assert_eq!(ticks, [Some((1, 1)), Some((1, 1)), Some((4, 10)), Some((4, 10)), None]);
//! assert_eq!(shape.max_users(), 4);
//! # Ok::<(), ld_tower::engine::ShapeError>(())
//! ```

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::MAX_USERS;

/// Why `load_shape` / `shape_config` do not make a shape. Each message
/// names the key at fault, as a path inside `shape_config`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// `load_shape` is not one of the three.
    #[error("load_shape {0} is not one of \"stages\", \"spike\", \"soak\"")]
    UnknownName(String),
    /// `shape_config` is not an object, or has keys the shape does not know.
    #[error("shape_config for the {shape} shape: {message}")]
    Config {
        /// The shape's name.
        shape: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A value is not a number.
    #[error("shape_config.{key}: {value} is not a number")]
    NotANumber {
        /// Where it is.
        key: String,
        /// The value given.
        value: String,
    },
    /// A number is negative.
    #[error("shape_config.{key}: {value} is negative")]
    Negative {
        /// Where it is.
        key: String,
        /// The value given.
        value: String,
    },
    /// More users than a test may have.
    #[error("shape_config.{key}: {value} users is over the limit of {MAX_USERS}")]
    TooManyUsers {
        /// Where it is.
        key: String,
        /// The value given.
        value: String,
    },
    /// A spawn rate below one user per second (`int()` would make it 0).
    #[error("shape_config.{key}: {value} is below 1 user per second")]
    SpawnRate {
        /// Where it is.
        key: String,
        /// The value given.
        value: String,
    },
    /// `stages` is missing or empty.
    #[error("shape_config.stages: no stage given (give [{{\"duration\": seconds, \"users\": n, \"spawn_rate\": r}}, ...])")]
    NoStages,
    /// A stage lacks a key it needs.
    #[error("shape_config.stages[{index}]: no {key} given")]
    Missing {
        /// The stage's index, from 0.
        index: usize,
        /// The key it lacks.
        key: &'static str,
    },
    /// The shape is over before it starts: every duration is 0.
    #[error("shape_config: the {0} shape lasts 0 seconds")]
    Empty(&'static str),
}

/// One stage of a [`Shape::Stages`].
#[derive(Clone, Debug, PartialEq)]
pub struct Stage {
    /// How long the stage lasts, in seconds (stages follow each other).
    pub duration: f64,
    /// The users it runs.
    pub users: usize,
    /// Users started (or stopped) per second to get there.
    pub spawn_rate: u64,
}

/// Baseline, spike, baseline again ([`Shape::Spike`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Spike {
    /// Users before and after the spike.
    pub baseline_users: usize,
    /// Users during the spike.
    pub spike_users: usize,
    /// Users started (or stopped) per second.
    pub spawn_rate: u64,
    /// Seconds at the baseline before the spike.
    pub pre_seconds: f64,
    /// Seconds of the spike.
    pub spike_seconds: f64,
    /// Seconds at the baseline after it.
    pub post_seconds: f64,
}

/// A linear ramp up, a hold, a linear ramp down ([`Shape::Soak`]).
#[derive(Clone, Debug, PartialEq)]
pub struct Soak {
    /// Users held.
    pub users: usize,
    /// Users started (or stopped) per second.
    pub spawn_rate: u64,
    /// Seconds of the ramp up (at least 1 user in it).
    pub ramp_seconds: f64,
    /// Seconds at `users`.
    pub hold_seconds: f64,
    /// Seconds of the ramp down.
    pub cooldown_seconds: f64,
}

/// How many users a test runs, second by second.
#[derive(Clone, Debug, PartialEq)]
pub enum Shape {
    /// Stages in turn: the first whose end (the sum of the durations so
    /// far) is still ahead.
    Stages(Vec<Stage>),
    /// Baseline, spike, baseline.
    Spike(Spike),
    /// Ramp up, hold, ramp down.
    Soak(Soak),
}

// What `shape_config` may hold, per shape; a key not here is ignored, as
// LoadDensity does, and noted ([`Shape::ignored_keys`]); the values are
// checked one by one below, so an error names its key.

#[derive(Deserialize)]
struct StagesConfig {
    #[serde(default)]
    stages: Option<Vec<Value>>,
}

#[derive(Deserialize)]
#[serde(expecting = "a stage {duration, users, spawn_rate}")]
struct StageConfig {
    #[serde(default)]
    duration: Option<Value>,
    #[serde(default)]
    users: Option<Value>,
    #[serde(default)]
    spawn_rate: Option<Value>,
}

#[derive(Deserialize)]
struct SpikeConfig {
    #[serde(default)]
    baseline_users: Option<Value>,
    #[serde(default)]
    spike_users: Option<Value>,
    #[serde(default)]
    spawn_rate: Option<Value>,
    #[serde(default)]
    pre_seconds: Option<Value>,
    #[serde(default)]
    spike_seconds: Option<Value>,
    #[serde(default)]
    post_seconds: Option<Value>,
}

#[derive(Deserialize)]
struct SoakConfig {
    #[serde(default)]
    users: Option<Value>,
    #[serde(default)]
    spawn_rate: Option<Value>,
    #[serde(default)]
    ramp_seconds: Option<Value>,
    #[serde(default)]
    hold_seconds: Option<Value>,
    #[serde(default)]
    cooldown_seconds: Option<Value>,
}

/// A number from 0 (`null` counts as not given: `default`).
fn number(key: &str, value: Option<&Value>, default: f64) -> Result<f64, ShapeError> {
    let Some(value) = value else {
        return Ok(default);
    };
    let n = value.as_f64().ok_or_else(|| ShapeError::NotANumber {
        key: key.to_owned(),
        value: value.to_string(),
    })?;
    if n < 0.0 {
        return Err(ShapeError::Negative {
            key: key.to_owned(),
            value: value.to_string(),
        });
    }
    Ok(n)
}

/// A number of users: `int()` of a number from 0, at most [`MAX_USERS`].
fn users(key: &str, value: Option<&Value>, default: usize) -> Result<usize, ShapeError> {
    let n = number(key, value, default as f64)?.trunc();
    if n > MAX_USERS as f64 {
        return Err(ShapeError::TooManyUsers {
            key: key.to_owned(),
            value: value.map_or_else(|| default.to_string(), Value::to_string),
        });
    }
    Ok(n as usize)
}

/// A spawn rate: `int()` of a number from 1.
fn spawn_rate(key: &str, value: Option<&Value>, default: u64) -> Result<u64, ShapeError> {
    let n = number(key, value, default as f64)?.trunc();
    if n < 1.0 {
        return Err(ShapeError::SpawnRate {
            key: key.to_owned(),
            value: value.map_or_else(|| default.to_string(), Value::to_string),
        });
    }
    // Saturates: a rate past any count of users starts them all at once.
    Ok(n as u64)
}

/// `shape_config` as the shape's config type; `null` is `{}`.
fn read_config<T: DeserializeOwned>(shape: &'static str, value: &Value) -> Result<T, ShapeError> {
    let fail = |message: String| ShapeError::Config { shape, message };
    match value {
        Value::Null => T::deserialize(&Value::Object(Map::new())),
        Value::Object(_) => T::deserialize(value),
        other => return Err(fail(format!("expected an object, got {other}"))),
    }
    .map_err(|e| fail(e.to_string()))
}

impl Shape {
    /// The keys of `config` (for the shape `name`) that no shape reads,
    /// as notes naming the closest known key: LoadDensity ignores them.
    pub fn ignored_keys(name: &str, config: &Value) -> Vec<crate::spec::Note> {
        use serde_aux::serde_introspection::serde_introspect;
        let known: &[&str] = match name.to_ascii_lowercase().as_str() {
            "stages" => serde_introspect::<StagesConfig>(),
            "spike" => serde_introspect::<SpikeConfig>(),
            "soak" => serde_introspect::<SoakConfig>(),
            _ => return Vec::new(),
        };
        let note = crate::spec::unknown;
        let mut notes = Vec::new();
        let Value::Object(map) = config else {
            return notes;
        };
        for key in map.keys().filter(|k| !known.contains(&k.as_str())) {
            notes.push(note(format!("shape_config.{key}"), key, known));
        }
        if let Some(Value::Array(stages)) = map.get("stages") {
            let stage_keys = serde_introspect::<StageConfig>();
            for (index, stage) in stages.iter().enumerate() {
                let Value::Object(stage) = stage else {
                    continue;
                };
                for key in stage.keys().filter(|k| !stage_keys.contains(&k.as_str())) {
                    notes.push(note(
                        format!("shape_config.stages[{index}].{key}"),
                        key,
                        stage_keys,
                    ));
                }
            }
        }
        notes
    }

    /// The shape named `name` (`stages`, `spike` or `soak`, any case) with
    /// `config` (`null` is `{}`), its values checked: numbers from 0, users
    /// at most [`MAX_USERS`], spawn rates from 1, at least one stage, each
    /// with its `duration` and `users`; a shape that would end at once is
    /// refused.
    pub fn parse(name: &str, config: &Value) -> Result<Shape, ShapeError> {
        let shape = match name.to_ascii_lowercase().as_str() {
            "stages" => Shape::stages(config)?,
            "spike" => Shape::spike(config)?,
            "soak" => Shape::soak(config)?,
            _ => return Err(ShapeError::UnknownName(format!("{name:?}"))),
        };
        if shape.tick(0).is_none() {
            return Err(ShapeError::Empty(shape.name()));
        }
        Ok(shape)
    }

    fn stages(value: &Value) -> Result<Shape, ShapeError> {
        let parsed: StagesConfig = read_config("stages", value)?;
        let stages = parsed.stages.unwrap_or_default();
        if stages.is_empty() {
            return Err(ShapeError::NoStages);
        }
        stages
            .iter()
            .enumerate()
            .map(|(index, stage)| {
                let key = |name: &str| format!("stages[{index}].{name}");
                let stage = StageConfig::deserialize(stage).map_err(|e| ShapeError::Config {
                    shape: "stages",
                    message: format!("stages[{index}]: {e}"),
                })?;
                let (Some(duration), Some(users_given)) = (&stage.duration, &stage.users) else {
                    let key = if stage.duration.is_none() {
                        "duration"
                    } else {
                        "users"
                    };
                    return Err(ShapeError::Missing { index, key });
                };
                Ok(Stage {
                    duration: number(&key("duration"), Some(duration), 0.0)?,
                    users: users(&key("users"), Some(users_given), 0)?,
                    spawn_rate: spawn_rate(&key("spawn_rate"), stage.spawn_rate.as_ref(), 1)?,
                })
            })
            .collect::<Result<_, _>>()
            .map(Shape::Stages)
    }

    fn spike(value: &Value) -> Result<Shape, ShapeError> {
        let c: SpikeConfig = read_config("spike", value)?;
        let baseline_users = users("baseline_users", c.baseline_users.as_ref(), 0)?;
        Ok(Shape::Spike(Spike {
            baseline_users,
            spike_users: users("spike_users", c.spike_users.as_ref(), baseline_users)?,
            spawn_rate: spawn_rate("spawn_rate", c.spawn_rate.as_ref(), 10)?,
            pre_seconds: number("pre_seconds", c.pre_seconds.as_ref(), 30.0)?,
            spike_seconds: number("spike_seconds", c.spike_seconds.as_ref(), 30.0)?,
            post_seconds: number("post_seconds", c.post_seconds.as_ref(), 30.0)?,
        }))
    }

    fn soak(value: &Value) -> Result<Shape, ShapeError> {
        let c: SoakConfig = read_config("soak", value)?;
        let held = users("users", c.users.as_ref(), 0)?;
        let default_rate = (held as u64 / 10).max(1);
        Ok(Shape::Soak(Soak {
            users: held,
            spawn_rate: spawn_rate("spawn_rate", c.spawn_rate.as_ref(), default_rate)?,
            ramp_seconds: number("ramp_seconds", c.ramp_seconds.as_ref(), 60.0)?,
            hold_seconds: number("hold_seconds", c.hold_seconds.as_ref(), 600.0)?,
            cooldown_seconds: number("cooldown_seconds", c.cooldown_seconds.as_ref(), 60.0)?,
        }))
    }

    /// `stages`, `spike` or `soak`.
    pub fn name(&self) -> &'static str {
        match self {
            Shape::Stages(_) => "stages",
            Shape::Spike(_) => "spike",
            Shape::Soak(_) => "soak",
        }
    }

    /// The shape's config with every default filled in, as `shape_config`
    /// would give it (for the test's parameters).
    pub fn config(&self) -> Value {
        match self {
            Shape::Stages(stages) => json!({
                "stages": stages
                    .iter()
                    .map(|s| json!({"duration": s.duration, "users": s.users, "spawn_rate": s.spawn_rate}))
                    .collect::<Vec<_>>(),
            }),
            Shape::Spike(s) => json!({
                "baseline_users": s.baseline_users,
                "spike_users": s.spike_users,
                "spawn_rate": s.spawn_rate,
                "pre_seconds": s.pre_seconds,
                "spike_seconds": s.spike_seconds,
                "post_seconds": s.post_seconds,
            }),
            Shape::Soak(s) => json!({
                "users": s.users,
                "spawn_rate": s.spawn_rate,
                "ramp_seconds": s.ramp_seconds,
                "hold_seconds": s.hold_seconds,
                "cooldown_seconds": s.cooldown_seconds,
            }),
        }
    }

    /// The most users the shape asks for: what the engine admits the test
    /// for (memory, connections). For stages, the most any stage names,
    /// even one too short to run.
    pub fn max_users(&self) -> usize {
        match self {
            Shape::Stages(stages) => stages.iter().map(|s| s.users).max().unwrap_or(0),
            Shape::Spike(s) => s.baseline_users.max(s.spike_users),
            // The ramp runs at least one user, however few `users` are.
            Shape::Soak(s) if s.ramp_seconds > 0.0 => s.users.max(1),
            Shape::Soak(s) => s.users,
        }
    }

    /// `(users, spawn_rate)` at `elapsed` whole seconds since the test
    /// started; `None` once the shape is over.
    pub fn tick(&self, elapsed: u64) -> Option<(usize, u64)> {
        let t = elapsed as f64;
        match self {
            Shape::Stages(stages) => {
                let mut end = 0.0;
                stages.iter().find_map(|stage| {
                    end += stage.duration;
                    (t < end).then_some((stage.users, stage.spawn_rate))
                })
            }
            Shape::Spike(s) => {
                let users = if t < s.pre_seconds {
                    s.baseline_users
                } else if t < s.pre_seconds + s.spike_seconds {
                    s.spike_users
                } else if t < s.pre_seconds + s.spike_seconds + s.post_seconds {
                    s.baseline_users
                } else {
                    return None;
                };
                Some((users, s.spawn_rate))
            }
            Shape::Soak(s) => {
                let (ramp, hold, cool) = (s.ramp_seconds, s.hold_seconds, s.cooldown_seconds);
                let users = s.users as f64;
                // `as usize` truncates toward zero and clamps at 0: Python's
                // `max(0, int(x))`.
                let users = if t < ramp && ramp > 0.0 {
                    ((users * (t / ramp)) as usize).max(1)
                } else if t < ramp + hold {
                    s.users
                } else if t < ramp + hold + cool && cool > 0.0 {
                    (users * (1.0 - ((t - ramp - hold) / cool))) as usize
                } else {
                    return None;
                };
                Some((users, s.spawn_rate))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(name: &str, config: Value) -> Shape {
        Shape::parse(name, &config).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Ticks from 0 until the shape ends (at most `limit`).
    fn ticks(shape: &Shape, limit: u64) -> Vec<(usize, u64)> {
        (0..limit).map_while(|t| shape.tick(t)).collect()
    }

    fn users(shape: &Shape, limit: u64) -> Vec<usize> {
        ticks(shape, limit).into_iter().map(|(u, _)| u).collect()
    }

    fn error(name: &str, config: Value) -> String {
        Shape::parse(name, &config)
            .expect_err("refused")
            .to_string()
    }

    // COMPAT.md's observed runs (in flight per 0.5 s, each over ~4-5 s) as
    // shapes ticked once a second.

    #[test]
    fn stages_one_then_four() {
        let s = shape(
            "stages",
            json!({"stages": [{"duration": 2, "users": 1}, {"duration": 2, "users": 4, "spawn_rate": 10}]}),
        );
        assert_eq!(ticks(&s, 10), [(1, 1), (1, 1), (4, 10), (4, 10)]);
        assert_eq!(s.tick(4), None);
        assert_eq!(s.max_users(), 4);
    }

    #[test]
    fn spike_one_four_one() {
        let s = shape(
            "SPIKE",
            json!({"baseline_users": 1, "spike_users": 4, "pre_seconds": 2,
                   "spike_seconds": 1, "post_seconds": 2}),
        );
        assert_eq!(users(&s, 10), [1, 1, 4, 1, 1]);
        assert!(ticks(&s, 10).iter().all(|&(_, rate)| rate == 10));
        assert_eq!(s.max_users(), 4);
    }

    #[test]
    fn soak_ramps_holds_and_cools() {
        let s = shape(
            "Soak",
            json!({"users": 4, "ramp_seconds": 2, "hold_seconds": 2, "cooldown_seconds": 2}),
        );
        // Ramp max(1, int(4·t/2)): 1, 2; hold 4, 4; cooldown int(4·(1 - k/2)): 4, 2.
        assert_eq!(users(&s, 10), [1, 2, 4, 4, 4, 2]);
        // spawn_rate max(1, 4 // 10).
        assert!(ticks(&s, 10).iter().all(|&(_, rate)| rate == 1));
    }

    // The formulas, and what Python's int() and float arithmetic make of them.

    #[test]
    fn stages_take_the_first_stage_still_ahead() {
        // Cumulative ends 1.5, 2.5, 2.5 (a zero-length stage never runs), 4.
        let s = shape(
            "stages",
            json!({"stages": [
                {"duration": 1.5, "users": 2.9},
                {"duration": 1, "users": 3, "spawn_rate": 2.5},
                {"duration": 0, "users": 7},
                {"duration": 1.5, "users": 0},
            ]}),
        );
        assert_eq!(ticks(&s, 10), [(2, 1), (2, 1), (3, 2), (0, 1)]);
        assert_eq!(s.max_users(), 7, "the peak is over every stage given");
    }

    #[test]
    fn spike_defaults() {
        let s = shape("spike", json!({"baseline_users": 2}));
        let all = ticks(&s, 200);
        assert_eq!(all.len(), 90);
        assert!(all.iter().all(|&t| t == (2, 10)), "spike_users = baseline");
        let s = shape("spike", json!({"baseline_users": 1, "spike_users": 5}));
        let u = users(&s, 200);
        assert_eq!((u[29], u[30], u[59], u[60], u[89]), (1, 5, 5, 1, 1));
    }

    #[test]
    fn soak_truncates_as_int_does() {
        // Ramp: max(1, int(7·t/3)) = 1, 2, 4.
        let s = shape(
            "soak",
            json!({"users": 7, "ramp_seconds": 3, "hold_seconds": 1, "cooldown_seconds": 1}),
        );
        assert_eq!(users(&s, 10), [1, 2, 4, 7, 7]);
        // Cooldown int(10·(1 - k/10)): 1 - 8/10 is 0.19999999999999996, so
        // k = 8 gives 1, and k = 9 gives 0 (0.9999999999999998).
        let s = shape(
            "soak",
            json!({"users": 10, "ramp_seconds": 0, "hold_seconds": 0, "cooldown_seconds": 10}),
        );
        assert_eq!(users(&s, 20), [10, 9, 8, 7, 6, 5, 4, 3, 1, 0]);
        // 10·(3/10) is 3.0000000000000004: 3.
        let s = shape(
            "soak",
            json!({"users": 10, "ramp_seconds": 10, "hold_seconds": 0, "cooldown_seconds": 0}),
        );
        assert_eq!(users(&s, 20), [1, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }

    #[test]
    fn soak_defaults_and_degenerate_phases() {
        let s = shape("soak", json!({"users": 25}));
        assert_eq!(s.tick(0), Some((1, 2)), "spawn_rate max(1, 25 // 10)");
        assert_eq!(s.tick(30), Some((12, 2)), "int(25·30/60)");
        assert_eq!(s.tick(60), Some((25, 2)));
        assert_eq!(s.tick(659), Some((25, 2)));
        assert_eq!(s.tick(660), Some((25, 2)), "the cooldown starts at users");
        assert_eq!(s.tick(690), Some((12, 2)));
        assert_eq!(s.tick(719), Some((0, 2)), "int(25/60)");
        assert_eq!(s.tick(720), None);
        // No users: the ramp still runs one (max(1, ...)), the hold none.
        let s = shape(
            "soak",
            json!({"ramp_seconds": 2, "hold_seconds": 1, "cooldown_seconds": 0}),
        );
        assert_eq!(ticks(&s, 10), [(1, 1), (1, 1), (0, 1)]);
        assert_eq!(s.max_users(), 1);
        // No ramp: straight to the hold.
        let s = shape(
            "soak",
            json!({"users": 3, "ramp_seconds": 0, "hold_seconds": 2, "cooldown_seconds": 0}),
        );
        assert_eq!(users(&s, 10), [3, 3]);
        assert_eq!(s.max_users(), 3);
    }

    #[test]
    fn config_shows_the_defaults() {
        let s = shape("soak", json!({"users": 30}));
        assert_eq!(s.name(), "soak");
        assert_eq!(
            s.config(),
            json!({"users": 30, "spawn_rate": 3, "ramp_seconds": 60.0,
                   "hold_seconds": 600.0, "cooldown_seconds": 60.0})
        );
        let s = shape("stages", json!({"stages": [{"duration": 1, "users": 2}]}));
        assert_eq!(
            s.config(),
            json!({"stages": [{"duration": 1.0, "users": 2, "spawn_rate": 1}]})
        );
        assert_eq!(
            shape("spike", Value::Null).config()["spike_users"],
            0,
            "null is {{}}"
        );
    }

    #[test]
    fn bad_configs_are_named() {
        let cases = [
            (
                "ramp",
                json!({}),
                "load_shape \"ramp\" is not one of \"stages\", \"spike\", \"soak\"",
            ),
            ("stages", json!({}), "shape_config.stages: no stage given"),
            (
                "stages",
                json!({"stages": []}),
                "shape_config.stages: no stage given",
            ),
            (
                "stages",
                json!({"stages": [{"users": 1}]}),
                "shape_config.stages[0]: no duration given",
            ),
            (
                "stages",
                json!({"stages": [{"duration": 1, "users": 1}, {"duration": 1}]}),
                "shape_config.stages[1]: no users given",
            ),
            (
                "stages",
                json!({"stages": [{"duration": -1, "users": 1}]}),
                "shape_config.stages[0].duration: -1 is negative",
            ),
            (
                "stages",
                json!({"stages": [{"duration": 1, "users": "4"}]}),
                "shape_config.stages[0].users: \"4\" is not a number",
            ),
            (
                "stages",
                json!({"stages": [{"duration": 1, "users": 100001}]}),
                "shape_config.stages[0].users: 100001 users is over the limit of 100000",
            ),
            (
                "stages",
                json!({"stages": [{"duration": 1, "users": 1, "spawn_rate": 0.5}]}),
                "shape_config.stages[0].spawn_rate: 0.5 is below 1 user per second",
            ),
            (
                "spike",
                json!({"spike_users": true}),
                "shape_config.spike_users: true is not a number",
            ),
            (
                "soak",
                json!({"users": -3}),
                "shape_config.users: -3 is negative",
            ),
            (
                "soak",
                json!({"ramp_seconds": [1]}),
                "shape_config.ramp_seconds: [1] is not a number",
            ),
            (
                "stages",
                json!({"stages": [{"duration": 1, "users": 1}, 3]}),
                "shape_config for the stages shape: stages[1]: invalid type: integer `3`, expected a stage {duration, users, spawn_rate}",
            ),
            (
                "stages",
                json!({"stages": [{"duration": 1, "user": 1}]}),
                "shape_config.stages[0]: no users given",
            ),
            (
                "spike",
                json!([1, 2]),
                "shape_config for the spike shape: expected an object, got [1,2]",
            ),
            (
                "spike",
                json!({"pre_seconds": 0, "spike_seconds": 0, "post_seconds": 0}),
                "shape_config: the spike shape lasts 0 seconds",
            ),
            (
                "stages",
                json!({"stages": [{"duration": 0, "users": 1}]}),
                "the stages shape lasts 0 seconds",
            ),
        ];
        for (name, config, expected) in cases {
            let message = error(name, config.clone());
            assert!(
                message.contains(expected),
                "{name} {config}: {message:?} lacks {expected:?}"
            );
        }
    }

    #[test]
    fn unknown_config_keys_are_noted_not_refused() {
        let config = json!({"stages": [{"duration": 1, "users": 1, "spawn_rte": 2}], "stagse": 1});
        let notes: Vec<String> = Shape::ignored_keys("Stages", &config)
            .iter()
            .map(|n| n.to_string())
            .collect();
        assert_eq!(
            notes,
            [
                "shape_config.stagse: unknown key, ignored (did you mean \"stages\"?)",
                "shape_config.stages[0].spawn_rte: unknown key, ignored (did you mean \"spawn_rate\"?)",
            ]
        );
        assert!(Shape::parse("stages", &config).is_ok());
    }
}
