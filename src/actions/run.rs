//! Running an action list: the outer forms, one result per action.

use std::fmt;

use serde_json::Value;

use super::{ActionContext, Args};

/// The outcome of one action: its name and its result, or the message of
/// its failure (which names the action).
#[derive(Clone, Debug, PartialEq)]
pub struct ActionResult {
    /// The action's name, or `?` when the action was malformed.
    pub name: String,
    /// Its value, or why it failed.
    pub result: Result<Value, String>,
}

/// Why a whole command could not run: it is not an action list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunError(String);

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RunError {}

/// The outer forms: `{"load_density": [...]}` or a bare list; missing key,
/// a non-list or an empty list fails the whole command.
fn action_list(actions: &Value) -> Result<&[Value], RunError> {
    let list = match actions {
        Value::Array(list) => Some(list),
        Value::Object(map) => map.get("load_density").and_then(Value::as_array),
        _ => None,
    };
    match list {
        Some(list) if !list.is_empty() => Ok(list),
        Some(_) => Err(RunError("the action list is empty".into())),
        None => Err(RunError(
            "not an action list: expected {\"load_density\": [[\"NAME\", {...}], ...]} or [[\"NAME\", {...}], ...]"
                .into(),
        )),
    }
}

/// One action's name and arguments, or why its shape is wrong.
fn split_action(action: &Value) -> Result<(&str, Args), String> {
    let shape = || {
        "an action is [\"NAME\"], [\"NAME\", {keyword args}] or [\"NAME\", [positional args]]"
            .to_owned()
    };
    let Some(parts) = action.as_array() else {
        return Err(shape());
    };
    let Some(name) = parts.first().and_then(Value::as_str) else {
        return Err(shape());
    };
    let args = match parts.get(1) {
        None => Args::None,
        Some(Value::Object(map)) if parts.len() == 2 => Args::Keywords(map.clone()),
        Some(Value::Array(values)) if parts.len() == 2 => Args::Positional(values.clone()),
        Some(_) => return Err(format!("{name}: {}", shape())),
    };
    Ok((name, args))
}

pub(super) async fn run_list(
    ctx: &ActionContext,
    actions: &Value,
) -> Result<Vec<ActionResult>, RunError> {
    let list = action_list(actions)?;
    let mut results = Vec::with_capacity(list.len());
    for (index, action) in list.iter().enumerate() {
        let outcome = match split_action(action) {
            Err(message) => ActionResult {
                name: "?".into(),
                result: Err(format!("action {}: {message}", index + 1)),
            },
            Ok((name, args)) => {
                let result = match ctx.registry().get(name) {
                    None => Err(format!("{name}: unknown action")),
                    Some(handler) => handler
                        .call(ctx.clone(), args)
                        .await
                        .map_err(|e| format!("{name}: {e}")),
                };
                ActionResult {
                    name: name.to_owned(),
                    result,
                }
            }
        };
        results.push(outcome);
    }
    Ok(results)
}
