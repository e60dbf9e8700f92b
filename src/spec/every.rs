//! Every mistake of a document, not only the first: a parse (or compile)
//! stops at its first error, so the value it names is taken out and the
//! parse runs again, until it passes, a round repeats a place already
//! taken out, or the rounds run out. What the linter reports is then what
//! the actions themselves would say, place by place.

use serde_json::Value;

use super::{Segment, SpecError};

/// Runs `attempt` on `value` until it passes, collecting each error; after
/// an error its place is taken out of `value` ([`take_out`]) before the
/// next round. An error around a place taken out (its object now missing
/// a required key) is what the taking out caused: that place is taken out
/// in turn, unreported. At most `rounds` attempts. Returns the last attempt's
/// success, if any, and the errors in the order found.
pub fn every_error<R>(
    value: &mut Value,
    rounds: usize,
    mut attempt: impl FnMut(&Value) -> Result<R, SpecError>,
) -> (Option<R>, Vec<SpecError>) {
    let mut errors: Vec<SpecError> = Vec::new();
    for _ in 0..rounds {
        match attempt(value) {
            Ok(done) => return (Some(done), errors),
            Err(error) => {
                // At (or in) a place taken out already: no progress left.
                if errors.iter().any(|e| within(&error.path, &e.path)) {
                    return (None, errors);
                }
                // Around one: what taking it out caused (a required key
                // now missing), not a mistake of its own.
                let caused = errors
                    .iter()
                    .any(|e| error.path.is_empty() || within(&e.path, &error.path));
                let taken = take_out(value, &segments_of(&error.path));
                if !caused {
                    errors.push(error);
                }
                if !taken {
                    return (None, errors);
                }
            }
        }
    }
    (None, errors)
}

/// Whether `path` is `at` or inside it (`tasks[2].url` is inside `tasks[2]`).
fn within(path: &str, at: &str) -> bool {
    path == at
        || (path.starts_with(at)
            && !at.is_empty()
            && matches!(path.as_bytes().get(at.len()), Some(b'.' | b'[')))
}

/// `a.b[2].c` as segments (the form [`path_text`](super::path_text)
/// writes; a key holding `.` or `[` is not told apart, and is then simply
/// not found).
pub fn segments_of(text: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for part in text.split('.').filter(|p| !p.is_empty()) {
        let (key, indices) = part.split_at(part.find('[').unwrap_or(part.len()));
        if !key.is_empty() {
            out.push(Segment::Key(key.to_owned()));
        }
        for index in indices.split('[').filter(|i| !i.is_empty()) {
            match index.trim_end_matches(']').parse() {
                Ok(i) => out.push(Segment::Index(i)),
                Err(_) => out.push(Segment::Key(format!("[{index}"))),
            }
        }
    }
    out
}

/// Takes the value at `at` out of `value`: an object's key is removed, a
/// list's element becomes `null` (so the indices after it keep their
/// meaning). False when there is nothing there to take (the root
/// included: the whole value is what is wrong).
pub fn take_out(value: &mut Value, at: &[Segment]) -> bool {
    let Some((last, parent)) = at.split_last() else {
        return false;
    };
    let mut here = value;
    for segment in parent {
        let next = match (segment, here) {
            (Segment::Key(key), Value::Object(map)) => map.get_mut(key),
            (Segment::Index(i), Value::Array(items)) => items.get_mut(*i),
            _ => None,
        };
        match next {
            Some(next) => here = next,
            None => return false,
        }
    }
    match (last, here) {
        (Segment::Key(key), Value::Object(map)) => map.shift_remove(key).is_some(),
        (Segment::Index(i), Value::Array(items)) => match items.get_mut(*i) {
            Some(item) if !item.is_null() => {
                *item = Value::Null;
                true
            }
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Args {
        #[serde(default)]
        user_count: Option<u64>,
        #[serde(default)]
        spawn_rate: Option<f64>,
        #[serde(default)]
        items: Vec<Option<Item>>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        value: u16,
    }

    struct NoWords;
    impl super::super::Vocabulary for NoWords {
        fn keys_at(&self, _: &[Segment]) -> &'static [&'static str] {
            &[]
        }
    }

    #[test]
    fn paths_read_back_as_written() {
        let segments = segments_of("tasks.tasks[2].assertions[0].value");
        assert_eq!(
            super::super::path_text(&segments),
            "tasks.tasks[2].assertions[0].value"
        );
        assert_eq!(segments_of(""), Vec::<Segment>::new());
    }

    #[test]
    fn every_error_is_found_each_at_its_place() {
        let mut value = json!({
            "user_count": "ten",
            "spawn_rate": [],
            "items": [{"value": 1}, {"value": "x"}, {"valu": 3}, 7]
        });
        let (done, errors) = every_error(&mut value, 10, |v| {
            super::super::parse::<Args>(v.clone(), &NoWords).map(|_| ())
        });
        assert!(done.is_some());
        let texts: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            texts,
            [
                "user_count: invalid type: string \"ten\", expected u64",
                "spawn_rate: invalid type: sequence, expected f64",
                "items[1].value: invalid type: string \"x\", expected u16",
                "items[2]: missing field `value`",
                "items[3]: invalid type: integer `7`, expected struct Item",
            ]
        );
    }

    #[test]
    fn a_root_error_or_a_repeat_ends_the_rounds() {
        let mut value = json!(3);
        let (done, errors) = every_error(&mut value, 10, |v| {
            super::super::parse::<Args>(v.clone(), &NoWords).map(|_| ())
        });
        assert!(done.is_none());
        assert_eq!(errors.len(), 1);
        let mut calls = 0;
        let (done, errors) = every_error(&mut json!({"b": 1}), 10, |_| {
            calls += 1;
            Err::<(), _>(SpecError::at("b", "always"))
        });
        assert!(done.is_none());
        assert_eq!((errors.len(), calls), (1, 2));
    }
}
