//! LoadDensity's run-history actions on ld-tower's store: `LD_diff_runs`,
//! `LD_trend_runs`, `LD_tag_run`, `LD_list_tags`, `LD_search_runs_by_tag`,
//! through a real `ld-tower run --json` process and a real `ld-tower serve`,
//! over runs persisted from real tests against a local HTTP target; and the
//! schema-4 migration of a database written by the build before it
//! (`tests/fixtures/history_v3.db`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::Path;

use common::target::Target;
use common::{parse, run_actions_in, serve_in};
use serde_json::{json, Value};

const DB: &str = "runs.db";

/// An `LD_start_test` of one user, `iterations` rounds of `tasks` (name,
/// path).
fn test(url: &str, iterations: u64, tasks: &[(&str, &str)]) -> Value {
    let tasks: Vec<Value> = tasks
        .iter()
        .map(|(name, path)| json!({"method": "get", "request_url": path, "name": name}))
        .collect();
    json!(["LD_start_test", {
        "user_detail_dict": {"user": "fast_http_user", "host": url},
        "user_count": 1, "spawn_rate": 100, "iterations": iterations, "wait_time": 0,
        "tasks": tasks
    }])
}

/// Three runs, persisted as 1, 2, 3: each name requested twice (once in run
/// 3). Run 2's `home` waits 40 ms where run 1's answered at once; `gone`
/// only in run 1, `new` only in run 2.
fn three_runs(url: &str) -> Vec<Value> {
    vec![
        test(
            url,
            2,
            &[
                ("home", "/"),
                ("api", "/slow?ms=2"),
                ("gone", "/status/503"),
            ],
        ),
        json!(["LD_persist_records", {"database_path": DB, "label": "build-1"}]),
        json!(["LD_clear_records"]),
        test(
            url,
            2,
            &[("home", "/slow?ms=40"), ("api", "/slow?ms=2"), ("new", "/")],
        ),
        json!(["LD_persist_records", {"database_path": DB, "label": "build-2"}]),
        json!(["LD_clear_records"]),
        test(url, 1, &[("home", "/")]),
        json!(["LD_persist_records", {"database_path": DB, "label": "build-3"}]),
    ]
}

/// Runs `actions` with `ld-tower run --json` in `dir` (failed requests
/// not counted against the exit code): its exit code and one line per
/// action.
fn run_file(dir: &Path, actions: &[Value]) -> (Option<i32>, Vec<String>) {
    run_actions_in(dir, actions, &["--exit-code-on-error", "0"])
}

/// `tests/fixtures/history_v3.db` copied into `dir` as [`DB`]: a run
/// history written by the build before tags (schema 3, by
/// `LD_persist_records` in `ld-tower run`): run 1 `v3-a` with `home` and
/// `missing` (3 requests each, `missing` all 404), run 2 `v3-b` with
/// `home` (2).
fn schema_3_db(dir: &Path) -> std::path::PathBuf {
    let db = dir.join(DB);
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/history_v3.db"),
        &db,
    )
    .unwrap();
    db
}

/// Sends `actions` to an `ld-tower serve` started in `dir`: one line per
/// action.
fn served(dir: &Path, actions: &[Value]) -> Vec<String> {
    let server = serve_in(dir, &[], &[]);
    let lines = server
        .legacy_lines(&Value::from(actions.to_vec()).to_string())
        .unwrap();
    assert_eq!(lines.len(), actions.len(), "{lines:#?}");
    lines
}

