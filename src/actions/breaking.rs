//! `LD_find_breaking_point`: LoadDensity's binary search for the highest
//! load a target stays within its limits at, each probe a short real test.
//! Where LoadDensity takes a Python callable (`probe(users) ->
//! failure_rate`, which no action file can give), ld-tower takes the test
//! to probe: `LD_start_test`'s keywords under `test`, made ready by
//! `LD_start_test`'s own path (every bound it enforces applies) at the
//! search's highest level before anything is sent, then again for each
//! probe, a test of its own at the level the search asks for, all users at
//! once, for `probe_time` seconds.

use std::time::Instant;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error;
use super::load::{probe_ready, ready, test_length};
use super::{ActionContext, ActionError, Args, Registry};
use crate::auth::Scope;
use crate::breaking::{Bounds, LatencyLimit, Limits, Measured, Outcome, Search, Searched};
use crate::engine::{EngineError, Finished, MAX_USERS};
use crate::policy::Caps;
use crate::state::LastRun;

const ACTION: &str = "LD_find_breaking_point";

pub(super) fn register(registry: &mut Registry) {
    registry.register_scoped(ACTION, Scope::Run, find_breaking_point);
}

/// LoadDensity's positional order, `test` in its `probe`'s place.
const POSITIONAL: &[&str] = &[
    "test",
    "min_users",
    "max_users",
    "failure_threshold",
    "max_iterations",
];

/// Probes a search makes at most (`max_iterations`): a binary search over
/// every user count ld-tower runs needs 17.
pub const MAX_ITERATIONS: u64 = 32;

/// How long each probe runs unless `probe_time` says otherwise, seconds.
pub const DEFAULT_PROBE_TIME: f64 = 5.0;

/// The shortest `probe_time`, seconds.
pub const MIN_PROBE_TIME: f64 = 0.5;

/// The longest `probe_time`, seconds (the agent's `--max-test-time` may
/// be shorter).
pub const MAX_PROBE_TIME: f64 = 600.0;

/// The highest `max_rate` of an arrival-rate search, per second.
pub const MAX_SEARCH_RATE: u64 = 1_000_000;

/// Users started per second in a probe: all of them at once, in effect
/// (100,000 users take a second).
const SPAWN_AT_ONCE: f64 = MAX_USERS as f64;

/// The users serving an arrival-rate search unless `users` says otherwise.
const DEFAULT_RATE_USERS: i64 = 100;

/// `LD_find_breaking_point`'s arguments.
#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct FindArgs {
    /// The test to probe: `LD_start_test`'s keywords.
    test: Option<Value>,
    /// LoadDensity's callable: refused with the reason.
    probe: Option<Value>,
    min_users: Option<i64>,
    max_users: Option<i64>,
    failure_threshold: Option<f64>,
    max_iterations: Option<i64>,
    probe_time: Option<f64>,
    latency_percentile: Option<f64>,
    latency_limit_ms: Option<f64>,
    search: Option<String>,
    min_rate: Option<i64>,
    max_rate: Option<i64>,
    users: Option<i64>,
}

/// The keys of `test` the search sets itself, or that cannot take part
/// in one, and why.
const NOT_IN_TEST: &[(&str, &str)] = &[
    (
        "user_count",
        "the search sets the users of each probe (min_users, max_users)",
    ),
    ("spawn_rate", "each probe starts all its users at once"),
    ("test_time", "each probe runs for probe_time"),
    ("load_shape", "the search sets the users of each probe"),
    ("shape_config", "the search sets the users of each probe"),
    ("iterations", "each probe runs for probe_time"),
    (
        "thresholds",
        "a probe is judged by failure_threshold (and latency_limit_ms)",
    ),
];

/// An integer argument from `min` up (`max` at most, when given), or its default.
fn integer(
    key: &str,
    given: Option<i64>,
    default: i64,
    min: i64,
    max: Option<(u64, &str)>,
) -> Result<u64, ActionError> {
    let value = given.unwrap_or(default);
    if value < min {
        return Err(error(format!("{key} must be at least {min}, got {value}")));
    }
    let value = u64::try_from(value).unwrap_or(0);
    match max {
        Some((max, why)) if value > max => Err(error(format!(
            "{key} must be at most {max} ({why}), got {value}"
        ))),
        _ => Ok(value),
    }
}

