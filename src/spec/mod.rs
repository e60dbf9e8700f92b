//! The action-file language's parse machinery: arguments are deserialized
//! into derived types (`serde`) with the JSON path of every mistake kept
//! ([`SpecError`]: `tasks[2].assertions[0].value: expected a number`), and
//! every key nobody reads is collected as a [`Note`] naming the closest
//! known key, LoadDensity's way (it ignores what it does not know) with a
//! safety net: `strict` turns the notes into an error.
//!
//! The types themselves live with what they configure (`engine::task::spec`
//! for tasks, `actions::load` for `LD_start_test`); this module only runs
//! them over a JSON value.

mod every;
mod keys;

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

pub use every::{every_error, segments_of, take_out};
pub use keys::{closest, Vocabulary};

/// A mistake in an action's arguments, at a JSON path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct SpecError {
    /// Where: `tasks[2].assertions[0].value`; empty for the arguments as a whole.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

impl SpecError {
    /// A mistake at `path`.
    pub fn at(path: impl Into<String>, message: impl Into<String>) -> Self {
        SpecError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

/// Something given that ld-tower does not use: an unknown key (with the
/// closest known one), or a known one it does not honour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// Where: `tasks[0].think_tim`.
    pub path: String,
    /// What is said about it.
    pub message: String,
}

impl Note {
    /// A note on `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Note {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// One segment of a JSON path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// An object's key.
    Key(String),
    /// A list's index.
    Index(usize),
}

/// Writes `segments` as `a.b[2].c`.
pub fn path_text(segments: &[Segment]) -> String {
    let mut text = String::new();
    for segment in segments {
        match segment {
            Segment::Key(key) => {
                if !text.is_empty() {
                    text.push('.');
                }
                text.push_str(key);
            }
            Segment::Index(index) => {
                text.push('[');
                text.push_str(&index.to_string());
                text.push(']');
            }
        }
    }
    text
}

fn segments(path: &serde_ignored::Path<'_>, out: &mut Vec<Segment>) {
    use serde_ignored::Path;
    match path {
        Path::Root => {}
        Path::Seq { parent, index } => {
            segments(parent, out);
            out.push(Segment::Index(*index));
        }
        Path::Map { parent, key } => {
            segments(parent, out);
            out.push(Segment::Key(key.clone()));
        }
        Path::Some { parent }
        | Path::NewtypeStruct { parent }
        | Path::NewtypeVariant { parent } => segments(parent, out),
    }
}

/// `value` deserialized into `T`: the keys nobody read become notes (the
/// closest known key of `vocabulary` for that place suggested), and an error
/// keeps the JSON path where it happened.
pub fn parse<T: DeserializeOwned>(
    value: Value,
    vocabulary: &dyn Vocabulary,
) -> Result<(T, Vec<Note>), SpecError> {
    let mut notes = Vec::new();
    let parsed = {
        let mut record = |path: serde_ignored::Path<'_>| {
            let mut at = Vec::new();
            segments(&path, &mut at);
            notes.push(unknown_key(&at, vocabulary));
        };
        let ignoring = serde_ignored::Deserializer::new(value, &mut record);
        serde_path_to_error::deserialize::<_, T>(ignoring)
    };
    match parsed {
        Ok(value) => Ok((value, notes)),
        Err(error) => {
            let path = error.path().to_string();
            let message = error.into_inner().to_string();
            Err(SpecError::at(
                if path == "." { String::new() } else { path },
                message,
            ))
        }
    }
}

/// The note for an unknown key at `at` (its last segment is the key).
fn unknown_key(at: &[Segment], vocabulary: &dyn Vocabulary) -> Note {
    let (parent, key) = match at.split_last() {
        Some((Segment::Key(key), parent)) => (parent, key.as_str()),
        _ => (at, ""),
    };
    unknown(path_text(at), key, vocabulary.keys_at(parent))
}

/// The note for `key`, at `path`, where `known` are the keys that place
/// knows: ignored, with the closest known key when one is near.
pub fn unknown(path: String, key: &str, known: &[&'static str]) -> Note {
    let message = match closest(key, known) {
        Some(near) => format!("unknown key, ignored (did you mean {near:?}?)"),
        None => "unknown key, ignored".to_owned(),
    };
    Note::new(path, message)
}

/// What `strict` makes of notes: an error listing them, or nothing.
pub fn strict_check(notes: &[Note]) -> Result<(), SpecError> {
    if notes.is_empty() {
        return Ok(());
    }
    let listed: Vec<String> = notes.iter().map(Note::to_string).collect();
    Err(SpecError::at(
        "",
        format!(
            "strict: {} key(s) not used by ld-tower: {}",
            notes.len(),
            listed.join("; ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        value: u16,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        #[serde(default)]
        user_count: Option<u64>,
        #[serde(default)]
        items: Vec<Inner>,
    }

    struct Words;
    impl Vocabulary for Words {
        fn keys_at(&self, parent: &[Segment]) -> &'static [&'static str] {
            match parent {
                [] => &["user_count", "items"],
                _ => &["value"],
            }
        }
    }

    #[test]
    fn errors_keep_their_path() {
        let err = parse::<Outer>(json!({"items": [{"value": 1}, {"value": "x"}]}), &Words)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("items[1].value: invalid type: string \"x\", expected u16")
        );
    }

    #[test]
    fn unknown_keys_are_noted_with_the_closest_known_one() {
        let (_, notes) = parse::<Outer>(
            json!({"user_cont": 3, "items": [{"value": 1, "valeu": 2, "zzz": 1}]}),
            &Words,
        )
        .map_err(|e| e.to_string())
        .unwrap_or_else(|e| panic!("{e}"));
        let texts: Vec<String> = notes.iter().map(Note::to_string).collect();
        assert_eq!(
            texts,
            [
                "user_cont: unknown key, ignored (did you mean \"user_count\"?)",
                "items[0].valeu: unknown key, ignored (did you mean \"value\"?)",
                "items[0].zzz: unknown key, ignored",
            ]
        );
        assert!(strict_check(&notes)
            .err()
            .is_some_and(|e| e.to_string().starts_with("strict: 3 key(s)")));
        assert!(strict_check(&[]).is_ok());
    }
}
