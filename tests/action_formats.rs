//! Action files in YAML and TOML, and the formatter: `ld-tower run` and
//! `run-dir` read them by extension and run them as their JSON would run;
//! `LD_write_action_yaml`/`toml` and `LD_read_action_yaml`/`toml` round
//! trip through a served agent's path rule; `LD_format_action_*` give
//! LoadDensity's exact text; a YAML alias bomb or an oversized file is
//! refused while the agent keeps serving.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::Path;

use common::target::Target;
use common::{run_cli, serve_in};
use serde_json::{json, Value};

/// The same test in three formats: 2 users, 3 iterations each, of `/yt`
/// on `TARGET`, then the summary.
const JSON: &str = r#"{"load_density": [
  ["LD_start_test", {"user_count": 2, "spawn_rate": 100, "iterations": 3, "wait_time": 0,
    "host": "TARGET", "tasks": {"mode": "sequence", "tasks": [
      {"method": "get", "request_url": "/yt", "name": "yt",
       "assertions": [{"type": "status_code", "value": 200}]}]}}],
  ["LD_summary"]
]}"#;

const YAML: &str = "\
load_density:
  - - LD_start_test
    - user_count: 2
      spawn_rate: 100
      iterations: 3
      wait_time: 0
      host: TARGET
      tasks:
        mode: sequence
        tasks:
          - method: get
            request_url: /yt
            name: yt
            assertions:
              - {type: status_code, value: 200}
  - [LD_summary]
";

/// (TOML 1.0's inline tables are one line each.)
const TOML: &str = r#"
load_density = [
  ["LD_start_test", {user_count = 2, spawn_rate = 100, iterations = 3, wait_time = 0, host = "TARGET", tasks = {mode = "sequence", tasks = [{method = "get", request_url = "/yt", name = "yt", assertions = [{type = "status_code", value = 200}]}]}}],
  ["LD_summary"],
]
"#;

/// `run --json FILE`'s two result lines.
fn run(file: &Path) -> (Value, Value) {
    let (status, stdout, stderr) = run_cli(&["run", "--json", file.to_str().unwrap()], &[]);
    assert_eq!(status.code(), Some(0), "{stderr}");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    (lines[0].clone(), lines[1].clone())
}

/// What a finished test's result says that does not depend on timing.
fn timeless(started: &Value) -> Value {
    let mut kept = started.clone();
    let map = kept.as_object_mut().unwrap();
    for key in ["elapsed_s", "summary"] {
        map.remove(key);
    }
    kept
}

#[test]
fn yaml_and_toml_files_run_as_their_json_does() {
    let (_runtime, target) = Target::in_runtime();
    let dir = tempfile::tempdir().unwrap();
    let mut results = Vec::new();
    for (name, text) in [
        ("t.json", JSON),
        ("t.yaml", YAML),
        ("t.yml", YAML),
        ("t.toml", TOML),
    ] {
        let file = dir.path().join(name);
        std::fs::write(&file, text.replace("TARGET", &target.url())).unwrap();
        let (started, summary) = run(&file);
        assert_eq!(summary["totals"]["requests"], 6, "{name}: {summary}");
        assert_eq!(summary["totals"]["failures"], 0, "{name}");
        assert_eq!(summary["per_name"]["yt"]["count"], 6, "{name}");
        results.push((name, timeless(&started)));
    }
    assert_eq!(target.count("/yt"), 24);
    let (_, first) = &results[0];
    assert_eq!(first["user_count"], 2);
    for (name, result) in &results[1..] {
        assert_eq!(result, first, "{name}");
    }
}