/// The lowest and highest level searched: `min` from 1 (default 1),
/// `max` from 1 to `most` (default 1000, LoadDensity's `max_users`).
fn level_bounds(
    (min_key, min): (&str, Option<i64>),
    (max_key, max): (&str, Option<i64>),
    most: (u64, &str),
) -> Result<(u64, u64), ActionError> {
    Ok((
        integer(min_key, min, 1, 1, None)?,
        integer(max_key, max, 1000, 1, Some(most))?,
    ))
}

/// What the arguments ask for, every bound checked.
struct Settings {
    searched: Searched,
    bounds: Bounds,
    limits: Limits,
    probe_time: f64,
}

impl Settings {
    /// The arguments checked against their bounds and the agent's caps,
    /// before anything is sent.
    fn check(args: &FindArgs, caps: &Caps) -> Result<Settings, ActionError> {
        let searched = args.search.as_deref().unwrap_or("users");
        let (searched, min, max) = match searched {
            "users" => {
                if let Some(key) = given(&[
                    ("min_rate", args.min_rate.is_some()),
                    ("max_rate", args.max_rate.is_some()),
                    ("users", args.users.is_some()),
                ]) {
                    return Err(error(format!(
                        "{key}: used by search \"arrival_rate\"; search \"users\" takes min_users and max_users"
                    )));
                }
                let (min, max) = level_bounds(
                    ("min_users", args.min_users),
                    ("max_users", args.max_users),
                    (MAX_USERS as u64, "the most users ld-tower runs"),
                )?;
                caps.check_users("max_users", usize::try_from(max).unwrap_or(usize::MAX))
                    .map_err(error)?;
                (Searched::Users, min, max)
            }
            "arrival_rate" => {
                if let Some(key) = given(&[
                    ("min_users", args.min_users.is_some()),
                    ("max_users", args.max_users.is_some()),
                ]) {
                    return Err(error(format!(
                        "{key}: used by search \"users\"; search \"arrival_rate\" takes min_rate, max_rate and users"
                    )));
                }
                let (min, max) = level_bounds(
                    ("min_rate", args.min_rate),
                    ("max_rate", args.max_rate),
                    (MAX_SEARCH_RATE, "the highest rate a search probes"),
                )?;
                caps.check_rate(max as f64)
                    .map_err(|e| error(format!("max_rate: {e}")))?;
                let users = integer(
                    "users",
                    args.users,
                    DEFAULT_RATE_USERS,
                    1,
                    Some((MAX_USERS as u64, "the most users ld-tower runs")),
                )?;
                caps.check_users("users", usize::try_from(users).unwrap_or(usize::MAX))
                    .map_err(error)?;
                (Searched::ArrivalRate { users }, min, max)
            }
            other => {
                return Err(error(format!(
                    "search {other:?} is not one of \"users\", \"arrival_rate\""
                )))
            }
        };
        if max <= min {
            let (lo, hi) = match searched {
                Searched::Users => ("min_users", "max_users"),
                Searched::ArrivalRate { .. } => ("min_rate", "max_rate"),
            };
            return Err(error(format!(
                "{hi} ({max}) must be greater than {lo} ({min}), as LoadDensity requires"
            )));
        }
        let failure_threshold = args.failure_threshold.unwrap_or(0.01);
        if !(0.0..=1.0).contains(&failure_threshold) {
            return Err(error(format!(
                "failure_threshold must be from 0 to 1, got {failure_threshold}"
            )));
        }
        let max_iterations = integer(
            "max_iterations",
            args.max_iterations,
            12,
            1,
            Some((MAX_ITERATIONS, "probes a search makes at most")),
        )?;
        let probe_time = args.probe_time.unwrap_or(DEFAULT_PROBE_TIME);
        if !(MIN_PROBE_TIME..=MAX_PROBE_TIME).contains(&probe_time) {
            return Err(error(format!(
                "probe_time must be from {MIN_PROBE_TIME} to {MAX_PROBE_TIME} seconds, got {probe_time}"
            )));
        }
        test_length(caps, Some(probe_time))
            .map_err(|e| error(format!("probe_time: {}", e.message())))?;
        let latency =
            match (args.latency_percentile, args.latency_limit_ms) {
                (None, None) => None,
                (Some(_), None) => return Err(error(
                    "latency_percentile needs latency_limit_ms (the most that percentile may be)",
                )),
                (percentile, Some(limit_ms)) => {
                    let percentile = percentile.unwrap_or(95.0);
                    if !(percentile > 0.0 && percentile <= 100.0) {
                        return Err(error(format!(
                            "latency_percentile must be over 0 and at most 100, got {percentile}"
                        )));
                    }
                    if !(limit_ms.is_finite() && limit_ms > 0.0) {
                        return Err(error(format!(
                        "latency_limit_ms must be a positive number of milliseconds, got {limit_ms}"
                    )));
                    }
                    Some(LatencyLimit {
                        percentile,
                        limit_ms,
                    })
                }
            };
        Ok(Settings {
            searched,
            bounds: Bounds {
                min,
                max,
                max_iterations: u32::try_from(max_iterations).unwrap_or(u32::MAX),
            },
            limits: Limits {
                failure_threshold,
                latency,
            },
            probe_time,
        })
    }

