//! A task list as written: LoadDensity's task JSON deserialized by `serde`
//! into these types (through [`crate::spec::parse`], which keeps the path of
//! a mistake and notes the keys nobody reads), then compiled
//! ([`super::compile`]) into the engine's [`Task`](super::Task)s.
//!
//! Keys a value may take in several shapes (`think_time`, `verify`, `cert`,
//! `files`, the task list itself) have hand-written visitors rather than
//! `#[serde(untagged)]`: untagged (and internally tagged) enums buffer their
//! input, and the path of a mistake inside them would be lost.

use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::spec::{Segment, Vocabulary};

/// One task as written.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
#[schemars(deny_unknown_fields)]
pub struct TaskSpec {
    /// `get`, `post`, ... (any case); from the key in the legacy map form.
    pub method: Option<String>,
    /// The URL, absolute or relative to the host.
    pub request_url: Option<String>,
    /// The URL when `request_url` is not given.
    pub url: Option<String>,
    /// What figures are grouped by.
    pub name: Option<String>,
    /// Request headers.
    pub headers: Option<Map<String, Value>>,
    /// Query parameters.
    pub params: Option<Map<String, Value>>,
    /// Cookies, sent in one `Cookie` header.
    pub cookies: Option<Map<String, Value>>,
    /// A JSON body.
    pub json: Option<Value>,
    /// A form (object) or raw (string) body; with `files`, form fields.
    pub data: Option<Value>,
    /// This request's timeout, seconds.
    pub timeout: Option<f64>,
    /// Basic or bearer credentials.
    pub auth: Option<AuthSpec>,
    /// Checks on the response.
    pub assertions: Option<Vec<AssertionSpec>>,
    /// Values taken from the response.
    pub extract: Option<Vec<ExtractSpec>>,
    /// Weight in `weighted` mode.
    pub weight: Option<i64>,
    /// Run only when this holds.
    pub run_if: Option<Value>,
    /// Skip when this holds.
    pub skip_if: Option<Value>,
    /// A pause after the task.
    pub think_time: Option<ThinkTimeSpec>,
    /// A rate cap shared by every user.
    pub throttle: Option<ThrottleSpec>,
    /// Retries of a failed request.
    pub retry: Option<RetrySpec>,
    /// Follow redirects (default true).
    pub allow_redirects: Option<bool>,
    /// Server certificate checks: `false`, or a CA bundle's path.
    pub verify: Option<VerifySpec>,
    /// Multipart files.
    pub files: Option<FilesSpec>,
    /// A client certificate for mTLS.
    pub cert: Option<CertSpec>,
    /// A client certificate when `cert` is not given.
    pub client_cert: Option<CertSpec>,
    /// Over HTTP/2 (h2c with prior knowledge, or ALPN `h2` over TLS);
    /// default: the test's `http2`.
    pub http2: Option<bool>,
}

/// `auth`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
#[schemars(deny_unknown_fields)]
pub struct AuthSpec {
    /// `basic` or `bearer` (any case).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Basic: the user name.
    pub username: Option<Value>,
    /// Basic: the password.
    pub password: Option<Value>,
    /// Bearer: the token.
    pub token: Option<Value>,
}

/// One assertion: `{"type": ..., "value": ..., "path"/"name": ...}`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
#[schemars(deny_unknown_fields)]
pub struct AssertionSpec {
    /// `status_code`, `contains`, `not_contains`, `json_path`, `header`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The expected value.
    pub value: Option<Value>,
    /// `json_path`: where in the body.
    pub path: Option<String>,
    /// `header`: which header.
    pub name: Option<String>,
}

/// One extractor: `{"var": ..., "from": ..., "path"/"name": ..., "scope": ...}`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
#[schemars(deny_unknown_fields)]
pub struct ExtractSpec {
    /// The variable to set.
    pub var: Option<String>,
    /// `json_path` (default), `header`, `status_code`.
    pub from: Option<String>,
    /// `json_path`: where in the body.
    pub path: Option<String>,
    /// `header`: which header.
    pub name: Option<String>,
    /// `var` (default) or `session`.
    pub scope: Option<String>,
}