/// The run ids of a trend's `per_run`, in its order.
fn run_ids(trend: &Value) -> Vec<i64> {
    trend["per_run"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_i64().unwrap())
        .collect()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// `x` as a result line writes it, read back: equal to a number of a
/// result line only if the action computed exactly `x`.
fn exact(x: f64) -> Value {
    serde_json::from_str(&serde_json::to_string(&x).unwrap()).unwrap()
}

/// LoadDensity's delta of one metric, from the two values.
fn delta(baseline: f64, current: f64) -> Value {
    let abs = current - baseline;
    json!({"baseline": exact(baseline), "current": exact(current), "abs": exact(abs),
           "pct": exact(if baseline > 0.0 { abs / baseline } else { 0.0 })})
}

/// A name's five metrics in LoadDensity's diff from a fetched run (`null`:
/// the run lacks it, all 0), each of its names requested twice: sorted
/// latencies a ≤ b are its `p50_ms` (the first) and `max_ms`, so the
/// linear percentile at rank r is `a + (b - a) · r`.
fn diff_side(run: &Value, name: &str) -> [f64; 5] {
    let p = &run["per_name"][name];
    if p.is_null() {
        return [0.0; 5];
    }
    assert_eq!(p["count"], 2, "{p}");
    let (a, b) = (f(&p["p50_ms"]), f(&p["max_ms"]));
    [
        a + (b - a) * 0.5,
        a + (b - a) * 0.95,
        a + (b - a) * 0.99,
        f(&p["failures"]) / 2.0,
        f(&p["mean_ms"]),
    ]
}

/// LoadDensity's `deltas` of `name` between two fetched runs.
fn expected_deltas(baseline: &Value, current: &Value, name: &str) -> Value {
    let (b, c) = (diff_side(baseline, name), diff_side(current, name));
    json!({"p50_ms": delta(b[0], c[0]), "p95_ms": delta(b[1], c[1]),
           "p99_ms": delta(b[2], c[2]), "failure_rate": delta(b[3], c[3]),
           "mean_ms": delta(b[4], c[4])})
}

/// A name's trend figures from a fetched run: two requests, so p50 is the
/// first latency (`round(0.5)` is 0), p95 and p99 the second (`max_ms`).
fn name_trend(run: &Value, name: &str) -> Value {
    let p = &run["per_name"][name];
    json!({"run_id": run["id"], "requests": p["count"], "failures": p["failures"],
           "failure_rate": exact(f(&p["failures"]) / f(&p["count"])),
           "mean_ms": p["mean_ms"], "p50_ms": p["p50_ms"], "p95_ms": p["max_ms"],
           "p99_ms": p["max_ms"]})
}

/// LoadDensity's `started_at` of a listed run's `created_at`.
fn started_at(listed: &Value) -> String {
    let created = listed["created_at"].as_str().unwrap();
    format!("{}+00:00", &created[..19])
}

#[test]
fn diff_trend_and_tags_through_run() {
    let (_runtime, target) = Target::in_runtime();
    let dir = tempfile::tempdir().unwrap();
    let url = target.url();
    let mut actions = three_runs(&url);
    let first = actions.len();
    actions.extend([
        json!(["LD_fetch_run_records", [DB, 1]]),
        json!(["LD_fetch_run_records", [DB, 2]]),
        json!(["LD_list_runs", [DB]]),
        json!(["LD_diff_runs", {"database_path": DB, "baseline_run_id": 1, "current_run_id": 2}]),
        json!(["LD_diff_runs", [DB, 1, 2, 1000]]),
        json!(["LD_trend_runs", {"database_path": DB}]),
        json!(["LD_trend_runs", {"database_path": DB, "limit": 2}]),
        json!(["LD_trend_runs", {"database_path": DB, "name_filter": "ap"}]),
        json!(["LD_trend_runs", {"database_path": DB, "limit": 0}]),
        json!(["LD_tag_run", {"database_path": DB, "run_id": 1,
                              "tags": {"env": "prod", "build": 1, "ok": true}}]),
        json!(["LD_tag_run", [DB, 3, {"env": "prod"}]]),
        json!(["LD_tag_run", [DB, 1, {"build": 11, "owner": null}]]),
        json!(["LD_list_tags", [DB, 1]]),
        json!(["LD_list_tags", {"database_path": DB, "run_id": 2}]),
        json!(["LD_search_runs_by_tag", [DB, "env", "prod"]]),
        json!(["LD_search_runs_by_tag", {"database_path": DB, "key": "build", "value": 11}]),
        json!(["LD_search_runs_by_tag", [DB, "env", "staging"]]),
        // Refused, each naming its fault.
        json!(["LD_diff_runs", [DB, 1, 99]]),
        json!(["LD_diff_runs", [DB, 1, 2, -0.5]]),
        json!(["LD_trend_runs", [DB, 1001]]),
        json!(["LD_trend_runs", [DB, -1]]),
        json!(["LD_tag_run", [DB, 99, {"env": "prod"}]]),
        json!(["LD_list_tags", [DB, 99]]),
        json!(["LD_diff_runs", ["absent.db", 1, 2]]),
    ]);
    let (code, lines) = run_file(dir.path(), &actions);
    assert_eq!(code, Some(1), "actions failed on purpose: {lines:#?}");
    let mut lines = lines.into_iter().skip(first);
    let mut next = || lines.next().unwrap();
    let mut ok = || parse(&next());
    let (run1, run2) = (ok(), ok());
    let listed = ok();
    assert_eq!(run1["per_name"]["gone"]["failures"], 2);
    assert_eq!(run2["per_name"]["new"]["count"], 2);

    // ---- diff: every delta the same arithmetic on the stored figures.
    let diff = ok();
    let names = ["api", "gone", "home", "new"];
    let per_name: serde_json::Map<String, Value> = names
        .iter()
        .map(|n| {
            (
                n.to_string(),
                json!({"deltas": expected_deltas(&run1, &run2, n)}),
            )
        })
        .collect();
    assert_eq!(diff["per_name"], Value::Object(per_name.clone()));
    let keys: Vec<&String> = diff.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "baseline_run_id",
            "current_run_id",
            "tolerance",
            "per_name",
            "regressions",
            "has_regressions"
        ]
    );
    assert_eq!(
        (&diff["baseline_run_id"], &diff["current_run_id"]),
        (&json!(1), &json!(2))
    );
    assert_eq!(diff["tolerance"], json!(0.1));
    // home: 40 ms where it answered at once; `gone` went away (pct -1) and
    // `new` came (pct 0: never a regression); api within 10% or not is
    // what the figures say.
    let regressions: Vec<Value> = names
        .iter()
        .filter_map(|n| {
            let metrics: Vec<&str> = ["p50_ms", "p95_ms", "p99_ms", "failure_rate", "mean_ms"]
                .into_iter()
                .filter(|m| f(&per_name[*n]["deltas"][*m]["pct"]) > 0.1)
                .collect();
            (!metrics.is_empty()).then(|| json!({"name": n, "metrics": metrics}))
        })
        .collect();
    assert_eq!(diff["regressions"], Value::from(regressions.clone()));
    assert!(
        regressions.contains(&json!({"name": "home",
        "metrics": ["p50_ms", "p95_ms", "p99_ms", "mean_ms"]})),
        "{regressions:?}"
    );
    assert_eq!(diff["has_regressions"], true);
    assert_eq!(per_name["gone"]["deltas"]["failure_rate"], delta(1.0, 0.0));
    assert_eq!(per_name["new"]["deltas"]["p50_ms"]["pct"], 0.0);
    let lenient = ok();
    assert_eq!(lenient["tolerance"], 1000);
    assert_eq!(lenient["regressions"], json!([]));
    assert_eq!(lenient["has_regressions"], false);
    assert_eq!(lenient["per_name"], diff["per_name"]);

    // ---- trend: oldest first, limited, filtered.
    let trend = ok();
    let per_run = trend["per_run"].as_array().unwrap();
    assert_eq!(run_ids(&trend), [1, 2, 3]);
    let listed_oldest: Vec<&Value> = listed.as_array().unwrap().iter().rev().collect();
    for (row, run) in per_run.iter().zip(&listed_oldest) {
        assert_eq!(row["started_at"], started_at(run));
        assert_eq!(row["label"], run["label"]);
        assert_eq!(row["requests"], run["requests"]);
        assert_eq!(row["failures"], run["failures"]);
        assert_eq!(
            row["failure_rate"],
            exact(f(&run["failures"]) / f(&run["requests"]))
        );
    }
    // Six latencies: p50 at round(2.5) = 2 (Python rounds halves to even),
    // as the histogram's own p50 (the 3rd); p95 and p99 at round(4.75) =
    // round(4.95) = 5, the slowest.
    for (row, run) in per_run.iter().zip([&run1, &run2]) {
        let overall = &run["latency_overall"];
        assert_eq!(row["p50_ms"], overall["p50_ms"]);
        assert_eq!(row["p95_ms"], overall["max_ms"]);
        assert_eq!(row["p99_ms"], overall["max_ms"]);
        let means: f64 = ["api", "home", "gone", "new"]
            .iter()
            .filter(|n| run["per_name"][**n].is_object())
            .map(|n| f(&run["per_name"][*n]["mean_ms"]) * 2.0)
            .sum::<f64>()
            / 6.0;
        assert!((f(&row["mean_ms"]) - means).abs() < 1e-9, "{row} {means}");
    }
    assert_eq!(
        trend["per_name"]["api"],
        json!([name_trend(&run1, "api"), name_trend(&run2, "api")])
    );
    assert_eq!(
        trend["per_name"]["gone"],
        json!([name_trend(&run1, "gone")])
    );
    assert_eq!(trend["per_name"]["new"], json!([name_trend(&run2, "new")]));
    assert_eq!(trend["per_name"]["home"].as_array().map(Vec::len), Some(3));
    let keys: Vec<&String> = per_run[0].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "run_id",
            "started_at",
            "label",
            "requests",
            "failures",
            "failure_rate",
            "mean_ms",
            "p50_ms",
            "p95_ms",
            "p99_ms"
        ]
    );
    let latest = ok();
    assert_eq!(run_ids(&latest), [2, 3]);
    assert!(
        latest["per_name"].get("gone").is_none(),
        "run 1 is not among the latest 2"
    );
    let filtered = ok();
    assert_eq!(
        filtered["per_name"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["api"]
    );
    let api_only: Vec<Value> = [&run1, &run2]
        .iter()
        .map(|run| {
            let mut row = name_trend(run, "api");
            let row_map = row.as_object_mut().unwrap();
            let listed = listed_oldest.iter().find(|l| l["id"] == run["id"]).unwrap();
            let mut out = serde_json::Map::new();
            out.insert("run_id".into(), run["id"].clone());
            out.insert("started_at".into(), json!(started_at(listed)));
            out.insert("label".into(), run["label"].clone());
            row_map.remove("run_id");
            out.extend(row_map.clone());
            Value::Object(out)
        })
        .chain(std::iter::once(
            json!({"run_id": 3, "started_at": started_at(listed_oldest[2]),
            "label": "build-3", "requests": 0, "failures": 0, "failure_rate": 0.0,
            "mean_ms": 0.0, "p50_ms": 0.0, "p95_ms": 0.0, "p99_ms": 0.0}),
        ))
        .collect();
    assert_eq!(filtered["per_run"], Value::from(api_only));
    assert_eq!(
        ok(),
        json!({"per_run": [], "per_name": {}}),
        "limit 0: no run"
    );

    // ---- tags: upserted, str()-ed, listed, searched newest first.
    assert_eq!(ok(), Value::Null);
    assert_eq!(ok(), Value::Null);
    assert_eq!(ok(), Value::Null);
    assert_eq!(
        ok(),
        json!({"build": "11", "env": "prod", "ok": "True", "owner": "None"})
    );
    assert_eq!(ok(), json!({}));
    let run = |id: u64| {
        let listed = listed_oldest[id as usize - 1];
        json!({"id": id, "started_at": started_at(listed), "label": listed["label"]})
    };
    assert_eq!(ok(), json!([run(3), run(1)]));
    assert_eq!(ok(), json!([run(1)]));
    assert_eq!(ok(), json!([]));

    // ---- refusals.
    assert_eq!(
        next(),
        "Error: LD_diff_runs: no run with id 99 in this database"
    );
    assert_eq!(
        next(),
        "Error: LD_diff_runs: tolerance must be a number from 0 (a fraction: 0.1 allows 10%)"
    );
    assert_eq!(
        next(),
        "Error: LD_trend_runs: limit must be from 0 to 1000 runs, not 1001"
    );
    assert_eq!(
        next(),
        "Error: LD_trend_runs: limit must be from 0 to 1000 runs, not -1"
    );
    assert_eq!(
        next(),
        "Error: LD_tag_run: no run with id 99 in this database"
    );
    assert_eq!(
        next(),
        "Error: LD_list_tags: no run with id 99 in this database"
    );
    let missing = next();
    assert!(
        missing.starts_with("Error: LD_diff_runs: no run history database at ")
            && missing.contains("absent.db"),
        "{missing}"
    );
}

