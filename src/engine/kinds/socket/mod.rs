//! `socket_user`: raw TCP and UDP, LoadDensity's `socket_user_template.py`.
//! Each step sends a payload to a `target` (`host:port`; default: the
//! step's `host`, then the test's host, then LoadDensity's
//! `127.0.0.1:9000`) and reads what its `expect_bytes` and
//! `expect_substring` ask for ([`exchange`] says how a reply is delimited).
//!
//! Unlike LoadDensity, which opens a connection per step, a user keeps its
//! TCP connections (per target and TLS configuration) and its connected UDP
//! sockets (per target) from step to step; a failure, a timeout or the
//! server's close closes the socket, and the next step opens a new one. A
//! step sending without reading leaves the server's reply, if any, to the
//! next step that reads on the same connection.
//!
//! A step is recorded under its `name` (LoadDensity's default:
//! `protocol:target`): its latency runs from the connect (when one is
//! opened) or the send to the end of the reply, its bytes are those sent
//! and received. Its `timeout` bounds the whole step (LoadDensity's default,
//! 5 s, unless the test sets `request_timeout`). TCP steps may add TLS
//! (`tls: true`; `verify`, `cert` and `server_name` as for HTTP tasks, no
//! ALPN offered).
//!
//! Limits, so that no server can grow a user's memory: `expect_bytes` is
//! at most 16 MiB ([`task::MAX_EXACT_BYTES`]) and is counted, not kept; a
//! search reads at most 1 MiB ([`task::MAX_SEARCHED_BYTES`]); a user reads
//! into one buffer of 16 KiB at most for TCP and one datagram (64 KiB at
//! most) for UDP; it keeps at most 16 sockets open ([`conn::MAX_KEPT`]).

mod conn;
mod exchange;
mod spec;
mod task;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use self::conn::{Key, Sockets};
use self::exchange::{Exchange, Moved};
use self::task::{payload_bytes, Address, Payload, SocketTask, Transport};
use super::{Context, Kind, Load, Protocol, Scripted};
use crate::engine::network::{Network, TlsConfigs};
use crate::engine::protocol::{timed_out, Raced, Turn, UserParts};
use crate::engine::DEFAULT_TIMEOUT;
use crate::figures::RequestOutcome;
use crate::paths::Paths;
use crate::spec::{Note, SpecError};

/// `socket_user`: raw TCP and UDP steps.
pub(super) const SOCKET_USER: Kind = Kind {
    name: "socket_user",
    compile,
    tasks_schema,
};

/// Its `tasks` keyword's schema: its steps, walked in order.
fn tasks_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    super::steps::steps_schema::<spec::SocketTaskSpec>(generator, super::steps::WALKED)
}

/// LoadDensity's timeout of a socket step.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(5);

fn compile(
    tasks: Value,
    ctx: &Context<'_>,
    notes: &mut Vec<Note>,
) -> Result<Box<dyn Load>, SpecError> {
    let scenario = spec::parse(tasks, ctx, notes)?;
    Ok(Scripted::boxed(Socket, scenario))
}

/// The raw socket protocol.
#[derive(Debug)]
pub(super) struct Socket;

/// A step's timeout: its own, else the test's `request_timeout` when it
/// sets one, else LoadDensity's 5 s.
fn timeout_of(task: &SocketTask, test: Duration) -> Duration {
    task.timeout.unwrap_or(if test == DEFAULT_TIMEOUT {
        SOCKET_TIMEOUT
    } else {
        test
    })
}

impl Protocol for Socket {
    type Task = SocketTask;
    type Conn = Sockets;
    const REQUEST_TYPE: &'static str = "TCP";

    fn request_type<'t>(&self, task: &'t SocketTask) -> &'t str {
        match task.transport {
            Transport::Tcp => "TCP",
            Transport::Udp => "UDP",
        }
    }

    fn connection(&self, user: &UserParts) -> Sockets {
        Sockets::new(
            Arc::clone(&user.plan.network),
            Arc::clone(&user.budget.connections),
        )
    }

    /// Makes the TLS configuration of every TLS step (no ALPN), once; steps
    /// asking for the same share one.
    fn prepare(
        &mut self,
        tasks: &mut [SocketTask],
        network: &Network,
        paths: &Paths,
    ) -> Result<(), String> {
        let mut configs = TlsConfigs::offering(Some(&[]));
        for (index, task) in tasks.iter_mut().enumerate() {
            let Some(tls) = &mut task.tls else {
                continue;
            };
            let (id, config) = configs
                .get(network, paths, &tls.spec.options())
                .map_err(|e| format!("tasks: task {} (verify, cert): {e}", index + 1))?;
            tls.id = id;
            tls.config = Some(config);
        }
        Ok(())
    }

    /// Renders the step, sends its payload on the user's socket for its
    /// target (opened if need be) and reads its reply, all within its
    /// timeout; records the outcome with the bytes moved.
    async fn perform(&self, conn: &mut Sockets, task: &SocketTask, turn: &mut Turn<'_>) {
        let from = turn.start();
        let timeout = timeout_of(task, turn.plan.timeout);
        let name = &task.head.name;
        let address = match &task.address {
            Some(address) => Ok(address.clone()),
            None => Address::parse(&turn.scope.render_string(&task.target))
                .map_err(|e| format!("target: {e}")),
        };
        let payload: Result<Cow<'_, [u8]>, String> = match &task.payload {
            Payload::Bytes(bytes) => Ok(Cow::Borrowed(bytes)),
            Payload::Template(template) => payload_bytes(&turn.scope.render_string(template))
                .map(Cow::Owned)
                .map_err(|e| format!("payload: {e}")),
        };
        let substring = task
            .reply
            .substring
            .as_ref()
            .map(|template| turn.scope.render_string(template));
        let (address, payload) = match (address, payload) {
            (Ok(address), Ok(payload)) => (address, payload),
            (Err(reason), _) | (_, Err(reason)) => {
                let outcome = RequestOutcome::failed(None, &reason);
                turn.watch.record(name, from.elapsed(), outcome);
                return;
            }
        };
        let key = Key::of(task, address);
        let exchange = Exchange {
            payload: &payload,
            exact: task.reply.exact,
            substring: substring.as_deref(),
        };
        let mut moved = Moved::default();
        let step = async {
            let (socket, buffer) = conn.socket(&key, task).await?;
            exchange.on(socket, buffer, &mut moved).await
        };
        let raced = turn.watch.race(step, timeout).await;
        let latency = from.elapsed();
        let bytes = moved.sent + moved.received;
        let failure = match raced {
            Raced::Done(Ok(())) => None,
            Raced::Done(Err(reason)) => Some(reason),
            Raced::TimedOut(after) => Some(timed_out(after)),
            Raced::Stopped => {
                conn.forget(&key);
                turn.watch.abandon();
                return;
            }
        };
        if failure.is_some() || moved.closed {
            conn.forget(&key);
        }
        let outcome = match &failure {
            None => RequestOutcome::done(),
            Some(reason) => RequestOutcome::failed(None, reason),
        };
        turn.watch.record(name, latency, outcome.with_bytes(bytes));
    }
}
