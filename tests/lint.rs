//! Checking before running: `ld-tower lint` and `LD_lint_action(_file)`
//! find every problem of an action document at its JSON path and send
//! nothing; `ld-tower schema` and `LD_export_schema` give a JSON Schema
//! that a real draft 2020-12 validator accepts every example with and
//! refuses typos with.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use std::path::Path;

use common::target::Target;
use common::{run_cli, serve_in};
use serde_json::{json, Value};

/// A document with a problem of every kind (`TARGET`: a live target's URL).
const MANY: &str = r#"{"load_density": [
  ["LD_start_tset", {}],
  ["LD_add_package_to_executor", {"package": "os"}],
  ["LD_start_test", {
    "user_count": "ten", "spawn_rat": 3, "test_time": 1,
    "tasks": {"mode": "sequence", "tasks": [
      {"method": "get", "request_url": "/api", "name": "api"},
      {"method": "get", "request_url": "TARGET/b", "timeout": -1, "think_tim": 2},
      {"method": "get", "request_url": "TARGET/c", "headers": 3}
    ]},
    "thresholds": {"per_name": {"apj": {"p95_ms": 100}}}
  }],
  ["LD_summary", {"succes": []}],
  "LD_summary",
  ["LD_generate_html_report", {"html_name": 3}],
  ["LD_register_variable", ["host"]],
  ["LD_clear_records", {"x": 1}],
  ["LD_execute_action", {"action_list": [["LD_nope"], ["LD_list_runs", {"database_path": "h.db", "limit": -1}]]}],
  ["LD_summary", [], {}]
]}"#;

/// What `lint` prints for [`MANY`] (after `FILE: `).
const MANY_PROBLEMS: &[&str] = &[
    "$.load_density[0]: LD_start_tset: unknown action (did you mean LD_start_test?)",
    "$.load_density[1]: LD_add_package_to_executor: not supported by ld-tower (it imports a Python package into the executor so its functions become actions: arbitrary code, never on a remote-controlled agent)",
    "$.load_density[2][1].user_count: invalid type: string \"ten\", expected u64",
    "$.load_density[2][1].spawn_rat: unknown key, ignored (did you mean \"spawn_rate\"?)",
    "$.load_density[2][1].tasks.tasks[0].request_url: relative URL \"/api\" and no host (set user_detail_dict.host or variables.host)",
    "$.load_density[2][1].tasks.tasks[1].timeout: must be a positive number of seconds",
    "$.load_density[2][1].tasks.tasks[1].think_tim: unknown key, ignored (did you mean \"think_time\"?)",
    "$.load_density[2][1].tasks.tasks[2].headers: invalid type: integer `3`, expected a map",
    "$.load_density[2][1].thresholds.per_name.apj: no task of this test is named \"apj\" (did you mean \"api\"?)",
    "$.load_density[3][1].succes: unknown key (did you mean \"success\"?)",
    "$.load_density[4]: an action is [\"NAME\"], [\"NAME\", {keyword args}] or [\"NAME\", [positional args]]",
    "$.load_density[5][1].html_name: invalid type: integer `3`, expected a string",
    "$.load_density[6][1]: missing field `value`",
    "$.load_density[7][1].x: takes no arguments",
    "$.load_density[8][1].action_list[0]: LD_nope: unknown action",
    "$.load_density[8][1].action_list[1][1].limit: invalid value: integer `-1`, expected u32",
    "$.load_density[9]: LD_summary: an action is [\"NAME\"], [\"NAME\", {keyword args}] or [\"NAME\", [positional args]]",
];

/// A clean document that would load `target` (`TARGET`).
const CLEAN: &str = r#"{"load_density": [
  ["LD_register_variables", {"variables": {"host": "TARGET"}}],
  ["LD_start_test", {"user_count": 2, "spawn_rate": 10, "iterations": 3, "wait_time": 0,
    "tasks": [{"method": "get", "request_url": "/home", "name": "home"}],
    "thresholds": {"p95_ms": 1000, "per_name": {"home": {"p99_ms": 2000}}}}],
  ["LD_summary"],
  ["LD_generate_json_report", {"json_file_name": "out"}]
]}"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn lint_lists_every_problem_at_its_path_and_sends_nothing() {
    let (_runtime, target) = Target::in_runtime();
    let dir = tempfile::tempdir().unwrap();
    let many = write(
        dir.path(),
        "many.json",
        &MANY.replace("TARGET", &target.url()),
    );
    let clean = write(
        dir.path(),
        "clean.json",
        &CLEAN.replace("TARGET", &target.url()),
    );

    let (status, stdout, stderr) = run_cli(&["lint", &many], &[]);
    assert_eq!(status.code(), Some(1), "{stderr}");
    let expected: Vec<String> = MANY_PROBLEMS
        .iter()
        .map(|p| format!("{many}: {p}"))
        .collect();
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected);
    assert_eq!(stderr, "");

    let (status, stdout, stderr) = run_cli(&["lint", &clean], &[]);
    assert_eq!(
        (status.code(), stdout.as_str(), stderr.as_str()),
        (Some(0), "", "")
    );
    // Linting ran nothing: no request, no report.
    assert_eq!(target.total(), 0);
    assert!(!dir.path().join("out.json").exists());
    assert!(!Path::new("out.json").exists());
}

