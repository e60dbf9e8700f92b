//! `ld-tower import har|curl|openapi|postman FILE`: an action file made
//! from a HAR recording, cURL commands, an OpenAPI description or a
//! Postman collection, by the importers the `LD_*_to_action_json` and
//! `LD_generate_from_curls` actions use ([`ld_tower::import`]).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use ld_tower::formats::Format;
use ld_tower::import::action::{self, TestSettings};
use ld_tower::import::{
    curl, har, openapi, parse_document, postman, Filters, ImportError, Imported, MAX_DOCUMENT_BYTES,
};
use serde_json::{Map, Value};

use super::{EXIT_FAILURE, EXIT_NO_INPUT};

/// What FILE holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Source {
    /// A HAR recording (a browser's Network tab, "Save all as HAR"; mitmproxy; Charles).
    Har,
    /// One or more cURL commands (a browser's "Copy as cURL"), each starting on a line of
    /// its own with `curl`; `\` line continuations and quotes as a shell reads them.
    Curl,
    /// An OpenAPI 3.0 or 3.1 description, JSON or YAML.
    Openapi,
    /// A Postman v2.1 collection (JSON).
    Postman,
}

/// `ld-tower import`'s arguments.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct ImportArgs {
    /// What FILE holds.
    #[arg(value_enum, value_name = "KIND")]
    pub(crate) source: Source,

    /// The document to import; - reads it from stdin.
    #[arg(value_name = "FILE")]
    pub(crate) file: PathBuf,

    /// Write the action file here instead of stdout: YAML when it ends in .yaml or .yml,
    /// TOML when it ends in .toml, else JSON. An existing file is replaced.
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub(crate) output: Option<PathBuf>,

    /// The user kind of LD_start_test's user_detail_dict.
    #[arg(long, value_name = "USER", default_value = "fast_http_user")]
    pub(crate) user: String,

    /// Virtual users (LD_start_test's user_count) [default: 10; curl: 20, as
    /// LD_generate_from_curls].
    #[arg(long, value_name = "N", value_parser = number)]
    pub(crate) user_count: Option<Value>,

    /// Users started per second (spawn_rate) [default: 5].
    #[arg(long, value_name = "R", value_parser = number)]
    pub(crate) spawn_rate: Option<Value>,

    /// The test's length in seconds (test_time) [default: 60].
    #[arg(long, value_name = "SECONDS", value_parser = number)]
    pub(crate) test_time: Option<Value>,

    /// openapi: the scheme, host and base path the requests go to, instead of the
    /// description's first server URL (needed when that URL is relative, such as /v1).
    #[arg(long, value_name = "URL")]
    pub(crate) base_url: Option<String>,

    /// har: keep only the entries whose URL matches one of these regular expressions
    /// (searched anywhere in the URL). Repeatable.
    #[arg(long, value_name = "REGEX")]
    pub(crate) include: Vec<String>,

    /// har: leave out the entries whose URL matches one of these regular expressions, such
    /// as '\.(png|css|js|woff2?)(\?|$)' for static assets. Repeatable.
    #[arg(long, value_name = "REGEX")]
    pub(crate) exclude: Vec<String>,
}

const AFTER_HELP: &str = "\
The action file runs as is with `ld-tower run FILE` (or LD_execute_files): har, openapi and \
postman give LoadDensity's LD_*_to_action_json shape (one LD_start_test over the requests in \
sequence mode), curl gives LD_generate_from_curls' (LD_start_test, then \
LD_generate_summary_report). Variables the requests need are registered first with \
LD_register_variables: OpenAPI path parameters (${var.petId}) from their examples or \
defaults, Postman collection variables ({{baseUrl}} is written ${var.baseUrl}). Edit the file \
to change the load, add think times, thresholds or assertions.

What each importer keeps, the flags curl may carry, and how ld-tower differs from \
LoadDensity: the README's \"Importing tests\".

What could not be carried (a TRACE request, a path parameter without an example, a file \
field of a Postman form) is said on stderr, one `note:` line each.

Exit: 0 when the action file was written; 1 when the document cannot be imported (the \
message says why: a curl flag ld-tower does not know, a relative server URL without \
--base-url, a bad regular expression...) or OUT cannot be written; 3 when FILE cannot be read \
or is over 16 MiB; 2 on bad usage.";

