//! Importers: a HAR recording, cURL commands, an OpenAPI description or a
//! Postman collection turned into LoadDensity's tasks, and those tasks
//! wrapped into an action document `ld-tower run` runs unchanged
//! (LoadDensity's `utils/recording` and `utils/action_generator`).
//!
//! Each importer reads a [`serde_json::Value`] (a document already parsed,
//! see [`parse_document`]) and gives an [`Imported`]: the tasks, the
//! variables they need registered, and what they could not carry. Every count a
//! document controls is bounded ([`MAX_TASKS`], [`MAX_FOLDER_DEPTH`],
//! [`MAX_DOCUMENT_BYTES`], the patterns' [`Filters`] limits); going past
//! one is an [`ImportError`] that says which.
//!
//! ```
//! use ld_tower::import::{har, Filters};
//! use serde_json::json;
//!
//! let har = json!({"log": {"entries": [
//!     {"request": {"method": "GET", "url": "http://shop.test/items?page=2"},
//!      "response": {"status": 200}}
//! ]}});
//! let imported = har::to_tasks(&har, &Filters::none()).map_err(|e| e.to_string())?;
//! assert_eq!(imported.tasks, vec![json!({
//!     "method": "get",
//!     "request_url": "http://shop.test/items?page=2",
//!     "name": "GET /items?page=2",
//!     "assertions": [{"type": "status_code", "value": 200}]
//! })]);
//! # Ok::<(), String>(())
//! ```

pub mod action;
pub mod curl;
mod filters;
pub mod har;
pub mod openapi;
pub mod postman;

use std::fmt;

use serde_json::{Map, Value};

use crate::formats::Format;

pub use filters::{Filters, MAX_PATTERNS, MAX_PATTERN_BYTES, REGEX_SIZE_LIMIT};

/// The most bytes a document may hold (a file read, or text given inline):
/// 16 MiB (the bound of an action file). A served agent's `--max-file-bytes`
/// may say less for files.
pub const MAX_DOCUMENT_BYTES: u64 = 16 * 1024 * 1024;

/// The most entries (HAR), operations (OpenAPI), requests (Postman) or
/// commands (cURL) one import may read: 10,000.
pub const MAX_TASKS: usize = 10_000;

/// How deeply a Postman collection's folders may nest: 32.
pub const MAX_FOLDER_DEPTH: usize = 32;

/// The methods a task may have (those `LD_start_test` sends); a request
/// with another (TRACE, CONNECT, WebDAV's) is left out, and said in
/// [`Imported::notes`].
pub const SENDABLE_METHODS: &[&str] = &["get", "post", "put", "patch", "delete", "head", "options"];

/// Why a document could not be imported.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportError(String);

impl ImportError {
    /// An error saying `message`.
    pub fn new(message: impl Into<String>) -> Self {
        ImportError(message.into())
    }
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ImportError {}

/// What an importer made of a document.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Imported {
    /// The tasks, in the document's order.
    pub tasks: Vec<Value>,
    /// Variables the tasks' `${var.NAME}` placeholders need, with the
    /// values the document gives (OpenAPI examples, Postman collection
    /// variables); registered by the action document before the test.
    pub variables: Map<String, Value>,
    /// What the tasks could not carry, one line each (a request left out
    /// for a method no task can have, a path parameter without an
    /// example): `ld-tower import` prints them on stderr.
    pub notes: Vec<String>,
    /// Notes past [`MAX_NOTES`], counted.
    notes_left_out: usize,
}

/// The most notes kept: 100.
pub const MAX_NOTES: usize = 100;

impl Imported {
    /// Adds a note, unless it is there already; past [`MAX_NOTES`] the
    /// last one says how many more there were.
    pub(crate) fn note(&mut self, text: String) {
        if self.notes.contains(&text) {
            return;
        }
        if self.notes.len() + 1 < MAX_NOTES {
            self.notes.push(text);
            return;
        }
        self.notes_left_out += 1;
        let more = format!("... and {} more notes", self.notes_left_out);
        if self.notes.len() + 1 == MAX_NOTES {
            self.notes.push(more);
        } else if let Some(last) = self.notes.last_mut() {
            *last = more;
        }
    }

