//! `ld-tower schema [-o OUT]`: the action language's JSON Schema.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::EXIT_FAILURE;
use ld_tower::actions::Registry;
use ld_tower::formats::Format;

/// What `schema --help` says after the arguments.
const AFTER_HELP: &str = "\
The schema (JSON Schema draft 2020-12) describes an action document: the outer form, each \
action as [\"NAME\", {keyword args}] or [\"NAME\", [positional args]], the known names as an \
enum, and the keyword arguments of the actions ld-tower describes (LD_start_test in full, its \
HTTP tasks included), generated from the types the actions parse them with. Point an editor \
at it (VS Code: \"json.schemas\"; YAML files: a `# yaml-language-server: $schema=FILE` line) \
to complete and check action files as they are written. Stricter than the actions: a key an \
action ignores (a typo) is refused.

Exit: 0 when printed or written; 1 when OUT cannot be written; 2 on bad usage.";

/// `ld-tower schema`'s arguments.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct SchemaArgs {
    /// Write the schema to this file instead of printing it.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub(crate) output: Option<PathBuf>,
}

/// Runs `ld-tower schema`.
pub(super) fn run(args: &SchemaArgs) -> ExitCode {
    let schema = ld_tower::lint::schema::action_schema(&Registry::with_builtins(), None);
    let text = match Format::json_indented(&schema, 2) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("ld-tower: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match &args.output {
        None => {
            // A closed pipe (`| head`) ends the output, not the process.
            let mut out = std::io::stdout().lock();
            let _ = std::io::Write::write_all(&mut out, text.as_bytes());
            let _ = std::io::Write::flush(&mut out);
        }
        Some(path) => {
            if let Err(e) = std::fs::write(path, text) {
                eprintln!("ld-tower: cannot write {}: {e}", path.display());
                return ExitCode::from(EXIT_FAILURE);
            }
        }
    }
    ExitCode::SUCCESS
}
