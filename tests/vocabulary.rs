//! LoadDensity's whole action vocabulary answered (issue 14, point 7):
//! every name it registers is run by ld-tower or refused with a reason,
//! through `run` and `serve`, and the README's table is what `ld-tower
//! actions --markdown` prints.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::{bin, serve};
use ld_tower::actions::vocabulary::{self, Answer, LOADDENSITY_ACTIONS, PYTHON_BUILTINS};
use ld_tower::actions::Registry;
use serde_json::json;

#[test]
fn every_name_loaddensity_runs_is_registered_and_every_refused_one_is_not() {
    let registry = Registry::with_builtins();
    for (name, answer) in LOADDENSITY_ACTIONS {
        match answer {
            Answer::Supported => assert!(registry.contains(name), "{name} is not registered"),
            Answer::Refused(why) => {
                assert!(!registry.contains(name), "{name} is refused yet registered");
                assert!(why.len() > 20, "{name}: a reason, not a word: {why}");
            }
        }
    }
    for name in PYTHON_BUILTINS {
        assert!(!registry.contains(name));
        assert!(vocabulary::refusal(name).is_some());
    }
}

/// The README's section between its markers.
fn readme_table() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .expect("README.md");
    let start = "<!-- actions table: `ld-tower actions --markdown` -->\n";
    let end = "<!-- end of actions table -->";
    let from = readme.find(start).expect("the table's start marker") + start.len();
    let to = readme[from..].find(end).expect("the table's end marker") + from;
    readme[from..to].trim_end_matches('\n').to_owned() + "\n"
}

#[test]
fn the_readme_table_is_what_ld_tower_actions_prints() {
    let out = Command::new(bin())
        .args(["actions", "--markdown"])
        .output()
        .expect("ld-tower actions");
    assert_eq!(out.status.code(), Some(0));
    let printed = String::from_utf8(out.stdout).expect("utf-8");
    assert!(
        printed.starts_with("LoadDensity 0.0.79 has 149 actions"),
        "{printed}"
    );
    assert!(
        printed.contains(
            "| `LD_add_package_to_executor` | not supported: it imports a Python package"
        ),
        "{printed}"
    );
    assert!(printed.contains("| `LD_start_test` | runs it (scope `run`) |"));
    assert_eq!(
        readme_table(),
        printed,
        "README.md's actions table is stale: paste `ld-tower actions --markdown` between its markers"
    );
}

fn refused_line(name: &str) -> String {
    let why = vocabulary::refusal(name).expect("a refused name");
    format!("Error: {name}: not supported by ld-tower ({why})")
}

#[test]
fn run_answers_refused_unknown_and_misspelt_names_and_runs_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("actions.json");
    let actions = json!({"load_density": [
        ["LD_add_package_to_executor", {"package": "os"}],
        ["LD_post_slack_summary", {"webhook_url": "http://127.0.0.1:1/"}],
        ["print", ["hello"]],
        ["LD_strat_test", {}],
        ["LD_genrate_json_report", {}],
        ["LD_nope", {}],
        ["LD_clear_records"]
    ]});
    std::fs::write(&file, actions.to_string()).unwrap();
    let out = Command::new(bin())
        .args(["run", "--json"])
        .arg(&file)
        .output()
        .expect("ld-tower run");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            refused_line("LD_add_package_to_executor").as_str(),
            refused_line("LD_post_slack_summary").as_str(),
            refused_line("print").as_str(),
            "Error: LD_strat_test: unknown action (did you mean LD_start_test?)",
            "Error: LD_genrate_json_report: unknown action (did you mean LD_generate_json_report?)",
            "Error: LD_nope: unknown action",
            r#"{"status":"cleared"}"#,
        ]
    );
}

#[test]
fn serve_answers_every_refused_name_byte_for_byte_and_keeps_serving() {
    let server = serve(&[]);
    let refused: Vec<&str> = LOADDENSITY_ACTIONS
        .iter()
        .filter(|(_, answer)| matches!(answer, Answer::Refused(_)))
        .map(|(name, _)| *name)
        .chain(PYTHON_BUILTINS.iter().copied())
        .collect();
    let request: Vec<_> = refused.iter().map(|name| json!([name, {}])).collect();
    let request = json!({"load_density": request}).to_string();
    let mut want: String = refused
        .iter()
        .map(|name| refused_line(name) + "\n")
        .collect();
    want.push_str("Return_Data_Over_JE\n");
    assert_eq!(server.legacy(&request), want);
    // A long unknown name is answered without a suggestion search.
    let long = format!("LD_start_test{}", "x".repeat(100_000));
    let reply = server.legacy(&json!([[long, {}]]).to_string());
    assert_eq!(
        reply,
        format!("Error: {long}: unknown action\nReturn_Data_Over_JE\n")
    );
    assert_eq!(
        server.legacy(r#"[["LD_clear_records"]]"#),
        "{\"status\":\"cleared\"}\nReturn_Data_Over_JE\n"
    );
}
