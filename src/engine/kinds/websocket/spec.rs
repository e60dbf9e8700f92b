//! A `websocket_user`'s steps as written (LoadDensity's
//! `websocket_user_template.py`), deserialized by serde, and compiled into
//! [`WsStep`]s: every mistake at its JSON path, every unknown key noted.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;
use tokio_rustls::rustls::ClientConfig;
use tokio_tungstenite::tungstenite::Message;

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
    /// Opens the connection (again, if the URL differs from the open one).
    Connect,
    /// Sends the payload.
    Send,
    /// Waits for the next message.
    Recv,
    /// Sends the payload and waits for the next message.
    SendRecv,
    /// Closes the connection.
    Close,
}

const METHODS: &[(&str, Method)] = &[
    ("connect", Method::Connect),
    ("send", Method::Send),
    ("recv", Method::Recv),
    ("sendrecv", Method::SendRecv),
    ("close", Method::Close),
];

/// The timeout of a step that gives none, as in LoadDensity.
pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// A payload: text, or bytes written in base64 (`binary: true`).
#[derive(Clone, Debug)]
pub(crate) enum Payload {
    /// Sent as a text message.
    Text(Template),
    /// Rendered, then base64-decoded and sent as a binary message.
    Binary(Template),
    /// Known before the test (no placeholder): the message itself, sent as
    /// a shared copy (no rendering, no allocation per step).
    Fixed(Message),
}

/// A compiled step.
#[derive(Clone, Debug)]
pub(crate) struct WsStep {
    /// Name, conditions, think time, throttle.
    pub(crate) head: Head,
    /// What it does.
    pub(crate) method: Method,
    /// Its URL; `None`: the user's open one, else the test's host.
    pub(crate) url: Option<Template>,
    /// What `send` and `sendrecv` send.
    pub(crate) payload: Payload,
    /// A text the received message must contain.
    pub(crate) expect: Option<Template>,
    /// How long the step may take, connecting included.
    pub(crate) timeout: Duration,
    /// `verify` and `cert` as written.
    pub(crate) tls: TlsSpec,
    /// The TLS configuration `tls` makes (set before the test starts);
    /// `None`: the agent's.
    pub(crate) config: Option<Arc<ClientConfig>>,
}

impl Step for WsStep {
    fn head(&self) -> &Head {
        &self.head
    }

    fn head_mut(&mut self) -> &mut Head {
        &mut self.head
    }

    fn env_names(&self) -> Vec<&str> {
        let payload = match &self.payload {
            Payload::Text(t) | Payload::Binary(t) => Some(t),
            Payload::Fixed(_) => None,
        };
        self.url
            .iter()
            .chain(payload)
            .chain(&self.expect)
            .flat_map(Template::env_names)
            .chain(self.head.env_names())
            .collect()
    }
}

/// One step as written.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default)]
#[schemars(rename = "WebsocketStep", deny_unknown_fields)]
pub(super) struct StepSpec {
    /// `connect`, `send` (default), `recv`, `sendrecv`, `close`.
    method: Option<String>,
    /// The URL (`ws://` or `wss://`).
    request_url: Option<String>,
    /// The URL when `request_url` is not given.
    url: Option<String>,
    /// What figures are grouped by.
    name: Option<String>,
    /// What `send` and `sendrecv` send.
    payload: Option<String>,
    /// The payload is base64, sent as a binary message.
    binary: Option<bool>,
    /// A text the received message must contain.
    expect: Option<String>,
    /// Seconds the step may take (default 5).
    timeout: Option<f64>,
    /// `wss://`: check the server's certificate (`false`: don't), or
    /// trust this CA bundle.
    verify: Option<VerifySpec>,
    /// `wss://`: a client certificate.
    cert: Option<CertSpec>,
    /// `wss://`: a client certificate when `cert` is not given.
    client_cert: Option<CertSpec>,
    /// Unused: every step is walked in order.
    weight: Option<i64>,
    /// Run only when this holds.
    run_if: Option<serde_json::Value>,
    /// Skip when this holds.
    skip_if: Option<serde_json::Value>,
    /// A pause after the step.
    think_time: Option<ThinkTimeSpec>,
    /// A rate cap shared by every user.
    throttle: Option<ThrottleSpec>,
}

