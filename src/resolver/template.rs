//! Parsing: a string becomes a [`Template`] (literal text and placeholders)
//! once, and a JSON value becomes a [`TemplateValue`] whose strings are
//! templates, so that rendering never parses again.
//!
//! A placeholder is what LoadDensity's pattern `\$\{([^}]+)\}` matches: `${`,
//! at least one character other than `}`, then the first `}`. Its body,
//! trimmed, is classified here, at parse time:
//!
//! - `name(args)` is a function ([`super::functions`]); an unknown name or
//!   bad arguments make it literal text;
//! - a body without a `.` is a registered variable (`${base}` is
//!   `${var.base}`, as in LoadDensity);
//! - otherwise the part before the first `.` (any case) is the prefix:
//!   `var`, `session`, `env`, `csv` (`csv.SOURCE.COLUMN`), `db`
//!   (`db.SOURCE.COLUMN`) or `faker` (`faker.PROVIDER`, a provider it knows:
//!   see [`super::faker`]); any other prefix, or a provider Faker has not,
//!   makes the placeholder literal text.
//!
//! What can never resolve is folded into the literal text, so a string whose
//! only placeholders are unknown ones is static and renders by copy, and the
//! original text comes out byte for byte.

use std::fmt;
use std::ops::Range;

use serde_json::Value;

use super::faker::Faker;
use super::functions::Function;

/// A string parsed once into literal text and placeholders.
///
/// Parsing never fails: whatever is not a known placeholder is literal text.
/// Render it with [`Scope::render`](super::Scope::render).
#[derive(Clone, PartialEq)]
pub struct Template {
    /// The original text; literal parts and placeholders' spans index it.
    source: Box<str>,
    /// In order; adjacent literal text is one part; empty when `source` is.
    parts: Box<[Part]>,
}

/// One piece of a [`Template`].
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Part {
    /// Text copied as is: a range of the template's source.
    Literal(Range<usize>),
    /// Something resolved at render time.
    Placeholder(Placeholder),
}

/// A placeholder that may resolve at render time.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Placeholder {
    /// The whole `${...}` in the template's source: what is written back when
    /// the placeholder does not resolve (a missing variable, an exhausted CSV
    /// source).
    pub(super) span: Range<usize>,
    /// What it stands for.
    pub(super) kind: Kind,
}

/// What a placeholder stands for.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Kind {
    /// `${var.NAME}` or `${NAME}`: a registered (or extracted) variable.
    Var(Box<str>),
    /// `${session.NAME}`: a variable of this virtual user's session.
    Session(Box<str>),
    /// `${env.NAME}`: an environment variable, read at render time.
    Env(Box<str>),
    /// `${csv.SOURCE.COLUMN}`: a column of the row picked from a CSV source
    /// for this resolve call.
    Csv {
        /// The source's registered name.
        source: Box<str>,
        /// The column, as named by the file's header row.
        column: Box<str>,
    },
    /// `${db.SOURCE.COLUMN}`: a column of the row picked from a database
    /// source for this resolve call.
    Db {
        /// The source's registered name.
        source: Box<str>,
        /// The column, as the query named it.
        column: Box<str>,
    },
    /// `${faker.PROVIDER}`: a fresh fake value.
    Faker(Faker),
    /// `${uuid()}`, `${now()}`, `${randint(a,b)}`.
    Function(Function),
}

impl Template {
    /// Parses `text`. Never fails: what isn't a known placeholder is literal.
    pub fn parse(text: &str) -> Template {
        let mut parts = Vec::new();
        // Start of the literal text not yet pushed.
        let mut literal_start = 0;
        // Where the search for the next `${` starts.
        let mut pos = 0;
        while let Some(offset) = text.get(pos..).and_then(|rest| rest.find("${")) {
            let open = pos + offset;
            let body_start = open + 2;
            let Some(close) = text
                .get(body_start..)
                .and_then(|rest| rest.find('}'))
                .map(|offset| body_start + offset)
            else {
                // No `}` anywhere after: no later `${` can close either.
                break;
            };
            if close == body_start {
                // `${}`: the pattern needs one character; look again from the `}`.
                pos = body_start;
                continue;
            }
            if let Some(kind) = text.get(body_start..close).and_then(classify) {
                if literal_start < open {
                    parts.push(Part::Literal(literal_start..open));
                }
                parts.push(Part::Placeholder(Placeholder {
                    span: open..close + 1,
                    kind,
                }));
                literal_start = close + 1;
            }
            pos = close + 1;
        }
        if literal_start < text.len() {
            parts.push(Part::Literal(literal_start..text.len()));
        }
        Template {
            source: text.into(),
            parts: parts.into_boxed_slice(),
        }
    }

