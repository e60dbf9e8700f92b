//! The records and nesting actions: `LD_summary`, `LD_clear_records`,
//! `LD_execute_action`, `LD_execute_files`; and the registration of every
//! built-in action.

use crate::auth::Scope;
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ActionContext, ActionError, Args, Registry, Signature};
use crate::paths::Paths;
use crate::policy::{file_limit, file_over};

pub(super) fn register(registry: &mut Registry) {
    registry
        .register_scoped("LD_summary", Scope::Read, summary)
        .register_scoped("LD_clear_records", Scope::Run, clear_records)
        .register_scoped("LD_execute_action", Scope::Read, execute_action)
        .register_scoped("LD_execute_files", Scope::Write, execute_files)
        .register_scoped("LD_agent_status", Scope::Read, agent_status)
        .describe(
            "LD_summary",
            Signature::of::<SummaryArgs>(&["success", "failures"]),
        )
        .describe("LD_clear_records", Signature::none())
        .describe(
            "LD_execute_action",
            Signature::of::<ExecuteAction>(&["action_list"]),
        )
        .describe(
            "LD_execute_files",
            Signature::of::<ExecuteFiles>(&["execute_files_list"]),
        )
        .describe("LD_agent_status", Signature::none());
    super::lint::register(registry);
    super::action_files::register(registry);
    super::load::register(registry);
    super::breaking::register(registry);
    super::fleet::register(registry);
    super::dashboard::register(registry);
    super::metrics::register(registry);
    super::resolver::register_actions(registry);
    super::sla::register(registry);
    super::import::register(registry);
    #[cfg(feature = "history")]
    super::history::register(registry);
    #[cfg(feature = "reports")]
    super::reports::register(registry);
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SummaryArgs {
    #[serde(default)]
    success: Option<Value>,
    #[serde(default)]
    failures: Option<Value>,
}

/// The records of a `success` or `failures` argument: a list, or what
/// Python iterated as none (`""`, `{}`).
fn given_records<'a>(list: &str, value: &'a Value) -> Result<&'a [Value], ActionError> {
    match value {
        Value::Array(records) => Ok(records),
        Value::String(s) if s.is_empty() => Ok(&[]),
        Value::Object(map) if map.is_empty() => Ok(&[]),
        _ => Err(ActionError::new(format!(
            "{list} must be a list of records (JSON objects)"
        ))),
    }
}

/// `LD_summary(success=None, failures=None)`: the figures of the records
/// kept so far (zeroed while nothing has run); or, given lists of records
/// (JSON objects, LoadDensity's record dicts), theirs instead
/// ([`Summary::of_records`](crate::figures::Summary::of_records)). A list
/// left out (or null) stands for the recorded ones, which ld-tower keeps as
/// histograms, not records: so one list alone is taken only while nothing
/// is recorded (the other is then empty).
async fn summary(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let SummaryArgs { success, failures } = args.parse(&["success", "failures"])?;
    let summary = if success.is_none() && failures.is_none() {
        ctx.state().figures(|figures| figures.summary())
    } else {
        let recorded: u64 = ctx
            .state()
            .figures(|figures| figures.per_name().values().map(|f| f.count()).sum());
        if recorded > 0 {
            let (given, missing) = if success.is_some() {
                ("success", "failures")
            } else {
                ("failures", "success")
            };
            if success.is_none() || failures.is_none() {
                return Err(ActionError::new(format!(
                    "{given} given without {missing} while {recorded} requests are recorded: \
                     ld-tower keeps recorded requests as histograms, not records, so it \
                     cannot add them to given ones; give both lists ([] for none)"
                )));
            }
        }
        let empty = Value::Array(Vec::new());
        let success = given_records("success", success.as_ref().unwrap_or(&empty))?;
        let failures = given_records("failures", failures.as_ref().unwrap_or(&empty))?;
        crate::figures::Summary::of_records(success, failures)
            .map_err(|e| ActionError::new(e.to_string()))?
    };
    serde_json::to_value(summary).map_err(|e| ActionError::new(e.to_string()))
}

/// `LD_agent_status()`: the agent's own figures since it started:
/// `{"security": {...}}`, the refusals it counted (see
/// [`SecurityFigures`](crate::auth::SecurityFigures)).
async fn agent_status(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    args.none()?;
    Ok(json!({"security": ctx.state().security().figures()}))
}

