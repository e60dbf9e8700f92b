//! `ld-tower send` against real `serve` processes: it waits for a load
//! test's results however long the test runs (its `--timeout` bounds the
//! server's silence only when given), and its errors name the address and,
//! when the server speaks another framing or no TLS or TLS, the flag that
//! is likely missing; the server's default log says why it refused a
//! token, and whose, never the token.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use common::child::Child;
use common::target::Target;
use common::{bin, serve, tls_files, DEADLINE};
use serde_json::{json, Value};

/// Runs `ld-tower send ARGS` and waits for it to exit within the deadline
/// (it is killed and the test fails past it): (status, stdout, stderr).
fn send(args: &[&str]) -> (ExitStatus, String, String) {
    let mut command = Command::new(bin());
    command
        .arg("send")
        .args(args)
        .env_remove("LOAD_DENSITY_SOCKET_TOKEN");
    let mut child = Child::spawn("ld-tower send", &mut command).unwrap();
    let status = child
        .wait_until(Instant::now() + DEADLINE, Duration::from_millis(20), |_| {})
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.rest_of_stdout(Duration::from_secs(2)).join("\n");
    (status, stdout, child.stderr())
}

/// A test of one user for `seconds` against `url`, then its summary.
fn timed_test(url: &str, seconds: u64) -> String {
    json!({"load_density": [
        ["LD_start_test", {"user_count": 1, "spawn_rate": 10, "test_time": seconds,
                           "wait_time": 0.05,
                           "tasks": [{"method": "get", "request_url": format!("{url}/"), "name": "home"}]}],
        ["LD_summary", {}]
    ]})
    .to_string()
}

/// The summary line's request count for `home`.
fn home_requests(stdout: &str) -> u64 {
    let summary: Value = stdout
        .lines()
        .last()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no summary line: {stdout}"));
    summary["per_name"]["home"]["count"]
        .as_u64()
        .unwrap_or_else(|| panic!("no count for home: {summary}"))
}

#[test]
fn send_waits_for_a_test_longer_than_any_reply_gap_by_default() {
    let (_runtime, target) = Target::in_runtime();
    let server = serve(&[]);
    let port = server.port.to_string();
    let request = timed_test(&target.url(), 3);
    // Default flags: no limit on the wait for the reply.
    let (status, stdout, stderr) = send(&["--port", &port, &request]);
    assert_eq!(status.code(), Some(0), "{stderr}");
    let first: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["stopped_early"], false, "{stdout}");
    let served = home_requests(&stdout);
    assert!(served > 0, "{stdout}");
    assert_eq!(target.count("/"), served);
    // --timeout 0 is accepted: the same wait, said explicitly.
    let (status, stdout, stderr) = send(&["--port", &port, "--timeout", "0", &request]);
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(home_requests(&stdout) > 0);
    // A limit the user asks for bounds the server's silence, which is the
    // whole test: a 3 s test is given up on after 1 s.
    let (status, stdout, stderr) = send(&["--port", &port, "--timeout", "1", &request]);
    assert_eq!(status.code(), Some(3), "{stdout}");
    assert!(
        stderr.contains(&format!(
            "the server at localhost:{port} sent nothing for 1s"
        )) && stderr.contains("--timeout"),
        "{stderr}"
    );
    let (_, help, _) = send(&["--help"]);
    assert!(help.contains("[default: 0]"), "{help}");
    assert!(help.contains("--connect-timeout"), "{help}");
}

#[test]
fn a_silent_server_is_bounded_by_the_timeout_given() {
    // The kernel accepts the connection into the backlog; nobody answers.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port().to_string();
    let (status, _, stderr) = send(&[
        "--host",
        "127.0.0.1",
        "--port",
        &port,
        "--timeout",
        "500ms",
        r#"[["LD_summary"]]"#,
    ]);
    assert_eq!(status.code(), Some(3));
    assert_eq!(
        stderr.trim_end(),
        format!(
            "ld-tower: the server at 127.0.0.1:{port} sent nothing for 500ms while a reply was \
             awaited (--timeout; 0 waits as long as the command runs)"
        )
    );
}

