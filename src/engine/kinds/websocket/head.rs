//! The keys every kind's task shares with an HTTP task (`name`, `weight`,
//! `run_if`, `skip_if`, `think_time`, `throttle`), compiled by the HTTP
//! task compiler itself, so that they mean exactly the same (the same
//! checks, the same messages at the same JSON paths, throttles of one key
//! shared across the test's tasks). Used by `websocket_user` and
//! `sse_user`.

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::engine::task::{self, Head, Naming};
use crate::spec::{Note, SpecError};

/// A step's shared keys, as written (read by serde alongside the kind's
/// own keys, kept as JSON for the HTTP compiler).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(in crate::engine::kinds) struct HeadSpec {
    /// Weight (the kinds that walk every step in order accept it, unused).
    pub weight: Option<Value>,
    /// Run only when this holds.
    pub run_if: Option<Value>,
    /// Skip when this holds.
    pub skip_if: Option<Value>,
    /// A pause after the step.
    pub think_time: Option<Value>,
    /// A rate cap shared by every user.
    pub throttle: Option<Value>,
}

/// The heads of a task list: `steps` holds each step's `name` (when given)
/// and shared keys; `nested` says the list was written under
/// `{"tasks": [...]}` (paths then read `tasks.tasks[i]`). A step's head is
/// named by its `name`, else `"-"` (the caller names it).
pub(in crate::engine::kinds) fn heads(
    steps: Vec<(Option<String>, HeadSpec)>,
    nested: bool,
    ctx: &super::super::Context<'_>,
    notes: &mut Vec<Note>,
) -> Result<Vec<Head>, SpecError> {
    let list: Vec<Value> = steps
        .into_iter()
        .map(|(name, spec)| {
            let mut task = Map::new();
            task.insert("method".into(), json!("get"));
            task.insert("url".into(), json!("-"));
            let keys = [
                ("name", name.map(Value::String)),
                ("weight", spec.weight),
                ("run_if", spec.run_if),
                ("skip_if", spec.skip_if),
                ("think_time", spec.think_time),
                ("throttle", spec.throttle),
            ];
            for (key, value) in keys {
                if let Some(value) = value {
                    task.insert(key.into(), value);
                }
            }
            Value::Object(task)
        })
        .collect();
    let value = if nested {
        json!({ "tasks": list })
    } else {
        Value::Array(list)
    };
    let ctx = task::Context {
        naming: Naming::FastHttp,
        base: ctx.base,
        fixed: ctx.fixed,
    };
    let scenario = task::parse(value, &ctx, notes)?;
    Ok(scenario.tasks.into_iter().map(|task| task.head).collect())
}
