//! `socket_user` against real servers started here on 127.0.0.1 port 0:
//! a TCP echo, a UDP echo (silent to some datagrams), a TLS TCP echo
//! (an rcgen CA trusted through `--ca-file`), and a TCP echo that closes
//! each connection after two messages (reached through `--connect-to`). The same action file runs through
//! `ld-tower run` and `ld-tower serve`; the counts in `LD_summary` equal
//! what the servers saw, and failures carry their reasons.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;
#[path = "common/socket.rs"]
mod servers;

use std::collections::BTreeMap;

use common::figures::{count, failure_messages, start_test};
use common::{bin, confined, parse, run_one, serve, tls_files, TlsFiles};
use ld_tower::control::Control;
use serde_json::{json, Value};
use servers::{acceptor, closed_port, tcp_echo, tcp_mute, tcp_streamer, udp_echo, Server};

/// Users, and iterations of each.
const USERS: u64 = 2;
const ITERATIONS: u64 = 6;
/// The closing server's connections end after this many messages.
const CLOSE_AFTER: u64 = 2;

/// The servers of one test.
struct Servers {
    echo: Server,
    udp: Server,
    tls: Server,
    closing: Server,
    files: TlsFiles,
}

impl Servers {
    async fn start() -> Servers {
        let files = tls_files();
        Servers {
            echo: tcp_echo(None, None).await,
            udp: udp_echo().await,
            tls: tcp_echo(Some(acceptor(&files)), None).await,
            // "abcd": 4 bytes a message.
            closing: tcp_echo(None, Some(4 * CLOSE_AFTER)).await,
            files,
        }
    }

    /// The action list: a test, its summary, its JSON report.
    fn actions(&self) -> Value {
        json!({"load_density": [
            ["LD_start_test", {
                "user_detail_dict": {"user": "socket_user"},
                "user_count": USERS,
                "spawn_rate": 100,
                "test_time": 60,
                "iterations": ITERATIONS,
                "wait_time": 0,
                "host": self.echo.addr.to_string(),
                "tasks": [
                    // The test's host: the echo.
                    {"name": "echo", "payload": "ping\n", "expect_bytes": 5,
                     "expect_substring": "ping"},
                    {"name": "wrong", "payload": "pong\n", "expect_bytes": 5,
                     "expect_substring": "PING"},
                    {"protocol": "udp", "target": self.udp.addr.to_string(),
                     "payload": "hello", "expect_bytes": 64},
                    {"name": "silent", "protocol": "udp", "target": self.udp.addr.to_string(),
                     "payload": "silent", "expect_substring": "x", "timeout": 0.3},
                    {"name": "tls", "target": format!("localhost:{}", self.tls.addr.port()),
                     "tls": true, "payload": "hex:0102030405", "expect_bytes": 5},
                    // Reached through --connect-to.
                    {"name": "closing", "target": "closing.test:4000",
                     "payload": "abcd", "expect_substring": "cd"}
                ]
            }],
            ["LD_summary", {}],
            ["LD_generate_json", {}]
        ]})
    }

    /// `--connect-to` for `closing.test:4000`.
    fn connect_to(&self) -> String {
        format!("closing.test:4000:127.0.0.1:{}", self.closing.addr.port())
    }

