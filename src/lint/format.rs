//! An action document's canonical form, LoadDensity's
//! `action_formatter.py`: each task's keys `method`, `request_url`, `url`,
//! `name`, `weight`, `timeout` first (in that order), the rest as written;
//! nothing else moved.
//!
//! As in LoadDensity, the tasks are those of any action written
//! `["NAME", {..., "tasks": [...]}]`. ld-tower's tasks may also be
//! `{"mode": ..., "tasks": [...]}`: those are ordered too. Unlike
//! LoadDensity, an object's other keys beside `load_density` are kept
//! (LoadDensity drops them).
//!
//! ```
//! use serde_json::json;
//!
//! let doc = json!([["LD_start_test", {"tasks": [{"name": "home", "request_url": "/", "method": "get"}]}]]);
//! assert_eq!(
//!     ld_tower::lint::format::document(&doc).to_string(),
//!     r#"[["LD_start_test",{"tasks":[{"method":"get","request_url":"/","name":"home"}]}]]"#
//! );
//! ```

use serde_json::{Map, Value};

/// The keys a task's are put after, in this order.
pub const FIRST_KEYS: &[&str] = &["method", "request_url", "url", "name", "weight", "timeout"];

/// `doc` in canonical form (a document that is not an action list is
/// returned as it is).
pub fn document(doc: &Value) -> Value {
    match doc {
        Value::Object(map) if map.get("load_density").is_some_and(Value::is_array) => {
            let mut out = map.clone();
            if let Some(Value::Array(list)) = out.get_mut("load_density") {
                actions(list);
            }
            Value::Object(out)
        }
        Value::Array(list) => {
            let mut list = list.clone();
            actions(&mut list);
            Value::Array(list)
        }
        other => other.clone(),
    }
}

fn actions(list: &mut [Value]) {
    for entry in list {
        let Value::Array(parts) = entry else { continue };
        let [_, Value::Object(kwargs)] = parts.as_mut_slice() else {
            continue;
        };
        match kwargs.get_mut("tasks") {
            Some(Value::Array(tasks)) => order(tasks),
            Some(Value::Object(nested)) => {
                if let Some(Value::Array(tasks)) = nested.get_mut("tasks") {
                    order(tasks);
                }
            }
            _ => {}
        }
    }
}

fn order(tasks: &mut [Value]) {
    for task in tasks {
        if let Value::Object(map) = task {
            *map = ordered(std::mem::take(map));
        }
    }
}

/// `task`'s keys, [`FIRST_KEYS`] first.
fn ordered(mut task: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for key in FIRST_KEYS {
        if let Some(value) = task.shift_remove(*key) {
            out.insert((*key).to_owned(), value);
        }
    }
    out.extend(task);
    out
}