#[test]
fn lint_reads_yaml_and_toml_and_exits_three_on_an_unreadable_file() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = write(
        dir.path(),
        "a.yaml",
        "load_density:\n  - [LD_summary, {failurs: []}]\n  - [LD_clear_records]\n",
    );
    let toml = write(
        dir.path(),
        "b.toml",
        "load_density = [[\"LD_clear_record\"], [\"LD_summary\"]]\n",
    );
    let (status, stdout, _) = run_cli(&["lint", &yaml, &toml], &[]);
    assert_eq!(status.code(), Some(1));
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            format!("{yaml}: $.load_density[0][1].failurs: unknown key (did you mean \"failures\"?)"),
            format!("{toml}: $.load_density[0]: LD_clear_record: unknown action (did you mean LD_clear_records?)"),
        ]
    );
    let broken = write(dir.path(), "c.json", "{not json");
    let missing = dir.path().join("none.json");
    let (status, stdout, stderr) =
        run_cli(&["lint", &broken, missing.to_str().unwrap(), &yaml], &[]);
    assert_eq!(status.code(), Some(3));
    // The readable file is still checked.
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stderr.contains(&format!(
            "ld-tower: {broken} is not JSON: key must be a string"
        )),
        "{stderr}"
    );
    assert!(stderr.contains("none.json"), "{stderr}");
    let (status, _, _) = run_cli(&["lint"], &[]);
    assert_eq!(status.code(), Some(2));
}

#[test]
fn problems_past_the_limit_are_counted_not_listed() {
    let dir = tempfile::tempdir().unwrap();
    let actions: Vec<Value> = (0..1500).map(|_| json!(["LD_nothing_here"])).collect();
    let file = write(dir.path(), "big.json", &json!(actions).to_string());
    let (status, stdout, _) = run_cli(&["lint", &file], &[]);
    assert_eq!(status.code(), Some(1));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1001);
    assert_eq!(
        lines[999],
        format!("{file}: $[999]: LD_nothing_here: unknown action")
    );
    assert_eq!(
        lines[1000],
        format!("{file}: $: 500 more problem(s) not listed (the first 1000 are)")
    );
}

#[test]
fn lint_actions_over_a_served_agent_are_confined_and_send_nothing() {
    let (_runtime, target) = Target::in_runtime();
    let root = tempfile::tempdir().unwrap();
    write(root.path(), "bad.yaml", "- [LD_summary, {succes: []}]\n");
    let server = serve_in(root.path(), &[], &[]);
    let doc = json!({"load_density": [
        ["LD_start_test", {"user_count": 1, "iterations": 1, "host": target.url(),
                           "tasks": [{"method": "get", "request_url": "/x", "assertions": [{"typ": "status_code"}]}]}],
    ]});
    let request = json!([
        ["LD_lint_action", {"actions": doc}],
        ["LD_lint_action", {"actions": {"load_density": [["LD_summary"]]}, "known_commands": ["LD_summry"]}],
        ["LD_lint_action_file", {"path": "bad.yaml"}],
        ["LD_lint_action_file", {"path": "/etc/hostname"}],
        ["LD_lint_action", {"actions": 3}],
    ]);
    let lines = server.legacy_lines(&request.to_string()).unwrap();
    assert_eq!(
        lines[..3],
        [
            r#"[{"rule":"ignored","severity":"warning","message":"unknown key, ignored (did you mean \"type\"?)","location":"$.load_density[0][1].tasks[0].assertions[0].typ"},{"rule":"ignored","severity":"warning","message":"missing, assertion ignored (known: status_code, contains, not_contains, json_path, header)","location":"$.load_density[0][1].tasks[0].assertions[0].type"}]"#,
            r#"[{"rule":"unknown-command","severity":"error","message":"LD_summary: unknown action (did you mean LD_summry?)","location":"$.load_density[0]"}]"#,
            r#"[{"rule":"unknown-key","severity":"error","message":"unknown key (did you mean \"success\"?)","location":"$[0][1].succes"}]"#,
        ]
    );
    assert!(
        lines[3].starts_with("Error: LD_lint_action_file:")
            && lines[3].contains("--allow-any-path"),
        "{}",
        lines[3]
    );
    assert_eq!(
        lines[4],
        r#"[{"rule":"invalid-shape","severity":"error","message":"not an action list: expected {\"load_density\": [[\"NAME\", {...}], ...]} or [[\"NAME\", {...}], ...]","location":"$"}]"#
    );
    assert_eq!(target.total(), 0);
}

