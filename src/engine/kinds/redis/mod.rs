//! `redis_user`: LoadDensity's Redis user. Each iteration walks every step
//! in order; a step sends one command (`get`, `set`, `incr`, `lpush`,
//! `rpop`, `delete`, `exists`) on the user's connection and records it
//! under its `name` (default: the method, as LoadDensity names it).
//!
//! - The connection: the step's `url`, else the test's host when it is a
//!   `redis://` URL, else LoadDensity's `redis://127.0.0.1:6379/0`;
//!   `rediss://` is TLS through the agent's rustls setup (`--ca-file`). One
//!   per user and URL (at most 16 kept), opened through `dial` (the descriptor budget,
//!   `--connect-to`), dropped after a failure and opened again by the next
//!   step. The protocol is the `redis` crate's (RESP, the handshake with
//!   the database, user name and password of the URL).
//! - `expect`: the reply must read exactly this, as Python's `str()` of
//!   redis-py's value (`""` for none, `True` for `OK`, a number in
//!   decimal); a reply that is an error fails the step with its message.
//! - A reply may take at most 16 MiB (`capped::MAX_REPLY_BYTES`): past it the
//!   connection fails the step and is dropped, so a server cannot grow a
//!   user's memory.
//! - Bytes: a string reply's length, 0 for none, 1 for anything else, as
//!   LoadDensity counts them; latency from the send (or the connect) to the
//!   reply; `timeout` (default the test's `request_timeout`) bounds both.

mod address;
mod capped;
mod command;
mod spec;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;
use redis::RedisConnectionInfo;
use serde_json::Value;
use tokio_rustls::rustls::ClientConfig;

use self::address::Address;
use self::capped::{Capped, Counter};
use self::spec::RedisStep;
use super::{Context, Kind, Load, Protocol, Scripted};
use crate::engine::dial;
use crate::engine::network::Network;
use crate::engine::protocol::{timed_out, Raced, Turn, UserParts};
use crate::engine::Descriptors;
use crate::figures::RequestOutcome;
use crate::spec::{Note, SpecError};

/// `redis_user`.
pub(super) const REDIS_USER: Kind = Kind {
    name: "redis_user",
    compile,
    tasks_schema,
};

/// Its `tasks` keyword's schema: its steps, walked in order.
fn tasks_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    super::steps::steps_schema::<spec::RedisStepSpec>(generator, super::steps::WALKED)
}

fn compile(
    tasks: Value,
    ctx: &Context<'_>,
    notes: &mut Vec<Note>,
) -> Result<Box<dyn Load>, SpecError> {
    let scenario = spec::parse(tasks, ctx.base, notes)?;
    Ok(Scripted::boxed(Redis, scenario))
}

/// The Redis protocol.
#[derive(Debug)]
pub(super) struct Redis;

