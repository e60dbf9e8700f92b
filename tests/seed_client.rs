//! The Python client documented on LoadDensity's control-socket page
//! (`shared/seeds/control-socket-server.rst`, "Sending commands (framed
//! mode)"), statement for statement in `tests/fixtures/seed_client.py`, run
//! with `python3` against `ld-tower serve --framed --token ROTATE_ME`. The
//! client hard-codes port 9940; the test runs a copy whose one `9940` is
//! the server's port 0 gave, so no test binds a fixed port.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

const SUMMARY: &str = r#"{"totals":{"requests":0,"successes":0,"failures":0,"failure_rate":0.0},"latency_overall":{"count":0,"p50_ms":0.0,"p90_ms":0.0,"p95_ms":0.0,"p99_ms":0.0,"max_ms":0.0},"per_name":{}}"#;

#[test]
fn the_documented_python_client_works_verbatim() {
    let server = common::serve(&["--framed", "--token", "ROTATE_ME", "--host", "127.0.0.1"]);
    let documented = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/seed_client.py"
    ))
    .expect("the documented client");
    assert_eq!(documented.matches("9940").count(), 1, "{documented}");
    let dir = tempfile::tempdir().expect("tempdir");
    let script = dir.path().join("seed_client.py");
    std::fs::write(
        &script,
        documented.replace("9940", &server.port.to_string()),
    )
    .expect("copy");
    let out = Command::new("python3")
        .arg(&script)
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
