//! Tasks: what a virtual user does, parsed once from LoadDensity's task
//! JSON (`ACTIONS.md`, "Tasks") into templates ready to render.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use http::header::HeaderName;
use http::Method;
use serde_json::{Map, Value};

use super::http::Keep;
use crate::resolver::{Template, TemplateValue};

/// Why a task list is not one ld-tower can run. The message names the task
/// (by its 1-based position) and the key at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TaskError(String);

fn fail<T>(message: impl Into<String>) -> Result<T, TaskError> {
    Err(TaskError(message.into()))
}

/// How a user walks its tasks on each iteration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Every task, in order (skipping those whose conditions say so).
    Sequence,
    /// One task, picked by weight.
    Weighted,
    /// Every task in order, each run only when its `run_if`/`skip_if` allow.
    Conditional,
}

/// The tasks of a test and how they are walked.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// How the tasks are walked.
    pub mode: Mode,
    /// The tasks.
    pub tasks: Vec<Task>,
}

/// One request a user makes.
#[derive(Clone, Debug)]
pub struct Task {
    /// What figures are grouped by: `name`, or the URL as written.
    pub name: Arc<str>,
    /// The HTTP method.
    pub method: Method,
    /// Absolute, or relative to the test's host.
    pub url: Template,
    /// Request headers.
    pub headers: Vec<(HeaderName, Template)>,
    /// Query parameters, appended to the URL.
    pub params: Vec<(String, Template)>,
    /// Cookies, sent in one `Cookie` header.
    pub cookies: Vec<(String, Template)>,
    /// The body.
    pub body: Body,
    /// This request's timeout (the test's default otherwise).
    pub timeout: Option<Duration>,
    /// Basic or bearer credentials.
    pub auth: Option<Auth>,
    /// Checks on the response; a failed one fails the request.
    pub assertions: Vec<Assertion>,
    /// Values taken from the response into the user's variables.
    pub extract: Vec<Extractor>,
    /// Weight in `weighted` mode.
    pub weight: u32,
    /// Run only when this holds.
    pub run_if: Option<Condition>,
    /// Skip when this holds.
    pub skip_if: Option<Condition>,
    /// What of the response assertions and extractors read: the body
    /// (else it is drained unread), the headers (else they are parsed for
    /// framing only, not copied).
    pub keep: Keep,
    /// The request's URI when it is known before the test (no placeholder,
    /// no params): set by [`Scenario::with_base`].
    pub static_uri: Option<http::Uri>,
}

/// A request body.
#[derive(Clone, Debug)]
pub enum Body {
    /// None.
    None,
    /// `json`: sent as `application/json`.
    Json(TemplateValue),
    /// `data` as an object: sent as `application/x-www-form-urlencoded`.
    Form(Vec<(String, Template)>),
    /// `data` as a string: sent as it is.
    Raw(Template),
}

/// Credentials.
#[derive(Clone, Debug)]
pub enum Auth {
    /// `Authorization: Basic base64(username:password)`.
    Basic {
        /// The user name.
        username: Template,
        /// The password.
        password: Template,
    },
    /// `Authorization: Bearer TOKEN`.
    Bearer(Template),
}

/// A check on a response.
#[derive(Clone, Debug)]
pub enum Assertion {
    /// The status code is this one (and then a status >= 400 is no failure by itself).
    StatusCode(u16),
    /// The body contains this text.
    Contains(Template),
    /// The body does not contain this text.
    NotContains(Template),
    /// The JSON body has this value at this dotted path (`a.0.b`).
    JsonPath {
        /// The path's segments.
        path: Vec<String>,
        /// The dotted path as written, for messages.
        written: String,
        /// The expected value.
        value: TemplateValue,
    },
    /// The response has this header with this value.
    Header {
        /// The header.
        name: HeaderName,
        /// Its expected value.
        value: Template,
    },
}

/// Where an extractor takes its value from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// The JSON body at a dotted path.
    JsonPath(Vec<String>),
    /// A response header.
    Header(HeaderName),
    /// The status code.
    StatusCode,
}

/// Takes a value from the response into the user's variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extractor {
    /// The variable to set.
    pub var: String,
    /// Where the value comes from.
    pub source: Source,
    /// `${session.NAME}` rather than `${var.NAME}`.
    pub session: bool,
}