    /// Checks the replies (one line per action) against what the servers saw.
    fn check(&self, lines: &[&str]) {
        assert_eq!(lines.len(), 3, "{lines:?}");
        let test = parse(lines[0]);
        let summary = parse(lines[1]);
        assert_eq!(summary, test["summary"], "LD_summary is the test's summary");
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
        // The echo: every "echo" answered, every "wrong" answered then
        // failed; the failure closes the connection, so each iteration opens one.
        assert_eq!(counts("echo"), (steps, 0));
        assert_eq!(counts("wrong"), (0, steps));
        assert_eq!(self.echo.counts.received(), steps * 10);
        assert_eq!(self.echo.counts.connections(), steps);
        // UDP: named protocol:target by default.
        let udp = format!("udp:{}", self.udp.addr);
        assert_eq!(counts(&udp), (steps, 0));
        assert_eq!(counts("silent"), (0, steps));
        assert_eq!(self.udp.counts.received(), 2 * steps);
        assert_eq!(self.udp.counts.answered(), steps);
        // TLS: one connection per user, kept.
        assert_eq!(counts("tls"), (steps, 0));
        assert_eq!(self.tls.counts.received(), steps * 5);
        assert_eq!(self.tls.counts.connections(), USERS);
        // Closing after 2: answered, answered, closed, and a new connection.
        let per_user_failures = ITERATIONS / (CLOSE_AFTER + 1);
        let answered = USERS * (ITERATIONS - per_user_failures);
        assert_eq!(counts("closing"), (answered, USERS * per_user_failures));
        assert_eq!(self.closing.counts.received(), answered * 4);
        assert_eq!(
            self.closing.counts.connections(),
            USERS * ITERATIONS.div_ceil(CLOSE_AFTER + 1)
        );
        assert_eq!(
            summary["totals"]["requests"].as_u64().unwrap(),
            6 * steps,
            "{summary}"
        );
        assert_eq!(
            reasons(&parse(lines[2])),
            BTreeMap::from([
                (
                    "closing".to_owned(),
                    vec![(
                        "connection closed by the server".to_owned(),
                        USERS * per_user_failures
                    )]
                ),
                (
                    "silent".to_owned(),
                    vec![("timed out after 300ms".to_owned(), steps)]
                ),
                (
                    "wrong".to_owned(),
                    vec![("expected \"PING\" in the reply".to_owned(), steps)]
                ),
            ])
        );
    }
}

