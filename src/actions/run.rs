//! Running an action list: the outer forms, one result per action.

use std::fmt;

use bytes::Bytes;
use serde_json::Value;

use super::budget::ReplyBudget;
use super::{vocabulary, ActionContext, ActionError, Args};
use crate::json_size::json_size;

/// The outcome of one action: its name and its result, or its failure
/// (whose message names the action).
#[derive(Clone, Debug, PartialEq)]
pub struct ActionResult {
    /// The action's name, or `?` when the action was malformed or did not run.
    pub name: String,
    /// Its value, or why it failed.
    pub result: Result<Value, ActionError>,
}

impl ActionResult {
    /// Its line in the reply (see [`value_line`](crate::protocol::value_line)
    /// and [`failure_line`](crate::protocol::failure_line)).
    pub fn line(&self) -> Bytes {
        match &self.result {
            Ok(value) => crate::protocol::value_line(value),
            Err(failure) => crate::protocol::failure_line(failure.message(), failure.detail()),
        }
    }
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
pub(crate) fn action_list(actions: &Value) -> Result<&[Value], RunError> {
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
pub(crate) fn split_action(action: &Value) -> Result<(&str, Args), String> {
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

/// Runs an action list in order, one result per action handed to `emit` as
/// soon as it is known and charged to the command's reply budget. Once the
/// budget is spent (a result did not fit), the actions left do not run: one
/// last result says how many.
pub(super) async fn run_list(
    ctx: &ActionContext,
    actions: &Value,
    mut emit: impl FnMut(ActionResult) + Send,
) -> Result<(), RunError> {
    let list = action_list(actions)?;
    let budget = ctx.budget();
    let mut last_yield = std::time::Instant::now();
    for (index, action) in list.iter().enumerate() {
        if budget.is_spent() {
            let left = list.len() - index;
            emit(ActionResult {
                name: "?".into(),
                result: Err(ActionError::new(format!(
                    "the reply reached its limit of {} bytes (--max-reply-bytes): {left} more action{} not run",
                    budget.limit(),
                    if left == 1 { "" } else { "s" },
                ))),
            });
            break;
        }
        // A long list of actions lets a command timeout (or a shutdown) cut
        // in between two of them, and other tasks run: it yields after each
        // slice of work. (Not `consume_budget`: once the task's budget is
        // spent, a timeout's timer is not looked at either.)
        if last_yield.elapsed() >= YIELD_AFTER {
            tokio::task::yield_now().await;
            last_yield = std::time::Instant::now();
        }
        let (name, result, nested) = match split_action(action) {
            Err(message) => (
                "?",
                Err(ActionError::new(format!("action {}: {message}", index + 1))),
                0,
            ),
            Ok((name, args)) => {
                let charged_before = budget.used();
                let result = match ctx.registry().get(name) {
                    None => Err(ActionError::new(unknown_action(ctx.registry(), name))),
                    Some((_, scope)) if !ctx.allows(scope) => {
                        ctx.state().security().forbidden(1);
                        match ctx.principal() {
                            Some(principal) => {
                                Err(ActionError::forbidden(principal).prefixed(name))
                            }
                            None => Err(ActionError::new(format!("{name}: forbidden"))),
                        }
                    }
                    Some((handler, _)) => handler
                        .call(ctx.clone(), args)
                        .await
                        .map_err(|e| e.prefixed(name)),
                };
                // What nested lists charged during the call is part of this
                // result already: charge only the rest.
                (name, result, budget.used().saturating_sub(charged_before))
            }
        };
        emit(ActionResult {
            name: name.to_owned(),
            result: charge(budget, name, result, nested),
        });
    }
    Ok(())
}

/// Why `name` did not run: a LoadDensity action ld-tower refuses, with
/// the reason; else an unknown action, with the closest registered name
/// when one is close enough to be a typo of it.
pub(crate) fn unknown_action(registry: &super::Registry, name: &str) -> String {
    if let Some(why) = vocabulary::refusal(name) {
        return format!("{name}: not supported by ld-tower ({why})");
    }
    match vocabulary::closest(name, &registry.names()) {
        Some(known) => format!("{name}: unknown action (did you mean {known}?)"),
        None => format!("{name}: unknown action"),
    }
}

/// How long an action list runs before it yields to other tasks.
const YIELD_AFTER: std::time::Duration = std::time::Duration::from_millis(2);

/// Characters of an action's name kept in the message of a result that did
/// not fit (the name itself may be what made it too large).
const NAME_CHARS: usize = 100;

/// Charges `result` (less the `nested` bytes already charged for it) to
/// `budget`, as the line it makes at most (its JSON, or the failure's
/// `Error: ` and message and detail, and the line break); a result that does
/// not fit becomes an error saying so.
fn charge(
    budget: &ReplyBudget,
    name: &str,
    result: Result<Value, ActionError>,
    nested: usize,
) -> Result<Value, ActionError> {
    let at_most = budget.remaining().saturating_add(nested);
    let size = match &result {
        Ok(value) => json_size(value, at_most),
        Err(failure) => failure
            .detail()
            .map_or(Some(0), |detail| json_size(detail, at_most))
            .and_then(|detail| detail.checked_add(failure.message().len() + "Error:  ".len())),
    }
    .map(|size| size + 1);
    let fits = size.is_some_and(|size| budget.charge(size.saturating_sub(nested)).is_ok());
    if fits {
        return result;
    }
    // Measuring may have stopped early, before any charge.
    budget.spend();
    let name: String = name.chars().take(NAME_CHARS).collect();
    Err(ActionError::new(format!(
        "{name}: its result is over what is left of the reply's limit of {} bytes (--max-reply-bytes)",
        budget.limit()
    )))
}
