//! `grpc_user`: gRPC calls (unary, server streams, client streams,
//! bidirectional streams) over one HTTP/2 channel per user, with
//! metadata, deadlines and TLS; the status code is the outcome.
//!
//! A task names its method, not Python classes:
//! `{"target": "host:port", "proto": "protos/greeter.proto", "service":
//! "demo.Greeter", "method": "SayHello", "rpc": "unary", "payload": {...},
//! "metadata": {...}, "timeout": 10, "tls": false}`. With `proto`, the file
//! is compiled once before the test (pure Rust, no protoc: see
//! [`schema`]), and an unknown service or method, an `rpc` that is not
//! the method's kind, or a payload that is not the request message are
//! errors at their JSON path before the test starts. Without `proto`, the
//! server's reflection service is asked on the task's first call, over
//! that user's channel (that call's latency includes it; concurrent first
//! calls wait for one answer; a failed one is asked again on the next
//! call; the answer then serves the task for the whole test, whatever
//! its target renders to).
//!
//! Payloads are JSON in protobuf's JSON mapping, rendered per call where
//! they hold placeholders, and encoded by the method's input descriptor;
//! responses are decoded by its output descriptor (a message that does
//! not decode fails the call). Client and bidirectional streams send
//! every message as the call opens (as LoadDensity's request iterator
//! does) and read the replies as they come. A call's latency runs until
//! its response (a stream's: until it ends, trailers included); its bytes
//! are those of the messages received. The deadline (`timeout`, else the test's request timeout) is
//! sent as `grpc-timeout` and raced here: when it passes first, the call
//! fails as `DeadlineExceeded`, as gRPC clients report it.
//!
//! Each user keeps one channel (one HTTP/2 connection) per target, up to
//! eight, opened on first use and again after its connection fails.
//! Limits: see [`wire`] (16 MiB per received message) and [`schema`].
//!
//! LoadDensity's `stub_path` and `request_path` name Python classes, which
//! cannot be loaded here: a task that gives them is refused with the keys
//! to write instead.

mod schema;
mod spec;
mod target;
#[cfg(test)]
mod tests;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::uri::PathAndQuery;
use prost_reflect::MethodDescriptor;
use serde_json::Value;
use tokio::sync::OnceCell;
use tokio_rustls::rustls::ClientConfig;
use tonic::metadata::{AsciiMetadataKey, BinaryMetadataKey, MetadataMap, MetadataValue};
use tonic::{Code, Status};

use super::{Context, Kind, Load, Protocol, Scripted};
use crate::engine::dial;
use crate::engine::network::{Network, TlsConfigs};
use crate::engine::protocol::{timed_out, Raced, Turn, UserParts};
use crate::engine::task::{Head, Step, TlsSpec};
use crate::engine::Descriptors;
use crate::figures::RequestOutcome;
use crate::paths::Paths;
use crate::redact;
use crate::resolver::{Template, TemplateValue};
use crate::spec::{Note, SpecError};
use wire::{Channel, Raw, H2};

/// `grpc_user`: unnamed tasks are named `service.method`.
pub(super) const GRPC_USER: Kind = Kind {
    name: "grpc_user",
    compile,
    tasks_schema,
};

/// Its `tasks` keyword's schema: its tasks, in sequence or weighted.
fn tasks_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    super::steps::steps_schema::<spec::GrpcTaskSpec>(
        generator,
        &["sequence", "weighted", "conditional"],
    )
}

fn compile(
    tasks: Value,
    ctx: &Context<'_>,
    notes: &mut Vec<Note>,
) -> Result<Box<dyn Load>, SpecError> {
    let scenario = spec::parse(tasks, ctx.base, notes)?;
    Ok(Scripted::boxed(Grpc, scenario))
}

/// What kind of call a method makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Rpc {
    /// One request, one response.
    Unary,
    /// One request, a stream of responses.
    ServerStream,
    /// A stream of requests, one response.
    ClientStream,
    /// Streams both ways.
    Bidi,
}

impl Rpc {
    /// As `rpc` names it.
    fn as_str(self) -> &'static str {
        match self {
            Rpc::Unary => "unary",
            Rpc::ServerStream => "server_stream",
            Rpc::ClientStream => "client_stream",
            Rpc::Bidi => "bidi",
        }
    }
}

/// A metadata key, checked as the task is compiled.
#[derive(Clone, Debug)]
pub(super) enum Key {
    /// A text value.
    Ascii(AsciiMetadataKey),
    /// A binary value (`-bin`): sent base64-encoded.
    Binary(BinaryMetadataKey),
}

/// The messages a call sends.
#[derive(Debug)]
pub(super) struct Payload {
    /// One per message, as written.
    messages: Vec<TemplateValue>,
    /// Encoded once before the test, when the method is known then and no
    /// message has a placeholder.
    encoded: Option<Vec<Bytes>>,
}

