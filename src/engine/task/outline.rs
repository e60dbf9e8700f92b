//! The test's tasks as the parameters and the reports list them: per task its method, its URL
//! and name, and its weight, outlined from `LD_start_test`'s `tasks` (a
//! list, `{"mode": ..., "tasks": [...]}`, or LoadDensity's map of method to
//! task) into the test's parameters (`parameters.tasks`), and read back
//! from there by the reports.

use serde_json::{json, Map, Value};

/// Tasks listed at most; more are counted in a last row
/// (`{"more": n}`), so parameters stay small whatever the test.
pub const MAX_LISTED: usize = 50;
/// Characters kept of a URL or a name.
const MAX_CHARS: usize = 200;

/// One task as the reports list it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskRow {
    /// Its method (`GET`, a websocket's `send`...), upper-cased for HTTP.
    pub method: Option<String>,
    /// Its URL (`request_url` or `url`), as written.
    pub url: Option<String>,
    /// The name its figures are grouped by, when it sets one.
    pub name: Option<String>,
    /// Its weight, when it sets one.
    pub weight: Option<String>,
}

impl TaskRow {
    /// What the task targets: its URL, else its name, else "-".
    pub fn target(&self) -> &str {
        self.url.as_deref().or(self.name.as_deref()).unwrap_or("-")
    }

    /// `METHOD target`, or the target alone.
    pub fn label(&self) -> String {
        match &self.method {
            Some(method) => format!("{method} {}", self.target()),
            None => self.target().to_owned(),
        }
    }
}

fn text(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some(text.chars().take(MAX_CHARS).collect())
}

/// One task's outline; `method` is the legacy map's key, if any.
fn outline_one(task: &Map<String, Value>, method: Option<&str>) -> Value {
    let mut row = Map::new();
    let method = task
        .get("method")
        .and_then(text)
        .or(method.map(str::to_owned));
    if let Some(method) = method {
        row.insert("method".into(), json!(method.to_uppercase()));
    }
    if let Some(url) = ["request_url", "url"]
        .iter()
        .find_map(|key| task.get(*key).and_then(text))
    {
        row.insert("url".into(), json!(url));
    }
    if let Some(name) = task.get("name").and_then(text) {
        row.insert("name".into(), json!(name));
    }
    if let Some(weight) = task.get("weight").filter(|w| w.is_number()) {
        row.insert("weight".into(), weight.clone());
    }
    Value::Object(row)
}

fn push(row: Value, rows: &mut Vec<Value>, more: &mut usize) {
    if rows.len() < MAX_LISTED {
        rows.push(row);
    } else {
        *more += 1;
    }
}

fn walk(tasks: &Value, rows: &mut Vec<Value>, more: &mut usize) {
    match tasks {
        Value::Array(list) => {
            for task in list {
                match task {
                    Value::Object(map) if map.get("tasks").is_some() => {
                        walk(&map["tasks"], rows, more);
                    }
                    Value::Object(map) => push(outline_one(map, None), rows, more),
                    _ => {}
                }
            }
        }
        Value::Object(map) => match map.get("tasks") {
            Some(inner) => walk(inner, rows, more),
            // LoadDensity's legacy form: method -> task.
            None => {
                for (method, task) in map {
                    if let Value::Object(task) = task {
                        push(outline_one(task, Some(method)), rows, more);
                    }
                }
            }
        },
        _ => {}
    }
}

/// The outline of `LD_start_test`'s `tasks`: a list of `{"method", "url",
/// "name", "weight"}` (each key when the task has it), at most
/// [`MAX_LISTED`], then `{"more": n}` if there were more.
pub fn outline(tasks: &Value) -> Value {
    let (mut rows, mut more) = (Vec::new(), 0);
    walk(tasks, &mut rows, &mut more);
    if more > 0 {
        rows.push(json!({ "more": more }));
    }
    Value::Array(rows)
}

/// The rows of an outline (`parameters.tasks`), and how many tasks were
/// not listed.
pub fn rows(outline: &Value) -> (Vec<TaskRow>, u64) {
    let mut rows = Vec::new();
    let mut more = 0;
    for row in outline.as_array().into_iter().flatten() {
        if let Some(n) = row.get("more").and_then(Value::as_u64) {
            more += n;
            continue;
        }
        let field = |key: &str| row.get(key).and_then(text);
        rows.push(TaskRow {
            method: field("method"),
            url: field("url"),
            name: field("name"),
            weight: field("weight"),
        });
    }
    (rows, more)
}

/// What the test is, for a title: its task (`GET /api`) or its number of
/// tasks, and the host it ran against (else its user kind); `None` when no
/// test ran.
pub fn test_label(parameters: &Value) -> Option<String> {
    let user = parameters
        .pointer("/user_detail/user")
        .and_then(Value::as_str);
    let host = parameters
        .get("host")
        .and_then(Value::as_str)
        .or_else(|| {
            parameters
                .pointer("/user_detail/host")
                .and_then(Value::as_str)
        })
        .filter(|h| !h.is_empty());
    let (rows, more) = rows(parameters.get("tasks").unwrap_or(&Value::Null));
    let count = rows.len() as u64 + more;
    let what = match rows.first() {
        Some(row) if count == 1 => row.label(),
        Some(_) => format!("{count} tasks"),
        None => user?.to_owned(),
    };
    let what: String = what.chars().take(MAX_CHARS).collect();
    Some(match (host, user) {
        (Some(host), _) => format!("{what} against {host}"),
        (None, Some(user)) if user != what => format!("{what} ({user})"),
        _ => what,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_is_outlined() {
        let list = json!([
            {"method": "get", "request_url": "/a", "weight": 3},
            {"mode": "sequence", "tasks": [{"method": "post", "url": "/b", "name": "b"}]},
            "junk"
        ]);
        assert_eq!(
            outline(&list),
            json!([{"method": "GET", "url": "/a", "weight": 3},
                   {"method": "POST", "url": "/b", "name": "b"}])
        );
        let legacy = json!({"get": {"request_url": "/x"}});
        assert_eq!(outline(&legacy), json!([{"method": "GET", "url": "/x"}]));
        let mode = json!({"mode": "weighted", "tasks": [{"method": "get", "url": "/y"}]});
        assert_eq!(outline(&mode), json!([{"method": "GET", "url": "/y"}]));
        let many: Vec<Value> = (0..MAX_LISTED + 3)
            .map(|i| json!({"method": "get", "url": format!("/{i}")}))
            .collect();
        let out = outline(&Value::Array(many));
        let (rows, more) = rows(&out);
        assert_eq!((rows.len(), more), (MAX_LISTED, 3));
        assert_eq!(rows[1].label(), "GET /1");
    }

    #[test]
    fn labels_name_the_test() {
        let one = json!({"user_detail": {"user": "fast_http_user"}, "host": "http://h:1",
                         "tasks": [{"method": "GET", "url": "/api"}]});
        assert_eq!(
            test_label(&one).as_deref(),
            Some("GET /api against http://h:1")
        );
        let two = json!({"user_detail": {"user": "fast_http_user"},
                         "tasks": [{"method": "GET", "url": "/a"}, {"name": "b"}]});
        assert_eq!(
            test_label(&two).as_deref(),
            Some("2 tasks (fast_http_user)")
        );
        let bare = json!({"user_detail": {"user": "websocket_user", "host": "ws://w"}});
        assert_eq!(
            test_label(&bare).as_deref(),
            Some("websocket_user against ws://w")
        );
        assert_eq!(test_label(&Value::Null), None);
    }
}
