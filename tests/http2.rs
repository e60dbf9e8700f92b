//! HTTP/2 for HTTP users (`"http2": true`), against real hyper HTTP/2
//! targets on loopback that count what they are sent: h2c with prior
//! knowledge and ALPN `h2` over TLS (and the HTTP/1.1 fallback when the
//! server picks it), through `ld-tower run` and `ld-tower serve`, the
//! counts in `LD_summary` equal to the target's; assertions, extractors,
//! redirects, cookies and bodies; a reset stream, a connection closed
//! mid-request and a timeout failing their request and the next ones
//! going through; shared connections (`h2_connections`).

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
#[path = "common/http2.rs"]
mod h2_target;

use std::path::Path;

use serde_json::{json, Value};

use common::figures::{count, failure_messages};
use common::{confined, run_cli, run_lines, serve, tls_files};
use h2_target::{H2Target, Listen};

/// `LD_start_test` then `LD_summary`, as an action file.
fn actions(start: Value) -> Value {
    json!({"load_density": [["LD_start_test", start], ["LD_summary", {}]]})
}

/// The `LD_summary` result among `lines`.
fn summary(lines: &str) -> Value {
    lines
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|value| value.get("per_name").is_some() && value.get("totals").is_some())
        .unwrap_or_else(|| panic!("no LD_summary result in:\n{lines}"))
}

/// `(count, successes, failures)` of `name` in an `LD_summary` result.
fn figures(summary: &Value, name: &str) -> (u64, u64, u64) {
    let entry = &summary["per_name"][name];
    assert!(entry.is_object(), "no {name:?} in {summary}");
    (
        entry["count"].as_u64().unwrap(),
        entry["successes"].as_u64().unwrap(),
        entry["failures"].as_u64().unwrap(),
    )
}

/// Runs `actions` with `ld-tower run FILE EXTRA...`; its stdout.
fn run(dir: &Path, actions: &Value, extra: &[&str]) -> String {
    let file = dir.join("actions.json");
    std::fs::write(&file, actions.to_string()).unwrap();
    // Some requests fail on purpose; their counts are checked.
    let mut args = vec![
        "run",
        file.to_str().unwrap(),
        "--no-progress",
        "--exit-code-on-error",
        "0",
    ];
    args.extend_from_slice(extra);
    let (status, stdout, stderr) = run_cli(&args, &[]);
    assert!(status.success(), "{stdout}\n{stderr}");
    stdout
}

/// Sends `actions` to a fresh `ld-tower serve EXTRA...`; its reply.
fn through_serve(actions: &Value, extra: &[&str]) -> String {
    let server = serve(extra);
    let reply = server.legacy(&actions.to_string());
    assert!(reply.ends_with("Return_Data_Over_JE\n"), "{reply}");
    reply
}

// ---------------------------------------------------------------- many users, shared connections

const USERS: u64 = 4;
const ITERATIONS: u64 = 5;

fn language_test(port: u16) -> Value {
    json!({
        "user_detail_dict": {"user": "fast_http_user"},
        "user_count": USERS,
        "spawn_rate": 100,
        "test_time": 60,
        "iterations": ITERATIONS,
        "wait_time": 0,
        "http2": true,
        "h2_connections": 2,
        "host": format!("http://127.0.0.1:{port}"),
        "tasks": [
            {"method": "get", "url": "/ok", "name": "ok",
             "assertions": [
                {"type": "status_code", "value": 200},
                {"type": "json_path", "path": "token", "value": "abc"},
                {"type": "header", "name": "x-kind", "value": "h2-target"}],
             "extract": [{"var": "tok", "from": "json_path", "path": "token"}]},
            {"method": "get", "url": "/echo?t=${var.tok}", "name": "echo"},
            {"method": "get", "url": "/ok", "name": "wrong",
             "assertions": [{"type": "contains", "value": "nope"}]},
            {"method": "get", "url": "/redirect", "name": "redirect"},
            {"method": "get", "url": "/reset", "name": "reset"},
            {"method": "get", "url": "/login", "name": "login"},
            {"method": "get", "url": "/me", "name": "me",
             "assertions": [{"type": "status_code", "value": 200}]},
            {"method": "post", "url": "/post", "name": "post", "json": {"a": 1}}
        ]
    })
}

