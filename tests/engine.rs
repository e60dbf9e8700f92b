//! The load engine against real HTTP targets ([`common::target::Target`], a
//! hyper server started by each test), driven through the control protocol:
//! in-process with `Control::run`, or through a server task's sockets. Every
//! count is compared exactly with what the target says it served.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use common::figures::{count, failure_messages, per_name, start_test, statuses};
use common::target::Target;
use common::{parse, run_lines, Options, DEADLINE, END};
use ld_tower::actions::Registry;
use ld_tower::codec::Framing;
use ld_tower::control::Control;
use ld_tower::engine::{Cost, EngineLimits, Network};
use ld_tower::state::State;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

// ---------------------------------------------------------------- helpers

fn requests(result: &Value) -> u64 {
    result["summary"]["totals"]["requests"]
        .as_u64()
        .expect("summary.totals.requests")
}

/// Requests in the control's records.
fn recorded(control: &Control) -> u64 {
    control.state().figures(|f| f.summary().totals.requests)
}

/// A port with no listener: bound, then released.
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    listener.local_addr().expect("addr").port()
}

/// One frame's body.
async fn read_frame(io: &mut (impl AsyncRead + Unpin + ?Sized)) -> Vec<u8> {
    let len = common::read_exact(io, 4).await;
    let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
    common::read_exact(io, len).await
}

/// A framed reply's result lines, up to the terminator frame.
async fn read_reply(io: &mut (impl AsyncRead + Unpin + ?Sized)) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let frame = read_frame(io).await;
        if frame == END {
            return lines;
        }
        let line = String::from_utf8(frame).expect("utf-8 line");
        lines.push(line.strip_suffix('\n').expect("one line").to_owned());
    }
}

async fn send(io: &mut (impl AsyncWrite + Unpin + ?Sized), actions: &Value) {
    io.write_all(&common::frame(actions.to_string().as_bytes()))
        .await
        .expect("write");
}

/// One framed request and its reply's lines.
async fn call(
    io: &mut (impl AsyncRead + AsyncWrite + Unpin + ?Sized),
    actions: &Value,
) -> Vec<String> {
    send(io, actions).await;
    read_reply(io).await
}

// ---------------------------------------------------------------- counts

/// 4 users × 25 iterations × 2 tasks: exactly 200 requests, 100 per name,
/// exactly what the target served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iterations_give_exact_counts() {
    let target = Target::start().await;
    let control = Control::default();
    let result = start_test(
        &control,
        json!({
            "user_detail_dict": {"user": "fast_http_user", "host": target.url()},
            "user_count": 4, "spawn_rate": 100, "iterations": 25, "wait_time": 0,
            "tasks": [
                {"name": "root", "method": "get", "request_url": "/"},
                {"name": "status", "method": "GET", "request_url": "/status/200"},
            ],
        }),
    )
    .await;
    assert_eq!(requests(&result), 200, "{result}");
    assert_eq!(result["summary"]["totals"]["failures"], 0);
    assert_eq!(count(&result, "root"), (100, 100, 0));
    assert_eq!(count(&result, "status"), (100, 100, 0));
    assert_eq!(target.count("/"), 100);
    assert_eq!(target.count("/status/200"), 100);
    assert_eq!(target.total(), 200);
    assert_eq!(result["users_started"], 4);
    assert_eq!(result["stopped_early"], false);
    // The records and LD_summary say the same.
    assert_eq!(recorded(&control), 200);
    let summary = parse(&run_lines(&control, &json!([["LD_summary"]])).await[0]);
    assert_eq!(summary, result["summary"]);
    let status = control.state().engine().status().expect("last status");
    assert!(!status.running);
    assert_eq!(status.requests, 200);
}

/// A timed run: requests under way at the end complete, so the summary
/// counts exactly what the target served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timed_run_counts_what_the_target_served() {
    let target = Target::start().await;
    let control = Control::default();
    let began = Instant::now();
    let result = start_test(
        &control,
        json!({
            "user_detail_dict": {"user": "http_user"},
            "variables": {"host": target.url()},
            "user_count": 5, "spawn_rate": 100, "test_time": 1, "wait_time": 0,
            "tasks": [{"name": "root", "method": "get", "request_url": "/"}],
        }),
    )
    .await;
    let took = began.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let n = requests(&result);
    assert!(n > 50, "only {n} requests in a second");
    assert_eq!(n, target.total(), "summary vs served: {result}");
    assert_eq!(count(&result, "root"), (n, n, 0));
    assert_eq!(result["users_started"], 5);
    assert_eq!(result["stopped_early"], false);
    let elapsed = result["elapsed_s"].as_f64().unwrap();
    assert!((1.0..3.0).contains(&elapsed), "elapsed_s {elapsed}");
}

