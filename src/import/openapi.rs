//! OpenAPI 3.0 and 3.1 descriptions (JSON or YAML) into tasks, as
//! LoadDensity's `openapi_importer.py`: one task per operation, paths in
//! document order, in each the methods in the order written.
//!
//! A task is `{method, request_url, name, assertions}`: the URL is
//! `base_url` (or the first server's URL, its `{variables}` replaced by
//! their defaults), its trailing `/` removed, then the path with each
//! `{p}` written `${var.p}`; the name is the `operationId`, else
//! `"METHOD /path"`; the assertion is the first of 200, 201, 202, 204
//! among the responses, else the first other 2xx, else none.
//!
//! ld-tower additions: each path parameter's value, from its `example`,
//! first `examples` entry, or its schema's `example`, `examples[0]` or
//! `default` (the path item's parameters and the operation's,
//! `#/components/parameters` references followed), is returned in
//! [`Imported::variables`] so the action document can register it and run
//! as is (the first value found for a name wins). A relative server URL
//! (`/v1`, or none given, which OpenAPI reads as `/`) needs `base_url`: an
//! error says so. `trace` operations are left out (a task cannot send
//! TRACE), with a note.

use serde_json::{Map, Value};

use super::{sendable, text_of, too_many, ImportError, Imported, MAX_TASKS};

/// The operation keys of a path item, as LoadDensity reads them.
const HTTP_METHODS: &[&str] = &[
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The tasks of `spec`'s operations, against `base_url` when given (it
/// replaces the first server's URL).
pub fn to_tasks(spec: &Value, base_url: Option<&str>) -> Result<Imported, ImportError> {
    let Value::Object(spec) = spec else {
        return Err(ImportError::new(
            "an OpenAPI description is an object: {\"openapi\": \"3.x\", \"paths\": {...}}",
        ));
    };
    let server = match base_url.filter(|b| !b.is_empty()) {
        Some(base) => base.trim_end_matches('/').to_owned(),
        None => first_server(spec)?,
    };
    if !server.contains("://") {
        let shown = if server.is_empty() { "/" } else { &server };
        return Err(ImportError::new(format!(
            "the server URL {shown:?} is relative: give base_url (the scheme and host, and \
             the server's path, the requests go to)"
        )));
    }
    let paths = match spec.get("paths") {
        None | Some(Value::Null) => return Ok(Imported::default()),
        Some(Value::Object(paths)) => paths,
        Some(_) => return Err(ImportError::new("the description's paths is not an object")),
    };
    let mut imported = Imported::default();
    let mut operations = 0usize;
    for (path, item) in paths {
        let Value::Object(item) = item else { continue };
        for (key, operation) in item {
            let method = key.to_lowercase();
            let Value::Object(operation) = operation else {
                continue;
            };
            if !HTTP_METHODS.contains(&method.as_str()) {
                continue;
            }
            operations += 1;
            if operations > MAX_TASKS {
                return Err(too_many("operations", operations));
            }
            if !sendable(&method) {
                imported.note(format!(
                    "paths.{path}.{key}: left out: a task cannot send {}",
                    method.to_uppercase()
                ));
                continue;
            }
            path_variables(spec, path, item, operation, &mut imported);
            let task = operation_task(&server, path, &method, operation);
            imported.push(task)?;
        }
    }
    Ok(imported)
}

fn first_server(spec: &Map<String, Value>) -> Result<String, ImportError> {
    let Some(Value::Object(server)) = spec
        .get("servers")
        .and_then(Value::as_array)
        .and_then(|s| s.first())
    else {
        return Ok(String::new());
    };
    let url = server.get("url").and_then(Value::as_str).unwrap_or("");
    let variables = server.get("variables").and_then(Value::as_object);
    let mut out = String::with_capacity(url.len());
    let mut rest = url;
    while let Some((before, name, after)) = placeholder(rest) {
        out.push_str(before);
        let value = variables
            .and_then(|v| v.get(name))
            .and_then(|v| v.get("default"))
            .filter(|d| !d.is_null())
            .ok_or_else(|| {
                ImportError::new(format!(
                    "servers[0].url {url:?} uses {{{name}}}, and servers[0].variables.{name} \
                     has no default"
                ))
            })?;
        out.push_str(&text_of(value));
        rest = after;
    }
    out.push_str(rest);
    Ok(out.trim_end_matches('/').to_owned())
}

/// The first `{name}` of `text` (`\{([^}]+)\}`): the text before, the
/// name, the text after.
fn placeholder(text: &str) -> Option<(&str, &str, &str)> {
    let mut from = 0;
    while let Some(open) = text[from..].find('{').map(|at| at + from) {
        let close = text[open + 1..].find('}').map(|at| at + open + 1)?;
        if close > open + 1 {
            return Some((&text[..open], &text[open + 1..close], &text[close + 1..]));
        }
        from = close + 1;
    }
    None
}

/// `path` with each `{p}` written `${var.p}`.
pub(crate) fn with_variables(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 8);
    let mut rest = path;
    while let Some((before, name, after)) = placeholder(rest) {
        out.push_str(before);
        out.push_str("${var.");
        out.push_str(name);
        out.push('}');
        rest = after;
    }
    out.push_str(rest);
    out
}

