//! The run history (`LD_persist_records`, `LD_list_runs`,
//! `LD_fetch_run_records`, `LD_compare_runs`), in process: figures are
//! recorded straight into the state, persisted into a SQLite file below a
//! confined temporary directory, then listed, fetched (the summary equal to
//! `LD_summary`'s at persist time, exactly) and compared (every delta and
//! verdict checked against the same arithmetic on `LD_summary`'s figures).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::{confined, parse, run_one, verdict};
use ld_tower::control::Control;
use ld_tower::engine::Finished;
use ld_tower::figures::{
    Figures, NamePoint, Overall, PerName, RequestOutcome, SecondPoint, TimeSeries,
};
use ld_tower::history::{NameRecord, NewRun, Store};
use ld_tower::state::LastRun;
use serde_json::{json, Value};

const DB: &str = "history/runs.db";

/// Runs one action that must succeed; its result as JSON.
async fn ok(control: &Control, action: Value) -> Value {
    parse(&run_one(control, action).await)
}

/// Runs one action that must fail; its error line.
async fn err(control: &Control, action: Value) -> String {
    let line = run_one(control, action).await;
    assert!(line.starts_with("Error: "), "expected an error: {line}");
    line
}

fn series(points: &[(u64, u64, u64)]) -> TimeSeries {
    let mut series = TimeSeries::default();
    for &(second, requests, failures) in points {
        let mut statuses = BTreeMap::from([("200".to_owned(), requests - failures)]);
        if failures > 0 {
            statuses.insert("none".to_owned(), failures);
        }
        let per_name = BTreeMap::from([
            (
                "home".to_owned(),
                NamePoint {
                    requests: requests - failures,
                    failures: 0,
                    p50_ms: 1.5,
                    p95_ms: 2.25,
                    p99_ms: 3.125,
                },
            ),
            (
                "gone".to_owned(),
                NamePoint {
                    requests: failures,
                    failures,
                    p50_ms: 10.0,
                    p95_ms: 10.5,
                    p99_ms: 11.0,
                },
            ),
        ]);
        series.push(SecondPoint {
            second,
            users: 3 + second,
            requests,
            failures,
            p50_ms: 1.5 + second as f64,
            p95_ms: 7.25,
            p99_ms: 9.125,
            statuses,
            per_name,
        });
    }
    series
}

/// Sets the state's series (as a finished test would) and last run.
fn finish(control: &Control, points: &[(u64, u64, u64)], last: LastRun) {
    control.state().keep_figures(&Finished {
        id: 1,
        figures: Figures::default(),
        abandoned: 0,
        series: series(points),
        elapsed: Duration::from_secs_f64(last.elapsed_s),
        started_at: std::time::SystemTime::now(),
        users_started: 1,
        stopped_early: false,
        changes: Default::default(),
    });
    control.state().set_last_run(last);
}

/// Run A: `home` 1..=100 ms (the last 10 failing with 500), `login` fast,
/// `gone` only here; 10 s.
fn record_run_a(control: &Control) {
    control.state().figures(|f| {
        for ms in 1..=100 {
            let outcome = if ms > 90 {
                RequestOutcome::failed(Some(500), "HTTP 500")
            } else {
                RequestOutcome::ok(200)
            };
            f.record("home", Duration::from_millis(ms), outcome);
        }
        for us in 0..40 {
            f.record(
                "login",
                Duration::from_micros(5_000 + us * 37),
                RequestOutcome::ok(200),
            );
        }
        for _ in 0..5 {
            f.record(
                "gone",
                Duration::from_millis(3),
                RequestOutcome::failed(None, "connection refused"),
            );
        }
    });
    finish(
        control,
        &[(0, 60, 7), (1, 85, 8)],
        LastRun {
            parameters: json!({"user_count": 5, "test_time": 10}),
            elapsed_s: 10.0,
            verdicts: vec![
                verdict("overall", "p95_ms", 200.0, 95.0, true),
                verdict("missing", "p50_ms", 1.0, f64::NAN, false),
            ],
        },
    );
}

