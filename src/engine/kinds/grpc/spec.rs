//! A `grpc_user` task list as written (serde types, mistakes at their JSON
//! path, unknown keys noted) and its compilation into [`GrpcTask`]s.
//! Descriptors are not known here (the `.proto` is read in `prepare`,
//! through the test's paths): what needs them is checked there.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;
use tonic::metadata::{AsciiMetadataKey, BinaryMetadataKey};

use super::{GrpcTask, Key, Payload, Rpc, Security};
use crate::engine::kinds::steps::{StepWords, StepsSpec};
use crate::engine::task::spec::{CertSpec, ThinkTimeSpec, ThrottleSpec, VerifySpec};
use crate::engine::task::{self, HeadKeys, Scenario, TlsSpec};
use crate::engine::throttle::Throttles;
use crate::resolver::{Template, TemplateValue};
use crate::spec::{Note, Segment, SpecError, Vocabulary};

/// One `grpc_user` task as written.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default)]
#[schemars(rename = "GrpcTask", deny_unknown_fields)]
pub(super) struct GrpcTaskSpec {
    /// What figures are grouped by (default `service.method`).
    pub name: Option<String>,
    /// `host:port` (an `http://`, `https://`, `grpc://` or `grpcs://`
    /// prefix is allowed); default: `host`, then the test's host.
    pub target: Option<String>,
    /// The target when `target` is not given (as LoadDensity reads it).
    pub host: Option<String>,
    /// The `.proto` file's path; none: server reflection.
    pub proto: Option<String>,
    /// The fully qualified service: `demo.Greeter`.
    pub service: Option<String>,
    /// The method's name: `SayHello`.
    pub method: Option<String>,
    /// `unary` (default), `server_stream`, `client_stream`, `bidi`.
    pub rpc: Option<String>,
    /// The request as JSON; a list of them for client streams.
    pub payload: Option<Value>,
    /// Request metadata: `{"key": "value"}` or `[["key", "value"], ...]`.
    pub metadata: Option<Value>,
    /// The call's deadline, seconds.
    pub timeout: Option<f64>,
    /// `true`/`false`, or `{"verify": ..., "cert": ...}`.
    pub tls: Option<TlsOption>,
    /// LoadDensity's Python stub class: refused with what to write instead
    /// (so not in the schema).
    #[schemars(skip)]
    pub stub_path: Option<Value>,
    /// LoadDensity's Python request class: refused the same way.
    #[schemars(skip)]
    pub request_path: Option<Value>,
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
}

/// `tls`: on or off, or on with its own checks and client certificate.
#[derive(Debug)]
pub(super) enum TlsOption {
    /// `true` or `false`.
    On(bool),
    /// `{"verify": ..., "cert": ...}`: TLS, configured.
    With(TlsKeys),
}

/// `tls` as an object.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(default)]
#[schemars(rename = "GrpcTlsKeys", deny_unknown_fields)]
pub(super) struct TlsKeys {
    /// `false`, or a CA bundle's path (default: the agent's roots).
    pub verify: Option<VerifySpec>,
    /// A client certificate: one PEM path, or `[cert, key]`.
    pub cert: Option<CertSpec>,
}

impl<'de> Deserialize<'de> for TlsOption {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TlsOption;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("true, false, or {\"verify\": ..., \"cert\": ...}")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(TlsOption::On(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                TlsKeys::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(TlsOption::With)
            }
        }
        d.deserialize_any(V)
    }
}

impl schemars::JsonSchema for TlsOption {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "GrpcTls".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let keys = generator.subschema_for::<TlsKeys>();
        schemars::json_schema!({
            "description": "TLS on (true) or off (false), or on with {\"verify\": ..., \"cert\": ...}",
            "anyOf": [{"type": "boolean"}, keys]
        })
    }
}

/// The keys of a `grpc_user` task list, per place, for suggestions.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct GrpcWords;

impl Vocabulary for GrpcWords {
    fn keys_at(&self, parent: &[Segment]) -> &'static [&'static str] {
        use serde_aux::serde_introspection::serde_introspect;
        match parent.last() {
            Some(Segment::Key(k)) if k == "tls" => serde_introspect::<TlsKeys>(),
            _ => StepWords::<GrpcTaskSpec>::new().keys_at(parent),
        }
    }
}