/// A `run_if`/`skip_if` predicate.
#[derive(Clone, Debug)]
pub enum Condition {
    /// `true`, `false`, or an integer (non-zero is true).
    Constant(bool),
    /// Truthy after resolving (`"${var.x}"`, `{"truthy": v}`).
    Truthy(TemplateValue),
    /// `{"equals": [a, b]}`.
    Equals(TemplateValue, TemplateValue),
    /// `{"not_equals": [a, b]}`.
    NotEquals(TemplateValue, TemplateValue),
    /// `{"in": [x, list]}`.
    In(TemplateValue, TemplateValue),
}

/// The keys a task may have.
const TASK_KEYS: &[&str] = &[
    "method",
    "request_url",
    "url",
    "name",
    "headers",
    "params",
    "cookies",
    "json",
    "data",
    "timeout",
    "auth",
    "assertions",
    "extract",
    "weight",
    "run_if",
    "skip_if",
];

impl Scenario {
    /// Parses `tasks`: a list of tasks, `{"mode": ..., "tasks": [...]}`, or
    /// LoadDensity's legacy map `{"get": {...}, "post": {...}}`.
    pub fn parse(tasks: &Value) -> Result<Scenario, TaskError> {
        let (mode, list) = match tasks {
            Value::Object(map) if map.contains_key("tasks") => {
                let mode = match map.get("mode").map(|m| m.as_str().map(str::to_ascii_lowercase)) {
                    None => Mode::Sequence,
                    Some(Some(m)) if m == "sequence" => Mode::Sequence,
                    Some(Some(m)) if m == "weighted" => Mode::Weighted,
                    Some(Some(m)) if m == "conditional" => Mode::Conditional,
                    Some(other) => {
                        return fail(format!(
                            "tasks: mode {:?} is not one of \"sequence\", \"weighted\", \"conditional\"",
                            other.unwrap_or_default()
                        ))
                    }
                };
                if let Some(key) = map.keys().find(|k| *k != "mode" && *k != "tasks") {
                    return fail(format!(
                        "tasks: unknown key {key:?} (expected \"mode\" and \"tasks\")"
                    ));
                }
                (mode, task_list(&map["tasks"])?)
            }
            other => (Mode::Sequence, task_list(other)?),
        };
        if list.is_empty() {
            return fail("tasks: no task given");
        }
        let tasks = list
            .iter()
            .enumerate()
            .map(|(i, (method, task))| Task::parse(i + 1, method.as_deref(), task))
            .collect::<Result<Vec<_>, _>>()?;
        if mode == Mode::Weighted && tasks.iter().all(|t| t.weight == 0) {
            return fail("tasks: in weighted mode at least one task needs a weight above 0");
        }
        Ok(Scenario { mode, tasks })
    }
}

impl Scenario {
    /// Makes the URIs known before the test (no placeholder, no params)
    /// absolute against `base` and parses them once. A relative URL with no
    /// base, or one that does not parse, is left to fail on each request,
    /// with its reason.
    pub fn with_base(mut self, base: Option<&str>) -> Scenario {
        for task in &mut self.tasks {
            task.static_uri = match (task.url.as_static(), task.params.is_empty()) {
                (Some(url), true) => super::user::absolute(url.to_owned(), base)
                    .ok()
                    .and_then(|url| url.parse().ok()),
                _ => None,
            };
        }
        self
    }

    /// Keeps at most `max` request names: the tasks of names past the first
    /// `max` distinct ones (in task order) are counted under
    /// [`OTHER_NAMES`]. Figures cost about 190 KB per name and worker, so a
    /// task list of thousands of names would otherwise cost gigabytes.
    /// Returns how many names were folded.
    pub fn cap_names(&mut self, max: usize) -> usize {
        let mut kept = HashSet::new();
        let mut folded = HashSet::new();
        let other: Arc<str> = Arc::from(OTHER_NAMES);
        for task in &mut self.tasks {
            if kept.contains(&task.name) {
                continue;
            }
            if kept.len() < max {
                kept.insert(Arc::clone(&task.name));
                continue;
            }
            folded.insert(std::mem::replace(&mut task.name, Arc::clone(&other)));
        }
        folded.len()
    }
}

impl Scenario {
    /// How many request names its tasks have.
    pub fn name_count(&self) -> usize {
        self.tasks
            .iter()
            .map(|t| &t.name)
            .collect::<HashSet<_>>()
            .len()
    }
}