/// `throttle`: `{rps, key, burst}`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
#[schemars(deny_unknown_fields)]
pub struct ThrottleSpec {
    /// Requests per second across every user; none: no throttle.
    pub rps: Option<f64>,
    /// The bucket's name (default: the task's name).
    pub key: Option<Value>,
    /// Tokens the bucket holds (default `max(1, int(rps))`).
    pub burst: Option<f64>,
}

/// `retry`: LoadDensity's adaptive retry policy, its defaults.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(default)]
#[schemars(deny_unknown_fields)]
pub struct RetrySpec {
    /// Retries of transport errors (refused, reset, timeout).
    pub transient: u32,
    /// Retries of assertion failures.
    pub flaky: u32,
    /// Retries of anything else (an HTTP error status).
    pub permanent: u32,
    /// The first delay, seconds.
    pub base_delay: f64,
    /// The longest delay, seconds.
    pub max_delay: f64,
    /// Each delay is this times the one before.
    pub backoff_factor: f64,
    /// Up to this fraction of the delay is added at random.
    pub jitter: f64,
}

impl Default for RetrySpec {
    fn default() -> Self {
        RetrySpec {
            transient: 5,
            flaky: 2,
            permanent: 0,
            base_delay: 0.1,
            max_delay: 5.0,
            backoff_factor: 2.0,
            jitter: 0.25,
        }
    }
}

/// `think_time`: seconds, or `{min, max}`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ThinkTimeSpec {
    /// That many seconds.
    Fixed(f64),
    /// Uniform in `[min, max)`.
    Between {
        /// The least.
        min: f64,
        /// The most (exclusive); `None`: `min`.
        max: Option<f64>,
    },
}

#[derive(Deserialize)]
struct MinMax {
    #[serde(default)]
    min: f64,
    #[serde(default)]
    max: Option<f64>,
}

impl<'de> Deserialize<'de> for ThinkTimeSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ThinkTimeSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of seconds or {\"min\": .., \"max\": ..}")
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(ThinkTimeSpec::Fixed(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(ThinkTimeSpec::Fixed(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(ThinkTimeSpec::Fixed(v as f64))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let MinMax { min, max } = MinMax::deserialize(MapAccessDeserializer::new(map))?;
                Ok(ThinkTimeSpec::Between { min, max })
            }
        }
        d.deserialize_any(V)
    }
}

/// `verify`: `true`/`false`, or a CA bundle's path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VerifySpec {
    /// Check the server's certificate (`true`) or not (`false`).
    Check(bool),
    /// Trust exactly this CA bundle.
    CaBundle(String),
}

impl<'de> Deserialize<'de> for VerifySpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = VerifySpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false, or the path of a CA bundle")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(VerifySpec::Check(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(VerifySpec::CaBundle(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// `cert` / `client_cert`: one PEM path (certificate and key), or a pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertSpec {
    /// One PEM file holding the certificate chain and the key.
    Combined(String),
    /// The certificate chain's file and the key's.
    Pair(String, String),
}

impl<'de> Deserialize<'de> for CertSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CertSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a PEM file's path, or [certificate path, key path]")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(CertSpec::Combined(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                let (cert, key) = <(String, String)>::deserialize(SeqAccessDeserializer::new(seq))?;
                Ok(CertSpec::Pair(cert, key))
            }
        }
        d.deserialize_any(V)
    }
}

/// One multipart file: its content (the field's name is its file name), or
/// `[filename, content]`, `[filename, content, content_type]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileSpec {
    /// The file name; `None`: the field's name.
    pub filename: Option<String>,
    /// The content (text, not a path).
    pub content: String,
    /// The part's `Content-Type`, if given.
    pub content_type: Option<String>,
}

impl<'de> Deserialize<'de> for FileSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FileSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the file's content, or [filename, content(, content_type)]")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(FileSpec {
                    filename: None,
                    content: v.to_owned(),
                    content_type: None,
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let filename: String = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                let content: String = seq
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                let content_type: Option<String> = seq.next_element()?;
                if seq.next_element::<de::IgnoredAny>()?.is_some() {
                    return Err(de::Error::invalid_length(4, &self));
                }
                Ok(FileSpec {
                    filename: Some(filename),
                    content,
                    content_type,
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// `files`: field name → file, in the order written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilesSpec(pub Vec<(String, FileSpec)>);

impl<'de> Deserialize<'de> for FilesSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FilesSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of field name to file")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut files = Vec::new();
                while let Some((field, file)) = map.next_entry::<String, FileSpec>()? {
                    files.push((field, file));
                }
                Ok(FilesSpec(files))
            }
        }
        d.deserialize_map(V)
    }
}

