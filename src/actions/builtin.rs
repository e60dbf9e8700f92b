//! The records and nesting actions: `LD_summary`, `LD_clear_records`,
//! `LD_execute_action`, `LD_execute_files`; and the registration of every
//! built-in action.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{ActionContext, ActionError, Args, Registry};
use crate::protocol::result_line;

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

/// Runs a nested action list; its result is the list of the nested results
/// (each as its result line would show it). Fails, with those results in
/// the message, if a nested action failed.
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
    let values: Vec<Value> = results
        .into_iter()
        .map(|r| match r.result {
            Ok(value) => value,
            Err(_) => {
                let line = result_line(&r.result);
                Value::String(String::from_utf8_lossy(line.trim_ascii_end()).into_owned())
            }
        })
        .collect();
    if failed > 0 {
        return Err(ActionError::new(format!(
            "{failed} of {} nested actions failed: {}",
            values.len(),
            Value::Array(values)
        )));
    }
    Ok(Value::Array(values))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecuteFiles {
    execute_files_list: Vec<std::path::PathBuf>,
}

/// Runs the action files in order; one result list per file. Fails, naming
/// the file, when one cannot be read or parsed or one of its actions failed;
/// the files after it still run.
async fn execute_files(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let ExecuteFiles { execute_files_list } = args.parse(&["execute_files_list"])?;
    let mut results = Vec::with_capacity(execute_files_list.len());
    let mut failures = Vec::new();
    for given in &execute_files_list {
        let target = match ctx.state().paths().resolve(given) {
            Ok(target) => target,
            Err(e) => {
                results.push(Value::String(format!("Error: {e}")));
                failures.push(e.to_string());
                continue;
            }
        };
        let path = target.path().to_owned();
        let path = &path;
        // Opened through the path rule (confined: no link followed), read
        // on the blocking pool.
        let read = tokio::task::spawn_blocking(move || {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut target.open().map_err(|e| e.to_string())?, &mut bytes)
                .map_err(|e| format!("cannot read {}: {e}", target.path().display()))?;
            Ok::<_, String>(bytes)
        });
        let read = read
            .await
            .unwrap_or_else(|e| Err(format!("cannot read {}: {e}", path.display())));
        let outcome = match read {
            Err(e) => Err(e),
            Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                Err(e) => Err(format!("{} is not JSON: {e}", path.display())),
                Ok(actions) => run_nested(&ctx, &actions)
                    .await
                    .map_err(|e| format!("{}: {e}", path.display())),
            },
        };
        match outcome {
            Ok(value) => results.push(value),
            Err(message) => {
                results.push(Value::String(format!("Error: {message}")));
                failures.push(message);
            }
        }
    }
    if !failures.is_empty() {
        return Err(ActionError::new(failures.join("; ")));
    }
    Ok(Value::Array(results))
}