#[test]
fn diff_trend_and_tags_served() {
    let (_runtime, target) = Target::in_runtime();
    let dir = tempfile::tempdir().unwrap();
    let mut actions = three_runs(&target.url());
    let first = actions.len();
    actions.extend([
        json!(["LD_fetch_run_records", [DB, 1]]),
        json!(["LD_fetch_run_records", [DB, 2]]),
        json!(["LD_diff_runs", [DB, 1, 2]]),
        json!(["LD_trend_runs", [DB, 2, "home"]]),
        json!(["LD_tag_run", [DB, 2, {"branch": "main"}]]),
        json!(["LD_tag_run", [DB, 2, {"branch": "dev"}]]),
        json!(["LD_list_tags", [DB, 2]]),
        json!(["LD_search_runs_by_tag", [DB, "branch", "dev"]]),
        json!(["LD_search_runs_by_tag", [DB, "branch", "main"]]),
        // The server's path rule: nothing outside its working directory.
        json!(["LD_trend_runs", ["../outside.db"]]),
        json!(["LD_tag_run", ["/tmp/elsewhere.db", 1, {}]]),
    ]);
    let lines = served(dir.path(), &actions);
    let mut lines = lines.into_iter().skip(first);
    let mut next = || lines.next().unwrap();
    let mut ok = || parse(&next());
    let (run1, run2) = (ok(), ok());
    let diff = ok();
    assert_eq!(
        diff["per_name"]["home"]["deltas"],
        expected_deltas(&run1, &run2, "home")
    );
    assert_eq!(
        diff["per_name"]["api"]["deltas"],
        expected_deltas(&run1, &run2, "api")
    );
    // home regressed by 40 ms; api (2 ms both times) only if the figures
    // say so: which is timing's, on a busy machine.
    let api_regressed = expected_deltas(&run1, &run2, "api")
        .as_object()
        .unwrap()
        .values()
        .any(|d| f(&d["pct"]) > 0.1);
    let names: Vec<&Value> = diff["regressions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["name"])
        .collect();
    let want: &[&str] = if api_regressed {
        &["api", "home"]
    } else {
        &["home"]
    };
    assert_eq!(names, want, "{diff}");
    let trend = ok();
    assert_eq!(run_ids(&trend), [2, 3]);
    assert_eq!(trend["per_run"][0]["requests"], 2, "home only");
    assert_eq!(trend["per_name"]["home"][0], name_trend(&run2, "home"));
    assert_eq!(trend["per_name"].as_object().unwrap().len(), 1);
    assert_eq!((ok(), ok()), (Value::Null, Value::Null));
    assert_eq!(
        ok(),
        json!({"branch": "dev"}),
        "the second overwrote the first"
    );
    assert_eq!(ok()[0]["id"], 2);
    assert_eq!(ok(), json!([]));
    for action in ["LD_trend_runs", "LD_tag_run"] {
        let line = next();
        assert!(line.starts_with(&format!("Error: {action}: ")), "{line}");
        assert!(!dir.path().parent().unwrap().join("outside.db").exists());
    }
    assert!(!Path::new("/tmp/elsewhere.db").exists());
}

/// A database written by the build before tags ([`schema_3_db`]) is
/// brought to schema 4 as the new actions open it: its runs
/// still list and fetch, tags work on them, the diff and trend read them.
/// A file of a schema newer than this build's is refused.
#[test]
fn a_schema_3_database_is_migrated_and_a_newer_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = schema_3_db(dir.path());
    let version = |db: &Path| -> i64 {
        rusqlite::Connection::open(db)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(version(&db), 3);
    let (code, lines) = run_file(
        dir.path(),
        &[
            json!(["LD_tag_run", [DB, 1, {"branch": "main", "ci": 42}]]),
            json!(["LD_list_runs", [DB]]),
            json!(["LD_fetch_run_records", [DB, 1]]),
            json!(["LD_list_tags", [DB, 1]]),
            json!(["LD_search_runs_by_tag", [DB, "ci", "42"]]),
            json!(["LD_diff_runs", [DB, 1, 2]]),
            json!(["LD_trend_runs", [DB]]),
        ],
    );
    assert_eq!(code, Some(0), "{lines:#?}");
    assert_eq!(version(&db), 4);
    let v: Vec<Value> = lines.iter().map(|l| parse(l)).collect();
    assert_eq!(v[0], Value::Null);
    let labels: Vec<&Value> = v[1]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["label"])
        .collect();
    assert_eq!(labels, ["v3-b", "v3-a"]);
    assert_eq!(v[1][0]["created_at"], "2026-11-28T07:08:11.803138Z");
    assert_eq!(v[2]["per_name"]["home"]["count"], 3);
    assert_eq!(v[2]["per_name"]["home"]["p50_ms"], 4.127);
    assert_eq!(v[2]["per_name"]["missing"]["failures"], 3);
    assert_eq!(v[2]["metadata"], json!({"branch": "main"}));
    assert_eq!(v[3], json!({"branch": "main", "ci": "42"}));
    assert_eq!(
        v[4],
        json!([{"id": 1, "started_at": "2026-11-28T07:08:11+00:00", "label": "v3-a"}])
    );
    // home: 3 latencies in run 1 (the middle one is its p50, 4.127), 2 in
    // run 2 (0.701 and 2.143): p50 4.127 → 0.701 + (2.143 - 0.701) / 2.
    assert_eq!(
        v[5]["per_name"]["home"]["deltas"]["p50_ms"],
        delta(4.127, 0.701 + (2.143 - 0.701) * 0.5)
    );
    assert_eq!(
        v[5]["per_name"]["missing"]["deltas"]["failure_rate"],
        delta(1.0, 0.0)
    );
    assert_eq!(v[5]["has_regressions"], false);
    assert_eq!(
        v[6]["per_run"][1],
        json!({"run_id": 2, "started_at": "2026-11-28T07:08:11+00:00", "label": "v3-b",
               "requests": 2, "failures": 0, "failure_rate": 0.0, "mean_ms": 1.422,
               "p50_ms": 0.701, "p95_ms": 2.143, "p99_ms": 2.143})
    );
    assert_eq!(v[6]["per_run"][0]["failure_rate"], 0.5);

    rusqlite::Connection::open(&db)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let (code, lines) = run_file(dir.path(), &[json!(["LD_trend_runs", [DB]])]);
    assert_eq!(code, Some(1));
    assert_eq!(
        lines,
        ["Error: LD_trend_runs: the database's schema version is 99, newer than this ld-tower's (4)"]
    );
}