    /// `LD_start_test`'s keywords for a probe at `level`.
    fn probe_keys(&self, test: &Map<String, Value>, level: u64) -> Map<String, Value> {
        let mut keys = test.clone();
        let users = match self.searched {
            Searched::Users => level,
            Searched::ArrivalRate { users } => {
                keys.insert("arrival_rate".into(), json!(level));
                users
            }
        };
        keys.insert("user_count".into(), json!(users));
        keys.insert("spawn_rate".into(), json!(SPAWN_AT_ONCE));
        keys.insert("test_time".into(), json!(self.probe_time));
        keys
    }
}

/// The first key of `pairs` given.
fn given(pairs: &[(&'static str, bool)]) -> Option<&'static str> {
    pairs.iter().find(|(_, given)| *given).map(|(key, _)| *key)
}

/// `test` checked: an object of `LD_start_test`'s keywords without those
/// the search sets.
fn test_keys(args: &FindArgs, searched: Searched) -> Result<Map<String, Value>, ActionError> {
    if args.probe.is_some() {
        return Err(error(
            "probe: LoadDensity's probe is a Python callable, which JSON cannot carry; give `test`, the test to probe (LD_start_test's keywords without user_count, spawn_rate and test_time)",
        ));
    }
    let test = match &args.test {
        Some(Value::Object(test)) => test,
        None | Some(Value::Null) => {
            return Err(error(
                "test: missing (give the test to probe: LD_start_test's keywords, e.g. {\"tasks\": [...], \"wait_time\": 0})",
            ))
        }
        Some(_) => return Err(error("test: expected an object of LD_start_test's keywords")),
    };
    for (key, why) in NOT_IN_TEST {
        if test.contains_key(*key) {
            return Err(error(format!("test.{key}: not given to a search: {why}")));
        }
    }
    if let (Searched::ArrivalRate { .. }, true) = (searched, test.contains_key("arrival_rate")) {
        return Err(error(
            "test.arrival_rate: not given to an arrival-rate search: it sets the rate of each probe (min_rate, max_rate)",
        ));
    }
    match test.get("runner_mode") {
        None | Some(Value::Null) => {}
        Some(mode) if mode == "local" => {}
        Some(mode) => {
            return Err(error(format!(
                "test.runner_mode {mode}: a search runs its probes locally (\"local\")"
            )))
        }
    }
    Ok(test.clone())
}

/// What a probe measured, from its figures.
fn measure(finished: &Finished, latency: Option<LatencyLimit>) -> Measured {
    let summary = finished.figures.summary();
    Measured {
        users: u64::try_from(finished.users_started).unwrap_or(u64::MAX),
        requests: summary.totals.requests,
        failures: summary.totals.failures,
        abandoned: finished.abandoned,
        p50_ms: summary.latency_overall.p50_ms,
        p95_ms: summary.latency_overall.p95_ms,
        p99_ms: summary.latency_overall.p99_ms,
        latency_ms: latency.map(|l| finished.figures.latency_percentile_ms(l.percentile)),
    }
}

/// The probe whose figures the records keep.
struct Kept {
    level: u64,
    safe: bool,
    finished: Finished,
    parameters: Value,
}

/// Searches the load at which the test breaks its limits (see the module).
async fn find_breaking_point(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let map = args.into_map(POSITIONAL)?;
    let args: FindArgs = serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| {
        let path = e.path().to_string();
        match path.as_str() {
            "." => error(format!("bad arguments: {}", e.into_inner())),
            _ => error(format!("bad arguments: {path}: {}", e.into_inner())),
        }
    })?;
    let state = ctx.state().clone();
    // Every bound first, LoadDensity's among them: nothing is sent yet.
    let settings = Settings::check(&args, state.caps())?;
    let test = test_keys(&args, settings.searched)?;
    // A search or test running is refused as LD_start_test refuses it.
    if state.test_running() || state.fleet().running().is_some() {
        return Err(error(EngineError::Busy.to_string()));
    }
    // The test made ready at the search's highest level: every check
    // LD_start_test makes (policy, caps, budget), once, before the first
    // probe.
    let top = settings.bounds.max;
    let ready = ready(&ctx, settings.probe_keys(&test, top), ACTION)
        .await
        .map_err(|e| {
            let at = match settings.searched {
                Searched::Users => "max_users",
                Searched::ArrivalRate { .. } => "max_rate",
            };
            error(format!("test (at {at} {top}): {}", e.message()))
        })?;
    // Every note is about a key of `test`.
    let notes: Vec<String> = ready.notes().iter().map(|n| format!("test.{n}")).collect();
    drop(ready);
    let Some(claim) = state.search().claim(&state.shutdown_signal()) else {
        return Err(error(EngineError::Busy.to_string()));
    };
    state.fleet().forget_last();
    let started = Instant::now();
    let mut search = Search::new(settings.bounds, settings.limits);
    let mut kept: Option<Kept> = None;
    let mut stopped_early = false;
    while let Some(level) = search.next() {
        if claim.stop().is_cancelled() {
            stopped_early = true;
            break;
        }
        // Each probe made ready afresh: a test of its own, whose load
        // (HTTP/2 connections and all) no other probe shares.
        let probe = probe_ready(&ctx, settings.probe_keys(&test, level), ACTION)
            .await
            .map_err(|e| error(format!("the probe at {level}: {}", e.message())))?;
        let (plan, parameters) = probe.into_plan();
        let resolver = state.resolver(|r| r.clone());
        let counted = state.clone();
        let finished = state
            .engine()
            .run(plan, &resolver, claim.stop().clone(), move |finished| {
                counted.count_since_start(finished)
            })
            .await
            .map_err(|e| error(format!("the probe at {level}: {e}")))?;
        if finished.stopped_early {
            stopped_early = true;
            break;
        }
        let safe = search.record(level, measure(&finished, settings.limits.latency));
        // The highest safe probe (each safe one is above the last), else
        // the last one run.
        if safe || !kept.as_ref().is_some_and(|k| k.safe) {
            kept = Some(Kept {
                level,
                safe,
                finished,
                parameters,
            });
        }
    }
    let mut outcome: Outcome = search.outcome(settings.searched, stopped_early);
    outcome.kept = kept.as_ref().map(|k| k.level);
    if let Some(mut kept) = kept {
        // The reports and the run history show what the search found with
        // the kept probe's parameters.
        if let Value::Object(map) = &mut kept.parameters {
            map.insert("breaking_point".into(), outcome.to_json());
        }
        state.keep_records(&kept.finished);
        state.set_last_run(LastRun {
            parameters: kept.parameters,
            elapsed_s: kept.finished.elapsed.as_secs_f64(),
            verdicts: Vec::new(),
        });
    }
    drop(claim);
    let mut result = outcome.to_json();
    if let Value::Object(map) = &mut result {
        map.insert("probe_time".into(), json!(settings.probe_time));
        map.insert("elapsed_s".into(), json!(started.elapsed().as_secs_f64()));
        if !notes.is_empty() {
            map.insert("notes".into(), json!(notes));
        }
    }
    Ok(result)
}
