//! The `ld-tower` binary as scripts use it: start-up lines and errors,
//! protected mode, tokens from flag and environment, quit by both routes and
//! by signal, `send`'s output and exit codes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{legacy, run_cli, serve, serve_with_env, DEADLINE, END};

const SUMMARY: &str = r#"{"totals":{"requests":0,"successes":0,"failures":0,"failure_rate":0.0},"latency_overall":{"count":0,"p50_ms":0.0,"p90_ms":0.0,"p95_ms":0.0,"p99_ms":0.0,"max_ms":0.0},"per_name":{}}"#;

/// One framed request: the frames' bodies until the terminator or the close.
fn framed(port: u16, request: &[u8]) -> Vec<Vec<u8>> {
    let mut tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    tcp.set_read_timeout(Some(DEADLINE)).expect("timeout");
    tcp.write_all(&common::frame(request)).expect("write");
    let mut pieces = Vec::new();
    loop {
        let mut header = [0u8; 4];
        if tcp.read_exact(&mut header).is_err() {
            return pieces;
        }
        let mut body = vec![0u8; u32::from_be_bytes(header) as usize];
        tcp.read_exact(&mut body).expect("frame body");
        let end = body == END;
        pieces.push(body);
        if end {
            return pieces;
        }
    }
}

fn assert_one_line_error(args: &[&str], needle: &str) {
    let (status, stdout, stderr) = run_cli(args, &[]);
    assert_eq!(status.code(), Some(1), "{args:?}: {stderr}");
    assert_eq!(stdout, "", "{args:?}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "{args:?}: not one line: {stderr}"
    );
    assert!(
        stderr.contains(needle),
        "{args:?}: {stderr:?} lacks {needle:?}"
    );
    assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
}

#[test]
fn quit_server_prints_shutdown_and_exits_zero_with_idle_clients_connected() {
    let mut server = serve(&[]);
    let _idle: Vec<TcpStream> = (0..3)
        .map(|_| TcpStream::connect(server.addr()).expect("idle"))
        .collect();
    assert_eq!(
        legacy(server.port, b"quit_server"),
        b"Server shutting down\n"
    );
    let (status, rest) = server.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
    assert_eq!(rest, ["Server shutdown complete"]);
}