impl Scenario {
    /// The names the `${env.NAME}` placeholders of its tasks read, from
    /// every template a task renders: URL, headers, params, cookies, body,
    /// auth, assertions, `run_if` and `skip_if` (names, object keys and
    /// extractors are not rendered). Task by task, with repeats.
    pub fn env_names(&self) -> impl Iterator<Item = &str> {
        self.tasks.iter().flat_map(|task| {
            let mut templates = vec![&task.url];
            let mut values = Vec::new();
            templates.extend(task.headers.iter().map(|(_, value)| value));
            templates.extend(
                task.params
                    .iter()
                    .chain(&task.cookies)
                    .map(|(_, value)| value),
            );
            match &task.body {
                Body::None => {}
                Body::Json(value) => values.push(value),
                Body::Form(pairs) => templates.extend(pairs.iter().map(|(_, value)| value)),
                Body::Raw(text) => templates.push(text),
            }
            match &task.auth {
                None => {}
                Some(Auth::Basic { username, password }) => templates.extend([username, password]),
                Some(Auth::Bearer(token)) => templates.push(token),
            }
            for assertion in &task.assertions {
                match assertion {
                    Assertion::StatusCode(_) => {}
                    Assertion::Contains(text)
                    | Assertion::NotContains(text)
                    | Assertion::Header { value: text, .. } => templates.push(text),
                    Assertion::JsonPath { value, .. } => values.push(value),
                }
            }
            for condition in task.run_if.iter().chain(&task.skip_if) {
                match condition {
                    Condition::Constant(_) => {}
                    Condition::Truthy(value) => values.push(value),
                    Condition::Equals(a, b) | Condition::NotEquals(a, b) | Condition::In(a, b) => {
                        values.extend([a, b])
                    }
                }
            }
            templates
                .into_iter()
                .flat_map(Template::env_names)
                .chain(values.into_iter().flat_map(TemplateValue::env_names))
        })
    }
}

/// The request name that names past a test's `max_names` are counted under.
pub const OTHER_NAMES: &str = "(other names)";

/// A task object, with the method its legacy map key gave it.
type Listed<'a> = (Option<String>, &'a Map<String, Value>);

/// The tasks as (method from a legacy map key, task object) pairs.
fn task_list(tasks: &Value) -> Result<Vec<Listed<'_>>, TaskError> {
    match tasks {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Object(task) => Ok((None, task)),
                _ => fail(format!("task {}: not an object", i + 1)),
            })
            .collect(),
        Value::Object(map) => map
            .iter()
            .enumerate()
            .map(|(i, (method, task))| match task {
                Value::Object(task) => Ok((Some(method.clone()), task)),
                _ => fail(format!("task {} ({method}): not an object", i + 1)),
            })
            .collect(),
        Value::Null => fail("tasks: missing (give a list of tasks)"),
        _ => fail("tasks: expected a list of tasks, {\"mode\": ..., \"tasks\": [...]}, or {\"get\": {...}}"),
    }
}

