//! The agent side of a fleet, through real `ld-tower serve --framed`
//! processes with token files and one local target: `LD_prepare_test` on
//! two agents, `LD_start_prepared` on both for the same wall-clock instant,
//! `LD_fetch_figures` from both, decoded and merged; the oracle is what the
//! target received. Then the refusals: unknown, expired, replaced and
//! started ids, a start too far ahead, a principal without the scope, a
//! prepare while a test runs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::framed::{framed_client, one};
use common::target::Target;
use common::tokens::principals_file;
use common::{parse as ok, serve_in, ServeProcess, DEADLINE};
use hdrhistogram::Histogram;
use ld_tower::client::Client;
use ld_tower::figures::{Figures, TestFigures};
use serde_json::{json, Value};

const RUNNER_TOKEN: &str = "runner-3c9e1a7f5b2d8046-token";
const READER_TOKEN: &str = "reader-8a2f6d0c4e1b9735-token";

/// `ld-tower serve --framed --token-file ...` in `dir`: a runner (read,
/// run) and a reader (read).
fn agent(dir: &Path) -> ServeProcess {
    let tokens = principals_file(
        dir,
        &[
            ("runner", RUNNER_TOKEN, &["read", "run"]),
            ("reader", READER_TOKEN, &["read"]),
        ],
    );
    serve_in(dir, &["--framed", "--token-file", &tokens], &[])
}

fn client(server: &ServeProcess, token: &str) -> Client {
    framed_client(&server.addr().to_string(), Some(token))
}

fn now_ms() -> u64 {
    u64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_millis(),
    )
    .expect("ms fit")
}

/// A test of `users` users making `iterations` requests each to `/home`.
fn test_of(target: &Target, users: u64, iterations: u64) -> Value {
    json!({
        "user_detail_dict": {"host": target.url()},
        "user_count": users, "spawn_rate": 1000, "iterations": iterations,
        "wait_time": 0, "test_time": 30,
        "tasks": [{"name": "home", "method": "get", "request_url": "/home"}],
    })
}