/// Every bound pushed past: tags per call, per run, key and value length;
/// names a trend reads; runs a search returns.
#[test]
fn bounds_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let db = schema_3_db(dir.path());
    let many = |n: usize, prefix: &str| -> Value {
        Value::Object((0..n).map(|i| (format!("{prefix}{i}"), json!(i))).collect())
    };
    let mut actions = vec![
        json!(["LD_tag_run", [DB, 1, many(101, "k")]]),
        json!(["LD_tag_run", [DB, 1, {"k".repeat(257): 1}]]),
        json!(["LD_tag_run", [DB, 1, {"k": "v".repeat(4097)}]]),
        json!(["LD_tag_run", [DB, 1, {"k".repeat(256): "v".repeat(4096)}]]),
    ];
    // 10 calls of 100 reach 1000 tags (one is there already); the 11th
    // would pass it and changes nothing.
    for call in 0..10 {
        actions.push(json!([
            "LD_tag_run",
            [DB, 1, many(100, &format!("c{call}-"))]
        ]));
    }
    actions.push(json!(["LD_tag_run", [DB, 1, many(100, "last-")]]));
    actions.push(json!(["LD_list_tags", [DB, 1]]));
    let (_, lines) = run_file(dir.path(), &actions);
    assert_eq!(
        lines[0],
        "Error: LD_tag_run: tags: 101 in one call, at most 100"
    );
    assert!(
        lines[1].starts_with("Error: LD_tag_run: tag key \"kkkk"),
        "{}",
        lines[1]
    );
    assert!(lines[1].ends_with("257 bytes, at most 256"), "{}", lines[1]);
    assert!(
        lines[2].ends_with("4097 bytes, at most 4096"),
        "{}",
        lines[2]
    );
    assert_eq!(lines[3], "null");
    assert_eq!(lines[4..13], vec!["null"; 9][..]);
    assert_eq!(
        lines[13],
        "Error: LD_tag_run: run 1 would carry 1001 tags, at most 1000"
    );
    assert_eq!(
        lines[14],
        "Error: LD_tag_run: run 1 would carry 1001 tags, at most 1000"
    );
    let tags = parse(&lines[15]);
    assert_eq!(
        tags.as_object().unwrap().len(),
        901,
        "the refused calls changed nothing"
    );

    // 10 000 more names in run 1 (copies of `home`): with its 2 and run
    // 2's 1, a trend of both reads 10 003.
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
         INSERT INTO run_names (run_id, name, count, successes, failures, min_ms, mean_ms,
             p50_ms, p90_ms, p95_ms, p99_ms, max_ms, statuses, failures_sample, histogram, bytes)
         SELECT run_id, 'copy' || i, count, successes, failures, min_ms, mean_ms, p50_ms,
             p90_ms, p95_ms, p99_ms, max_ms, statuses, failures_sample, histogram, bytes
         FROM run_names, n WHERE run_id = 1 AND name = 'home';",
    )
    .unwrap();
    let (_, lines) = run_file(
        dir.path(),
        &[
            json!(["LD_trend_runs", [DB]]),
            json!(["LD_trend_runs", [DB, 10, "missing"]]),
        ],
    );
    assert_eq!(
        lines[0],
        "Error: LD_trend_runs: the latest 10 runs hold 10003 request names' figures to read, \
         at most 10000: lower limit or give a name_filter"
    );
    // The filter is counted first: only run 1's `missing` is read.
    let trend = parse(&lines[1]);
    assert_eq!(trend["per_run"].as_array().unwrap().len(), 2);
    assert_eq!(trend["per_run"][0]["requests"], 3);
    assert_eq!(trend["per_run"][1]["requests"], 0);
    assert_eq!(trend["per_name"].as_object().unwrap().len(), 1);

    // 1 001 more runs (3..=1003), all tagged alike: a search returns the
    // newest 1 000.
    conn.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1001)
         INSERT INTO runs (created_at, label, metadata, parameters, elapsed_s, requests, failures)
         SELECT created_at, 'many' || i, metadata, parameters, elapsed_s, requests, failures
         FROM runs, n WHERE id = 2;
         INSERT INTO run_tags (run_id, key, value) SELECT id, 'batch', 'x' FROM runs WHERE id > 2;",
    )
    .unwrap();
    drop(conn);
    let (_, lines) = run_file(
        dir.path(),
        &[json!(["LD_search_runs_by_tag", [DB, "batch", "x"]])],
    );
    let found = parse(&lines[0]);
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 1000, "the newest 1000 of 1001");
    assert_eq!(found[0]["id"], 1003);
    assert_eq!(found[999]["id"], 4);
}