    /// Adds `task`, refusing one past [`MAX_TASKS`].
    pub(crate) fn push(&mut self, task: Value) -> Result<(), ImportError> {
        if self.tasks.len() >= MAX_TASKS {
            return Err(too_many("tasks", self.tasks.len() + 1));
        }
        self.tasks.push(task);
        Ok(())
    }
}

/// `what` counted `count`, over [`MAX_TASKS`].
pub(crate) fn too_many(what: &str, count: usize) -> ImportError {
    ImportError::new(format!(
        "the document has {count} {what}, over the {MAX_TASKS} one import may read: split it"
    ))
}

/// Whether a task may have `method` (lower case).
pub fn sendable(method: &str) -> bool {
    SENDABLE_METHODS.contains(&method)
}

/// Reads a document's bytes: JSON, or with `yaml` also YAML (a document
/// whose first character is not `{` or `[`). A UTF-8 byte order mark is
/// skipped (LoadDensity reads with `utf-8-sig`); over
/// [`MAX_DOCUMENT_BYTES`] is refused.
pub fn parse_document(bytes: &[u8], what: &str, yaml: bool) -> Result<Value, ImportError> {
    if bytes.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(ImportError::new(format!(
            "{what} is {} bytes, over the {} MiB a document may hold",
            bytes.len(),
            MAX_DOCUMENT_BYTES >> 20
        )));
    }
    let bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    let format = if yaml && !matches!(first, Some(b'{' | b'[')) {
        Format::Yaml
    } else {
        Format::Json
    };
    format
        .parse(bytes)
        .map_err(|e| ImportError::new(format!("{what} is not {}: {e}", describe(yaml))))
}

fn describe(yaml: bool) -> &'static str {
    if yaml {
        "JSON or YAML"
    } else {
        "JSON"
    }
}

/// The part of `url` after its scheme and host, as LoadDensity's
/// `^[a-zA-Z]+://[^/]+(/.*)?$` takes it: the path and query, `/` when
/// there is none; `url` itself when it has no scheme and host.
pub(crate) fn path_only(url: &str) -> &str {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url;
    };
    if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphabetic()) {
        return url;
    }
    match rest.find('/') {
        Some(0) => url,
        Some(at) if rest[at..].contains('\n') => url,
        Some(at) => &rest[at..],
        None if rest.is_empty() => url,
        None => "/",
    }
}

/// A JSON value as the text of a variable or a header: a string as is,
/// anything else as its JSON (`42`, `true`).
pub(crate) fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_only_follows_loaddensity() {
        assert_eq!(path_only("http://h/a/b?x=1"), "/a/b?x=1");
        assert_eq!(path_only("https://h:8080"), "/");
        assert_eq!(path_only("https://h?x=1"), "/");
        assert_eq!(path_only("/relative"), "/relative");
        assert_eq!(path_only("h2c://x/y"), "h2c://x/y");
        assert_eq!(path_only("http:///a"), "http:///a");
    }

    #[test]
    fn documents_are_json_or_yaml_with_a_bom() {
        let json = parse_document(b"\xef\xbb\xbf{\"a\": 1}", "x", false);
        assert_eq!(json, Ok(serde_json::json!({"a": 1})));
        let yaml = parse_document(b"a: 1\nb: [x]\n", "spec", true);
        assert_eq!(yaml, Ok(serde_json::json!({"a": 1, "b": ["x"]})));
        let refused = parse_document(b"a: 1", "the HAR", false).err();
        assert!(refused.is_some_and(|e| e.to_string().starts_with("the HAR is not JSON: ")));
    }

    #[test]
    fn notes_are_bounded() {
        let mut imported = Imported::default();
        for i in 0..250 {
            imported.note(format!("note {}", i % 200));
        }
        assert_eq!(imported.notes.len(), MAX_NOTES);
        assert_eq!(imported.notes[MAX_NOTES - 2], "note 98");
        assert_eq!(imported.notes[MAX_NOTES - 1], "... and 101 more notes");
    }

    #[test]
    fn sendable_methods_are_what_ld_start_test_takes() {
        for method in SENDABLE_METHODS {
            let tasks = serde_json::json!([{"method": method, "request_url": "http://h/"}]);
            assert!(crate::engine::Scenario::parse(&tasks).is_ok(), "{method}");
        }
        let trace = serde_json::json!([{"method": "trace", "request_url": "http://h/"}]);
        assert!(crate::engine::Scenario::parse(&trace).is_err());
    }
}