fn check_language(summary: &Value, target: &H2Target) {
    let n = USERS * ITERATIONS;
    let seen = &target.seen;
    assert_eq!(figures(summary, "ok"), (n, n, 0), "{summary}");
    assert_eq!(figures(summary, "echo"), (n, n, 0));
    assert_eq!(
        seen.path("/echo?t=abc"),
        n,
        "the extractor's value was sent"
    );
    assert_eq!(figures(summary, "wrong"), (n, 0, n));
    assert_eq!(figures(summary, "redirect"), (n, n, 0));
    assert_eq!(seen.path("/redirect"), n);
    // ok, wrong, and each redirect followed.
    assert_eq!(seen.path("/ok"), 3 * n);
    assert_eq!(figures(summary, "reset"), (n, 0, n));
    assert_eq!(seen.path("/reset"), n);
    assert_eq!(figures(summary, "login"), (n, n, 0));
    assert_eq!(figures(summary, "me"), (n, n, 0), "the cookie went back");
    assert_eq!(figures(summary, "post"), (n, n, 0));
    assert_eq!(seen.path("/post"), n);
    let requests = summary["totals"]["requests"].as_u64().unwrap();
    assert_eq!(requests, 8 * n);
    // Every request the summary counts, and the redirects' second hops.
    assert_eq!(seen.total(), requests + n);
    assert_eq!(seen.version("HTTP/2.0"), seen.total(), "all over HTTP/2");
    // h2_connections: 2 (a reset stream keeps its connection).
    assert_eq!(
        seen.connections.load(std::sync::atomic::Ordering::SeqCst),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_users_share_connections_through_run() {
    let target = H2Target::start(Listen::Plain).await;
    let dir = tempfile::tempdir().unwrap();
    let file = actions(language_test(target.addr.port()));
    let path = dir.path().to_owned();
    let stdout = tokio::task::spawn_blocking(move || run(&path, &file, &[]))
        .await
        .unwrap();
    check_language(&summary(&stdout), &target);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2c_users_share_connections_through_serve() {
    let target = H2Target::start(Listen::Plain).await;
    let file = actions(language_test(target.addr.port()));
    let reply = tokio::task::spawn_blocking(move || through_serve(&file, &[]))
        .await
        .unwrap();
    check_language(&summary(&reply), &target);
}

// ---------------------------------------------------------------- failures, and recovery

fn failing_test(port: u16, iterations: u64) -> Value {
    json!({
        "user_count": 1,
        "spawn_rate": 10,
        "test_time": 60,
        "iterations": iterations,
        "wait_time": 0,
        "http2": true,
        "host": format!("http://127.0.0.1:{port}"),
        "tasks": [
            {"method": "get", "url": "/ok", "name": "first"},
            {"method": "get", "url": "/close", "name": "close"},
            {"method": "get", "url": "/ok", "name": "after-close"},
            {"method": "get", "url": "/slow", "name": "slow", "timeout": 0.3},
            {"method": "get", "url": "/ok", "name": "after-slow"},
            {"method": "get", "url": "/reset", "name": "reset"},
            {"method": "get", "url": "/ok", "name": "after-reset"}
        ]
    })
}

fn check_failing(summary: &Value, target: &H2Target, iterations: u64) {
    let n = iterations;
    for name in ["first", "after-close", "after-slow", "after-reset"] {
        assert_eq!(figures(summary, name), (n, n, 0), "{name}: {summary}");
    }
    for name in ["close", "slow", "reset"] {
        assert_eq!(figures(summary, name), (n, 0, n), "{name}: {summary}");
    }
    let seen = &target.seen;
    assert_eq!(seen.path("/ok"), 4 * n);
    assert_eq!(seen.path("/close"), n);
    assert_eq!(seen.path("/slow"), n);
    assert_eq!(seen.path("/reset"), n);
    assert_eq!(
        seen.total(),
        summary["totals"]["requests"].as_u64().unwrap()
    );
    // One connection, and one more after each close.
    assert_eq!(
        seen.connections.load(std::sync::atomic::Ordering::SeqCst) as u64,
        1 + n
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_close_and_timeout_fail_their_request_and_recover_through_run() {
    let target = H2Target::start(Listen::Plain).await;
    let dir = tempfile::tempdir().unwrap();
    let file = actions(failing_test(target.addr.port(), 3));
    let path = dir.path().to_owned();
    let stdout = tokio::task::spawn_blocking(move || run(&path, &file, &[]))
        .await
        .unwrap();
    check_failing(&summary(&stdout), &target, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_close_and_timeout_fail_their_request_and_recover_through_serve() {
    let target = H2Target::start(Listen::Plain).await;
    let file = actions(failing_test(target.addr.port(), 2));
    let reply = tokio::task::spawn_blocking(move || through_serve(&file, &[]))
        .await
        .unwrap();
    check_failing(&summary(&reply), &target, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_say_why() {
    let target = H2Target::start(Listen::Plain).await;
    let dir = tempfile::tempdir().unwrap();
    let control = confined(dir.path());
    let result = common::figures::start_test(&control, failing_test(target.addr.port(), 1)).await;
    assert_eq!(count(&result, "after-close"), (1, 1, 0), "{result}");
    let reset = failure_messages(&control, "reset");
    assert!(
        reset.keys().any(|m| m.contains("HTTP/2 stream reset")),
        "{reset:?}"
    );
    let slow = failure_messages(&control, "slow");
    assert!(slow.keys().any(|m| m.contains("timed out")), "{slow:?}");
    let close = failure_messages(&control, "close");
    assert!(close.keys().any(|m| m.contains("HTTP/2")), "{close:?}");
}

// ---------------------------------------------------------------- TLS: ALPN h2, and the HTTP/1.1 fallback

fn tls_test(port: u16) -> Value {
    json!({
        "user_count": 2,
        "spawn_rate": 100,
        "test_time": 60,
        "iterations": 5,
        "wait_time": 0,
        "host": format!("https://127.0.0.1:{port}"),
        "tasks": [
            {"method": "get", "url": "/ok", "name": "tls", "http2": true,
             "assertions": [{"type": "json_path", "path": "items.1", "value": 2}]}
        ]
    })
}

async fn tls_run(alpn: &[&[u8]]) -> (Value, H2Target) {
    let files = tls_files();
    let target = H2Target::start(Listen::Tls {
        cert: files.cert_der.clone(),
        key: files.key_der.clone(),
        alpn: alpn.iter().map(|p| p.to_vec()).collect(),
    })
    .await;
    let file = actions(tls_test(target.addr.port()));
    let ca = files.ca.to_str().unwrap().to_owned();
    let path = files.dir.path().to_owned();
    let stdout = tokio::task::spawn_blocking(move || run(&path, &file, &["--ca-file", &ca]))
        .await
        .unwrap();
    (summary(&stdout), target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_speaks_h2_when_alpn_picks_it() {
    let (summary, target) = tls_run(&[b"h2"]).await;
    assert_eq!(figures(&summary, "tls"), (10, 10, 0), "{summary}");
    assert_eq!(target.seen.version("HTTP/2.0"), 10);
    assert_eq!(target.seen.total(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_falls_back_to_http1_when_alpn_picks_it() {
    let (summary, target) = tls_run(&[b"http/1.1"]).await;
    assert_eq!(figures(&summary, "tls"), (10, 10, 0), "{summary}");
    assert_eq!(target.seen.version("HTTP/1.1"), 10);
    assert_eq!(target.seen.total(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_through_serve() {
    let files = tls_files();
    let target = H2Target::start(Listen::Tls {
        cert: files.cert_der.clone(),
        key: files.key_der.clone(),
        alpn: vec![b"h2".to_vec()],
    })
    .await;
    let file = actions(tls_test(target.addr.port()));
    let ca = files.ca.to_str().unwrap().to_owned();
    let reply = tokio::task::spawn_blocking(move || through_serve(&file, &["--ca-file", &ca]))
        .await
        .unwrap();
    assert_eq!(figures(&summary(&reply), "tls"), (10, 10, 0), "{reply}");
    assert_eq!(target.seen.version("HTTP/2.0"), 10);
}

// ---------------------------------------------------------------- the keys

#[tokio::test]
async fn bad_http2_keys_are_errors_at_their_path() {
    let dir = tempfile::tempdir().unwrap();
    let control = confined(dir.path());
    let start = |extra: Value, task: Value| {
        let mut args = json!({"user_count": 1, "iterations": 1, "host": "http://127.0.0.1:9",
                              "tasks": [task]});
        for (k, v) in extra.as_object().unwrap() {
            args[k] = v.clone();
        }
        json!([["LD_start_test", args]])
    };
    let line = run_lines(
        &control,
        &start(
            json!({}),
            json!({"method": "get", "url": "/", "http2": "yes"}),
        ),
    )
    .await;
    assert!(line[0].contains("tasks[0].http2"), "{line:?}");
    let line = run_lines(
        &control,
        &start(
            json!({"h2_connections": 0}),
            json!({"method": "get", "url": "/"}),
        ),
    )
    .await;
    assert!(
        line[0].contains("h2_connections must be from 1"),
        "{line:?}"
    );
    let line = run_lines(
        &control,
        &start(
            json!({"strict": true}),
            json!({"method": "get", "url": "/", "htp2": true}),
        ),
    )
    .await;
    assert!(line[0].contains("http2"), "{line:?}");
    let line = run_lines(
        &control,
        &start(json!({"http2": 1}), json!({"method": "get", "url": "/"})),
    )
    .await;
    assert!(line[0].contains("http2"), "{line:?}");
}