/// Run B: `home` twice as slow with 2 failures, `login` about the same,
/// `new` only here; 8 s.
fn record_run_b(control: &Control) {
    control.state().figures(|f| {
        for ms in 1..=100 {
            let outcome = if ms > 98 {
                RequestOutcome::failed(Some(503), "HTTP 503")
            } else {
                RequestOutcome::ok(200)
            };
            f.record("home", Duration::from_millis(ms * 2), outcome);
        }
        for us in 0..40 {
            f.record(
                "login",
                Duration::from_micros(5_010 + us * 37),
                RequestOutcome::ok(200),
            );
        }
        for ms in 1..=7 {
            f.record("new", Duration::from_millis(ms), RequestOutcome::ok(201));
        }
    });
    finish(
        control,
        &[(0, 147, 2)],
        LastRun {
            parameters: json!({"user_count": 8}),
            elapsed_s: 8.0,
            verdicts: vec![],
        },
    );
}

/// The summary's keys of a fetched run.
fn summary_part(fetched: &Value) -> Value {
    json!({
        "totals": fetched["totals"],
        "latency_overall": fetched["latency_overall"],
        "per_name": fetched["per_name"],
    })
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// `x` as a result line shows it, read back as the test reads that line:
/// equal to a number read from a result line only if the action computed
/// exactly `x` (both are the same shortest text, parsed alike).
fn exact(x: f64) -> Value {
    serde_json::from_str(&serde_json::to_string(&x).expect("serializes")).expect("parses")
}

/// Checks one compared metric against the same arithmetic on the exact
/// figures.
fn check_delta(delta: &Value, baseline: f64, run: f64, verdict: &str) {
    assert_eq!(delta["baseline"], exact(baseline), "{delta}");
    assert_eq!(delta["run"], exact(run), "{delta}");
    assert_eq!(delta["delta"], exact(run - baseline), "{delta}");
    if baseline == 0.0 {
        assert!(delta["delta_pct"].is_null(), "{delta}");
    } else {
        assert_eq!(
            delta["delta_pct"],
            exact((run - baseline) / baseline * 100.0),
            "{delta}"
        );
    }
    assert_eq!(delta["verdict"], verdict, "{delta}");
}

/// A latency verdict by the default 5% tolerance.
fn latency_verdict(a: f64, b: f64) -> &'static str {
    if (b - a).abs() / a * 100.0 <= 5.0 {
        "same"
    } else if b > a {
        "slower"
    } else {
        "faster"
    }
}

/// A metric of a per-name summary, exact.
fn metric(p: &PerName, metric: &str) -> f64 {
    match metric {
        "p50_ms" => p.p50_ms,
        "p90_ms" => p.p90_ms,
        "p95_ms" => p.p95_ms,
        "p99_ms" => p.p99_ms,
        "max_ms" => p.max_ms,
        _ => panic!("{metric}"),
    }
}

/// A metric of the overall latency, exact.
fn overall_metric(o: &Overall, metric: &str) -> f64 {
    match metric {
        "p50_ms" => o.p50_ms,
        "p90_ms" => o.p90_ms,
        "p95_ms" => o.p95_ms,
        "p99_ms" => o.p99_ms,
        "max_ms" => o.max_ms,
        _ => panic!("{metric}"),
    }
}