fn operation_task(server: &str, path: &str, method: &str, operation: &Map<String, Value>) -> Value {
    let mut task = Map::new();
    task.insert("method".into(), method.into());
    task.insert(
        "request_url".into(),
        format!("{server}{}", with_variables(path)).into(),
    );
    let name = match operation.get("operationId") {
        Some(Value::String(id)) if !id.is_empty() => id.clone(),
        _ => format!("{} {path}", method.to_uppercase()),
    };
    task.insert("name".into(), name.into());
    if let Some(status) = expected_status(operation.get("responses")) {
        task.insert(
            "assertions".into(),
            serde_json::json!([{"type": "status_code", "value": status}]),
        );
    }
    Value::Object(task)
}

fn expected_status(responses: Option<&Value>) -> Option<u16> {
    let responses = responses?.as_object()?;
    for code in ["200", "201", "202", "204"] {
        if responses.contains_key(code) {
            return code.parse().ok();
        }
    }
    responses
        .keys()
        .filter_map(|k| k.trim().parse::<u16>().ok())
        .find(|code| (200..300).contains(code))
}

/// Records, for each `{p}` of `path`, the value its parameter's example
/// gives (the first found for a name wins), or a note that none does.
fn path_variables(
    spec: &Map<String, Value>,
    path: &str,
    item: &Map<String, Value>,
    operation: &Map<String, Value>,
    imported: &mut Imported,
) {
    // The path parameters' examples, read once: the operation's override
    // the path item's.
    let mut examples: std::collections::HashMap<&str, String> = Default::default();
    for parameters in [item.get("parameters"), operation.get("parameters")] {
        for parameter in parameters.and_then(Value::as_array).into_iter().flatten() {
            let parameter = resolve(spec, parameter);
            if parameter.get("in").and_then(Value::as_str) != Some("path") {
                continue;
            }
            if let (Some(name), Some(value)) = (
                parameter.get("name").and_then(Value::as_str),
                example(parameter),
            ) {
                examples.insert(name, value);
            }
        }
    }
    let mut rest = path;
    while let Some((_, name, after)) = placeholder(rest) {
        rest = after;
        if imported.variables.contains_key(name) {
            continue;
        }
        match examples.remove(name) {
            Some(value) => {
                imported.variables.insert(name.to_owned(), value.into());
            }
            None => imported.note(format!(
                "path parameter {name} ({path}) has no example or default: register \
                 the variable {name} before the test"
            )),
        }
    }
}

/// A parameter, through one `$ref` to `#/components/parameters/NAME`.
fn resolve<'a>(spec: &'a Map<String, Value>, parameter: &'a Value) -> &'a Value {
    let Some(pointer) = parameter
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/"))
    else {
        return parameter;
    };
    let mut parts = pointer
        .split('/')
        .map(|p| p.replace("~1", "/").replace("~0", "~"));
    let Some(mut at) = parts.next().and_then(|first| spec.get(&first)) else {
        return parameter;
    };
    for part in parts {
        match at.get(part.as_str()) {
            Some(next) => at = next,
            None => return parameter,
        }
    }
    at
}

