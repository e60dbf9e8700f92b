//! The policy for remote clients, through a real `ld-tower serve` (and
//! `ld-tower run` where the local owner is not limited): which targets a
//! served agent's tests may connect to (`--allow-target`, `--deny-target`,
//! the built-in deny of link-local and cloud metadata addresses, checked at
//! `LD_start_test` and on every connection, redirects and `--connect-to`
//! included) and the caps a client cannot exceed (`--max-users`,
//! `--max-test-time`, `--max-rate`, `--max-csv-bytes`,
//! `--max-file-bytes`).

mod common;

use std::error::Error;
use std::path::Path;

use common::target::Target;
use common::through::{counts, reasons};
use common::{run_cli, serve, serve_in, ServeProcess};
use serde_json::{json, Value};

type Result<T = ()> = std::result::Result<T, Box<dyn Error>>;

/// The built-in deny's message for `target`.
fn metadata_denied(target: &str) -> String {
    format!(
        "target {target} is denied by the agent's policy (link-local and cloud metadata addresses are denied unless --allow-target names them)"
    )
}

/// Sends `actions` to `server` (legacy framing): its result lines, the
/// terminator checked and removed.
fn send(server: &ServeProcess, actions: &Value) -> Result<Vec<String>> {
    Ok(server.legacy_lines(&actions.to_string())?)
}

/// A result line as JSON, or an error showing the line.
fn json_of(line: &str) -> Result<Value> {
    if line.starts_with("Error:") {
        return Err(format!("action failed: {line}").into());
    }
    Ok(serde_json::from_str(line)?)
}

/// `LD_start_test` of `users` HTTP users, one iteration each, at `host`,
/// running `tasks`, then the summary and the JSON report.
fn test_of(host: &str, users: u64, tasks: Value) -> Value {
    json!({"load_density": [
        ["LD_start_test", {
            "user_count": users, "spawn_rate": 1000, "test_time": 30,
            "iterations": 1, "wait_time": 0, "request_timeout": 0.5,
            "host": host, "tasks": tasks
        }],
        ["LD_summary", {}],
        ["LD_generate_json", {}]
    ]})
}

/// A test of `tasks` at `host` sent to `server`: (its summary, its JSON
/// report), every action having succeeded.
fn run_test(server: &ServeProcess, host: &str, users: u64, tasks: Value) -> Result<(Value, Value)> {
    let lines = send(server, &test_of(host, users, tasks))?;
    match &lines[..] {
        [test, summary, report] => {
            json_of(test)?;
            Ok((json_of(summary)?, json_of(report)?))
        }
        _ => Err(format!("expected three lines: {lines:?}").into()),
    }
}

#[test]
fn metadata_and_link_local_targets_are_refused_by_default() -> Result {
    let server = serve(&[]);
    for (host, target, user, method) in [
        (
            "http://169.254.169.254",
            "169.254.169.254:80",
            "fast_http_user",
            "get",
        ),
        (
            "http://[fd00:ec2::254]",
            "[fd00:ec2::254]:80",
            "fast_http_user",
            "get",
        ),
        // A v4-mapped IPv6 address is judged as its IPv4 address.
        (
            "http://[::ffff:169.254.169.254]",
            "169.254.169.254:80",
            "fast_http_user",
            "get",
        ),
        (
            "http://100.100.100.200:8080",
            "100.100.100.200:8080",
            "fast_http_user",
            "get",
        ),
        (
            "ws://169.254.169.254",
            "169.254.169.254:80",
            "websocket_user",
            "connect",
        ),
    ] {
        let lines = send(
            &server,
            &json!([["LD_start_test", {
                "user_detail_dict": {"user": user},
                "user_count": 1, "test_time": 1, "host": host,
                "tasks": [{"method": method, "request_url": format!("{host}/")}]
            }]]),
        )?;
        assert_eq!(
            lines,
            [format!("Error: LD_start_test: {}", metadata_denied(target))],
            "{host}"
        );
    }
    Ok(())
}

