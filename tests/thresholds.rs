//! Thresholds: LD_start_test says which held and which failed, the JUnit
//! report shows them, and `ld-tower run` exits 4 when one failed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::target::Target;
use ld_tower::control::Control;
use serde_json::{json, Value};

fn test_with(url: &str, thresholds: Value) -> Value {
    json!({"load_density": [["LD_start_test", {
        "user_detail_dict": {"user": "fast_http_user", "host": url},
        "user_count": 2, "spawn_rate": 100, "iterations": 10, "wait_time": 0,
        "tasks": [{"method": "get", "request_url": "/", "name": "home"},
                  {"method": "get", "request_url": "/status/500", "name": "broken"}],
        "thresholds": thresholds
    }]]})
}

fn first_line(reply: &ld_tower::protocol::Reply) -> Value {
    serde_json::from_slice(&reply.pieces()[0]).expect("a JSON result line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_say_which_held_and_which_failed() {
    let target = Target::start().await;
    let control = Control::default();
    let reply = control
        .run(&test_with(
            &target.url(),
            json!({"p95_ms": 5000, "failure_rate": 0.1, "min_rps": 1,
                   "per_name": {"home": {"p99_ms": 5000, "failure_rate": 0}, "broken": {"failure_rate": 0.5}}}),
        ))
        .await;
    let result = first_line(&reply);
    let thresholds = &result["thresholds"];
    assert_eq!(thresholds["passed"], json!(false), "{result}");
    let verdict = |scope: &str, metric: &str| {
        thresholds["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["scope"] == scope && v["metric"] == metric)
            .map(|v| v["passed"].clone())
    };
    assert_eq!(verdict("overall", "p95_ms"), Some(json!(true)));
    assert_eq!(
        verdict("overall", "failure_rate"),
        Some(json!(false)),
        "half the requests failed"
    );
    assert_eq!(verdict("overall", "min_rps"), Some(json!(true)));
    assert_eq!(verdict("home", "failure_rate"), Some(json!(true)));
    assert_eq!(verdict("broken", "failure_rate"), Some(json!(false)));
    assert!(control.state().thresholds_failed());
    // The JUnit report has one failing case per failed threshold.
    let dir = tempfile::tempdir().unwrap();
    let name = dir.path().join("junit");
    let reply = control
        .run(&json!([["LD_generate_junit_report", {"report_name": name.to_str().unwrap()}]]))
        .await;
    assert_eq!(reply.failures(), 0);
    let junit = std::fs::read_to_string(dir.path().join("junit.xml")).unwrap();
    assert!(junit.contains("overall failure_rate"), "{junit}");
    assert!(junit.matches("<failure").count() >= 2, "{junit}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thresholds_that_hold_pass_and_bad_ones_are_refused() {
    let target = Target::start().await;
    let control = Control::default();
    let reply = control
        .run(&test_with(
            &target.url(),
            json!({"p99_ms": 5000, "per_name": {"home": {"failure_rate": 0}}}),
        ))
        .await;
    assert_eq!(first_line(&reply)["thresholds"]["passed"], json!(true));
    assert!(!control.state().thresholds_failed());
    let reply = control
        .run(&test_with(&target.url(), json!({"p95_ms": -1})))
        .await;
    let line = String::from_utf8_lossy(&reply.pieces()[0]).into_owned();
    assert_eq!(
        line,
        "Error: LD_start_test: thresholds.p95_ms: must be a number from 0\n"
    );
    // An unknown metric is a key nobody reads: noted, with the closest one.
    let reply = control
        .run(&test_with(&target.url(), json!({"p42_ms": 1})))
        .await;
    assert_eq!(
        first_line(&reply)["notes"],
        json!(["thresholds.p42_ms: unknown key, ignored (did you mean \"p50_ms\"?)"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_exits_4_when_a_threshold_failed() {
    let target = Target::start().await;
    let dir = tempfile::tempdir().unwrap();
    for (limit, code) in [
        (json!({"failure_rate": 0.01}), 4),
        (json!({"failure_rate": 0.9}), 0),
    ] {
        let file = dir.path().join("test.json");
        std::fs::write(&file, test_with(&target.url(), limit).to_string()).unwrap();
        let bin = common::bin();
        let out = tokio::task::spawn_blocking(move || {
            std::process::Command::new(bin)
                .args(["run", "--no-progress"])
                .arg(&file)
                .output()
        })
        .await
        .unwrap()
        .expect("ld-tower run");
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
}