/// What a task looks like, for the errors that show it.
pub(super) const SHAPE: &str = "{\"target\": \"host:port\", \"proto\": \"protos/greeter.proto\" (or none, to use server reflection), \"service\": \"demo.Greeter\", \"method\": \"SayHello\", \"rpc\": \"unary\" | \"server_stream\" | \"client_stream\" | \"bidi\", \"payload\": {...} (a list of them for client streams), \"metadata\": {\"key\": \"value\"}, \"timeout\": 10, \"tls\": false}";

/// Where an unnamed `grpc_user` task connects when neither it nor the test
/// names a target: LoadDensity's default.
const DEFAULT_TARGET: &str = "localhost:50051";

/// The `tasks` keyword's value parsed and compiled, against the test's
/// host `base`.
pub(super) fn parse(
    tasks: Value,
    base: Option<&str>,
    notes: &mut Vec<Note>,
) -> Result<Scenario<GrpcTask>, SpecError> {
    #[derive(Deserialize)]
    struct Keyword {
        tasks: StepsSpec<GrpcTaskSpec>,
    }
    let (keyword, mut found) =
        crate::spec::parse::<Keyword>(serde_json::json!({ "tasks": tasks }), &GrpcWords)?;
    notes.append(&mut found);
    let spec = keyword.tasks;
    let mode = task::mode(spec.mode.as_deref())?;
    if spec.steps.is_empty() {
        return Err(SpecError::at("tasks", "no task given"));
    }
    let mut throttles = Throttles::default();
    let mut tasks = Vec::with_capacity(spec.steps.len());
    for (index, written) in spec.steps.into_iter().enumerate() {
        let path = format!("tasks{}[{index}]", if spec.nested { ".tasks" } else { "" });
        tasks.push(compile(path, written, base, &mut throttles, notes)?);
    }
    task::weights(mode, &tasks)?;
    Ok(Scenario { mode, tasks })
}

/// The rpc kinds, as `rpc` names them (LoadDensity's spellings, any case).
const RPCS: &[(&str, Rpc)] = &[
    ("unary", Rpc::Unary),
    ("server_stream", Rpc::ServerStream),
    ("client_stream", Rpc::ClientStream),
    ("bidi", Rpc::Bidi),
    ("bidirectional", Rpc::Bidi),
    ("bidi_stream", Rpc::Bidi),
];