/// Where a task was written, for messages: `tasks[2]`, `tasks.tasks[0]`,
/// `tasks.get`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Written {
    /// The `i`th of a list (`nested`: under `{"mode", "tasks"}`).
    Listed {
        /// Its index.
        index: usize,
        /// Under `{"mode": ..., "tasks": [...]}`.
        nested: bool,
    },
    /// Under a method key of the legacy map (`nested`: under `{"mode", "tasks"}`).
    Keyed {
        /// The key (the method).
        method: String,
        /// Under `{"mode": ..., "tasks": {...}}`.
        nested: bool,
    },
}

impl Written {
    /// The JSON path of the task, under the `tasks` keyword.
    pub fn path(&self) -> String {
        match self {
            Written::Listed { index, nested } => {
                format!("tasks{}[{index}]", if *nested { ".tasks" } else { "" })
            }
            Written::Keyed { method, nested } => {
                format!("tasks{}.{method}", if *nested { ".tasks" } else { "" })
            }
        }
    }

    /// The method its legacy map key gives.
    pub fn method(&self) -> Option<&str> {
        match self {
            Written::Keyed { method, .. } => Some(method),
            Written::Listed { .. } => None,
        }
    }
}

/// `tasks`: a list, LoadDensity's legacy map `{"get": {...}}`, or
/// `{"mode": ..., "tasks": <either>}`.
#[derive(Debug, Default)]
pub struct TasksSpec {
    /// `sequence` (default), `weighted`, `conditional`, as written.
    pub mode: Option<String>,
    /// The tasks, with where each was written.
    pub tasks: Vec<(Written, TaskSpec)>,
}

/// A list or a legacy map of tasks (what `{"tasks": ...}` holds).
struct TaskList {
    nested: bool,
}

impl<'de> de::DeserializeSeed<'de> for TaskList {
    type Value = Vec<(Written, TaskSpec)>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ListVisitor {
            nested: self.nested,
        })
    }
}

struct ListVisitor {
    nested: bool,
}

impl<'de> Visitor<'de> for ListVisitor {
    type Value = Vec<(Written, TaskSpec)>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of tasks or {\"get\": {...}, \"post\": {...}}")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut tasks = Vec::new();
        while let Some(task) = seq.next_element::<TaskSpec>()? {
            let index = tasks.len();
            tasks.push((
                Written::Listed {
                    index,
                    nested: self.nested,
                },
                task,
            ));
        }
        Ok(tasks)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut tasks = Vec::new();
        while let Some(method) = map.next_key::<String>()? {
            let task = map.next_value::<TaskSpec>()?;
            tasks.push((
                Written::Keyed {
                    method,
                    nested: self.nested,
                },
                task,
            ));
        }
        Ok(tasks)
    }
}

impl<'de> Deserialize<'de> for TasksSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TasksSpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a list of tasks, {\"mode\": ..., \"tasks\": [...]}, or {\"get\": {...}}",
                )
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Ok(TasksSpec {
                    mode: None,
                    tasks: ListVisitor { nested: false }.visit_seq(seq)?,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                // `{"mode", "tasks"}` or the legacy map: told apart by the
                // keys, in the order written (LoadDensity checks for a
                // `tasks` key holding a list or an object).
                let mut spec = TasksSpec::default();
                let mut nested = false;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "tasks" if !nested && spec.tasks.is_empty() => {
                            nested = true;
                            spec.tasks = map.next_value_seed(TaskList { nested: true })?;
                        }
                        "mode" => spec.mode = Some(map.next_value::<String>()?),
                        // Beside `tasks`: not a task; LoadDensity ignores it,
                        // and so it is noted (`serde_ignored` sees it skipped).
                        _ if nested => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                        _ => {
                            let task = map.next_value::<TaskSpec>()?;
                            spec.tasks.push((
                                Written::Keyed {
                                    method: key,
                                    nested: false,
                                },
                                task,
                            ));
                        }
                    }
                }
                if spec.mode.is_some() && !nested {
                    return Err(de::Error::custom(
                        "\"mode\" given without \"tasks\" (write {\"mode\": ..., \"tasks\": [...]})",
                    ));
                }
                Ok(spec)
            }
        }
        d.deserialize_any(V)
    }
}

