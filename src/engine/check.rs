//! What a response means for a task: its failure (status, assertions),
//! the values extractors take from it, and `run_if`/`skip_if`.

use serde_json::Value;

use super::http::Response;
use super::memory::Lease;
use super::retry::Class;
use super::task::{Assertion, Condition, Extractor, Head, Source, Task};
use crate::json_size::json_size;
use crate::redact;
use crate::resolver::Scope;

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

/// Why the response fails the task, if it does, with its retry class: a
/// status >= 400 unless a `status_code` assertion expects it (permanent),
/// or the first failed assertion (flaky).
pub(crate) fn failure(
    task: &Task,
    scope: &mut Scope<'_>,
    response: &Response,
    json: &mut Json,
) -> Option<(String, Class)> {
    let status = response.status.as_u16();
    let status_asserted = task
        .assertions
        .iter()
        .any(|a| matches!(a, Assertion::StatusCode(_)));
    if status >= 400 && !status_asserted {
        return Some((format!("HTTP {status}"), Class::Permanent));
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
            Assertion::JsonPath { query, value } => {
                let expected = scope.render_value(value);
                match json.get(response) {
                    Err(reason) => Some(format!("json_path {query}: {reason}")),
                    Ok(body) => {
                        // Nothing found is `null`, as LoadDensity's `None`.
                        let actual = body
                            .and_then(|body| query.find(body))
                            .unwrap_or(Value::Null);
                        (actual != expected).then(|| {
                            let actual = if actual.is_null() {
                                "nothing".to_owned()
                            } else {
                                actual.to_string()
                            };
                            format!("json_path {query} expected {expected}, got {actual}")
                        })
                    }
                }
            }
            Assertion::Header { name, value } => {
                let expected = scope.render_string(value);
                let actual = response.headers.get(name).and_then(|v| v.to_str().ok());
                (actual != Some(expected.as_str())).then(|| {
                    // A credential's values are not shown (`Set-Cookie`).
                    let shown = |value: &str| redact::quoted(name.as_str(), value);
                    let got = actual.map_or_else(|| "nothing".to_owned(), shown);
                    format!(
                        "header {name} expected {}, got {got}",
                        shown(expected.as_str())
                    )
                })
            }
        };
        if let Some(failed) = failed {
            return Some((failed, Class::Flaky));
        }
    }
    None
}

/// The values the task's extractors take from a successful response, to
/// set in the user's variables; an extractor that finds nothing fails the
/// request (the next request would otherwise carry its placeholder as
/// written), naming what it looked for.
pub(crate) fn extract<'t>(
    extractors: &'t [Extractor],
    response: &Response,
    json: &mut Json,
) -> Result<Vec<(&'t Extractor, Value)>, String> {
    let mut values = Vec::new();
    for extractor in extractors {
        let var = &extractor.var;
        let value = match &extractor.source {
            Source::JsonPath(query) => match json.get(response) {
                Err(reason) => return Err(format!("extract {var}: {reason}")),
                Ok(None) => {
                    return Err(format!(
                        "extract {var}: json_path {query}: the body is not JSON"
                    ))
                }
                Ok(Some(body)) => match query.find(body) {
                    None => return Err(format!("extract {var}: json_path {query} found nothing")),
                    // A user keeps its variables for the whole test: one
                    // value may not hold it a kept body's worth of memory.
                    // (Headers are bounded by the head's size already.)
                    Some(found) if json_size(&found, MAX_EXTRACTED).is_none() => {
                        return Err(format!(
                            "extract {var}: the value is over {} KiB",
                            MAX_EXTRACTED / 1024
                        ));
                    }
                    Some(found) => found,
                },
            },
            Source::Header(name) => {
                match response.headers.get(name).and_then(|v| v.to_str().ok()) {
                    Some(v) => Value::String(v.to_owned()),
                    None => return Err(format!("extract {var}: no {name} header in the response")),
                }
            }
            Source::StatusCode => Value::from(response.status.as_u16()),
        };
        values.push((extractor, value));
    }
    Ok(values)
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
pub(crate) fn runs(task: &Head, scope: &mut Scope<'_>) -> bool {
    task.run_if.as_ref().is_none_or(|c| holds(c, scope))
        && !task.skip_if.as_ref().is_some_and(|c| holds(c, scope))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn truthiness() {
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
