//! LoadDensity's SLA gates, `LD_evaluate_sla` and `LD_assert_sla`, through
//! a real `ld-tower run --json` process and a real `ld-tower serve`: each
//! rule answered as LoadDensity 0.0.79 answers it (the expected answers
//! below are its own output for the same rules and summary), against a
//! given summary and against the one recorded by a real test; a failing
//! `LD_assert_sla` makes `run` exit 1 while the actions after it still run.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::Path;

use common::target::Target;
use common::{parse, run_actions_in, serve_in};
use serde_json::{json, Value};

/// Every kind of rule: each op in any case, per name and overall, metrics
/// a summary lacks, a bad op, no value, a falsy name, values given as text
/// and as a boolean.
const RULES: &str = r#"[{"type": "latency_p95", "value": 25}, {"type": "latency_p95", "value": 30}, {"type": "latency_p99", "value": 41.5, "op": "LT"}, {"type": "latency_p90", "value": 20, "op": "Gte"}, {"type": "latency_p50", "value": 12.5, "op": "gt", "name": null}, {"type": "latency_mean", "name": "home", "value": 10.5, "op": "GTE"}, {"type": "latency_p99", "name": "home", "value": "35.25", "op": "lt"}, {"type": "requests", "name": "home", "value": 9, "op": "gte"}, {"type": "requests", "value": 1000.0, "op": "lt"}, {"type": "failure_rate", "value": 0.05}, {"type": "failure_rate", "name": "home", "value": 1}, {"type": "latency_mean", "value": 100}, {"type": "latency_p50", "name": "nobody", "value": 100}, {"type": 7, "value": 1}, {"type": "latency_p50", "value": 1, "op": "eq"}, {"type": "latency_p50", "value": 1, "op": null}, {"type": "latency_p50"}, {"type": "latency_p50", "value": null}, {"type": "latency_p90", "value": 0, "op": "gt", "name": ""}, {"type": "requests", "value": true, "op": "gt", "name": "home"}]"#;

const SUMMARY: &str = r#"{"totals": {"requests": 10, "failure_rate": 0.1}, "latency_overall": {"p50_ms": 12.5, "p90_ms": 20, "p95_ms": 30, "p99_ms": "41.5"}, "per_name": {"home": {"count": 9, "mean_ms": 11, "p99_ms": 35.25}}}"#;

/// LoadDensity 0.0.79's `evaluate_sla(RULES, SUMMARY)`, as `json.dumps`
/// wrote it.
const EXPECTED: &str = r#"[{"passed": false, "rule": {"type": "latency_p95", "value": 25}, "actual": 30.0, "reason": "latency_p95(overall)=30.0 not lte 25"}, {"passed": true, "rule": {"type": "latency_p95", "value": 30}, "actual": 30.0, "reason": ""}, {"passed": false, "rule": {"type": "latency_p99", "value": 41.5, "op": "LT"}, "actual": 41.5, "reason": "latency_p99(overall)=41.5 not lt 41.5"}, {"passed": true, "rule": {"type": "latency_p90", "value": 20, "op": "Gte"}, "actual": 20.0, "reason": ""}, {"passed": false, "rule": {"type": "latency_p50", "value": 12.5, "op": "gt", "name": null}, "actual": 12.5, "reason": "latency_p50(None)=12.5 not gt 12.5"}, {"passed": true, "rule": {"type": "latency_mean", "name": "home", "value": 10.5, "op": "GTE"}, "actual": 11.0, "reason": ""}, {"passed": false, "rule": {"type": "latency_p99", "name": "home", "value": "35.25", "op": "lt"}, "actual": 35.25, "reason": "latency_p99(home)=35.25 not lt 35.25"}, {"passed": true, "rule": {"type": "requests", "name": "home", "value": 9, "op": "gte"}, "actual": 9.0, "reason": ""}, {"passed": true, "rule": {"type": "requests", "value": 1000.0, "op": "lt"}, "actual": 10.0, "reason": ""}, {"passed": false, "rule": {"type": "failure_rate", "value": 0.05}, "actual": 0.1, "reason": "failure_rate(overall)=0.1 not lte 0.05"}, {"passed": false, "rule": {"type": "failure_rate", "name": "home", "value": 1}, "actual": null, "reason": "metric not available in summary"}, {"passed": false, "rule": {"type": "latency_mean", "value": 100}, "actual": null, "reason": "metric not available in summary"}, {"passed": false, "rule": {"type": "latency_p50", "name": "nobody", "value": 100}, "actual": null, "reason": "metric not available in summary"}, {"passed": false, "rule": {"type": 7, "value": 1}, "actual": null, "reason": "metric not available in summary"}, {"passed": false, "rule": {"type": "latency_p50", "value": 1, "op": "eq"}, "actual": null, "reason": "unsupported op 'eq'"}, {"passed": false, "rule": {"type": "latency_p50", "value": 1, "op": null}, "actual": null, "reason": "unsupported op 'none'"}, {"passed": false, "rule": {"type": "latency_p50"}, "actual": null, "reason": "rule missing 'value'"}, {"passed": false, "rule": {"type": "latency_p50", "value": null}, "actual": null, "reason": "rule missing 'value'"}, {"passed": true, "rule": {"type": "latency_p90", "value": 0, "op": "gt", "name": ""}, "actual": 20.0, "reason": ""}, {"passed": true, "rule": {"type": "requests", "value": true, "op": "gt", "name": "home"}, "actual": 9.0, "reason": ""}]"#;