/// Whether a call uses TLS, and with what.
#[derive(Debug)]
pub(super) struct Security {
    /// `tls` as given: `None` follows the target's scheme.
    given: Option<bool>,
    /// The configuration (offering `h2`), made in `prepare`.
    config: Option<Arc<ClientConfig>>,
}

/// How a task's method descriptor is known.
#[derive(Debug, Default)]
pub(super) struct Schema {
    /// From its `proto`, before the test.
    fixed: Option<MethodDescriptor>,
    /// From server reflection, on its first call: the method, or why the
    /// server's descriptors do not have it (kept: asking again would not
    /// change it).
    reflected: OnceCell<Result<MethodDescriptor, String>>,
}

/// One `grpc_user` task, compiled.
#[derive(Debug)]
pub(super) struct GrpcTask {
    /// Name, weight, conditions, think time, throttle.
    head: Head,
    /// Its JSON path (`tasks[2]`), for the errors `prepare` finds.
    path: String,
    /// `host:port`, possibly with placeholders.
    target: Template,
    /// The `.proto` file; none: server reflection.
    proto: Option<String>,
    /// The service, fully qualified.
    service: String,
    /// The method's name.
    method: String,
    /// `/service/method`.
    path_of_call: PathAndQuery,
    /// The kind of call.
    rpc: Rpc,
    /// The messages sent.
    payload: Payload,
    /// Request metadata.
    metadata: Vec<(Key, Template)>,
    /// The deadline; the test's request timeout otherwise.
    timeout: Option<Duration>,
    /// `tls` as an object: its checks and client certificate.
    tls: TlsSpec,
    /// TLS on or off, and its configuration.
    security: Security,
    /// The method's descriptor.
    schema: Schema,
}

impl Step for GrpcTask {
    fn head(&self) -> &Head {
        &self.head
    }

    fn head_mut(&mut self) -> &mut Head {
        &mut self.head
    }

    fn env_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.head.env_names().collect();
        names.extend(self.target.env_names());
        names.extend(
            self.payload
                .messages
                .iter()
                .flat_map(TemplateValue::env_names),
        );
        names.extend(self.metadata.iter().flat_map(|(_, v)| v.env_names()));
        names
    }
}

/// The gRPC protocol.
#[derive(Debug)]
pub(super) struct Grpc;

/// The most channels (targets) a user keeps open.
const MAX_CHANNELS: usize = 8;

/// A user's channels, one per target, kept from call to call (re-opened
/// when their connection fails).
#[allow(missing_debug_implementations)]
pub(super) struct Conn {
    open: Vec<Open>,
    /// The target of the channel the last call used.
    last: Option<(String, bool)>,
    network: Arc<Network>,
    connections: Arc<Descriptors>,
}

struct Open {
    /// The target as rendered, and whether TLS is on.
    target: (String, bool),
    channel: Channel,
    /// The same connection, to see whether it closed.
    probe: H2,
}

/// How a call failed.
struct Failed {
    /// The gRPC status code, when a status came (or the deadline passed).
    code: Option<Code>,
    reason: String,
    /// The connection failed (the status was made from a transport error,
    /// not sent by the server): the channel is dropped.
    transport: bool,
}

impl Failed {
    /// A failure before any call was made (a bad target, a payload that
    /// does not map to the message).
    fn local(reason: String) -> Failed {
        Failed {
            code: None,
            reason,
            transport: false,
        }
    }

    fn status(status: &Status) -> Failed {
        const MAX_REASON: usize = 512;
        let mut message = status.message().to_owned();
        if message.len() > MAX_REASON {
            let mut end = MAX_REASON;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
            message.push('…');
        }
        Failed {
            code: Some(status.code()),
            reason: format!("gRPC status {:?}: {message}", status.code()),
            transport: std::error::Error::source(status).is_some(),
        }
    }
}

/// What one call was given, rendered.
struct Call {
    target: String,
    metadata: MetadataMap,
    messages: Vec<Bytes>,
    /// Messages to encode once the method is known (reflection).
    values: Vec<Value>,
    timeout: Duration,
}

impl Protocol for Grpc {
    type Task = GrpcTask;
    type Conn = Conn;
    const REQUEST_TYPE: &'static str = "GRPC";

    fn connection(&self, user: &UserParts) -> Conn {
        Conn {
            open: Vec::new(),
            last: None,
            network: Arc::clone(&user.plan.network),
            connections: Arc::clone(&user.budget.connections),
        }
    }

