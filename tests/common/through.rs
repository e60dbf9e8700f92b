//! Running a user kind's action list through `ld-tower run` or `ld-tower
//! serve`, and reading its summary and JSON report.

use std::path::Path;

use serde_json::Value;

use super::{parse, run_cli, serve_in};

/// How an action list reaches the agent.
#[derive(Clone, Copy, Debug)]
pub enum Via {
    /// `ld-tower run FILE`.
    Run,
    /// `ld-tower serve`, over the legacy socket.
    Serve,
}

/// Runs `actions` through `ld-tower run` or `serve` (in `dir`, with
/// `args`); the three result lines, parsed.
pub async fn through(via: Via, dir: &Path, args: &[&str], actions: Value) -> Vec<Value> {
    let dir = dir.to_owned();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let lines = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        match via {
            Via::Run => {
                let file = dir.join("test.json");
                std::fs::write(&file, actions.to_string()).unwrap();
                // Steps fail on purpose; their counts and reasons are checked.
                let mut all = vec![
                    "run",
                    file.to_str().unwrap(),
                    "--no-progress",
                    "--exit-code-on-error",
                    "0",
                ];
                all.extend(&args);
                let (status, stdout, stderr) = run_cli(&all, &[]);
                assert!(status.success(), "{stdout}\n{stderr}");
                stdout.lines().map(str::to_owned).collect::<Vec<_>>()
            }
            Via::Serve => {
                let server = serve_in(&dir, &args, &[]);
                let reply = server.legacy(&actions.to_string());
                let mut lines: Vec<String> = reply.lines().map(str::to_owned).collect();
                assert_eq!(lines.pop().as_deref(), Some("Return_Data_Over_JE"));
                lines
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(lines.len(), 3, "{lines:?}");
    lines.iter().map(|l| parse(l)).collect()
}

/// `name`'s (count, successes, failures) in a summary.
pub fn counts(summary: &Value, name: &str) -> (u64, u64, u64) {
    let entry = &summary["per_name"][name];
    assert!(entry.is_object(), "no {name:?} in {summary}");
    (
        entry["count"].as_u64().unwrap(),
        entry["successes"].as_u64().unwrap(),
        entry["failures"].as_u64().unwrap(),
    )
}

/// `name`'s failure reasons in a JSON report: message -> count.
pub fn reasons(report: &Value, name: &str) -> Vec<(String, u64)> {
    let entry = report["per_name"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no {name:?} in {report}"));
    entry["failure_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["message"].as_str().unwrap().to_owned(),
                r["count"].as_u64().unwrap(),
            )
        })
        .collect()
}
