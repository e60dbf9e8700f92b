//! `websocket_user`: LoadDensity's WebSocket user. Each iteration walks
//! every step in order: `connect`, `send` (the default), `recv`,
//! `sendrecv`, `close`; one connection per user, opened by the first step
//! that needs it and again after it dropped.
//!
//! - A step's URL is its `request_url` (or `url`), else the URL the user
//!   is connected to, else the test's `host`; an unnamed step is named by
//!   that URL (as far as the task list tells: its own, the last one an
//!   earlier step names, the host), else by its method.
//! - `payload` is text; with `binary: true` it is base64 (standard
//!   alphabet, padding optional), decoded and sent as a binary message.
//! - `expect`: a text the received message must contain (a binary one is
//!   read as UTF-8, invalid sequences replaced).
//! - `timeout` (seconds, default 5) bounds the whole step, connecting
//!   included. A `recv` that times out leaves the connection open.
//! - Latency: of the message, from the send to the reply (`sendrecv`), from
//!   the start of the wait (`recv`), of the send (`send`); of the handshake
//!   for `connect`. Bytes: the payload sent plus the message received, as
//!   LoadDensity counts them (its text length; here, bytes).
//! - A connection that drops (the server closes it, an I/O or protocol
//!   error) fails the step under way with the reason; the next step
//!   reconnects. Pings are answered and a server's close frame is answered
//!   by the library; messages and frames over 16 MiB are refused.
//! - `wss://` goes through the agent's TLS (its trusted roots, `--ca-file`),
//!   or the step's own `verify` (`false`, or a CA bundle) and `cert`.

mod socket;
mod spec;

use std::sync::Arc;

use futures_util::SinkExt;
use serde_json::Value;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

use super::steps::Failure;
use super::{Context, Kind, Load, Protocol, Scripted};
use crate::engine::network::Network;
use crate::engine::protocol::{timed_out, Raced, Turn, UserParts};
use crate::engine::task;
use crate::engine::task::{Mode, Scenario};
use crate::engine::Descriptors;
use crate::figures::RequestOutcome;
use crate::paths::Paths;
use crate::spec::{Note, SpecError};
use socket::Socket;
use spec::{Method, Payload, WsStep};

/// `websocket_user`.
pub(super) const WEBSOCKET_USER: Kind = Kind {
    name: "websocket_user",
    compile,
    tasks_schema,
};

/// Its `tasks` keyword's schema: its steps, walked in order.
fn tasks_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    super::steps::steps_schema::<spec::StepSpec>(generator, super::steps::WALKED)
}

fn compile(
    tasks: Value,
    ctx: &Context<'_>,
    notes: &mut Vec<Note>,
) -> Result<Box<dyn Load>, SpecError> {
    let tasks = spec::parse(tasks, ctx, notes)?;
    Ok(Scripted::boxed(
        WebSocket,
        Scenario {
            mode: Mode::Sequence,
            tasks,
        },
    ))
}

/// The WebSocket protocol.
#[derive(Debug)]
pub(super) struct WebSocket;

/// What a user holds: its connection, and the URL it was opened to (kept
/// after a close: a later step without a URL opens it again).
pub(super) struct Conn {
    network: Arc<Network>,
    connections: Arc<Descriptors>,
    socket: Option<Socket>,
    url: Option<String>,
}

/// What a step sends, rendered.
struct Rendered {
    url: Option<String>,
    message: Result<Message, String>,
    expect: Option<String>,
}

impl Protocol for WebSocket {
    type Task = WsStep;
    type Conn = Conn;
    const REQUEST_TYPE: &'static str = "WS";

    fn connection(&self, user: &UserParts) -> Conn {
        Conn {
            network: Arc::clone(&user.plan.network),
            connections: Arc::clone(&user.budget.connections),
            socket: None,
            url: None,
        }
    }

    fn prepare(
        &mut self,
        tasks: &mut [WsStep],
        network: &Network,
        paths: &Paths,
    ) -> Result<(), String> {
        task::tls_per_task(tasks, network, paths, |step| (&step.tls, &mut step.config))
            .map_err(|(index, e)| format!("tasks: step {} (verify, cert): {e}", index + 1))
    }

