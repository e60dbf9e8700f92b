//! `ld-tower run FILE`, `run-dir DIR` and `run-str JSON`: action JSON run in
//! this process on a fresh [`Control`] (no server), each result line printed
//! as `ld-tower send` prints it on a pipe, or for a person on a terminal (a
//! short line per action, then the summary: [`super::human`]); a live
//! progress line on a terminal; Ctrl-C or SIGTERM stops the running test
//! and its results still print.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use clap::Args;
use serde_json::Value;
use tokio::task::JoinHandle;

use super::human;
use super::network::NetworkArgs;
use super::policy::PolicyArgs;
use super::progress::{Line, Progress};
use super::{EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_NO_INPUT, EXIT_TERMINATED, EXIT_THRESHOLD};
use ld_tower::actions::Registry;
use ld_tower::control::Control;
use ld_tower::engine::{self, Descriptors, EngineLimits};
use ld_tower::formats::Format;
use ld_tower::paths::Paths;
use ld_tower::protocol::{Reply, END};
use ld_tower::resolver::EnvPolicy;
use ld_tower::state::State;

/// What `run`, `run-dir` and `run-str` share in `--help`.
const AFTER_HELP: &str = "\
Output: on a pipe (or with --json), one line per action on stdout, as `ld-tower send` prints \
them: a string result as its raw text, any other result as compact JSON, a failed action as \
`Error: MESSAGE`; a failed threshold is also said on stderr. On a terminal (or with --summary), \
for a person: one line per action (`NAME: RESULT` when it fits the width, else its size; errors \
as they are), then, when a load test ran, the summary `demo` prints: totals, one row per \
request name, each threshold passed or FAILED. Paths in actions (CSV sources, action files) \
are relative to the working directory.

Progress: while a load test runs and stderr is a terminal, one live line on stderr shows \
elapsed/total time, users, requests, requests per second, p95 latency and failures; it is cleared \
when the test ends. It fits the terminal's width: the bar goes first, then whole fields (p95, \
users, rps, failures, requests in that order), never a number cut. Never drawn on a pipe or with \
--no-progress.

Ctrl-C (SIGINT) or SIGTERM: the running test stops early, its figures are kept, and the results \
of the action list still print (a test started after that stops at once; run-dir starts no \
further file). A second Ctrl-C quits at once.

Exit: 0 when every action succeeded; 1 when an action failed (or the JSON is not an action \
list); 4 when every action succeeded but a test's threshold failed (LD_start_test's \
`thresholds`); --exit-code-on-error (default 1) when every action succeeded, no threshold \
failed, but a test that set no thresholds had failed requests (Locust's rule: a dead target \
fails CI); 2 on bad usage; 3 when an action file cannot be read or parsed (JSON, YAML, TOML), or a \
--ca-file holds no usable certificate (nothing ran); 130 after Ctrl-C (SIGINT) and 143 after SIGTERM, whatever the results.";

/// What every `run*` subcommand takes.
#[derive(Debug, Args)]
pub(crate) struct RunOptions {
    /// Never draw the live progress line (it is drawn only when stderr is a terminal).
    #[arg(long)]
    pub(crate) no_progress: bool,

    /// Fail LD_start_test when its arguments hold a key ld-tower does not use (an unknown
    /// keyword, a typo such as user_cont), instead of running the test and noting the key in
    /// the result's `notes` and on stderr. For CI.
    #[arg(long)]
    pub(crate) strict: bool,

    /// Print JSON lines, one per action as `ld-tower send` prints them, even on a terminal
    /// (they are the default on a pipe).
    #[arg(long = "json", conflicts_with = "summary")]
    pub(crate) json_lines: bool,

    /// Print for a person even on a pipe (the default on a terminal): one short line per
    /// action, then the summary `demo` prints: totals, one row per request name, each
    /// threshold passed or FAILED.
    #[arg(long)]
    pub(crate) summary: bool,

    /// The exit code when a test that set no thresholds had failed requests (and nothing
    /// else failed), as Locust's --exit-code-on-error; 0 lets such a run pass. A test with
    /// thresholds is judged by them alone.
    #[arg(long, value_name = "CODE", default_value_t = 1)]
    pub(crate) exit_code_on_error: u8,

    /// How load tests reach their targets.
    #[command(flatten)]
    pub(crate) network: NetworkArgs,

    /// What load tests may reach and ask for: nothing is refused unless these say so.
    #[command(flatten)]
    pub(crate) policy: PolicyArgs,
}

/// `ld-tower run`'s arguments.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct RunArgs {
    /// The action file: {"load_density": [["NAME", {...}], ...]} or the bare list [...], in
    /// JSON, or YAML when named *.yaml/*.yml, TOML when named *.toml; - reads JSON from stdin.
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,

    /// Shared flags.
    #[command(flatten)]
    pub(crate) options: RunOptions,
}

/// `ld-tower run-dir`'s arguments.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct RunDirArgs {
    /// The directory: each of its *.json, *.yaml, *.yml and *.toml files runs in name order, all on one state (variables,
    /// records), as LoadDensity's run-dir does; a `== FILE ==` line on stderr precedes each
    /// file's results. Every file is read and parsed before any runs.
    #[arg(value_name = "DIR")]
    pub(crate) dir: PathBuf,

    /// Shared flags.
    #[command(flatten)]
    pub(crate) options: RunOptions,
}