#[tokio::test]
async fn persist_list_fetch_and_compare() {
    let dir = tempfile::tempdir().expect("temp dir");
    let control = confined(dir.path());

    record_run_a(&control);
    let summary_a = ok(&control, json!(["LD_summary"])).await;
    let exact_a = control.state().figures(|f| f.summary());
    let id_a = ok(
        &control,
        json!(["LD_persist_records", {"database_path": DB, "label": "build-1",
            "metadata": {"commit": "abc123", "branch": "main"}}]),
    )
    .await;
    assert_eq!(id_a, json!(1));
    assert!(
        dir.path().join(DB).is_file(),
        "the database and its folder exist"
    );

    ok(&control, json!(["LD_clear_records"])).await;
    record_run_b(&control);
    let summary_b = ok(&control, json!(["LD_summary"])).await;
    let exact_b = control.state().figures(|f| f.summary());
    // Positional, in the documented order.
    let id_b = ok(&control, json!(["LD_persist_records", [DB, "build-2"]])).await;
    assert_eq!(id_b, json!(2));

    // ---- list: newest first, limited.
    let runs = ok(&control, json!(["LD_list_runs", {"database_path": DB}])).await;
    let runs = runs.as_array().expect("a list");
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0]["id"], 2);
    assert_eq!(runs[0]["label"], "build-2");
    assert_eq!(runs[0]["metadata"], json!({}));
    assert_eq!(runs[0]["requests"], 147);
    assert_eq!(runs[0]["failures"], 2);
    assert_eq!(runs[0]["elapsed_s"], 8.0);
    assert_eq!(runs[1]["id"], 1);
    assert_eq!(runs[1]["label"], "build-1");
    assert_eq!(
        runs[1]["metadata"],
        json!({"commit": "abc123", "branch": "main"})
    );
    assert_eq!(runs[1]["requests"], 145);
    assert_eq!(runs[1]["failures"], 15);
    assert_eq!(runs[1]["elapsed_s"], 10.0);
    let keys: Vec<&str> = runs[1]
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "created_at",
            "label",
            "metadata",
            "requests",
            "failures",
            "elapsed_s"
        ]
    );
    assert!(runs[1]["created_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));
    let limited = ok(&control, json!(["LD_list_runs", [DB, 1]])).await;
    assert_eq!(limited.as_array().map(Vec::len), Some(1));
    assert_eq!(limited[0]["id"], 2);

    // ---- fetch: the summary exactly as LD_summary said it.
    let fetched_a = ok(
        &control,
        json!(["LD_fetch_run_records", {"database_path": DB, "run_id": 1}]),
    )
    .await;
    assert_eq!(summary_part(&fetched_a), summary_a);
    assert_eq!(fetched_a["id"], 1);
    assert_eq!(fetched_a["label"], "build-1");
    assert_eq!(fetched_a["metadata"]["commit"], "abc123");
    assert_eq!(
        fetched_a["parameters"],
        json!({"user_count": 5, "test_time": 10})
    );
    assert_eq!(fetched_a["elapsed_s"], 10.0);
    assert_eq!(
        fetched_a["series"],
        json!(series(&[(0, 60, 7), (1, 85, 8)]))
    );
    assert_eq!(
        fetched_a["verdicts"],
        json!([
            {"scope": "overall", "metric": "p95_ms", "limit": 200.0, "actual": 95.0, "passed": true},
            {"scope": "missing", "metric": "p50_ms", "limit": 1.0, "actual": null, "passed": false},
        ])
    );
    assert_eq!(fetched_a["statuses"]["home"], json!({"200": 90, "500": 10}));
    assert_eq!(
        fetched_a["failure_samples"]["gone"],
        json!({"messages": {"connection refused": 5}, "others": 0})
    );
    let fetched_b = ok(&control, json!(["LD_fetch_run_records", [DB, 2]])).await;
    assert_eq!(summary_part(&fetched_b), summary_b);
    assert_eq!(fetched_b["verdicts"], json!([]));

    // ---- compare: exact deltas and verdicts.
    let cmp = ok(
        &control,
        json!(["LD_compare_runs", {"database_path": DB, "baseline_run_id": 1, "run_id": 2}]),
    )
    .await;
    assert_eq!(cmp["baseline"]["id"], 1);
    assert_eq!(cmp["run"]["id"], 2);
    assert_eq!(cmp["tolerance_pct"], 5.0);
    let (a_home, b_home) = (&exact_a.per_name["home"], &exact_b.per_name["home"]);
    let home = &cmp["per_name"]["home"];
    assert_eq!(home["presence"], "both");
    for m in ["p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms"] {
        check_delta(
            &home["metrics"][m],
            metric(a_home, m),
            metric(b_home, m),
            "slower",
        );
    }
    // 100 requests in 10 s, then in 8 s: more throughput.
    check_delta(
        &home["metrics"]["throughput_rps"],
        100.0 / 10.0,
        100.0 / 8.0,
        "faster",
    );
    check_delta(
        &home["metrics"]["failure_rate"],
        10.0 / 100.0,
        2.0 / 100.0,
        "better",
    );
    let login = &cmp["per_name"]["login"];
    for m in ["p50_ms", "p99_ms", "max_ms"] {
        let (a, b) = (
            metric(&exact_a.per_name["login"], m),
            metric(&exact_b.per_name["login"], m),
        );
        assert_ne!(a, b, "login's {m} moved a little");
        check_delta(&login["metrics"][m], a, b, "same");
    }
    check_delta(
        &login["metrics"]["throughput_rps"],
        40.0 / 10.0,
        40.0 / 8.0,
        "faster",
    );
    check_delta(&login["metrics"]["failure_rate"], 0.0, 0.0, "same");
    // Names on one side only.
    let gone = &cmp["per_name"]["gone"];
    assert_eq!(gone["presence"], "baseline_only");
    assert_eq!(f(&gone["metrics"]["failure_rate"]["baseline"]), 1.0);
    assert!(gone["metrics"]["failure_rate"]["run"].is_null());
    assert!(gone["metrics"]["p50_ms"]["delta"].is_null());
    assert_eq!(gone["metrics"]["p50_ms"]["verdict"], "unknown");
    let new = &cmp["per_name"]["new"];
    assert_eq!(new["presence"], "run_only");
    assert!(new["metrics"]["max_ms"]["baseline"].is_null());
    assert_eq!(
        new["metrics"]["max_ms"]["run"],
        exact(exact_b.per_name["new"].max_ms)
    );
    assert_eq!(new["metrics"]["throughput_rps"]["verdict"], "unknown");
    // Overall: from the merged histograms, as LD_summary's latency_overall.
    let overall = &cmp["overall"];
    for m in ["p50_ms", "p90_ms", "p95_ms", "p99_ms", "max_ms"] {
        let (a, b) = (
            overall_metric(&exact_a.latency_overall, m),
            overall_metric(&exact_b.latency_overall, m),
        );
        check_delta(&overall[m], a, b, latency_verdict(a, b));
    }
    assert_eq!(overall["max_ms"]["verdict"], "slower");
    check_delta(
        &overall["throughput_rps"],
        145.0 / 10.0,
        147.0 / 8.0,
        "faster",
    );
    check_delta(
        &overall["failure_rate"],
        exact_a.totals.failure_rate,
        exact_b.totals.failure_rate,
        "better",
    );
    assert_eq!(cmp["regressed"], true);
    let regressions = cmp["regressions"].as_array().expect("a list");
    assert!(regressions
        .iter()
        .any(|c| c["scope"] == "home" && c["metric"] == "p95_ms" && c["verdict"] == "slower"));
    assert!(regressions.iter().all(|c| c["scope"] != "login"));

    // A run against itself: nothing moved.
    let same = ok(&control, json!(["LD_compare_runs", [DB, 2, 2]])).await;
    assert_eq!(same["regressed"], false);
    assert_eq!(same["improvements"], json!([]));
    assert_eq!(same["overall"]["p99_ms"]["verdict"], "same");
    assert_eq!(same["overall"]["p99_ms"]["delta"], 0.0);
    // A wide tolerance makes home's doubling "same".
    let wide = ok(&control, json!(["LD_compare_runs", [DB, 1, 2, 500.0]])).await;
    assert_eq!(
        wide["per_name"]["home"]["metrics"]["p95_ms"]["verdict"],
        "same"
    );
}

/// Rows in each table.
fn counts(db: &Path) -> [i64; 5] {
    let conn = rusqlite::Connection::open(db).expect("opens");
    [
        "runs",
        "run_names",
        "run_series",
        "run_series_names",
        "run_thresholds",
    ]
    .map(|table| {
        conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .expect("counts")
    })
}

#[tokio::test]
async fn a_failure_mid_persist_leaves_the_database_as_it_was() {
    let dir = tempfile::tempdir().expect("temp dir");
    let control = confined(dir.path());
    record_run_a(&control);
    assert_eq!(
        ok(&control, json!(["LD_persist_records", [DB]])).await,
        json!(1)
    );
    let db = dir.path().join(DB);
    let before = counts(&db);
    assert_eq!(before, [1, 3, 2, 4, 2]);
    let bytes_before = std::fs::read(&db).expect("reads");

    // The third name's insert fails: the run row, the first names, the
    // series and the verdicts written before it in the same transaction
    // must all be gone.
    {
        let conn = rusqlite::Connection::open(&db).expect("opens");
        conn.execute_batch(
            "CREATE TRIGGER boom BEFORE INSERT ON run_names WHEN NEW.name = 'zz-boom'
             BEGIN SELECT RAISE(ABORT, 'simulated failure'); END;",
        )
        .expect("trigger");
    }
    let with_trigger = std::fs::read(&db).expect("reads");
    control.state().figures(|f| {
        f.record("zz-boom", Duration::from_millis(1), RequestOutcome::ok(200));
    });
    let line = err(&control, json!(["LD_persist_records", [DB, "doomed"]])).await;
    assert!(line.contains("simulated failure"), "{line}");
    assert_eq!(counts(&db), before);
    assert_eq!(std::fs::read(&db).expect("reads"), with_trigger);
    let runs = ok(&control, json!(["LD_list_runs", [DB]])).await;
    assert_eq!(runs.as_array().map(Vec::len), Some(1));
    assert_eq!(runs[0]["label"], Value::Null);

    // Through the library: a duplicate name fails on the primary key after
    // the run row and the first name were inserted.
    let mut store = Store::open(&db).expect("opens");
    let mut figures = Figures::default();
    figures.record("dup", Duration::from_millis(2), RequestOutcome::ok(200));
    let record = NameRecord::of("dup", &figures.per_name()["dup"]);
    let run = NewRun {
        label: Some("twice".into()),
        names: vec![record.clone(), record],
        series: series(&[(0, 1, 0)]).points().to_vec(),
        ..NewRun::default()
    };
    assert!(store.persist(&run).is_err());
    assert_eq!(counts(&db), before);
    drop(store);

    // Once the cause is gone, the next persist takes the next id.
    rusqlite::Connection::open(&db)
        .expect("opens")
        .execute_batch("DROP TRIGGER boom;")
        .expect("drops");
    assert_eq!(
        ok(&control, json!(["LD_persist_records", [DB]])).await,
        json!(2)
    );
    assert_eq!(counts(&db), [2, 7, 4, 8, 4]);
    assert_ne!(std::fs::read(&db).expect("reads"), bytes_before);
}

#[tokio::test]
async fn unknown_runs_and_missing_databases_are_errors() {
    let dir = tempfile::tempdir().expect("temp dir");
    let control = confined(dir.path());
    record_run_a(&control);
    ok(&control, json!(["LD_persist_records", [DB]])).await;

    let line = err(&control, json!(["LD_fetch_run_records", [DB, 42]])).await;
    assert_eq!(
        line,
        "Error: LD_fetch_run_records: no run with id 42 in this database"
    );
    let line = err(&control, json!(["LD_compare_runs", [DB, 1, 7]])).await;
    assert!(line.contains("no run with id 7"), "{line}");
    let line = err(&control, json!(["LD_compare_runs", [DB, 9, 1]])).await;
    assert!(line.contains("no run with id 9"), "{line}");

    // Reading never creates a database.
    for action in [
        json!(["LD_list_runs", ["elsewhere/none.db"]]),
        json!(["LD_fetch_run_records", ["elsewhere/none.db", 1]]),
        json!(["LD_compare_runs", ["elsewhere/none.db", 1, 1]]),
    ] {
        let line = err(&control, action).await;
        assert!(line.contains("no run history database"), "{line}");
    }
    assert!(!dir.path().join("elsewhere").exists());

    // Bad arguments.
    let line = err(
        &control,
        json!(["LD_persist_records", {"database_path": DB, "metadata": [1]}]),
    )
    .await;
    assert!(line.contains("bad arguments"), "{line}");
    let line = err(
        &control,
        json!(["LD_list_runs", {"database_path": DB, "limt": 2}]),
    )
    .await;
    assert!(line.contains("limt"), "{line}");
    let line = err(&control, json!(["LD_compare_runs", [DB, 1, 1, -1]])).await;
    assert!(line.contains("tolerance_pct"), "{line}");

    // A file that is not a database.
    std::fs::write(dir.path().join("junk.db"), b"not sqlite at all, not at all").expect("writes");
    let line = err(&control, json!(["LD_list_runs", ["junk.db"]])).await;
    assert!(line.contains("database error"), "{line}");
}

#[tokio::test]
async fn escapes_are_refused_and_create_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("root");
    let control = confined(&root);
    record_run_a(&control);

    let line = err(&control, json!(["LD_persist_records", ["../x.db"]])).await;
    assert!(line.contains("leads out of"), "{line}");
    assert!(!dir.path().join("x.db").exists());

    let absolute = dir.path().join("abs").join("x.db");
    let line = err(
        &control,
        json!(["LD_persist_records", [absolute.to_str().expect("utf-8")]]),
    )
    .await;
    assert!(line.contains("absolute path"), "{line}");
    assert!(!dir.path().join("abs").exists());

    for action in [
        json!(["LD_persist_records", ["/tmp/x.db"]]),
        json!(["LD_list_runs", ["/tmp/x.db"]]),
        json!(["LD_fetch_run_records", ["../x.db", 1]]),
        json!(["LD_compare_runs", ["sub/../../x.db", 1, 2]]),
    ] {
        let line = err(&control, action).await;
        assert!(line.contains("--allow-any-path"), "{line}");
    }
    assert_eq!(std::fs::read_dir(&root).expect("lists").count(), 0);
    assert!(!dir.path().join("x.db").exists());
}

