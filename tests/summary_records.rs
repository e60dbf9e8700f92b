//! `LD_summary(success, failures)` over given records, against a real
//! `ld-tower serve` process in legacy framing, byte for byte. The figures
//! are those LoadDensity's `build_summary` returned for the same records
//! (observed with je_load_density 0.0.79), in ld-tower's summary shape.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{run_one, END};
use ld_tower::control::Control;
use ld_tower::figures::RequestOutcome;
use serde_json::json;

/// COMPAT.md's example (5, 7, 10, 30, 50, 100 under `a`), a success named
/// by its `test_url` with a numeric string latency, one whose latency is a
/// boolean (counted, not measured); a failure with a latency and one
/// without.
const SUCCESS: &str = r#"[{"name":"a","response_time_ms":5},{"name":"a","response_time_ms":7},{"name":"a","response_time_ms":10},{"name":"a","response_time_ms":30},{"name":"a","response_time_ms":50},{"name":"a","response_time_ms":100},{"test_url":"/u","response_time_ms":"12"},{"name":"b","response_time_ms":true}]"#;
const FAILURES: &str = r#"[{"name":"a","response_time_ms":1000},{"name":"c"}]"#;

/// The original gave: totals 10/8/2, overall over 8 latencies (p50 21.0,
/// p90 369.99999999999983, ...), per_name `a` (p50 20.0, p90 75.0, mean
/// 33.666666666666664) and `/u`; `b` has no latency and is absent.
const REPLY: &str = concat!(
    r#"{"totals":{"requests":10,"successes":8,"failures":2,"failure_rate":0.2},"#,
    r#""latency_overall":{"count":8,"p50_ms":21.0,"p90_ms":369.99999999999983,"p95_ms":684.9999999999995,"p99_ms":936.9999999999998,"max_ms":1000.0},"#,
    r#""per_name":{"/u":{"count":1,"successes":1,"failures":0,"min_ms":12.0,"max_ms":12.0,"mean_ms":12.0,"p50_ms":12.0,"p90_ms":12.0,"p95_ms":12.0,"p99_ms":12.0},"#,
    r#""a":{"count":6,"successes":6,"failures":0,"min_ms":5.0,"max_ms":100.0,"mean_ms":33.666666666666664,"p50_ms":20.0,"p90_ms":75.0,"p95_ms":87.5,"p99_ms":97.5}}}"#,
    "\n"
);

fn end() -> &'static str {
    std::str::from_utf8(END).expect("ascii")
}

#[test]
fn given_records_are_summarised_keyword_and_positional_alike() {
    let server = common::serve(&[]);
    let keyword = format!(r#"[["LD_summary", {{"success": {SUCCESS}, "failures": {FAILURES}}}]]"#);
    assert_eq!(server.legacy(&keyword), format!("{REPLY}{}", end()));
    let positional = format!(r#"{{"load_density": [["LD_summary", [{SUCCESS}, {FAILURES}]]]}}"#);
    assert_eq!(server.legacy(&positional), format!("{REPLY}{}", end()));
    // Null stands for the recorded figures: none here, so the recorded
    // summary; with nothing recorded, one list alone is taken.
    let recorded = server.legacy(r#"[["LD_summary", [null, null]], ["LD_summary", {"failures": [{"response_time_ms": 4}]}]]"#);
    assert_eq!(
        recorded,
        concat!(
            r#"{"totals":{"requests":0,"successes":0,"failures":0,"failure_rate":0.0},"latency_overall":{"count":0,"p50_ms":0.0,"p90_ms":0.0,"p95_ms":0.0,"p99_ms":0.0,"max_ms":0.0},"per_name":{}}"#,
            "\n",
            r#"{"totals":{"requests":1,"successes":0,"failures":1,"failure_rate":1.0},"latency_overall":{"count":1,"p50_ms":4.0,"p90_ms":4.0,"p95_ms":4.0,"p99_ms":4.0,"max_ms":4.0},"per_name":{}}"#,
            "\n",
            "Return_Data_Over_JE\n"
        )
    );
}

#[test]
fn bad_arguments_fail_that_action_only() {
    let server = common::serve(&[]);
    let reply = server.legacy(
        r#"[["LD_summary", {"success": [{"name": "a"}, "x"]}], ["LD_summary", {"success": 5}], ["LD_summary", {"x": 1}], ["LD_summary", [[], [], []]], ["LD_summary", {"success": "", "failures": {}}]]"#,
    );
    assert_eq!(
        reply,
        concat!(
            "Error: LD_summary: success[1] is a string, not a record (a JSON object)\n",
            "Error: LD_summary: success must be a list of records (JSON objects)\n",
            "Error: LD_summary: bad arguments: unknown field `x`, expected `success` or `failures`\n",
            "Error: LD_summary: takes at most 2 positional argument(s), got 3\n",
            r#"{"totals":{"requests":0,"successes":0,"failures":0,"failure_rate":0.0},"latency_overall":{"count":0,"p50_ms":0.0,"p90_ms":0.0,"p95_ms":0.0,"p99_ms":0.0,"max_ms":0.0},"per_name":{}}"#,
            "\n",
            "Return_Data_Over_JE\n"
        )
    );
}

#[tokio::test]
async fn one_list_alone_is_refused_while_requests_are_recorded() {
    let control = Control::default();
    control
        .state()
        .figures(|f| f.record("home", Duration::from_millis(3), RequestOutcome::ok(200)));
    assert_eq!(
        run_one(&control, json!(["LD_summary", {"success": []}])).await,
        "Error: LD_summary: success given without failures while 1 requests are recorded: \
         ld-tower keeps recorded requests as histograms, not records, so it cannot add them \
         to given ones; give both lists ([] for none)"
    );
    // Both lists: the records given, whatever is recorded.
    let line = run_one(
        &control,
        json!(["LD_summary", {"success": [], "failures": [{"response_time_ms": 2}]}]),
    )
    .await;
    assert!(
        line.starts_with(r#"{"totals":{"requests":1,"successes":0,"failures":1,"#),
        "{line}"
    );
}