fn prepare(target: &Target, id: &str, extra: Value) -> Value {
    let mut args = test_of(target, 2, 25);
    args["test_id"] = json!(id);
    if let (Value::Object(args), Value::Object(extra)) = (&mut args, extra) {
        args.extend(extra);
    }
    args
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_start_together_and_their_figures_merge_exactly() {
    let target = Target::start().await;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (agent_a, agent_b) = (agent(dir_a.path()), agent(dir_b.path()));
    let (run_a, run_b) = (
        client(&agent_a, RUNNER_TOKEN),
        client(&agent_b, RUNNER_TOKEN),
    );

    for (runner, id) in [(&run_a, "fleet-1.a"), (&run_b, "fleet-1.b")] {
        let prepared = ok(&one(runner, "LD_prepare_test", prepare(&target, id, json!({}))).await);
        assert_eq!(prepared["test_id"], id);
        assert_eq!(prepared["prepared"], true);
        assert_eq!(prepared["expires_s"], 60.0);
        assert_eq!(prepared["user_count"], 2);
    }
    assert_eq!(target.total(), 0, "a prepared test sent requests");

    // Both started for one instant, each on its own connection, at once.
    let start_at = now_ms() + 300;
    let (reply_a, reply_b) = tokio::join!(
        one(
            &run_a,
            "LD_start_prepared",
            json!({"test_id": "fleet-1.a", "start_at_unix_ms": start_at})
        ),
        one(
            &run_b,
            "LD_start_prepared",
            json!({"test_id": "fleet-1.b", "start_at_unix_ms": start_at})
        ),
    );
    let (reply_a, reply_b) = (ok(&reply_a), ok(&reply_b));
    let mut started = Vec::new();
    for (reply, id) in [(&reply_a, "fleet-1.a"), (&reply_b, "fleet-1.b")] {
        assert_eq!(reply["test_id"], id);
        assert_eq!(reply["start_at_unix_ms"], start_at);
        assert!(reply.get("late_ms").is_none(), "{reply}");
        assert_eq!(reply["summary"]["totals"]["requests"], 50, "{reply}");
        assert_eq!(reply["users_started"], 2);
        assert!(reply["elapsed_s"].as_f64().is_some());
        let at = reply["started_at_unix_ms"].as_u64().expect("started_at");
        let skew = i128::from(at) - i128::from(start_at);
        println!("{id}: started {skew} ms after the asked instant");
        // Not before the instant asked (the wall clock read in whole ms);
        // a loose bound after it: this machine is shared.
        assert!((-2..200).contains(&skew), "{id} started {skew} ms off");
        started.push(at);
    }
    println!(
        "skew between the agents: {} ms",
        started[0].abs_diff(started[1])
    );
    assert_eq!(target.count("/home"), 100);

    // The figures, fetched by a read-only principal, decoded and merged.
    let mut decoded = Vec::new();
    for (agent, id) in [(&agent_a, "fleet-1.a"), (&agent_b, "fleet-1.b")] {
        let reader = client(agent, READER_TOKEN);
        let line = one(&reader, "LD_fetch_figures", json!({"test_id": id})).await;
        let figures = TestFigures::from_json(&line).expect("a figures document");
        assert_eq!(figures.test_id.as_deref(), Some(id));
        assert!(!figures.running);
        assert_eq!(figures.users_started, 2);
        decoded.push(figures);
    }
    let mut merged = Figures::default();
    let mut added = Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3).unwrap();
    for figures in &decoded {
        merged.merge(&figures.figures);
        added
            .add(figures.figures.per_name()["home"].latency_us())
            .expect("same bounds");
    }
    let home = &merged.per_name()["home"];
    assert_eq!(home.count(), target.count("/home"));
    assert_eq!(home.count(), target.total());
    assert_eq!(home.statuses().get(&200), Some(&100));
    assert_eq!(merged.summary().totals.requests, 100);
    for q in [0.0, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
        assert_eq!(
            home.latency_us().value_at_quantile(q),
            added.value_at_quantile(q),
            "quantile {q}"
        );
    }
    // The series align by second: both count from the same instant, their
    // seconds from 0 on, and together they hold every request.
    let mut per_second = std::collections::BTreeMap::<u64, u64>::new();
    for figures in &decoded {
        let seconds: Vec<u64> = figures.series.points().iter().map(|p| p.second).collect();
        assert_eq!(seconds, (0..seconds.len() as u64).collect::<Vec<_>>());
        for point in figures.series.points() {
            *per_second.entry(point.second).or_default() += point.requests;
            assert_eq!(
                point.per_name.get("home").map_or(0, |n| n.requests),
                point.requests
            );
        }
    }
    assert_eq!(per_second.values().sum::<u64>(), 100, "{per_second:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_name_what_is_wrong() {
    let target = Target::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = agent(dir.path());
    let runner = client(&server, RUNNER_TOKEN);
    let reader = client(&server, READER_TOKEN);

    // Nothing to fetch yet; an id nobody prepared.
    assert_eq!(
        one(&reader, "LD_fetch_figures", json!({})).await,
        "Error: LD_fetch_figures: no test has run yet"
    );
    assert_eq!(
        one(&runner, "LD_start_prepared", json!({"test_id": "nope"})).await,
        r#"Error: LD_start_prepared: test_id "nope": no such prepared test (prepare it with LD_prepare_test)"#
    );
    // Bad ids and expiries, before anything is compiled.
    assert_eq!(
        one(&runner, "LD_prepare_test", test_of(&target, 1, 1)).await,
        "Error: LD_prepare_test: test_id: missing (the client's name for the test)"
    );
    assert!(one(
        &runner,
        "LD_prepare_test",
        prepare(&target, "has space", json!({}))
    )
    .await
    .starts_with("Error: LD_prepare_test: test_id must be 1 to 64 characters"));
    assert_eq!(
        one(&runner, "LD_prepare_test", prepare(&target, "x", json!({"expires_s": 601}))).await,
        "Error: LD_prepare_test: expires_s must be a number of seconds, more than 0 and at most 600"
    );
    // LD_start_test's own refusals, with its text.
    let bad = json!({"user_count": 0});
    let start = one(&runner, "LD_start_test", test_of(&target, 0, 1)).await;
    let prepared = one(&runner, "LD_prepare_test", prepare(&target, "x", bad)).await;
    assert_eq!(
        start.strip_prefix("Error: LD_start_test: "),
        prepared.strip_prefix("Error: LD_prepare_test: "),
        "{start} / {prepared}"
    );

    // The reader may fetch, never prepare or start.
    assert_eq!(
        one(&reader, "LD_prepare_test", prepare(&target, "r", json!({}))).await,
        "Error: LD_prepare_test: forbidden for reader"
    );
    assert_eq!(
        one(&reader, "LD_start_prepared", json!({"test_id": "r"})).await,
        "Error: LD_start_prepared: forbidden for reader"
    );

    // A start too far ahead leaves the test prepared; a replaced one is
    // named as such.
    ok(&one(
        &runner,
        "LD_prepare_test",
        prepare(&target, "first", json!({})),
    )
    .await);
    let far = one(
        &runner,
        "LD_start_prepared",
        json!({"test_id": "first", "start_at_unix_ms": now_ms() + 120_000}),
    )
    .await;
    assert!(
        far.starts_with("Error: LD_start_prepared: start_at_unix_ms is ")
            && far.ends_with(" ms ahead; it may be at most 60000 ms ahead"),
        "{far}"
    );
    let second = ok(&one(
        &runner,
        "LD_prepare_test",
        prepare(&target, "second", json!({})),
    )
    .await);
    assert_eq!(second["replaced"], "first");
    assert_eq!(
        one(&runner, "LD_start_prepared", json!({"test_id": "first"})).await,
        r#"Error: LD_start_prepared: test_id "first": replaced by the prepared test "second""#
    );

    // A start in the past starts at once and says how late it is.
    let late = ok(&one(
        &runner,
        "LD_start_prepared",
        json!({"test_id": "second", "start_at_unix_ms": now_ms() - 500}),
    )
    .await);
    assert!(late["late_ms"].as_u64().expect("late_ms") >= 500, "{late}");
    assert_eq!(late["summary"]["totals"]["requests"], 50);
    assert_eq!(
        one(&runner, "LD_start_prepared", json!({"test_id": "second"})).await,
        r#"Error: LD_start_prepared: test_id "second": already started (a prepared test starts once)"#
    );
    let fetched = TestFigures::from_json(
        &one(&reader, "LD_fetch_figures", json!({"test_id": "second"})).await,
    )
    .expect("a figures document");
    assert_eq!(fetched.figures.per_name()["home"].count(), 50);

    // Expired: past its expires_at, it never starts.
    let short = ok(&one(
        &runner,
        "LD_prepare_test",
        prepare(&target, "short", json!({"expires_s": 0.2})),
    )
    .await);
    let expires_at = short["expires_at_unix_ms"].as_u64().expect("expires_at");
    let wait = expires_at.saturating_sub(now_ms()) + 1;
    assert!(wait <= 1000, "expires in {wait} ms");
    tokio::time::sleep(Duration::from_millis(wait)).await;
    assert_eq!(
        one(&runner, "LD_start_prepared", json!({"test_id": "short"})).await,
        r#"Error: LD_start_prepared: test_id "short": expired: not started within 0.2s of LD_prepare_test; prepare it again"#
    );
    let sent = target.total();

    // While a test runs: prepare is refused as LD_start_test is.
    let running = {
        let runner = runner.clone();
        let mut args = test_of(&target, 1, 1);
        args["iterations"] = Value::Null;
        args["tasks"] = json!([{"name": "slow", "method": "get", "request_url": "/slow?ms=50"}]);
        tokio::spawn(async move { one(&runner, "LD_start_test", args).await })
    };
    let until = tokio::time::Instant::now() + DEADLINE;
    loop {
        let status = ok(&one(&reader, "LD_test_status", json!({})).await);
        if status["running"] == true {
            break;
        }
        assert!(tokio::time::Instant::now() < until, "the test never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let busy = one(
        &runner,
        "LD_prepare_test",
        prepare(&target, "busy", json!({})),
    )
    .await;
    assert_eq!(
        busy,
        "Error: LD_prepare_test: a test is already running (stop it with LD_stop_test, or wait for it to end)"
    );
    let also = one(&runner, "LD_start_test", test_of(&target, 1, 1)).await;
    assert_eq!(
        also.strip_prefix("Error: LD_start_test: "),
        busy.strip_prefix("Error: LD_prepare_test: ")
    );
    // The running test's figures so far are fetched; it is not a prepared one.
    let live = TestFigures::from_json(&one(&reader, "LD_fetch_figures", json!({})).await)
        .expect("a figures document");
    assert!(live.running && live.test_id.is_none());
    assert_eq!(
        one(&reader, "LD_fetch_figures", json!({"test_id": "second"})).await,
        r#"Error: LD_fetch_figures: test_id "second": the running test was started by LD_start_test, not prepared"#
    );
    ok(&one(&runner, "LD_stop_test", json!({})).await);
    let ended = ok(&running.await.expect("the test's task"));
    assert_eq!(ended["stopped_early"], true);
    assert!(target.total() > sent, "the running test sent nothing");
}