/// A schema written by hand, for a type with a hand-written visitor: its
/// name in `$defs` and the schema.
macro_rules! schema_by_hand {
    ($type:ty, $name:literal, $schema:tt) => {
        impl JsonSchema for $type {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    };
}

schema_by_hand!(ThinkTimeSpec, "ThinkTime", {
    "description": "A pause after the task, seconds, or {\"min\": .., \"max\": ..}",
    "anyOf": [
        {"type": "number"},
        {"type": "object", "properties": {"min": {"type": "number"}, "max": {"type": ["number", "null"]}},
         "additionalProperties": false}
    ]
});

schema_by_hand!(VerifySpec, "Verify", {
    "description": "Check the server's certificate (true), not (false), or trust this CA bundle (its path)",
    "type": ["boolean", "string"]
});

schema_by_hand!(CertSpec, "ClientCert", {
    "description": "A PEM file's path (certificate and key), or [certificate path, key path]",
    "anyOf": [
        {"type": "string"},
        {"type": "array", "prefixItems": [{"type": "string"}, {"type": "string"}], "minItems": 2, "maxItems": 2}
    ]
});

schema_by_hand!(FilesSpec, "Files", {
    "description": "Multipart files: field name to the file's content, or [filename, content(, content_type)]",
    "type": "object",
    "additionalProperties": {"anyOf": [
        {"type": "string"},
        {"type": "array", "prefixItems": [{"type": "string"}, {"type": "string"}, {"type": "string"}],
         "minItems": 2, "maxItems": 3}
    ]}
});

/// `tasks`: a list of tasks, `{"mode": ..., "tasks": <list or map>}`, or
/// LoadDensity's legacy map of method to task.
impl JsonSchema for TasksSpec {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Tasks".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let task = generator.subschema_for::<TaskSpec>();
        json_schema!({
            "description": "The tasks: a list, {\"mode\": \"sequence\" | \"weighted\" | \"conditional\", \"tasks\": [...]}, or {\"get\": {...}, \"post\": {...}}",
            "anyOf": [
                {"type": "array", "items": task},
                {"type": "object",
                 "properties": {
                     "mode": {"type": "string", "enum": ["sequence", "weighted", "conditional"]},
                     "tasks": {"anyOf": [
                         {"type": "array", "items": task},
                         {"type": "object", "additionalProperties": task}
                     ]}
                 },
                 "required": ["tasks"],
                 "additionalProperties": false},
                {"type": "object",
                 "propertyNames": {"not": {"enum": ["mode", "tasks"]}},
                 "additionalProperties": task}
            ]
        })
    }
}

/// The keys of the task language, per place, for suggestions.
#[derive(Clone, Copy, Debug, Default)]
pub struct TaskWords;

/// The keys a task may have.
pub fn task_keys() -> &'static [&'static str] {
    serde_aux::serde_introspection::serde_introspect::<TaskSpec>()
}

impl Vocabulary for TaskWords {
    fn keys_at(&self, parent: &[Segment]) -> &'static [&'static str] {
        use serde_aux::serde_introspection::serde_introspect;
        fn key(s: Option<&Segment>) -> Option<&str> {
            match s {
                Some(Segment::Key(k)) => Some(k.as_str()),
                _ => None,
            }
        }
        let last = parent.last();
        let before = parent.len().checked_sub(2).and_then(|i| parent.get(i));
        match (key(before), last) {
            (Some("assertions"), Some(Segment::Index(_))) => serde_introspect::<AssertionSpec>(),
            (Some("extract"), Some(Segment::Index(_))) => serde_introspect::<ExtractSpec>(),
            (_, Some(Segment::Key(k))) if k == "auth" => serde_introspect::<AuthSpec>(),
            (_, Some(Segment::Key(k))) if k == "throttle" => serde_introspect::<ThrottleSpec>(),
            (_, Some(Segment::Key(k))) if k == "retry" => serde_introspect::<RetrySpec>(),
            (_, Some(Segment::Key(k))) if k == "think_time" => &["min", "max"],
            (None, Some(Segment::Key(k))) if k == "tasks" => &["mode", "tasks"],
            _ => task_keys(),
        }
    }
}
