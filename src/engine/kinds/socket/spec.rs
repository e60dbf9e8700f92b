//! A `socket_user` task list as written (LoadDensity's
//! `socket_user_template.py`): serde types, and their compilation into
//! [`SocketTask`]s, each mistake at its JSON path.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use super::task::{Address, Payload, Reply, SocketTask, Tls, Transport, MAX_EXACT_BYTES};
use crate::engine::kinds::steps::{StepWords, StepsSpec};
use crate::engine::kinds::Context;
use crate::engine::task::spec::{CertSpec, VerifySpec};
use crate::engine::task::spec::{ThinkTimeSpec, ThrottleSpec};
use crate::engine::task::{self, HeadKeys, Mode, Scenario, TlsSpec};
use crate::engine::throttle::Throttles;
use crate::resolver::Template;
use crate::spec::{Note, SpecError};

/// LoadDensity's target when neither the step nor the test names one
/// (`SocketUserWrapper.host`).
pub(crate) const DEFAULT_TARGET: &str = "127.0.0.1:9000";

/// One step as written.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default)]
#[schemars(rename = "SocketTask", deny_unknown_fields)]
pub(crate) struct SocketTaskSpec {
    /// `tcp` (default) or `udp`, any case.
    pub(crate) protocol: Option<String>,
    /// `host:port` (`[v6]:port`); default: `host`, then the test's host.
    pub(crate) target: Option<String>,
    /// The target when `target` is not given.
    pub(crate) host: Option<String>,
    /// What is sent: text (UTF-8), or `hex:` and the bytes in hex.
    pub(crate) payload: Option<Value>,
    /// Bytes to read back (0: none).
    pub(crate) expect_bytes: Option<Value>,
    /// Text the reply must contain.
    pub(crate) expect_substring: Option<Value>,
    /// The step's timeout, seconds (LoadDensity's default: 5).
    pub(crate) timeout: Option<f64>,
    /// What figures are grouped by (default `protocol:target`).
    pub(crate) name: Option<String>,
    /// TCP only: TLS over the connection.
    pub(crate) tls: Option<bool>,
    /// With `tls`: check the server's certificate (`true`), not (`false`),
    /// or against this CA bundle.
    pub(crate) verify: Option<VerifySpec>,
    /// With `tls`: the name the server's certificate must carry (default:
    /// the target's host).
    pub(crate) server_name: Option<String>,
    /// With `tls`: a client certificate.
    pub(crate) cert: Option<CertSpec>,
    /// Unused: every step is walked in order.
    pub(crate) weight: Option<i64>,
    /// Run only when this holds.
    pub(crate) run_if: Option<Value>,
    /// Skip when this holds.
    pub(crate) skip_if: Option<Value>,
    /// A pause after the step.
    pub(crate) think_time: Option<ThinkTimeSpec>,
    /// A rate cap shared by every user.
    pub(crate) throttle: Option<ThrottleSpec>,
}

