//! From the task list as written ([`spec`](super::spec)) to the engine's
//! [`Scenario`]: methods, templates, checks, and the per-task keys
//! (`think_time`, `throttle`, `retry`, ...) validated, each mistake at its
//! JSON path; what LoadDensity would skip without a word (an unknown
//! assertion type, an extractor without `var`) is skipped with a note.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use http::header::HeaderName;
use http::Method;
use serde_json::{Map, Value};

use super::spec::{
    AssertionSpec, AuthSpec, CertSpec, ExtractSpec, FilesSpec, RetrySpec, TaskSpec, TaskWords,
    TasksSpec, ThinkTimeSpec, ThrottleSpec,
};
use super::{
    Assertion, Auth, Body, Condition, Extractor, FilePart, Head, JsonQuery, Mode, Scenario, Source,
    Task, Think, TlsSpec,
};
use crate::engine::http::{Redirects, SendOptions};
use crate::engine::retry::RetryPolicy;
use crate::engine::throttle::Throttles;
use crate::resolver::{Resolver, Template, TemplateValue};
use crate::spec::{Note, SpecError};

/// How an HTTP user kind names an unnamed task (as in LoadDensity).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Naming {
    /// `fast_http_user`: named by its full URL.
    #[default]
    FastHttp,
    /// `http_user`: named by its path and query (with `params`).
    Http,
}

/// What is fixed for the whole test, resolved in names.
pub trait Fixed {
    /// `template` with the test's fixed values resolved (variables not in
    /// `changing`, the environment), every other placeholder as written.
    fn render(&self, template: &Template, changing: &HashSet<String>) -> String;
}

impl Fixed for Resolver {
    fn render(&self, template: &Template, changing: &HashSet<String>) -> String {
        self.render_fixed(template, changing, None)
    }
}

/// The variables a test registers as it starts, read before the ones
/// already registered: its tasks are compiled (and named) before anything
/// is registered, so that a refusal changes nothing.
#[derive(Debug)]
pub struct Given<'a> {
    /// The test's own `variables`.
    pub variables: Option<&'a serde_json::Map<String, Value>>,
    /// The registered ones, and the environment.
    pub resolver: &'a Resolver,
}

impl Fixed for Given<'_> {
    fn render(&self, template: &Template, changing: &HashSet<String>) -> String {
        self.resolver
            .render_fixed(template, changing, self.variables)
    }
}

/// What the tasks are compiled against.
#[allow(missing_debug_implementations)]
pub struct Context<'a> {
    /// How unnamed tasks are named.
    pub naming: Naming,
    /// The test's host (what relative URLs are relative to).
    pub base: Option<&'a str>,
    /// The test's fixed values.
    pub fixed: &'a dyn Fixed,
    /// The test's `http2`: what a task without its own `http2` key does.
    pub http2: bool,
}

/// Fixed values as written: nothing resolved.
struct AsWritten;

impl Fixed for AsWritten {
    fn render(&self, template: &Template, _: &HashSet<String>) -> String {
        template.source().to_owned()
    }
}

impl Scenario {
    /// `tasks` (the `tasks` keyword's value) parsed and compiled on its
    /// own, for tools and tests: unnamed tasks named by their URL as
    /// written, no host; the notes are dropped.
    pub fn parse(tasks: &Value) -> Result<Scenario, SpecError> {
        parse_alone(tasks, Naming::FastHttp, None).map(|(scenario, _)| scenario)
    }
}

/// `tasks` parsed and compiled on their own, for `user` against `base`,
/// with their fixed values as written; and the notes.
pub(super) fn parse_alone(
    tasks: &Value,
    naming: Naming,
    base: Option<&str>,
) -> Result<(Scenario, Vec<Note>), SpecError> {
    let ctx = Context {
        naming,
        base,
        fixed: &AsWritten,
        http2: false,
    };
    let mut notes = Vec::new();
    let scenario = parse(tasks.clone(), &ctx, &mut notes)?;
    Ok((scenario, notes))
}

/// The `tasks` keyword's value parsed (errors and notes at their paths
/// from `tasks`) and compiled.
pub fn parse(
    tasks: Value,
    ctx: &Context<'_>,
    notes: &mut Vec<Note>,
) -> Result<Scenario, SpecError> {
    #[derive(serde::Deserialize)]
    struct Keyword {
        tasks: TasksSpec,
    }
    let (keyword, mut found) =
        crate::spec::parse::<Keyword>(serde_json::json!({ "tasks": tasks }), &TaskWords)?;
    notes.append(&mut found);
    compile(keyword.tasks, ctx, notes)
}