    async fn perform(&self, conn: &mut Conn, step: &WsStep, turn: &mut Turn<'_>) {
        let rendered = Rendered {
            url: step.url.as_ref().map(|u| turn.scope.render_string(u)),
            message: match &step.payload {
                Payload::Fixed(message) => Ok(message.clone()),
                Payload::Text(t) => Ok(Message::text(turn.scope.render_string(t))),
                Payload::Binary(t) => {
                    spec::decode(&turn.scope.render_string(t)).map(Message::binary)
                }
            },
            expect: step.expect.as_ref().map(|e| turn.scope.render_string(e)),
        };
        let due = turn.due.take();
        let mut from = due.unwrap_or_else(Instant::now);
        let base = turn.plan.base.as_deref();
        let run = run(conn, step, rendered, due, &mut from, base);
        let outcome = match turn.watch.race(run, step.timeout).await {
            Raced::Done(outcome) => outcome,
            Raced::TimedOut(after) => Err(Failure::from(timed_out(after))),
            Raced::Stopped => {
                turn.watch.abandon();
                return;
            }
        };
        let latency = from.elapsed();
        match outcome {
            Ok(bytes) => turn.watch.record(
                &step.head.name,
                latency,
                RequestOutcome::done().with_bytes(bytes),
            ),
            Err(failure) => turn.watch.record(
                &step.head.name,
                latency,
                RequestOutcome::failed(failure.status, &failure.reason),
            ),
        }
    }
}

/// Runs `step`: the bytes it moved, or why it failed. `from` is set to
/// when the message's latency starts (`due` when the iteration was due).
async fn run(
    conn: &mut Conn,
    step: &WsStep,
    rendered: Rendered,
    due: Option<Instant>,
    from: &mut Instant,
    base: Option<&str>,
) -> Result<u64, Failure> {
    // The step's URL, else the user's, else the test's host (made only
    // when a connection is opened).
    let url = |conn: &Conn| {
        rendered
            .url
            .clone()
            .or_else(|| conn.url.clone())
            .or_else(|| base.map(str::to_owned))
            .ok_or_else(no_url)
    };
    match step.method {
        Method::Close => {
            if let Some(mut socket) = conn.socket.take() {
                // A close frame sent; the server's reply is not waited for.
                let _ = socket.close(None).await;
            }
            return Ok(0);
        }
        Method::Connect => {
            let url = url(conn)?;
            if conn.socket.is_some() && conn.url.as_deref() == Some(url.as_str()) {
                return Ok(0);
            }
            if let Some(mut old) = conn.socket.take() {
                let _ = old.close(None).await;
            }
            connect(conn, step, url).await?;
            return Ok(0);
        }
        Method::Send | Method::Recv | Method::SendRecv => {}
    }
    let message = match step.method {
        Method::Recv => None,
        _ => Some(rendered.message.map_err(Failure::from)?),
    };
    if conn.socket.is_none() {
        let url = url(conn)?;
        connect(conn, step, url).await?;
    }
    let Some(socket) = conn.socket.as_mut() else {
        return Err(no_url());
    };
    *from = due.unwrap_or_else(Instant::now);
    let mut bytes = 0;
    if let Some(message) = message {
        bytes += message.len() as u64;
        if let Err(e) = socket.send(message).await {
            conn.socket = None;
            return Err(socket::lost(&e).into());
        }
    }
    if step.method == Method::Send {
        return Ok(bytes);
    }
    let received = match socket::receive(socket).await {
        Ok(received) => received,
        Err(reason) => {
            conn.socket = None;
            return Err(reason.into());
        }
    };
    if let Some(expect) = &rendered.expect {
        if !received.contains(expect) {
            return Err(format!("expected {expect:?} in the reply").into());
        }
    }
    Ok(bytes + received.bytes)
}

fn no_url() -> Failure {
    Failure::from(
        "no URL to connect to: give the step a request_url, or the test a host".to_owned(),
    )
}

/// Opens the user's connection to `url`.
async fn connect(conn: &mut Conn, step: &WsStep, url: String) -> Result<(), Failure> {
    let target = socket::target(&url)?;
    let tls = step.config.as_ref().unwrap_or(&conn.network.tls);
    let socket = socket::open(&url, &target, &conn.network, &conn.connections, tls).await?;
    conn.socket = Some(socket);
    conn.url = Some(url);
    Ok(())
}

#[cfg(test)]
mod tests;
