//! A test of a user kind other than HTTP leaves the same records as an HTTP
//! one: `LD_summary` (count, failures, bytes per name), the reports
//! (HTML, JUnit, JSON) and run history (persisted, fetched with its summary
//! exactly as `LD_summary` said it). Against a TCP echo started here.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
#[path = "common/socket.rs"]
mod servers;

use common::{confined, run_lines};
use serde_json::{json, Value};
use servers::tcp_echo;

const USERS: u64 = 2;
const ITERATIONS: u64 = 5;

#[tokio::test]
async fn a_socket_test_is_summarised_reported_and_kept_in_history() {
    let echo = tcp_echo(None, None).await;
    let dir = tempfile::tempdir().unwrap();
    let control = confined(dir.path());
    let lines = run_lines(
        &control,
        &json!([
            ["LD_start_test", {
                "user_detail_dict": {"user": "socket_user"},
                "user_count": USERS, "spawn_rate": 100, "test_time": 60,
                "iterations": ITERATIONS, "wait_time": 0,
                "host": echo.addr.to_string(),
                "tasks": [
                    {"name": "echo", "payload": "ping\n", "expect_bytes": 5},
                    {"name": "wrong", "payload": "pong\n", "expect_bytes": 5,
                     "expect_substring": "PING"}
                ]
            }],
            ["LD_summary", {}],
            ["LD_generate_html_report", {"html_name": "kinds"}],
            ["LD_generate_junit_report", {"report_name": "kinds"}],
            ["LD_generate_json", {}],
            ["LD_persist_records", {"database_path": "runs.db", "label": "socket"}],
            ["LD_fetch_run_records", {"database_path": "runs.db", "run_id": 1}]
        ]),
    )
    .await;
    assert_eq!(lines.len(), 7, "{lines:#?}");
    let summary: Value = serde_json::from_str(&lines[1]).unwrap();
    let runs = USERS * ITERATIONS;
    // Each step sends 5 bytes and reads 5: 10 bytes a step.
    assert_eq!(
        summary["per_name"]["echo"],
        json!({"count": runs, "successes": runs, "failures": 0,
               "min_ms": summary["per_name"]["echo"]["min_ms"],
               "max_ms": summary["per_name"]["echo"]["max_ms"],
               "mean_ms": summary["per_name"]["echo"]["mean_ms"],
               "p50_ms": summary["per_name"]["echo"]["p50_ms"],
               "p90_ms": summary["per_name"]["echo"]["p90_ms"],
               "p95_ms": summary["per_name"]["echo"]["p95_ms"],
               "p99_ms": summary["per_name"]["echo"]["p99_ms"],
               "bytes": 10 * runs})
    );
    assert_eq!(summary["per_name"]["wrong"]["failures"], runs);
    assert_eq!(summary["per_name"]["wrong"]["bytes"], 10 * runs);
    assert_eq!(echo.counts.received(), 2 * 5 * runs);
    assert_eq!(summary["totals"]["requests"], 2 * runs);

    let html = std::fs::read_to_string(dir.path().join("kinds.html")).unwrap();
    assert!(html.contains("echo") && html.contains("wrong"), "{html}");
    let junit = std::fs::read_to_string(dir.path().join("kinds.xml")).unwrap();
    assert!(
        junit.contains("10 x expected &quot;PING&quot; in the reply"),
        "the failure's reason is in the JUnit report: {junit}"
    );
    let json_report: Value = serde_json::from_str(&lines[4]).unwrap();
    assert!(json_report
        .to_string()
        .contains("expected \\\"PING\\\" in the reply"));

    let fetched: Value = serde_json::from_str(&lines[6]).unwrap();
    assert_eq!(fetched["label"], "socket");
    for key in ["totals", "latency_overall", "per_name"] {
        assert_eq!(fetched[key], summary[key], "{key}");
    }
}
