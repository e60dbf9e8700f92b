//! Load changed mid-test, through a real `ld-tower serve`: one connection
//! runs `LD_start_test` (which blocks until the test ends) while another
//! changes its users (`LD_set_users`), its load shape
//! (`LD_set_load_shape`) or its arrival rate (`LD_set_rate`). The oracle is
//! the target: the requests it holds at once (each `/slow` request is held
//! 300 ms and users do not wait between iterations, so a running user is
//! nearly always one request in flight), and the arrivals it counted in
//! windows of equal length before and after a change of rate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::target::Target;
use common::tokens::principals_file;
use common::{serve_in, ServeProcess, DEADLINE};
use ld_tower::client::{Client, ClientConfig};
use ld_tower::codec::Framing;
use serde_json::{json, Value};
use tokio::time::Instant;

const RUNNER_TOKEN: &str = "runner-5d1f0b7c93a2e846-token";
const READER_TOKEN: &str = "reader-a04e6c2b81f7d395-token";

/// `ld-tower serve --framed --token-file ... EXTRA`, in `dir`.
fn server(dir: &Path, extra: &[&str]) -> ServeProcess {
    // The runner may read and run, the reader only read.
    let tokens = principals_file(
        dir,
        &[
            ("runner", RUNNER_TOKEN, &["read", "run"]),
            ("reader", READER_TOKEN, &["read"]),
        ],
    );
    let mut args = vec!["--framed", "--token-file", &tokens];
    args.extend_from_slice(extra);
    serve_in(dir, &args, &[])
}

fn client(server: &ServeProcess, token: &str, timeout: Duration) -> Client {
    let config = ClientConfig {
        framing: Framing::Framed,
        token: Some(token.to_owned()),
        timeout,
        ..ClientConfig::default()
    };
    Client::new(server.addr().to_string(), config)
}

/// The reply's lines to `actions`.
async fn send(client: &Client, actions: &Value) -> Vec<String> {
    client
        .send(&actions.to_string())
        .await
        .expect("a reply")
        .lines
}

/// One action's reply line.
async fn one(client: &Client, name: &str, args: Value) -> String {
    let mut lines = send(client, &json!([[name, args]])).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    lines.remove(0)
}

/// One action's reply, which must be JSON (not an error).
async fn ok(client: &Client, name: &str, args: Value) -> Value {
    let line = one(client, name, args).await;
    serde_json::from_str(&line).unwrap_or_else(|_| panic!("{name}: {line}"))
}