/// Each wrong pairing of client flags and server gives one line naming the
/// address and the flag to add or drop; the right pairing is served.
#[test]
fn a_framing_or_tls_mismatch_names_the_missing_flag() {
    let tls = tls_files();
    let (cert, key, ca) = (
        tls.cert.to_str().unwrap(),
        tls.key.to_str().unwrap(),
        tls.ca.to_str().unwrap(),
    );
    let legacy = serve(&[]);
    let framed = serve(&["--framed"]);
    let tls_legacy = serve(&["--tls-cert", cert, "--tls-key", key]);
    let tls_framed = serve(&["--framed", "--tls-cert", cert, "--tls-key", key]);
    let drop_framed = "answered in the legacy (unframed) protocol: drop --framed";
    let pass_framed = "closed the connection without a reply, as a framed server (serve --framed) \
                       does with an unframed request: pass --framed";
    let pass_tls = "speaks TLS: pass --tls-ca CA.pem (the CA that signed its certificate)";
    let drop_tls = "does not speak TLS: drop --tls-ca";
    let cases: [(&common::ServeProcess, &[&str], &str); 10] = [
        (&legacy, &["--framed"], drop_framed),
        (&legacy, &["--tls-ca", ca], drop_tls),
        (&framed, &[], pass_framed),
        (&framed, &["--tls-ca", ca], drop_tls),
        (&framed, &["--framed", "--tls-ca", ca], drop_tls),
        (&tls_legacy, &[], pass_tls),
        (&tls_legacy, &["--framed"], pass_tls),
        (&tls_legacy, &["--framed", "--tls-ca", ca], drop_framed),
        (&tls_framed, &["--framed"], pass_tls),
        (&tls_framed, &["--tls-ca", ca], pass_framed),
    ];
    let send_to = |server: &common::ServeProcess, flags: &[&str]| {
        let port = server.port.to_string();
        let mut args = vec!["--port", &port];
        args.extend_from_slice(flags);
        args.push(r#"[["LD_clear_records"]]"#);
        (port.clone(), send(&args))
    };
    for (server, flags, hint) in cases {
        let (port, (status, stdout, stderr)) = send_to(server, flags);
        assert_eq!(status.code(), Some(3), "{flags:?}: {stdout} {stderr}");
        assert_eq!(
            stderr.trim_end(),
            format!("ld-tower: the server at localhost:{port} {hint}"),
            "{flags:?}"
        );
    }
    // The right flags are served.
    for (server, flags) in [
        (&legacy, &[][..]),
        (&framed, &["--framed"][..]),
        (&tls_legacy, &["--tls-ca", ca][..]),
        (&tls_framed, &["--framed", "--tls-ca", ca][..]),
    ] {
        let (_, (status, stdout, stderr)) = send_to(server, flags);
        assert_eq!(status.code(), Some(0), "{flags:?}: {stderr}");
        assert_eq!(stdout, r#"{"status":"cleared"}"#, "{flags:?}");
    }
}

/// The lines of `server`'s stderr holding `needle`, once `count` of them
/// are there (within the deadline).
fn log_lines(server: &common::ServeProcess, needle: &str, count: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let lines: Vec<String> = server
            .stderr()
            .lines()
            .filter(|line| line.contains(needle))
            .map(str::to_owned)
            .collect();
        if lines.len() >= count {
            return lines;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "{count} {needle:?} lines: {}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_refused_token_is_logged_with_peer_and_cause_never_the_token() {
    // The default log level.
    let server = serve(&["--framed", "--token", "SECRET-VALUE-42"]);
    let port = server.port.to_string();
    let request = r#"[["LD_summary"]]"#;
    let (status, stdout, _) = send(&[
        "--port",
        &port,
        "--framed",
        "--token",
        "WRONG-GUESS-17",
        request,
    ]);
    assert_eq!(
        (status.code(), stdout.as_str()),
        (Some(1), "Error: unauthorised")
    );
    let (status, stdout, _) = send(&["--port", &port, "--framed", request]);
    assert_eq!(
        (status.code(), stdout.as_str()),
        (Some(1), "Error: token required")
    );
    let lines = log_lines(&server, "authentication refused", 2);
    for (line, cause, told) in [
        (&lines[0], "wrong or malformed token", "Error: unauthorised"),
        (&lines[1], "no token presented", "Error: token required"),
    ] {
        assert!(line.contains(" WARN "), "{line}");
        assert!(line.contains("peer=127.0.0.1:"), "{line}");
        assert!(
            line.contains(&format!("reason={cause} told={told} ")),
            "{line}"
        );
    }
    let log = server.stderr();
    assert!(
        !log.contains("WRONG-GUESS") && !log.contains("SECRET-VALUE"),
        "a token in the log: {log}"
    );
}
