//! `fast_http_user` and `http_user`: HTTP/1.1 requests on one keep-alive
//! connection per user (and per host), with cookies, redirects, retries,
//! assertions and extractors. The two differ only in how an unnamed task
//! is named (the full URL, or the path and query). Tasks with `http2`
//! (their own key, or the test's) go over HTTP/2 instead, on connections
//! the test's users share ([`Http2Pool`]).

use std::sync::Arc;

use serde_json::Value;

use super::{Context, Kind, Load, Protocol, Scripted};
use crate::engine::check::{self, Json};
use crate::engine::http::{Http2Pool, HttpClient, HttpError, Response, SendOptions};
use crate::engine::network::Network;
use crate::engine::protocol::{timed_out, Raced, Turn, UserParts};
use crate::engine::render::{build, duplicate};
use crate::engine::retry::{Attempts, Class};
use crate::engine::task::{self, Naming, Task};
use crate::figures::RequestOutcome;
use crate::paths::Paths;
use crate::spec::{Note, SpecError};

/// `fast_http_user`: unnamed tasks are named by their full URL.
pub(super) const FAST_HTTP_USER: Kind = Kind {
    name: "fast_http_user",
    compile: fast_http,
    tasks_schema,
};

/// `http_user`: unnamed tasks are named by their path and query.
pub(super) const HTTP_USER: Kind = Kind {
    name: "http_user",
    compile: http,
    tasks_schema,
};

/// HTTP tasks' schema: a list, `{"mode", "tasks"}`, or the legacy map.
fn tasks_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    generator.subschema_for::<task::spec::TasksSpec>()
}

fn fast_http(
    tasks: Value,
    ctx: &Context<'_>,
    notes: &mut Vec<Note>,
) -> Result<Box<dyn Load>, SpecError> {
    compile(tasks, ctx, notes, Naming::FastHttp)
}

fn http(
    tasks: Value,
    ctx: &Context<'_>,
    notes: &mut Vec<Note>,
) -> Result<Box<dyn Load>, SpecError> {
    compile(tasks, ctx, notes, Naming::Http)
}

fn compile(
    tasks: Value,
    ctx: &Context<'_>,
    notes: &mut Vec<Note>,
    naming: Naming,
) -> Result<Box<dyn Load>, SpecError> {
    let settings = ctx.http2_settings;
    let ctx = task::Context {
        naming,
        base: ctx.base,
        fixed: ctx.fixed,
        http2: ctx.http2,
    };
    let scenario = task::parse(tasks, &ctx, notes)?;
    let http2 = scenario
        .tasks
        .iter()
        .any(|task| task.options.http2)
        .then(|| Arc::new(Http2Pool::new(settings)));
    Ok(Scripted::boxed(Http { http2 }, scenario))
}

/// The HTTP protocol: HTTP/1.1, and HTTP/2 for the tasks that ask for it.
#[derive(Debug)]
pub(super) struct Http {
    /// The test's shared HTTP/2 connections, when a task uses HTTP/2.
    http2: Option<Arc<Http2Pool>>,
}

impl Protocol for Http {
    type Task = Task;
    type Conn = HttpClient;
    const REQUEST_TYPE: &'static str = "GET";

    fn request_type<'t>(&self, task: &'t Task) -> &'t str {
        task.method.as_str()
    }

    fn connection(&self, user: &UserParts) -> HttpClient {
        let client = HttpClient::with_budget(Arc::clone(&user.plan.network), user.budget.clone());
        match &self.http2 {
            Some(pool) => client.with_http2(Arc::clone(pool)),
            None => client,
        }
    }

    fn prepare(
        &mut self,
        tasks: &mut [Task],
        network: &Network,
        paths: &Paths,
    ) -> Result<(), String> {
        task::tls_per_task(tasks, network, paths, |task| {
            (&task.tls, &mut task.options.tls)
        })
        .map_err(|(index, e)| format!("tasks: task {} (verify, cert): {e}", index + 1))
    }

    /// Makes the task's request (again while its retry policy allows),
    /// records every attempt, and sets what its extractors take. Latency
    /// runs from when the iteration was due (arrival rate). HTTP/2 tasks
    /// run in their own boxed future: its state is HTTP/2's alone, not
    /// sized (and copied at each await) for the HTTP/1.1 client's.
    async fn perform(&self, client: &mut HttpClient, task: &Task, turn: &mut Turn<'_>) {
        if task.options.http2 {
            Box::pin(perform_with::<Http2>(client, task, turn)).await;
        } else {
            perform_with::<Http1>(client, task, turn).await;
        }
    }
}