impl Task {
    fn parse(
        index: usize,
        legacy_method: Option<&str>,
        task: &Map<String, Value>,
    ) -> Result<Task, TaskError> {
        let at = |key: &str, what: String| TaskError(format!("task {index}: {key}: {what}"));
        if let Some(key) = task.keys().find(|k| !TASK_KEYS.contains(&k.as_str())) {
            return fail(format!(
                "task {index}: key {key:?} is not supported by ld-tower (supported: {})",
                TASK_KEYS.join(", ")
            ));
        }
        let method_text = match (task.get("method"), legacy_method) {
            (Some(Value::String(m)), _) => m.clone(),
            (None, Some(m)) => m.to_owned(),
            (Some(_), _) => return Err(at("method", "not a string".into())),
            (None, None) => return Err(at("method", "missing".into())),
        };
        let method = match method_text.to_ascii_lowercase().as_str() {
            "get" => Method::GET,
            "post" => Method::POST,
            "put" => Method::PUT,
            "patch" => Method::PATCH,
            "delete" => Method::DELETE,
            "head" => Method::HEAD,
            "options" => Method::OPTIONS,
            other => {
                return Err(at(
                    "method",
                    format!("{other:?} is not one of get, post, put, patch, delete, head, options"),
                ))
            }
        };
        let url_text = match (task.get("request_url"), task.get("url")) {
            (Some(Value::String(u)), _) | (None, Some(Value::String(u))) => u.clone(),
            (None, None) => return Err(at("request_url", "missing (request_url or url)".into())),
            _ => return Err(at("request_url", "not a string".into())),
        };
        let name: Arc<str> = match task.get("name") {
            None | Some(Value::Null) => Arc::from(url_text.as_str()),
            Some(Value::String(name)) => Arc::from(name.as_str()),
            Some(_) => return Err(at("name", "not a string".into())),
        };
        let pairs = |key: &str| -> Result<Vec<(String, Template)>, TaskError> {
            match task.get(key) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Object(map)) => Ok(map
                    .iter()
                    .map(|(k, v)| (k.clone(), template_of(v)))
                    .collect()),
                Some(_) => Err(at(key, "not an object".into())),
            }
        };
        let headers = pairs("headers")?
            .into_iter()
            .map(|(k, v)| {
                HeaderName::try_from(k.as_str())
                    .map(|name| (name, v))
                    .map_err(|_| at("headers", format!("{k:?} is not a header name")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let json = task.get("json").filter(|v| !v.is_null());
        let data = task.get("data").filter(|v| !v.is_null());
        let body = match (json, data) {
            (Some(json), None) => Body::Json(TemplateValue::parse(json)),
            (None, Some(Value::Object(map))) => Body::Form(
                map.iter()
                    .map(|(k, v)| (k.clone(), template_of(v)))
                    .collect(),
            ),
            (None, Some(Value::String(raw))) => Body::Raw(Template::parse(raw)),
            (None, None) => Body::None,
            (None, Some(_)) => return Err(at("data", "not an object or a string".into())),
            (Some(_), Some(_)) => return Err(at("json", "give json or data, not both".into())),
        };
        let timeout = match task.get("timeout") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => {
                match n.as_f64().and_then(|s| Duration::try_from_secs_f64(s).ok()) {
                    Some(d) if !d.is_zero() => Some(d),
                    _ => return Err(at("timeout", "must be a positive number of seconds".into())),
                }
            }
            Some(_) => return Err(at("timeout", "must be a number of seconds".into())),
        };
        let auth = match task.get("auth") {
            None | Some(Value::Null) => None,
            Some(Value::Object(auth)) => Some(parse_auth(auth).map_err(|e| at("auth", e))?),
            Some(_) => return Err(at("auth", "not an object".into())),
        };
        let assertions = list_of(task, "assertions")
            .map_err(|e| at("assertions", e))?
            .iter()
            .enumerate()
            .map(|(i, a)| {
                parse_assertion(a).map_err(|e| at("assertions", format!("#{}: {e}", i + 1)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let extract = list_of(task, "extract")
            .map_err(|e| at("extract", e))?
            .iter()
            .enumerate()
            .map(|(i, x)| parse_extractor(x).map_err(|e| at("extract", format!("#{}: {e}", i + 1))))
            .collect::<Result<Vec<_>, _>>()?;
        let weight = match task.get("weight") {
            None | Some(Value::Null) => 1,
            Some(w) => w
                .as_u64()
                .and_then(|w| u32::try_from(w).ok())
                .ok_or_else(|| at("weight", "must be a whole number from 0".into()))?,
        };
        let condition = |key: &str| match task.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(c) => parse_condition(c).map(Some).map_err(|e| at(key, e)),
        };
        let body_read = assertions.iter().any(|a| {
            matches!(
                a,
                Assertion::Contains(_) | Assertion::NotContains(_) | Assertion::JsonPath { .. }
            )
        }) || extract
            .iter()
            .any(|x| matches!(x.source, Source::JsonPath(_)));
        let headers_read = assertions
            .iter()
            .any(|a| matches!(a, Assertion::Header { .. }))
            || extract
                .iter()
                .any(|x| matches!(x.source, Source::Header(_)));
        Ok(Task {
            name,
            method,
            url: Template::parse(&url_text),
            headers,
            params: pairs("params")?,
            cookies: pairs("cookies")?,
            body,
            timeout,
            auth,
            assertions,
            extract,
            weight,
            run_if: condition("run_if")?,
            skip_if: condition("skip_if")?,
            keep: Keep {
                body: body_read,
                headers: headers_read,
            },
            static_uri: None,
        })
    }
}

/// A scalar as a template: strings as written, numbers and booleans as JSON text.
fn template_of(value: &Value) -> Template {
    match value {
        Value::String(text) => Template::parse(text),
        other => Template::parse(&other.to_string()),
    }
}

fn list_of<'a>(task: &'a Map<String, Value>, key: &str) -> Result<&'a [Value], String> {
    match task.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err("not a list".into()),
    }
}

fn text<'a>(map: &'a Map<String, Value>, key: &str) -> Result<&'a str, String> {
    map.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{key:?} missing or not a string"))
}