#[test]
fn run_dir_and_execute_files_pick_every_format() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("1.json"),
        r#"[["LD_register_variable", {"name": "a", "value": 1}]]"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("2.yaml"),
        "- [LD_register_variable, {name: b, value: 2}]\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("3.yml"), "- [LD_clear_records]\n").unwrap();
    std::fs::write(
        dir.path().join("4.toml"),
        "load_density = [[\"LD_execute_files\", {execute_files_list = [\"2.yaml\"]}]]\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("5.txt"), "not an action file").unwrap();
    let out = std::process::Command::new(common::bin())
        .args(["run-dir", "--json", "."])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let headers: Vec<&str> = stderr.lines().filter(|l| l.starts_with("== ")).collect();
    assert_eq!(headers.len(), 4, "{stderr}");
    assert!(headers[3].contains("4.toml"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[2], r#"{"status":"cleared"}"#);
    // The TOML file ran the YAML file: its one result, nested.
    assert_eq!(
        lines[3],
        json!([[serde_json::from_str::<Value>(lines[1]).unwrap()]]).to_string()
    );
}

#[test]
fn yaml_and_toml_round_trip_through_a_served_agent_and_stay_confined() {
    let root = tempfile::tempdir().unwrap();
    let server = serve_in(root.path(), &[], &[]);
    let doc = json!({"load_density": [["LD_summary"], ["LD_register_variable", {"name": "no", "value": "no"}]]});
    let request = json!([
        ["LD_write_action_yaml", {"yaml_save_path": "files/a.yaml", "action_doc": doc}],
        ["LD_read_action_yaml", {"yaml_file_path": "files/a.yaml"}],
        ["LD_write_action_toml", ["files/a.toml", doc]],
        ["LD_read_action_toml", ["files/a.toml"]],
        ["LD_execute_files", {"execute_files_list": ["files/a.yaml", "files/a.toml"]}],
        ["LD_write_action_toml", {"toml_save_path": "n.toml", "action_doc": {"a": [1, null]}}],
        ["LD_write_action_yaml", {"yaml_save_path": "/tmp/ld-tower-escape.yaml", "action_doc": doc}],
        ["LD_read_action_yaml", {"yaml_file_path": "../escape.yaml"}],
    ]);
    let lines = server.legacy_lines(&request.to_string()).unwrap();
    let real = root.path().canonicalize().unwrap();
    assert_eq!(lines[0], real.join("files/a.yaml").display().to_string());
    assert_eq!(lines[1], doc.to_string());
    assert_eq!(lines[2], real.join("files/a.toml").display().to_string());
    assert_eq!(lines[3], doc.to_string());
    assert_eq!(
        std::fs::read_to_string(root.path().join("files/a.yaml")).unwrap(),
        "load_density:\n- - LD_summary\n- - LD_register_variable\n  - name: \"no\"\n    value: \"no\"\n"
    );
    let summary: Value = serde_json::from_str(&lines[4]).unwrap();
    assert_eq!(summary[0].as_array().map(Vec::len), Some(2), "{summary}");
    assert_eq!(summary[0][0]["totals"]["requests"], 0);
    assert_eq!(summary[0], summary[1]);
    assert_eq!(
        lines[5],
        "Error: LD_write_action_toml: TOML: $.a[1] is null, which TOML cannot hold (leave the key out)"
    );
    assert!(
        lines[6].contains("absolute") && lines[6].contains("--allow-any-path"),
        "{}",
        lines[6]
    );
    assert!(lines[7].contains("leads out of"), "{}", lines[7]);
    assert!(!Path::new("/tmp/ld-tower-escape.yaml").exists());
    assert!(!root.path().join("n.toml").exists());
}

/// The input of the formatter's tests, and what LoadDensity 0.0.79's
/// `format_action_string` makes of it with indent 2 and 4 (recorded from
/// `je_load_density.utils.linter.action_formatter`).
const TO_FORMAT: &str = r#"{"load_density": [["LD_start_test", {"user_count": 2, "tasks": [{"headers": {"X-A": "é"}, "name": "home", "timeout": 1.5, "request_url": "http://127.0.0.1:1/", "method": "get", "weight": 3, "assertions": []}, {"json": {}, "url": "/b", "method": "post"}]}], ["LD_summary"], ["LD_generate_html_report", {"html_name": "r"}]]}"#;

const FORMATTED_2: &str = "{\n  \"load_density\": [\n    [\n      \"LD_start_test\",\n      {\n        \"user_count\": 2,\n        \"tasks\": [\n          {\n            \"method\": \"get\",\n            \"request_url\": \"http://127.0.0.1:1/\",\n            \"name\": \"home\",\n            \"weight\": 3,\n            \"timeout\": 1.5,\n            \"headers\": {\n              \"X-A\": \"é\"\n            },\n            \"assertions\": []\n          },\n          {\n            \"method\": \"post\",\n            \"url\": \"/b\",\n            \"json\": {}\n          }\n        ]\n      }\n    ],\n    [\n      \"LD_summary\"\n    ],\n    [\n      \"LD_generate_html_report\",\n      {\n        \"html_name\": \"r\"\n      }\n    ]\n  ]\n}\n";

const FORMATTED_4: &str = "{\n    \"load_density\": [\n        [\n            \"LD_start_test\",\n            {\n                \"user_count\": 2,\n                \"tasks\": [\n                    {\n                        \"method\": \"get\",\n                        \"request_url\": \"http://127.0.0.1:1/\",\n                        \"name\": \"home\",\n                        \"weight\": 3,\n                        \"timeout\": 1.5,\n                        \"headers\": {\n                            \"X-A\": \"é\"\n                        },\n                        \"assertions\": []\n                    },\n                    {\n                        \"method\": \"post\",\n                        \"url\": \"/b\",\n                        \"json\": {}\n                    }\n                ]\n            }\n        ],\n        [\n            \"LD_summary\"\n        ],\n        [\n            \"LD_generate_html_report\",\n            {\n                \"html_name\": \"r\"\n            }\n        ]\n    ]\n}\n";

#[test]
fn format_actions_write_loaddensitys_exact_text() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("a.json"), TO_FORMAT).unwrap();
    std::fs::write(
        root.path().join("b.yaml"),
        "- [LD_start_test, {tasks: {mode: weighted, tasks: [{name: n, weight: 1, method: get, url: /x}]}}]\n",
    )
    .unwrap();
    let server = serve_in(root.path(), &[], &[]);
    let doc: Value = serde_json::from_str(TO_FORMAT).unwrap();
    let request = json!([
        ["LD_format_action_string", {"text": TO_FORMAT}],
        ["LD_format_action_string", [TO_FORMAT, 4]],
        ["LD_format_action_document", {"doc": doc}],
        ["LD_format_action_file", {"file_path": "a.json"}],
        ["LD_format_action_file", {"file_path": "b.yaml"}],
        ["LD_format_action_string", {"text": TO_FORMAT, "indent": 17}],
        ["LD_format_action_file", {"file_path": "/etc/hostname"}],
    ]);
    let lines = server.legacy_lines(&request.to_string()).unwrap();
    assert_eq!(lines.len(), 7, "{lines:?}");
    // A string result that spans lines is sent as a JSON string.
    let text = |line: &str| serde_json::from_str::<String>(line).unwrap();
    assert_eq!(text(&lines[0]), FORMATTED_2);
    assert_eq!(text(&lines[1]), FORMATTED_4);
    let ordered: Value = serde_json::from_str(FORMATTED_2).unwrap();
    assert_eq!(lines[2], serde_json::to_string(&ordered).unwrap());
    assert_eq!(text(&lines[3]), FORMATTED_2);
    assert_eq!(
        std::fs::read_to_string(root.path().join("a.json")).unwrap(),
        FORMATTED_2
    );
    // ld-tower's nested task list is ordered too; YAML stays YAML.
    let yaml = "- - LD_start_test\n  - tasks:\n      mode: weighted\n      tasks:\n      - method: get\n        url: /x\n        name: \"n\"\n        weight: 1\n";
    assert_eq!(text(&lines[4]), yaml);
    assert_eq!(
        std::fs::read_to_string(root.path().join("b.yaml")).unwrap(),
        yaml
    );
    assert_eq!(
        lines[5],
        "Error: LD_format_action_string: JSON: indent 17 is over 16"
    );
    assert!(lines[6].contains("--allow-any-path"), "{}", lines[6]);
}