/// The methods a task may use.
const METHODS: &[(&str, Method)] = &[
    ("get", Method::GET),
    ("post", Method::POST),
    ("put", Method::PUT),
    ("patch", Method::PATCH),
    ("delete", Method::DELETE),
    ("head", Method::HEAD),
    ("options", Method::OPTIONS),
];

const ASSERTION_TYPES: &str = "status_code, contains, not_contains, json_path, header";

/// Compiles `spec` (the `tasks` keyword) into a scenario; notes go to `notes`.
pub fn compile(
    spec: TasksSpec,
    ctx: &Context<'_>,
    notes: &mut Vec<Note>,
) -> Result<Scenario, SpecError> {
    let mode = mode(spec.mode.as_deref())?;
    if spec.tasks.is_empty() {
        return Err(SpecError::at("tasks", "no task given"));
    }
    let mut throttles = Throttles::default();
    let mut tasks = Vec::with_capacity(spec.tasks.len());
    let mut unnamed = Vec::new();
    for (written, task) in spec.tasks {
        let path = written.path();
        let (compiled, named) = compile_task(
            &path,
            written.method(),
            task,
            ctx.http2,
            &mut throttles,
            notes,
        )?;
        if !named {
            unnamed.push(tasks.len());
        }
        tasks.push(compiled);
    }
    weights(mode, &tasks)?;
    // Variables extractors set change during the test: names keep them as written.
    let changing: HashSet<String> = tasks
        .iter()
        .flat_map(|t| &t.extract)
        .filter(|x| !x.session)
        .map(|x| x.var.clone())
        .collect();
    for index in unnamed {
        let task = &mut tasks[index];
        task.head.name = Arc::from(default_name(task, ctx, &changing));
    }
    for task in &mut tasks {
        task.static_uri = match (task.url.as_static(), task.params.is_empty()) {
            (Some(url), true) => super::absolute(url.to_owned(), ctx.base)
                .ok()
                .and_then(|url| url.parse().ok()),
            _ => None,
        };
    }
    Ok(Scenario { mode, tasks })
}

/// An unnamed task's name: its URL with the test's fixed values resolved
/// and the host joined; `http_user` keeps the path and query (`params`
/// included), as Locust's `HttpUser` names a request.
fn default_name(task: &Task, ctx: &Context<'_>, changing: &HashSet<String>) -> String {
    let url = ctx.fixed.render(&task.url, changing);
    let url = super::absolute(url.clone(), ctx.base).unwrap_or(url);
    match ctx.naming {
        Naming::FastHttp => url,
        Naming::Http => {
            let after_scheme = url.find("://").map_or(0, |i| i + 3);
            let mut name = match url[after_scheme..].find('/') {
                Some(slash) if after_scheme > 0 => url[after_scheme + slash..].to_owned(),
                None if after_scheme > 0 => "/".to_owned(),
                _ => url.clone(),
            };
            if let Some(hash) = name.find('#') {
                name.truncate(hash);
            }
            if !task.params.is_empty() {
                let mut query = form_urlencoded::Serializer::new(String::new());
                for (key, value) in &task.params {
                    query.append_pair(key, &ctx.fixed.render(value, changing));
                }
                name.push(if name.contains('?') { '&' } else { '?' });
                name.push_str(&query.finish());
            }
            name
        }
    }
}

/// A scalar as a template: strings as written, numbers and booleans as JSON text.
fn template_of(value: &Value) -> Template {
    match value {
        Value::String(text) => Template::parse(text),
        other => Template::parse(&other.to_string()),
    }
}

fn pairs(map: Option<Map<String, Value>>) -> Vec<(String, Template)> {
    map.into_iter()
        .flatten()
        .map(|(k, v)| (k, template_of(&v)))
        .collect()
}

fn seconds(path: &str, key: &str, s: f64) -> Result<Duration, SpecError> {
    Duration::try_from_secs_f64(s).map_err(|_| {
        SpecError::at(
            format!("{path}.{key}"),
            "must be a number of seconds from 0",
        )
    })
}