/// A user's connection state.
pub(crate) struct Conn {
    network: Arc<Network>,
    connections: Arc<Descriptors>,
    /// The open connections by URL, the most recently used last (each
    /// one's socket, with its place in the descriptor budget, is in its
    /// driver task, which ends when the connection is dropped).
    open: Vec<(String, MultiplexedConnection, Counter)>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field(
                "urls",
                &self.open.iter().map(|(url, ..)| url).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl Protocol for Redis {
    type Task = RedisStep;
    type Conn = Conn;
    const REQUEST_TYPE: &'static str = "REDIS";

    fn connection(&self, user: &UserParts) -> Conn {
        Conn {
            network: Arc::clone(&user.plan.network),
            connections: Arc::clone(&user.budget.connections),
            open: Vec::new(),
        }
    }

    async fn perform(&self, conn: &mut Conn, step: &RedisStep, turn: &mut Turn<'_>) {
        let from = turn.start();
        let url = turn.scope.render_string(&step.url);
        let key = turn.scope.render_string(&step.key);
        let value = turn.scope.render_string(&step.value);
        let expect = step.expect.as_ref().map(|e| turn.scope.render_string(e));
        let timeout = step.timeout.unwrap_or(turn.plan.timeout);
        let exchange = async {
            let connection = conn.connect(&url).await?;
            let reply: redis::Value = step
                .command
                .cmd(&key, &value)
                .query_async(connection)
                .await
                .map_err(|e| {
                    if e.is_io_error() || e.is_connection_dropped() || e.is_unrecoverable_error() {
                        Failed::Dropped(format!("connection lost: {e}"))
                    } else {
                        Failed::Replied(e.to_string())
                    }
                })?;
            Ok::<_, Failed>(reply)
        };
        let raced = turn.watch.race(exchange, timeout).await;
        let latency = from.elapsed();
        let failure = match raced {
            Raced::Done(Ok(reply)) => {
                let bytes = command::length(&reply);
                let failure = expect.and_then(|expect| {
                    let text = command::text(&reply);
                    (text != expect).then(|| format!("redis expected {expect:?}, got {text:?}"))
                });
                let outcome = match &failure {
                    None => RequestOutcome::done(),
                    Some(reason) => RequestOutcome::failed(None, reason),
                };
                turn.watch
                    .record(&step.head.name, latency, outcome.with_bytes(bytes));
                return;
            }
            Raced::Done(Err(failed)) => failed,
            Raced::TimedOut(after) => Failed::Dropped(timed_out(after)),
            Raced::Stopped => {
                conn.forget(&url);
                turn.watch.abandon();
                return;
            }
        };
        let reason = match failure {
            Failed::Dropped(reason) => {
                conn.forget(&url);
                reason
            }
            Failed::Replied(reason) => reason,
        };
        turn.watch.record(
            &step.head.name,
            latency,
            RequestOutcome::failed(None, &reason),
        );
    }
}

/// Why a step failed.
#[derive(Debug)]
enum Failed {
    /// The connection was lost, never made, or timed out: it is dropped.
    Dropped(String),
    /// The server answered with an error: the connection stays.
    Replied(String),
}

/// Connections a user keeps at most (the least recently used is closed).
const MAX_KEPT: usize = 16;

impl Conn {
    /// Drops the connection to `url`, if open.
    fn forget(&mut self, url: &str) {
        self.open.retain(|(open, ..)| open != url);
    }

    /// The connection to `url`, opened (and logged in) if need be.
    async fn connect(&mut self, url: &str) -> Result<&mut MultiplexedConnection, Failed> {
        if let Some(index) = self.open.iter().position(|(open, ..)| open == url) {
            let kept = self.open.remove(index);
            self.open.push(kept);
        } else {
            if self.open.len() >= MAX_KEPT {
                self.open.remove(0);
            }
            let address = Address::parse(url).map_err(Failed::Dropped)?;
            let tcp = dial::tcp(
                &self.network,
                &self.connections,
                &address.host,
                address.port,
            )
            .await
            .map_err(Failed::Dropped)?;
            let mut info = RedisConnectionInfo::default()
                .set_db(address.db)
                .set_skip_set_lib_name();
            if let Some(username) = &address.username {
                info = info.set_username(username);
            }
            if let Some(password) = &address.password {
                info = info.set_password(password);
            }
            let stream = if address.secure {
                let config: Arc<ClientConfig> = dial::with_alpn(&self.network.tls, &[]);
                let tls = dial::tls(&config, &address.host, tcp)
                    .await
                    .map_err(Failed::Dropped)?;
                dial::Stream::Tls(Box::new(tls))
            } else {
                dial::Stream::Plain(tcp)
            };
            let counter = Counter::default();
            let stream = Capped::new(stream, counter.clone());
            let (connection, driver) = MultiplexedConnection::new_with_config(
                &info,
                stream,
                AsyncConnectionConfig::default(),
            )
            .await
            .map_err(|e| Failed::Dropped(format!("cannot open {url}: {e}")))?;
            // The connection's reader and writer: it ends when the
            // connection is dropped.
            tokio::spawn(driver);
            self.open.push((url.to_owned(), connection, counter));
        }
        match self.open.last_mut() {
            Some((_, connection, counter)) => {
                // A step reads one reply: its bytes are counted afresh.
                counter.reset();
                Ok(connection)
            }
            None => Err(Failed::Dropped("no connection".to_owned())),
        }
    }
}