/// The `tasks` keyword's value parsed (notes at their paths) and compiled.
pub(crate) fn parse(
    tasks: Value,
    ctx: &Context<'_>,
    notes: &mut Vec<Note>,
) -> Result<Scenario<SocketTask>, SpecError> {
    #[derive(Deserialize)]
    struct Keyword {
        tasks: StepsSpec<SocketTaskSpec>,
    }
    let (keyword, mut found) = crate::spec::parse::<Keyword>(
        serde_json::json!({ "tasks": tasks }),
        &StepWords::<SocketTaskSpec>::new(),
    )?;
    notes.append(&mut found);
    let spec = keyword.tasks;
    spec.checked("socket_user", notes)?;
    let base = ctx.base.map(bare_address).filter(|b| !b.is_empty());
    let mut throttles = Throttles::default();
    let tasks = spec
        .steps
        .into_iter()
        .enumerate()
        .map(|(index, task)| {
            let path = format!("tasks{}[{index}]", if spec.nested { ".tasks" } else { "" });
            compile(&path, task, base, ctx, &mut throttles, notes)
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Scenario {
        mode: Mode::Sequence,
        tasks,
    })
}

/// The test's host as a default target: `host:port`, a scheme
/// (`tcp://`) and a trailing `/` taken off.
fn bare_address(host: &str) -> &str {
    let host = host.split_once("://").map_or(host, |(_, rest)| rest);
    host.trim_end_matches('/')
}

/// Compiles one step.
fn compile(
    path: &str,
    spec: SocketTaskSpec,
    base: Option<&str>,
    ctx: &Context<'_>,
    throttles: &mut Throttles,
    notes: &mut Vec<Note>,
) -> Result<SocketTask, SpecError> {
    let at = |key: &str, message: String| SpecError::at(format!("{path}.{key}"), message);
    let written = spec.protocol.as_deref().unwrap_or("tcp");
    let transport = match written.to_ascii_lowercase().as_str() {
        "tcp" => Transport::Tcp,
        "udp" => Transport::Udp,
        _ => {
            return Err(at(
                "protocol",
                format!("unknown protocol {written:?}; expected one of tcp, udp"),
            ))
        }
    };
    let (target_key, target_text) = match (
        spec.target.filter(|t| !t.is_empty()),
        spec.host.filter(|h| !h.is_empty()),
    ) {
        (Some(target), _) => ("target", target),
        (None, Some(host)) => ("host", host),
        (None, None) => ("target", base.unwrap_or(DEFAULT_TARGET).to_owned()),
    };
    let target = Template::parse(&target_text);
    let address = match target.as_static() {
        Some(text) => Some(Address::parse(text).map_err(|e| at(target_key, e))?),
        None => None,
    };
    let payload = match spec.payload {
        None | Some(Value::Null) => Payload::Bytes(Arc::from(&[][..])),
        Some(Value::String(text)) => {
            let template = Template::parse(&text);
            match template.as_static() {
                Some(text) => Payload::Bytes(Arc::from(
                    super::task::payload_bytes(text).map_err(|e| at("payload", e))?,
                )),
                None => Payload::Template(template),
            }
        }
        Some(Value::Number(n)) => Payload::Bytes(Arc::from(n.to_string().into_bytes())),
        Some(_) => {
            return Err(at(
                "payload",
                "expected text, or \"hex:\" and the bytes in hex".into(),
            ))
        }
    };
    let exact = match spec.expect_bytes {
        None | Some(Value::Null) => 0,
        Some(value) => byte_count(&value).ok_or_else(|| {
            at(
                "expect_bytes",
                format!("expected a number of bytes from 0 to {MAX_EXACT_BYTES}"),
            )
        })?,
    };
    let substring = match spec.expect_substring {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) => Some(Template::parse(&text)),
        Some(Value::Number(n)) => Some(Template::parse(&n.to_string())),
        Some(_) => return Err(at("expect_substring", "expected text".into())),
    };
    let timeout = task::timeout(path, spec.timeout)?;
    let tls = match (spec.tls.unwrap_or(false), transport) {
        (true, Transport::Udp) => {
            return Err(at(
                "tls",
                "TLS is for tcp steps (DTLS is not supported)".into(),
            ))
        }
        (true, Transport::Tcp) => Some(Tls {
            spec: TlsSpec {
                verify: spec.verify,
                cert: spec.cert,
            },
            server_name: spec.server_name.filter(|n| !n.is_empty()),
            config: None,
            id: 0,
        }),
        (false, _) => {
            for (key, given) in [
                ("verify", spec.verify.is_some()),
                ("server_name", spec.server_name.is_some()),
                ("cert", spec.cert.is_some()),
            ] {
                if given {
                    notes.push(Note::new(
                        format!("{path}.{key}"),
                        "ignored: the step has no \"tls\": true",
                    ));
                }
            }
            None
        }
    };
    let named = spec.name.filter(|n| !n.is_empty());
    let name = match named.clone() {
        Some(name) => name,
        // LoadDensity's `f"{protocol}:{target}"`, the protocol as written
        // (lowercased), the test's fixed values resolved.
        None => format!(
            "{}:{}",
            written.to_ascii_lowercase(),
            ctx.fixed.render(&target, &Default::default())
        ),
    };
    let head = task::head(
        path,
        &name,
        named.is_some(),
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
    Ok(SocketTask {
        head,
        transport,
        target,
        address,
        payload,
        reply: Reply { exact, substring },
        timeout,
        tls,
    })
}

/// `expect_bytes` as LoadDensity's `int(...)` takes it: a whole number (or
/// its text), within [`MAX_EXACT_BYTES`].
fn byte_count(value: &Value) -> Option<usize> {
    let n = match value {
        Value::Number(n) => match n.as_u64() {
            Some(n) => n,
            // `int(5.0)`: a whole float.
            None => n
                .as_f64()
                .filter(|f| f.fract() == 0.0 && (0.0..=MAX_EXACT_BYTES as f64).contains(f))?
                as u64,
        },
        Value::String(text) => text.trim().parse().ok()?,
        _ => return None,
    };
    usize::try_from(n).ok().filter(|n| *n <= MAX_EXACT_BYTES)
}