/// Waits (within [`DEADLINE`]) until `done` holds.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + DEADLINE;
    while !done() {
        assert!(Instant::now() < until, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Starts `LD_start_test` with `args` on a connection of its own; its
/// reply comes when the test ends.
fn start(server: &ServeProcess, args: Value) -> tokio::task::JoinHandle<Vec<String>> {
    let runner = client(server, RUNNER_TOKEN, Duration::from_secs(300));
    tokio::spawn(async move { send(&runner, &json!([["LD_start_test", args]])).await })
}

/// A test of `users` users holding `/slow` 300 ms each, no wait.
fn slow_test(target: &Target, extra: Value) -> Value {
    let mut args = json!({
        "user_detail_dict": {"user": "fast_http_user", "host": target.url()},
        "user_count": 2, "spawn_rate": 100, "test_time": 120, "wait_time": 0,
        "tasks": [{"name": "slow", "method": "get", "request_url": "/slow?ms=300"}],
    });
    for (key, value) in extra.as_object().into_iter().flatten() {
        args[key] = value.clone();
    }
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_shape_change_mid_test_from_another_connection() {
    let target = Target::start().await;
    let work = tempfile::tempdir().expect("work dir");
    let server = server(work.path(), &["--max-users", "8"]);
    let steer = client(&server, RUNNER_TOKEN, DEADLINE);
    let reader = client(&server, READER_TOKEN, DEADLINE);

    // Nothing to change yet.
    assert_eq!(
        one(&steer, "LD_set_users", json!({"user_count": 3})).await,
        "Error: LD_set_users: no test is running (start one with LD_start_test)"
    );

    let test = start(&server, slow_test(&target, json!({})));
    wait_until("2 users in flight", || target.in_flight() == 2).await;

    // Refused, the test untouched: over --max-users, bad values, a
    // keyword it does not take, a rate the test does not have, a principal
    // that may only read.
    let refusals = send(
        &steer,
        &json!([
            ["LD_set_users", {"user_count": 9}],
            ["LD_set_users", {"user_count": -1}],
            ["LD_set_users", {"user_count": "6"}],
            ["LD_set_users", {"user_count": 2.5}],
            ["LD_set_users", {"user_count": 200_000}],
            ["LD_set_users", {"spawn_rate": 5}],
            ["LD_set_users", {"user_count": 3, "spawn_rate": 0}],
            ["LD_set_users", {"user_count": 3, "spawn_rate": -2}],
            ["LD_set_users", {"user_count": 3, "spawn_rate": "fast"}],
            ["LD_set_users", {"user_count": 3, "users": 4}],
            ["LD_set_rate", {"arrival_rate": 10}],
            ["LD_set_load_shape", {"load_shape": "ramp"}],
            ["LD_set_load_shape", {"load_shape": "soak", "shape_config": {"users": 9}}],
            ["LD_set_load_shape", {"load_shape": "soak", "shape_config": {"userz": 3}}],
        ]),
    )
    .await;
    let expected = [
        "Error: LD_set_users: user_count 9 is over the agent's limit of 8 (--max-users)",
        "Error: LD_set_users: user_count: -1 is not a whole number of users from 0",
        "Error: LD_set_users: user_count: \"6\" is not a number",
        "Error: LD_set_users: user_count: 2.5 is not a whole number of users from 0",
        "Error: LD_set_users: user_count 200000 is over the agent's limit of 8 (--max-users)",
        "Error: LD_set_users: user_count: missing (give the users to run, from 0)",
        "Error: LD_set_users: spawn_rate must be a positive number of users per second, not 0",
        "Error: LD_set_users: spawn_rate must be a positive number of users per second, not -2",
        "Error: LD_set_users: spawn_rate: \"fast\" is not a number",
        "Error: LD_set_users: users: not a keyword of this action (it takes user_count, spawn_rate)",
    ];
    assert_eq!(refusals[..expected.len()], expected, "{refusals:#?}");
    assert!(
        refusals[10].starts_with("Error: LD_set_rate: the running test has no arrival_rate")
            && refusals[10].contains("start the test with arrival_rate"),
        "{refusals:?}"
    );
    assert!(
        refusals[11].starts_with("Error: LD_set_load_shape: load_shape"),
        "{refusals:?}"
    );
    assert_eq!(
        refusals[12],
        "Error: LD_set_load_shape: the load shape's peak users 9 is over the agent's limit of 8 (--max-users)"
    );
    assert!(
        refusals[13].starts_with("Error: LD_set_load_shape: shape_config.userz"),
        "{refusals:?}"
    );
    assert_eq!(
        one(&reader, "LD_set_users", json!({"user_count": 6})).await,
        "Error: LD_set_users: forbidden for reader"
    );
    assert_eq!(
        one(&reader, "LD_set_rate", json!({"arrival_rate": 6})).await,
        "Error: LD_set_rate: forbidden for reader"
    );
    let status = ok(&reader, "LD_test_status", json!({})).await;
    assert_eq!(status["target_users"], 2, "{status}");
    assert_eq!(status["spawn_rate"], 100.0, "{status}");
    assert_eq!(status["arrival_rate"], Value::Null, "{status}");
    assert_eq!(status["load_shape"], Value::Null, "{status}");

    // Up to 6: the target sees 6 at once, never more.
    let reply = ok(
        &steer,
        "LD_set_users",
        json!({"user_count": 6, "spawn_rate": 50}),
    )
    .await;
    assert_eq!(reply["user_count"], 6, "{reply}");
    assert_eq!(reply["spawn_rate"], 50.0, "{reply}");
    assert_eq!(reply["load_shape"], Value::Null, "{reply}");
    assert_eq!(
        ok(&reader, "LD_test_status", json!({})).await["target_users"],
        6
    );
    wait_until("6 users in flight", || target.in_flight() == 6).await;
    assert_eq!(target.peak_in_flight(), 6);

    // Down to 1 (the spawn rate in effect, 50, by default): the retired
    // users finish the request under way and start no other.
    let reply = ok(&steer, "LD_set_users", json!([1])).await;
    assert_eq!(
        (reply["user_count"].clone(), reply["spawn_rate"].clone()),
        (json!(1), json!(50.0))
    );
    assert_eq!(
        ok(&reader, "LD_test_status", json!({})).await["target_users"],
        1
    );
    wait_until("1 user in flight", || target.in_flight() == 1).await;

    // A shape instead: it starts at its second 0 now.
    let reply = ok(
        &steer,
        "LD_set_load_shape",
        json!({"load_shape": "stages", "shape_config": {"stages": [
            {"duration": 100, "users": 3, "spawn_rate": 20}
        ]}}),
    )
    .await;
    assert_eq!(reply["load_shape"], "stages", "{reply}");
    assert_eq!(reply["user_count"], 3, "{reply}");
    wait_until("3 users in flight", || target.in_flight() == 3).await;
    let status = ok(&reader, "LD_test_status", json!({})).await;
    assert_eq!(
        (
            status["load_shape"].clone(),
            status["target_users"].clone(),
            status["spawn_rate"].clone()
        ),
        (json!("stages"), json!(3), json!(20.0)),
        "{status}"
    );

    // Zero users: a pause; the shape is dropped and the test goes on.
    let reply = ok(&steer, "LD_set_users", json!({"user_count": 0})).await;
    assert_eq!(reply["load_shape"], Value::Null, "{reply}");
    wait_until("no request in flight", || target.in_flight() == 0).await;
    let status = ok(&reader, "LD_test_status", json!({})).await;
    assert_eq!(status["running"], true, "{status}");
    assert_eq!(status["users"], 0, "{status}");

    // Past what a test's record keeps: 300 more changes in one request,
    // each in effect, the first 256 in all kept.
    let many: Vec<Value> = (0..300)
        .map(|_| json!(["LD_set_users", {"user_count": 0}]))
        .collect();
    let replies = send(&steer, &Value::Array(many)).await;
    assert_eq!(replies.len(), 300);
    assert!(replies.iter().all(|r| r.starts_with('{')), "{replies:?}");

    assert_eq!(ok(&steer, "LD_stop_test", json!({})).await["stopped"], true);
    let lines = test.await.expect("the test's connection");
    assert_eq!(lines.len(), 1, "{lines:?}");
    let result: Value = serde_json::from_str(&lines[0]).expect("the test's result");
    assert_eq!(result["stopped_early"], true);
    let served = target.count("/slow");
    assert!(served > 0);
    let summary_requests = result["summary"]["totals"]["requests"].as_u64();
    assert!(
        summary_requests.is_some_and(|n| n > 0 && n <= served),
        "{result}"
    );
    let changes = result["changes"].as_array().expect("changes");
    assert_eq!(changes.len(), 256, "{result}");
    assert_eq!(result["changes_not_kept"], 4 + 300 - 256);
    let actions: Vec<&str> = changes[..4]
        .iter()
        .map(|c| c["action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        actions,
        [
            "LD_set_users",
            "LD_set_users",
            "LD_set_load_shape",
            "LD_set_users"
        ]
    );
    assert_eq!(changes[0]["user_count"], 6);
    assert_eq!(changes[0]["spawn_rate"], 50.0);
    assert_eq!(changes[2]["load_shape"], "stages");
    assert_eq!(changes[2]["shape_config"]["stages"][0]["users"], 3);
    let at: Vec<f64> = changes.iter().filter_map(|c| c["at_s"].as_f64()).collect();
    assert_eq!(at.len(), 256);
    assert!(at.windows(2).all(|w| w[0] <= w[1]) && at[0] > 0.0, "{at:?}");
    // Never more users than asked for, at any time.
    assert_eq!(target.peak_in_flight(), 6);

    assert_eq!(
        one(&steer, "LD_set_rate", json!({"arrival_rate": 3})).await,
        "Error: LD_set_rate: no test is running (start one with LD_start_test)"
    );
}

/// The arrivals the target saw in `[from, from + window)`.
fn arrivals_in(target: &Target, from: Instant, window: Duration) -> usize {
    target
        .arrivals("/slow")
        .iter()
        .filter(|at| **at >= from && **at < from + window)
        .count()
}

/// Waits until the target saw an arrival after `at`.
async fn arrivals_after(target: &Target, at: Instant) {
    wait_until("an arrival after the window", || {
        target
            .arrivals("/slow")
            .last()
            .is_some_and(|last| *last >= at)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_arrival_rate_changes_mid_test_in_the_right_direction() {
    let target = Target::start().await;
    let work = tempfile::tempdir().expect("work dir");
    let server = server(work.path(), &["--max-rate", "100"]);
    let steer = client(&server, RUNNER_TOKEN, DEADLINE);
    // 20 users, more than 40 per second of 50 ms requests need.
    let test = start(
        &server,
        json!({
            "user_detail_dict": {"user": "fast_http_user", "host": target.url()},
            "user_count": 20, "spawn_rate": 1000, "test_time": 120, "arrival_rate": 5,
            "tasks": [{"name": "slow", "method": "get", "request_url": "/slow?ms=50"}],
        }),
    );
    let window = Duration::from_millis(1500);
    wait_until("the first arrivals", || target.count("/slow") >= 2).await;
    let slow_from = Instant::now();
    arrivals_after(&target, slow_from + window).await;

    assert_eq!(
        one(&steer, "LD_set_rate", json!({"arrival_rate": 500})).await,
        "Error: LD_set_rate: arrival_rate 500 is over the agent's limit of 100 per second (--max-rate)"
    );
    for bad in [json!(0), json!(-1), json!("x")] {
        let line = one(&steer, "LD_set_rate", json!({"arrival_rate": bad})).await;
        assert!(
            line.starts_with("Error: LD_set_rate: arrival_rate"),
            "{line}"
        );
    }
    let reply = ok(&steer, "LD_set_rate", json!({"arrival_rate": 40})).await;
    assert_eq!(reply["arrival_rate"], 40.0, "{reply}");
    let status = ok(&steer, "LD_test_status", json!({})).await;
    assert_eq!(status["arrival_rate"], 40.0, "{status}");
    // Effective within a second: the window starts 0.5 s after the change.
    let fast_from = Instant::now() + Duration::from_millis(500);
    arrivals_after(&target, fast_from + window).await;

    ok(&steer, "LD_set_rate", json!({"arrival_rate": 5})).await;
    let slow_again = Instant::now() + Duration::from_millis(500);
    arrivals_after(&target, slow_again + window).await;

    let (slow, fast, slow_again) = (
        arrivals_in(&target, slow_from, window),
        arrivals_in(&target, fast_from, window),
        arrivals_in(&target, slow_again, window),
    );
    assert!(fast > 3 * slow.max(1), "{slow} then {fast}");
    assert!(fast > 3 * slow_again.max(1), "{fast} then {slow_again}");

    ok(&steer, "LD_stop_test", json!({})).await;
    let lines = test.await.expect("the test's connection");
    let result: Value = serde_json::from_str(&lines[0]).expect("the test's result");
    let rates: Vec<f64> = result["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["arrival_rate"].as_f64())
        .collect();
    assert_eq!(rates, [40.0, 5.0], "{result}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_users_than_admitted_are_admitted_again_against_max_memory() {
    let target = Target::start().await;
    let work = tempfile::tempdir().expect("work dir");
    // One user on one worker thread, one request name, as the engine
    // prices it (src/engine/memory.rs); 50 KiB more leaves room for 2 more
    // users (24 KiB each), not 3.
    let cost = ld_tower::engine::Cost::of(1, 1, 1, 0).bytes();
    let max_memory = (cost + 50 * 1024).to_string();
    let server = server(work.path(), &["--max-memory", &max_memory]);
    let steer = client(&server, RUNNER_TOKEN, DEADLINE);
    let test = start(&server, slow_test(&target, json!({"user_count": 1})));
    wait_until("1 user in flight", || target.in_flight() == 1).await;

    let refused = one(&steer, "LD_set_users", json!({"user_count": 4})).await;
    assert!(
        refused.starts_with(
            "Error: LD_set_users: user_count 4 is over the 1 users the test was admitted for"
        ) && refused.contains("--max-memory"),
        "{refused}"
    );
    let refused = one(
        &steer,
        "LD_set_load_shape",
        json!({"load_shape": "soak", "shape_config": {"users": 5}}),
    )
    .await;
    assert!(refused.contains("--max-memory"), "{refused}");
    assert_eq!(
        ok(&steer, "LD_test_status", json!({})).await["target_users"],
        1
    );

    let reply = ok(&steer, "LD_set_users", json!({"user_count": 3})).await;
    assert_eq!(reply["user_count"], 3, "{reply}");
    wait_until("3 users in flight", || target.in_flight() == 3).await;
    // Down and up again within what was admitted: no new admission.
    ok(&steer, "LD_set_users", json!({"user_count": 2})).await;
    ok(&steer, "LD_set_users", json!({"user_count": 3})).await;

    ok(&steer, "LD_stop_test", json!({})).await;
    let lines = test.await.expect("the test's connection");
    assert!(lines[0].starts_with('{'), "{lines:?}");
    assert_eq!(target.peak_in_flight(), 3);
}

/// Waits until the running test's `elapsed_s` passed `seconds`.
async fn elapsed_past(client: &Client, seconds: f64) {
    let until = Instant::now() + DEADLINE;
    loop {
        let status = ok(client, "LD_test_status", json!({})).await;
        if status["elapsed_s"].as_f64().is_some_and(|e| e > seconds) {
            return;
        }
        assert!(Instant::now() < until, "never past {seconds} s: {status}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_shows_in_the_series_and_the_report() {
    let target = Target::start().await;
    let work = tempfile::tempdir().expect("work dir");
    let server = server(work.path(), &[]);
    let steer = client(&server, RUNNER_TOKEN, DEADLINE);
    let test = start(&server, slow_test(&target, json!({"user_count": 1})));
    wait_until("1 user in flight", || target.in_flight() == 1).await;
    // Second 0 closes with 1 user running.
    elapsed_past(&steer, 1.2).await;
    let reply = ok(&steer, "LD_set_users", json!({"user_count": 3})).await;
    assert_eq!(reply["user_count"], 3, "{reply}");
    wait_until("3 users in flight", || target.in_flight() == 3).await;
    // A whole second with 3 users running closes.
    let status = ok(&steer, "LD_test_status", json!({})).await;
    let now = status["elapsed_s"].as_f64().expect("elapsed_s");
    elapsed_past(&steer, now.ceil() + 1.2).await;
    ok(&steer, "LD_stop_test", json!({})).await;
    test.await.expect("the test's connection");

    let report = ok(&steer, "LD_generate_json", json!({})).await;
    let users: Vec<u64> = report["series"]
        .as_array()
        .expect("a series")
        .iter()
        .map(|point| point["users"].as_u64().expect("users"))
        .collect();
    let first_three = users.iter().position(|&u| u == 3);
    assert_eq!(users.first(), Some(&1), "{users:?}");
    assert!(
        // (a second may close mid-ramp, with 2)
        first_three.is_some_and(|i| users[..i].iter().all(|&u| u < 3)),
        "users over time should go 1 then 3: {users:?}"
    );
    assert!(users.iter().all(|&u| u <= 3), "{users:?}");
    let changes = &report["parameters"]["changes"];
    assert_eq!(changes[0]["user_count"], 3, "{report}");
}