/// One test of every user kind other than HTTP's, with the tasks their
/// own tests (tests/websocket.rs, sse.rs, socket.rs, grpc.rs, redis.rs)
/// run against real servers.
const KIND_EXAMPLES: &[&str] = &[
    "tests/fixtures/kinds/websocket_user.json",
    "tests/fixtures/kinds/sse_user.json",
    "tests/fixtures/kinds/socket_user.json",
    "tests/fixtures/kinds/grpc_user.json",
    "tests/fixtures/kinds/redis_user.json",
];

/// The action documents in the repository: the fixtures (one per user
/// kind among them), the deployment examples, `ld-tower init`'s files and
/// the README's JSON blocks.
fn examples(init: &Path) -> Vec<(String, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![
        root.join("tests/fixtures/loaddensity_every_key.json"),
        root.join("tests/fixtures/loaddensity_keyword1.json"),
        root.join("deploy/kubernetes/base/fleet.json"),
        root.join("deploy/kubernetes/overlays/example/fleet.json"),
    ];
    files.extend(KIND_EXAMPLES.iter().map(|file| root.join(file)));
    let (status, _, stderr) = run_cli(&["init", init.to_str().unwrap()], &[]);
    assert!(status.success(), "{stderr}");
    for entry in std::fs::read_dir(init.join("actions")).unwrap() {
        files.push(entry.unwrap().path());
    }
    let mut docs: Vec<(String, Value)> = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            (
                f.display().to_string(),
                serde_json::from_str(&text).unwrap(),
            )
        })
        .collect();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    for (index, block) in readme.split("```json\n").skip(1).enumerate() {
        let block = block.split("```").next().unwrap();
        if let Ok(doc) = serde_json::from_str::<Value>(block) {
            if doc.get("load_density").is_some() {
                docs.push((format!("README block {index}"), doc));
            }
        }
    }
    docs
}