/// A parameter's example as text: `example`, the first `examples`
/// entry's `value`, the schema's `example`, `examples[0]`, `default`.
fn example(parameter: &Value) -> Option<String> {
    let schema = parameter.get("schema");
    let candidates = [
        parameter.get("example"),
        parameter
            .get("examples")
            .and_then(Value::as_object)
            .and_then(|e| e.values().next())
            .and_then(|e| e.get("value")),
        schema.and_then(|s| s.get("example")),
        schema
            .and_then(|s| s.get("examples"))
            .and_then(Value::as_array)
            .and_then(|e| e.first()),
        schema.and_then(|s| s.get("default")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|v| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)))
        .map(text_of)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn imported(spec: Value, base: Option<&str>) -> Imported {
        match to_tasks(&spec, base) {
            Ok(imported) => imported,
            Err(e) => panic!("{e}"),
        }
    }

    fn spec() -> Value {
        json!({
            "openapi": "3.0.3",
            "servers": [{"url": "{scheme}://api.test:{port}/v1/",
                         "variables": {"scheme": {"default": "https"}, "port": {"default": 8443}}}],
            "components": {"parameters": {"Order": {"name": "order", "in": "path", "required": true,
                                                     "schema": {"type": "string", "default": "o-9"}}}},
            "paths": {
                "/pets": {
                    "get": {"operationId": "listPets", "responses": {"200": {}, "default": {}}},
                    "post": {"responses": {"201": {}}},
                    "trace": {"responses": {"200": {}}},
                    "parameters": [],
                    "summary": "not an operation"
                },
                "/pets/{petId}": {
                    "parameters": [{"name": "petId", "in": "path", "schema": {"example": 7}}],
                    "delete": {"responses": {"2XX": {}, "299": {}}},
                    "PUT": {"parameters": [{"name": "petId", "in": "path", "example": "p-1"}],
                            "responses": {"default": {}}}
                },
                "/orders/{order}/lines/{line}": {
                    "get": {"parameters": [{"$ref": "#/components/parameters/Order"}]}
                }
            }
        })
    }

    #[test]
    fn operations_become_loaddensity_tasks() {
        let imported = imported(spec(), None);
        assert_eq!(
            imported.tasks,
            vec![
                json!({"method": "get", "request_url": "https://api.test:8443/v1/pets",
                       "name": "listPets", "assertions": [{"type": "status_code", "value": 200}]}),
                json!({"method": "post", "request_url": "https://api.test:8443/v1/pets",
                       "name": "POST /pets", "assertions": [{"type": "status_code", "value": 201}]}),
                json!({"method": "delete", "request_url": "https://api.test:8443/v1/pets/${var.petId}",
                       "name": "DELETE /pets/{petId}",
                       "assertions": [{"type": "status_code", "value": 299}]}),
                json!({"method": "put", "request_url": "https://api.test:8443/v1/pets/${var.petId}",
                       "name": "PUT /pets/{petId}"}),
                json!({"method": "get",
                       "request_url": "https://api.test:8443/v1/orders/${var.order}/lines/${var.line}",
                       "name": "GET /orders/{order}/lines/{line}"}),
            ]
        );
        assert_eq!(
            Value::Object(imported.variables),
            json!({"petId": "7", "order": "o-9"})
        );
        assert_eq!(
            imported.notes,
            [
                "paths./pets.trace: left out: a task cannot send TRACE",
                "path parameter line (/orders/{order}/lines/{line}) has no example or default: \
                 register the variable line before the test"
            ]
        );
        let tasks = Value::Array(imported.tasks);
        assert!(crate::engine::Scenario::parse(&tasks).is_ok());
    }

    #[test]
    fn base_url_replaces_the_server() {
        let imported = imported(spec(), Some("http://127.0.0.1:9/"));
        assert_eq!(imported.tasks[0]["request_url"], "http://127.0.0.1:9/pets");
    }

    #[test]
    fn relative_servers_and_missing_defaults_are_errors() {
        let message = |spec: Value| {
            to_tasks(&spec, None)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(message(json!({"servers": [{"url": "/v1"}], "paths": {}}))
            .starts_with("the server URL \"/v1\" is relative: give base_url"));
        assert!(message(json!({"paths": {}})).starts_with("the server URL \"/\" is relative"));
        assert!(message(json!({"servers": [{"url": "http://h:{port}"}]}))
            .contains("uses {port}, and servers[0].variables.port has no default"));
        assert!(message(json!([])).starts_with("an OpenAPI description is an object"));
        let many: Map<String, Value> = (0..=MAX_TASKS)
            .map(|i| (format!("/p{i}"), json!({"get": {}})))
            .collect();
        assert!(
            message(json!({"servers": [{"url": "http://h"}], "paths": many}))
                .contains("10001 operations, over the 10000")
        );
    }

    #[test]
    fn yaml_status_keys_are_read() {
        let yaml = "openapi: 3.1.0\nservers: [{url: 'http://h'}]\npaths:\n  /a:\n    get:\n      responses:\n        204: {description: none}\n";
        let spec = super::super::parse_document(yaml.as_bytes(), "spec", true);
        let spec = spec.map_err(|e| e.to_string());
        let Ok(spec) = spec else { panic!("{spec:?}") };
        assert_eq!(imported(spec, None).tasks[0]["assertions"][0]["value"], 204);
    }
}