    /// No placeholder at all (unknown ones are literal text): rendering is a
    /// copy of [`source`](Self::source).
    pub fn is_static(&self) -> bool {
        self.parts
            .iter()
            .all(|part| matches!(part, Part::Literal(_)))
    }

    /// The text, when the template is [static](Self::is_static).
    pub fn as_static(&self) -> Option<&str> {
        self.is_static().then_some(&*self.source)
    }

    /// The original text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// How many placeholders may resolve at render time.
    pub fn placeholders(&self) -> usize {
        self.parts
            .iter()
            .filter(|part| matches!(part, Part::Placeholder(_)))
            .count()
    }

    /// The names its `${env.NAME}` placeholders read, in order.
    pub fn env_names(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Placeholder(Placeholder {
                kind: Kind::Env(name),
                ..
            }) => Some(&**name),
            _ => None,
        })
    }

    /// The parts, in order.
    pub(super) fn parts(&self) -> &[Part] {
        &self.parts
    }

    /// The source text in `range` (empty if out of bounds, which parsing never
    /// produces).
    pub(super) fn text(&self, range: &Range<usize>) -> &str {
        self.source.get(range.clone()).unwrap_or_default()
    }
}

impl fmt::Debug for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Template")
            .field("source", &self.source)
            .field("placeholders", &self.placeholders())
            .finish()
    }
}

impl From<&str> for Template {
    fn from(text: &str) -> Self {
        Template::parse(text)
    }
}

/// Classifies a placeholder's body (between `${` and `}`); `None` when it can
/// never resolve, which leaves it as literal text.
fn classify(body: &str) -> Option<Kind> {
    let token = body.trim();
    if token.is_empty() {
        return None;
    }
    if let Some((name, args)) = function_call(token) {
        return Function::parse(name, args).map(Kind::Function);
    }
    let Some((prefix, rest)) = token.split_once('.') else {
        return Some(Kind::Var(token.into()));
    };
    match prefix.to_lowercase().as_str() {
        "var" => Some(Kind::Var(rest.into())),
        "session" => Some(Kind::Session(rest.into())),
        // An empty name, `=` or NUL can name no environment variable.
        "env" if !rest.is_empty() && !rest.contains(['=', '\0']) => Some(Kind::Env(rest.into())),
        "csv" => {
            let (source, column) = rest.split_once('.').unwrap_or((rest, ""));
            Some(Kind::Csv {
                source: source.into(),
                column: column.into(),
            })
        }
        "db" => {
            let (source, column) = rest.split_once('.').unwrap_or((rest, ""));
            Some(Kind::Db {
                source: source.into(),
                column: column.into(),
            })
        }
        // Only a provider it has: any other name renders as written anyway.
        "faker" => Faker::parse(rest).map(Kind::Faker),
        _ => None,
    }
}

/// Splits `name(args)` as LoadDensity's `^([a-zA-Z_]\w*)\((.*)\)$` does:
/// an ASCII letter or `_`, word characters, `(`, anything but a line break,
/// and a final `)`.
fn function_call(token: &str) -> Option<(&str, &str)> {
    let open = token.find('(')?;
    let name = &token[..open];
    let mut chars = name.chars();
    let first = chars.next()?;
    if !(first.is_ascii_alphabetic() || first == '_')
        || !chars.all(|c| c.is_alphanumeric() || c == '_')
    {
        return None;
    }
    let args = token.get(open + 1..)?.strip_suffix(')')?;
    if args.contains('\n') {
        return None;
    }
    Some((name, args))
}

/// A JSON value whose strings are [`Template`]s.
///
/// Object keys are not templated, only values; key order is kept.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplateValue {
    /// No placeholder anywhere below: rendered by clone.
    Static(Value),
    /// A string with at least one placeholder.
    String(Template),
    /// An array with a placeholder in at least one element.
    Array(Vec<TemplateValue>),
    /// An object with a placeholder in at least one value, in key order.
    Object(Vec<(String, TemplateValue)>),
}

