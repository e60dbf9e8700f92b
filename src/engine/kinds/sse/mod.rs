//! `sse_user`: LoadDensity's Server-Sent Events user. Each iteration walks
//! every step in order: `open` (or `connect`), `wait` (the default),
//! `close`; one stream per user.
//!
//! - `open` GETs its `request_url` (or `url`; relative to the test's host
//!   if relative; else the user's last URL, else the host) with `Accept:
//!   text/event-stream` and its `headers`; it succeeds on a 200 of type
//!   `text/event-stream`, its latency running to the response's head.
//! - `wait` reads events until one's data contains `expect` (any event
//!   without one): its latency is the wait's, its bytes those of the
//!   events it read (type, data and ID). Events read past it are kept for
//!   the next `wait`.
//! - The first event after an `open` is also recorded as
//!   `"<open's name> (first event)"`, its latency from the `open`'s start.
//! - A stream that ends or breaks is reopened in the `wait` under way (or
//!   the next one), after the server's `retry` (default 3 s, from 10 ms
//!   to 30 s),
//!   with `Last-Event-ID` set to the last ID seen; each attempt is
//!   recorded as `"<open's name> (reconnect)"`, its latency to the new
//!   response's head. A refusal (a status other than 200, a 204 included)
//!   ends the reconnections and fails the `wait`; a connection error is
//!   tried again after the same pause, within the `wait`'s timeout.
//! - `timeout` (seconds, default 30) bounds each step.
//! - Events are parsed as the WHATWG standard says ([`events`]); a line or
//!   an event's data over 1 MiB fails the stream.
//! - `https://` goes through the agent's TLS (its trusted roots,
//!   `--ca-file`), or the step's own `verify` and `cert`.

mod events;
mod spec;
mod stream;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use http::header::HeaderName;
use serde_json::Value;
use tokio::time::Instant;
use tokio_rustls::rustls::ClientConfig;

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
use events::{Event, Parser};
use spec::{Method, SseStep};
use stream::Stream;

/// The pause before a reconnection when the server set none.
const DEFAULT_RETRY: Duration = Duration::from_secs(3);
/// The longest pause before a reconnection, whatever the server asks.
const MAX_RETRY: Duration = Duration::from_secs(30);
/// The shortest: a server asking for `retry: 0` and closing at once does
/// not make its users reconnect in a busy loop.
const MIN_RETRY: Duration = Duration::from_millis(10);

/// `sse_user`.
pub(super) const SSE_USER: Kind = Kind {
    name: "sse_user",
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
        Sse,
        Scenario {
            mode: Mode::Sequence,
            tasks,
        },
    ))
}

/// The Server-Sent Events protocol.
#[derive(Debug)]
pub(super) struct Sse;

/// What a user holds: its stream, what reopens it, the events read and
/// not yet waited for.
pub(super) struct Conn {
    network: Arc<Network>,
    connections: Arc<Descriptors>,
    stream: Option<Stream>,
    source: Option<Source>,
    parser: Parser,
    queue: VecDeque<Event>,
}

/// What the last `open` opened: what a reconnection asks for again.
struct Source {
    url: String,
    headers: Vec<(HeaderName, String)>,
    tls: Arc<ClientConfig>,
    /// The `open` step's name, for its `(first event)` and `(reconnect)`
    /// records.
    name: Arc<str>,
    /// When the `open` started.
    opened: Instant,
    /// No event was read since the `open`.
    first_pending: bool,
}

/// A record made on the side of a step (a first event, a reconnection).
struct Side {
    name: String,
    latency: Duration,
    status: Option<u16>,
    failure: Option<String>,
    bytes: u64,
}

/// A step's templates, rendered.
struct Rendered {
    url: Option<String>,
    headers: Vec<(HeaderName, String)>,
    expect: Option<String>,
}

impl Protocol for Sse {
    type Task = SseStep;
    type Conn = Conn;
    const REQUEST_TYPE: &'static str = "SSE";

    fn connection(&self, user: &UserParts) -> Conn {
        Conn {
            network: Arc::clone(&user.plan.network),
            connections: Arc::clone(&user.budget.connections),
            stream: None,
            source: None,
            parser: Parser::default(),
            queue: VecDeque::new(),
        }
    }

    fn prepare(
        &mut self,
        tasks: &mut [SseStep],
        network: &Network,
        paths: &Paths,
    ) -> Result<(), String> {
        task::tls_per_task(tasks, network, paths, |step| (&step.tls, &mut step.config))
            .map_err(|(index, e)| format!("tasks: step {} (verify, cert): {e}", index + 1))
    }