/// A small YAML file of 10^12 nodes once its aliases are replayed.
fn alias_bomb() -> String {
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..12 {
        let p = i - 1;
        bomb.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    bomb
}

#[test]
fn an_alias_bomb_or_an_oversized_file_is_refused_while_the_agent_serves() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("bomb.yaml"), alias_bomb()).unwrap();
    std::fs::write(
        root.path().join("big.json"),
        format!("[{}[\"LD_summary\"]]", " ".repeat(5000)),
    )
    .unwrap();
    let server = serve_in(root.path(), &["--max-file-bytes", "4KiB"], &[]);
    let lines = server
        .legacy_lines(
            r#"[["LD_read_action_yaml", {"yaml_file_path": "bomb.yaml"}],
                ["LD_execute_files", {"execute_files_list": ["bomb.yaml"]}],
                ["LD_lint_action_file", {"path": "bomb.yaml"}],
                ["LD_lint_action_file", {"path": "big.json"}]]"#,
        )
        .unwrap();
    assert_eq!(lines.len(), 4, "{lines:?}");
    for line in &lines[..3] {
        assert!(line.starts_with("Error: LD_"), "{line}");
        assert!(
            line.contains("is not YAML") && line.contains("budget"),
            "{line}"
        );
    }
    assert!(
        lines[3].starts_with("Error: LD_lint_action_file:"),
        "{}",
        lines[3]
    );
    assert!(lines[3].contains("--max-file-bytes"), "{}", lines[3]);
    // Still serving.
    let lines = server.legacy_lines(r#"[["LD_clear_records"]]"#).unwrap();
    assert_eq!(lines, [r#"{"status":"cleared"}"#]);
}

#[test]
fn run_refuses_a_bomb_or_a_broken_file_with_exit_three() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bomb.yml");
    std::fs::write(&file, alias_bomb()).unwrap();
    let (status, stdout, stderr) = run_cli(&["run", file.to_str().unwrap()], &[]);
    assert_eq!((status.code(), stdout.as_str()), (Some(3), ""));
    assert!(
        stderr.contains("is not YAML") && stderr.contains("budget"),
        "{stderr}"
    );
    let toml = dir.path().join("x.toml");
    std::fs::write(&toml, "load_density = [").unwrap();
    let (status, _, stderr) = run_cli(&["run", toml.to_str().unwrap()], &[]);
    assert_eq!(status.code(), Some(3));
    assert!(stderr.contains("is not TOML"), "{stderr}");
}

#[test]
fn a_document_over_the_action_files_limit_is_not_written() {
    let dir = tempfile::tempdir().unwrap();
    let big = "x".repeat(16 << 20);
    let doc = json!([
        ["LD_write_action_toml", {"toml_save_path": "big.toml", "action_doc": {"load_density": [], "pad": big}}],
        ["LD_write_action_toml", {"toml_save_path": "small.toml", "action_doc": {"load_density": []}}],
    ]);
    let file = dir.path().join("write.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    let out = std::process::Command::new(common::bin())
        .args(["run", "--json", "write.json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(
        lines[0],
        format!(
            "Error: LD_write_action_toml: big.toml would hold {} bytes, over the 16 MiB an action file may hold",
            (16 << 20) + "load_density = []\npad = \"\"\n".len()
        )
    );
    assert!(!dir.path().join("big.toml").exists());
    assert!(lines[1].ends_with("small.toml"), "{}", lines[1]);
}
