//! Load shapes (`load_shape` / `shape_config`) against a real target: the
//! requests in flight at the target, sampled while the test runs, follow
//! the shape's users (each request is held 200 ms and users do not wait
//! between iterations, so a user is nearly always one request in flight),
//! and the test ends when the shape does, or at `test_time`. The clock is
//! the engine's own (`LD_test_status`'s `elapsed_s`), read with each sample,
//! and so is the target it reports (`target_users`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::target::Target;
use common::{parse, run_lines, run_one, DEADLINE};
use ld_tower::actions::Registry;
use ld_tower::control::Control;
use ld_tower::engine::{kept_descriptors, Descriptors, EngineLimits};
use ld_tower::state::State;
use serde_json::{json, Value};
use tokio::time::Instant;

/// One look at the test: when (seconds since it started, by the engine),
/// the requests the target was holding, the users the engine aimed at.
#[derive(Debug, Clone, Copy)]
struct Sample {
    at: f64,
    in_flight: u64,
    target_users: usize,
}

/// `LD_start_test` with `shape` and `config` against `target`'s `/slow`
/// (200 ms a request, no wait between iterations), `test_time` 30 unless
/// `extra` says otherwise.
fn shaped(target: &Target, shape: &str, config: Value, extra: Value) -> Value {
    let mut args = json!({
        "user_detail_dict": {"user": "fast_http_user", "host": target.url()},
        "test_time": 30, "wait_time": 0,
        "load_shape": shape, "shape_config": config,
        "tasks": [{"name": "slow", "method": "get", "request_url": "/slow?ms=200"}],
    });
    for (key, value) in extra.as_object().into_iter().flatten() {
        args[key] = value.clone();
    }
    args
}

/// Runs `LD_start_test` with `args` in process, sampling every 20 ms while
/// the test runs (the target's requests in flight, then `LD_test_status`
/// on the same control); its result and the samples.
async fn run_sampled(target: &Target, args: Value) -> (Value, Vec<Sample>) {
    let control = Control::default();
    let run = tokio::spawn({
        let control = control.clone();
        async move { run_lines(&control, &json!([["LD_start_test", args]])).await }
    });
    let deadline = Instant::now() + DEADLINE;
    let mut samples = Vec::new();
    let mut every = tokio::time::interval(Duration::from_millis(20));
    while !run.is_finished() {
        every.tick().await;
        assert!(Instant::now() < deadline, "the test never ended");
        let in_flight = target.in_flight();
        let status = parse(&run_one(&control, json!(["LD_test_status"])).await);
        if status["running"] == true {
            samples.push(Sample {
                at: status["elapsed_s"].as_f64().expect("elapsed_s"),
                in_flight,
                target_users: status["target_users"].as_u64().expect("target_users") as usize,
            });
        }
    }
    let lines = run.await.expect("the test's task");
    assert_eq!(lines.len(), 1, "{lines:?}");
    (parse(&lines[0]), samples)
}

/// Between `from` and `to` seconds, `users` requests in flight: never
/// more, and at least 80% of the samples exactly (a user between two
/// requests is briefly not in flight).
fn holds(samples: &[Sample], from: f64, to: f64, users: u64) {
    let window: Vec<u64> = samples
        .iter()
        .filter(|s| s.at >= from && s.at < to)
        .map(|s| s.in_flight)
        .collect();
    assert!(
        window.len() >= 5,
        "only {} samples in {from}..{to} s: {samples:?}",
        window.len()
    );
    let exact = window.iter().filter(|&&n| n == users).count();
    assert!(
        window.iter().all(|&n| n <= users) && exact * 5 >= window.len() * 4,
        "in flight in {from}..{to} s should be {users}: {window:?}"
    );
}

/// `LD_test_status`'s `target_users` at each sample between `from` and
/// `to` seconds is `users`.
fn aims(samples: &[Sample], from: f64, to: f64, users: usize) {
    let window: Vec<usize> = samples
        .iter()
        .filter(|s| s.at >= from && s.at < to)
        .map(|s| s.target_users)
        .collect();
    assert!(!window.is_empty(), "no samples in {from}..{to} s");
    assert!(
        window.iter().all(|&n| n == users),
        "target_users in {from}..{to} s should be {users}: {window:?}"
    );
}

