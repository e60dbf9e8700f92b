//! [`Filters`]: the `include`/`exclude` regular expressions of the HAR
//! importer, searched in a URL as Python's `re.search` does.

use regex::{Regex, RegexBuilder};
use serde_json::Value;

use super::ImportError;

/// The most patterns `include` or `exclude` may list: 64.
pub const MAX_PATTERNS: usize = 64;

/// The longest pattern, in bytes: 4 KiB.
pub const MAX_PATTERN_BYTES: usize = 4096;

/// The most memory one compiled pattern may take: 1 MiB (the regex
/// crate's size limit; its lazy DFA's cache is bounded alike).
pub const REGEX_SIZE_LIMIT: usize = 1024 * 1024;

/// URLs to keep: matching one `include` pattern (any, when none is given)
/// and no `exclude` pattern.
#[derive(Clone, Debug, Default)]
pub struct Filters {
    include: Vec<Regex>,
    exclude: Vec<Regex>,
}

impl Filters {
    /// No filter: every URL is kept.
    pub fn none() -> Self {
        Filters::default()
    }

    /// The filters of `include` and `exclude` (each a list of patterns, or
    /// one pattern, or null), compiled; a bad or oversized pattern, or too
    /// many, is an error naming it.
    pub fn new(include: Option<&Value>, exclude: Option<&Value>) -> Result<Self, ImportError> {
        Ok(Filters {
            include: compile("include", include)?,
            exclude: compile("exclude", exclude)?,
        })
    }

    /// The filters of patterns given as text (the command line's).
    pub fn of_text(include: &[String], exclude: &[String]) -> Result<Self, ImportError> {
        let list = |patterns: &[String]| {
            Value::Array(patterns.iter().cloned().map(Value::String).collect())
        };
        Filters::new(Some(&list(include)), Some(&list(exclude)))
    }

    /// Whether `url` is kept.
    pub fn keeps(&self, url: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|p| p.is_match(url)))
            && !self.exclude.iter().any(|p| p.is_match(url))
    }
}

fn compile(key: &str, given: Option<&Value>) -> Result<Vec<Regex>, ImportError> {
    let patterns: Vec<&Value> = match given {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list.iter().collect(),
        Some(one @ Value::String(_)) => vec![one],
        Some(_) => {
            return Err(ImportError::new(format!(
                "{key} must be a list of regular expressions"
            )))
        }
    };
    if patterns.len() > MAX_PATTERNS {
        return Err(ImportError::new(format!(
            "{key} lists {} patterns, over the {MAX_PATTERNS} allowed",
            patterns.len()
        )));
    }
    patterns
        .into_iter()
        .enumerate()
        .map(|(i, pattern)| {
            let Value::String(pattern) = pattern else {
                return Err(ImportError::new(format!(
                    "{key}[{i}] is not a string (a regular expression)"
                )));
            };
            if pattern.len() > MAX_PATTERN_BYTES {
                return Err(ImportError::new(format!(
                    "{key}[{i}] is {} bytes, over the {MAX_PATTERN_BYTES} a pattern may hold",
                    pattern.len()
                )));
            }
            RegexBuilder::new(pattern)
                .size_limit(REGEX_SIZE_LIMIT)
                .dfa_size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| {
                    ImportError::new(format!(
                        "{key}[{i}] {pattern:?} is not a regular expression ld-tower can run: {e}"
                    ))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn include_any_exclude_any() {
        let filters = Filters::new(
            Some(&json!(["/api/", "/login"])),
            Some(&json!([r"\.(png|css)$"])),
        )
        .map_err(|e| e.to_string());
        let Ok(filters) = filters else {
            panic!("{filters:?}")
        };
        assert!(filters.keeps("http://h/api/items"));
        assert!(filters.keeps("http://h/login?next=/"));
        assert!(!filters.keeps("http://h/api/logo.png"));
        assert!(!filters.keeps("http://h/home"));
        assert!(Filters::none().keeps("anything"));
        let one = Filters::new(Some(&json!("items")), None).map_err(|e| e.to_string());
        assert!(one.is_ok_and(|f| f.keeps("http://h/items") && !f.keeps("http://h/")));
    }

    #[test]
    fn bad_huge_or_many_patterns_are_refused() {
        let message = |include: Value| {
            Filters::new(Some(&include), None)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(message(json!(["(unclosed"])).starts_with("include[0] \"(unclosed\" is not"));
        assert!(message(json!([r"(a)\1"])).contains("not a regular expression"));
        let big = "a".repeat(MAX_PATTERN_BYTES + 1);
        assert!(message(json!([big])).contains("over the 4096"));
        // Small text, huge automaton: the size limit refuses it.
        assert!(message(json!([r"\w{1000}\w{1000}\w{1000}"])).contains("size limit"));
        let many: Vec<String> = (0..=MAX_PATTERNS).map(|i| i.to_string()).collect();
        assert!(message(json!(many)).contains("over the 64"));
        assert!(message(json!([1])).contains("include[0] is not a string"));
        assert!(message(json!(5)).contains("must be a list"));
    }
}
