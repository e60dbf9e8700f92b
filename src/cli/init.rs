//! `ld-tower init PATH`: a project skeleton, as LoadDensity's `init` makes
//! one: a README and example action files that run unchanged against a local
//! target (`python3 -m http.server 8000` in the project directory).

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use serde_json::{json, Value};

use super::EXIT_FAILURE;

/// Where the examples send their requests.
pub(super) const LOCAL_TARGET: &str = "http://127.0.0.1:8000";

/// `ld-tower init`'s arguments.
#[derive(Debug, Args)]
#[command(
    after_help = "Creates PATH/README.md and PATH/actions/ with three example action \
files (a smoke test, a weighted scenario, an exact request count), all aimed at \
http://127.0.0.1:8000 through the variable `host` each file registers. Start that target with \
`python3 -m http.server 8000` in PATH, then `ld-tower run-dir PATH/actions`.\n\
Exit: 0 when the project was created; 1 when PATH exists and is not an empty directory, or a \
file cannot be written; 2 on bad usage."
)]
pub(crate) struct InitArgs {
    /// The project directory to create; it may exist if it is empty.
    #[arg(value_name = "PATH")]
    pub(crate) path: PathBuf,
}

/// Runs `ld-tower init`.
pub(super) fn run(args: &InitArgs) -> ExitCode {
    match create(&args.path) {
        Ok(files) => {
            let mut out = std::io::stdout().lock();
            for file in files {
                let _ = writeln!(out, "created {}", file.display());
            }
            let _ = writeln!(
                out,
                "next: cd {} && python3 -m http.server 8000, then in another terminal: \
                 ld-tower run-dir {}",
                args.path.display(),
                args.path.join("actions").display()
            );
            let _ = out.flush();
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("ld-tower: {message}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// The files of a new project: path relative to it, then content.
pub(super) fn files() -> Vec<(&'static str, String)> {
    let pretty = |value: Value| {
        let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
        text.push('\n');
        text
    };
    vec![
        ("README.md", readme()),
        ("actions/01_smoke.json", pretty(smoke())),
        ("actions/02_scenario.json", pretty(scenario())),
        ("actions/03_exact_count.json", pretty(exact_count())),
    ]
}

fn create(root: &Path) -> Result<Vec<PathBuf>, String> {
    let shown = root.display();
    match std::fs::read_dir(root) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(format!(
                    "{shown} exists and is not empty: give a new or empty directory"
                ));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(_) if root.exists() => {
            return Err(format!(
                "{shown} exists and is not a directory: give a new or empty directory"
            ))
        }
        Err(e) => return Err(format!("cannot read {shown}: {e}")),
    }
    let actions = root.join("actions");
    std::fs::create_dir_all(&actions)
        .map_err(|e| format!("cannot create {}: {e}", actions.display()))?;
    let mut created = Vec::new();
    for (name, content) in files() {
        let path = root.join(name);
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut file| file.write_all(content.as_bytes()))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        created.push(path);
    }
    Ok(created)
}

/// Registers the target's address as `${var.host}` (a task's relative URL
/// would be relative to it too).
fn register_host() -> Value {
    json!(["LD_register_variables", {"variables": {"host": LOCAL_TARGET}}])
}

fn status_200() -> Value {
    json!({"type": "status_code", "value": 200})
}

/// A few users for a few seconds on one page, each answer checked.
fn smoke() -> Value {
    json!({"load_density": [
        register_host(),
        ["LD_start_test", {
            "user_detail_dict": {"user": "fast_http_user"},
            "user_count": 5,
            "spawn_rate": 5,
            "test_time": 3,
            "tasks": [
                {"method": "get", "request_url": "${var.host}/", "name": "home",
                 "assertions": [status_200()]}
            ]
        }],
        ["LD_summary", {}]
    ]})
}

/// Users picking pages by weight, with a random pause between picks.
fn scenario() -> Value {
    json!({"load_density": [
        register_host(),
        ["LD_start_test", {
            "user_detail_dict": {"user": "fast_http_user"},
            "user_count": 10,
            "spawn_rate": 5,
            "test_time": 5,
            "wait_time": [0.1, 0.5],
            "tasks": {"mode": "weighted", "tasks": [
                {"method": "get", "request_url": "${var.host}/", "name": "home", "weight": 6,
                 "assertions": [status_200()]},
                {"method": "get", "request_url": "${var.host}/README.md", "name": "readme",
                 "weight": 3,
                 "assertions": [status_200(), {"type": "contains", "value": "ld-tower"}]},
                {"method": "get", "request_url": "${var.host}/actions/", "name": "actions",
                 "weight": 1,
                 "assertions": [status_200(), {"type": "contains", "value": "01_smoke.json"}]}
            ]}
        }],
        ["LD_summary", {}]
    ]})
}

/// An exact number of requests: 4 users, 25 iterations each, no pause.
fn exact_count() -> Value {
    json!({"load_density": [
        ["LD_clear_records", {}],
        register_host(),
        ["LD_start_test", {
            "user_detail_dict": {"user": "fast_http_user"},
            "user_count": 4,
            "spawn_rate": 4,
            "test_time": 60,
            "iterations": 25,
            "wait_time": 0,
            "tasks": [
                {"method": "get", "request_url": "${var.host}/", "name": "home",
                 "assertions": [status_200()]}
            ]
        }],
        ["LD_summary", {}]
    ]})
}

fn readme() -> String {
    format!(
        r#"# A load-testing project for ld-tower

The files in `actions/` are action JSON, as LoadDensity (`je_load_density`)
reads it; ld-tower runs them unchanged. Each registers the variable `host`
(`{LOCAL_TARGET}`) and sends its requests to `${{var.host}}/...`: change that
one value to aim a file elsewhere.

## Start a local target

In this directory (the examples ask for `/`, `/README.md` and `/actions/`):

    python3 -m http.server 8000

## Run the examples

In another terminal, in this directory:

    ld-tower run actions/01_smoke.json    # one file
    ld-tower run-dir actions              # every file, in name order, sharing one state
    ld-tower run-str '{{"load_density": [["LD_summary", {{}}]]}}'

Each action prints one result line on stdout (a failed one as
`Error: MESSAGE`). While a test runs in a terminal, a live line on stderr
shows its progress; Ctrl-C stops the test and still prints its results.
Exit codes: 0 all succeeded, 1 an action failed, 3 a file could not be read
or is not JSON, 130 interrupted.

- `01_smoke.json`: 5 users for 3 seconds on `/`, each answer checked for
  status 200, then `LD_summary`.
- `02_scenario.json`: 10 users for 5 seconds picking pages by weight (6:3:1),
  pausing 0.1 to 0.5 s between picks, checking status and content.
- `03_exact_count.json`: 4 users making 25 iterations each, no pause: exactly
  100 requests (`LD_summary`'s `totals.requests`). It clears the records
  first, so under `run-dir` its summary counts its own requests only.

The action vocabulary and the task keys (`method`, `request_url`, `name`,
`assertions`, `extract`, `weight`, ...) are those of LoadDensity; `ld-tower
--help` lists the commands.
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ld_tower::engine::Scenario;

    /// Every example's tasks parse as ld-tower's scenarios.
    #[test]
    fn the_examples_parse() {
        for (name, content) in files().into_iter().filter(|(n, _)| n.ends_with(".json")) {
            let value: Value = serde_json::from_str(&content).expect(name);
            let list = value["load_density"].as_array().expect(name);
            let start = list
                .iter()
                .find(|a| a[0] == "LD_start_test")
                .expect("an LD_start_test");
            Scenario::parse(&start[1]["tasks"]).expect(name);
            assert!(content.contains("${var.host}"), "{name}");
        }
    }
}