/// The `tasks` keyword's value parsed and compiled.
pub(super) fn parse(
    tasks: serde_json::Value,
    ctx: &Context<'_>,
    notes: &mut Vec<Note>,
) -> Result<Vec<WsStep>, SpecError> {
    #[derive(Deserialize)]
    struct Keyword {
        tasks: StepsSpec<StepSpec>,
    }
    let (keyword, mut found) = crate::spec::parse::<Keyword>(
        serde_json::json!({ "tasks": tasks }),
        &StepWords::<StepSpec>::new(),
    )?;
    notes.append(&mut found);
    compile(keyword.tasks, ctx, notes)
}

fn compile(
    spec: StepsSpec<StepSpec>,
    ctx: &Context<'_>,
    notes: &mut Vec<Note>,
) -> Result<Vec<WsStep>, SpecError> {
    let prefix = spec.checked("websocket_user", notes)?;
    let mut shared = Vec::with_capacity(spec.steps.len());
    let mut steps = Vec::with_capacity(spec.steps.len());
    for (index, step) in spec.steps.into_iter().enumerate() {
        let path = format!("{prefix}[{index}]");
        let at = |key: &str, message: String| SpecError::at(format!("{path}.{key}"), message);
        let method_text = step.method.as_deref().unwrap_or("send");
        let method = METHODS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(method_text))
            .map(|&(_, m)| m)
            .ok_or_else(|| {
                at(
                    "method",
                    format!("unknown method {method_text:?}; expected one of connect, send, recv, sendrecv, close"),
                )
            })?;
        let (url_key, url) = match (
            step.request_url.filter(|u| !u.is_empty()),
            step.url.filter(|u| !u.is_empty()),
        ) {
            (Some(url), _) => ("request_url", Some(url)),
            (None, url) => ("url", url),
        };
        if let Some(url) = url.as_deref().filter(|u| !u.contains("${")) {
            super::socket::target(url).map_err(|e| at(url_key, e))?;
        }
        let binary = step.binary.unwrap_or(false);
        let payload_text = step.payload.unwrap_or_default();
        let template = Template::parse(&payload_text);
        let payload = match (template.as_static(), binary) {
            (Some(text), true) => {
                Payload::Fixed(Message::binary(decode(text).map_err(|e| at("payload", e))?))
            }
            (Some(text), false) => Payload::Fixed(Message::text(text)),
            (None, true) => Payload::Binary(template),
            (None, false) => Payload::Text(template),
        };
        let timeout = crate::engine::task::timeout(&path, step.timeout)?.unwrap_or(DEFAULT_TIMEOUT);
        let cert = crate::engine::task::client_cert(&path, step.cert, step.client_cert, notes);
        let name = step.name.filter(|n| !n.is_empty());
        shared.push((
            name,
            HeadKeys {
                weight: step.weight,
                run_if: step.run_if,
                skip_if: step.skip_if,
                think_time: step.think_time,
                throttle: step.throttle,
            },
        ));
        steps.push(WsStep {
            head: Head::named("-"),
            method,
            url: url.as_deref().map(Template::parse),
            payload,
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
        steps.iter_mut().zip(named).map(|(step, named)| {
            let method = method_name(step.method);
            (&mut step.head, named, step.url.as_ref(), method)
        }),
        ctx,
    );
    Ok(steps)
}

/// What a method is called.
pub(super) fn method_name(method: Method) -> &'static str {
    METHODS
        .iter()
        .find(|(_, m)| *m == method)
        .map_or("send", |(name, _)| name)
}

/// A binary payload's bytes: standard base64, padded or not.
pub(super) fn decode(text: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text.trim()))
        .map_err(|e| format!("binary payload is not base64: {e}"))
}