/// The `mode` of a task list: LoadDensity's conditional mode is its
/// sequence mode (both check every task's conditions).
pub(crate) fn mode(written: Option<&str>) -> Result<Mode, SpecError> {
    match written.map(str::to_ascii_lowercase).as_deref() {
        None | Some("sequence") | Some("conditional") => Ok(Mode::Sequence),
        Some("weighted") => Ok(Mode::Weighted),
        Some(other) => Err(SpecError::at(
            "tasks.mode",
            format!("{other:?} is not one of \"sequence\", \"weighted\", \"conditional\""),
        )),
    }
}

/// In weighted mode, some task must have a weight above 0.
pub(crate) fn weights<T: super::Step>(mode: Mode, tasks: &[T]) -> Result<(), SpecError> {
    if mode == Mode::Weighted && tasks.iter().all(|t| t.head().weight == 0) {
        return Err(SpecError::at(
            "tasks",
            "in weighted mode at least one task needs a weight above 0",
        ));
    }
    Ok(())
}

/// A task's `timeout` (seconds): a positive duration, the error at its path.
pub(crate) fn timeout(path: &str, seconds: Option<f64>) -> Result<Option<Duration>, SpecError> {
    seconds
        .map(|s| {
            Duration::try_from_secs_f64(s)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| {
                    SpecError::at(
                        format!("{path}.timeout"),
                        "must be a positive number of seconds",
                    )
                })
        })
        .transpose()
}

/// A task's client certificate: `cert`, else `client_cert` (when both are
/// given, `cert` wins, as in LoadDensity, and a note says so).
pub(crate) fn client_cert(
    path: &str,
    cert: Option<CertSpec>,
    client_cert: Option<CertSpec>,
    notes: &mut Vec<Note>,
) -> Option<CertSpec> {
    match (cert, client_cert) {
        (Some(cert), Some(_)) => {
            notes.push(Note::new(
                format!("{path}.client_cert"),
                "ignored: cert is given (cert wins, as in LoadDensity)",
            ));
            Some(cert)
        }
        (cert, client_cert) => cert.or(client_cert),
    }
}

/// The keys every kind's task shares, as written.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct HeadKeys {
    /// `weight` (negative is 0; default 1).
    pub weight: Option<i64>,
    /// `run_if`.
    pub run_if: Option<Value>,
    /// `skip_if`.
    pub skip_if: Option<Value>,
    /// `think_time`.
    pub think_time: Option<ThinkTimeSpec>,
    /// `throttle`.
    pub throttle: Option<ThrottleSpec>,
}

/// The [`Head`] of the task at `path`, named `name` (`named`: written by
/// the user, which keys its throttle), every kind's the same way: one
/// place for what the shared keys mean, their checks and their messages.
/// `throttles` are the test's, shared by its tasks.
pub(crate) fn head(
    path: &str,
    name: &str,
    named: bool,
    keys: HeadKeys,
    throttles: &mut Throttles,
    notes: &mut Vec<Note>,
) -> Result<Head, SpecError> {
    let at = |key: &str, message: String| SpecError::at(format!("{path}.{key}"), message);
    let condition = |key: &str, value: Option<Value>| {
        value
            .map(|c| condition(&c).map_err(|e| at(key, e)))
            .transpose()
    };
    let throttle = match keys.throttle {
        None => None,
        Some(t) => throttle(path, t, named.then_some(name), throttles, notes)?,
    };
    Ok(Head {
        name: Arc::from(name),
        weight: keys
            .weight
            .map_or(1, |w| u32::try_from(w.max(0)).unwrap_or(u32::MAX)),
        run_if: condition("run_if", keys.run_if)?,
        skip_if: condition("skip_if", keys.skip_if)?,
        think: keys.think_time.map(|t| think(path, t)).transpose()?,
        throttle,
    })
}