#[test]
fn framed_envelope_quit_prints_shutdown_and_exits_zero() {
    let mut server = serve(&["--framed", "--token", "s3cret"]);
    let _idle = TcpStream::connect(server.addr()).expect("idle");
    let pieces = framed(server.port, br#"{"token": "s3cret", "op": "quit"}"#);
    assert_eq!(pieces, [b"Server shutting down\n".to_vec()]);
    let (status, rest) = server.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
    assert_eq!(rest, ["Server shutdown complete"]);
}

#[test]
fn sigterm_and_sigint_shut_down_cleanly() {
    for signal in ["TERM", "INT"] {
        let mut server = serve(&["--framed"]);
        let _idle = TcpStream::connect(server.addr()).expect("idle");
        server.signal(signal);
        let (status, rest) = server.wait_exit(Duration::from_secs(5));
        assert_eq!(status.code(), Some(0), "SIG{signal}");
        assert_eq!(rest, ["Server shutdown complete"], "SIG{signal}");
    }
}

#[test]
fn the_port_can_be_reused_at_once_after_shutdown() {
    let mut first = serve(&[]);
    let port = first.port.to_string();
    assert_eq!(
        legacy(first.port, b"quit_server"),
        b"Server shutting down\n"
    );
    assert_eq!(first.wait_exit(Duration::from_secs(5)).0.code(), Some(0));
    let second = serve(&["--port", &port]);
    assert_eq!(second.port.to_string(), port);
    assert_eq!(
        legacy(second.port, br#"[["LD_clear_records"]]"#),
        [&b"{\"status\":\"cleared\"}\n"[..], END].concat()
    );
}

#[test]
fn token_from_the_environment_and_the_flag_wins() {
    let server = serve_with_env(&["--framed"], &[("LOAD_DENSITY_SOCKET_TOKEN", "from-env")]);
    assert_eq!(
        framed(
            server.port,
            br#"{"token": "from-env", "command": [["LD_clear_records"]]}"#
        )
        .len(),
        2
    );
    assert_eq!(
        framed(server.port, br#"[["LD_clear_records"]]"#),
        [b"Error: token required\n".to_vec()]
    );
    drop(server);
    let server = serve_with_env(
        &["--framed", "--token", "from-flag"],
        &[("LOAD_DENSITY_SOCKET_TOKEN", "from-env")],
    );
    assert_eq!(
        framed(
            server.port,
            br#"{"token": "from-env", "command": [["LD_clear_records"]]}"#
        ),
        [b"Error: unauthorised\n".to_vec()]
    );
    assert_eq!(
        framed(
            server.port,
            br#"{"token": "from-flag", "command": [["LD_clear_records"]]}"#
        )
        .len(),
        2
    );
}

#[test]
fn several_tokens_are_accepted_at_once() {
    let server = serve(&["--framed", "--token", "old", "--token", "new"]);
    for token in ["old", "new"] {
        let body = format!(r#"{{"token": "{token}", "command": [["LD_clear_records"]]}}"#);
        assert_eq!(framed(server.port, body.as_bytes()).len(), 2, "{token}");
    }
}

#[test]
fn bad_start_up_input_is_one_clear_line_and_exit_1() {
    let tls = common::tls_files();
    let other = common::tls_files();
    let (cert, key, other_key) = (
        tls.cert.to_str().unwrap(),
        tls.key.to_str().unwrap(),
        other.key.to_str().unwrap(),
    );
    assert_one_line_error(&["serve", "--port", "0", "--token", ""], "empty token");
    assert_one_line_error(&["serve", "--port", "0", "--tls-cert", cert], "--tls-key");
    assert_one_line_error(&["serve", "--port", "0", "--tls-key", key], "--tls-cert");
    assert_one_line_error(
        &[
            "serve",
            "--port",
            "0",
            "--tls-cert",
            "/nonexistent.pem",
            "--tls-key",
            key,
        ],
        "/nonexistent.pem",
    );
    assert_one_line_error(
        &["serve", "--port", "0", "--tls-cert", key, "--tls-key", key],
        "certificate",
    );
    assert_one_line_error(
        &[
            "serve",
            "--port",
            "0",
            "--tls-cert",
            cert,
            "--tls-key",
            cert,
        ],
        "private key",
    );
    assert_one_line_error(
        &[
            "serve",
            "--port",
            "0",
            "--tls-cert",
            cert,
            "--tls-key",
            other_key,
        ],
        "cannot be used together",
    );
    assert_one_line_error(
        &["serve", "--port", "0", "--ca-file", key],
        "no CERTIFICATE block found",
    );
    let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = busy.local_addr().expect("addr").port().to_string();
    assert_one_line_error(&["serve", "--host", "127.0.0.1", "--port", &port], "in use");
}

#[test]
fn protected_mode_refuses_no_token_off_loopback() {
    assert_one_line_error(
        &["serve", "--host", "0.0.0.0", "--port", "0"],
        "--insecure-no-auth",
    );
    let mut server = serve(&["--host", "0.0.0.0", "--insecure-no-auth"]);
    assert_eq!(
        legacy(server.port, b"quit_server"),
        b"Server shutting down\n"
    );
    assert_eq!(server.wait_exit(Duration::from_secs(5)).0.code(), Some(0));
    let server = serve(&["--host", "0.0.0.0", "--token", "s3cret"]);
    let deadline = std::time::Instant::now() + DEADLINE;
    while !server.stderr().contains("travels in clear") {
        assert!(
            std::time::Instant::now() < deadline,
            "no clear-text warning: {}",
            server.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
#[cfg_attr(
    no_ipv6_loopback,
    ignore = "no IPv6 loopback on this machine (build.rs probed [::1])"
)]
fn ipv6_loopback_works() {
    let server = serve(&["--host", "::1"]);
    let mut tcp = TcpStream::connect(("::1", server.port)).expect("connect over IPv6");
    tcp.write_all(br#"[["LD_clear_records"]]"#).expect("write");
    let mut out = Vec::new();
    tcp.read_to_end(&mut out).expect("read");
    assert_eq!(out, [&b"{\"status\":\"cleared\"}\n"[..], END].concat());
}

#[test]
fn the_token_never_appears_in_logs_or_help() {
    let server = serve(&["--framed", "--token", "TOPSECRET-1", "--log", "trace"]);
    assert_eq!(
        framed(
            server.port,
            br#"{"token": "TOPSECRET-1", "command": [["LD_clear_records"]]}"#
        )
        .len(),
        2
    );
    framed(
        server.port,
        br#"{"token": "TOPSECRET-2", "command": [["LD_summary"]]}"#,
    );
    framed(server.port, br#"{"token": "TOPSECRET-1", "op": "quit"}"#);
    let mut server = server;
    server.wait_exit(Duration::from_secs(5));
    let log = server.stderr();
    assert!(
        log.contains("LD_clear_records"),
        "the log names the actions: {log}"
    );
    assert!(
        !log.contains("TOPSECRET"),
        "the token leaked into the log: {log}"
    );
    let (_, help, _) = run_cli(
        &["serve", "--help"],
        &[("LOAD_DENSITY_SOCKET_TOKEN", "TOPSECRET-3")],
    );
    assert!(help.contains("--max-connections") && help.contains("LOAD_DENSITY_SOCKET_TOKEN"));
    assert!(!help.contains("TOPSECRET"), "--help printed the secret");
}

#[test]
fn help_explains_every_flag_and_version_prints() {
    let (status, help, _) = run_cli(&["serve", "--help"], &[]);
    assert!(status.success());
    for flag in [
        "--host",
        "--port",
        "--framed",
        "--token",
        "--tls-cert",
        "--tls-key",
        "--max-connections",
        "--max-in-flight",
        "--read-timeout",
        "--handshake-timeout",
        "--command-timeout",
        "--grace-period",
        "--max-request-bytes",
        "--insecure-no-auth",
        "--log",
    ] {
        assert!(help.contains(flag), "serve --help lacks {flag}");
    }
    let (status, help, _) = run_cli(&["send", "--help"], &[]);
    assert!(status.success());
    for flag in [
        "--host",
        "--port",
        "--framed",
        "--token",
        "--tls-ca",
        "--tls-server-name",
        "--timeout",
        "@FILE",
    ] {
        assert!(help.contains(flag), "send --help lacks {flag}");
    }
    let (status, version, _) = run_cli(&["--version"], &[]);
    assert!(status.success());
    assert_eq!(
        version.trim(),
        format!("ld-tower {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn send_prints_lines_and_exits_by_outcome() {
    let tls = common::tls_files();
    let server = serve(&[
        "--framed",
        "--token",
        "s3cret",
        "--tls-cert",
        tls.cert.to_str().unwrap(),
        "--tls-key",
        tls.key.to_str().unwrap(),
    ]);
    let port = server.port.to_string();
    let ca = tls.ca.to_str().unwrap();
    let base = ["send", "--port", &port, "--framed", "--tls-ca", ca];
    let args = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(|s| s.to_string()).collect()
    };
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let args = args(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_cli(&args, env)
    };
    let token = [("LOAD_DENSITY_SOCKET_TOKEN", "s3cret")];
    let (status, out, err) = run(&[r#"{"load_density": [["LD_summary", {}]]}"#], &token);
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(out, format!("{SUMMARY}\n"));
    let (status, out, _) = run(
        &[
            "--token",
            "s3cret",
            r#"[["LD_clear_records"], ["LD_nope"]]"#,
        ],
        &[],
    );
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        out,
        "{\"status\":\"cleared\"}\nError: LD_nope: unknown action\n"
    );
    let (status, out, _) = run(&["--token", "wrong", r#"[["LD_summary"]]"#], &[]);
    assert_eq!(status.code(), Some(1));
    assert_eq!(out, "Error: unauthorised\n");
    let file = tls.dir.path().join("actions.json");
    std::fs::write(&file, r#"{"load_density": [["LD_clear_records"]]}"#).unwrap();
    let at_file = format!("@{}", file.display());
    let (status, out, _) = run(&[&at_file], &token);
    assert_eq!(
        (status.code(), out.as_str()),
        (Some(0), "{\"status\":\"cleared\"}\n")
    );
    let (status, _, err) = run(&["@/nonexistent.json"], &token);
    assert_eq!(status.code(), Some(3));
    assert!(err.contains("/nonexistent.json"), "{err}");
    // Without the CA the handshake fails: exit 3.
    let (status, _, err) = run_cli(
        &[
            "send",
            "--port",
            &port,
            "--framed",
            "--token",
            "s3cret",
            r#"[["LD_summary"]]"#,
        ],
        &[],
    );
    assert_eq!(status.code(), Some(3), "{err}");
    // quit_server with a token becomes the quit envelope.
    let (status, out, _) = run(&["quit_server"], &token);
    assert_eq!(
        (status.code(), out.as_str()),
        (Some(0), "Server shutting down\n")
    );
}

#[test]
fn send_reads_the_request_from_stdin() {
    let server = serve(&[]);
    let mut child = std::process::Command::new(common::bin())
        .args(["send", "--port", &server.port.to_string(), "-"])
        .env_remove("LOAD_DENSITY_SOCKET_TOKEN")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn send");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"[["LD_clear_records"]]"#)
        .unwrap();
    let out = child.wait_with_output().expect("send output");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "{\"status\":\"cleared\"}\n"
    );
}

#[test]
fn send_cannot_connect_exits_3() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let (status, _, err) = run_cli(
        &[
            "send",
            "--host",
            "127.0.0.1",
            "--port",
            &port,
            r#"[["LD_summary"]]"#,
        ],
        &[],
    );
    assert_eq!(status.code(), Some(3));
    assert_eq!(err.lines().count(), 1, "{err}");
    // The address is named.
    assert!(
        err.starts_with(&format!("ld-tower: cannot connect to 127.0.0.1:{port}: ")),
        "{err}"
    );
}
