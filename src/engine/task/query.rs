//! Where in a JSON body an assertion or extractor looks: LoadDensity's
//! dotted path (`data.items.0.id`), or a JSONPath query (RFC 9535, by the
//! `serde_json_path` crate: `$.data.items[?@.id == 3].name`).

use std::fmt;

use serde_json::Value;
use serde_json_path::JsonPath;

/// A path into a JSON body.
#[derive(Clone)]
pub struct JsonQuery {
    /// As written, for messages.
    written: String,
    how: How,
}

#[derive(Clone)]
enum How {
    /// Object keys and list indexes, split at `.` (empty parts skipped).
    Dotted(Vec<String>),
    /// RFC 9535.
    Rfc(Box<JsonPath>),
}

impl fmt::Debug for JsonQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("JsonQuery").field(&self.written).finish()
    }
}

impl fmt::Display for JsonQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

impl JsonQuery {
    /// Parses `written`: a JSONPath query when it starts with `$`, else a
    /// dotted path. Errors say what is wrong with the query.
    pub fn parse(written: &str) -> Result<JsonQuery, String> {
        let how = if written.trim_start().starts_with('$') {
            How::Rfc(Box::new(
                JsonPath::parse(written.trim())
                    .map_err(|e| format!("not a JSONPath query: {e}"))?,
            ))
        } else {
            How::Dotted(
                written
                    .split('.')
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned)
                    .collect(),
            )
        };
        Ok(JsonQuery {
            written: written.to_owned(),
            how,
        })
    }

    /// What the query finds in `body`: the value of a dotted path; for
    /// JSONPath, the one node it selects, or a list of them when it selects
    /// several. `None` when it finds nothing (a dotted path reaching
    /// `null`, as in LoadDensity, finds nothing too).
    pub fn find(&self, body: &Value) -> Option<Value> {
        match &self.how {
            How::Dotted(path) => path
                .iter()
                .try_fold(body, |cursor, part| match cursor {
                    Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
                    Value::Object(map) => map.get(part),
                    _ => None,
                })
                .filter(|v| !v.is_null())
                .cloned(),
            How::Rfc(path) => {
                let nodes = path.query(body).all();
                match nodes.as_slice() {
                    [] => None,
                    [one] => Some((*one).clone()),
                    many => Some(Value::Array(many.iter().map(|v| (*v).clone()).collect())),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn find(query: &str, body: &Value) -> Option<Value> {
        JsonQuery::parse(query).ok().and_then(|q| q.find(body))
    }

    #[test]
    fn dotted_and_rfc_paths_find_the_same() {
        let body =
            json!({"data": {"token": "t", "items": [{"id": 1, "n": "a"}, {"id": 3, "n": "c"}]}});
        assert_eq!(find("data.token", &body), Some(json!("t")));
        assert_eq!(find("$.data.token", &body), Some(json!("t")));
        assert_eq!(find("data.items.1.n", &body), Some(json!("c")));
        assert_eq!(find("$.data.items[1].n", &body), Some(json!("c")));
        assert_eq!(find("$.data.items[?@.id == 3].n", &body), Some(json!("c")));
        assert_eq!(find("$.data.items[*].id", &body), Some(json!([1, 3])));
        assert_eq!(find("$.data.nope", &body), None);
        assert_eq!(find("data.nope", &body), None);
        assert!(JsonQuery::parse("$.data[").is_err());
    }
}
