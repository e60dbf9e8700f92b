//! What `ld-tower run` prints for a person (on a terminal, or with
//! `--summary`): a short line per action, then `demo`'s summary, each
//! request name's figures and each threshold passed or `FAILED`; JSON lines
//! on a pipe (or with `--json`), a failed threshold then said on stderr; a
//! progress line that fits a narrow terminal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::target::Target;
use common::{bin, DEADLINE};
use serde_json::{json, Value};

/// A test of one user making 3 iterations of `home` (200) then `broken`
/// (500), with thresholds `broken` fails and `home` meets; its summary.
fn write_actions(dir: &Path, url: &str) -> String {
    let actions = json!({"load_density": [
        ["LD_start_test", {
            "user_count": 1, "spawn_rate": 10, "test_time": 30, "iterations": 3, "wait_time": 0,
            "tasks": [
                {"method": "get", "request_url": format!("{url}/"), "name": "home"},
                {"method": "get", "request_url": format!("{url}/status/500"), "name": "broken"}
            ],
            "thresholds": {"per_name": {"home": {"failure_rate": 0.5},
                                        "broken": {"failure_rate": 0.5}}}
        }],
        ["LD_clear_resolver", {}]
    ]});
    let file = dir.join("thresholds.json");
    std::fs::write(&file, actions.to_string()).unwrap();
    file.to_str().unwrap().to_owned()
}

/// Runs `ld-tower ARGS` with stdout and stderr piped, within the deadline.
fn run(args: &[&str]) -> Output {
    let mut child = common::child::Child::spawn(
        "ld-tower run",
        Command::new(bin()).args(args).stdin(Stdio::null()),
    )
    .unwrap();
    let status = child
        .wait_until(
            std::time::Instant::now() + DEADLINE,
            std::time::Duration::from_millis(20),
            |_| {},
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.rest_of_stdout(std::time::Duration::from_secs(2));
    Output {
        status,
        stdout: stdout.join("\n").into_bytes(),
        stderr: child.stderr().into_bytes(),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The words of the stdout line that begins, after indentation, with `first`.
fn row<'a>(stdout: &'a str, first: &[&str]) -> Vec<&'a str> {
    stdout
        .lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .find(|words| words.starts_with(first))
        .unwrap_or_else(|| panic!("no line {first:?} in:\n{stdout}"))
}

/// Checks the summary a person reads: both names' figures and the verdicts.
fn assert_summary(stdout: &str) {
    assert!(stdout.contains("6 requests, 3 failed (50.00%)"), "{stdout}");
    assert_eq!(row(stdout, &["home"])[1..3], ["3", "0"], "{stdout}");
    assert_eq!(row(stdout, &["broken"])[1..3], ["3", "3"], "{stdout}");
    assert_eq!(
        row(stdout, &["FAILED", "broken"])[2..],
        ["failure_rate", "limit", "0.500", "actual", "1.000"],
        "{stdout}"
    );
    assert_eq!(
        row(stdout, &["passed", "home"])[2..],
        ["failure_rate", "limit", "0.500", "actual", "0.000"],
        "{stdout}"
    );
}

#[test]
fn summary_shows_each_name_and_marks_the_failed_threshold() {
    let (_runtime, target) = Target::in_runtime();
    let dir = tempfile::tempdir().unwrap();
    let file = write_actions(dir.path(), &target.url());
    let output = run(&["run", "--summary", "--no-progress", &file]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(4), "{stdout}");
    let mut lines = stdout.lines();
    let first = lines.next().unwrap();
    assert!(
        first.starts_with("LD_start_test: ok (") && first.ends_with("--json prints it)"),
        "{stdout}"
    );
    assert_eq!(
        lines.next(),
        Some(r#"LD_clear_resolver: {"status":"cleared"}"#)
    );
    assert_summary(&stdout);
    assert_eq!(target.count("/"), 3);
    assert_eq!(target.count("/status/500"), 3);
}

#[test]
fn json_lines_stay_on_a_pipe_and_a_failed_threshold_is_said_on_stderr() {
    let (_runtime, target) = Target::in_runtime();
    let dir = tempfile::tempdir().unwrap();
    let file = write_actions(dir.path(), &target.url());
    for args in [&["run", &file][..], &["run", "--json", &file][..]] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(4), "{args:?}");
        let stdout = text(&output.stdout);
        let lines: Vec<Value> = stdout
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
            .collect();
        assert_eq!(lines.len(), 2, "{stdout}");
        assert_eq!(lines[0]["thresholds"]["passed"], false, "{stdout}");
        assert_eq!(
            text(&output.stderr).trim_end(),
            "ld-tower: threshold FAILED: broken failure_rate limit 0.500 actual 1.000"
        );
    }
    let output = run(&["run", "--json", "--summary", &file]);
    assert_eq!(output.status.code(), Some(2));
}