fn parse_auth(auth: &Map<String, Value>) -> Result<Auth, String> {
    match text(auth, "type")?.to_ascii_lowercase().as_str() {
        "basic" => Ok(Auth::Basic {
            username: Template::parse(text(auth, "username")?),
            password: Template::parse(auth.get("password").and_then(Value::as_str).unwrap_or("")),
        }),
        "bearer" => Ok(Auth::Bearer(Template::parse(text(auth, "token")?))),
        other => Err(format!("type {other:?} is not \"basic\" or \"bearer\"")),
    }
}

fn path_of(path: &str) -> Vec<String> {
    path.split('.')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_assertion(assertion: &Value) -> Result<Assertion, String> {
    let Value::Object(a) = assertion else {
        return Err("not an object".into());
    };
    let value = a.get("value").ok_or("\"value\" missing")?;
    match text(a, "type")?.to_ascii_lowercase().as_str() {
        "status_code" => value
            .as_u64()
            .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
            .and_then(|v| u16::try_from(v).ok())
            .map(Assertion::StatusCode)
            .ok_or_else(|| "status_code: value must be a status code".into()),
        "contains" => Ok(Assertion::Contains(template_of(value))),
        "not_contains" => Ok(Assertion::NotContains(template_of(value))),
        "json_path" => {
            let written = text(a, "path")?.to_owned();
            Ok(Assertion::JsonPath {
                path: path_of(&written),
                written,
                value: TemplateValue::parse(value),
            })
        }
        "header" => {
            let name = text(a, "name")?;
            Ok(Assertion::Header {
                name: HeaderName::try_from(name)
                    .map_err(|_| format!("{name:?} is not a header name"))?,
                value: template_of(value),
            })
        }
        other => Err(format!(
            "type {other:?} is not one of status_code, contains, not_contains, json_path, header"
        )),
    }
}

fn parse_extractor(extractor: &Value) -> Result<Extractor, String> {
    let Value::Object(x) = extractor else {
        return Err("not an object".into());
    };
    let var = text(x, "var")?.to_owned();
    let from = x.get("from").and_then(Value::as_str).unwrap_or("json_path");
    let source = match from.to_ascii_lowercase().as_str() {
        "json_path" => Source::JsonPath(path_of(text(x, "path")?)),
        "header" => {
            let name = text(x, "name")?;
            Source::Header(
                HeaderName::try_from(name).map_err(|_| format!("{name:?} is not a header name"))?,
            )
        }
        "status_code" => Source::StatusCode,
        other => {
            return Err(format!(
                "from {other:?} is not one of json_path, header, status_code"
            ))
        }
    };
    let session = match x.get("scope").and_then(Value::as_str) {
        None | Some("var") => false,
        Some("session") => true,
        Some(other) => return Err(format!("scope {other:?} is not \"var\" or \"session\"")),
    };
    Ok(Extractor {
        var,
        source,
        session,
    })
}

fn pair(args: &Value) -> Result<(TemplateValue, TemplateValue), String> {
    match args {
        Value::Array(items) if items.len() == 2 => Ok((
            TemplateValue::parse(&items[0]),
            TemplateValue::parse(&items[1]),
        )),
        _ => Err("expects a list of two values".into()),
    }
}

fn parse_condition(condition: &Value) -> Result<Condition, String> {
    match condition {
        Value::Bool(b) => Ok(Condition::Constant(*b)),
        Value::Number(n) => Ok(Condition::Constant(n.as_f64().is_some_and(|n| n != 0.0))),
        Value::String(_) => Ok(Condition::Truthy(TemplateValue::parse(condition))),
        Value::Object(map) if map.len() == 1 => {
            let (op, args) = map.iter().next().ok_or("empty condition")?;
            match op.to_ascii_lowercase().as_str() {
                "equals" => pair(args).map(|(a, b)| Condition::Equals(a, b)),
                "not_equals" => pair(args).map(|(a, b)| Condition::NotEquals(a, b)),
                "in" => pair(args).map(|(a, b)| Condition::In(a, b)),
                "truthy" => Ok(Condition::Truthy(TemplateValue::parse(args))),
                other => Err(format!("{other:?} is not one of equals, not_equals, in, truthy")),
            }
        }
        _ => Err("expected true/false, a number, \"${var.x}\", or {\"equals\"|\"not_equals\"|\"in\"|\"truthy\": ...}".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn forms_of_task_lists() {
        let list = Scenario::parse(&json!([{"method": "GET", "request_url": "/a"}])).expect("list");
        assert_eq!((list.mode, list.tasks.len()), (Mode::Sequence, 1));
        assert_eq!(list.tasks[0].method, Method::GET);
        assert_eq!(&*list.tasks[0].name, "/a");
        let legacy = Scenario::parse(
            &json!({"get": {"request_url": "/a"}, "post": {"request_url": "/b", "name": "b"}}),
        )
        .expect("legacy map");
        assert_eq!(legacy.tasks[1].method, Method::POST);
        assert_eq!(&*legacy.tasks[1].name, "b");
        let weighted = Scenario::parse(&json!({"mode": "weighted", "tasks": [
            {"method": "get", "url": "/a", "weight": 3}, {"method": "get", "url": "/b", "weight": 0}]}))
        .expect("weighted");
        assert_eq!(weighted.mode, Mode::Weighted);
        assert_eq!(weighted.tasks[0].weight, 3);
    }

    #[test]
    fn errors_name_the_task_and_key() {
        let err = |v: Value| {
            Scenario::parse(&v)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err(json!([{"method": "get", "url": "/", "think_time": 1}]))
            .contains("task 1: key \"think_time\""));
        assert!(
            err(json!([{"method": "get", "url": "/"}, {"method": "fetch", "url": "/"}]))
                .contains("task 2: method")
        );
        assert!(err(json!([{"method": "get"}])).contains("task 1: request_url"));
        assert!(err(
            json!([{"method": "get", "url": "/", "assertions": [{"type": "size", "value": 1}]}])
        )
        .contains("task 1: assertions: #1"));
        assert!(err(json!({"mode": "random", "tasks": []})).contains("mode"));
        assert!(err(json!([])).contains("no task"));
        assert!(err(json!([{"method": "get", "url": "/", "timeout": -1}])).contains("timeout"));
    }

    #[test]
    fn body_and_checks() {
        let s = Scenario::parse(&json!([{
            "method": "post", "url": "/login", "json": {"user": "${var.u}"},
            "assertions": [{"type": "status_code", "value": 201}, {"type": "json_path", "path": "data.token", "value": "x"}],
            "extract": [{"var": "tok", "from": "json_path", "path": "data.token"}, {"var": "s", "from": "status_code", "scope": "session"}],
            "auth": {"type": "bearer", "token": "${var.tok}"},
            "run_if": {"equals": ["${var.a}", "b"]}
        }]))
        .expect("parses");
        let t = &s.tasks[0];
        assert!(matches!(t.body, Body::Json(_)));
        assert!(t.keep.body);
        assert_eq!(
            t.extract[1],
            Extractor {
                var: "s".into(),
                source: Source::StatusCode,
                session: true
            }
        );
        assert!(matches!(t.run_if, Some(Condition::Equals(_, _))));
        assert!(matches!(t.auth, Some(Auth::Bearer(_))));
    }

    #[test]
    fn names_past_the_cap_are_folded_into_one() {
        let tasks: Vec<Value> = (0..10)
            .map(|i| json!({"name": format!("n{}", i % 6), "method": "get", "url": "/"}))
            .collect();
        let mut s = Scenario::parse(&Value::Array(tasks)).expect("parses");
        assert_eq!(s.name_count(), 6);
        assert_eq!(s.cap_names(4), 2, "n4 and n5 folded");
        let names: Vec<&str> = s.tasks.iter().map(|t| &*t.name).collect();
        assert_eq!(
            names,
            [
                "n0",
                "n1",
                "n2",
                "n3",
                OTHER_NAMES,
                OTHER_NAMES,
                "n0",
                "n1",
                "n2",
                "n3"
            ]
        );
        assert_eq!(s.name_count(), 5);
        assert_eq!(s.cap_names(5), 0);
    }
}
