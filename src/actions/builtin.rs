//! The built-in actions of this release: `LD_summary`, `LD_clear_records`,
//! `LD_execute_action`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::{ActionContext, ActionError, Args, Registry};
use crate::protocol::result_line;

pub(super) fn register(registry: &mut Registry) {
    registry
        .register("LD_summary", summary)
        .register("LD_clear_records", clear_records)
        .register("LD_execute_action", execute_action);
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
    let nested = ctx.nested()?;
    let results = nested
        .run(&action_list)
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