#[test]
fn socket_users_are_refused_on_tcp_and_udp() -> Result {
    let server = serve(&[]);
    let start = |host: &str, tasks: Value| {
        json!({"load_density": [
            ["LD_start_test", {
                "user_detail_dict": {"user": "socket_user"},
                "user_count": 1, "iterations": 1, "wait_time": 0, "test_time": 30,
                "host": host, "tasks": tasks
            }],
            ["LD_summary", {}],
            ["LD_generate_json", {}]
        ]})
    };
    let lines = send(
        &server,
        &start("169.254.169.254:7", json!([{"payload": "x"}])),
    )?;
    assert_eq!(
        lines.first().map(String::as_str),
        Some(
            format!(
                "Error: LD_start_test: {}",
                metadata_denied("169.254.169.254:7")
            )
            .as_str()
        )
    );
    let tasks = json!([
        {"name": "tcp", "target": "169.254.169.254:7", "payload": "x"},
        {"name": "udp", "protocol": "udp", "target": "[fe80::1]:53", "payload": "x"}
    ]);
    let lines = send(&server, &start("127.0.0.1:9", tasks))?;
    let [_, summary, report] = &lines[..] else {
        return Err(format!("three lines expected: {lines:?}").into());
    };
    let (summary, report) = (json_of(summary)?, json_of(report)?);
    assert_eq!(counts(&summary, "tcp"), (1, 0, 1), "{summary}");
    assert_eq!(
        reasons(&report, "tcp"),
        [(metadata_denied("169.254.169.254:7"), 1)]
    );
    assert_eq!(counts(&summary, "udp"), (1, 0, 1), "{summary}");
    assert_eq!(
        reasons(&report, "udp"),
        [(metadata_denied("[fe80::1]:53"), 1)]
    );
    Ok(())
}