#[test]
fn the_schema_accepts_every_example_and_refuses_typos() {
    let (status, stdout, stderr) = run_cli(&["schema"], &[]);
    assert!(status.success(), "{stderr}");
    let schema: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let names = schema["$defs"]["Action"]["prefixItems"][0]["enum"]
        .as_array()
        .unwrap();
    for name in [
        "LD_start_test",
        "LD_lint_action",
        "LD_export_schema",
        "LD_read_action_yaml",
    ] {
        assert!(names.contains(&json!(name)), "{name}");
    }
    let validator = jsonschema::validator_for(&schema).unwrap();

    let init = tempfile::tempdir().unwrap();
    let docs = examples(&init.path().join("project"));
    assert!(docs.len() >= 14, "{}", docs.len());
    for kind in KIND_EXAMPLES {
        assert!(docs.iter().any(|(name, _)| name.ends_with(kind)), "{kind}");
    }
    for (name, doc) in &docs {
        let errors: Vec<String> = validator.iter_errors(doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{name}: {errors:?}");
        // And lint finds them clean too.
        let file = init.path().join("example.json");
        std::fs::write(&file, doc.to_string()).unwrap();
        let (status, stdout, _) = run_cli(&["lint", file.to_str().unwrap()], &[]);
        assert_eq!((status.code(), stdout.as_str()), (Some(0), ""), "{name}");
    }

    let start = |args: Value| json!({"load_density": [["LD_start_test", args]]});
    let good =
        start(json!({"user_count": 3, "tasks": [{"method": "get", "request_url": "http://h/"}]}));
    assert!(validator.is_valid(&good));
    for bad in [
        start(json!({"user_cont": 3, "tasks": []})),
        start(json!({"user_count": "ten", "tasks": []})),
        start(json!({"tasks": [{"method": "get", "request_ur": "http://h/"}]})),
        start(json!({"tasks": {"mode": "sequence", "tasks": [{"timeout": "1s"}]}})),
        json!({"load_density": [["LD_summary", {"succes": []}]]}),
        json!({"load_density": [["LD_no_such_action"]]}),
        json!({"load_densty": [["LD_summary"]]}),
        json!({"load_density": [["LD_register_variable", {"name": 3, "value": 1}]]}),
    ] {
        assert!(!validator.is_valid(&bad), "{bad}");
    }
    // Each user kind's tasks are its own, held to its own keys.
    let of = |user: Value, tasks: Value| {
        start(json!({"user_detail_dict": {"user": user}, "tasks": tasks}))
    };
    let ws_task = json!({"method": "sendrecv", "payload": "ping", "expect": "ping"});
    let http_task = json!({"method": "get", "request_url": "http://h/"});
    for good in [
        of(json!("websocket_user"), json!([ws_task])),
        of(
            json!("websocket_user"),
            json!({"mode": "sequence", "tasks": [ws_task]}),
        ),
        of(
            json!("socket_user"),
            json!([{"target": "127.0.0.1:9", "payload": "x"}]),
        ),
        of(
            json!("grpc_user"),
            json!({"mode": "weighted", "tasks": [
            {"service": "demo.Greeter", "method": "SayHello", "weight": 2, "tls": false}]}),
        ),
        of(
            json!("http_user"),
            json!({"get": {"request_url": "http://h/"}}),
        ),
        of(Value::Null, json!([http_task])),
        start(json!({"user_detail_dict": {"host": "http://h"}, "tasks": [http_task]})),
        start(
            json!({"tasks": [http_task], "thresholds": {"p95_ms": 0, "failure_rate": 0.5,
            "per_name": {"home": {"p99_ms": 2000, "min_rps": null}}}}),
        ),
    ] {
        let errors: Vec<String> = validator
            .iter_errors(&good)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{good}: {errors:?}");
    }
    // Refused, with every error (the ones under the document's `oneOf`
    // of forms included).
    let refused = |doc: &Value| -> String {
        assert!(!validator.is_valid(doc), "accepted: {doc}");
        let evaluation = validator.evaluate(doc);
        let errors: Vec<String> = evaluation.iter_errors().map(|e| e.to_string()).collect();
        errors.join("; ")
    };
    // A websocket step with a typo'd key.
    let typo = refused(&of(
        json!("websocket_user"),
        json!([{"method": "send", "paylod": "x"}]),
    ));
    assert!(typo.contains("paylod"), "{typo}");
    // An HTTP task with a websocket-only key, with the user absent or named.
    for user in [None, Some("fast_http_user"), Some("http_user")] {
        let mut task = http_task.clone();
        task["binary"] = json!(true);
        let doc = match user {
            None => start(json!({"tasks": [task]})),
            Some(user) => of(json!(user), json!([task])),
        };
        assert!(refused(&doc).contains("binary"), "{doc}");
    }
    // An HTTP task under another kind, and the legacy method map there.
    let post = json!({"method": "post", "request_url": "http://h/", "json": {"a": 1}});
    assert!(refused(&of(json!("sse_user"), json!([post]))).contains("json"));
    refused(&of(json!("redis_user"), json!({"get": {"key": "k"}})));
    refused(&of(
        json!("socket_user"),
        json!([{"address": "127.0.0.1:9", "payload": "x"}]),
    ));
    refused(&of(json!("websocket_user"), json!([])));
    refused(&of(
        json!("websocket_user"),
        json!({"mode": "weighted", "tasks": [ws_task]}),
    ));
    // An unknown user kind: refused with the kinds ld-tower runs.
    let unknown = refused(&of(json!("mqtt_user"), json!([ws_task])));
    assert!(
        unknown.contains("/user_detail_dict/user: \"mqtt_user\" is not one of \"fast_http_user\""),
        "{unknown}"
    );
    let kinds = json!([
        "fast_http_user",
        "http_user",
        "websocket_user",
        "socket_user",
        "sse_user",
        "grpc_user",
        "redis_user",
        null
    ]);
    assert_eq!(enums_with(&schema, "websocket_user"), vec![&kinds]);
    refused(&of(json!(3), json!([http_task])));
    // Thresholds: a typo'd metric, a negative limit, a per_name in a per_name.
    for (thresholds, error) in [
        (
            json!({"p95": 100}),
            "/thresholds: Additional properties are not allowed ('p95' was unexpected)",
        ),
        (
            json!({"p95_ms": -1}),
            "/thresholds/p95_ms: -1 is less than the minimum of 0",
        ),
        (
            json!({"per_name": {"home": {"failure_rate": -0.5}}}),
            "/thresholds/per_name/home/failure_rate: -0.5 is less than the minimum of 0",
        ),
        (
            json!({"per_name": {"home": {"p42_ms": 1}}}),
            "('p42_ms' was unexpected)",
        ),
        (
            json!({"per_name": {"home": {"per_name": {}}}}),
            "('per_name' was unexpected)",
        ),
        (
            json!({"p95_ms": "100"}),
            "/thresholds/p95_ms: \"100\" is not of types (null, number)",
        ),
    ] {
        let errors = refused(&start(
            json!({"tasks": [http_task], "thresholds": thresholds}),
        ));
        assert!(errors.contains(error), "{errors}");
    }
}

/// The `enum`s of `schema` that list `value`.
fn enums_with<'a>(schema: &'a Value, value: &str) -> Vec<&'a Value> {
    match schema {
        Value::Object(map) => map
            .iter()
            .flat_map(|(key, v)| match (key.as_str(), v) {
                ("enum", Value::Array(items)) if items.contains(&json!(value)) => vec![v],
                _ => enums_with(v, value),
            })
            .collect(),
        Value::Array(items) => items.iter().flat_map(|v| enums_with(v, value)).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn the_schema_is_written_where_asked_and_confined_when_served() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("schema.json");
    let (status, printed, _) = run_cli(&["schema"], &[]);
    assert!(status.success());
    let (status, stdout, _) = run_cli(&["schema", "-o", out.to_str().unwrap()], &[]);
    assert_eq!((status.code(), stdout.as_str()), (Some(0), ""));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), printed);
    let (status, _, stderr) = run_cli(
        &[
            "schema",
            "-o",
            dir.path().join("no/such/dir/x").to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(status.code(), Some(1), "{stderr}");

    let root = tempfile::tempdir().unwrap();
    let server = serve_in(root.path(), &[], &[]);
    let lines = server
        .legacy_lines(
            r#"[["LD_export_schema", {"path": "editor/schema.json"}],
                ["LD_export_schema", {"known_commands": ["LD_summary"]}],
                ["LD_export_schema", ["/tmp/ld-tower-lint-schema.json"]]]"#,
        )
        .unwrap();
    let written = root.path().join("editor/schema.json");
    assert_eq!(lines[0], written.display().to_string());
    assert_eq!(std::fs::read_to_string(&written).unwrap(), printed);
    let only: Value = serde_json::from_str(&lines[1]).unwrap();
    assert_eq!(
        only["$defs"]["Action"]["prefixItems"][0]["enum"],
        json!(["LD_summary"])
    );
    assert!(
        lines[2].starts_with("Error: LD_export_schema:") && lines[2].contains("absolute"),
        "{}",
        lines[2]
    );
    assert!(!Path::new("/tmp/ld-tower-lint-schema.json").exists());
}

#[test]
fn help_explains_lint_and_schema() {
    let (_, top, _) = run_cli(&["--help"], &[]);
    assert!(top.contains("lint") && top.contains("schema"), "{top}");
    let (_, help, _) = run_cli(&["lint", "--help"], &[]);
    for needle in ["FILE: PATH: MESSAGE", "Exit: 0", "1 when", "3 when", "YAML"] {
        assert!(help.contains(needle), "{needle}: {help}");
    }
    let (_, help, _) = run_cli(&["schema", "--help"], &[]);
    assert!(
        help.contains("2020-12") && help.contains("-o, --output"),
        "{help}"
    );
}

#[test]
fn a_reader_that_stops_early_ends_the_output_not_in_a_panic() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    // As `ld-tower schema | head -c 100` does: read a little, close the pipe.
    let mut child = Command::new(common::bin())
        .arg("schema")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ld-tower schema");
    let mut first = [0u8; 100];
    child
        .stdout
        .take()
        .expect("stdout")
        .read_exact(&mut first)
        .expect("the schema's first bytes");
    assert!(first.starts_with(b"{\n  \"$schema\""));
    let output = child.wait_with_output().expect("exit");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
}