    /// Makes every task's TLS configuration (its `verify` and `cert` read
    /// through `paths`, `h2` offered), compiles each `proto` once, finds
    /// each task's method in it, checks its `rpc`, and encodes the
    /// payloads that have no placeholder.
    fn prepare(
        &mut self,
        tasks: &mut [GrpcTask],
        network: &Network,
        paths: &Paths,
    ) -> Result<(), String> {
        let mut configs = TlsConfigs::offering(Some(&[b"h2"]));
        let mut pools: Vec<(String, prost_reflect::DescriptorPool)> = Vec::new();
        for task in tasks.iter_mut() {
            let (_, config) = configs
                .get(network, paths, &task.tls.options())
                .map_err(|e| format!("{}.tls: {e}", task.path))?;
            task.security.config = Some(config);
            let Some(proto) = &task.proto else { continue };
            let pool = match pools.iter().find(|(p, _)| p == proto) {
                Some((_, pool)) => pool.clone(),
                None => {
                    let pool = schema::compile(paths, proto)
                        .map_err(|e| format!("{}.proto: {e}", task.path))?;
                    pools.push((proto.clone(), pool.clone()));
                    pool
                }
            };
            let method = schema::method(&pool, &task.service, &task.method, task.rpc)
                .map_err(|(key, e)| format!("{}.{key}: {e}", task.path))?;
            let listed = task.payload.messages.len() > 1
                || matches!(task.rpc, Rpc::ClientStream | Rpc::Bidi);
            let mut encoded = Vec::with_capacity(task.payload.messages.len());
            for (index, message) in task.payload.messages.iter().enumerate() {
                let TemplateValue::Static(value) = message else {
                    break;
                };
                let at = if listed {
                    format!("{}.payload[{index}]", task.path)
                } else {
                    format!("{}.payload", task.path)
                };
                encoded.push(
                    schema::encode(&method.input(), value.clone())
                        .map_err(|e| format!("{at}: {e}"))?,
                );
            }
            if encoded.len() == task.payload.messages.len() {
                task.payload.encoded = Some(encoded);
            }
            task.schema.fixed = Some(method);
        }
        Ok(())
    }

    /// Makes the task's call on the user's channel (opened, or re-opened,
    /// as needed) and records its status, latency and received bytes.
    async fn perform(&self, conn: &mut Conn, task: &GrpcTask, turn: &mut Turn<'_>) {
        let timeout = task.timeout.unwrap_or(turn.plan.timeout);
        let mut metadata = MetadataMap::new();
        let mut bad = None;
        for (key, value) in &task.metadata {
            let text = turn.scope.render_string(value);
            match key {
                Key::Ascii(key) => match MetadataValue::try_from(text.as_str()) {
                    Ok(value) => {
                        metadata.append(key.clone(), value);
                    }
                    Err(_) => {
                        bad = Some(format!(
                            "metadata {}: {} is not a valid value",
                            key.as_str(),
                            redact::quoted(key.as_str(), &text)
                        ))
                    }
                },
                Key::Binary(key) => {
                    metadata.append_bin(key.clone(), MetadataValue::from_bytes(text.as_bytes()));
                }
            }
        }
        let (messages, values) = match &task.payload.encoded {
            Some(encoded) => (encoded.clone(), Vec::new()),
            None => (
                Vec::new(),
                task.payload
                    .messages
                    .iter()
                    .map(|m| turn.scope.render_value(m))
                    .collect(),
            ),
        };
        let call = Call {
            target: turn.scope.render_string(&task.target),
            metadata,
            messages,
            values,
            timeout,
        };
        let from = turn.start();
        let result = match bad {
            Some(reason) => Err(Failed::local(reason)),
            None => match turn.watch.race(conn.call(task, call), timeout).await {
                Raced::Done(result) => result,
                Raced::TimedOut(after) => Err(Failed {
                    code: Some(Code::DeadlineExceeded),
                    reason: format!("gRPC status DeadlineExceeded: {}", timed_out(after)),
                    transport: false,
                }),
                Raced::Stopped => {
                    turn.watch.abandon();
                    return;
                }
            },
        };
        let latency = from.elapsed();
        let outcome = match &result {
            Ok(bytes) => RequestOutcome::ok(Code::Ok as u16).with_bytes(*bytes),
            Err(failed) => RequestOutcome::failed(failed.code.map(|c| c as u16), &failed.reason),
        };
        turn.watch.record(&task.head.name, latency, outcome);
    }
}

impl Conn {
    /// The channel for `target` (TLS on or off), opened if there is none,
    /// or if its connection closed. A user keeps one channel per target,
    /// up to [`MAX_CHANNELS`] (the oldest is closed past that).
    async fn channel(
        &mut self,
        target: &str,
        tls: Option<&Arc<ClientConfig>>,
    ) -> Result<&mut Channel, Failed> {
        let key = (target.to_owned(), tls.is_some());
        self.open.retain(|open| !open.probe.is_closed());
        let index = match self.open.iter().position(|open| open.target == key) {
            Some(index) => index,
            None => {
                let parsed = target::parse(target).map_err(Failed::local)?;
                let (channel, probe) = wire::open(&self.network, &self.connections, &parsed, tls)
                    .await
                    .map_err(|reason| Failed {
                        code: Some(Code::Unavailable),
                        reason: format!("gRPC status Unavailable: {reason}"),
                        transport: true,
                    })?;
                if self.open.len() >= MAX_CHANNELS {
                    self.open.remove(0);
                }
                self.open.push(Open {
                    target: key.clone(),
                    probe,
                    channel,
                });
                self.open.len() - 1
            }
        };
        self.last = Some(key);
        match self.open.get_mut(index) {
            Some(open) => Ok(&mut open.channel),
            None => Err(Failed::local("no channel".into())),
        }
    }