/// Runs a test of `LD_start_test` keywords `start` on a fresh control;
/// its JSON report (`LD_generate_json`).
async fn test_report(start: Value) -> Value {
    let control = Control::default();
    let lines = run_lines(
        &control,
        &json!([["LD_start_test", start], ["LD_generate_json"]]),
    )
    .await;
    match parse(&lines[1]) {
        Value::String(text) => serde_json::from_str(&text).expect("a JSON document"),
        other => other,
    }
}

/// Every second of a test is a point of its series, numbered in order: a
/// 3 s test has seconds 0, 1 and 2 (not 0, 1 and 3: the last second used
/// to be numbered by the elapsed time, just past 3 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_second_is_in_the_series() {
    let target = Target::start().await;
    let document = test_report(json!({
        "user_detail_dict": {"user": "http_user"},
        "variables": {"host": target.url()},
        "user_count": 2, "spawn_rate": 100, "test_time": 3, "wait_time": 0.05,
        "tasks": [{"name": "root", "method": "get", "request_url": "/"}],
    }))
    .await;
    let seconds: Vec<u64> = document["series"]
        .as_array()
        .expect("a series")
        .iter()
        .map(|point| point["second"].as_u64().expect("a second"))
        .collect();
    assert_eq!(seconds, [0, 1, 2], "{}", document["series"]);
    let requests: u64 = document["series"]
        .as_array()
        .expect("a series")
        .iter()
        .map(|point| point["requests"].as_u64().expect("requests"))
        .sum();
    assert_eq!(requests, target.total());
}

/// Each second of the series holds the users running as it closed, its
/// responses by status and its requests per name: 3 users started one a
/// second are 1, 2, 3 (a second closes before a user due at the same
/// instant starts; a late loop only closes seconds earlier, never with
/// more users), then 3 as the test ends; every request the target served
/// is under its status and its name, in exactly one second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_series_counts_users_statuses_and_names() {
    let target = Target::start().await;
    let document = test_report(json!({
        "user_detail_dict": {"user": "http_user"},
        "variables": {"host": target.url()},
        "user_count": 3, "spawn_rate": 1, "test_time": 4, "wait_time": 0.05,
        "tasks": [
            {"name": "root", "method": "get", "request_url": "/"},
            {"name": "teapot", "method": "get", "request_url": "/status/418"},
        ],
    }))
    .await;
    let series = document["series"].as_array().expect("a series");
    let users: Vec<u64> = series
        .iter()
        .map(|p| p["users"].as_u64().unwrap())
        .collect();
    assert_eq!(users.len(), 4, "{users:?}");
    assert_eq!(users[0], 1, "{users:?}");
    assert!(users.windows(2).all(|w| w[0] <= w[1]), "{users:?}");
    for (i, n) in users.iter().enumerate() {
        assert!(*n <= (i as u64 + 1).min(3), "{users:?}");
    }
    assert_eq!(users[3], 3, "{users:?}");
    let sum = |f: &dyn Fn(&Value) -> u64| series.iter().map(f).sum::<u64>();
    assert_eq!(sum(&|p| p["requests"].as_u64().unwrap()), target.total());
    assert_eq!(
        sum(&|p| p["statuses"]["200"].as_u64().unwrap_or(0)),
        target.count("/")
    );
    assert_eq!(
        sum(&|p| p["statuses"]["418"].as_u64().unwrap_or(0)),
        target.count_status("/status/418", 418)
    );
    for point in series {
        let statuses = point["statuses"].as_object().unwrap();
        assert!(statuses.keys().all(|k| k == "200" || k == "418"), "{point}");
        let names = point["per_name"].as_object().unwrap();
        let by_name: u64 = names
            .values()
            .map(|n| n["requests"].as_u64().unwrap())
            .sum();
        assert_eq!(by_name, point["requests"].as_u64().unwrap(), "{point}");
        if let Some(teapot) = names.get("teapot") {
            assert_eq!(teapot["failures"], teapot["requests"], "{point}");
            assert!(teapot["p99_ms"].as_f64().unwrap() >= teapot["p50_ms"].as_f64().unwrap());
        }
    }
    assert_eq!(
        sum(&|p| p["per_name"]["root"]["requests"].as_u64().unwrap_or(0)),
        target.count("/")
    );
}

// ---------------------------------------------------------------- the resolver