/// Runs the shell `command` with a terminal as its stdin, stdout and stderr
/// (util-linux `script`); what the terminal showed.
fn on_terminal(command: &str) -> String {
    let output = Command::new("script")
        .args(["-qec", command, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    text(&output.stdout).replace("\r\n", "\n")
}

#[test]
#[cfg_attr(
    no_script,
    ignore = "no util-linux `script` here to give ld-tower a terminal (build.rs probed it)"
)]
fn a_terminal_gets_the_summary_and_json_forces_the_lines() {
    let (_runtime, target) = Target::in_runtime();
    let dir = tempfile::tempdir().unwrap();
    let file = write_actions(dir.path(), &target.url());
    let shown = on_terminal(&format!("{} run --no-progress {file}", bin()));
    assert_summary(&shown);
    assert!(!shown.contains(r#"{"totals""#), "{shown}");
    let shown = on_terminal(&format!("{} run --no-progress --json {file}", bin()));
    assert!(shown.contains(r#""thresholds":{"#), "{shown}");
    assert!(!shown.contains("Thresholds:"), "{shown}");
}

/// What a terminal shows once escape sequences are taken out, one entry per
/// drawn line (a redraw starts with a carriage return).
fn drawn_lines(transcript: &str) -> Vec<String> {
    let mut plain = String::new();
    let mut chars = transcript.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters, then a final letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
        .split(['\r', '\n'])
        .map(|line| line.trim_end().to_owned())
        .filter(|line| !line.is_empty())
        .collect()
}

#[test]
#[cfg_attr(
    no_script,
    ignore = "no util-linux `script` here to give ld-tower a terminal (build.rs probed it)"
)]
fn the_progress_line_fits_a_terminal_of_40_columns() {
    let (_runtime, target) = Target::in_runtime();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("two_seconds.json");
    let actions = json!([
        ["LD_start_test", {"user_count": 4, "spawn_rate": 100, "test_time": 2, "wait_time": 0.01,
                           "tasks": [{"method": "get", "request_url": format!("{}/", target.url())}]}]
    ]);
    std::fs::write(&file, actions.to_string()).unwrap();
    // stdout to a file: the transcript holds stderr's drawing only.
    let out = dir.path().join("stdout");
    let shown = on_terminal(&format!(
        "stty rows 24 cols 40; {} run --json {} > {}",
        bin(),
        file.display(),
        out.display()
    ));
    let lines: Vec<String> = drawn_lines(&shown)
        .into_iter()
        .filter(|line| line.contains("/2s"))
        .collect();
    assert!(!lines.is_empty(), "nothing drawn: {shown:?}");
    for line in &lines {
        // The spinner, a space, then the message, short of the last column.
        assert!(line.chars().count() < 40, "{line:?}");
        let last = line.rsplit("  ").next().unwrap_or_default();
        let count = last
            .strip_prefix("requests ")
            .unwrap_or_else(|| panic!("{line:?}"));
        assert!(count.parse::<u64>().is_ok(), "{line:?}");
    }
    let result: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    assert_eq!(result["stopped_early"], false, "{result}");
}