/// Every request the target served is in the result (retired users finish
/// theirs and record it), none abandoned, and the target holds none now.
fn counted_exactly(result: &Value, target: &Target) {
    assert_eq!(
        result["summary"]["totals"]["requests"].as_u64(),
        Some(target.total()),
        "{result}"
    );
    assert_eq!(result["summary"]["totals"]["failures"], 0, "{result}");
    assert_eq!(result["abandoned"], 0, "{result}");
    assert_eq!(target.in_flight(), 0);
    assert_eq!(result["stopped_early"], false, "{result}");
}

fn elapsed(result: &Value) -> f64 {
    result["elapsed_s"].as_f64().expect("elapsed_s")
}

/// Stages: 1 user for 2 s, then 4 for 2 s; the test ends with the shape,
/// at 4 s, long before its test_time of 30 s. `user_count` is ignored,
/// and the result says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stages_set_the_users_and_end_the_test() {
    let target = Target::start().await;
    let config = json!({"stages": [
        {"duration": 2, "users": 1},
        {"duration": 2, "users": 4, "spawn_rate": 10},
    ]});
    let args = shaped(&target, "Stages", config, json!({"user_count": 50}));
    let (result, samples) = run_sampled(&target, args).await;
    holds(&samples, 0.3, 1.9, 1);
    holds(&samples, 2.6, 3.9, 4);
    // From the first sample on: user_count (50) is never the target.
    aims(&samples, 0.0, 1.9, 1);
    aims(&samples, 2.1, 3.9, 4);
    assert!(samples.iter().all(|s| s.in_flight <= 4), "{samples:?}");
    let took = elapsed(&result);
    assert!((4.0..6.0).contains(&took), "elapsed_s {took}");
    counted_exactly(&result, &target);
    assert_eq!(result["users_started"], 4, "{result}");
    assert_eq!(result["load_shape"], "stages");
    assert_eq!(
        result["shape_config"],
        json!({"stages": [
            {"duration": 2.0, "users": 1, "spawn_rate": 1},
            {"duration": 2.0, "users": 4, "spawn_rate": 10},
        ]})
    );
    assert!(result.get("user_count").is_none(), "{result}");
    assert_eq!(result["test_time"], 30.0);
    let notes = result["notes"].to_string();
    assert!(
        notes.contains("user_count: ignored, load_shape \\\"stages\\\""),
        "{notes}"
    );
}

/// Spike: 1 user, 4 for 2 s, 1 again; the three retired users finish the
/// request under way (recorded: the result counts what the target served).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spike_comes_and_goes() {
    let target = Target::start().await;
    let config = json!({"baseline_users": 1, "spike_users": 4, "spawn_rate": 10,
                        "pre_seconds": 2, "spike_seconds": 2, "post_seconds": 2});
    let (result, samples) = run_sampled(&target, shaped(&target, "spike", config, json!({}))).await;
    holds(&samples, 0.3, 1.9, 1);
    holds(&samples, 2.6, 3.9, 4);
    holds(&samples, 4.7, 5.9, 1);
    aims(&samples, 0.0, 1.9, 1);
    aims(&samples, 4.1, 5.9, 1);
    let took = elapsed(&result);
    assert!((6.0..8.0).contains(&took), "elapsed_s {took}");
    counted_exactly(&result, &target);
    assert_eq!(result["users_started"], 4, "{result}");
    assert!(result.get("notes").is_none(), "{result}");
}

/// Soak: users 4, ramp 2 s (1, then int(4·1/2) = 2), hold 2 s, cooldown 2 s
/// (4, then int(4·(1 - 1/2)) = 2), then over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_soak_ramps_holds_and_cools() {
    let target = Target::start().await;
    let config = json!({"users": 4, "spawn_rate": 10, "ramp_seconds": 2,
                        "hold_seconds": 2, "cooldown_seconds": 2});
    let (result, samples) = run_sampled(&target, shaped(&target, "SOAK", config, json!({}))).await;
    holds(&samples, 0.3, 0.95, 1);
    holds(&samples, 1.4, 1.95, 2);
    holds(&samples, 2.6, 4.95, 4);
    holds(&samples, 5.5, 5.95, 2);
    aims(&samples, 1.1, 1.9, 2);
    aims(&samples, 5.1, 5.9, 2);
    let took = elapsed(&result);
    assert!((6.0..8.0).contains(&took), "elapsed_s {took}");
    counted_exactly(&result, &target);
    assert_eq!(result["load_shape"], "soak");
    assert_eq!(result["shape_config"]["cooldown_seconds"], 2.0);
}

