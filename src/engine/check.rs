//! What a response means for a task: its failure (status, assertions),
//! the values extractors take from it, and `run_if`/`skip_if`.

use serde_json::Value;

use super::http::Response;
use super::memory::Lease;
use super::task::{Assertion, Condition, Extractor, Source, Task};
use crate::json_size::json_size;
use crate::resolver::{Scope, Session};

/// The response's JSON body, parsed at most once, its memory held in the
/// test's response pool while it lives.
#[derive(Debug, Default)]
pub(crate) struct Json {
    parsed: Option<Result<Option<Value>, String>>,
    _memory: Option<Lease>,
}

impl Json {
    /// The body as JSON (`None` when it is not JSON); `Err` when the pool
    /// has not the memory its parse may take.
    fn get<'a>(&'a mut self, response: &Response) -> Result<Option<&'a Value>, &'a str> {
        let Json { parsed, _memory } = self;
        parsed
            .get_or_insert_with(|| {
                let Some(body) = response.body.as_ref() else {
                    return Ok(None);
                };
                // A parsed value takes up to one `Value` (72 bytes) per
                // body byte: `[0,0,...]` is a `Value` per two bytes, in a
                // vector grown by doubling.
                let bytes = body.len().saturating_mul(std::mem::size_of::<Value>());
                *_memory = response.hold_more(bytes)?;
                Ok(serde_json::from_slice(body).ok())
            })
            .as_ref()
            .map(Option::as_ref)
            .map_err(String::as_str)
    }
}

/// The value at a dotted path (`a.0.b`): object keys and list indexes.
fn at_path<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |cursor, part| match cursor {
        Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
        Value::Object(map) => map.get(part),
        _ => None,
    })
}

/// Why the response fails the task, if it does: a status >= 400 unless a
/// `status_code` assertion expects it, or the first failed assertion.
pub(crate) fn failure(
    task: &Task,
    scope: &mut Scope<'_>,
    response: &Response,
    json: &mut Json,
) -> Option<String> {
    let status = response.status.as_u16();
    let status_asserted = task
        .assertions
        .iter()
        .any(|a| matches!(a, Assertion::StatusCode(_)));
    if status >= 400 && !status_asserted {
        return Some(format!("HTTP {status}"));
    }
    let text = || {
        response
            .body
            .as_deref()
            .map(String::from_utf8_lossy)
            .unwrap_or_default()
    };
    for assertion in &task.assertions {
        let failed = match assertion {
            Assertion::StatusCode(expected) => (status != *expected)
                .then(|| format!("status_code expected {expected}, got {status}")),
            Assertion::Contains(needle) => {
                let needle = scope.render_string(needle);
                (!text().contains(&needle)).then(|| format!("body does not contain {needle:?}"))
            }
            Assertion::NotContains(needle) => {
                let needle = scope.render_string(needle);
                text()
                    .contains(&needle)
                    .then(|| format!("body unexpectedly contains {needle:?}"))
            }
            Assertion::JsonPath {
                path,
                written,
                value,
            } => {
                let expected = scope.render_value(value);
                match json.get(response) {
                    Err(reason) => Some(format!("json_path {written}: {reason}")),
                    Ok(body) => {
                        let actual = body.and_then(|body| at_path(body, path));
                        (actual != Some(&expected)).then(|| {
                            let actual =
                                actual.map_or_else(|| "nothing".to_owned(), Value::to_string);
                            format!("json_path {written} expected {expected}, got {actual}")
                        })
                    }
                }
            }
            Assertion::Header { name, value } => {
                let expected = scope.render_string(value);
                let actual = response.headers.get(name).and_then(|v| v.to_str().ok());
                (actual != Some(expected.as_str())).then(|| {
                    format!(
                        "header {name} expected {expected:?}, got {:?}",
                        actual.unwrap_or("nothing")
                    )
                })
            }
        };
        if failed.is_some() {
            return failed;
        }
    }
    None
}

/// Runs the task's extractors on a successful response.
pub(crate) fn extract(
    extractors: &[Extractor],
    session: &mut Session,
    response: &Response,
    json: &mut Json,
) -> Option<String> {
    for extractor in extractors {
        let value = match &extractor.source {
            Source::JsonPath(path) => match json.get(response) {
                Err(reason) => return Some(format!("extract {}: {reason}", extractor.var)),
                Ok(body) => match body.and_then(|body| at_path(body, path)) {
                    // A user keeps its variables for the whole test: one
                    // value may not hold it a kept body's worth of memory.
                    // (Headers are bounded by the head's size already.)
                    Some(found) if json_size(found, MAX_EXTRACTED).is_none() => {
                        return Some(format!(
                            "extract {}: the value is over {} KiB",
                            extractor.var,
                            MAX_EXTRACTED / 1024
                        ));
                    }
                    found => found.cloned(),
                },
            },
            Source::Header(name) => response
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| Value::String(v.to_owned())),
            Source::StatusCode => Some(Value::from(response.status.as_u16())),
        };
        if let Some(value) = value {
            if extractor.session {
                session.set_session_variable(extractor.var.clone(), value);
            } else {
                session.set_variable(extractor.var.clone(), value);
            }
        }
    }
    None
}

/// The largest value an extractor keeps in a user's variables, as JSON text.
pub(crate) const MAX_EXTRACTED: usize = 64 * 1024;

/// Words that make a resolved text false.
const FALSE_WORDS: &[&str] = &["", "false", "0", "no", "none", "null"];

/// LoadDensity's truthiness of a resolved value: an unresolved placeholder,
/// `false`, `0`, `no`, `none`, `null` and blank text are false.
fn truthy(value: &Value) -> bool {
    match value {
        Value::String(text) => {
            let text = text.trim();
            if text.starts_with("${") && text.ends_with('}') {
                return false;
            }
            !FALSE_WORDS.contains(&text.to_ascii_lowercase().as_str())
        }
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::Null => false,
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
    }
}

/// Whether a condition holds.
pub(crate) fn holds(condition: &Condition, scope: &mut Scope<'_>) -> bool {
    match condition {
        Condition::Constant(b) => *b,
        Condition::Truthy(value) => truthy(&scope.render_value(value)),
        Condition::Equals(a, b) => scope.render_value(a) == scope.render_value(b),
        Condition::NotEquals(a, b) => scope.render_value(a) != scope.render_value(b),
        Condition::In(x, list) => {
            let x = scope.render_value(x);
            match scope.render_value(list) {
                Value::Array(items) => items.contains(&x),
                Value::Object(map) => x.as_str().is_some_and(|k| map.contains_key(k)),
                Value::String(text) => x.as_str().is_some_and(|x| text.contains(x)),
                _ => false,
            }
        }
    }
}

/// Whether a task runs: its `run_if` holds and its `skip_if` does not.
pub(crate) fn runs(task: &Task, scope: &mut Scope<'_>) -> bool {
    task.run_if.as_ref().is_none_or(|c| holds(c, scope))
        && !task.skip_if.as_ref().is_some_and(|c| holds(c, scope))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_and_truthiness() {
        let v = json!({"data": {"items": [{"id": 7}]}});
        let path: Vec<String> = ["data", "items", "0", "id"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(at_path(&v, &path), Some(&json!(7)));
        assert_eq!(at_path(&v, &["data".into(), "nope".into()]), None);
        for t in [json!("yes"), json!(1), json!([0]), json!("x")] {
            assert!(truthy(&t), "{t}");
        }
        for f in [
            json!("False"),
            json!(" none "),
            json!("${var.x}"),
            json!(0),
            json!(null),
            json!(""),
        ] {
            assert!(!truthy(&f), "{f}");
        }
    }
}
