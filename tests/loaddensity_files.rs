//! A LoadDensity action file that uses its whole load-test language (task
//! keys, a load shape, CSV, database and faker data, redirects, retries,
//! throttles, think time, `LD_summary` with records, a distributed keyword)
//! runs unchanged through `ld-tower run` and through `ld-tower serve`,
//! against a real local target reached by `--connect-to`; what the target
//! received is what the file means.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::Path;

use common::target::Target;
use common::{parse, serve_in};
use serde_json::{json, Value};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/loaddensity_every_key.json"
);

/// The working directory the file's relative paths need: `users.csv` and
/// `orders.db`.
fn work_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("users.csv"), "name\nann\nbob\n").expect("csv");
    let db = rusqlite::Connection::open(dir.path().join("orders.db")).expect("db");
    db.execute_batch(
        "CREATE TABLE orders (id INTEGER, item TEXT);
         INSERT INTO orders VALUES (1, 'apple'), (2, 'pear');",
    )
    .expect("rows");
    dir
}

/// Checks the replies (one line per action) and what the target received.
fn check(lines: &[&str], target: &Target) {
    assert_eq!(lines.len(), 5, "{lines:?}");
    let test = parse(lines[2]);
    assert_eq!(test["load_shape"], "stages", "{test}");
    assert_eq!(
        test["notes"],
        json!(["master_host: a LoadDensity keyword for its distributed runner or its Python API; not used by a local ld-tower test"])
    );
    let per_name = &test["summary"]["per_name"];
    for name in ["login", "profile", "upload", "redirected"] {
        assert_eq!(per_name[name]["failures"], 0, "{name}: {per_name}");
        assert!(
            per_name[name]["count"].as_u64().unwrap() >= 2,
            "{name}: {per_name}"
        );
    }
    // The one failure the target gave (the first /flaky), retried once: a
    // success after it. (The shape's end may stop an iteration between
    // tasks, so later tasks may count fewer than earlier ones.)
    assert_eq!(test["summary"]["totals"]["failures"], 1, "{test}");
    assert_eq!(per_name["flaky"]["failures"], 1, "{per_name}");
    let n = |name: &str| per_name[name]["count"].as_u64().unwrap();
    assert!(
        n("flaky") >= 2 && n("flaky") - 1 <= n("redirected"),
        "{per_name}"
    );
    assert!(
        n("redirected") <= n("upload") && n("upload") <= n("profile") && n("profile") <= n("login")
    );
    assert_eq!(
        target.count("/profile"),
        target.count_status("/profile", 200)
    );
    assert!(target.count_status("/redirect", 302) >= 2);
    let echoes = target.echoes();
    let uploads: Vec<&Value> = echoes.iter().filter(|e| e["method"] == "POST").collect();
    let redirected = echoes
        .iter()
        .filter(|e| e["query"] == "via=redirect")
        .count();
    assert!(redirected >= 2, "the redirects were followed: {echoes:?}");
    for upload in &uploads {
        let body = upload["body"].as_str().unwrap();
        let order = if body.contains("\r\n\r\n1\r\n") {
            ("1", "apple")
        } else {
            ("2", "pear")
        };
        assert!(body.contains(&format!("\r\n\r\n{}\r\n", order.1)), "{body}");
        assert!(
            body.contains(&format!("order {}", order.0)),
            "one row for the task: {body}"
        );
        assert!(body.contains('@') && !body.contains("${faker"), "{body}");
    }
    let summary = parse(lines[3]);
    assert_eq!(summary["totals"], test["summary"]["totals"]);
    assert_eq!(
        lines[4],
        r#"{"totals":{"requests":2,"successes":2,"failures":0,"failure_rate":0.0},"latency_overall":{"count":2,"p50_ms":6.0,"p90_ms":6.8,"p95_ms":6.9,"p99_ms":6.98,"max_ms":7.0},"per_name":{"a":{"count":2,"successes":2,"failures":0,"min_ms":5.0,"max_ms":7.0,"mean_ms":6.0,"p50_ms":6.0,"p90_ms":6.8,"p95_ms":6.9,"p99_ms":6.98}}}"#
    );
}

fn connect_to(target: &Target) -> String {
    format!("loaddensity.test:8080:127.0.0.1:{}", target.addr.port())
}

fn run_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let (status, stdout, stderr) = common::run_cli_in(dir, args);
    (status.code().unwrap_or(-1), stdout, stderr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_language_runs_through_run() {
    let target = Target::start().await;
    let dir = work_dir();
    let to = connect_to(&target);
    let path = dir.path().to_owned();
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        run_in(
            &path,
            &[
                "run",
                FIXTURE,
                "--no-progress",
                "--exit-code-on-error",
                "0",
                "--connect-to",
                &to,
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    check(&lines, &target);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_language_runs_through_serve() {
    let target = Target::start().await;
    let dir = work_dir();
    let to = connect_to(&target);
    let server = serve_in(dir.path(), &["--connect-to", &to], &[]);
    let request = std::fs::read_to_string(FIXTURE).expect("fixture");
    let reply = tokio::task::spawn_blocking(move || server.legacy(&request))
        .await
        .unwrap();
    let lines: Vec<&str> = reply.lines().collect();
    assert_eq!(lines.last(), Some(&"Return_Data_Over_JE"), "{reply}");
    check(&lines[..lines.len() - 1], &target);
}