/// LoadDensity's `calibrate_sla` over `per_run` of a trend, computed here
/// from the trend's own figures: p95 and failure-rate gates with the
/// headroom, `requests gte` half the median count.
fn calibrated(trend: &Value, tolerance_pct: f64) -> Value {
    let runs = trend["per_run"].as_array().unwrap();
    let headroom = 1.0 + tolerance_pct / 100.0;
    let round = |x: f64, digits: usize| -> f64 { format!("{x:.digits$}").parse().unwrap() };
    let p95 = runs.iter().map(|r| f(&r["p95_ms"])).fold(0.0, f64::max);
    let failure = runs
        .iter()
        .map(|r| f(&r["failure_rate"]))
        .fold(0.0, f64::max);
    let mut counts: Vec<u64> = runs
        .iter()
        .map(|r| r["requests"].as_u64().unwrap())
        .collect();
    counts.sort_unstable();
    let n = counts.len();
    let half_median = if n % 2 == 1 {
        counts[n / 2] / 2
    } else {
        (counts[n / 2 - 1] + counts[n / 2]) / 4
    };
    json!([
        {"type": "latency_p95", "value": exact(round(p95 * headroom, 2)),
         "note": format!("max observed * {headroom:.2}")},
        {"type": "failure_rate", "value": exact(round((failure * headroom).max(0.01), 4))},
        {"type": "requests", "op": "gte", "value": half_median}
    ])
}

