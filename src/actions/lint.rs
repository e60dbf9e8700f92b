//! Checking before running, LoadDensity's `action_linter.py` and
//! `action_schema.py`: `LD_lint_action`, `LD_lint_action_file`,
//! `LD_export_schema` (see [`crate::lint`]).

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::Value;

use super::action_files::read_document;
use super::error;
use super::{ActionContext, ActionError, Args, Registry, Signature};
use crate::auth::Scope;
use crate::formats::Format;
use crate::lint::{lint, schema};

pub(super) fn register(registry: &mut Registry) {
    registry
        .register_scoped("LD_lint_action", Scope::Read, lint_action)
        .register_scoped("LD_lint_action_file", Scope::Write, lint_action_file)
        .register_scoped("LD_export_schema", Scope::Write, export_schema)
        .describe(
            "LD_lint_action",
            Signature::of::<LintAction>(&["actions", "known_commands"]),
        )
        .describe(
            "LD_lint_action_file",
            Signature::of::<LintFile>(&["path", "known_commands"]),
        )
        .describe(
            "LD_export_schema",
            Signature::of::<ExportSchema>(&["path", "known_commands"]),
        );
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct LintAction {
    /// The action document.
    actions: Value,
    /// The action names taken as known (default: the agent's).
    #[serde(default)]
    known_commands: Option<Vec<String>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct LintFile {
    /// The action file (JSON, YAML or TOML by its extension).
    path: PathBuf,
    /// The action names taken as known (default: the agent's).
    #[serde(default)]
    known_commands: Option<Vec<String>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ExportSchema {
    /// Where to write the schema (JSON); none: the schema is the result.
    #[serde(default)]
    path: Option<PathBuf>,
    /// The action names the schema knows (default: the agent's).
    #[serde(default)]
    known_commands: Option<Vec<String>>,
}

/// The problems as the result: a list of `{rule, severity, message, location}`.
fn problems(
    ctx: &ActionContext,
    doc: &Value,
    known: Option<&[String]>,
) -> Result<Value, ActionError> {
    serde_json::to_value(lint(ctx, doc, known)).map_err(error)
}

/// `LD_lint_action(actions, known_commands=None)`: every problem of the
/// document, none run.
async fn lint_action(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let LintAction {
        actions,
        known_commands,
    } = args.parse(&["actions", "known_commands"])?;
    problems(&ctx, &actions, known_commands.as_deref())
}

/// `LD_lint_action_file(path, known_commands=None)`: every problem of the
/// file's document (JSON, YAML or TOML by its extension).
async fn lint_action_file(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let LintFile {
        path,
        known_commands,
    } = args.parse(&["path", "known_commands"])?;
    let doc = read_document(&ctx, &path, None).await.map_err(error)?;
    problems(&ctx, &doc, known_commands.as_deref())
}

/// `LD_export_schema(path=None, known_commands=None)`: the JSON Schema of
/// action documents; written to `path` when given (then the path written
/// is the result, as LoadDensity's).
async fn export_schema(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let ExportSchema {
        path,
        known_commands,
    } = args.parse(&["path", "known_commands"])?;
    let schema = schema::action_schema(ctx.registry(), known_commands.as_deref());
    match path {
        None => Ok(schema),
        Some(path) => {
            let text = Format::json_indented(&schema, 2).map_err(error)?;
            super::action_files::write_text(&ctx, &path, text)
                .await
                .map(Value::String)
                .map_err(error)
        }
    }
}