fn header<'a>(echo: &'a Value, name: &str) -> &'a str {
    echo["headers"][name]
        .as_str()
        .unwrap_or_else(|| panic!("no header {name} in {echo}"))
}

/// Every placeholder kind, in every place a task carries it, as the target
/// received it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_resolver_end_to_end() {
    let target = Target::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("users.csv");
    std::fs::write(&csv, "name,id\nalice,1\nbob,2\ncarol,3\n").expect("write csv");
    let control = Control::default();
    let lines = run_lines(
        &control,
        &json!([
            ["LD_register_variables", {"variables": {"x": "registered", "host": target.url()}}],
            ["LD_register_csv_source", {"name": "users", "file_path": csv}],
            ["LD_start_test", {
                "user_count": 1, "spawn_rate": 100, "iterations": 6, "wait_time": 0,
                "variables": {"y": "from start_test", "n": 7},
                "tasks": [
                    {
                        "name": "post", "method": "post", "request_url": "/echo?fixed=1",
                        "params": {"p": "${var.x}", "row": "${csv.users.name}", "path_env": "${env.PATH}"},
                        "headers": {
                            "X-Var": "${var.x}", "X-Y": "${var.y}", "X-N": "${var.n}",
                            "X-Uuid": "${uuid()}", "X-Rand": "${randint(1,3)}",
                            "X-Now": "${now()}", "X-Csv": "${csv.users.name}",
                            "X-Missing": "${var.missing}", "X-Literal": 5,
                        },
                        "cookies": {"sid": "${csv.users.id}", "plain": "c"},
                        "json": {"user": "${csv.users.name}", "n": 5, "nested": {"x": "${var.x}"}, "list": ["${var.y}", true]},
                        "auth": {"type": "basic", "username": "${csv.users.name}", "password": "pw-${var.x}"},
                    },
                    {
                        "name": "put", "method": "put", "request_url": "${var.host}/echo",
                        "data": {"a": "${var.y}", "b": "x y&z"},
                        "auth": {"type": "bearer", "token": "${var.x}"},
                    },
                    {
                        "name": "raw", "method": "patch", "url": "/echo",
                        "data": "raw ${var.x}",
                    },
                ],
            }],
        ]),
    )
    .await;
    assert_eq!(lines.len(), 3, "{lines:?}");
    let registered = parse(&lines[1]);
    assert_eq!(registered["csv_rows"]["users"], 3);
    let result = parse(&lines[2]);
    assert_eq!(requests(&result), 18, "{result}");
    for name in ["post", "put", "raw"] {
        assert_eq!(count(&result, name), (6, 6, 0), "{name}");
    }
    let echoes = target.echoes();
    assert_eq!(echoes.len(), 18);
    let path_env = std::env::var("PATH").expect("PATH is set");
    let basic = |user: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:pw-registered"))
        )
    };
    let mut uuids = Vec::new();
    let rows = [("alice", "1"), ("bob", "2"), ("carol", "3")];
    for (i, iteration) in echoes.chunks(3).enumerate() {
        // One user: each iteration's three tasks, in order.
        let (post, put, raw) = (&iteration[0], &iteration[1], &iteration[2]);
        let (name, id) = rows[i % 3];
        assert_eq!(post["method"], "POST");
        assert_eq!(post["path"], "/echo");
        assert_eq!(post["params"]["fixed"], "1");
        assert_eq!(post["params"]["p"], "registered");
        assert_eq!(
            post["params"]["row"], name,
            "iteration {i}: the shared cursor's row"
        );
        assert_eq!(post["params"]["path_env"], path_env.as_str());
        assert_eq!(header(post, "x-var"), "registered");
        assert_eq!(header(post, "x-y"), "from start_test");
        assert_eq!(header(post, "x-n"), "7");
        assert_eq!(header(post, "x-csv"), name, "one row per task");
        assert_eq!(header(post, "x-missing"), "${var.missing}");
        assert_eq!(header(post, "x-literal"), "5");
        let uuid = uuid::Uuid::parse_str(header(post, "x-uuid")).expect("a uuid");
        assert_eq!(uuid.get_version_num(), 4);
        uuids.push(uuid);
        let rand: i64 = header(post, "x-rand").parse().expect("randint");
        assert!((1..=3).contains(&rand), "randint(1,3) gave {rand}");
        let now = chrono::NaiveDateTime::parse_from_str(header(post, "x-now"), "%Y-%m-%dT%H:%M:%S")
            .expect("now() is YYYY-MM-DDTHH:MM:SS");
        let skew = (chrono::Local::now().naive_local() - now)
            .num_seconds()
            .abs();
        assert!(skew < 60, "now() is {skew} s off");
        assert_eq!(header(post, "cookie"), format!("sid={id}; plain=c"));
        assert_eq!(header(post, "authorization"), basic(name));
        assert_eq!(header(post, "content-type"), "application/json");
        let body: Value = serde_json::from_str(post["body"].as_str().unwrap()).expect("json body");
        assert_eq!(
            body,
            json!({"user": name, "n": 5, "nested": {"x": "registered"}, "list": ["from start_test", true]})
        );
        assert!(header(post, "host").starts_with("127.0.0.1:"));

        assert_eq!(put["method"], "PUT");
        assert_eq!(put["query"], "");
        assert_eq!(header(put, "authorization"), "Bearer registered");
        assert_eq!(
            header(put, "content-type"),
            "application/x-www-form-urlencoded"
        );
        assert_eq!(put["body"], "a=from+start_test&b=x+y%26z");
        assert!(put["headers"].get("cookie").is_none());

        assert_eq!(raw["method"], "PATCH");
        assert_eq!(raw["body"], "raw registered");
        assert!(raw["headers"].get("authorization").is_none());
    }
    uuids.sort();
    uuids.dedup();
    assert_eq!(uuids.len(), 6, "a fresh uuid per request");
}

