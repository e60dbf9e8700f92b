//! The records and nesting actions: `LD_summary`, `LD_clear_records`,
//! `LD_execute_action`, `LD_execute_files`; and the registration of every
//! built-in action.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{ActionContext, ActionError, Args, Registry};

pub(super) fn register(registry: &mut Registry) {
    registry
        .register("LD_summary", summary)
        .register("LD_clear_records", clear_records)
        .register("LD_execute_action", execute_action)
        .register("LD_execute_files", execute_files);
    super::load::register(registry);
    super::resolver::register_actions(registry);
    super::history::register(registry);
    super::reports::register(registry);
}

/// The figures of the records kept so far (zeroed while nothing has run).
async fn summary(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    args.none()?;
    let summary = ctx.state().figures(|figures| figures.summary());
    serde_json::to_value(summary).map_err(|e| ActionError::new(e.to_string()))
}

/// Forgets every record.
async fn clear_records(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    args.none()?;
    ctx.state().figures(|figures| figures.clear());
    Ok(json!({"status": "cleared"}))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecuteAction {
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

/// The largest action file `LD_execute_files` reads: 16 MiB.
const MAX_ACTION_FILE: u64 = 16 * 1024 * 1024;

/// Reads an action file through the path rule (confined: no link followed),
/// on the blocking pool, refusing one over [`MAX_ACTION_FILE`].
async fn read_action_file(target: crate::paths::Resolved) -> Result<Vec<u8>, String> {
    let shown = target.path().display().to_string();
    let read = tokio::task::spawn_blocking(move || {
        let file = target.open().map_err(|e| e.to_string())?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(file, MAX_ACTION_FILE + 1),
            &mut bytes,
        )
        .map_err(|e| format!("cannot read {}: {e}", target.path().display()))?;
        if bytes.len() as u64 > MAX_ACTION_FILE {
            return Err(format!(
                "{} is over the {} MiB an action file may hold",
                target.path().display(),
                MAX_ACTION_FILE >> 20
            ));
        }
        Ok(bytes)
    });
    read.await
        .unwrap_or_else(|e| Err(format!("cannot read {shown}: {e}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecuteFiles {
    execute_files_list: Vec<std::path::PathBuf>,
}

/// Runs the action files in order; one result list per file. Fails when one
/// cannot be read or parsed or one of its actions failed, naming the files
/// that failed, the results as the failure's detail; the files after a
/// failing one still run.
async fn execute_files(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let ExecuteFiles { execute_files_list } = args.parse(&["execute_files_list"])?;
    let mut results = Vec::with_capacity(execute_files_list.len());
    let mut failed = Vec::new();
    for given in &execute_files_list {
        let outcome = match ctx.state().paths().resolve(given) {
            Err(e) => Err(ActionError::new(e.to_string())),
            Ok(target) => match read_action_file(target).await {
                Err(message) => Err(ActionError::new(message)),
                Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                    Err(e) => Err(ActionError::new(format!(
                        "{} is not JSON: {e}",
                        given.display()
                    ))),
                    Ok(actions) => run_nested(&ctx, &actions)
                        .await
                        .map_err(|e| e.prefixed(&given.display().to_string())),
                },
            },
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