/// Compiles one task; also says whether it was named.
fn compile_task(
    path: &str,
    legacy_method: Option<&str>,
    spec: TaskSpec,
    http2: bool,
    throttles: &mut Throttles,
    notes: &mut Vec<Note>,
) -> Result<(Task, bool), SpecError> {
    let at = |key: &str, message: String| SpecError::at(format!("{path}.{key}"), message);
    let method_text = spec
        .method
        .as_deref()
        .or(legacy_method)
        .ok_or_else(|| at("method", "missing".into()))?;
    let method = METHODS
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(method_text))
        .map(|(_, m)| m.clone())
        .ok_or_else(|| {
            at(
                "method",
                format!(
                    "{method_text:?} is not one of get, post, put, patch, delete, head, options"
                ),
            )
        })?;
    let url_text = spec
        .request_url
        .filter(|u| !u.is_empty())
        .or(spec.url)
        .ok_or_else(|| at("request_url", "missing (request_url or url)".into()))?;
    let name = spec.name.filter(|n| !n.is_empty());
    let headers = pairs(spec.headers)
        .into_iter()
        .map(|(k, v)| {
            HeaderName::try_from(k.as_str())
                .map(|name| (name, v))
                .map_err(|_| at(&format!("headers.{k}"), "not a header name".into()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let body = body(path, spec.json, spec.data, spec.files)?;
    let timeout = timeout(path, spec.timeout)?;
    let auth = spec.auth.map(|a| auth(path, a)).transpose()?;
    let mut assertions = Vec::new();
    for (j, a) in spec.assertions.into_iter().flatten().enumerate() {
        if let Some(a) = assertion(&format!("{path}.assertions[{j}]"), a, notes)? {
            assertions.push(a);
        }
    }
    let mut extract = Vec::new();
    for (j, x) in spec.extract.into_iter().flatten().enumerate() {
        if let Some(x) = extractor(&format!("{path}.extract[{j}]"), x, notes)? {
            extract.push(x);
        }
    }
    let head = head(
        path,
        name.as_deref().unwrap_or(url_text.as_str()),
        name.is_some(),
        HeadKeys {
            weight: spec.weight,
            run_if: spec.run_if,
            skip_if: spec.skip_if,
            think_time: spec.think_time,
            throttle: spec.throttle,
        },
        throttles,
        notes,
    )?;
    let retry = spec.retry.map(|r| retry(path, r)).transpose()?;
    let cert = client_cert(path, spec.cert, spec.client_cert, notes);
    let keep = crate::engine::http::Retain {
        body: assertions.iter().any(|a| {
            matches!(
                a,
                Assertion::Contains(_) | Assertion::NotContains(_) | Assertion::JsonPath { .. }
            )
        }) || extract
            .iter()
            .any(|x| matches!(x.source, Source::JsonPath(_))),
        headers: assertions
            .iter()
            .any(|a| matches!(a, Assertion::Header { .. }))
            || extract
                .iter()
                .any(|x| matches!(x.source, Source::Header(_))),
    };
    let named = name.is_some();
    let task = Task {
        head,
        method,
        url: Template::parse(&url_text),
        headers,
        params: pairs(spec.params),
        cookies: pairs(spec.cookies),
        body,
        timeout,
        auth,
        assertions,
        extract,
        retry,
        tls: TlsSpec {
            verify: spec.verify,
            cert,
        },
        options: SendOptions {
            retain: keep,
            redirects: Redirects::from(spec.allow_redirects.unwrap_or(true)),
            tls: None,
            http2: spec.http2.unwrap_or(http2),
        },
        static_uri: None,
    };
    Ok((task, named))
}

fn body(
    path: &str,
    json: Option<Value>,
    data: Option<Value>,
    files: Option<FilesSpec>,
) -> Result<Body, SpecError> {
    let at = |key: &str, message: &str| SpecError::at(format!("{path}.{key}"), message);
    if let Some(FilesSpec(files)) = files {
        if json.is_some() {
            return Err(at("json", "give json or files, not both"));
        }
        let fields = match data {
            None => Vec::new(),
            Some(Value::Object(map)) => pairs(Some(map)),
            Some(_) => {
                return Err(at(
                    "data",
                    "with files, data must be an object of form fields",
                ))
            }
        };
        let files = files
            .into_iter()
            .map(|(field, file)| FilePart {
                filename: Template::parse(file.filename.as_deref().unwrap_or(&field)),
                content: Template::parse(&file.content),
                content_type: file.content_type,
                field,
            })
            .collect();
        return Ok(Body::Multipart { fields, files });
    }
    Ok(match (json, data) {
        (Some(json), None) => Body::Json(TemplateValue::parse(&json)),
        (None, Some(Value::Object(map))) => Body::Form(pairs(Some(map))),
        (None, Some(Value::String(raw))) => Body::Raw(Template::parse(&raw)),
        (None, None) => Body::None,
        (None, Some(_)) => return Err(at("data", "not an object or a string")),
        (Some(_), Some(_)) => return Err(at("json", "give json or data, not both")),
    })
}

fn auth(path: &str, spec: AuthSpec) -> Result<Auth, SpecError> {
    let at = |key: &str, message: String| SpecError::at(format!("{path}.auth.{key}"), message);
    let text = |v: Option<Value>| {
        v.map(|v| template_of(&v))
            .unwrap_or_else(|| Template::parse(""))
    };
    match spec.kind.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("basic") => Ok(Auth::Basic {
            username: text(spec.username),
            password: text(spec.password),
        }),
        Some("bearer") => Ok(Auth::Bearer(text(spec.token))),
        Some(other) => Err(at(
            "type",
            format!("{other:?} is not \"basic\" or \"bearer\""),
        )),
        None => Err(at("type", "missing (\"basic\" or \"bearer\")".into())),
    }
}

fn assertion(
    path: &str,
    spec: AssertionSpec,
    notes: &mut Vec<Note>,
) -> Result<Option<Assertion>, SpecError> {
    let at = |key: &str, message: &str| SpecError::at(format!("{path}.{key}"), message);
    let kind = spec.kind.as_deref().map(str::to_ascii_lowercase);
    let value = spec.value;
    let needed = |value: Option<Value>| value.ok_or_else(|| at("value", "missing"));
    Ok(Some(match kind.as_deref() {
        Some("status_code") => {
            let value = needed(value)?;
            let code = value
                .as_u64()
                .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
                .and_then(|v| u16::try_from(v).ok())
                .filter(|v| (100..1000).contains(v))
                .ok_or_else(|| at("value", "expected a status code (a number from 100 to 999)"))?;
            Assertion::StatusCode(code)
        }
        Some("contains") => Assertion::Contains(template_of(&needed(value)?)),
        Some("not_contains") => Assertion::NotContains(template_of(&needed(value)?)),
        Some("json_path") => {
            let written = spec.path.ok_or_else(|| at("path", "missing"))?;
            let query = JsonQuery::parse(&written).map_err(|e| at("path", &e))?;
            Assertion::JsonPath {
                query,
                value: TemplateValue::parse(&value.unwrap_or(Value::Null)),
            }
        }
        Some("header") => {
            let name = spec.name.ok_or_else(|| at("name", "missing"))?;
            Assertion::Header {
                name: HeaderName::try_from(name.as_str())
                    .map_err(|_| at("name", "not a header name"))?,
                value: template_of(&needed(value)?),
            }
        }
        other => {
            let what = match other {
                Some(kind) => format!(
                    "unknown assertion type {kind:?}, assertion ignored (known: {ASSERTION_TYPES})"
                ),
                None => format!("missing, assertion ignored (known: {ASSERTION_TYPES})"),
            };
            notes.push(Note::new(format!("{path}.type"), what));
            return Ok(None);
        }
    }))
}

fn extractor(
    path: &str,
    spec: ExtractSpec,
    notes: &mut Vec<Note>,
) -> Result<Option<Extractor>, SpecError> {
    let at = |key: &str, message: &str| SpecError::at(format!("{path}.{key}"), message);
    let Some(var) = spec.var.filter(|v| !v.is_empty()) else {
        notes.push(Note::new(
            format!("{path}.var"),
            "missing, extractor ignored",
        ));
        return Ok(None);
    };
    let source = match spec.from.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("json_path") => {
            let written = spec.path.unwrap_or_default();
            Source::JsonPath(JsonQuery::parse(&written).map_err(|e| at("path", &e))?)
        }
        Some("header") => {
            let name = spec.name.ok_or_else(|| at("name", "missing"))?;
            Source::Header(
                HeaderName::try_from(name.as_str()).map_err(|_| at("name", "not a header name"))?,
            )
        }
        Some("status_code") => Source::StatusCode,
        Some(other) => {
            notes.push(Note::new(
                format!("{path}.from"),
                format!("unknown source {other:?}, extractor ignored (known: json_path, header, status_code)"),
            ));
            return Ok(None);
        }
    };
    let session = match spec.scope.as_deref() {
        None | Some("var") => false,
        Some("session") => true,
        Some(other) => {
            return Err(at(
                "scope",
                &format!("{other:?} is not \"var\" or \"session\""),
            ))
        }
    };
    Ok(Some(Extractor {
        var,
        source,
        session,
    }))
}

fn pair(args: &Value) -> Result<(TemplateValue, TemplateValue), String> {
    match args {
        Value::Array(items) if items.len() == 2 => Ok((
            TemplateValue::parse(&items[0]),
            TemplateValue::parse(&items[1]),
        )),
        _ => Err("expects a list of two values".into()),
    }
}

pub(crate) fn condition(condition: &Value) -> Result<Condition, String> {
    match condition {
        Value::Bool(b) => Ok(Condition::Constant(*b)),
        Value::Number(n) => Ok(Condition::Constant(n.as_f64().is_some_and(|n| n != 0.0))),
        Value::String(_) => Ok(Condition::Truthy(TemplateValue::parse(condition))),
        Value::Object(map) if map.len() == 1 => {
            let (op, args) = map.iter().next().ok_or("empty condition")?;
            match op.to_ascii_lowercase().as_str() {
                "equals" => pair(args).map(|(a, b)| Condition::Equals(a, b)),
                "not_equals" => pair(args).map(|(a, b)| Condition::NotEquals(a, b)),
                "in" => pair(args).map(|(a, b)| Condition::In(a, b)),
                "truthy" => Ok(Condition::Truthy(TemplateValue::parse(args))),
                other => Err(format!("{other:?} is not one of equals, not_equals, in, truthy")),
            }
        }
        _ => Err("expected true/false, a number, \"${var.x}\", or {\"equals\"|\"not_equals\"|\"in\"|\"truthy\": ...}".into()),
    }
}

pub(crate) fn think(path: &str, spec: ThinkTimeSpec) -> Result<Think, SpecError> {
    // Negative values are 0, as in LoadDensity.
    let (min, max) = match spec {
        ThinkTimeSpec::Fixed(s) => (s.max(0.0), s.max(0.0)),
        ThinkTimeSpec::Between { min, max } => {
            let min = min.max(0.0);
            (min, max.unwrap_or(min).max(min))
        }
    };
    Ok(Think {
        min: seconds(path, "think_time", min)?,
        max: seconds(path, "think_time", max)?,
    })
}

pub(crate) fn throttle(
    path: &str,
    spec: ThrottleSpec,
    name: Option<&str>,
    throttles: &mut Throttles,
    notes: &mut Vec<Note>,
) -> Result<Option<Arc<crate::engine::throttle::Bucket>>, SpecError> {
    let at = |key: &str, message: &str| SpecError::at(format!("{path}.throttle.{key}"), message);
    let Some(rps) = spec.rps else {
        notes.push(Note::new(
            format!("{path}.throttle.rps"),
            "missing: the task is not throttled",
        ));
        return Ok(None);
    };
    if !(rps.is_finite() && rps > 0.0) {
        return Err(at(
            "rps",
            "must be a positive number of requests per second",
        ));
    }
    let burst = match spec.burst {
        None => (rps as u32).max(1),
        Some(b) if b.is_finite() && b >= 1.0 => b.min(f64::from(u32::MAX)) as u32,
        Some(_) => return Err(at("burst", "must be a number from 1")),
    };
    let key = match spec.key {
        None | Some(Value::Null) => name.unwrap_or("default").to_owned(),
        Some(Value::String(key)) if key.is_empty() => name.unwrap_or("default").to_owned(),
        Some(Value::String(key)) => key,
        Some(other) => other.to_string(),
    };
    let (bucket, differs) = throttles.bucket(&key, rps, burst);
    if differs {
        notes.push(Note::new(
            format!("{path}.throttle"),
            format!(
                "key {key:?} is already throttled at {} rps, burst {}: the first setting wins",
                bucket.rps(),
                bucket.burst()
            ),
        ));
    }
    Ok(Some(bucket))
}

fn retry(path: &str, spec: RetrySpec) -> Result<RetryPolicy, SpecError> {
    let at = |key: &str| {
        SpecError::at(
            format!("{path}.retry.{key}"),
            "must be a number from 0 (seconds for delays)",
        )
    };
    let finite = |v: f64, key: &str| {
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(at(key))
        }
    };
    Ok(RetryPolicy {
        budgets: [spec.transient, spec.flaky, spec.permanent],
        base_delay: Duration::try_from_secs_f64(finite(spec.base_delay, "base_delay")?)
            .map_err(|_| at("base_delay"))?,
        max_delay: Duration::try_from_secs_f64(finite(spec.max_delay, "max_delay")?)
            .map_err(|_| at("max_delay"))?,
        backoff_factor: finite(spec.backoff_factor, "backoff_factor")?,
        jitter: finite(spec.jitter, "jitter")?,
    })
}
