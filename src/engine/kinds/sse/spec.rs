//! An `sse_user`'s steps as written (LoadDensity's `sse_user_template.py`),
//! deserialized by serde and compiled into [`SseStep`]s: every mistake at
//! its JSON path, every unknown key noted.

use std::sync::Arc;
use std::time::Duration;

use http::header::HeaderName;
use serde::Deserialize;
use serde_json::{Map, Value};
use tokio_rustls::rustls::ClientConfig;

use crate::engine::kinds::steps::{heads, name_by_url, StepWords, StepsSpec};
use crate::engine::kinds::Context;
use crate::engine::task::spec::{CertSpec, ThinkTimeSpec, ThrottleSpec, VerifySpec};
use crate::engine::task::HeadKeys;
use crate::engine::task::{Head, Step, TlsSpec};
use crate::resolver::Template;
use crate::spec::{Note, SpecError};

/// What a step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Method {
    /// `open` or `connect`: opens the stream (a new one if one is open).
    Open,
    /// Waits for an event (whose data contains `expect`, if given).
    Wait,
    /// Closes the stream.
    Close,
}

const METHODS: &[(&str, Method)] = &[
    ("open", Method::Open),
    ("connect", Method::Open),
    ("wait", Method::Wait),
    ("close", Method::Close),
];

/// The timeout of a step that gives none, as in LoadDensity.
pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A compiled step.
#[derive(Clone, Debug)]
pub(crate) struct SseStep {
    /// Name, conditions, think time, throttle.
    pub(crate) head: Head,
    /// What it does.
    pub(crate) method: Method,
    /// Its URL (absolute, or relative to the test's host); `None`: the
    /// user's last one, else the test's host.
    pub(crate) url: Option<Template>,
    /// Request headers of `open` (kept for its reconnections).
    pub(crate) headers: Vec<(HeaderName, Template)>,
    /// A text an event's data must contain (`wait`).
    pub(crate) expect: Option<Template>,
    /// How long the step may take.
    pub(crate) timeout: Duration,
    /// `verify` and `cert` as written.
    pub(crate) tls: TlsSpec,
    /// The TLS configuration `tls` makes (set before the test starts);
    /// `None`: the agent's.
    pub(crate) config: Option<Arc<ClientConfig>>,
}

impl Step for SseStep {
    fn head(&self) -> &Head {
        &self.head
    }

    fn head_mut(&mut self) -> &mut Head {
        &mut self.head
    }

    fn env_names(&self) -> Vec<&str> {
        self.url
            .iter()
            .chain(self.headers.iter().map(|(_, value)| value))
            .chain(&self.expect)
            .flat_map(Template::env_names)
            .chain(self.head.env_names())
            .collect()
    }
}

/// One step as written.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default)]
#[schemars(rename = "SseStep", deny_unknown_fields)]
pub(super) struct StepSpec {
    /// `open`/`connect`, `wait` (default), `close`.
    method: Option<String>,
    /// The stream's URL.
    request_url: Option<String>,
    /// The URL when `request_url` is not given.
    url: Option<String>,
    /// What figures are grouped by.
    name: Option<String>,
    /// Request headers (`open`).
    headers: Option<Map<String, Value>>,
    /// A text an event's data must contain (`wait`).
    expect: Option<String>,
    /// Seconds the step may take (default 30).
    timeout: Option<f64>,
    /// `https://`: check the server's certificate (`false`: don't), or
    /// trust this CA bundle.
    verify: Option<VerifySpec>,
    /// `https://`: a client certificate.
    cert: Option<CertSpec>,
    /// `https://`: a client certificate when `cert` is not given.
    client_cert: Option<CertSpec>,
    /// Unused: every step is walked in order.
    weight: Option<i64>,
    /// Run only when this holds.
    run_if: Option<Value>,
    /// Skip when this holds.
    skip_if: Option<Value>,
    /// A pause after the step.
    think_time: Option<ThinkTimeSpec>,
    /// A rate cap shared by every user.
    throttle: Option<ThrottleSpec>,
}