#[test]
fn calibrate_sla_through_run_and_serve() {
    let (_runtime, target) = Target::in_runtime();
    let dir = tempfile::tempdir().unwrap();
    let mut actions = three_runs(&target.url());
    let first = actions.len();
    actions.extend([
        json!(["LD_trend_runs", {"database_path": DB}]),
        json!(["LD_calibrate_sla", {"database_path": DB}]),
        json!(["LD_trend_runs", [DB, 2, "home"]]),
        json!(["LD_calibrate_sla", [DB, 2, 50, "home"]]),
        json!(["LD_calibrate_sla", {"database_path": DB, "runs_to_use": 0}]),
        json!(["LD_calibrate_sla", {"database_path": DB, "tolerance_pct": -1}]),
        json!(["LD_calibrate_sla", {"database_path": DB, "runs_to_use": 1001}]),
    ]);
    let (code, lines) = run_file(dir.path(), &actions);
    assert_eq!(code, Some(1), "two refusals: {lines:#?}");
    let lines = &lines[first..];
    let all = parse(&lines[1]);
    assert_eq!(all, calibrated(&parse(&lines[0]), 10.0));
    // Three runs of 6, 6 and 2 requests: the median is 6.
    assert_eq!(all[2], json!({"type": "requests", "op": "gte", "value": 3}));
    // The `gone` name of the first run failed every time: a rate of 1/3
    // overall there, with 10% headroom.
    assert_eq!(all[1]["value"], json!(0.3667));
    assert_eq!(parse(&lines[3]), calibrated(&parse(&lines[2]), 50.0));
    assert_eq!(
        parse(&lines[3])[1]["value"],
        json!(0.01),
        "home never failed"
    );
    assert_eq!(parse(&lines[4]), json!([]));
    assert_eq!(
        lines[5],
        "Error: LD_calibrate_sla: tolerance_pct must be a number from 0, not -1"
    );
    assert_eq!(
        lines[6],
        "Error: LD_calibrate_sla: runs_to_use must be from 0 to 1000 runs, not 1001"
    );

    // Served, on the same database copied into the server's folder: the
    // same rules, and a path outside it refused.
    let served_dir = tempfile::tempdir().unwrap();
    std::fs::copy(dir.path().join(DB), served_dir.path().join(DB)).unwrap();
    let lines = served(
        served_dir.path(),
        &[
            json!(["LD_calibrate_sla", {"database_path": DB}]),
            json!(["LD_calibrate_sla", {"database_path": "../runs.db"}]),
        ],
    );
    assert_eq!(parse(&lines[0]), all);
    assert!(
        lines[1].starts_with("Error: LD_calibrate_sla: ") && lines[1].contains("runs.db"),
        "{}",
        lines[1]
    );
}