/// How a request is sent: over HTTP/1.1 (unless its options say http2),
/// or over HTTP/2.
trait Sender {
    /// Sends `request`.
    fn send<'a>(
        client: &'a mut HttpClient,
        request: http::Request<bytes::Bytes>,
        options: &'a SendOptions,
    ) -> impl std::future::Future<Output = Result<Response, HttpError>> + Send + 'a;
}

/// [`HttpClient::send`].
struct Http1;

impl Sender for Http1 {
    fn send<'a>(
        client: &'a mut HttpClient,
        request: http::Request<bytes::Bytes>,
        options: &'a SendOptions,
    ) -> impl std::future::Future<Output = Result<Response, HttpError>> + Send + 'a {
        client.send(request, options)
    }
}

/// [`HttpClient::send_http2`].
struct Http2;

impl Sender for Http2 {
    fn send<'a>(
        client: &'a mut HttpClient,
        request: http::Request<bytes::Bytes>,
        options: &'a SendOptions,
    ) -> impl std::future::Future<Output = Result<Response, HttpError>> + Send + 'a {
        client.send_http2(request, options)
    }
}

/// [`Http::perform`] with requests sent by `S`.
async fn perform_with<S: Sender>(client: &mut HttpClient, task: &Task, turn: &mut Turn<'_>) {
    // Resolved once: every attempt sends the same request (the same
    // `${uuid()}`, the same CSV row).
    let mut built = build(task, &turn.plan.base, &mut turn.scope);
    let mut attempts = Attempts::default();
    let timeout = task.timeout.unwrap_or(turn.plan.timeout);
    let extracted = loop {
        // With a retry policy each attempt sends a copy; without one
        // there is one attempt, and it takes the request itself.
        let request = if task.retry.is_some() {
            built.as_ref().map(duplicate).map_err(Clone::clone)
        } else {
            std::mem::replace(&mut built, Err(String::new()))
        };
        let from = turn.start();
        let result = match request {
            Err(message) => Err((message, Class::Permanent)),
            Ok(request) => match turn
                .watch
                .race(S::send(client, request, &task.options), timeout)
                .await
            {
                Raced::Done(Ok(response)) => Ok(response),
                Raced::Done(Err(e)) => {
                    let class = if e.is_transport() {
                        Class::Transient
                    } else {
                        Class::Permanent
                    };
                    Err((e.to_string(), class))
                }
                Raced::TimedOut(after) => Err((timed_out(after), Class::Transient)),
                Raced::Stopped => {
                    // Stopped mid-request: not a result of the target's.
                    turn.watch.abandon();
                    return;
                }
            },
        };
        let latency = from.elapsed();
        let mut json = Json::default();
        let mut extracted = Vec::new();
        let (status, failure) = match &result {
            Err((message, class)) => (None, Some((message.clone(), *class))),
            Ok(response) => {
                let failure = match check::failure(task, &mut turn.scope, response, &mut json) {
                    Some(failed) => Some(failed),
                    None => match check::extract(&task.extract, response, &mut json) {
                        Ok(values) => {
                            extracted = values;
                            None
                        }
                        Err(message) => Some((message, Class::Flaky)),
                    },
                };
                (Some(response.status.as_u16()), failure)
            }
        };
        turn.watch.record(
            &task.head.name,
            latency,
            RequestOutcome {
                status,
                failure: failure.as_ref().map(|(message, _)| message.as_str()),
                bytes: result.as_ref().map_or(0, |r| r.body_bytes),
                request_type: "",
            },
        );
        match (failure, &task.retry) {
            (None, _) => break extracted,
            (Some((_, class)), Some(policy)) => match attempts.retry(policy, class, turn.rng) {
                Some(delay) => {
                    if turn.watch.pause(delay).await {
                        continue;
                    }
                    return;
                }
                None => break Vec::new(),
            },
            _ => break Vec::new(),
        }
    };
    for (extractor, value) in extracted {
        if extractor.session {
            turn.scope
                .set_session_variable(extractor.var.clone(), value);
        } else {
            turn.scope.set_variable(extractor.var.clone(), value);
        }
    }
}