impl TemplateValue {
    /// Parses every string of `value`; subtrees without placeholders become
    /// [`TemplateValue::Static`].
    pub fn parse(value: &Value) -> TemplateValue {
        match value {
            Value::String(text) => {
                let template = Template::parse(text);
                if template.is_static() {
                    TemplateValue::Static(value.clone())
                } else {
                    TemplateValue::String(template)
                }
            }
            Value::Array(items) => {
                let items: Vec<TemplateValue> = items.iter().map(TemplateValue::parse).collect();
                if items.iter().all(TemplateValue::is_static) {
                    TemplateValue::Static(Value::Array(
                        items
                            .into_iter()
                            .filter_map(TemplateValue::into_static)
                            .collect(),
                    ))
                } else {
                    TemplateValue::Array(items)
                }
            }
            Value::Object(map) => {
                let entries: Vec<(String, TemplateValue)> = map
                    .iter()
                    .map(|(key, value)| (key.clone(), TemplateValue::parse(value)))
                    .collect();
                if entries.iter().all(|(_, value)| value.is_static()) {
                    TemplateValue::Static(Value::Object(
                        entries
                            .into_iter()
                            .filter_map(|(key, value)| Some((key, value.into_static()?)))
                            .collect(),
                    ))
                } else {
                    TemplateValue::Object(entries)
                }
            }
            other => TemplateValue::Static(other.clone()),
        }
    }

    /// No placeholder anywhere below: rendering is a clone.
    pub fn is_static(&self) -> bool {
        match self {
            TemplateValue::Static(_) => true,
            TemplateValue::String(template) => template.is_static(),
            TemplateValue::Array(items) => items.iter().all(TemplateValue::is_static),
            TemplateValue::Object(entries) => entries.iter().all(|(_, value)| value.is_static()),
        }
    }

    /// The names its `${env.NAME}` placeholders read: those of every string
    /// it renders (object keys are not templated), depth first, in order.
    pub fn env_names(&self) -> impl Iterator<Item = &str> {
        let mut pending = vec![self];
        std::iter::from_fn(move || {
            while let Some(value) = pending.pop() {
                match value {
                    TemplateValue::Static(_) => {}
                    TemplateValue::String(template) => return Some(template),
                    TemplateValue::Array(items) => pending.extend(items.iter().rev()),
                    TemplateValue::Object(entries) => {
                        pending.extend(entries.iter().rev().map(|(_, value)| value))
                    }
                }
            }
            None
        })
        .flat_map(Template::env_names)
    }

    /// The value of a [`TemplateValue::Static`] (as parsing produces for
    /// static subtrees).
    fn into_static(self) -> Option<Value> {
        match self {
            TemplateValue::Static(value) => Some(value),
            TemplateValue::String(template) if template.is_static() => {
                Some(Value::String(template.source.into()))
            }
            _ => None,
        }
    }
}