fn number(text: &str) -> Result<Value, String> {
    match serde_json::from_str::<Value>(text.trim()) {
        Ok(Value::Number(n)) if n.as_f64().is_some_and(|n| n >= 0.0) => Ok(Value::Number(n)),
        _ => Err(format!("{text:?} is not a number from 0")),
    }
}

/// Runs `ld-tower import`.
pub(super) fn run(args: &ImportArgs) -> ExitCode {
    let bytes = match read(&args.file) {
        Ok(bytes) => bytes,
        Err(message) => {
            eprintln!("ld-tower: {message}");
            return ExitCode::from(EXIT_NO_INPUT);
        }
    };
    let document = match import(args, &bytes) {
        Ok(document) => document,
        Err(message) => {
            eprintln!("ld-tower: {message}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match write(args.output.as_deref(), &document) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ld-tower: {message}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn read(file: &Path) -> Result<Vec<u8>, String> {
    let shown = file.display();
    let mut bytes = Vec::new();
    let limit = MAX_DOCUMENT_BYTES + 1;
    let read = if file == Path::new("-") {
        std::io::stdin().lock().take(limit).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(file)
            .map_err(|e| format!("cannot open {shown}: {e}"))?
            .take(limit)
            .read_to_end(&mut bytes)
    };
    read.map_err(|e| format!("cannot read {shown}: {e}"))?;
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(format!(
            "{shown} is over the {} MiB a document may hold",
            MAX_DOCUMENT_BYTES >> 20
        ));
    }
    Ok(bytes)
}

/// The action document of FILE's bytes; notes go to stderr.
fn import(args: &ImportArgs, bytes: &[u8]) -> Result<Value, ImportError> {
    let what = args.file.display().to_string();
    let refuse = |flag: &str, kind: &str| {
        ImportError::new(format!("{flag} applies to `import {kind}` only"))
    };
    if args.base_url.is_some() && args.source != Source::Openapi {
        return Err(refuse("--base-url", "openapi"));
    }
    if !(args.include.is_empty() && args.exclude.is_empty()) && args.source != Source::Har {
        return Err(refuse("--include/--exclude", "har"));
    }
    let defaults = match args.source {
        Source::Curl => TestSettings::generator(),
        _ => TestSettings::importers(),
    };
    let settings = TestSettings {
        user: args.user.clone().into(),
        user_count: args.user_count.clone().unwrap_or(defaults.user_count),
        spawn_rate: args.spawn_rate.clone().unwrap_or(defaults.spawn_rate),
        test_time: args.test_time.clone().unwrap_or(defaults.test_time),
    };
    let imported: Imported = match args.source {
        Source::Curl => {
            let text = std::str::from_utf8(bytes)
                .map_err(|e| ImportError::new(format!("{what} is not UTF-8 text: {e}")))?;
            let commands = curl::split_commands(text);
            if commands.is_empty() {
                return Err(ImportError::new(format!("{what} holds no curl command")));
            }
            let tasks = curl::to_tasks(&commands)?;
            return Ok(action::generated(tasks, &settings, &Map::new()));
        }
        Source::Har => {
            let filters = Filters::of_text(&args.include, &args.exclude)?;
            har::to_tasks(&parse_document(bytes, &what, false)?, &filters)?
        }
        Source::Openapi => openapi::to_tasks(
            &parse_document(bytes, &what, true)?,
            args.base_url.as_deref(),
        )?,
        Source::Postman => postman::to_tasks(&parse_document(bytes, &what, false)?)?,
    };
    for note in &imported.notes {
        eprintln!("ld-tower: note: {note}");
    }
    if imported.tasks.is_empty() {
        return Err(ImportError::new(format!(
            "{what} gives no request to import{}",
            if args.include.is_empty() && args.exclude.is_empty() {
                ""
            } else {
                " (after --include/--exclude)"
            }
        )));
    }
    Ok(action::start_test(
        imported.tasks,
        &settings,
        &imported.variables,
    ))
}

fn write(output: Option<&Path>, document: &Value) -> Result<(), String> {
    let format = output.map_or(Format::Json, Format::of_path);
    let text = format.render(document).map_err(|e| e.to_string())?;
    match output {
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| format!("cannot write to stdout: {e}"))
        }
        Some(path) => {
            std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
        }
    }
}
