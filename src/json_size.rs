//! [`json_size`]: how long a value is as compact JSON, counted without
//! writing it and given up as soon as it passes a limit. A reply's budget
//! measures results with it, the engine what an extractor would keep.

use std::io;

use serde::Serialize;

/// The size of `value` as compact JSON, counted without building it and
/// stopping as soon as it passes `at_most` (then `None`).
///
/// ```
/// use ld_tower::json_size::json_size;
/// use serde_json::json;
///
/// assert_eq!(json_size(&json!({"a": [1, 2]}), 100), Some(11));
/// assert_eq!(json_size(&json!("x".repeat(1000)), 100), None);
/// ```
pub fn json_size(value: &impl Serialize, at_most: usize) -> Option<usize> {
    let mut counter = Counter { count: 0, at_most };
    serde_json::to_writer(&mut counter, value).ok()?;
    Some(counter.count)
}

/// An `io::Write` that only counts, failing once past `at_most`.
struct Counter {
    count: usize,
    at_most: usize,
}

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.count = self.count.saturating_add(buf.len());
        if self.count > self.at_most {
            return Err(io::Error::other("over the limit"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn measures_without_building_and_stops_early() {
        let value = json!({"a": [1, 2, 3], "b": "x\"y"});
        let text = value.to_string();
        assert_eq!(json_size(&value, 1000), Some(text.len()));
        assert_eq!(json_size(&value, text.len()), Some(text.len()));
        assert_eq!(json_size(&value, text.len() - 1), None);
    }
}
