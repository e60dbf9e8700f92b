//! A virtual user: a tokio task that walks the scenario, iteration after
//! iteration, with its own connection, variables and figures.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::check::{self, Json};
use super::http::{HttpClient, Response};
use super::pacing::{Arrivals, Wait};
use super::render::{build, duplicate};
use super::retry::{Attempts, Class};
use super::task::{Mode, Scenario, Task};
use super::{lock, Plan};
use crate::figures::{Figures, RequestOutcome, SecondWindow};
use crate::resolver::Session;

/// What the users of one worker thread have recorded. Only that thread
/// records into it (its lock is taken by others once a second, and for a
/// status), so recording never contends, and a test holds one set of
/// figures per core, however many users it has. The engine merges them for
/// the status, each second, and at the end.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Every completed request of these users.
    pub figures: Figures,
    /// The requests of the second in progress.
    pub window: SecondWindow,
    /// Requests abandoned under way (the test stopped, or its time and the
    /// grace after it passed).
    pub abandoned: u64,
}

pub(super) struct User {
    pub(super) plan: Arc<Plan>,
    pub(super) client: HttpClient,
    pub(super) session: Session,
    pub(super) recorder: Arc<Mutex<Recorder>>,
    pub(super) arrivals: Option<Arc<Arrivals>>,
    /// The test is over, or the load shape retired this user (a child of
    /// the test's own token, one per user): finish the request under way,
    /// recorded as usual, and start no new one.
    pub(super) done: CancellationToken,
    /// The test was stopped: abandon the request under way too.
    pub(super) stop: CancellationToken,
    pub(super) rng: fastrand::Rng,
}

/// What every request races against, made once per user: the stop of the
/// test, and a timer for request timeouts. The timer is not set per request:
/// it is re-armed to the current request's deadline only when it fires
/// early (about once per timeout), so a request costs no timer work.
struct Guards {
    stopped: Pin<Box<WaitForCancellationFutureOwned>>,
    timer: Pin<Box<Sleep>>,
}

/// Far enough to be never, near enough not to overflow an `Instant`.
const NEVER: Duration = Duration::from_secs(365 * 24 * 3600);