#[tokio::test]
async fn persisting_no_records_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let control = confined(dir.path());
    let line = err(&control, json!(["LD_persist_records", [DB]])).await;
    assert!(line.contains("no records"), "{line}");
    assert!(!dir.path().join("history").exists(), "nothing created");

    // Nor after the records were cleared.
    record_run_a(&control);
    ok(&control, json!(["LD_persist_records", [DB]])).await;
    ok(&control, json!(["LD_clear_records"])).await;
    let line = err(&control, json!(["LD_persist_records", [DB]])).await;
    assert!(line.contains("no records"), "{line}");
    let runs = ok(&control, json!(["LD_list_runs", [DB]])).await;
    assert_eq!(runs.as_array().map(Vec::len), Some(1));
}

#[test]
fn the_schema_is_versioned() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("v.db");
    drop(Store::open(&db).expect("creates"));
    let conn = rusqlite::Connection::open(&db).expect("opens");
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("reads");
    assert_eq!(version, ld_tower::history::SCHEMA_VERSION);
    // Reopening keeps it; a newer schema is refused.
    drop(Store::open(&db).expect("reopens"));
    conn.pragma_update(None, "user_version", 99).expect("sets");
    let e = Store::open(&db)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(e.contains("99"), "{e}");
}

/// A file of schema 1 (before bytes were kept) is brought to this version
/// as it is opened: its runs keep their figures, with no bytes (not
/// zero: they were not kept); runs persisted now keep theirs.
#[test]
fn a_version_1_file_is_migrated_and_its_runs_have_no_bytes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("v1.db");
    let mut figures = Figures::default();
    figures.record(
        "old",
        Duration::from_millis(3),
        RequestOutcome::ok(200).with_bytes(10),
    );
    let run = NewRun {
        names: vec![NameRecord::of("old", &figures.per_name()["old"])],
        series: series(&[(0, 1, 0)]).points().to_vec(),
        ..NewRun::default()
    };
    let old = Store::open(&db)
        .expect("creates")
        .persist(&run)
        .expect("persists");
    // Back to version 1: its table had no bytes column, nor its series
    // what version 3 added.
    let conn = rusqlite::Connection::open(&db).expect("opens");
    conn.execute_batch(
        "ALTER TABLE run_names DROP COLUMN bytes;
         ALTER TABLE run_series DROP COLUMN users;
         ALTER TABLE run_series DROP COLUMN statuses;
         DROP TABLE run_series_names;
         PRAGMA user_version = 1;",
    )
    .expect("downgrades");
    drop(conn);

    let mut store = Store::open(&db).expect("migrates");
    let version: i64 = store
        .connection()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .expect("reads");
    assert_eq!(version, ld_tower::history::SCHEMA_VERSION);
    let fetched = store.fetch(old).expect("fetches").to_json().expect("json");
    assert_eq!(fetched["per_name"]["old"]["count"], 1);
    assert!(
        fetched["per_name"]["old"].get("bytes").is_none(),
        "{fetched}"
    );
    let new = store.persist(&run).expect("persists");
    let fetched = store.fetch(new).expect("fetches").to_json().expect("json");
    assert_eq!(fetched["per_name"]["old"]["bytes"], 10);
}

