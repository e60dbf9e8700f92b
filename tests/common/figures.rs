//! Reading a test's figures: from `LD_start_test`'s result, and from the
//! records a control keeps.

use std::collections::BTreeMap;

use ld_tower::control::Control;
use serde_json::{json, Value};

/// Runs one `LD_start_test` with `args`; its result.
pub async fn start_test(control: &Control, args: Value) -> Value {
    let lines = super::run_lines(control, &json!([["LD_start_test", args]])).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    super::parse(&lines[0])
}

pub fn per_name<'a>(result: &'a Value, name: &str) -> &'a Value {
    let entry = &result["summary"]["per_name"][name];
    assert!(
        entry.is_object(),
        "no per_name entry {name:?} in {}",
        result["summary"]["per_name"]
    );
    entry
}

pub fn count(result: &Value, name: &str) -> (u64, u64, u64) {
    let entry = per_name(result, name);
    (
        entry["count"].as_u64().unwrap(),
        entry["successes"].as_u64().unwrap(),
        entry["failures"].as_u64().unwrap(),
    )
}

/// The kept failure messages of `name` in the control's records.
pub fn failure_messages(control: &Control, name: &str) -> BTreeMap<String, u64> {
    control.state().figures(|f| {
        f.per_name()
            .get(name)
            .map(|n| n.failure_sample().messages().clone())
            .unwrap_or_default()
    })
}

pub fn statuses(control: &Control, name: &str) -> BTreeMap<u16, u64> {
    control.state().figures(|f| {
        f.per_name()
            .get(name)
            .map(|n| n.statuses().clone())
            .unwrap_or_default()
    })
}