/// Forgets every record.
async fn clear_records(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    args.none()?;
    ctx.state().figures(|figures| figures.clear());
    Ok(json!({"status": "cleared"}))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ExecuteAction {
    /// The nested action list.
    #[schemars(with = "Vec<Value>")]
    action_list: Value,
}

/// Runs a nested action list; its result is the list of the nested results.
/// Fails if a nested action failed, the results as the failure's detail
/// (each nested failure as its line's text, or as `{"error", "results"}`
/// when it carries results of its own).
async fn execute_action(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let ExecuteAction { action_list } = args.parse(&["action_list"])?;
    run_nested(&ctx, &action_list).await
}

/// Runs `actions` one level deeper: the list of results, or an error
/// holding them if one failed.
async fn run_nested(ctx: &ActionContext, actions: &Value) -> Result<Value, ActionError> {
    let nested = ctx.nested()?;
    let results = nested
        .run(actions)
        .await
        .map_err(|e| ActionError::new(e.to_string()))?;
    let failed = results.iter().filter(|r| r.result.is_err()).count();
    let total = results.len();
    let values: Vec<Value> = results
        .into_iter()
        .map(|r| match r.result {
            Ok(value) => value,
            Err(failure) => failure.to_nested_value(),
        })
        .collect();
    if failed > 0 {
        return Err(ActionError::with_detail(
            format!("{failed} of {total} nested actions failed:"),
            Value::Array(values),
        ));
    }
    Ok(Value::Array(values))
}

/// The largest action file `LD_execute_files` reads unless the agent's
/// `--max-file-bytes` says less: 16 MiB.
pub(crate) const MAX_ACTION_FILE: u64 = 16 * 1024 * 1024;

/// Reads an action file through the path rule (confined: no link followed),
/// on the blocking pool, refusing one over [`MAX_ACTION_FILE`] or the
/// agent's `--max-file-bytes`.
pub(super) async fn read_action_file(
    target: crate::paths::Resolved,
    paths: &Paths,
) -> Result<Vec<u8>, String> {
    let shown = target.path().display().to_string();
    let (max, agents) = file_limit(paths.max_file_bytes(), MAX_ACTION_FILE);
    let over = if agents {
        file_over(&shown, max)
    } else {
        format!(
            "{shown} is over the {} MiB an action file may hold",
            max >> 20
        )
    };
    let read = tokio::task::spawn_blocking(move || {
        let file = target.open().map_err(|e| e.to_string())?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(file, max.saturating_add(1)),
            &mut bytes,
        )
        .map_err(|e| format!("cannot read {}: {e}", target.path().display()))?;
        if bytes.len() as u64 > max {
            return Err(over);
        }
        Ok(bytes)
    });
    read.await
        .unwrap_or_else(|e| Err(format!("cannot read {shown}: {e}")))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ExecuteFiles {
    execute_files_list: Vec<std::path::PathBuf>,
}

/// Runs the action files in order (JSON, or YAML or TOML by their
/// extension); one result list per file. Fails when one
/// cannot be read or parsed or one of its actions failed, naming the files
/// that failed, the results as the failure's detail; the files after a
/// failing one still run.
async fn execute_files(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let ExecuteFiles { execute_files_list } = args.parse(&["execute_files_list"])?;
    let mut results = Vec::with_capacity(execute_files_list.len());
    let mut failed = Vec::new();
    for given in &execute_files_list {
        let outcome = match super::action_files::read_document(&ctx, given, None).await {
            Err(message) => Err(ActionError::new(message)),
            Ok(actions) => run_nested(&ctx, &actions)
                .await
                .map_err(|e| e.prefixed(&given.display().to_string())),
        };
        match outcome {
            Ok(value) => results.push(value),
            Err(failure) => {
                results.push(failure.to_nested_value());
                failed.push(given.display().to_string());
            }
        }
    }
    if !failed.is_empty() {
        return Err(ActionError::with_detail(
            format!(
                "{} of {} files failed ({}):",
                failed.len(),
                execute_files_list.len(),
                failed.join(", ")
            ),
            Value::Array(results),
        ));
    }
    Ok(Value::Array(results))
}