/// `ld-tower run-str`'s arguments.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct RunStrArgs {
    /// The action JSON itself, e.g. '{"load_density": [["LD_summary", {}]]}'.
    #[arg(value_name = "JSON")]
    pub(crate) json: String,

    /// Shared flags.
    #[command(flatten)]
    pub(crate) options: RunOptions,
}

/// One action list to run, with what names it in messages.
#[derive(Debug)]
pub(super) struct Source {
    /// The file's name as given (`stdin`, `the JSON argument`).
    pub(super) label: String,
    /// Its document.
    pub(super) actions: Value,
}

/// Why nothing ran: one line for stderr.
pub(super) type NoInput = String;

fn parse(label: &str, bytes: &[u8], format: Format) -> Result<Source, NoInput> {
    format
        .parse(bytes)
        .map(|actions| Source {
            label: label.to_owned(),
            actions,
        })
        .map_err(|e| format!("{label} is not {e}"))
}

/// The action document of the file at `path` (`-`: stdin, JSON), in the
/// format its extension says ([`Format::of_path`]).
pub(super) fn read_file(path: &Path) -> Result<Source, NoInput> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| format!("cannot read the actions from stdin: {e}"))?;
        return parse("stdin", &bytes, Format::Json);
    }
    let label = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {label}: {e}"))?;
    parse(&label, &bytes, Format::of_path(path))
}

/// The extensions `run-dir` picks.
const ACTION_FILE_EXTENSIONS: &[&str] = &["json", "yaml", "yml", "toml"];

fn read_dir(dir: &Path) -> Result<Vec<Source>, NoInput> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut paths = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .path();
        let picked = path
            .extension()
            .and_then(|ext| ext.to_str())
            .is_some_and(|ext| ACTION_FILE_EXTENSIONS.contains(&ext));
        if picked && path.is_file() {
            paths.push(path);
        }
    }
    if paths.is_empty() {
        return Err(format!(
            "{} holds no action file (*.json, *.yaml, *.yml, *.toml)",
            dir.display()
        ));
    }
    paths.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    paths.iter().map(|path| read_file(path)).collect()
}

/// Runs `ld-tower run`.
pub(super) async fn run_file(args: RunArgs) -> ExitCode {
    match read_file(&args.file) {
        Ok(source) => execute(vec![source], false, &args.options).await,
        Err(message) => no_input(&message),
    }
}

/// Runs `ld-tower run-dir`.
pub(super) async fn run_dir(args: RunDirArgs) -> ExitCode {
    match read_dir(&args.dir) {
        Ok(sources) => execute(sources, true, &args.options).await,
        Err(message) => no_input(&message),
    }
}

/// Runs `ld-tower run-str`.
pub(super) async fn run_str(args: RunStrArgs) -> ExitCode {
    match parse("the JSON argument", args.json.as_bytes(), Format::Json) {
        Ok(source) => execute(vec![source], false, &args.options).await,
        Err(message) => no_input(&message),
    }
}

fn no_input(message: &str) -> ExitCode {
    eprintln!("ld-tower: {message}");
    ExitCode::from(EXIT_NO_INPUT)
}