impl From<&Value> for TemplateValue {
    fn from(value: &Value) -> Self {
        TemplateValue::parse(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Kind> {
        Template::parse(text)
            .parts()
            .iter()
            .filter_map(|part| match part {
                Part::Placeholder(placeholder) => Some(placeholder.kind.clone()),
                Part::Literal(_) => None,
            })
            .collect()
    }

    #[test]
    fn classifies_like_loaddensity() {
        assert_eq!(kinds("${var.a}"), vec![Kind::Var("a".into())]);
        assert_eq!(kinds("${ VAR.a.b }"), vec![Kind::Var("a.b".into())]);
        assert_eq!(kinds("${plain}"), vec![Kind::Var("plain".into())]);
        assert_eq!(kinds("${Session.s}"), vec![Kind::Session("s".into())]);
        assert_eq!(kinds("${env.HOME}"), vec![Kind::Env("HOME".into())]);
        assert_eq!(
            kinds("${csv.users.name.first}"),
            vec![Kind::Csv {
                source: "users".into(),
                column: "name.first".into()
            }]
        );
        assert_eq!(
            kinds("${db.users.name.first}"),
            vec![Kind::Db {
                source: "users".into(),
                column: "name.first".into()
            }]
        );
        assert_eq!(
            kinds("${ FAKER.email } ${faker.uuid4}"),
            vec![Kind::Faker(Faker::Email), Kind::Faker(Faker::Uuid4)]
        );
        assert_eq!(kinds("${UUID()}"), vec![Kind::Function(Function::Uuid)]);
        assert_eq!(kinds("${now()}"), vec![Kind::Function(Function::Now)]);
        assert_eq!(
            kinds("${randint( 1 , 3 )}"),
            vec![Kind::Function(Function::RandInt { low: 1, high: 3 })]
        );
    }

    #[test]
    fn unknown_placeholders_are_literal() {
        for text in [
            "${}",
            "${ }",
            "${faker.nope}",
            "${faker.Name}",
            "${faker.name.x}",
            "${faker.}",
            "${other.x}",
            "${env.}",
            "${env.A=B}",
            "${nope()}",
            "${randint(3,1)}",
            "${randint(1)}",
            "${randint(a,b)}",
            "${randint(1,2,3)}",
            "${randint()}",
            "no placeholder",
            "$ {var.a}",
            "${var.a",
            "",
        ] {
            let template = Template::parse(text);
            assert!(template.is_static(), "{text:?}");
            assert_eq!(template.as_static(), Some(text));
            assert_eq!(template.source(), text);
        }
    }

    #[test]
    fn placeholder_spans_follow_the_pattern() {
        // `[^}]+` runs to the first `}`: the body is `${x`, a bare variable
        // name (as in LoadDensity), and the last `}` is literal.
        let template = Template::parse("${${x}}");
        assert_eq!(
            template.parts(),
            &[
                Part::Placeholder(Placeholder {
                    span: 0..6,
                    kind: Kind::Var("${x".into())
                }),
                Part::Literal(6..7),
            ]
        );
        // A line break in the arguments is no function call (`.` in the
        // pattern stops at it), so the body is a bare variable name.
        assert_eq!(
            kinds("${randint(1,\n2)}"),
            vec![Kind::Var("randint(1,\n2)".into())]
        );
        // `$${var.a}`: the match starts at the second `$`.
        let template = Template::parse("$${var.a}!");
        assert_eq!(
            template.parts(),
            &[
                Part::Literal(0..1),
                Part::Placeholder(Placeholder {
                    span: 1..9,
                    kind: Kind::Var("a".into())
                }),
                Part::Literal(9..10),
            ]
        );
        // `${}` is literal and the search goes on after it.
        let template = Template::parse("${}${var.a}");
        assert_eq!(template.placeholders(), 1);
        assert_eq!(template.parts()[0], Part::Literal(0..3));
        // A placeholder's body may hold `${`: `${a ${var.b}` is one body.
        let template = Template::parse("${a ${var.b}");
        assert!(template.is_static());
    }

    #[test]
    fn template_values_keep_order_and_fold_static_subtrees() {
        let value = serde_json::json!({
            "z": 1, "a": "${var.a}", "m": [true, "x", {"k": "${nope.k}"}], "${var.key}": null
        });
        let parsed = TemplateValue::parse(&value);
        let TemplateValue::Object(entries) = &parsed else {
            panic!("not an object: {parsed:?}");
        };
        let keys: Vec<&str> = entries.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(keys, ["z", "a", "m", "${var.key}"]);
        assert_eq!(entries[0].1, TemplateValue::Static(serde_json::json!(1)));
        assert!(matches!(entries[1].1, TemplateValue::String(_)));
        assert_eq!(
            entries[2].1,
            TemplateValue::Static(serde_json::json!([true, "x", {"k": "${nope.k}"}]))
        );
        assert!(!parsed.is_static());
        assert!(TemplateValue::parse(&serde_json::json!({"a": [1, "b"]})).is_static());
    }

    #[test]
    fn parse_never_panics_and_keeps_the_source() {
        const PIECES: &[&str] = &[
            "${", "}", "${}", "$", "{", "var.", "session.", "csv.", "env.", "a", ".", "(", ")",
            ",", "randint(", "1", "-", " ", "\n", "é", "日本", "🦀", "${${x}}", "\u{0}",
        ];
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..20_000 {
            let mut text = String::new();
            for _ in 0..rng.usize(0..12) {
                text.push_str(PIECES[rng.usize(..PIECES.len())]);
            }
            let template = Template::parse(&text);
            assert_eq!(template.source(), text);
            // Parts tile the source.
            let mut end = 0;
            for part in template.parts() {
                let range = match part {
                    Part::Literal(range) => range,
                    Part::Placeholder(placeholder) => &placeholder.span,
                };
                assert_eq!(range.start, end, "{text:?}");
                assert!(range.end > range.start);
                end = range.end;
            }
            assert_eq!(end, text.len());
            let _ = format!("{template:?}");
        }
    }
}
