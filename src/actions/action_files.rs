//! Action files in YAML and TOML, and the formatter, LoadDensity's
//! `yaml_file.py`, `toml_file.py` and `action_formatter.py`:
//! `LD_read_action_yaml`, `LD_write_action_yaml`, `LD_read_action_toml`,
//! `LD_write_action_toml`, `LD_format_action_document`,
//! `LD_format_action_file`, `LD_format_action_string`. Files go through
//! the server's path rule (confined under `serve`), are read whole up to
//! the action files' limit and written up to it too.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::builtin::{read_action_file, MAX_ACTION_FILE};
use super::error;
use super::{ActionContext, ActionError, Args, Registry, Signature};
use crate::auth::Scope;
use crate::formats::Format;
use crate::lint::format;

pub(super) fn register(registry: &mut Registry) {
    registry
        .register_scoped("LD_read_action_yaml", Scope::Write, read_yaml)
        .register_scoped("LD_write_action_yaml", Scope::Write, write_yaml)
        .register_scoped("LD_read_action_toml", Scope::Write, read_toml)
        .register_scoped("LD_write_action_toml", Scope::Write, write_toml)
        .register_scoped("LD_format_action_document", Scope::Read, format_document)
        .register_scoped("LD_format_action_file", Scope::Write, format_file)
        .register_scoped("LD_format_action_string", Scope::Read, format_string)
        .describe(
            "LD_read_action_yaml",
            Signature::of::<ReadYaml>(&["yaml_file_path"]),
        )
        .describe(
            "LD_write_action_yaml",
            Signature::of::<WriteYaml>(&["yaml_save_path", "action_doc"]),
        )
        .describe(
            "LD_read_action_toml",
            Signature::of::<ReadToml>(&["toml_file_path"]),
        )
        .describe(
            "LD_write_action_toml",
            Signature::of::<WriteToml>(&["toml_save_path", "action_doc"]),
        )
        .describe(
            "LD_format_action_document",
            Signature::of::<FormatDocument>(&["doc"]),
        )
        .describe(
            "LD_format_action_file",
            Signature::of::<FormatFile>(&["file_path", "indent"]),
        )
        .describe(
            "LD_format_action_string",
            Signature::of::<FormatString>(&["text", "indent"]),
        );
}

/// The document in the file `given` (through the path rule, at most the
/// action files' limit), read in `format` (or the one its name says).
pub(super) async fn read_document(
    ctx: &ActionContext,
    given: &Path,
    format: Option<Format>,
) -> Result<Value, String> {
    let target = ctx
        .state()
        .paths()
        .resolve(given)
        .map_err(|e| e.to_string())?;
    let bytes = read_action_file(target, ctx.state().paths()).await?;
    format
        .unwrap_or_else(|| Format::of_path(given))
        .parse(&bytes)
        .map_err(|e| format!("{} is not {e}", given.display()))
}

/// Writes `text` to the file `given` (through the path rule, folders
/// created); refuses more than the action files' limit. Returns the path
/// written.
pub(super) async fn write_text(
    ctx: &ActionContext,
    given: &Path,
    text: String,
) -> Result<String, String> {
    if text.len() as u64 > MAX_ACTION_FILE {
        return Err(format!(
            "{} would hold {} bytes, over the {} MiB an action file may hold",
            given.display(),
            text.len(),
            MAX_ACTION_FILE >> 20
        ));
    }
    let target = ctx
        .state()
        .paths()
        .resolve(given)
        .map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(move || {
        let mut file = target.create().map_err(|e| e.to_string())?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.flush())
            .map_err(|e| format!("cannot write {}: {e}", target.path().display()))?;
        Ok(target.path().display().to_string())
    })
    .await
    .map_err(|e| format!("the write failed: {e}"))?
}

/// `action_doc` written in `format` to `given`; the path written.
async fn write_document(
    ctx: &ActionContext,
    given: &Path,
    doc: &Value,
    format: Format,
) -> Result<Value, ActionError> {
    let text = format.render(doc).map_err(error)?;
    Ok(Value::String(
        write_text(ctx, given, text).await.map_err(error)?,
    ))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ReadYaml {
    yaml_file_path: PathBuf,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ReadToml {
    toml_file_path: PathBuf,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct WriteYaml {
    yaml_save_path: PathBuf,
    action_doc: Value,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct WriteToml {
    toml_save_path: PathBuf,
    action_doc: Value,
}

/// `LD_read_action_yaml(yaml_file_path)`: the document (YAML 1.2).
async fn read_yaml(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let ReadYaml { yaml_file_path } = args.parse(&["yaml_file_path"])?;
    read_document(&ctx, &yaml_file_path, Some(Format::Yaml))
        .await
        .map_err(error)
}

/// `LD_read_action_toml(toml_file_path)`: the document.
async fn read_toml(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let ReadToml { toml_file_path } = args.parse(&["toml_file_path"])?;
    read_document(&ctx, &toml_file_path, Some(Format::Toml))
        .await
        .map_err(error)
}

/// `LD_write_action_yaml(yaml_save_path, action_doc)`: the path written.
async fn write_yaml(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let WriteYaml {
        yaml_save_path,
        action_doc,
    } = args.parse(&["yaml_save_path", "action_doc"])?;
    write_document(&ctx, &yaml_save_path, &action_doc, Format::Yaml).await
}

/// `LD_write_action_toml(toml_save_path, action_doc)`: the path written.
async fn write_toml(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let WriteToml {
        toml_save_path,
        action_doc,
    } = args.parse(&["toml_save_path", "action_doc"])?;
    write_document(&ctx, &toml_save_path, &action_doc, Format::Toml).await
}

fn two() -> usize {
    2
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct FormatDocument {
    doc: Value,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct FormatFile {
    file_path: PathBuf,
    /// JSON's indent, spaces (at most 16).
    #[serde(default = "two")]
    indent: usize,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct FormatString {
    text: String,
    /// JSON's indent, spaces (at most 16).
    #[serde(default = "two")]
    indent: usize,
}

/// `LD_format_action_document(doc)`: the document in canonical form.
async fn format_document(_: ActionContext, args: Args) -> Result<Value, ActionError> {
    let FormatDocument { doc } = args.parse(&["doc"])?;
    Ok(format::document(&doc))
}

/// `LD_format_action_string(text, indent=2)`: JSON text in canonical form,
/// rendered as Python's `json.dumps(doc, indent=indent, ensure_ascii=False)`
/// and a line break.
async fn format_string(_: ActionContext, args: Args) -> Result<Value, ActionError> {
    let FormatString { text, indent } = args.parse(&["text", "indent"])?;
    let doc = Format::Json.parse(text.as_bytes()).map_err(error)?;
    let rendered = Format::json_indented(&format::document(&doc), indent).map_err(error)?;
    Ok(Value::String(rendered))
}

/// `LD_format_action_file(file_path, indent=2)`: the file rewritten in
/// canonical form, in its own format (JSON indented by `indent`); the
/// text written.
async fn format_file(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let FormatFile { file_path, indent } = args.parse(&["file_path", "indent"])?;
    let doc = read_document(&ctx, &file_path, None).await.map_err(error)?;
    let formatted = format::document(&doc);
    let rendered = match Format::of_path(&file_path) {
        Format::Json => Format::json_indented(&formatted, indent),
        other => other.render(&formatted),
    }
    .map_err(error)?;
    write_text(&ctx, &file_path, rendered.clone())
        .await
        .map_err(error)?;
    Ok(Value::String(rendered))
}
