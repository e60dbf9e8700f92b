//! `LD_find_breaking_point` end to end: a local target that answers 503
//! whenever more than K requests are in flight at once (each holds 5 ms,
//! so the concurrency is real), searched with closed-loop users that never
//! wait (users = concurrency), through `ld-tower run --json` and through
//! `ld-tower serve`; a latency limit against a target whose latency grows
//! with concurrency; an arrival-rate search; bad bounds refused with
//! nothing sent; `LD_stop_test` stopping a search, and no test starting
//! while one runs.
//!
//! The load tests take one lock each, in turn: on two shared cores, two
//! searches at once would measure each other.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
#[path = "common/http2.rs"]
#[allow(dead_code)] // Its TLS targets and other counts are http2.rs's.
mod h2_target;

use std::time::Duration;

use common::framed::{framed_client, one};
use common::target::Target;
use common::{parse, run_cli, run_one, serve, DEADLINE};
use h2_target::{H2Target, Listen};
use ld_tower::actions::{Registry, MAX_ITERATIONS, MAX_PROBE_TIME};
use ld_tower::control::Control;
use ld_tower::paths::Paths;
use ld_tower::policy::Caps;
use ld_tower::state::State;
use serde_json::{json, Value};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// Requests in flight the target serves at once; one more fails.
const K: u64 = 13;

/// One load test at a time (each test has a runtime of its own: the
/// lock is tokio's, which any runtime waits on).
static LOAD: Mutex<()> = Mutex::const_new(());

/// The test to probe: closed-loop users, no wait, one GET of `path`.
fn test_of(target: &Target, path: &str) -> Value {
    json!({
        "user_detail_dict": {"host": target.url()},
        "wait_time": 0,
        "tasks": [{"name": "limited", "method": "get", "url": path}],
    })
}

/// The search for K between 1 and 64 users, failure threshold 0, 1 s probes.
fn search_for_k(target: &Target) -> Value {
    json!({
        "test": test_of(target, &format!("/limited?max={K}&ms=5")),
        "min_users": 1, "max_users": 64, "failure_threshold": 0, "probe_time": 1,
    })
}

/// `ld-tower ARGS FILE` with `actions` as the file, off the runtime:
/// (exit code, stdout, stderr).
async fn run_file(args: &[&str], actions: Value) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("search.json");
    std::fs::write(&file, actions.to_string()).unwrap();
    let mut args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    args.push(file.to_str().unwrap().to_owned());
    let (status, stdout, stderr) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_cli(&args, &[])
    })
    .await
    .unwrap();
    drop(dir);
    (status.code().unwrap_or(-1), stdout, stderr)
}

/// Checks a search for K's result against what the target served; its
/// safe users.
fn assert_found_k(result: &Value, target: &Target) -> u64 {
    let safe = result["safe_users"].as_u64().expect("safe_users");
    assert!(safe.abs_diff(K) <= 1, "safe_users {safe}, K {K}: {result}");
    assert_eq!(result["breaking_users"], json!(safe + 1), "{result}");
    assert_eq!(result["search"], "users");
    assert_eq!(result["stopped_early"], false);
    assert_eq!(result["records_from"], json!(safe));
    let history = result["history"].as_array().expect("history");
    // LoadDensity's search from (1 + 64) // 2 = 32, to adjacency.
    assert_eq!(history[0]["users"], 32);
    assert!(history.len() <= 7, "{result}");
    let mut served = 0;
    for probe in history {
        let users = probe["users"].as_u64().unwrap();
        let requests = probe["requests"].as_u64().unwrap();
        let failures = probe["failures"].as_u64().unwrap();
        assert!(requests > 0, "{probe}");
        assert_eq!(probe["abandoned"], 0, "{probe}");
        assert_eq!(
            probe["failure_rate"].as_f64(),
            Some(failures as f64 / requests as f64),
            "{probe}"
        );
        // Clearly under K nothing fails; clearly over it, requests do.
        if users < K {
            assert_eq!(
                (probe["safe"].as_bool(), failures),
                (Some(true), 0),
                "{probe}"
            );
        }
        if users > K + 1 {
            assert_eq!(probe["safe"], false, "{probe}");
            assert!(failures > 0, "{probe}");
            assert!(
                probe["reason"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("failure rate ")),
                "{probe}"
            );
        }
        for key in ["p50_ms", "p95_ms", "p99_ms"] {
            assert!(probe[key].as_f64().is_some_and(|ms| ms > 0.0), "{probe}");
        }
        served += requests;
    }
    // Every probe was a real test: the target served exactly what they counted.
    assert_eq!(target.count("/limited"), served);
    safe
}

