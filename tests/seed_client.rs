//! The Python client documented on LoadDensity's control-socket page
//! (`shared/seeds/control-socket-server.rst`, "Sending commands (framed
//! mode)"), statement for statement in `tests/fixtures/seed_client.py`, run
//! with `python3` against `ld-tower serve --framed --token ROTATE_ME` on the
//! port it hard-codes, 9940.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

const SUMMARY: &str = r#"{"totals":{"requests":0,"successes":0,"failures":0,"failure_rate":0.0},"latency_overall":{"count":0,"p50_ms":0.0,"p90_ms":0.0,"p95_ms":0.0,"p99_ms":0.0,"max_ms":0.0},"per_name":{}}"#;

#[test]
fn the_documented_python_client_works_verbatim() {
    assert!(
        std::net::TcpListener::bind("127.0.0.1:9940").is_ok(),
        "port 9940, which the documented client hard-codes, is in use: stop what holds it"
    );
    let server = common::serve(&[
        "--framed",
        "--token",
        "ROTATE_ME",
        "--host",
        "127.0.0.1",
        "--port",
        "9940",
    ]);
    assert_eq!(server.port, 9940);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/seed_client.py");
    let out = Command::new("python3")
        .arg(script)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // print() adds its own line break after the result line's.
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{SUMMARY}\n\n")
    );
}
