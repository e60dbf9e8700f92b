//! `ld-tower actions`: every action this agent runs, with the scope a
//! principal needs for it, and every LoadDensity action name it does not
//! run, with the reason (the README's table is its `--markdown` output).

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use clap::Args;

use ld_tower::actions::vocabulary::{self, Answer, PYTHON_BUILTINS};
use ld_tower::actions::Registry;

/// `ld-tower actions`'s flags.
#[derive(Debug, Args)]
#[command(
    after_help = "Lists the actions `serve` and `run` run, each with the scope a \
principal needs (see --token-file), then each of LoadDensity's action names that ld-tower \
does not run, with why. Calling one of those gets `Error: NAME: not supported by ld-tower \
(why)`; a name neither knows gets `unknown action`, with the closest known name."
)]
pub(crate) struct ActionsArgs {
    /// Print the tables as Markdown (the README's "LoadDensity's actions" section).
    #[arg(long)]
    pub(crate) markdown: bool,
}

/// Runs `ld-tower actions`.
pub(super) fn run(args: &ActionsArgs) -> ExitCode {
    let registry = Registry::with_builtins();
    let text = if args.markdown {
        markdown(&registry)
    } else {
        plain(&registry)
    };
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
    ExitCode::SUCCESS
}

/// How ld-tower answers `name`: the scope that runs it, or the refusal.
fn answer(registry: &Registry, name: &str) -> Result<&'static str, &'static str> {
    match registry.scope_of(name) {
        Some(scope) => Ok(scope.as_str()),
        None => Err(vocabulary::refusal(name).unwrap_or("not built with this binary's features")),
    }
}

fn plain(registry: &Registry) -> String {
    let mut text = String::new();
    let names = registry.names();
    let _ = writeln!(
        text,
        "Actions ld-tower runs ({}), with their scope:",
        names.len()
    );
    let width = names.iter().map(|n| n.len()).max().unwrap_or(0);
    for name in &names {
        let scope = registry.scope_of(name).map_or("?", |s| s.as_str());
        let origin = match vocabulary::answer(name) {
            Some(_) => "",
            None => "  (ld-tower's own)",
        };
        let _ = writeln!(text, "  {name:width$}  {scope}{origin}");
    }
    let refused: Vec<(&str, &str)> = vocabulary::LOADDENSITY_ACTIONS
        .iter()
        .filter_map(|(name, _)| answer(registry, name).err().map(|why| (*name, why)))
        .collect();
    let _ = writeln!(
        text,
        "\nLoadDensity actions ld-tower does not run ({}):",
        refused.len()
    );
    for (name, why) in refused {
        let _ = writeln!(text, "  {name}: {why}");
    }
    let _ = writeln!(
        text,
        "\nLoadDensity's executor also runs these Python builtins; ld-tower does not (it runs \
         no Python):\n  {}",
        PYTHON_BUILTINS.join(", ")
    );
    text
}

fn markdown(registry: &Registry) -> String {
    let mut rows: Vec<&str> = vocabulary::LOADDENSITY_ACTIONS
        .iter()
        .map(|(name, _)| *name)
        .collect();
    rows.sort_unstable();
    let supported = rows
        .iter()
        .filter(|name| answer(registry, name).is_ok())
        .count();
    let mut text = String::new();
    let _ = writeln!(
        text,
        "LoadDensity 0.0.79 has {} actions: ld-tower runs {supported} and refuses {}, \
         each with its reason.\n",
        rows.len(),
        rows.len() - supported
    );
    let _ = writeln!(text, "| LoadDensity action | ld-tower |\n|---|---|");
    for name in rows {
        let cell = match answer(registry, name) {
            Ok(scope) => format!("runs it (scope `{scope}`)"),
            Err(why) => format!("not supported: {}", why.replace('|', "\\|")),
        };
        let _ = writeln!(text, "| `{name}` | {cell} |");
    }
    let builtins: Vec<String> = PYTHON_BUILTINS.iter().map(|b| format!("`{b}`")).collect();
    let _ = writeln!(
        text,
        "| {} | not supported: {} |",
        builtins.join(" "),
        vocabulary::refusal("print").unwrap_or_default()
    );
    let own: Vec<&str> = registry
        .names()
        .into_iter()
        .filter(|name| !matches!(vocabulary::answer(name), Some(Answer::Supported)))
        .collect();
    let _ = writeln!(
        text,
        "\nld-tower's own actions, which LoadDensity does not have:\n\n\
         | Action | Scope |\n|---|---|"
    );
    for name in own {
        let scope = registry.scope_of(name).map_or("?", |s| s.as_str());
        let _ = writeln!(text, "| `{name}` | `{scope}` |");
    }
    text
}
