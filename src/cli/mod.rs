//! The `ld-tower` command line (clap): `serve` and `send`; `run`,
//! `run-dir` and `run-str`, which run action JSON in-process; `init`.

mod actions;
mod demo;
mod duration;
mod human;
mod import;
mod init;
mod lint;
mod network;
mod policy;
mod progress;
mod run;
mod schema;
mod send;
mod serve;
mod size;
mod token_hash;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub(crate) use actions::ActionsArgs;
pub(crate) use demo::DemoArgs;
pub(crate) use init::InitArgs;
pub(crate) use lint::LintArgs;
pub(crate) use schema::SchemaArgs;

pub(crate) use run::{RunArgs, RunDirArgs, RunStrArgs};
pub(crate) use send::SendArgs;
pub(crate) use serve::ServeArgs;
pub(crate) use token_hash::TokenHashArgs;

/// ld-tower: a load-testing agent with a hardened control socket.
///
/// It speaks the wire protocol of LoadDensity's control socket
/// (`python -m je_load_density serve`), so that tool's clients keep working.
#[derive(Debug, Parser)]
#[command(name = "ld-tower", version, about, long_about)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
// Parsed once at start-up: the size of the largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// See ld-tower work on this machine alone: a local target, a short test, reports.
    Demo(DemoArgs),
    /// Serve the control socket: run action JSON sent over TCP (or TLS).
    Serve(ServeArgs),
    /// Send action JSON to a control socket and print each result line.
    Send(SendArgs),
    /// Run an action file in this process (no server) and print each result line.
    Run(RunArgs),
    /// Run every action file (*.json, *.yaml, *.yml, *.toml) of a directory, in name order,
    /// sharing one state.
    RunDir(RunDirArgs),
    /// Run action JSON given on the command line, in this process.
    RunStr(RunStrArgs),
    /// Check action files without running them: every problem, one a line, at its JSON path.
    Lint(LintArgs),
    /// Print (or write) the JSON Schema of action files, for editors.
    Schema(SchemaArgs),
    /// Create a project skeleton: a README and example action files for a local target.
    Init(InitArgs),
    /// Make an action file from a HAR recording, cURL commands, an OpenAPI description or a
    /// Postman collection.
    Import(import::ImportArgs),
    /// Read a token on stdin and print the --token-file line for it (its SHA-256), so the
    /// token is never stored in clear.
    TokenHash(TokenHashArgs),
    /// List the actions ld-tower runs, and each LoadDensity action it refuses, with why.
    Actions(ActionsArgs),
}

/// Exit code: `serve` could not start; `send` got an error line; an action
/// of `run*` failed; `init` could not create the project; `lint` found a
/// problem; `schema` could not write its file.
pub(crate) const EXIT_FAILURE: u8 = 1;

/// Exit code of `send` when the request could not be made or answered.
pub(crate) const EXIT_NO_REPLY: u8 = 3;

/// Exit code of `run*` and `lint` when an action file cannot be read or
/// parsed (the same number as [`EXIT_NO_REPLY`]: nothing ran).
pub(crate) const EXIT_NO_INPUT: u8 = 3;

/// Exit code of `run*` interrupted by SIGINT (Ctrl-C): 128 + 2.
pub(crate) const EXIT_INTERRUPTED: u8 = 130;

/// Exit code of `run*` when every action succeeded but a test's threshold failed.
pub(crate) const EXIT_THRESHOLD: u8 = 4;

/// Exit code of `run*` interrupted by SIGTERM: 128 + 15.
pub(crate) const EXIT_TERMINATED: u8 = 143;

/// Parses the command line and runs it.
pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("ld-tower: cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    // The work runs in a spawned task, not on the thread that blocks on it:
    // the accept loop then shares the workers' queues with the connections
    // it spawns, instead of handing each one across threads.
    let work = async move {
        match cli.command {
            Command::Demo(args) => demo::run(args).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Send(args) => send::run(args).await,
            Command::Run(args) => run::run_file(args).await,
            Command::RunDir(args) => run::run_dir(args).await,
            Command::RunStr(args) => run::run_str(args).await,
            Command::Init(args) => init::run(&args),
            Command::Lint(args) => lint::run(&args),
            Command::Schema(args) => schema::run(&args),
            Command::Import(args) => import::run(&args),
            Command::TokenHash(args) => token_hash::run(&args),
            Command::Actions(args) => actions::run(&args),
        }
    };
    runtime.block_on(async {
        tokio::spawn(work).await.unwrap_or_else(|error| {
            eprintln!("ld-tower: {error}");
            ExitCode::from(EXIT_FAILURE)
        })
    })
}