    /// One call of `task`: the received bytes, or why it failed. A failure
    /// of the connection itself (not a status the server sent) drops the
    /// channel: the next call opens a new one.
    async fn call(&mut self, task: &GrpcTask, call: Call) -> Result<u64, Failed> {
        let result = self.call_on_channel(task, call).await;
        if let Err(failed) = &result {
            let last = self.last.take();
            self.open.retain(|open| {
                !(open.probe.is_closed() || failed.transport && Some(&open.target) == last.as_ref())
            });
        }
        result
    }

    async fn call_on_channel(&mut self, task: &GrpcTask, call: Call) -> Result<u64, Failed> {
        let tls_on = match task.security.given {
            Some(on) => on,
            None => target::parse(&call.target).map_err(Failed::local)?.tls,
        };
        let default;
        let config = match (tls_on, &task.security.config) {
            (false, _) => None,
            (true, Some(config)) => Some(config),
            (true, None) => {
                default = dial::with_alpn(&self.network.tls, &[b"h2"]);
                Some(&default)
            }
        };
        let channel = self.channel(&call.target, config).await?;
        let method = match &task.schema.fixed {
            Some(method) => method.clone(),
            None => {
                let found = task
                    .schema
                    .reflected
                    .get_or_try_init(|| async {
                        match schema::reflect(channel, &task.service).await {
                            Ok(pool) => {
                                Ok(schema::method(&pool, &task.service, &task.method, task.rpc)
                                    .map_err(|(_, e)| e))
                            }
                            Err(schema::Reflected::Status(status)) => {
                                let mut failed = Failed::status(&status);
                                failed.reason = format!("server reflection: {}", failed.reason);
                                Err(failed)
                            }
                            Err(schema::Reflected::Answer(reason)) => {
                                Err(Failed::local(format!("server reflection: {reason}")))
                            }
                        }
                    })
                    .await?;
                found.clone().map_err(Failed::local)?
            }
        };
        let messages = if call.values.is_empty() {
            call.messages
        } else {
            let input = method.input();
            call.values
                .into_iter()
                .map(|value| schema::encode(&input, value))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| Failed::local(format!("payload: {e}")))?
        };
        let output = method.output();
        let request = |messages: Vec<Bytes>| {
            let mut request = tonic::Request::new(futures_util::stream::iter(messages));
            *request.metadata_mut() = call.metadata.clone();
            request.set_timeout(call.timeout);
            request
        };
        channel
            .ready()
            .await
            .map_err(|e| Failed::status(&Status::from_error(e.into())))?;
        let path = task.path_of_call.clone();
        let mut bytes = 0u64;
        let mut take = |message: Bytes| -> Result<(), Failed> {
            bytes += message.len() as u64;
            schema::check(&output, message).map_err(Failed::local)
        };
        match task.rpc {
            Rpc::Unary | Rpc::ServerStream => {
                let first = messages.into_iter().next().unwrap_or_default();
                let mut request = tonic::Request::new(first);
                *request.metadata_mut() = call.metadata.clone();
                request.set_timeout(call.timeout);
                if task.rpc == Rpc::Unary {
                    let response = channel
                        .unary(request, path, Raw)
                        .await
                        .map_err(|s| Failed::status(&s))?;
                    take(response.into_inner())?;
                } else {
                    let mut stream = channel
                        .server_streaming(request, path, Raw)
                        .await
                        .map_err(|s| Failed::status(&s))?
                        .into_inner();
                    while let Some(message) =
                        stream.message().await.map_err(|s| Failed::status(&s))?
                    {
                        take(message)?;
                    }
                }
            }
            Rpc::ClientStream => {
                let response = channel
                    .client_streaming(request(messages), path, Raw)
                    .await
                    .map_err(|s| Failed::status(&s))?;
                take(response.into_inner())?;
            }
            Rpc::Bidi => {
                let mut stream = channel
                    .streaming(request(messages), path, Raw)
                    .await
                    .map_err(|s| Failed::status(&s))?
                    .into_inner();
                while let Some(message) = stream.message().await.map_err(|s| Failed::status(&s))? {
                    take(message)?;
                }
            }
        }
        Ok(bytes)
    }
}
