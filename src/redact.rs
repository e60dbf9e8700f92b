//! Redaction: what keeps a test's credentials out of everything ld-tower
//! writes (failure reasons, request names, logs, reports, stored runs).
//!
//! Two rules, applied where such text is made, not on one output:
//!
//! - **By shape** ([`text`]): a URL's userinfo (`https://user:***@host`,
//!   `redis://:***@host`; a user alone, as tokens are sent, is masked
//!   whole), the value of a sensitive `name=value` pair (a query
//!   parameter, a cookie, a form field: `?api_key=***`), the value after a
//!   sensitive header name (`Authorization: ***`), and the credential after
//!   `Bearer` or `Basic`.
//! - **By value** ([`Redactor`]): the values a test was given as
//!   credentials (see [`Redactor::collect`]: under a sensitive key, in a
//!   URL's userinfo or sensitive query parameter, and the environment
//!   variables its tasks read) are masked wherever they appear, also
//!   quoted (`{:?}`) or percent-encoded.
//!
//! A name is sensitive ([`is_sensitive`]) when it is one of
//! [`SENSITIVE_HEADERS`] or contains one of [`SENSITIVE_WORDS`], in any case.
//! What is masked becomes [`MASK`].

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde_json::Value;

/// What a masked credential is replaced with.
pub const MASK: &str = "***";

/// Header names that always carry credentials.
pub const SENSITIVE_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
];

/// Words that make any name (header, query parameter, cookie, form or JSON
/// key, variable) sensitive when they appear in it, in any case.
pub const SENSITIVE_WORDS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "auth",
    "cookie",
    "session",
    "credential",
    "signature",
    "apikey",
    "api_key",
    "api-key",
    "access_key",
    "private_key",
];

/// Keys whose values are never credentials, even under a sensitive key
/// (`"auth": {"type": "bearer", ...}`): what kind of thing it is.
pub const DESCRIPTIVE_KEYS: &[&str] = &["type", "name", "method"];

/// Known values shorter than this are not masked by value (masking every
/// `a` of a message would hide everything and protect nothing); their
/// shape still masks them.
pub const MIN_SECRET_CHARS: usize = 6;

/// Whether a value named `name` is a credential.
pub fn is_sensitive(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SENSITIVE_HEADERS.contains(&lower.as_str()) || SENSITIVE_WORDS.iter().any(|w| lower.contains(w))
}

/// `value` as an error message shows the value of a header, parameter or
/// metadata key `name`: quoted (`{:?}`), or [`MASK`] when `name` is
/// sensitive.
pub fn quoted(name: &str, value: &str) -> String {
    if is_sensitive(name) {
        MASK.to_owned()
    } else {
        format!("{value:?}")
    }
}

/// `text` with credentials masked by their shape (see the module's
/// documentation); borrowed when nothing was masked.
pub fn text(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    for rule in [userinfo, pairs, headers, schemes] {
        if let Cow::Owned(changed) = rule(&out) {
            out = Cow::Owned(changed);
        }
    }
    out
}

/// Characters that end a value in free text.
fn ends_value(c: char) -> bool {
    c.is_whitespace() || matches!(c, '&' | ';' | ',' | '"' | '\'' | ')' | '#' | '>' | '`')
}

/// Characters a name (of a pair or header) is made of.
fn in_name(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// Masks every URL's userinfo: `scheme://user:pw@` -> `scheme://user:***@`,
/// `scheme://token@` -> `scheme://***@`.
fn userinfo(text: &str) -> Cow<'_, str> {
    mask(
        text,
        text.match_indices("://").filter_map(|(at, _)| {
            let start = at + 3;
            let rest = &text[start..];
            let authority = rest
                .find(|c: char| matches!(c, '/' | '?' | '#') || ends_value(c))
                .unwrap_or(rest.len());
            let info = &rest[..rest[..authority].rfind('@')?];
            let user = info.find(':').map_or(0, |colon| colon + 1);
            Some(start + user..start + info.len())
        }),
    )
}

/// Masks the value of every sensitive `name=value`.
fn pairs(text: &str) -> Cow<'_, str> {
    mask(
        text,
        text.match_indices('=').filter_map(|(at, _)| {
            let name = &text[name_before(text, at)..at];
            (!name.is_empty() && is_sensitive(name)).then(|| value_after(text, at + 1))
        }),
    )
}

/// Masks what follows a sensitive header name and a colon (to the end of
/// the line, a quote or a comma).
fn headers(text: &str) -> Cow<'_, str> {
    mask(
        text,
        text.match_indices(':').filter_map(|(at, _)| {
            let name = text[name_before(text, at)..at].to_ascii_lowercase();
            if !SENSITIVE_HEADERS.contains(&name.as_str()) {
                return None;
            }
            let rest = &text[at + 1..];
            let start = at + 1 + (rest.len() - rest.trim_start().len());
            let end = text[start..]
                .find(['\n', '\r', '"', '\'', ','])
                .map_or(text.len(), |i| start + i);
            Some(start..start + text[start..end].trim_end().len())
        }),
    )
}

/// Masks the credential after `Bearer ` or `Basic ` (any case, a word of
/// its own).
fn schemes(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    mask(
        text,
        (0..bytes.len()).filter_map(|at| {
            let word = [&b"bearer "[..], b"basic "].into_iter().find(|word| {
                bytes[at..]
                    .get(..word.len())
                    .is_some_and(|b| b.eq_ignore_ascii_case(word))
            })?;
            let own = !text[..at].chars().next_back().is_some_and(in_name);
            own.then(|| value_after(text, at + word.len()))
        }),
    )
}