// ---------------------------------------------------------------- extract, then use

fn login_chain(host: &str, password: &str) -> Value {
    json!({
        "user_detail_dict": {"user": "fast_http_user", "host": host},
        "user_count": 3, "spawn_rate": 100, "iterations": 5, "wait_time": 0,
        "tasks": [
            {
                "name": "login", "method": "post", "request_url": "/login",
                "json": {"user": "alice", "password": password},
                "extract": [{"var": "tok", "from": "json_path", "path": "data.token"}],
            },
            {
                "name": "profile", "method": "get", "request_url": "/profile",
                "auth": {"type": "bearer", "token": "${var.tok}"},
                "assertions": [
                    {"type": "status_code", "value": 200},
                    {"type": "json_path", "path": "user", "value": "alice"},
                ],
            },
        ],
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extracted_token_authorizes_the_next_request() {
    let target = Target::start().await;
    let control = Control::default();
    let result = start_test(&control, login_chain(&target.url(), "secret")).await;
    assert_eq!(count(&result, "login"), (15, 15, 0), "{result}");
    assert_eq!(count(&result, "profile"), (15, 15, 0), "{result}");
    assert_eq!(target.count_status("/login", 200), 15);
    assert_eq!(target.count_status("/profile", 200), 15);
    assert_eq!(target.total(), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_login_fails_the_chain() {
    let target = Target::start().await;
    let control = Control::default();
    let result = start_test(&control, login_chain(&target.url(), "wrong")).await;
    assert_eq!(count(&result, "login"), (15, 0, 15), "{result}");
    assert_eq!(count(&result, "profile"), (15, 0, 15), "{result}");
    assert_eq!(result["summary"]["totals"]["failures"], 30);
    assert_eq!(target.count_status("/login", 401), 15);
    assert_eq!(target.count_status("/profile", 401), 15);
    assert_eq!(target.total(), 30);
    assert_eq!(
        failure_messages(&control, "login"),
        BTreeMap::from([("HTTP 401".to_owned(), 15)])
    );
    // The status_code assertion expects 200: the 401 fails it.
    assert_eq!(
        failure_messages(&control, "profile"),
        BTreeMap::from([("status_code expected 200, got 401".to_owned(), 15)])
    );
    assert_eq!(statuses(&control, "profile"), BTreeMap::from([(401, 15)]));
}

// ---------------------------------------------------------------- scenario flow

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_picks_follow_the_weights() {
    let target = Target::start().await;
    let control = Control::default();
    let result = start_test(
        &control,
        json!({
            "user_detail_dict": {"host": target.url()},
            "user_count": 4, "spawn_rate": 100, "iterations": 500, "wait_time": 0,
            "tasks": {"mode": "weighted", "tasks": [
                {"name": "heavy", "method": "get", "url": "/heavy", "weight": 3},
                {"name": "light", "method": "get", "url": "/light", "weight": 1},
                {"name": "never", "method": "get", "url": "/never", "weight": 0},
            ]},
        }),
    )
    .await;
    assert_eq!(requests(&result), 2000, "one pick per iteration: {result}");
    let heavy = count(&result, "heavy").0;
    let light = count(&result, "light").0;
    assert_eq!(heavy + light, 2000);
    let share = heavy as f64 / 2000.0;
    assert!((0.70..=0.80).contains(&share), "heavy share {share}");
    assert_eq!(target.count("/heavy"), heavy);
    assert_eq!(target.count("/light"), light);
    assert_eq!(target.count("/never"), 0);
    assert!(result["summary"]["per_name"].get("never").is_none());
}

fn conditional(host: &str, env: &str) -> Value {
    json!({
        "user_detail_dict": {"host": host},
        "variables": {"env": env, "flag": "no"},
        "user_count": 2, "spawn_rate": 100, "iterations": 10, "wait_time": 0,
        "tasks": {"mode": "conditional", "tasks": [
            {"name": "prod", "method": "get", "url": "/prod", "run_if": {"equals": ["${var.env}", "prod"]}},
            {"name": "not_prod", "method": "get", "url": "/not-prod", "skip_if": {"equals": ["${var.env}", "prod"]}},
            {"name": "flagged", "method": "get", "url": "/flagged", "run_if": "${var.flag}"},
            {"name": "listed", "method": "get", "url": "/listed", "run_if": {"in": ["${var.env}", ["staging", "dev"]]}},
            {"name": "never", "method": "get", "url": "/never", "run_if": false},
            {"name": "always", "method": "get", "url": "/always", "skip_if": {"not_equals": ["${var.env}", "${var.env}"]}},
        ]},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditions_choose_the_tasks() {
    let target = Target::start().await;
    let staging = start_test(&Control::default(), conditional(&target.url(), "staging")).await;
    assert_eq!(requests(&staging), 60, "{staging}");
    for name in ["not_prod", "listed", "always"] {
        assert_eq!(count(&staging, name), (20, 20, 0), "{name}");
    }
    let served = target.counts();
    assert_eq!(
        served,
        BTreeMap::from([
            ("/always".to_owned(), 20),
            ("/listed".to_owned(), 20),
            ("/not-prod".to_owned(), 20),
        ])
    );

    let prod = start_test(&Control::default(), conditional(&target.url(), "prod")).await;
    assert_eq!(requests(&prod), 40, "{prod}");
    assert_eq!(count(&prod, "prod"), (20, 20, 0));
    assert_eq!(count(&prod, "always"), (20, 20, 0));
    assert_eq!(target.count("/prod"), 20);
    assert_eq!(target.count("/always"), 40);
    assert_eq!(target.count("/not-prod"), 20, "not run again");
    assert_eq!(target.count("/listed"), 20, "not run again");
    assert_eq!(target.count("/flagged") + target.count("/never"), 0);
}

// ---------------------------------------------------------------- failures

/// `LD_start_test`'s arguments for one user making 3 iterations of `tasks`
/// against `target`.
fn one_user(target: &Target, tasks: Value) -> Value {
    json!({
        "user_detail_dict": {"host": target.url()},
        "user_count": 1, "spawn_rate": 100, "iterations": 3, "wait_time": 0,
        "tasks": tasks,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_kind_is_a_failure_with_its_reason() {
    let target = Target::start().await;
    let refused = format!("http://127.0.0.1:{}/", free_port());
    let control = Control::default();
    let result = start_test(
        &control,
        one_user(
            &target,
            json!([
                {"name": "refused", "method": "get", "url": refused},
                {"name": "timeout", "method": "get", "url": "/slow?ms=500", "timeout": 0.1},
                {"name": "after_timeout", "method": "get", "url": "/"},
                {"name": "http500", "method": "get", "url": "/status/500"},
                {"name": "assertion", "method": "get", "url": "/",
                 "assertions": [{"type": "status_code", "value": 200}, {"type": "contains", "value": "nope"}]},
                {"name": "asserted404", "method": "get", "url": "/status/404",
                 "assertions": [{"type": "status_code", "value": 404}]},
                {"name": "extract500", "method": "get", "url": "/status/500",
                 "extract": [{"var": "code", "from": "status_code"}]},
                {"name": "after_extract", "method": "get", "url": "/extracted", "run_if": "${var.code}"},
            ]),
        ),
    )
    .await;
    assert_eq!(count(&result, "refused"), (3, 0, 3), "{result}");
    assert_eq!(count(&result, "timeout"), (3, 0, 3));
    assert_eq!(count(&result, "after_timeout"), (3, 3, 0));
    assert_eq!(count(&result, "http500"), (3, 0, 3));
    assert_eq!(count(&result, "assertion"), (3, 0, 3));
    assert_eq!(count(&result, "asserted404"), (3, 3, 0));
    assert_eq!(count(&result, "extract500"), (3, 0, 3));
    assert!(
        result["summary"]["per_name"].get("after_extract").is_none(),
        "the failed request's extractor set nothing"
    );
    assert_eq!(target.count("/extracted"), 0);
    assert_eq!(result["summary"]["totals"]["failures"], 15);
    assert_eq!(result["summary"]["totals"]["successes"], 6);

    let only = |name: &str| {
        let messages = failure_messages(&control, name);
        assert_eq!(messages.len(), 1, "{name}: {messages:?}");
        let (message, n) = messages.into_iter().next().unwrap();
        assert_eq!(n, 3, "{name}: {message}");
        message
    };
    let message = only("refused");
    assert!(
        message.starts_with("cannot connect to 127.0.0.1:") && message.contains("refused"),
        "{message}"
    );
    let message = only("timeout");
    assert!(message.contains("timed out"), "{message}");
    assert_eq!(only("http500"), "HTTP 500");
    assert_eq!(only("extract500"), "HTTP 500");
    assert_eq!(only("assertion"), "body does not contain \"nope\"");
    assert!(failure_messages(&control, "asserted404").is_empty());

    assert!(
        statuses(&control, "refused").is_empty(),
        "no response, no status"
    );
    assert!(statuses(&control, "timeout").is_empty());
    assert_eq!(statuses(&control, "http500"), BTreeMap::from([(500, 3)]));
    assert_eq!(
        statuses(&control, "asserted404"),
        BTreeMap::from([(404, 3)])
    );
    // The target saw every request that reached it.
    assert_eq!(target.count("/slow"), 3);
    assert_eq!(target.count("/status/500"), 6);
    assert_eq!(target.count("/status/404"), 3);
    assert_eq!(target.count("/"), 6);
    // An abandoned slow response does not hold up the next request.
    let after = per_name(&result, "after_timeout")["max_ms"]
        .as_f64()
        .unwrap();
    assert!(after < 300.0, "the request after a timeout took {after} ms");
}

/// What a test's responses keep comes out of what `--max-memory` leaves
/// after its estimate: here 20,000 bytes. A 2-byte body kept and parsed
/// fits; parsing a JSON body of about 500 bytes may take 72 bytes a byte,
/// more than is left, so that request fails with the reason, and the next
/// one (its memory given back) does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parsing_a_body_takes_its_memory_from_the_tests_pool() {
    let target = Target::start().await;
    // One user records on one worker thread.
    let limits = EngineLimits {
        max_memory: Some(Cost::of(1, 2, 1, 0).bytes() + 20_000),
        ..EngineLimits::default()
    };
    let control = Control::with_state(
        Registry::with_builtins(),
        State::default().with_engine_limits(limits),
    );
    let result = start_test(
        &control,
        one_user(
            &target,
            json!([
                {"name": "small", "method": "get", "url": "/", "assertions": [{"type": "contains", "value": "ok"}]},
                {"name": "json", "method": "post", "url": "/echo", "json": {"pad": "x".repeat(300)},
                 "assertions": [{"type": "json_path", "path": "method", "value": "POST"}]},
            ]),
        ),
    )
    .await;
    assert_eq!(count(&result, "small"), (3, 3, 0), "{result}");
    assert_eq!(count(&result, "json"), (3, 0, 3), "{result}");
    let messages = failure_messages(&control, "json");
    let (message, n) = messages.iter().next().expect("a reason");
    assert_eq!(*n, 3);
    assert!(
        message.starts_with("json_path method: ") && message.contains("--max-memory"),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_extracted_value_over_64_kib_fails_its_request() {
    let target = Target::start().await;
    let control = Control::default();
    let echo = |name: &str, pad: usize| {
        json!({"name": name, "method": "post", "url": "/echo", "json": {"pad": "x".repeat(pad)},
               "extract": [{"var": "echoed", "from": "json_path", "path": "body"}]})
    };
    let result = start_test(
        &control,
        one_user(
            &target,
            json!([echo("small", 1_000), echo("large", 70_000)]),
        ),
    )
    .await;
    assert_eq!(count(&result, "small"), (3, 3, 0), "{result}");
    assert_eq!(count(&result, "large"), (3, 0, 3), "{result}");
    let messages = failure_messages(&control, "large");
    assert_eq!(
        messages.keys().collect::<Vec<_>>(),
        ["extract echoed: the value is over 64 KiB"]
    );
}

// ---------------------------------------------------------------- a served test

/// Polls `LD_test_status` on `io` until `ready` holds for it.
async fn wait_for_status(
    io: &mut (impl AsyncRead + AsyncWrite + Unpin + ?Sized),
    ready: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let lines = call(io, &json!([["LD_test_status"]])).await;
        let status = parse(&lines[0]);
        if ready(&status) {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "status never got there: {status}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn until_stopped(host: &str) -> Value {
    json!({"load_density": [["LD_start_test", {
        "user_detail_dict": {"host": host},
        "user_count": 2, "spawn_rate": 100, "test_time": null, "wait_time": 0.005,
        "tasks": [{"name": "root", "method": "get", "url": "/"}],
    }]]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_stop_from_another_connection() {
    let target = Target::start().await;
    let server = common::start(Options {
        framing: Framing::Framed,
        ..Options::default()
    })
    .await;
    let mut a = server.connect().await;
    let mut b = server.connect().await;
    send(&mut a, &until_stopped(&target.url())).await;

    let status = wait_for_status(&mut b, |s| {
        s["running"] == true && s["requests"].as_u64().is_some_and(|n| n > 0)
    })
    .await;
    assert_eq!(status["target_users"], 2);
    assert_eq!(status["test_time_s"], Value::Null);

    // One test at a time.
    let busy = call(
        &mut b,
        &json!([["LD_start_test", {"user_detail_dict": {"host": target.url()}, "test_time": 1,
                 "tasks": [{"method": "get", "url": "/"}]}]]),
    )
    .await;
    assert_eq!(busy.len(), 1);
    assert!(
        busy[0].starts_with("Error: LD_start_test: ") && busy[0].contains("already running"),
        "{busy:?}"
    );

    let stopped = call(&mut b, &json!([["LD_stop_test"]])).await;
    assert_eq!(stopped, vec![r#"{"stopped":true}"#.to_owned()]);

    let lines = read_reply(&mut a).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    let result = parse(&lines[0]);
    assert_eq!(result["stopped_early"], true, "{result}");
    assert_eq!(result["test_time"], Value::Null);
    let n = requests(&result);
    assert!(n >= status["requests"].as_u64().unwrap(), "{result}");
    assert_eq!(n, recorded(&server.control), "the summary is the records");
    assert_eq!(result["summary"]["totals"]["failures"], 0);
    // Stopping abandons at most one request under way per user.
    let served = target.count("/");
    assert!(
        served >= n && served <= n + 2,
        "served {served}, recorded {n}"
    );

    let after = wait_for_status(&mut b, |s| s["running"] == false).await;
    assert_eq!(after["requests"].as_u64(), Some(n));
    let stopped = call(&mut b, &json!([["LD_stop_test"]])).await;
    assert_eq!(
        stopped,
        vec![r#"{"stopped":false,"reason":"no test is running"}"#.to_owned()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_stops_a_running_test_and_keeps_its_figures() {
    let target = Target::start().await;
    let server = common::start(Options {
        framing: Framing::Framed,
        ..Options::default()
    })
    .await;
    let mut a = server.connect().await;
    send(&mut a, &until_stopped(&target.url())).await;
    let deadline = Instant::now() + DEADLINE;
    loop {
        let status = server.control.state().engine().status();
        if status.is_some_and(|s| s.running && s.requests > 0) {
            break;
        }
        assert!(Instant::now() < deadline, "the test never made a request");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let began = Instant::now();
    server.shutdown();
    let lines = read_reply(&mut a).await;
    // Well within the grace period (10 s).
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(lines.len(), 1, "{lines:?}");
    let result = parse(&lines[0]);
    assert_eq!(result["stopped_early"], true, "{result}");
    let n = requests(&result);
    assert!(n > 0);
    assert_eq!(recorded(&server.control), n, "the figures are kept");
    let served = target.count("/");
    assert!(
        served >= n && served <= n + 2,
        "served {served}, recorded {n}"
    );
    tokio::time::timeout(DEADLINE, server.handle)
        .await
        .expect("the server ends")
        .expect("server task")
        .expect("server result");
    let status = server
        .control
        .state()
        .engine()
        .status()
        .expect("last status");
    assert!(!status.running);
    assert_eq!(status.requests, n);
}

/// Each user keeps the cookies responses set, for its whole life, as
/// Locust's users do: a session cookie set in a user's first iteration is
/// sent on its later requests, and no other user sees it.
#[tokio::test]
async fn each_user_keeps_its_own_cookies() {
    let target = Target::start().await;
    let control = Control::default();
    let result = start_test(
        &control,
        json!({
            "user_count": 3, "spawn_rate": 100, "iterations": 2, "wait_time": 0,
            "tasks": [
                {"method": "get", "request_url": format!("{}/session", target.url())},
                {"method": "get", "request_url": format!("{}/echo", target.url())},
            ],
        }),
    )
    .await;
    assert_eq!(requests(&result), 12, "{result}");
    let mut by_sid = BTreeMap::<String, u64>::new();
    for echo in target.echoes() {
        let cookie = echo["headers"]["cookie"].as_str().expect("a cookie sent");
        *by_sid.entry(cookie.to_owned()).or_default() += 1;
    }
    // Three sessions, each started once and sent by its user twice.
    assert_eq!(target.count("/session"), 6);
    let expected: BTreeMap<String, u64> = (0..3).map(|n| (format!("sid={n}"), 2)).collect();
    assert_eq!(by_sid, expected);
}

// ---------------------------------------------------------------- LoadDensity's own file

/// `tests/fixtures/loaddensity_keyword1.json` is the `keyword/keyword1.json`
/// that LoadDensity 0.0.79's project `init` writes (its
/// `template_keyword_1`, written with its own `write_action_json`): 50
/// `fast_http_user`s at 10/s for 5 s, LoadDensity's legacy
/// `{"get": {...}, "post": {...}}` task map, against
/// `https://httpbin.org`. It runs unchanged, byte for byte: the engine's
/// network sends httpbin.org:443 to a local https target whose certificate
/// names httpbin.org, signed by a test CA it trusts (what `--connect-to`
/// and `--ca-file` do for `serve` and `run`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loaddensity_project_template_runs_unchanged() {
    let files = common::tls_files();
    let target = Target::start_with(files.acceptor()).await;
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/loaddensity_keyword1.json"
    );
    let text = std::fs::read_to_string(file).expect("fixture");
    assert_eq!(text.matches("https://httpbin.org").count(), 2);
    let to = format!("httpbin.org:443:127.0.0.1:{}", target.addr.port());
    let network = Network::new(std::slice::from_ref(&files.ca), vec![to.parse().unwrap()]).unwrap();
    let state = State::default().with_network(network);
    let control = Control::with_state(Registry::with_builtins(), state);
    let lines = run_lines(
        &control,
        &json!([["LD_execute_files", {"execute_files_list": [file]}]]),
    )
    .await;
    assert_eq!(lines.len(), 1);
    let files = parse(&lines[0]);
    let result = &files[0][0];
    assert_eq!(result["user_count"], 50, "{files}");
    assert_eq!(result["test_time"], 5.0);
    assert_eq!(result["user_detail"]["user"], "fast_http_user");
    assert_eq!(result["stopped_early"], false);
    assert_eq!(result["users_started"], 50);
    let (gets, _, get_failures) = count(result, "https://httpbin.org/get");
    let (posts, _, post_failures) = count(result, "https://httpbin.org/post");
    assert_eq!((get_failures, post_failures), (0, 0), "{result}");
    assert!(gets > 100, "{gets} GETs");
    assert_eq!(gets, target.count_status("/get", 200));
    assert_eq!(posts, target.count_status("/post", 200));
    assert_eq!(gets, target.count("/get"));
    assert_eq!(posts, target.count("/post"));
    // Each iteration is a GET then a POST; a test ending between them leaves
    // at most one GET more per user.
    assert!(
        gets >= posts && gets <= posts + 50,
        "{gets} GETs, {posts} POSTs"
    );
    assert_eq!(requests(result), target.total());
    assert_eq!(recorded(&control), target.total());
}

// ---------------------------------------------------------------- errors

#[tokio::test]
async fn unsupported_parameters_are_named() {
    let control = Control::default();
    let task = json!([{"method": "get", "url": "http://127.0.0.1:9/"}]);
    let cases = [
        (
            json!({"user_detail_dict": {"user": "no_such_user"}, "tasks": task}),
            "\"no_such_user\"",
        ),
        (
            json!({"runner_mode": "worker", "tasks": task}),
            "\"worker\"",
        ),
        (
            json!({"tasks": [{"method": "get", "url": "/", "think_time": "1"}]}),
            "tasks[0].think_time: invalid type: string \"1\"",
        ),
    ];
    for (args, named) in cases {
        let lines = run_lines(&control, &json!([["LD_start_test", args]])).await;
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("Error: LD_start_test: ") && lines[0].contains(named),
            "{named} not named in {:?}",
            lines[0]
        );
    }
    assert!(control.state().engine().status().is_none(), "no test ran");
    assert_eq!(recorded(&control), 0);
}
