//! Imported tasks wrapped into an action document, in LoadDensity's two
//! shapes: the importers' `*_to_action_json` ([`start_test`]) and the
//! action generator's `generate_from_*` ([`generated`]).

use serde_json::{json, Map, Value};

/// The test an action document runs: `LD_start_test`'s `user_detail_dict.user`,
/// `user_count`, `spawn_rate` and `test_time`, passed on as given.
#[derive(Clone, Debug, PartialEq)]
pub struct TestSettings {
    /// The user kind (`fast_http_user`).
    pub user: Value,
    /// Users.
    pub user_count: Value,
    /// Users started per second.
    pub spawn_rate: Value,
    /// Seconds.
    pub test_time: Value,
}

impl TestSettings {
    /// The importers' defaults: `fast_http_user`, 10 users, 5 a second, 60 s.
    pub fn importers() -> Self {
        TestSettings {
            user: "fast_http_user".into(),
            user_count: 10.into(),
            spawn_rate: 5.into(),
            test_time: 60.into(),
        }
    }

    /// The action generator's defaults: `fast_http_user`, 20 users, 5 a
    /// second, 60 s.
    pub fn generator() -> Self {
        TestSettings {
            user_count: 20.into(),
            ..TestSettings::importers()
        }
    }
}

fn register(variables: &Map<String, Value>) -> Option<Value> {
    (!variables.is_empty())
        .then(|| json!(["LD_register_variables", {"variables": Value::Object(variables.clone())}]))
}

/// `{"load_density": [["LD_start_test", {user_detail_dict, tasks: {mode:
/// "sequence", tasks}, user_count, spawn_rate, test_time}]]}`, as
/// LoadDensity's `*_to_action_json`; with `variables`, an
/// `LD_register_variables` first (an ld-tower addition, so that the
/// document runs as is).
pub fn start_test(
    tasks: Vec<Value>,
    settings: &TestSettings,
    variables: &Map<String, Value>,
) -> Value {
    let mut actions: Vec<Value> = register(variables).into_iter().collect();
    actions.push(json!(["LD_start_test", {
        "user_detail_dict": {"user": settings.user},
        "tasks": {"mode": "sequence", "tasks": tasks},
        "user_count": settings.user_count,
        "spawn_rate": settings.spawn_rate,
        "test_time": settings.test_time,
    }]));
    json!({"load_density": actions})
}

/// `{"load_density": [["LD_register_variables", {variables}]?,
/// ["LD_start_test", {user_detail_dict, user_count, spawn_rate, test_time,
/// tasks}], ["LD_generate_summary_report", {"report_name": "summary"}]]}`,
/// as LoadDensity's `generate.py` `_wrap_action`.
pub fn generated(
    tasks: Vec<Value>,
    settings: &TestSettings,
    variables: &Map<String, Value>,
) -> Value {
    let mut actions: Vec<Value> = register(variables).into_iter().collect();
    actions.push(json!(["LD_start_test", {
        "user_detail_dict": {"user": settings.user},
        "user_count": settings.user_count,
        "spawn_rate": settings.spawn_rate,
        "test_time": settings.test_time,
        "tasks": tasks,
    }]));
    actions.push(json!(["LD_generate_summary_report", {"report_name": "summary"}]));
    json!({"load_density": actions})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_are_loaddensity_s() {
        let task = json!({"method": "get", "request_url": "http://h/"});
        assert_eq!(
            start_test(vec![task.clone()], &TestSettings::importers(), &Map::new()),
            json!({"load_density": [["LD_start_test", {
                "user_detail_dict": {"user": "fast_http_user"},
                "tasks": {"mode": "sequence", "tasks": [task]},
                "user_count": 10, "spawn_rate": 5, "test_time": 60}]]})
        );
        let mut variables = Map::new();
        variables.insert("id".into(), "7".into());
        assert_eq!(
            generated(vec![task.clone()], &TestSettings::generator(), &variables),
            json!({"load_density": [
                ["LD_register_variables", {"variables": {"id": "7"}}],
                ["LD_start_test", {"user_detail_dict": {"user": "fast_http_user"},
                    "user_count": 20, "spawn_rate": 5, "test_time": 60, "tasks": [task]}],
                ["LD_generate_summary_report", {"report_name": "summary"}]]})
        );
    }
}