/// Runs `sources` in order on one control, printing their results.
async fn execute(sources: Vec<Source>, headers: bool, options: &RunOptions) -> ExitCode {
    let network = match options.network.network() {
        Ok(network) => network.with_policy(options.policy.targets(false)),
        Err(message) => return no_input(&message),
    };
    // The engine's connections stay below the open-file limit, less what
    // files need (no control socket here, and no memory limit: the person
    // running it owns the machine).
    let limits = EngineLimits {
        max_memory: None,
        descriptors: Arc::new(Descriptors::under_limit(engine::raise_open_file_limit(), 0)),
    };
    // Keys LD_start_test ignores are said on stderr, one line each.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("ld_tower::spec=warn"))
        .with_writer(std::io::stderr)
        .without_time()
        .with_level(false)
        .with_target(false)
        .try_init();
    let paths = Paths::default().with_max_file_bytes(options.policy.max_file_bytes(false));
    let state = State::new(paths)
        .with_env(EnvPolicy::All)
        .with_network(network)
        .with_engine_limits(limits)
        .with_caps(options.policy.caps(false))
        .with_observers(options.policy.observers(false))
        .with_strict(options.strict);
    let control = Control::with_state(Registry::with_builtins(), state);
    let line = Line::default();
    let signals = match Signals::watch(Arc::clone(control.state()), line.clone()) {
        Ok(signals) => signals,
        Err(message) => {
            eprintln!("ld-tower: {message}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let progress = !options.no_progress && std::io::stderr().is_terminal();
    let human = options.summary || (!options.json_lines && std::io::stdout().is_terminal());
    let mut failed = false;
    for source in &sources {
        if signals.received().is_some() {
            break;
        }
        if headers {
            line.note(&format!("== {} ==", source.label));
        }
        let polling = Progress::start(Arc::clone(control.state()), line.clone(), progress);
        let reply = control.run(&source.actions).await;
        polling.finish().await;
        failed |= reply.failures() > 0;
        if human {
            print_for_a_person(&source.actions, &reply);
        } else {
            print(&reply);
        }
    }
    let received = signals.received();
    signals.stop();
    if human {
        print_summary(control.state());
    } else {
        note_failed_thresholds(control.state());
    }
    match received {
        Some(Signal::Interrupt) => ExitCode::from(EXIT_INTERRUPTED),
        Some(Signal::Terminate) => ExitCode::from(EXIT_TERMINATED),
        None if failed => ExitCode::from(EXIT_FAILURE),
        None if control.state().thresholds_failed() => ExitCode::from(EXIT_THRESHOLD),
        None if control.state().unguarded_failures() => ExitCode::from(options.exit_code_on_error),
        None => ExitCode::SUCCESS,
    }
}

/// Writes the reply's result lines (not its terminator) to stdout.
fn print(reply: &Reply) {
    let mut out = std::io::stdout().lock();
    for piece in reply.pieces().iter().filter(|piece| piece.as_ref() != END) {
        let _ = out.write_all(piece);
    }
    let _ = out.flush();
}

/// Writes one short line per action of the reply to stdout (see
/// [`human::write_results`]), fitting the terminal's width.
fn print_for_a_person(actions: &Value, reply: &Reply) {
    let width = console::Term::stdout()
        .size_checked()
        .map_or(HUMAN_WIDTH, |(_, columns)| usize::from(columns));
    let mut out = std::io::stdout().lock();
    let _ = human::write_results(&mut out, &human::action_names(actions), reply, width);
    let _ = out.flush();
}

/// The width of lines for a person when stdout is no terminal (`--summary`
/// on a pipe).
const HUMAN_WIDTH: usize = 100;

/// Writes the summary to stdout when a load test ran.
fn print_summary(state: &State) {
    let summary = state.figures(|f| f.summary());
    let last = state.last_run();
    if last.is_none() && summary.totals.requests == 0 {
        return;
    }
    let mut out = std::io::stdout().lock();
    let _ = human::write_summary(&mut out, &summary, last.as_ref());
    let _ = out.flush();
}

/// Says on stderr which thresholds of the last test failed (stdout holds
/// the JSON lines): `ld-tower: threshold FAILED: items p99_ms limit 50.000 actual 62.125`.
fn note_failed_thresholds(state: &State) {
    let Some(last) = state.last_run() else {
        return;
    };
    for v in last.verdicts.iter().filter(|v| !v.passed) {
        eprintln!(
            "ld-tower: threshold FAILED: {} {} limit {:.3} actual {:.3}",
            v.scope, v.metric, v.limit, v.actual
        );
    }
}

/// A signal that stops the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    const NONE: u8 = 0;

    fn code(self) -> u8 {
        match self {
            Signal::Interrupt => 2,
            Signal::Terminate => 15,
        }
    }

    fn from_code(code: u8) -> Option<Signal> {
        match code {
            2 => Some(Signal::Interrupt),
            15 => Some(Signal::Terminate),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }

    fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => EXIT_INTERRUPTED,
            Signal::Terminate => EXIT_TERMINATED,
        }
    }
}

/// Watches SIGINT and SIGTERM for the run: the first begins the state's
/// shutdown (the running test stops, its figures are kept), a second one
/// exits at once.
#[derive(Debug)]
struct Signals {
    /// The first signal received, as its number; 0 for none.
    first: Arc<AtomicU8>,
    task: JoinHandle<()>,
}

impl Signals {
    fn watch(state: Arc<State>, line: Line) -> Result<Signals, String> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut interrupt =
            signal(SignalKind::interrupt()).map_err(|e| format!("cannot watch SIGINT: {e}"))?;
        let mut terminate =
            signal(SignalKind::terminate()).map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
        let first = Arc::new(AtomicU8::new(Signal::NONE));
        let seen = Arc::clone(&first);
        let task = tokio::spawn(async move {
            loop {
                let signal = tokio::select! {
                    _ = interrupt.recv() => Signal::Interrupt,
                    _ = terminate.recv() => Signal::Terminate,
                };
                let before = seen
                    .compare_exchange(
                        Signal::NONE,
                        signal.code(),
                        Ordering::SeqCst,
                        Ordering::SeqCst,
                    )
                    .err()
                    .and_then(Signal::from_code);
                match before {
                    None => {
                        state.begin_shutdown();
                        line.note(&format!(
                            "ld-tower: {} received: stopping the test; its results follow \
                             (Ctrl-C again quits at once)",
                            signal.name()
                        ));
                    }
                    Some(first) => {
                        line.note("ld-tower: interrupted again: quitting");
                        std::process::exit(i32::from(first.exit_code()));
                    }
                }
            }
        });
        Ok(Signals { first, task })
    }

    /// The first signal received so far.
    fn received(&self) -> Option<Signal> {
        Signal::from_code(self.first.load(Ordering::SeqCst))
    }

    /// Stops watching.
    fn stop(self) {
        self.task.abort();
    }
}