/// Compiles one task, written at `path`.
fn compile(
    path: String,
    spec: GrpcTaskSpec,
    base: Option<&str>,
    throttles: &mut Throttles,
    notes: &mut Vec<Note>,
) -> Result<GrpcTask, SpecError> {
    let at = |key: &str, message: String| SpecError::at(format!("{path}.{key}"), message);
    for (key, given) in [
        ("stub_path", &spec.stub_path),
        ("request_path", &spec.request_path),
    ] {
        if given.is_some() {
            return Err(at(
                key,
                format!(
                    "Python stub classes cannot be loaded by ld-tower: name the service and \
                     method, with their .proto file or server reflection, as {SHAPE}"
                ),
            ));
        }
    }
    let service = spec
        .service
        .filter(|s| !s.is_empty())
        .ok_or_else(|| at("service", format!("missing: a task is {SHAPE}")))?;
    let method = spec
        .method
        .filter(|m| !m.is_empty())
        .ok_or_else(|| at("method", format!("missing: a task is {SHAPE}")))?;
    let rpc = match spec.rpc.as_deref() {
        None => Rpc::Unary,
        Some(text) => RPCS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
            .map(|(_, rpc)| *rpc)
            .ok_or_else(|| {
                at(
                    "rpc",
                    format!("{text:?} is not one of unary, server_stream, client_stream, bidi"),
                )
            })?,
    };
    let payload = payload(&path, rpc, spec.payload)?;
    let metadata = metadata(&path, spec.metadata)?;
    let timeout = task::timeout(&path, spec.timeout)?;
    let target_key = if spec.target.as_deref().is_some_and(|t| !t.is_empty()) {
        "target"
    } else {
        "host"
    };
    let target_text = spec
        .target
        .filter(|t| !t.is_empty())
        .or(spec.host.filter(|h| !h.is_empty()))
        .or(base.map(str::to_owned))
        .unwrap_or_else(|| DEFAULT_TARGET.to_owned());
    let target = Template::parse(&target_text);
    if let Some(fixed) = target.as_static() {
        super::target::parse(fixed).map_err(|e| at(target_key, e))?;
    }
    let (tls, security) = match spec.tls {
        None => (TlsSpec::default(), None),
        Some(TlsOption::On(on)) => (TlsSpec::default(), Some(on)),
        Some(TlsOption::With(keys)) => (
            TlsSpec {
                verify: keys.verify,
                cert: keys.cert,
            },
            Some(true),
        ),
    };
    let name = spec.name.filter(|n| !n.is_empty());
    let full_name = format!("{service}.{method}");
    let path_of_call = http::uri::PathAndQuery::try_from(format!("/{service}/{method}"))
        .map_err(|_| at("method", format!("{full_name:?} is not a method's name")))?;
    let head = task::head(
        &path,
        name.as_deref().unwrap_or(&full_name),
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
    Ok(GrpcTask {
        head,
        path,
        target,
        proto: spec.proto.filter(|p| !p.is_empty()),
        path_of_call,
        service,
        method,
        rpc,
        payload,
        metadata,
        timeout,
        tls,
        security: Security {
            given: security,
            config: None,
        },
        schema: Default::default(),
    })
}

/// `payload`: one object (or none: an empty message); for client and
/// bidirectional streams, a list of them (one message each) or one.
fn payload(path: &str, rpc: Rpc, given: Option<Value>) -> Result<Payload, SpecError> {
    let at = |key: String, message: &str| SpecError::at(format!("{path}.{key}"), message);
    let one = |key: String, value: Value| match value {
        Value::Object(_) => Ok(TemplateValue::parse(&value)),
        Value::Null => Ok(TemplateValue::Static(Value::Object(Default::default()))),
        _ => Err(at(key, "must be an object (the message's fields as JSON)")),
    };
    let streams_in = matches!(rpc, Rpc::ClientStream | Rpc::Bidi);
    let messages = match given {
        None => vec![TemplateValue::Static(Value::Object(Default::default()))],
        Some(Value::Array(items)) if streams_in => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| one(format!("payload[{i}]"), item))
            .collect::<Result<_, _>>()?,
        Some(Value::Array(_)) => {
            return Err(at(
                "payload".into(),
                "a list of messages is for client_stream and bidi calls: give one object",
            ))
        }
        Some(value) => vec![one("payload".into(), value)?],
    };
    Ok(Payload {
        messages,
        encoded: None,
    })
}

/// `metadata`: an object, or a list of `[key, value]` pairs; values are
/// templates (numbers and booleans as their JSON text). Keys ending in
/// `-bin` carry binary values (the text's bytes).
fn metadata(path: &str, given: Option<Value>) -> Result<Vec<(Key, Template)>, SpecError> {
    let at = |key: String, message: String| SpecError::at(format!("{path}.{key}"), message);
    let pairs: Vec<(String, String, Value)> = match given {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Object(map)) => map
            .into_iter()
            .map(|(k, v)| (format!("metadata.{k}"), k, v))
            .collect(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::Array(mut pair) if pair.len() == 2 => {
                    let value = pair.pop().unwrap_or(Value::Null);
                    match pair.pop() {
                        Some(Value::String(key)) => Ok((format!("metadata[{i}]"), key, value)),
                        _ => Err(at(
                            format!("metadata[{i}][0]"),
                            "must be a string (the key)".into(),
                        )),
                    }
                }
                _ => Err(at(
                    format!("metadata[{i}]"),
                    "must be a [key, value] pair".into(),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(at(
                "metadata".into(),
                "must be an object or a list of [key, value] pairs".into(),
            ))
        }
    };
    pairs
        .into_iter()
        .map(|(where_, key, value)| {
            let text = match &value {
                Value::String(text) => text.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            };
            let key = if key.to_ascii_lowercase().ends_with("-bin") {
                BinaryMetadataKey::from_bytes(key.as_bytes()).map(Key::Binary)
            } else {
                AsciiMetadataKey::from_bytes(key.as_bytes()).map(Key::Ascii)
            }
            .map_err(|_| at(where_, format!("{key:?} is not a metadata key")))?;
            Ok((key, Template::parse(&text)))
        })
        .collect()
}