impl User {
    /// Iterates until the test is over, or its iterations are done.
    pub(super) async fn run(mut self) {
        let mut guards = Guards {
            stopped: Box::pin(self.stop.clone().cancelled_owned()),
            timer: Box::pin(tokio::time::sleep(NEVER)),
        };
        let mut iterations = 0;
        while !self.done.is_cancelled() {
            if self.plan.iterations.is_some_and(|n| iterations >= n) {
                return;
            }
            iterations += 1;
            let due = match &self.arrivals {
                Some(arrivals) => {
                    let due = arrivals.claim();
                    tokio::select! {
                        () = tokio::time::sleep_until(due) => {}
                        () = self.done.cancelled() => return,
                    }
                    Some(due)
                }
                None => None,
            };
            self.iteration(due, &mut guards).await;
            let pause = match (&self.arrivals, self.plan.wait) {
                (Some(_), _) | (None, Wait::None) => None,
                (None, wait) => wait.next(&mut self.rng),
            };
            match pause {
                Some(pause) => tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = self.done.cancelled() => return,
                },
                // Nothing to wait for: yield only when this task has used
                // its scheduling budget (a request that failed at once, say).
                None => tokio::task::consume_budget().await,
            }
        }
    }

    async fn iteration(&mut self, mut due: Option<Instant>, guards: &mut Guards) {
        let plan = Arc::clone(&self.plan);
        let scenario: &Scenario = &plan.scenario;
        match scenario.mode {
            Mode::Weighted => {
                if let Some(task) = pick(&scenario.tasks, &mut self.rng) {
                    self.execute(task, due, guards).await;
                }
            }
            Mode::Sequence => {
                for task in &scenario.tasks {
                    if self.done.is_cancelled() {
                        return;
                    }
                    self.execute(task, due.take(), guards).await;
                }
            }
        }
    }

    /// Runs `task` if its conditions let it: takes a token from its
    /// throttle, makes its request (again while its retry policy allows),
    /// records every attempt, then pauses its think time (also after a
    /// failure). Latency runs from `due` when the iteration was scheduled
    /// (arrival rate).
    async fn execute(&mut self, task: &Task, due: Option<Instant>, guards: &mut Guards) {
        let User {
            plan,
            client,
            session,
            recorder,
            done,
            rng,
            ..
        } = self;
        let mut scope = session.scope();
        if !check::runs(task, &mut scope) {
            return;
        }
        if let Some(at) = task.throttle.as_ref().and_then(|bucket| bucket.reserve()) {
            tokio::select! {
                () = tokio::time::sleep_until(at) => {}
                () = done.cancelled() => return,
            }
        }
        // Resolved once: every attempt sends the same request (the same
        // `${uuid()}`, the same CSV row).
        let mut built = build(task, &plan.base, &mut scope);
        let mut attempts = Attempts::default();
        let mut began = due;
        let extracted = loop {
            // With a retry policy each attempt sends a copy; without one
            // there is one attempt, and it takes the request itself.
            let request = if task.retry.is_some() {
                built.as_ref().map(duplicate).map_err(Clone::clone)
            } else {
                std::mem::replace(&mut built, Err(String::new()))
            };
            let started = Instant::now();
            let from = began.take().unwrap_or(started);
            let result = match request {
                Err(message) => Err((message, Class::Permanent)),
                Ok(request) => match send(client, request, task, plan.timeout, guards).await {
                    Some(result) => result,
                    None => {
                        // Stopped mid-request: not a result of the target's.
                        lock(recorder).abandoned += 1;
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
                    let failure = match check::failure(task, &mut scope, response, &mut json) {
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
            {
                let outcome = RequestOutcome {
                    status,
                    failure: failure.as_ref().map(|(message, _)| message.as_str()),
                };
                let mut recorder = lock(recorder);
                recorder.figures.record(&task.name, latency, outcome);
                recorder.window.record(latency, failure.is_some());
            }
            match (failure, &task.retry) {
                (None, _) => break extracted,
                (Some((_, class)), Some(policy)) => match attempts.retry(policy, class, rng) {
                    Some(delay) => tokio::select! {
                        () = tokio::time::sleep(delay) => continue,
                        () = done.cancelled() => return,
                    },
                    None => break Vec::new(),
                },
                _ => break Vec::new(),
            }
        };
        for (extractor, value) in extracted {
            if extractor.session {
                session.set_session_variable(extractor.var.clone(), value);
            } else {
                session.set_variable(extractor.var.clone(), value);
            }
        }
        if let Some(think) = &task.think {
            let pause = think.draw(rng);
            if !pause.is_zero() {
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = done.cancelled() => {}
                }
            }
        }
    }
}

/// Sends `request` racing the test's stop and the request's timeout:
/// `None` when the test was stopped mid-request.
async fn send(
    client: &mut HttpClient,
    request: Request<Bytes>,
    task: &Task,
    default_timeout: std::time::Duration,
    guards: &mut Guards,
) -> Option<Result<Response, (String, Class)>> {
    let timeout = task.timeout.unwrap_or(default_timeout);
    let deadline = Instant::now() + timeout;
    if guards.timer.deadline() > deadline {
        guards.timer.as_mut().reset(deadline);
    }
    let send = client.send(request, &task.options);
    tokio::pin!(send);
    loop {
        tokio::select! {
            biased;
            result = &mut send => {
                return Some(result.map_err(|e| {
                    let class = if e.is_transport() { Class::Transient } else { Class::Permanent };
                    (e.to_string(), class)
                }))
            }
            () = &mut guards.stopped => return None,
            () = &mut guards.timer => {
                if Instant::now() >= deadline {
                    return Some(Err((
                        format!("timed out after {}", humantime::format_duration(timeout)),
                        Class::Transient,
                    )));
                }
                guards.timer.as_mut().reset(deadline);
            }
        }
    }
}

/// A task picked by weight.
fn pick<'a>(tasks: &'a [Task], rng: &mut fastrand::Rng) -> Option<&'a Task> {
    let total: u64 = tasks.iter().map(|t| u64::from(t.weight)).sum();
    if total == 0 {
        return None;
    }
    let mut draw = rng.u64(0..total);
    tasks.iter().find(|t| {
        let w = u64::from(t.weight);
        if draw < w {
            true
        } else {
            draw -= w;
            false
        }
    })
}