fn value(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// A test of one user, 4 rounds of `home` (`/`) and, if `broken`, of
/// `broken` (`/status/500`).
fn test(url: &str, broken: bool) -> Value {
    let mut tasks = vec![json!({"method": "get", "request_url": "/", "name": "home"})];
    if broken {
        tasks.push(json!({"method": "get", "request_url": "/status/500", "name": "broken"}));
    }
    json!(["LD_start_test", {
        "user_detail_dict": {"user": "fast_http_user", "host": url},
        "user_count": 1, "spawn_rate": 100, "iterations": 4, "wait_time": 0, "tasks": tasks
    }])
}

/// `ld-tower run --json` of `actions` in `dir`: its exit code and one line
/// per action.
fn run_file(dir: &Path, actions: &[Value]) -> (Option<i32>, Vec<String>) {
    run_actions_in(dir, actions, &[])
}

/// The rules against the recorded summary of a test of `home` and
/// `broken` (4 requests each, `broken` all 500): each figure exactly
/// `LD_summary`'s.
fn recorded_rules() -> Value {
    json!([
        {"type": "latency_p95", "value": 60000},
        {"type": "failure_rate", "value": 0.5, "op": "LTE"},
        {"type": "failure_rate", "value": 0.5, "op": "lt"},
        {"type": "requests", "value": 8, "op": "gte"},
        {"type": "requests", "value": 8, "op": "Gt"},
        {"type": "latency_mean", "name": "home", "value": 60000},
        {"type": "latency_p99", "name": "broken", "value": 0, "op": "gt"},
        {"type": "requests", "name": "broken", "value": 4, "op": "lte"}
    ])
}

fn check_recorded(summary: &Value, got: &Value) {
    let brief: Vec<(bool, Value, String)> = got
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["passed"].as_bool().unwrap(),
                r["actual"].clone(),
                r["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let overall = &summary["latency_overall"];
    assert_eq!(
        brief,
        [
            (true, overall["p95_ms"].clone(), String::new()),
            (true, json!(0.5), String::new()),
            (
                false,
                json!(0.5),
                "failure_rate(overall)=0.5 not lt 0.5".into()
            ),
            (true, json!(8.0), String::new()),
            (false, json!(8.0), "requests(overall)=8.0 not gt 8".into()),
            (
                true,
                summary["per_name"]["home"]["mean_ms"].clone(),
                String::new()
            ),
            (
                true,
                summary["per_name"]["broken"]["p99_ms"].clone(),
                String::new()
            ),
            (true, json!(4.0), String::new()),
        ]
    );
    assert_eq!(got[0]["rule"], recorded_rules()[0]);
}

#[test]
fn rules_as_loaddensity_answers_them_through_run() {
    let (_runtime, target) = Target::in_runtime();
    let dir = tempfile::tempdir().unwrap();
    let (rules, summary) = (value(RULES), value(SUMMARY));
    let too_many: Vec<Value> = (0..1001)
        .map(|_| json!({"type": "requests", "value": 1}))
        .collect();
    let actions = [
        json!(["LD_evaluate_sla", {"rules": rules, "summary": summary}]),
        json!(["LD_evaluate_sla", [rules, summary]]),
        test(&target.url(), true),
        json!(["LD_summary"]),
        json!(["LD_evaluate_sla", {"rules": recorded_rules()}]),
        json!(["LD_evaluate_sla", {"rules": recorded_rules(), "summary": null}]),
        json!(["LD_assert_sla", [[{"type": "requests", "value": 8}, {"type": "failure_rate", "value": 1}]]]),
        // Refused, each naming its fault.
        json!(["LD_evaluate_sla", {"rules": {"type": "requests"}}]),
        json!(["LD_evaluate_sla", {"rules": [{"type": "requests", "value": 1}, "p95"]}]),
        json!(["LD_evaluate_sla", {"rules": too_many}]),
        json!(["LD_evaluate_sla", {"rules": [], "summary": [1]}]),
        json!(["LD_evaluate_sla", {"rules": [{"type": "requests", "value": [1]}]}]),
        json!(["LD_evaluate_sla", {"rules": [{"type": "latency_p50", "value": 1}],
                                   "summary": {"latency_overall": {"p50_ms": "fast"}}}]),
        json!(["LD_evaluate_sla", {"rules": [], "thresholds": {}}]),
        json!(["LD_evaluate_sla", {"rules": []}]),
    ];
    let (code, lines) = run_file(dir.path(), &actions);
    // Only the refusals failed (broken's 500s are judged by the rules, not
    // by --exit-code-on-error, since LD_start_test set no thresholds: 1
    // either way).
    assert_eq!(code, Some(1));
    let expected = value(EXPECTED);
    assert_eq!(parse(&lines[0]), expected);
    assert_eq!(parse(&lines[1]), expected, "positional");
    let recorded = parse(&lines[3]);
    assert_eq!(recorded["totals"]["requests"], 8);
    check_recorded(&recorded, &parse(&lines[4]));
    check_recorded(&recorded, &parse(&lines[5]));
    let asserted = parse(&lines[6]);
    assert_eq!(
        asserted,
        json!([
            {"passed": true, "rule": {"type": "requests", "value": 8}, "actual": 8.0, "reason": ""},
            {"passed": true, "rule": {"type": "failure_rate", "value": 1}, "actual": 0.5, "reason": ""}
        ]),
        "LD_assert_sla returns the list when every rule held"
    );
    assert_eq!(
        lines[7..],
        [
            "Error: LD_evaluate_sla: rules must be a list of rules ({\"type\", \"value\", \"op\", \"name\"})",
            "Error: LD_evaluate_sla: rules[1] must be an object ({\"type\", \"value\", \"op\", \"name\"})",
            "Error: LD_evaluate_sla: rules: 1001 rules, at most 1000 in one call",
            "Error: LD_evaluate_sla: summary must be an object in LD_summary's shape (null: the recorded one)",
            "Error: LD_evaluate_sla: rules[0].value: [1] is not a number",
            "Error: LD_evaluate_sla: summary.latency_overall.p50_ms: 'fast' is not a number",
            "Error: LD_evaluate_sla: bad arguments: unknown field `thresholds`, expected `rules` or `summary`",
            "[]",
        ]
    );
}

/// `LD_assert_sla` failing fails its action: `run` exits 1 (not the 0 of
/// a test whose requests all succeeded) and the actions after it run; one
/// that holds exits 0.
#[test]
fn a_failed_assert_makes_run_exit_1_and_later_actions_run() {
    let (_runtime, target) = Target::in_runtime();
    let dir = tempfile::tempdir().unwrap();
    let gate = |limit: u64| {
        json!(["LD_assert_sla", {"rules": [
            {"type": "requests", "value": limit, "op": "gte"},
            {"type": "latency_p99", "value": 60000},
            {"type": "requests", "name": "home", "value": 4, "op": "lt"}
        ]}])
    };
    let (code, lines) = run_file(
        dir.path(),
        &[test(&target.url(), false), gate(5), json!(["LD_summary"])],
    );
    assert_eq!(code, Some(1), "{lines:#?}");
    assert_eq!(
        lines[1],
        "Error: LD_assert_sla: SLA gates failed: requests(overall)=4.0 not gte 5; requests(home)=4.0 not lt 4"
    );
    assert_eq!(
        parse(&lines[2])["totals"]["requests"],
        4,
        "the next action ran"
    );
    assert_eq!(target.count("/"), 4);

    let (code, lines) = run_file(
        dir.path(),
        &[
            test(&target.url(), false),
            json!(["LD_assert_sla", {"rules": [{"type": "requests", "value": 4, "op": "gte"}]}]),
        ],
    );
    assert_eq!(code, Some(0), "{lines:#?}");
    assert_eq!(parse(&lines[1])[0]["passed"], true);
}

#[test]
fn rules_served() {
    let (_runtime, target) = Target::in_runtime();
    let dir = tempfile::tempdir().unwrap();
    let server = serve_in(dir.path(), &[], &[]);
    let actions = json!([
        ["LD_evaluate_sla", {"rules": value(RULES), "summary": value(SUMMARY)}],
        test(&target.url(), true),
        ["LD_summary"],
        ["LD_evaluate_sla", {"rules": recorded_rules()}],
        ["LD_assert_sla", {"rules": [{"type": "failure_rate", "value": 0.25}]}],
        ["LD_summary"]
    ]);
    let lines = server.legacy_lines(&actions.to_string()).unwrap();
    assert_eq!(lines.len(), 6, "{lines:#?}");
    assert_eq!(parse(&lines[0]), value(EXPECTED));
    let recorded = parse(&lines[2]);
    check_recorded(&recorded, &parse(&lines[3]));
    assert_eq!(
        lines[4],
        "Error: LD_assert_sla: SLA gates failed: failure_rate(overall)=0.5 not lte 0.25"
    );
    assert_eq!(parse(&lines[5]), recorded, "the next action ran");
}

/// LoadDensity 0.0.79's `canary_verdict` on a baseline and a candidate
/// with one passing `requests` rule, less its defect: it gave every rule,
/// passed ones too, as a reason (`"SLA: {'type': 'requests', ...}"`), so
/// any rule meant "rollback"; here only the p95 regression is a reason.
const CANARY: &str = r#"{"verdict": "rollback", "reasons": ["regression: p95_ms 20.00 -> 25.00"], "sla_findings": [{"passed": true, "rule": {"type": "requests", "value": 50, "op": "gte"}, "actual": 100.0, "reason": ""}], "diff": [{"metric": "failure_rate", "baseline": 0.01, "candidate": 0.01, "threshold": 0.011000000000000001, "status": "ok"}, {"metric": "p50_ms", "baseline": 10.0, "candidate": 10.5, "threshold": 11.0, "status": "ok"}, {"metric": "p95_ms", "baseline": 20.0, "candidate": 25.0, "threshold": 22.0, "status": "regression"}, {"metric": "p99_ms", "baseline": 30.0, "candidate": 30.0, "threshold": 33.0, "status": "ok"}]}"#;

#[test]
fn canary_verdicts_through_run_and_serve() {
    let (_runtime, target) = Target::in_runtime();
    let dir = tempfile::tempdir().unwrap();
    let slow_baseline = json!({"totals": {"failure_rate": 0.0},
        "latency_overall": {"p50_ms": 60000, "p95_ms": 60000, "p99_ms": 60000}});
    let fast_baseline = json!({"totals": {"failure_rate": 0.0},
        "latency_overall": {"p50_ms": 0.0001, "p95_ms": 0.0001, "p99_ms": 0.0001}});
    let (code, lines) = run_file(
        dir.path(),
        &[
            test(&target.url(), false),
            json!(["LD_summary"]),
            // The recorded test as the candidate (candidate_summary null).
            json!(["LD_canary_verdict", {"baseline_summary": slow_baseline,
                "candidate_summary": null,
                "sla_rules": [{"type": "requests", "value": 4, "op": "gte"}]}]),
            json!(["LD_canary_verdict", [fast_baseline, null,
                [{"type": "requests", "value": 5, "op": "gte"}], 10]]),
            json!(["LD_canary_verdict", {"baseline_summary": slow_baseline,
                "candidate_summary": null, "sla_rules": [], "tolerance_pct": -5}]),
            json!(["LD_canary_verdict", {"baseline_summary": [], "sla_rules": []}]),
        ],
    );
    assert_eq!(code, Some(1), "{lines:#?}");
    let summary = parse(&lines[1]);
    let promoted = parse(&lines[2]);
    assert_eq!(promoted["verdict"], "promote", "a passed rule is no reason");
    assert_eq!(promoted["reasons"], json!([]));
    assert_eq!(promoted["sla_findings"][0]["actual"], 4.0);
    let latency = &summary["latency_overall"];
    for (i, metric) in ["p50_ms", "p95_ms", "p99_ms"].iter().enumerate() {
        assert_eq!(promoted["diff"][i + 1]["candidate"], latency[metric]);
        assert_eq!(promoted["diff"][i + 1]["status"], "ok");
    }
    let rolled = parse(&lines[3]);
    assert_eq!(rolled["verdict"], "rollback");
    let mut reasons = vec![json!("SLA: {'type': 'requests', 'value': 5, 'op': 'gte'}")];
    for metric in ["p50_ms", "p95_ms", "p99_ms"] {
        let candidate = latency[metric].as_f64().unwrap();
        reasons.push(json!(format!(
            "regression: {metric} 0.00 -> {candidate:.2}"
        )));
    }
    assert_eq!(rolled["reasons"], Value::from(reasons));
    assert_eq!(
        lines[4],
        "Error: LD_canary_verdict: tolerance_pct must be a number from 0, not -5"
    );
    assert_eq!(
        lines[5],
        "Error: LD_canary_verdict: baseline_summary must be an object in LD_summary's shape"
    );

    let server = serve_in(dir.path(), &[], &[]);
    let baseline = json!({"totals": {"failure_rate": 0.01},
        "latency_overall": {"p50_ms": 10, "p95_ms": 20, "p99_ms": 30}});
    let candidate = json!({"totals": {"failure_rate": 0.01, "requests": 100},
        "latency_overall": {"p50_ms": 10.5, "p95_ms": 25, "p99_ms": 30}});
    let actions = json!([["LD_canary_verdict", {"baseline_summary": baseline,
        "candidate_summary": candidate,
        "sla_rules": [{"type": "requests", "value": 50, "op": "gte"}]}]]);
    let lines = server.legacy_lines(&actions.to_string()).unwrap();
    assert_eq!(lines, [value(CANARY).to_string()]);
}
