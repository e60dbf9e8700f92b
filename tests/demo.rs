//! `ld-tower demo` on this machine alone: a summary on stdout, reports in
//! the folder it names, and the HTML report rendered by headless Chromium.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

fn demo(dir: &Path) -> (String, String) {
    let out = Command::new(common::bin())
        .args([
            "demo",
            "--seconds",
            "2",
            "--users",
            "4",
            "--no-progress",
            "--dir",
        ])
        .arg(dir)
        .output()
        .expect("ld-tower demo runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "demo failed: {stdout}\n{stderr}");
    (stdout, stderr)
}

#[test]
fn demo_prints_a_summary_and_writes_the_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let (stdout, _) = demo(&dir);
    for name in ["login", "profile", "items", "search", "flaky"] {
        assert!(
            stdout.lines().any(|l| l.trim_start().starts_with(name)),
            "no {name} row: {stdout}"
        );
    }
    assert!(stdout.contains("Thresholds:"), "{stdout}");
    assert!(
        stdout.contains(&dir.join("report.html").display().to_string()),
        "{stdout}"
    );
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(html.contains("<svg"), "no chart in the report");
    for section in [
        "id=\"chart-users\"",
        "id=\"chart-requests\"",
        "id=\"chart-failures\"",
        "id=\"chart-statuses\"",
        "id=\"name-charts\"",
        "id=\"tasks\"",
    ] {
        assert!(html.contains(section), "no {section} in the report");
    }
    // A latency chart per name the demo requests.
    for name in ["login", "profile", "items", "search", "flaky"] {
        assert!(
            html.contains(&format!("data-name=\"{name}\"")),
            "no latency chart for {name}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report.json")).expect("report.json"))
            .expect("JSON");
    let requests = json
        .pointer("/summary/totals/requests")
        .and_then(|v| v.as_u64())
        .expect("requests");
    assert!(requests > 0);
    assert!(
        stdout.contains(&format!("{requests} requests")),
        "stdout and report.json disagree: {stdout}"
    );
    let junit = std::fs::read_to_string(dir.join("junit.xml")).expect("junit.xml");
    assert!(junit.contains("<testsuite"), "{junit}");
}

#[test]
fn the_report_renders_in_headless_chromium() {
    if common::browser::chromium("the report").is_none() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    demo(&dir);
    let png = tmp.path().join("report.png");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/screenshot-report.sh");
    let out = Command::new("bash")
        .arg(script)
        .arg(dir.join("report.html"))
        .arg(&png)
        .output()
        .expect("the screenshot script runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&png).expect("the PNG");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    // A rendered page with charts and tables, not a blank one.
    assert!(
        bytes.len() > 30_000,
        "the screenshot is suspiciously small: {} bytes",
        bytes.len()
    );
}