/// The failure reasons per name in a JSON report.
fn reasons(report: &Value) -> BTreeMap<String, Vec<(String, u64)>> {
    report["per_name"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["failures"].as_u64().unwrap() > 0)
        .map(|entry| {
            let reasons = entry["failure_reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    (
                        r["message"].as_str().unwrap().to_owned(),
                        r["count"].as_u64().unwrap(),
                    )
                })
                .collect();
            (entry["name"].as_str().unwrap().to_owned(), reasons)
        })
        .collect()
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = std::process::Command::new(bin())
        .args(args)
        .env_remove("LOAD_DENSITY_SOCKET_TOKEN")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run ld-tower");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_test_runs_through_run() {
    let servers = Servers::start().await;
    let file = servers.files.dir.path().join("socket.json");
    std::fs::write(&file, servers.actions().to_string()).unwrap();
    let ca = servers.files.ca.to_str().unwrap().to_owned();
    let file = file.to_str().unwrap().to_owned();
    let to = servers.connect_to();
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        run(&[
            "run",
            &file,
            "--no-progress",
            "--exit-code-on-error",
            "0",
            "--ca-file",
            &ca,
            "--connect-to",
            &to,
        ])
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    servers.check(&stdout.lines().collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_test_runs_through_serve() {
    let servers = Servers::start().await;
    let ca = servers.files.ca.to_str().unwrap().to_owned();
    let server = serve(&["--ca-file", &ca, "--connect-to", &servers.connect_to()]);
    let request = servers.actions().to_string();
    let reply = tokio::task::spawn_blocking(move || server.legacy(&request))
        .await
        .unwrap();
    let lines: Vec<&str> = reply.lines().collect();
    assert_eq!(lines.last(), Some(&"Return_Data_Over_JE"), "{reply}");
    servers.check(&lines[..lines.len() - 1]);
}

fn bytes(control: &Control, name: &str) -> u64 {
    control
        .state()
        .figures(|f| f.per_name().get(name).map(|n| n.bytes()))
        .unwrap_or_else(|| panic!("no {name:?}"))
}

fn messages(control: &Control, name: &str) -> Vec<(String, u64)> {
    failure_messages(control, name).into_iter().collect()
}

/// In process: templates, the bytes of each step, a task's own TLS
/// settings, and what fails with which reason: an untrusted certificate,
/// a wrong server name, a reply that never holds the text (cut at 1 MiB),
/// a server that never answers, nothing listening (TCP and UDP).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_move_their_bytes_and_fail_with_their_reasons() {
    let files = tls_files();
    let echo = tcp_echo(None, None).await;
    let udp = udp_echo().await;
    let cut = udp_echo().await;
    let tls = tcp_echo(Some(acceptor(&files)), None).await;
    let streamer = tcp_streamer().await;
    let mute = tcp_mute().await;
    let closed = closed_port();
    let control = confined(files.dir.path());
    let tls_target = format!("127.0.0.1:{}", tls.addr.port());
    let result = start_test(
        &control,
        json!({
            "user_detail_dict": {"user": "socket_user"},
            "user_count": 1,
            "iterations": 2,
            "wait_time": 0,
            "test_time": 60,
            "variables": {"echo": echo.addr.to_string(), "word": "ping\n"},
            "tasks": [
                {"target": "${var.echo}", "payload": "${var.word}", "expect_bytes": 5},
                {"name": "send only", "protocol": "udp", "target": udp.addr.to_string(),
                 "payload": "abc"},
                {"name": "udp cut", "protocol": "udp", "target": cut.addr.to_string(),
                 "payload": "hello", "expect_bytes": 3, "expect_substring": "hel"},
                {"name": "tls", "target": tls_target, "tls": true, "verify": "ca.pem",
                 "server_name": "localhost", "payload": "hex:ff00", "expect_bytes": 2},
                {"name": "untrusted", "target": tls_target, "tls": true, "payload": "x",
                 "expect_bytes": 1},
                {"name": "wrong name", "target": tls_target, "tls": true, "verify": "ca.pem",
                 "server_name": "other.test", "payload": "x", "expect_bytes": 1},
                {"name": "endless", "target": streamer.addr.to_string(), "payload": "go",
                 "expect_substring": "never"},
                {"name": "mute", "target": mute.addr.to_string(), "payload": "x",
                 "expect_bytes": 1, "timeout": 0.2},
                {"name": "refused", "target": format!("127.0.0.1:{closed}"), "payload": "x"},
                {"name": "udp refused", "protocol": "udp",
                 "target": format!("127.0.0.1:{closed}"), "payload": "x", "expect_bytes": 1}
            ]
        }),
    )
    .await;
    // Unnamed: named with the test's fixed values resolved.
    let echo_name = format!("tcp:{}", echo.addr);
    assert_eq!(count(&result, &echo_name), (2, 2, 0));
    assert_eq!(bytes(&control, &echo_name), 2 * 10);
    assert_eq!(echo.counts.received(), 2 * 5);
    assert_eq!(echo.counts.connections(), 1, "kept from step to step");
    assert_eq!(count(&result, "send only"), (2, 2, 0));
    assert_eq!(bytes(&control, "send only"), 2 * 3);
    assert_eq!(udp.counts.received(), 2);
    // `expect_bytes` on UDP: the datagram is cut there, as `recvfrom(3)`.
    assert_eq!(count(&result, "udp cut"), (2, 2, 0));
    assert_eq!(bytes(&control, "udp cut"), 2 * (5 + 3));
    assert_eq!(cut.counts.answered(), 2);
    assert_eq!(count(&result, "tls"), (2, 2, 0));
    assert_eq!(bytes(&control, "tls"), 2 * 4);
    assert_eq!(tls.counts.received(), 2 * 2);
    assert_eq!(tls.counts.connections(), 1);
    assert_eq!(count(&result, "untrusted"), (2, 0, 2));
    assert_eq!(
        messages(&control, "untrusted"),
        [(
            "TLS handshake with 127.0.0.1 failed: invalid peer certificate: UnknownIssuer".into(),
            2
        )]
    );
    assert_eq!(count(&result, "wrong name"), (2, 0, 2));
    let wrong = messages(&control, "wrong name");
    assert!(
        wrong.len() == 1
            && wrong[0]
                .0
                .starts_with("TLS handshake with other.test failed: invalid peer certificate: certificate not valid for name \"other.test\""),
        "{wrong:?}"
    );
    assert_eq!(count(&result, "endless"), (2, 0, 2));
    assert_eq!(
        messages(&control, "endless"),
        [(
            "expected \"never\" in the reply: not in its first 1 MiB".into(),
            2
        )]
    );
    let endless = bytes(&control, "endless");
    assert!(
        (2 * (2 + 1024 * 1024)..2 * (2 + 1024 * 1024 + 64 * 1024)).contains(&endless),
        "read up to 1 MiB: {endless}"
    );
    assert_eq!(
        streamer.counts.connections(),
        2,
        "reopened after the failure"
    );
    assert_eq!(count(&result, "mute"), (2, 0, 2));
    assert_eq!(
        messages(&control, "mute"),
        [("timed out after 200ms".into(), 2)]
    );
    assert_eq!(bytes(&control, "mute"), 2, "the payload was sent");
    assert_eq!(mute.counts.connections(), 2);
    assert_eq!(count(&result, "refused"), (2, 0, 2));
    assert_eq!(
        messages(&control, "refused"),
        [(
            format!("cannot connect to 127.0.0.1:{closed}: Connection refused (os error 111)"),
            2
        )]
    );
    assert_eq!(count(&result, "udp refused"), (2, 0, 2));
    assert_eq!(
        messages(&control, "udp refused"),
        [(
            "cannot read the reply: Connection refused (os error 111)".into(),
            2
        )]
    );
}