/// A scalar as a template: strings as written, anything else as JSON text.
fn template_of(value: &Value) -> Template {
    match value {
        Value::String(text) => Template::parse(text),
        other => Template::parse(&other.to_string()),
    }
}

/// The `tasks` keyword's value parsed and compiled.
pub(super) fn parse(
    tasks: Value,
    ctx: &Context<'_>,
    notes: &mut Vec<Note>,
) -> Result<Vec<SseStep>, SpecError> {
    #[derive(Deserialize)]
    struct Keyword {
        tasks: StepsSpec<StepSpec>,
    }
    let (keyword, mut found) = crate::spec::parse::<Keyword>(
        serde_json::json!({ "tasks": tasks }),
        &StepWords::<StepSpec>::new(),
    )?;
    notes.append(&mut found);
    let spec = keyword.tasks;
    let prefix = spec.checked("sse_user", notes)?;
    let mut shared = Vec::with_capacity(spec.steps.len());
    let mut methods = Vec::with_capacity(spec.steps.len());
    let mut steps = Vec::with_capacity(spec.steps.len());
    for (index, step) in spec.steps.into_iter().enumerate() {
        let path = format!("{prefix}[{index}]");
        let at = |key: &str, message: String| SpecError::at(format!("{path}.{key}"), message);
        let method_text = step.method.as_deref().unwrap_or("wait");
        let method = METHODS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(method_text))
            .map(|&(_, m)| m)
            .ok_or_else(|| {
                at(
                    "method",
                    format!("unknown method {method_text:?}; expected one of open, connect, wait, close"),
                )
            })?;
        methods.push(method_text.to_ascii_lowercase());
        let (url_key, url) = match (
            step.request_url.filter(|u| !u.is_empty()),
            step.url.filter(|u| !u.is_empty()),
        ) {
            (Some(url), _) => ("request_url", Some(url)),
            (None, url) => ("url", url),
        };
        if let Some(url) = url.as_deref().filter(|u| !u.contains("${")) {
            let absolute =
                super::stream::absolute(url.to_owned(), ctx.base).map_err(|e| at(url_key, e))?;
            super::stream::Target::parse(&absolute).map_err(|e| at(url_key, e))?;
        }
        let headers = step
            .headers
            .into_iter()
            .flatten()
            .map(|(name, value)| {
                HeaderName::try_from(name.as_str())
                    .map(|header| (header, template_of(&value)))
                    .map_err(|_| at(&format!("headers.{name}"), "not a header name".into()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let timeout = crate::engine::task::timeout(&path, step.timeout)?.unwrap_or(DEFAULT_TIMEOUT);
        let cert = crate::engine::task::client_cert(&path, step.cert, step.client_cert, notes);
        shared.push((
            step.name.filter(|n| !n.is_empty()),
            HeadKeys {
                weight: step.weight,
                run_if: step.run_if,
                skip_if: step.skip_if,
                think_time: step.think_time,
                throttle: step.throttle,
            },
        ));
        steps.push(SseStep {
            head: Head::named("-"),
            method,
            url: url.as_deref().map(Template::parse),
            headers,
            expect: step.expect.as_deref().map(Template::parse),
            timeout,
            tls: TlsSpec {
                verify: step.verify,
                cert,
            },
            config: None,
        });
    }
    let named: Vec<bool> = shared.iter().map(|(name, _)| name.is_some()).collect();
    let heads = heads(shared, spec.nested, notes)?;
    for (step, head) in steps.iter_mut().zip(heads) {
        step.head = head;
    }
    name_by_url(
        steps
            .iter_mut()
            .zip(named)
            .zip(&methods)
            .map(|((step, named), method)| {
                (&mut step.head, named, step.url.as_ref(), method.as_str())
            }),
        ctx,
    );
    Ok(steps)
}
