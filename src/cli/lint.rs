//! `ld-tower lint FILE...`: every problem of action files, none run.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;

use super::run::read_file;
use super::{EXIT_FAILURE, EXIT_NO_INPUT};
use ld_tower::actions::{ActionContext, Registry};
use ld_tower::paths::Paths;
use ld_tower::state::State;

/// What `lint --help` says after the arguments.
const AFTER_HELP: &str = "\
Checks each action file without running it (nothing is sent, nothing written): its shape, \
every action's name (unknown ones with the closest known name; LoadDensity actions ld-tower \
does not run, with the reason), and the arguments of every action described by its \
signature, by the same types the actions parse them with (LD_start_test: its keys, their \
types, its tasks compiled as the test would, a relative URL with no host, a threshold for a \
request name no task has). Every problem is printed, one a line, as `FILE: PATH: MESSAGE`, \
PATH a JSON path such as $.load_density[0][1].tasks[2].request_url; at most 1000 per file.

Files are JSON, or YAML (*.yaml, *.yml) or TOML (*.toml) by their extension; - reads JSON \
from stdin.

Exit: 0 when every file is clean; 1 when a file has a problem; 3 when a file cannot be read \
or parsed (the others are still checked); 2 on bad usage.";

/// `ld-tower lint`'s arguments.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct LintArgs {
    /// The action files to check.
    #[arg(value_name = "FILE", required = true)]
    pub(crate) files: Vec<PathBuf>,
}

/// Runs `ld-tower lint`.
pub(super) fn run(args: &LintArgs) -> ExitCode {
    let ctx = ActionContext::new(
        Arc::new(Registry::with_builtins()),
        Arc::new(State::new(Paths::default())),
    );
    let mut unreadable = false;
    let mut problems = false;
    // A closed pipe (`| head`) ends the output, not the process.
    let mut out = std::io::stdout().lock();
    for file in &args.files {
        match read_file(file) {
            Err(message) => {
                eprintln!("ld-tower: {message}");
                unreadable = true;
            }
            Ok(source) => {
                for problem in ld_tower::lint::lint(&ctx, &source.actions, None) {
                    problems = true;
                    let _ = writeln!(out, "{}: {problem}", source.label);
                }
            }
        }
    }
    match (unreadable, problems) {
        (true, _) => ExitCode::from(EXIT_NO_INPUT),
        (false, true) => ExitCode::from(EXIT_FAILURE),
        (false, false) => ExitCode::SUCCESS,
    }
}