/// Mistakes are refused at their JSON path before anything is sent;
/// unknown keys are noted, and refused under `--strict`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mistakes_are_refused_and_unknown_keys_noted() {
    let echo = tcp_echo(None, None).await;
    let dir = tempfile::tempdir().unwrap();
    let control = confined(dir.path());
    let start = |tasks: Value| {
        json!(["LD_start_test", {
            "user_detail_dict": {"user": "socket_user"},
            "user_count": 1, "iterations": 1, "wait_time": 0,
            "host": echo.addr.to_string(), "tasks": tasks}])
    };
    let line = run_one(
        &control,
        start(json!([{"payload": "x"}, {"protocol": "quic", "payload": "x"}])),
    )
    .await;
    assert_eq!(
        line,
        "Error: LD_start_test: tasks[1].protocol: unknown protocol \"quic\"; expected one of tcp, udp"
    );
    let line = run_one(
        &control,
        start(json!({"tasks": [{"expect_bytes": "many"}]})),
    )
    .await;
    assert_eq!(
        line,
        "Error: LD_start_test: tasks.tasks[0].expect_bytes: expected a number of bytes from 0 to 16777216"
    );
    assert_eq!(echo.counts.connections(), 0, "nothing was sent");
    let result = parse(&run_one(&control, start(json!([{"paylod": "x"}]))).await);
    assert!(
        result["notes"]
            .to_string()
            .contains("tasks[0].paylod: unknown key, ignored (did you mean \\\"payload\\\"?)"),
        "{result}"
    );
    let file = dir.path().join("typo.json");
    std::fs::write(
        &file,
        json!({"load_density": [start(json!([{"paylod": "x"}]))]}).to_string(),
    )
    .unwrap();
    let file = file.to_str().unwrap().to_owned();
    let (code, stdout, _) =
        tokio::task::spawn_blocking(move || run(&["run", &file, "--no-progress", "--strict"]))
            .await
            .unwrap();
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(
        stdout.trim_end(),
        "Error: LD_start_test: strict: 1 key(s) not used by ld-tower: tasks[0].paylod: unknown key, ignored (did you mean \"payload\"?)"
    );
    assert_eq!(echo.counts.connections(), 1, "only the noted test ran");
}

/// `LD_stop_test` while every user waits on a server that never answers
/// (a 30 s timeout): the waits are abandoned, not recorded, and the test
/// ends at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_abandons_the_steps_under_way() {
    let mute = tcp_mute().await;
    let dir = tempfile::tempdir().unwrap();
    let control = confined(dir.path());
    let running = {
        let control = control.clone();
        let target = mute.addr.to_string();
        tokio::spawn(async move {
            start_test(
                &control,
                json!({
                    "user_detail_dict": {"user": "socket_user"},
                    "user_count": 3, "spawn_rate": 100, "test_time": null, "wait_time": 0,
                    "tasks": [{"name": "mute", "target": target, "payload": "x",
                               "expect_bytes": 1, "timeout": 30}]
                }),
            )
            .await
        })
    };
    let deadline = std::time::Instant::now() + common::DEADLINE;
    while mute.counts.connections() < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "the users never connected"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let began = std::time::Instant::now();
    assert_eq!(
        run_one(&control, json!(["LD_stop_test"])).await,
        r#"{"stopped":true}"#
    );
    let result = running.await.unwrap();
    assert!(began.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(result["stopped_early"], true, "{result}");
    assert_eq!(result["summary"]["totals"]["requests"], 0, "{result}");
}