#[test]
fn allow_target_lifts_the_built_in_deny_and_run_is_not_limited() -> Result {
    // The check passes; the connection itself then fails or times out.
    let tasks = json!([{"method": "get", "request_url": "/", "name": "meta"}]);
    let allowed = serve(&["--allow-target", "169.254.169.254"]);
    let (summary, report) = run_test(&allowed, "http://169.254.169.254", 1, tasks.clone())?;
    assert_eq!(counts(&summary, "meta"), (1, 0, 1), "{summary}");
    let why = reasons(&report, "meta");
    assert!(
        why.iter().all(|(message, _)| !message.contains("policy")),
        "{why:?}"
    );

    let dir = tempfile::tempdir()?;
    let file = dir.path().join("test.json");
    std::fs::write(
        &file,
        test_of("http://169.254.169.254", 1, tasks).to_string(),
    )?;
    let path = file.to_str().ok_or("path")?;
    let (status, stdout, stderr) = run_cli(
        &["run", path, "--no-progress", "--exit-code-on-error", "0"],
        &[],
    );
    assert!(status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let [_, summary, report] = lines[..] else {
        return Err(format!("expected three lines: {stdout}").into());
    };
    assert_eq!(counts(&json_of(summary)?, "meta"), (1, 0, 1));
    let why = reasons(&json_of(report)?, "meta");
    assert!(
        why.iter().all(|(message, _)| !message.contains("policy")),
        "{why:?}"
    );
    Ok(())
}

#[test]
fn a_redirect_to_a_denied_address_is_refused_at_the_hop() -> Result {
    let (_runtime, target) = Target::in_runtime();
    let server = serve(&[]);
    let tasks = json!([{
        "method": "get", "name": "hop",
        "request_url": "/redirect?to=http://169.254.169.254/latest/meta-data/"
    }]);
    let (summary, report) = run_test(&server, &target.url(), 1, tasks)?;
    assert_eq!(counts(&summary, "hop"), (1, 0, 1), "{summary}");
    assert_eq!(
        reasons(&report, "hop"),
        [(metadata_denied("169.254.169.254:80"), 1)]
    );
    assert_eq!(target.count("/redirect"), 1);
    Ok(())
}

#[test]
fn connect_to_onto_a_denied_address_is_refused() -> Result {
    let (_runtime, target) = Target::in_runtime();
    let server = serve(&["--connect-to", "api.example.test:80:169.254.169.254:80"]);
    // At the start: the test's own host goes there.
    let lines = send(
        &server,
        &json!([["LD_start_test", {
            "user_count": 1, "test_time": 1, "host": "http://api.example.test",
            "tasks": [{"method": "get", "request_url": "/"}]
        }]]),
    )?;
    assert_eq!(
        lines,
        [format!(
            "Error: LD_start_test: {}",
            metadata_denied("api.example.test:80 (169.254.169.254)")
        )]
    );
    // At the connection: a task's own URL goes there, over HTTP/1.1 or
    // HTTP/2, and a refusal is not retried (every attempt is recorded).
    let retry = json!({"transient": 3, "base_delay": 0.01, "max_delay": 0.01});
    let tasks = json!([
        {"method": "get", "name": "rewritten", "request_url": "http://api.example.test/", "retry": retry},
        {"method": "get", "name": "rewritten h2", "request_url": "http://api.example.test/", "http2": true, "retry": retry},
        {"method": "get", "name": "local", "request_url": "/"}
    ]);
    let (summary, report) = run_test(&server, &target.url(), 1, tasks)?;
    for name in ["rewritten", "rewritten h2"] {
        assert_eq!(counts(&summary, name), (1, 0, 1), "{name}: {summary}");
        assert_eq!(
            reasons(&report, name),
            [(metadata_denied("api.example.test:80 (169.254.169.254)"), 1)]
        );
    }
    assert_eq!(counts(&summary, "local"), (1, 1, 0), "{summary}");
    Ok(())
}

#[test]
fn deny_target_refuses_one_loopback_port_while_another_works() -> Result {
    let (_runtime, denied) = Target::in_runtime();
    let (_other_runtime, open) = Target::in_runtime();
    let rule = format!("127.0.0.1:{}", denied.addr.port());
    let server = serve(&["--deny-target", &rule]);
    let tasks = json!([
        {"method": "get", "name": "denied", "request_url": format!("{}/", denied.url())},
        {"method": "get", "name": "open", "request_url": "/"}
    ]);
    let (summary, report) = run_test(&server, &open.url(), 2, tasks)?;
    assert_eq!(counts(&summary, "denied"), (2, 0, 2), "{summary}");
    assert_eq!(
        reasons(&report, "denied"),
        [(
            format!("target {rule} is denied by the agent's policy (--deny-target {rule})"),
            2
        )]
    );
    assert_eq!(counts(&summary, "open"), (2, 2, 0), "{summary}");
    assert_eq!(denied.count("/"), 0);
    assert_eq!(open.count("/"), 2);
    // The test's own host denied: refused before it starts.
    let lines = send(
        &server,
        &test_of(
            &denied.url(),
            1,
            json!([{"method": "get", "request_url": "/"}]),
        ),
    )?;
    assert_eq!(
        lines.first().map(String::as_str),
        Some(
            format!(
                "Error: LD_start_test: target {rule} is denied by the agent's policy (--deny-target {rule})"
            )
            .as_str()
        )
    );
    Ok(())
}

#[test]
fn user_count_above_max_users_is_refused_a_test_within_it_runs() -> Result {
    let (_runtime, target) = Target::in_runtime();
    let server = serve(&["--max-users", "2"]);
    let lines = send(
        &server,
        &test_of(
            &target.url(),
            3,
            json!([{"method": "get", "request_url": "/"}]),
        ),
    )?;
    assert_eq!(
        lines.first().map(String::as_str),
        Some("Error: LD_start_test: user_count 3 is over the agent's limit of 2 (--max-users)")
    );
    let shaped = json!([["LD_start_test", {
        "host": target.url(), "load_shape": "stages",
        "shape_config": {"stages": [{"duration": 1, "users": 1}, {"duration": 1, "users": 3}]},
        "tasks": [{"method": "get", "request_url": "/"}]
    }]]);
    assert_eq!(
        send(&server, &shaped)?,
        ["Error: LD_start_test: the load shape's peak users 3 is over the agent's limit of 2 (--max-users)"]
    );
    assert_eq!(target.count("/"), 0);
    let (summary, _) = run_test(
        &server,
        &target.url(),
        2,
        json!([{"method": "get", "name": "home", "request_url": "/"}]),
    )?;
    assert_eq!(counts(&summary, "home"), (2, 2, 0), "{summary}");
    Ok(())
}

#[test]
fn test_time_above_max_test_time_is_refused_and_an_endless_test_gets_it() -> Result {
    let (_runtime, target) = Target::in_runtime();
    let server = serve(&["--max-test-time", "2s"]);
    let start = |test_time: Value| {
        json!([["LD_start_test", {
            "user_count": 1, "iterations": 1, "wait_time": 0, "test_time": test_time,
            "host": target.url(), "tasks": [{"method": "get", "request_url": "/"}]
        }]])
    };
    assert_eq!(
        send(&server, &start(json!(5)))?,
        ["Error: LD_start_test: test_time 5s is over the agent's limit of 2s (--max-test-time)"]
    );
    let lines = send(&server, &start(Value::Null))?;
    let [line] = &lines[..] else {
        return Err(format!("one line expected: {lines:?}").into());
    };
    let result = json_of(line)?;
    assert_eq!(
        result["notes"],
        json!(["test_time: null; the agent ends the test after 2s (--max-test-time)"]),
        "{result}"
    );
    assert_eq!(target.count("/"), 1);
    Ok(())
}

#[test]
fn max_rate_refuses_a_faster_arrival_rate_and_paces_the_rest() -> Result {
    let (_runtime, target) = Target::in_runtime();
    let server = serve(&["--max-rate", "20"]);
    let lines = send(
        &server,
        &json!([["LD_start_test", {
            "user_count": 1, "test_time": 1, "arrival_rate": 50,
            "host": target.url(), "tasks": [{"method": "get", "request_url": "/"}]
        }]]),
    )?;
    assert_eq!(
        lines,
        ["Error: LD_start_test: arrival_rate 50 is over the agent's limit of 20 per second (--max-rate)"]
    );
    // Ten requests asked for at once: at 20 per second (one token at a
    // time) the last cannot start before 0.45 s (0.4 asserted: timers may round).
    let lines = send(
        &server,
        &test_of(
            &target.url(),
            10,
            json!([{"method": "get", "request_url": "/"}]),
        ),
    )?;
    let test = json_of(lines.first().ok_or("no line")?)?;
    let elapsed = test["elapsed_s"].as_f64().ok_or("no elapsed_s")?;
    assert!(elapsed >= 0.4, "{elapsed} s: {test}");
    assert_eq!(target.count("/"), 10);
    Ok(())
}

fn write(dir: &Path, name: &str, text: &str) -> Result {
    Ok(std::fs::write(dir.join(name), text)?)
}

#[test]
fn files_over_their_caps_are_refused_naming_the_flag() -> Result {
    let dir = tempfile::tempdir()?;
    let rows: String = (0..20).map(|i| format!("user{i}\n")).collect();
    write(dir.path(), "big.csv", &format!("name\n{rows}"))?;
    write(dir.path(), "small.csv", "name\nu1\n")?;
    let actions = format!("[[\"LD_summary\", {{}}]]{}", " ".repeat(64));
    write(dir.path(), "big.json", &actions)?;
    write(dir.path(), "small.json", "[[\"LD_summary\", {}]]")?;
    let server = serve_in(
        dir.path(),
        &["--max-csv-bytes", "64", "--max-file-bytes", "64"],
        &[],
    );
    let lines = send(
        &server,
        &json!([
            ["LD_register_csv_source", {"name": "big", "file_path": "big.csv"}],
            ["LD_register_csv_source", {"name": "small", "file_path": "small.csv"}],
            ["LD_execute_files", {"execute_files_list": ["big.json"]}],
            ["LD_execute_files", {"execute_files_list": ["small.json"]}]
        ]),
    )?;
    let [big_csv, small_csv, big_file, small_file] = &lines[..] else {
        return Err(format!("four lines expected: {lines:?}").into());
    };
    let size = 5 + rows.len();
    assert!(
        big_csv.starts_with("Error: LD_register_csv_source: cannot open CSV source ")
            && big_csv.ends_with(&format!(
                "big.csv: its size, {size} bytes, is over the agent's limit of 64 bytes (--max-csv-bytes)"
            )),
        "{big_csv}"
    );
    json_of(small_csv)?;
    assert!(
        big_file.starts_with("Error: LD_execute_files: ")
            && big_file
                .contains("big.json is over the agent's limit of 64 bytes (--max-file-bytes)"),
        "{big_file}"
    );
    json_of(small_file)?;
    // A task's TLS file is read whole too.
    write(dir.path(), "ca.pem", &"x".repeat(100))?;
    let lines = send(
        &server,
        &json!([["LD_start_test", {
            "user_count": 1, "test_time": 1, "host": "https://127.0.0.1:1",
            "tasks": [{"method": "get", "request_url": "/", "verify": "ca.pem"}]
        }]]),
    )?;
    assert_eq!(
        lines,
        ["Error: LD_start_test: tasks: task 1 (verify, cert): CA bundle \"ca.pem\": it is over the agent's limit of 64 bytes (--max-file-bytes)"]
    );
    Ok(())
}

#[test]
fn serve_and_run_help_explain_the_policy_flags() -> Result {
    for sub in ["serve", "run"] {
        let (status, help, _) = run_cli(&[sub, "--help"], &[]);
        assert!(status.success(), "{sub} --help");
        for flag in [
            "--allow-target",
            "--deny-target",
            "--max-users",
            "--max-rate",
            "--max-test-time",
            "--max-csv-bytes",
            "--max-file-bytes",
            "169.254.0.0/16",
        ] {
            assert!(help.contains(flag), "{sub} --help lacks {flag}");
        }
    }
    Ok(())
}

#[test]
fn run_applies_the_flags_it_is_given_without_the_built_in_deny() -> Result {
    let start = |host: &str, users: u64| {
        json!([["LD_start_test", {
            "user_count": users, "test_time": 1, "host": host,
            "tasks": [{"method": "get", "request_url": "/"}]
        }]])
        .to_string()
    };
    let (status, stdout, _) = run_cli(
        &[
            "run-str",
            &start("http://127.0.0.1:9", 3),
            "--max-users",
            "2",
            "--no-progress",
        ],
        &[],
    );
    assert_eq!(status.code(), Some(1), "{stdout}");
    assert_eq!(
        stdout,
        "Error: LD_start_test: user_count 3 is over the agent's limit of 2 (--max-users)\n"
    );
    let (status, stdout, _) = run_cli(
        &[
            "run-str",
            &start("http://10.0.0.1", 1),
            "--deny-target",
            "10.0.0.0/8",
            "--no-progress",
        ],
        &[],
    );
    assert_eq!(status.code(), Some(1), "{stdout}");
    assert_eq!(
        stdout,
        "Error: LD_start_test: target 10.0.0.1:80 is denied by the agent's policy (--deny-target 10.0.0.0/8)\n"
    );
    Ok(())
}
