//! [`Args`]: what follows an action's name.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use super::ActionError;

/// An action's arguments: none, keywords (`["NAME", {...}]`) or positional
/// (`["NAME", [...]]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Args {
    /// `["NAME"]`.
    #[default]
    None,
    /// `["NAME", {keyword args}]`.
    Keywords(Map<String, Value>),
    /// `["NAME", [positional args]]`.
    Positional(Vec<Value>),
}

impl Args {
    /// Deserializes the arguments into `T`, positional ones taking the
    /// keyword `names` in order (as Python binds them). Use
    /// `#[serde(deny_unknown_fields)]` on `T` so an unknown keyword is an
    /// error naming it.
    pub fn parse<T: DeserializeOwned>(self, names: &[&str]) -> Result<T, ActionError> {
        let map = self.into_map(names)?;
        serde_json::from_value(Value::Object(map))
            .map_err(|e| ActionError::new(format!("bad arguments: {e}")))
    }

    /// The arguments as keywords, positional ones taking the keyword
    /// `names` in order (as Python binds them).
    pub fn into_map(self, names: &[&str]) -> Result<Map<String, Value>, ActionError> {
        Ok(match self {
            Args::None => Map::new(),
            Args::Keywords(map) => map,
            Args::Positional(values) => {
                if values.len() > names.len() {
                    return Err(ActionError::new(format!(
                        "takes at most {} positional argument(s), got {}",
                        names.len(),
                        values.len()
                    )));
                }
                names
                    .iter()
                    .map(|name| (*name).to_owned())
                    .zip(values)
                    .collect()
            }
        })
    }

    /// Fails unless there are no arguments (an empty object or list counts
    /// as none).
    pub fn none(self) -> Result<(), ActionError> {
        match self {
            Args::None => Ok(()),
            Args::Keywords(map) if map.is_empty() => Ok(()),
            Args::Positional(values) if values.is_empty() => Ok(()),
            _ => Err(ActionError::new("takes no arguments")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Pair {
        a: i64,
        #[serde(default)]
        b: Option<String>,
    }

    #[test]
    fn positional_and_keyword_bind_alike() {
        let kw = Args::Keywords(
            json!({"a": 1, "b": "x"})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        let pos = Args::Positional(vec![json!(1), json!("x")]);
        assert_eq!(
            kw.parse::<Pair>(&["a", "b"]).ok(),
            pos.parse::<Pair>(&["a", "b"]).ok()
        );
    }

    #[test]
    fn unknown_keyword_and_extra_positional_fail() {
        let kw = Args::Keywords(
            json!({"a": 1, "zz": 2})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
        let err = kw.parse::<Pair>(&["a", "b"]).err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("zz")));
        let pos = Args::Positional(vec![json!(1), json!("x"), json!(3)]);
        assert!(pos.parse::<Pair>(&["a", "b"]).is_err());
        assert!(Args::Positional(vec![json!(1)]).none().is_err());
    }
}
