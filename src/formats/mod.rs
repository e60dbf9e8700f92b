//! The formats an action document may be written in: JSON, YAML and TOML.
//! Each reads into, and writes from, the same [`serde_json::Value`] the
//! actions run on, so a YAML or TOML file means exactly what its JSON
//! would.
//!
//! ```
//! use ld_tower::formats::Format;
//!
//! let yaml = "load_density:\n  - [LD_summary, {}]\n";
//! let doc = Format::Yaml.parse(yaml.as_bytes()).map_err(|e| e.to_string())?;
//! assert_eq!(doc, serde_json::json!({"load_density": [["LD_summary", {}]]}));
//! let toml = Format::Toml.render(&doc).map_err(|e| e.to_string())?;
//! assert_eq!(Format::Toml.parse(toml.as_bytes()).map_err(|e| e.to_string())?, doc);
//! # Ok::<(), String>(())
//! ```

mod toml;
mod yaml;

use std::fmt;
use std::path::Path;

use serde_json::Value;

/// The largest indent [`Format::json_indented`] takes (a deep document
/// indented by much more is mostly spaces).
pub const MAX_INDENT: usize = 16;

/// A document format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON (`.json`, and any other name).
    Json,
    /// YAML 1.2 (`.yaml`, `.yml`).
    Yaml,
    /// TOML 1.0 (`.toml`): the top level is a table (`load_density = [...]`).
    Toml,
}

/// Why a document could not be read or written in its format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FormatError {
    format: Format,
    message: String,
}

impl FormatError {
    pub(crate) fn new(format: Format, message: impl Into<String>) -> Self {
        FormatError {
            format,
            message: message.into(),
        }
    }

    /// The format it was read or written in.
    pub fn format(&self) -> Format {
        self.format
    }
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.format.name(), self.message)
    }
}

impl std::error::Error for FormatError {}

impl Format {
    /// The format a file's name says: `.yaml`/`.yml` YAML, `.toml` TOML,
    /// anything else JSON (as `ld-tower run` has always read it).
    pub fn of_path(path: &Path) -> Format {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("yaml" | "yml") => Format::Yaml,
            Some("toml") => Format::Toml,
            _ => Format::Json,
        }
    }

    /// Its name in messages: `JSON`, `YAML`, `TOML`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "JSON",
            Format::Yaml => "YAML",
            Format::Toml => "TOML",
        }
    }

    /// Reads a document (UTF-8). YAML is read with a budget on events,
    /// aliases and nesting, so a small file cannot expand into a huge
    /// value; a YAML stream of several documents is refused.
    pub fn parse(self, bytes: &[u8]) -> Result<Value, FormatError> {
        match self {
            Format::Json => {
                serde_json::from_slice(bytes).map_err(|e| FormatError::new(self, e.to_string()))
            }
            Format::Yaml => yaml::parse(text(self, bytes)?),
            Format::Toml => toml::parse(text(self, bytes)?),
        }
    }

    /// Writes a document as JSON indented by `indent` spaces (at most
    /// [`MAX_INDENT`]), as Python's `json.dumps(doc, indent=indent,
    /// ensure_ascii=False)` does (0: one item a line, not indented), with a
    /// line break at the end.
    pub fn json_indented(value: &Value, indent: usize) -> Result<String, FormatError> {
        if indent > MAX_INDENT {
            return Err(FormatError::new(
                Format::Json,
                format!("indent {indent} is over {MAX_INDENT}"),
            ));
        }
        let spaces = " ".repeat(indent);
        let mut out = Vec::new();
        let formatter = serde_json::ser::PrettyFormatter::with_indent(spaces.as_bytes());
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
        serde::Serialize::serialize(value, &mut serializer)
            .map_err(|e| FormatError::new(Format::Json, e.to_string()))?;
        out.push(b'\n');
        String::from_utf8(out).map_err(|e| FormatError::new(Format::Json, e.to_string()))
    }

    /// Writes a document: JSON indented by 2, YAML block style, TOML with
    /// the top level as a table (so it must be an object, and TOML has no
    /// null: one is refused, naming where it is). Every rendering ends
    /// with a line break and reads back as the same value.
    pub fn render(self, value: &Value) -> Result<String, FormatError> {
        match self {
            Format::Json => Format::json_indented(value, 2),
            Format::Yaml => yaml::render(value),
            Format::Toml => toml::render(value),
        }
    }
}

fn text(format: Format, bytes: &[u8]) -> Result<&str, FormatError> {
    std::str::from_utf8(bytes).map_err(|e| FormatError::new(format, format!("not UTF-8 text: {e}")))
}

#[cfg(test)]
mod tests;