/// test_time still ends a shape that would run longer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_time_cuts_a_longer_shape() {
    let target = Target::start().await;
    let config = json!({"stages": [{"duration": 60, "users": 2, "spawn_rate": 10}]});
    let args = shaped(&target, "stages", config, json!({"test_time": 2}));
    let (result, samples) = run_sampled(&target, args).await;
    holds(&samples, 0.4, 1.9, 2);
    let took = elapsed(&result);
    assert!((2.0..3.5).contains(&took), "elapsed_s {took}");
    counted_exactly(&result, &target);
    assert_eq!(result["users_started"], 2);
}

/// The engine admits a shaped test for its peak, not for `user_count`.
#[tokio::test]
async fn a_shape_is_admitted_for_its_peak() {
    let target = Target::start().await;
    let limits = EngineLimits {
        descriptors: Arc::new(Descriptors::under_limit(Some(kept_descriptors(0) + 3), 0)),
        ..EngineLimits::default()
    };
    let control = Control::with_state(
        Registry::with_builtins(),
        State::default().with_engine_limits(limits),
    );
    let config = json!({"stages": [{"duration": 1, "users": 1}, {"duration": 1, "users": 4}]});
    let args = shaped(&target, "stages", config, json!({"user_count": 1}));
    let lines = run_lines(&control, &json!([["LD_start_test", args]])).await;
    assert!(
        lines[0].starts_with("Error: LD_start_test: load_shape \"stages\" at its peak of 4 users needs 4 connections, but the engine may hold only 3 open"),
        "{lines:?}"
    );
    assert_eq!(target.total(), 0);
}

/// Unknown shapes and bad configs fail the action with what is wrong.
#[tokio::test]
async fn bad_shapes_are_named() {
    let control = Control::default();
    let task = json!([{"method": "get", "url": "http://127.0.0.1:9/"}]);
    let cases = [
        (
            json!({"load_shape": "ramp"}),
            "load_shape \"ramp\" is not one of \"stages\", \"spike\", \"soak\"",
        ),
        (
            json!({"load_shape": 3}),
            "load_shape 3 is not one of \"stages\", \"spike\", \"soak\"",
        ),
        (
            json!({"load_shape": "stages", "shape_config": {"stages": []}}),
            "shape_config.stages: no stage given",
        ),
        (
            json!({"load_shape": "stages", "shape_config": {"stages": [{"duration": 5}]}}),
            "shape_config.stages[0]: no users given",
        ),
        (
            json!({"load_shape": "stages", "shape_config": {"stages": [{"users": 5}]}}),
            "shape_config.stages[0]: no duration given",
        ),
        (
            json!({"load_shape": "spike", "shape_config": {"spike_users": -1}}),
            "shape_config.spike_users: -1 is negative",
        ),
        (
            json!({"load_shape": "soak", "shape_config": {"users": "many"}}),
            "shape_config.users: \"many\" is not a number",
        ),
        (
            json!({"load_shape": "soak", "shape_config": {"users": 200000}}),
            "shape_config.users: 200000 users is over the limit of 100000",
        ),
        (
            json!({"load_shape": "soak", "shape_config": {"users": 1, "iterations": 1}, "strict": true}),
            "strict: 1 key(s) not used by ld-tower: shape_config.iterations: unknown key, ignored",
        ),
        (
            json!({"load_shape": "soak", "shape_config": {"users": 1}, "iterations": 1}),
            "iterations cannot be combined with load_shape",
        ),
    ];
    for (extra, named) in cases {
        let mut args = extra.clone();
        args["tasks"] = task.clone();
        let lines = run_lines(&control, &json!([["LD_start_test", args]])).await;
        assert_eq!(lines.len(), 1, "{lines:?}");
        let expected = format!("Error: LD_start_test: {named}");
        assert!(
            lines[0].starts_with(&expected) || lines[0].contains(named),
            "{extra}: {named:?} not in {:?}",
            lines[0]
        );
        assert!(lines[0].starts_with("Error: LD_start_test: "), "{lines:?}");
    }
    assert!(control.state().engine().status().is_none(), "no test ran");
}