/// A file written by schema 2's code (`tests/fixtures/history_v2.db`: one
/// run, `home`, a two-second series, persisted by the build before schema
/// 3) is brought to this version as it is opened: its run keeps its
/// figures and its seconds, with no users, statuses or names (they were
/// not kept); runs persisted now keep all of them, read back as written.
#[test]
fn a_version_2_file_is_migrated_and_new_runs_keep_their_seconds_whole() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("v2.db");
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/history_v2.db"),
        &db,
    )
    .expect("copies the fixture");
    let version = |store: &Store| -> i64 {
        store
            .connection()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("reads")
    };
    let mut store = Store::open(&db).expect("migrates");
    assert_eq!(version(&store), ld_tower::history::SCHEMA_VERSION);
    assert_eq!(ld_tower::history::SCHEMA_VERSION, 4);
    let old = store.fetch(1).expect("fetches").to_json().expect("json");
    assert_eq!(old["label"], "v2");
    assert_eq!(old["per_name"]["home"]["count"], 21);
    assert_eq!(old["per_name"]["home"]["bytes"], 40);
    assert_eq!(old["statuses"]["home"], json!({"200": 20, "503": 1}));
    assert_eq!(
        old["series"],
        json!([
            {"second": 0, "users": 0, "requests": 10, "failures": 0,
             "p50_ms": 5.0, "p95_ms": 9.5, "p99_ms": 10.0, "statuses": {}, "per_name": {}},
            {"second": 1, "users": 0, "requests": 11, "failures": 1,
             "p50_ms": 15.0, "p95_ms": 20.0, "p99_ms": 30.0, "statuses": {}, "per_name": {}}
        ])
    );
    let mut figures = Figures::default();
    figures.record("home", Duration::from_millis(3), RequestOutcome::ok(200));
    let points = series(&[(0, 4, 1), (1, 6, 0), (2, 5, 2)]).points().to_vec();
    let run = NewRun {
        names: vec![NameRecord::of("home", &figures.per_name()["home"])],
        series: points.clone(),
        ..NewRun::default()
    };
    let new = store.persist(&run).expect("persists");
    assert_eq!(store.fetch(new).expect("fetches").series, points);
    // Reopening a file of this version changes nothing.
    drop(store);
    let store = Store::open(&db).expect("reopens");
    assert_eq!(version(&store), ld_tower::history::SCHEMA_VERSION);
    assert_eq!(store.fetch(new).expect("fetches").series, points);
    assert_eq!(store.fetch(1).expect("fetches").series.len(), 2);
}
