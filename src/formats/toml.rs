//! TOML through the toml crate (already read for the token file).

use serde_json::{Map, Number, Value};

use super::{Format, FormatError};

pub(super) fn parse(text: &str) -> Result<Value, FormatError> {
    let table: ::toml::Table =
        ::toml::from_str(text).map_err(|e| FormatError::new(Format::Toml, e.to_string()))?;
    Ok(to_json(::toml::Value::Table(table)))
}

/// A TOML value as JSON: a date or time becomes its text (as written).
fn to_json(value: ::toml::Value) -> Value {
    match value {
        ::toml::Value::String(s) => Value::String(s),
        ::toml::Value::Integer(i) => Value::from(i),
        ::toml::Value::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
        ::toml::Value::Boolean(b) => Value::Bool(b),
        ::toml::Value::Datetime(d) => Value::String(d.to_string()),
        ::toml::Value::Array(items) => Value::Array(items.into_iter().map(to_json).collect()),
        ::toml::Value::Table(table) => Value::Object(
            table
                .into_iter()
                .map(|(key, value)| (key, to_json(value)))
                .collect::<Map<_, _>>(),
        ),
    }
}

pub(super) fn render(value: &Value) -> Result<String, FormatError> {
    let Value::Object(map) = value else {
        return Err(FormatError::new(
            Format::Toml,
            "the top level must be an object (a TOML table), e.g. {\"load_density\": [...]}",
        ));
    };
    let mut table = ::toml::Table::new();
    for (key, value) in map {
        table.insert(key.clone(), to_toml(value, &format!("$.{key}"))?);
    }
    ::toml::to_string(&table).map_err(|e| FormatError::new(Format::Toml, e.to_string()))
}

/// A JSON value as TOML, or why not (`path` says where).
fn to_toml(value: &Value, path: &str) -> Result<::toml::Value, FormatError> {
    Ok(match value {
        Value::Null => {
            return Err(FormatError::new(
                Format::Toml,
                format!("{path} is null, which TOML cannot hold (leave the key out)"),
            ))
        }
        Value::Bool(b) => ::toml::Value::Boolean(*b),
        Value::String(s) => ::toml::Value::String(s.clone()),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => ::toml::Value::Integer(i),
            (None, Some(_)) if n.is_u64() => {
                return Err(FormatError::new(
                    Format::Toml,
                    format!("{path} is {n}, over TOML's largest integer"),
                ))
            }
            (None, Some(f)) => ::toml::Value::Float(f),
            (None, None) => {
                return Err(FormatError::new(
                    Format::Toml,
                    format!("{path} is {n}, not a number TOML can hold"),
                ))
            }
        },
        Value::Array(items) => ::toml::Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| to_toml(item, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => ::toml::Value::Table(
            map.iter()
                .map(|(key, item)| Ok((key.clone(), to_toml(item, &format!("{path}.{key}"))?)))
                .collect::<Result<_, FormatError>>()?,
        ),
    })
}