/// Where the name ending at `end` starts.
fn name_before(text: &str, end: usize) -> usize {
    text[..end]
        .rfind(|c: char| !in_name(c))
        .map_or(0, |i| i + 1)
}

/// The value starting at `start`, to the first character that ends one.
fn value_after(text: &str, start: usize) -> Range<usize> {
    let end = text[start..]
        .find(ends_value)
        .map_or(text.len(), |i| start + i);
    start..end
}

/// `text` with each of `values` (ranges in increasing order) masked,
/// except empty ones, ones already masked and ones inside a masked one;
/// borrowed when none was.
fn mask(text: &str, values: impl Iterator<Item = Range<usize>>) -> Cow<'_, str> {
    let mut out = String::new();
    let mut done = 0;
    for value in values {
        if value.start < done || value.is_empty() || text[value.clone()].starts_with(MASK) {
            continue;
        }
        out.push_str(&text[done..value.start]);
        out.push_str(MASK);
        done = value.end;
    }
    if done == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[done..]);
    Cow::Owned(out)
}

/// The credentials of one test, and the rules of [`text`]: what its
/// failure reasons, names and parameters pass through. Its `Debug` shows
/// how many values it holds, never one.
#[derive(Clone, Default)]
pub struct Redactor {
    /// The values masked wherever they appear, longest first (so a value
    /// containing another is masked whole).
    secrets: Vec<String>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

impl Redactor {
    /// Masks `value` from now on, as written, quoted (`{:?}`'s escapes)
    /// and percent-encoded; for `Scheme credential` (an `Authorization`
    /// value) the credential alone too. Values shorter than
    /// [`MIN_SECRET_CHARS`] are left to [`text`].
    pub fn add(&mut self, value: &str) {
        let value = value.trim();
        if let Some((scheme, credential)) = value.split_once(' ') {
            if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphabetic()) {
                self.add(credential);
            }
        }
        if value.chars().count() < MIN_SECRET_CHARS {
            return;
        }
        let quoted = format!("{value:?}");
        let quoted = &quoted[1..quoted.len() - 1];
        let encoded: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
        let escaped =
            percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        for form in [value, quoted, &encoded, &escaped] {
            if !self.secrets.iter().any(|s| s == form) {
                self.secrets.push(form.to_owned());
            }
        }
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// Collects the credentials in `value` (a test's tasks, its variables):
    /// every string under a sensitive key (but not under one of
    /// [`DESCRIPTIVE_KEYS`]), and in any string that is a URL,
    /// its userinfo and its sensitive query parameters. `resolve` renders
    /// a string's fixed placeholders (`${var.NAME}`, `${env.NAME}`); one
    /// still holding a placeholder is known only as the test runs, and
    /// left to [`text`].
    pub fn collect(&mut self, value: &Value, resolve: &dyn Fn(&str) -> String) {
        self.collect_under(value, false, resolve);
    }

    fn collect_under(&mut self, value: &Value, sensitive: bool, resolve: &dyn Fn(&str) -> String) {
        match value {
            Value::Object(map) => {
                for (key, value) in map {
                    let sensitive = if DESCRIPTIVE_KEYS.contains(&key.as_str()) {
                        false
                    } else {
                        sensitive || is_sensitive(key)
                    };
                    self.collect_under(value, sensitive, resolve);
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.collect_under(item, sensitive, resolve);
                }
            }
            Value::String(text) => {
                let text = resolve(text);
                if sensitive && !text.contains("${") {
                    self.add(&text);
                }
                if text.contains("://") {
                    self.collect_url(&text);
                }
            }
            Value::Number(n) if sensitive => self.add(&n.to_string()),
            _ => {}
        }
    }

    /// The userinfo and sensitive query values of `text`, if it is a URL.
    fn collect_url(&mut self, text: &str) {
        let Ok(url) = url::Url::parse(text.trim()) else {
            return;
        };
        let decode = |text: &str| {
            percent_encoding::percent_decode_str(text)
                .decode_utf8_lossy()
                .into_owned()
        };
        match url.password() {
            Some(password) => {
                self.add(password);
                self.add(&decode(password));
            }
            None if !url.username().is_empty() => {
                self.add(url.username());
                self.add(&decode(url.username()));
            }
            None => {}
        }
        for (name, value) in url.query_pairs() {
            if is_sensitive(&name) {
                self.add(&value);
            }
        }
    }

    /// Whether it knows no value (it still masks by shape).
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// `text` with every known value and every credential by shape masked;
    /// borrowed when nothing was.
    pub fn text<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), MASK));
            }
        }
        match out {
            Cow::Borrowed(text) => self::text(text),
            Cow::Owned(changed) => Cow::Owned(self::text(&changed).into_owned()),
        }
    }

    /// `value` with its strings passed through [`Redactor::text`], and
    /// every value under a sensitive key masked whole.
    pub fn json(&self, value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(key, value)| {
                        let value = if is_sensitive(key) && !value.is_null() {
                            Value::String(MASK.to_owned())
                        } else {
                            self.json(value)
                        };
                        (key.clone(), value)
                    })
                    .collect(),
            ),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.json(v)).collect()),
            Value::String(text) => Value::String(self.text(text).into_owned()),
            other => other.clone(),
        }
    }
}

#[cfg(test)]
mod tests;