/// The probe at `users` in `result`'s history.
fn probe_at(result: &Value, users: u64) -> &Value {
    result["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["users"] == users)
        .unwrap_or_else(|| panic!("no probe at {users}: {result}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_finds_the_concurrency_a_target_breaks_at_and_reports_it() {
    let _one = LOAD.lock().await;
    let target = Target::start().await;
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("search");
    let report = report.to_str().unwrap();
    let (code, stdout, stderr) = run_file(
        &["run", "--json"],
        json!([
            ["LD_find_breaking_point", search_for_k(&target)],
            ["LD_summary"],
            ["LD_generate_json_report", {"json_file_name": report}],
            ["LD_generate_html_report", {"html_name": report}],
        ]),
    )
    .await;
    // The probes past K fail by design: the run does not.
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    let result = parse(lines[0]);
    let safe = assert_found_k(&result, &target);
    assert_eq!(result["probe_time"], 1.0);
    assert_eq!(result["failure_threshold"], 0.0);
    assert_eq!(
        (result["min_users"].as_u64(), result["max_users"].as_u64()),
        (Some(1), Some(64))
    );

    // The records keep the probe at safe_users, and only it.
    let kept = probe_at(&result, safe);
    let summary = parse(lines[1]);
    assert_eq!(summary["totals"]["requests"], kept["requests"], "{summary}");
    assert_eq!(summary["totals"]["failures"], kept["failures"], "{summary}");

    let json_report: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{report}.json")).unwrap()).unwrap();
    assert_eq!(
        json_report["breaking_point"],
        result_without_run_keys(&result)
    );
    assert_eq!(json_report["parameters"]["user_count"], json!(safe));
    assert_eq!(json_report["parameters"].get("breaking_point"), None);
    assert_eq!(json_report["parameters"]["test_time"], 1.0);
    assert_eq!(
        json_report["summary"]["totals"]["requests"],
        kept["requests"]
    );

    let html = std::fs::read_to_string(format!("{report}.html")).unwrap();
    assert!(html.contains("<h2>Breaking point</h2>"), "{html}");
    assert!(
        html.contains(&format!(
            "safe users: <strong>{safe}</strong> · breaking at <strong>{}</strong>",
            safe + 1
        )),
        "{html}"
    );
    let probes = html
        .split("<table id=\"probes\">")
        .nth(1)
        .and_then(|rest| rest.split("</table>").next())
        .expect("the probes' table");
    let rows = result["history"].as_array().unwrap().len();
    assert_eq!(probes.matches("<tr>").count(), rows + 1, "{probes}");
    assert_eq!(probes.matches(">safe<").count(), rows_safe(&result));
}

/// The result's keys the reports keep (not the run's own: its time).
fn result_without_run_keys(result: &Value) -> Value {
    let mut kept = result.clone();
    if let Value::Object(map) = &mut kept {
        map.remove("probe_time");
        map.remove("elapsed_s");
    }
    kept
}

fn rows_safe(result: &Value) -> usize {
    result["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["safe"] == true)
        .count()
}

/// `run --summary`: the person's summary ends with the search's probes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_summary_shows_the_probes() {
    let _one = LOAD.lock().await;
    let target = Target::start().await;
    // 1 to 4 users, K = 2: probes at 2 (safe) and 3 (unsafe), then done.
    let (code, stdout, stderr) = run_file(
        &["run", "--summary"],
        json!([["LD_find_breaking_point", {
            "test": test_of(&target, "/limited?max=2&ms=5"),
            "min_users": 1, "max_users": 4, "failure_threshold": 0, "probe_time": 0.5,
        }]]),
    )
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let table = stdout
        .split("\nBreaking point: ")
        .nth(1)
        .unwrap_or_else(|| panic!("no probe table: {stdout}"));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0], "safe users 2, breaking at 3", "{stdout}");
    assert_eq!(
        lines[1],
        "     users  requests   failed    fail %    p95 ms  result"
    );
    assert!(
        lines[2].starts_with("         2 ") && lines[2].ends_with("  safe"),
        "{stdout}"
    );
    assert!(
        lines[3].starts_with("         3 ")
            && lines[3].contains("  UNSAFE: failure rate ")
            && lines[3].ends_with(" over failure_threshold 0"),
        "{stdout}"
    );
    assert_eq!(lines.len(), 4, "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_runs_a_search_refuses_tests_meanwhile_and_stop_ends_it() {
    let _one = LOAD.lock().await;
    let target = Target::start().await;
    let server = serve(&["--framed"]);
    let addr = server.addr().to_string();
    let client = framed_client(&addr, None);
    let busy = "a test is already running (stop it with LD_stop_test, or wait for it to end)";

    // While a test runs, a search is refused and sends nothing.
    let testing = {
        let client = framed_client(&addr, None);
        let start = json!({"user_detail_dict": {"host": target.url()}, "user_count": 1,
                           "wait_time": 0.01, "test_time": null,
                           "tasks": [{"method": "get", "url": "/"}]});
        tokio::spawn(async move { one(&client, "LD_start_test", start).await })
    };
    let deadline = Instant::now() + DEADLINE;
    while target.count("/") == 0 {
        assert!(Instant::now() < deadline, "the test sent nothing");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        one(&client, "LD_find_breaking_point", search_for_k(&target)).await,
        format!("Error: LD_find_breaking_point: {busy}")
    );
    assert_eq!(
        one(&client, "LD_stop_test", json!({})).await,
        r#"{"stopped":true}"#
    );
    assert_eq!(parse(&testing.await.unwrap())["stopped_early"], true);
    assert_eq!(target.count("/limited"), 0);
    assert_eq!(
        one(&client, "LD_clear_records", json!({})).await,
        r#"{"status":"cleared"}"#
    );

    // A search with long probes, stopped during its first.
    let mut slow = search_for_k(&target);
    slow["probe_time"] = json!(10);
    let searching = {
        let client = framed_client(&addr, None);
        tokio::spawn(async move { one(&client, "LD_find_breaking_point", slow).await })
    };
    let deadline = Instant::now() + DEADLINE;
    while target.count("/limited") == 0 {
        assert!(Instant::now() < deadline, "the search sent nothing");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    let start = json!({"user_detail_dict": {"host": target.url()}, "user_count": 1,
                       "test_time": 1, "tasks": [{"method": "get", "url": "/"}]});
    assert_eq!(
        one(&client, "LD_start_test", start).await,
        format!("Error: LD_start_test: {busy}")
    );
    assert_eq!(
        one(&client, "LD_find_breaking_point", search_for_k(&target)).await,
        format!("Error: LD_find_breaking_point: {busy}")
    );
    assert_eq!(
        one(&client, "LD_stop_test", json!({})).await,
        r#"{"stopped":true,"search":true}"#
    );
    let stopped = parse(&searching.await.unwrap());
    assert!(started.elapsed() < Duration::from_secs(5), "{stopped}");
    assert_eq!(stopped["stopped_early"], true, "{stopped}");
    assert_eq!(
        stopped["history"],
        json!([]),
        "the stopped probe is not judged"
    );
    assert_eq!(stopped["safe_users"], 0);
    assert_eq!(stopped["breaking_users"], Value::Null);
    assert_eq!(stopped["records_from"], Value::Null);
    assert_eq!(
        one(&client, "LD_stop_test", json!({})).await,
        r#"{"stopped":false,"reason":"no test is running"}"#
    );
    // The stopped probe's requests are not in the records.
    let summary = parse(&one(&client, "LD_summary", json!({})).await);
    assert_eq!(summary["totals"]["requests"], 0, "{summary}");

    // A search to its end, on the served agent.
    let before = target.count("/limited");
    let result = parse(&one(&client, "LD_find_breaking_point", search_for_k(&target)).await);
    let safe = result["safe_users"].as_u64().unwrap();
    assert!(safe.abs_diff(K) <= 1, "{result}");
    assert_eq!(result["breaking_users"], json!(safe + 1), "{result}");
    let served: u64 = result["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(target.count("/limited") - before, served);
}

/// A target whose latency is 20 ms per request in flight: a p95 limit of
/// 210 ms holds up to 10 users, whatever the failures (threshold 1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_latency_limit_breaks_where_latency_crosses_it() {
    let _one = LOAD.lock().await;
    let target = Target::start().await;
    let control = Control::default();
    let line = run_one(
        &control,
        json!(["LD_find_breaking_point", {
            "test": test_of(&target, "/crowded?per_ms=20"),
            "min_users": 1, "max_users": 32, "failure_threshold": 1, "probe_time": 1,
            "latency_percentile": 95, "latency_limit_ms": 210,
        }]),
    )
    .await;
    let result = parse(&line);
    let safe = result["safe_users"].as_u64().unwrap();
    assert!(safe.abs_diff(10) <= 1, "{result}");
    assert_eq!(result["breaking_users"], json!(safe + 1), "{result}");
    // Every probe's requests count since start (what the exporters show);
    // the records keep the probe at safe_users.
    let history = result["history"].as_array().unwrap();
    let all: u64 = history
        .iter()
        .map(|p| p["requests"].as_u64().unwrap())
        .sum();
    let state = control.state();
    assert_eq!(state.figures_since_start().summary().totals.requests, all);
    assert_eq!(
        json!(state.figures(|f| f.summary()).totals.requests),
        probe_at(&result, safe)["requests"]
    );
    assert_eq!(target.count("/crowded"), all);
    assert_eq!(result["latency_percentile"], 95.0);
    assert_eq!(result["latency_limit_ms"], 210.0);
    for probe in result["history"].as_array().unwrap() {
        let latency = probe["latency_ms"].as_f64().unwrap();
        assert_eq!(probe["safe"], json!(latency <= 210.0), "{probe}");
        assert_eq!(probe["failures"], 0, "{probe}");
        if probe["safe"] == false {
            assert!(
                probe["reason"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("p95 latency ")
                        && r.ends_with(" ms over latency_limit_ms 210")),
                "{probe}"
            );
        }
    }
}

/// The open model: 20 users serve an arrival rate; each request holds
/// 100 ms and more than 5 at once fail, so the target breaks near 50
/// requests per second (5 in flight at 20 ms apart). A few failures are
/// let through (threshold 0.05): a late iteration the engine catches up
/// with comes in a burst.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arrival_rate_search_finds_the_rate_a_target_breaks_at() {
    let _one = LOAD.lock().await;
    let target = Target::start().await;
    let control = Control::default();
    let mut test = test_of(&target, "/limited?max=5&ms=100");
    test.as_object_mut().unwrap().remove("wait_time");
    let line = run_one(
        &control,
        json!(["LD_find_breaking_point", {
            "test": test, "search": "arrival_rate", "users": 20,
            "min_rate": 1, "max_rate": 200, "failure_threshold": 0.05, "probe_time": 1,
        }]),
    )
    .await;
    let result = parse(&line);
    let safe = result["safe_arrival_rate"].as_u64().unwrap();
    assert!((40..=52).contains(&safe), "{result}");
    assert_eq!(result["breaking_arrival_rate"], json!(safe + 1), "{result}");
    assert_eq!(result["users"], 20);
    assert!(result.get("safe_users").is_none());
    let history = result["history"].as_array().unwrap();
    assert_eq!(history[0]["arrival_rate"], 100);
    for probe in history {
        assert_eq!(probe["users"], 20, "{probe}");
        // About rate x 1 s iterations each.
        let rate = probe["arrival_rate"].as_u64().unwrap();
        let requests = probe["requests"].as_u64().unwrap();
        assert!(requests.abs_diff(rate) <= rate / 5 + 2, "{probe}");
    }
    let served: u64 = history
        .iter()
        .map(|p| p["requests"].as_u64().unwrap())
        .sum();
    assert_eq!(target.count("/limited"), served);
}

/// Each probe is a test of its own, compiled afresh: HTTP/2 users share
/// connections within a test, whose drivers live on that test's worker
/// threads, so a probe never inherits the last one's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_probe_is_a_fresh_test_http2_connections_included() {
    let _one = LOAD.lock().await;
    let target = H2Target::start(Listen::Plain).await;
    let line = run_one(
        &Control::default(),
        json!(["LD_find_breaking_point", {
            "test": {"host": format!("http://{}", target.addr), "wait_time": 0.01,
                     "http2": true, "h2_connections": 1, "wait_tim": 0,
                     "tasks": [{"method": "get", "url": "/ok", "name": "ok"}]},
            "min_users": 1, "max_users": 4, "failure_threshold": 0, "probe_time": 0.5,
        }]),
    )
    .await;
    let result = parse(&line);
    // 2, 3, 4: every probe safe.
    assert_eq!(result["safe_users"], 4, "{result}");
    assert_eq!(result["breaking_users"], Value::Null, "{result}");
    // Said once, of the key in `test`, not once per probe.
    assert_eq!(
        result["notes"],
        json!(["test.wait_tim: unknown key, ignored (did you mean \"wait_time\"?)"])
    );
    let history = result["history"].as_array().unwrap();
    assert_eq!(history.len(), 3, "{result}");
    let mut requests = 0;
    for probe in history {
        assert_eq!(probe["failures"], 0, "{probe}");
        requests += probe["requests"].as_u64().unwrap();
    }
    assert_eq!(target.seen.version("HTTP/2.0"), requests);
}

/// Every bad bound, LoadDensity's and ld-tower's, is refused by name
/// before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bounds_are_refused_before_any_load() {
    let target = Target::start().await;
    let caps = Caps {
        max_users: Some(50),
        max_rate: Some(100.0),
        max_test_time: Some(Duration::from_secs(3)),
        ..Caps::default()
    };
    let control = Control::with_state(
        Registry::with_builtins(),
        State::new(Paths::default()).with_caps(caps),
    );
    let test = test_of(&target, "/limited?max=1");
    let with = |extra: Value| {
        let mut args = json!({"test": test, "max_users": 40, "probe_time": 1});
        for (key, value) in extra.as_object().unwrap() {
            args[key] = value.clone();
        }
        args
    };
    let cases = [
        (with(json!({"min_users": 0})), "min_users must be at least 1, got 0"),
        (with(json!({"min_users": -3})), "min_users must be at least 1, got -3"),
        (
            with(json!({"min_users": 40})),
            "max_users (40) must be greater than min_users (40), as LoadDensity requires",
        ),
        (
            with(json!({"min_users": 5, "max_users": 4})),
            "max_users (4) must be greater than min_users (5), as LoadDensity requires",
        ),
        (
            with(json!({"max_users": 51})),
            "max_users 51 is over the agent's limit of 50 (--max-users)",
        ),
        (
            with(json!({"max_users": 100_001})),
            "max_users must be at most 100000 (the most users ld-tower runs), got 100001",
        ),
        (
            with(json!({"failure_threshold": 1.5})),
            "failure_threshold must be from 0 to 1, got 1.5",
        ),
        (
            with(json!({"failure_threshold": -0.1})),
            "failure_threshold must be from 0 to 1, got -0.1",
        ),
        (
            with(json!({"max_iterations": 0})),
            "max_iterations must be at least 1, got 0",
        ),
        (
            with(json!({"max_iterations": MAX_ITERATIONS + 1})),
            &format!(
                "max_iterations must be at most {MAX_ITERATIONS} (probes a search makes at most), got {}",
                MAX_ITERATIONS + 1
            ),
        ),
        (
            with(json!({"probe_time": 0.1})),
            "probe_time must be from 0.5 to 600 seconds, got 0.1",
        ),
        (
            with(json!({"probe_time": MAX_PROBE_TIME + 1.0})),
            "probe_time must be from 0.5 to 600 seconds, got 601",
        ),
        (
            with(json!({"probe_time": 4})),
            "probe_time: test_time 4s is over the agent's limit of 3s (--max-test-time)",
        ),
        (
            with(json!({"latency_percentile": 99})),
            "latency_percentile needs latency_limit_ms (the most that percentile may be)",
        ),
        (
            with(json!({"latency_limit_ms": 0})),
            "latency_limit_ms must be a positive number of milliseconds, got 0",
        ),
        (
            with(json!({"latency_limit_ms": 10, "latency_percentile": 101})),
            "latency_percentile must be over 0 and at most 100, got 101",
        ),
        (
            with(json!({"search": "rps"})),
            "search \"rps\" is not one of \"users\", \"arrival_rate\"",
        ),
        (
            with(json!({"search": "arrival_rate", "max_rate": 101, "max_users": null})),
            "max_rate: arrival_rate 101 is over the agent's limit of 100 per second (--max-rate)",
        ),
        (
            with(json!({"search": "arrival_rate", "max_rate": 1_000_001, "max_users": null})),
            "max_rate must be at most 1000000 (the highest rate a search probes), got 1000001",
        ),
        (
            with(json!({"search": "arrival_rate", "max_rate": 50, "users": 51, "max_users": null})),
            "users 51 is over the agent's limit of 50 (--max-users)",
        ),
        (
            with(json!({"search": "arrival_rate"})),
            "max_users: used by search \"users\"; search \"arrival_rate\" takes min_rate, max_rate and users",
        ),
        (
            with(json!({"min_rate": 3})),
            "min_rate: used by search \"arrival_rate\"; search \"users\" takes min_users and max_users",
        ),
        (
            json!({"max_users": 40, "probe_time": 1}),
            "test: missing (give the test to probe: LD_start_test's keywords, e.g. {\"tasks\": [...], \"wait_time\": 0})",
        ),
        (
            with(json!({"probe": "my_probe"})),
            "probe: LoadDensity's probe is a Python callable, which JSON cannot carry; give `test`, the test to probe (LD_start_test's keywords without user_count, spawn_rate and test_time)",
        ),
        (
            with(json!({"test": {"user_count": 3, "tasks": []}})),
            "test.user_count: not given to a search: the search sets the users of each probe (min_users, max_users)",
        ),
        (
            with(json!({"test": {"runner_mode": "master", "tasks": []}})),
            "test.runner_mode \"master\": a search runs its probes locally (\"local\")",
        ),
        (
            with(json!({"max_user": 3})),
            "bad arguments: max_user: unknown field `max_user`, expected one of `test`, `probe`, `min_users`, `max_users`, `failure_threshold`, `max_iterations`, `probe_time`, `latency_percentile`, `latency_limit_ms`, `search`, `min_rate`, `max_rate`, `users`",
        ),
        // LD_start_test's own refusals, for the test at the search's top.
        (
            with(json!({"test": {"user_detail_dict": {"host": target.url()}}})),
            "test (at max_users 40): tasks: missing (give a list of tasks)",
        ),
    ];
    for (args, message) in &cases {
        let line = run_one(&control, json!(["LD_find_breaking_point", args])).await;
        assert_eq!(
            line,
            format!("Error: LD_find_breaking_point: {message}"),
            "{args}"
        );
    }
    // Positional, LoadDensity's order with `test` in `probe`'s place.
    let line = run_one(
        &control,
        json!(["LD_find_breaking_point", [test, 10, 5, 0.01, 12]]),
    )
    .await;
    assert_eq!(
        line,
        "Error: LD_find_breaking_point: max_users (5) must be greater than min_users (10), as LoadDensity requires"
    );
    assert_eq!(target.total(), 0, "nothing was sent");
    assert!(!control.state().search().running());
}
