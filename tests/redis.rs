//! `redis_user` against a Redis server started here (tests/common/redis.rs,
//! RESP2 on 127.0.0.1 port 0). The same action file runs through
//! `ld-tower run` and `ld-tower serve`; the counts in `LD_summary` equal
//! the commands the server served, `expect` fails where the reply differs,
//! and a server that closes connections makes the step fail and the next
//! one reconnect.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
#[path = "common/redis.rs"]
mod redis_server;

use common::{bin, parse, serve};
use serde_json::{json, Value};

const USERS: u64 = 2;
const ITERATIONS: u64 = 3;

/// The action list: a test against `main` (the test's host, database 2)
/// and `closing` (closes after each 2 commands), its summary, its JSON
/// report.
fn actions(main: &redis_server::Server, closing: &redis_server::Server) -> Value {
    json!({"load_density": [
        ["LD_start_test", {
            "user_detail_dict": {"user": "redis_user"},
            "user_count": USERS, "spawn_rate": 100, "test_time": 60,
            "iterations": ITERATIONS, "wait_time": 0,
            "host": format!("redis://{}/2", main.addr),
            "tasks": [
                {"method": "set", "key": "greeting", "value": "hello"},
                {"method": "get", "key": "greeting", "expect": "hello"},
                {"method": "get", "key": "greeting", "expect": "bye", "name": "wrong"},
                {"method": "incr", "key": "n"},
                {"method": "lpush", "key": "q", "value": "x"},
                {"method": "rpop", "key": "q"},
                {"method": "exists", "key": "greeting", "expect": "1"},
                {"method": "delete", "key": "nothing"},
                {"method": "set", "key": "k", "value": "v", "name": "closing",
                 "url": format!("redis://{}", closing.addr)}
            ]
        }],
        ["LD_summary", {}],
        ["LD_generate_json", {}]
    ]})
}

fn check(lines: &[&str], main: &redis_server::Server, closing: &redis_server::Server) {
    assert_eq!(lines.len(), 3, "{lines:?}");
    let summary = parse(lines[1]);
    let per_name = &summary["per_name"];
    let counts = |name: &str| {
        let entry = &per_name[name];
        assert!(entry.is_object(), "no {name:?} in {per_name}");
        (
            entry["successes"].as_u64().unwrap(),
            entry["failures"].as_u64().unwrap(),
        )
    };
    let steps = USERS * ITERATIONS;
    assert_eq!(counts("set"), (steps, 0));
    assert_eq!(counts("get"), (steps, 0));
    assert_eq!(counts("wrong"), (0, steps));
    assert_eq!(counts("incr"), (steps, 0));
    assert_eq!(counts("lpush"), (steps, 0));
    assert_eq!(counts("rpop"), (steps, 0));
    assert_eq!(counts("exists"), (steps, 0));
    assert_eq!(counts("delete"), (steps, 0));
    // What the server served: exactly the steps.
    assert_eq!(main.count("SET"), steps);
    assert_eq!(main.count("GET"), 2 * steps);
    assert_eq!(main.count("INCR"), steps);
    assert_eq!(main.count("LPUSH"), steps);
    assert_eq!(main.count("RPOP"), steps);
    assert_eq!(main.count("EXISTS"), steps);
    assert_eq!(main.count("DEL"), steps);
    // One connection per user (a reply that fails `expect` keeps it), on
    // database 2.
    assert_eq!(main.connections(), USERS);
    assert!(main
        .seen
        .lock()
        .unwrap()
        .selected
        .iter()
        .all(|db| db == "2"));
    // Bytes: "hello" is 5, OK and numbers 1, an empty pop 0.
    assert_eq!(per_name["get"]["bytes"], 5 * steps);
    assert_eq!(per_name["set"]["bytes"], steps);
    // The closing server answers once per connection, then closes: each
    // iteration after the first finds the connection gone (a failure),
    // and the next one connects again.
    // Per user: connect and set, find it closed (a failure that drops
    // it), connect and set again.
    assert_eq!(counts("closing"), (2 * USERS, USERS));
    assert_eq!(closing.count("SET"), 2 * USERS);
    assert_eq!(closing.connections(), 2 * USERS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_test_runs_through_run() {
    let main = redis_server::start(None).await;
    let closing = redis_server::start(Some(1)).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("redis.json");
    std::fs::write(&file, actions(&main, &closing).to_string()).unwrap();
    let file = file.to_str().unwrap().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin())
            .args(["run", &file, "--no-progress", "--exit-code-on-error", "0"])
            .env_remove("LOAD_DENSITY_SOCKET_TOKEN")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    check(&lines, &main, &closing);
    let report = parse(lines[2]);
    let reasons: Vec<(String, String)> = report["per_name"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|entry| {
            entry["failure_reasons"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    (
                        entry["name"].as_str().unwrap().to_owned(),
                        r["message"].as_str().unwrap().to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        reasons.contains(&(
            "wrong".into(),
            "redis expected \"bye\", got \"hello\"".into()
        )),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|(name, reason)| name == "closing" && reason.starts_with("connection lost")),
        "{reasons:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_test_runs_through_serve() {
    let main = redis_server::start(None).await;
    let closing = redis_server::start(Some(1)).await;
    let server = serve(&[]);
    let request = actions(&main, &closing).to_string();
    let reply = tokio::task::spawn_blocking(move || server.legacy(&request))
        .await
        .unwrap();
    let lines: Vec<&str> = reply.lines().collect();
    assert_eq!(lines.last(), Some(&"Return_Data_Over_JE"), "{reply}");
    check(&lines[..lines.len() - 1], &main, &closing);
}

/// A reply past 16 MiB fails its step (the connection dropped, the next
/// step connects again) instead of growing the user's memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_past_16_mib_fails_the_step() {
    let server = redis_server::start(None).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("huge.json");
    let actions = json!({"load_density": [
        ["LD_start_test", {
            "user_detail_dict": {"user": "redis_user"},
            "user_count": 1, "spawn_rate": 100, "test_time": 60,
            "iterations": 2, "wait_time": 0,
            "host": format!("redis://{}", server.addr),
            "tasks": [
                {"method": "get", "key": "huge", "name": "huge"},
                {"method": "set", "key": "k", "value": "v"}
            ]
        }],
        ["LD_generate_json", {}]
    ]});
    std::fs::write(&file, actions.to_string()).unwrap();
    let file = file.to_str().unwrap().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin())
            .args(["run", &file, "--no-progress", "--exit-code-on-error", "0"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let result = parse(lines[0]);
    let per_name = &result["summary"]["per_name"];
    assert_eq!(per_name["huge"]["failures"], 2, "{per_name}");
    assert_eq!(per_name["set"]["successes"], 2, "{per_name}");
    assert_eq!(server.count("SET"), 2);
    // Each huge reply drops its connection: the set after it connects
    // again (1 at the start, 1 after each of the 2 failures).
    assert_eq!(server.connections(), 3);
    assert!(
        lines[1].contains("reply over 16777216 bytes"),
        "{}",
        lines[1]
    );
}
