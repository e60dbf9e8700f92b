//! YAML through serde-saphyr, with its budget on.

use serde_json::Value;
use serde_saphyr::budget::Budget;
use serde_saphyr::options::Options;

use super::{Format, FormatError};

/// Parser events one document may produce (aliases replayed included):
/// far more than any action file or API description needs.
const MAX_EVENTS: usize = 2_000_000;

/// How deeply mappings and sequences may nest.
const MAX_DEPTH: usize = 64;

pub(super) fn parse(text: &str) -> Result<Value, FormatError> {
    let mut budget = Budget::default();
    budget.max_events = MAX_EVENTS;
    budget.max_depth = MAX_DEPTH;
    budget.max_documents = 1;
    let mut options = Options::default();
    options.budget = Some(budget);
    // YAML 1.2's core schema: only true and false are booleans, so `no`
    // (Norway, a description) stays text (PyYAML's 1.1 reads it as false).
    options.strict_booleans = true;
    let value: Option<Value> = serde_saphyr::from_str_with_options(text, options)
        .map_err(|e| FormatError::new(Format::Yaml, e.to_string()))?;
    Ok(value.unwrap_or(Value::Null))
}

pub(super) fn render(value: &Value) -> Result<String, FormatError> {
    serde_saphyr::to_string(value).map_err(|e| FormatError::new(Format::Yaml, e.to_string()))
}