    async fn perform(&self, conn: &mut Conn, step: &SseStep, turn: &mut Turn<'_>) {
        let rendered = Rendered {
            url: step.url.as_ref().map(|u| turn.scope.render_string(u)),
            headers: step
                .headers
                .iter()
                .map(|(name, value)| (name.clone(), turn.scope.render_string(value)))
                .collect(),
            expect: step.expect.as_ref().map(|e| turn.scope.render_string(e)),
        };
        let start = turn.start();
        let base = turn.plan.base.as_deref();
        let mut side = Vec::new();
        let run = run(conn, step, rendered, start, base, &mut side);
        let raced = turn.watch.race(run, step.timeout).await;
        for record in &side {
            let outcome = match &record.failure {
                None => RequestOutcome::done().with_bytes(record.bytes),
                Some(reason) => RequestOutcome::failed(record.status, reason),
            };
            turn.watch.record(&record.name, record.latency, outcome);
        }
        let outcome = match raced {
            Raced::Done(outcome) => outcome,
            Raced::TimedOut(after) => Err(Failure::from(timed_out(after))),
            Raced::Stopped => {
                turn.watch.abandon();
                return;
            }
        };
        let latency = start.elapsed();
        let outcome = match &outcome {
            Ok(bytes) => RequestOutcome::done().with_bytes(*bytes),
            Err(failure) => RequestOutcome::failed(failure.status, &failure.reason),
        };
        turn.watch.record(&step.head.name, latency, outcome);
    }
}

/// Runs `step`: the bytes it read, or why it failed; records of its
/// first event and reconnections go to `side`.
async fn run(
    conn: &mut Conn,
    step: &SseStep,
    rendered: Rendered,
    start: Instant,
    base: Option<&str>,
    side: &mut Vec<Side>,
) -> Result<u64, Failure> {
    match step.method {
        Method::Close => {
            conn.stream = None;
            conn.source = None;
            conn.queue.clear();
            Ok(0)
        }
        Method::Open => {
            conn.stream = None;
            conn.source = None;
            conn.queue.clear();
            conn.parser = Parser::default();
            let url = match rendered.url {
                Some(url) => stream::absolute(url, base)?,
                None => base.map(str::to_owned).ok_or_else(|| {
                    Failure::from(
                        "no URL to open: give the step a request_url, or the test a host"
                            .to_owned(),
                    )
                })?,
            };
            let tls = Arc::clone(step.config.as_ref().unwrap_or(&conn.network.tls));
            let stream = stream::open(
                &url,
                &rendered.headers,
                "",
                &conn.network,
                &conn.connections,
                &tls,
            )
            .await?;
            conn.stream = Some(stream);
            conn.source = Some(Source {
                url,
                headers: rendered.headers,
                tls,
                name: Arc::clone(&step.head.name),
                opened: start,
                first_pending: true,
            });
            Ok(0)
        }
        Method::Wait => wait(conn, rendered.expect.as_deref(), side).await,
    }
}

/// Reads events until one's data contains `expect` (any, without it),
/// reopening the stream when it ends.
async fn wait(conn: &mut Conn, expect: Option<&str>, side: &mut Vec<Side>) -> Result<u64, Failure> {
    let Conn {
        network,
        connections,
        stream,
        source,
        parser,
        queue,
    } = conn;
    let Some(from) = source.as_mut() else {
        return Err(Failure::from(
            "no stream open (an open step comes first)".to_owned(),
        ));
    };
    let mut bytes = 0;
    loop {
        while let Some(event) = queue.pop_front() {
            bytes += event.bytes();
            if from.first_pending {
                from.first_pending = false;
                side.push(Side {
                    name: format!("{} (first event)", from.name),
                    latency: from.opened.elapsed(),
                    status: None,
                    failure: None,
                    bytes: event.bytes(),
                });
            }
            if expect.is_none_or(|expect| event.data.contains(expect)) {
                return Ok(bytes);
            }
        }
        match stream.as_mut() {
            Some(open) => match open.next().await {
                Some(Ok(chunk)) => {
                    if let Err(e) = parser.feed(&chunk, queue) {
                        *stream = None;
                        return Err(Failure::from(format!("{}: {e}", from.url)));
                    }
                }
                Some(Err(_)) | None => *stream = None,
            },
            None => {
                let pause = parser
                    .retry
                    .unwrap_or(DEFAULT_RETRY)
                    .clamp(MIN_RETRY, MAX_RETRY);
                tokio::time::sleep(pause).await;
                parser.restart();
                let began = Instant::now();
                let name = format!("{} (reconnect)", from.name);
                let opened = stream::open(
                    &from.url,
                    &from.headers,
                    &parser.last_id,
                    network,
                    connections,
                    &from.tls,
                )
                .await;
                let latency = began.elapsed();
                match opened {
                    Ok(reopened) => {
                        side.push(Side {
                            name,
                            latency,
                            status: None,
                            failure: None,
                            bytes: 0,
                        });
                        *stream = Some(reopened);
                    }
                    Err(failure) => {
                        side.push(Side {
                            name,
                            latency,
                            status: failure.status,
                            failure: Some(failure.reason.clone()),
                            bytes: 0,
                        });
                        if failure.status.is_some() {
                            // Refused: no more reconnections until an open.
                            *source = None;
                            return Err(Failure {
                                status: failure.status,
                                reason: format!(
                                    "stream ended and its reconnection was refused: {}",
                                    failure.reason
                                ),
                            });
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
