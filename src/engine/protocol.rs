//! The contract between the user loop and a user kind: what a kind
//! implements ([`Protocol`]), what the loop lends one task
//! ([`Turn`], [`Watch`]), what a user is given as it starts
//! ([`UserParts`]), where outcomes go ([`Recorder`]), and what the engine
//! plans with ([`Load`]). Kinds and the loop both depend on this module;
//! it depends on neither.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::http::Budget;
use super::network::Network;
use super::pacing::Arrivals;
use super::task::Step;
use super::{lock, Plan};
use crate::figures::{Figures, RequestOutcome, SecondWindow};
use crate::paths::Paths;
use crate::redact::Redactor;
use crate::resolver::{Scope, Session};

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

/// What the engine gives a user as it starts it.
#[derive(Debug)]
pub struct UserParts {
    /// The test.
    pub plan: Arc<Plan>,
    /// The connections and response memory the test may hold.
    pub budget: Budget,
    /// The user's variables and data sources.
    pub session: Session,
    /// Its worker thread's figures.
    pub recorder: Arc<Mutex<Recorder>>,
    /// The test's arrival schedule (an open model), if it has one.
    pub arrivals: Option<Arc<Arrivals>>,
    /// The test is over, or the load shape retired this user (a child of
    /// the test's own token, one per user): finish the task under way,
    /// recorded as usual, and start no new one.
    pub done: CancellationToken,
    /// The test was stopped: abandon the task under way too.
    pub stop: CancellationToken,
    /// Its random numbers (weighted picks, pauses, retry jitter).
    pub rng: fastrand::Rng,
}

/// What every wait races against, made once per user: the stop of the
/// test, and a timer for timeouts. The timer is not set per task: it is
/// re-armed to the current deadline only when it fires early (about once
/// per timeout), so a request costs no timer work.
pub(super) struct Guards {
    pub(super) stopped: Pin<Box<WaitForCancellationFutureOwned>>,
    pub(super) timer: Pin<Box<Sleep>>,
}

/// Far enough to be never, near enough not to overflow an `Instant`.
pub(super) const NEVER: Duration = Duration::from_secs(365 * 24 * 3600);

/// What a kind's task is given to run once ([`Protocol::perform`]).
#[allow(missing_debug_implementations)]
pub struct Turn<'u> {
    /// The user's variables, one resolve call: every template of the task
    /// renders from the same CSV and database rows.
    pub scope: Scope<'u>,
    /// The test.
    pub plan: &'u Plan,
    /// The user's random numbers.
    pub rng: &'u mut fastrand::Rng,
    /// When the iteration was due (arrival rate): the first outcome's
    /// latency runs from then ([`Turn::start`]).
    pub due: Option<Instant>,
    /// Races, records, pauses.
    pub watch: Watch<'u>,
}

impl Turn<'_> {
    /// When the first outcome's latency runs from: when the iteration was
    /// due (once), else now.
    pub fn start(&mut self) -> Instant {
        self.due.take().unwrap_or_else(Instant::now)
    }
}

/// How a task waits and what it records: its waits race the test's stop
/// and a timeout; its outcomes go into the worker's figures.
#[allow(missing_debug_implementations)]
pub struct Watch<'u> {
    pub(super) recorder: &'u Mutex<Recorder>,
    pub(super) guards: &'u mut Guards,
    pub(super) done: &'u CancellationToken,
    /// What every failure reason is masked with before it is kept.
    pub(super) redactor: &'u Redactor,
    /// The task's `request_type`, for outcomes that name none
    /// ([`Protocol::request_type`]).
    pub(super) request_type: &'u str,
}

/// How a raced wait ended.
#[derive(Debug)]
pub enum Raced<T> {
    /// It completed.
    Done(T),
    /// Its timeout passed first.
    TimedOut(Duration),
    /// The test was stopped first.
    Stopped,
}

/// The failure reason of a wait that timed out.
pub fn timed_out(timeout: Duration) -> String {
    format!("timed out after {}", humantime::format_duration(timeout))
}

impl Watch<'_> {
    /// `wait`, raced against the test's stop and `timeout`.
    pub async fn race<F: std::future::Future>(
        &mut self,
        wait: F,
        timeout: Duration,
    ) -> Raced<F::Output> {
        let deadline = Instant::now() + timeout;
        let guards = &mut *self.guards;
        if guards.timer.deadline() > deadline {
            guards.timer.as_mut().reset(deadline);
        }
        tokio::pin!(wait);
        loop {
            tokio::select! {
                biased;
                output = &mut wait => return Raced::Done(output),
                () = &mut guards.stopped => return Raced::Stopped,
                () = &mut guards.timer => {
                    if Instant::now() >= deadline {
                        return Raced::TimedOut(timeout);
                    }
                    guards.timer.as_mut().reset(deadline);
                }
            }
        }
    }

    /// Records one outcome of `name`, its failure reason with the test's
    /// credentials masked (the figures, and all that is made of them,
    /// never hold one).
    pub fn record(&self, name: &str, latency: Duration, outcome: RequestOutcome<'_>) {
        let reason = outcome.failure.map(|reason| self.redactor.text(reason));
        let outcome = RequestOutcome {
            failure: reason.as_deref(),
            request_type: if outcome.request_type.is_empty() {
                self.request_type
            } else {
                outcome.request_type
            },
            ..outcome
        };
        let mut recorder = lock(self.recorder);
        recorder.window.record(name, latency, &outcome);
        recorder.figures.record(name, latency, outcome);
    }

    /// Counts a wait abandoned by the test's stop.
    pub fn abandon(&self) {
        lock(self.recorder).abandoned += 1;
    }

    /// Pauses `pause` (a retry's delay); false when the test ended (or the
    /// user was retired) meanwhile.
    pub async fn pause(&self, pause: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(pause) => true,
            () = self.done.cancelled() => false,
        }
    }

    /// Whether the test is over for this user: start nothing new.
    pub fn is_done(&self) -> bool {
        self.done.is_cancelled()
    }
}

/// A protocol a user speaks: its compiled task, what a user holds between
/// tasks, and how one task runs.
pub trait Protocol: Debug + Send + Sync + Sized + 'static {
    /// A compiled task.
    type Task: Step;
    /// What one user holds from task to task (its connections, its
    /// cookies), made as the user starts, without I/O.
    type Conn: Send + 'static;

    /// What its outcomes are labelled with in the metrics, as LoadDensity's
    /// users name Locust's `request_type` (`WS`, `GRPC`, `REDIS`...).
    const REQUEST_TYPE: &'static str;

    /// `task`'s `request_type` (a kind whose tasks differ, as HTTP's
    /// methods, says so here).
    fn request_type<'t>(&self, task: &'t Self::Task) -> &'t str {
        let _ = task;
        Self::REQUEST_TYPE
    }

    /// A new user's connection state.
    fn connection(&self, user: &UserParts) -> Self::Conn;

    /// Runs `task` once: renders it in `turn.scope`, races what it waits
    /// for against the test's stop and its timeout
    /// ([`Watch::race`]), and records each
    /// outcome under the task's name (a step may record several, e.g. each
    /// message waited for). Stopped mid-way, it records the abandon and
    /// returns.
    fn perform(
        &self,
        conn: &mut Self::Conn,
        task: &Self::Task,
        turn: &mut Turn<'_>,
    ) -> impl Future<Output = ()> + Send;

    /// Makes what the test's tasks need before it starts (TLS
    /// configurations, files through `paths`): once per test, never per
    /// task. The error says which task and why.
    fn prepare(
        &mut self,
        tasks: &mut [Self::Task],
        network: &Network,
        paths: &Paths,
    ) -> Result<(), String> {
        let _ = (tasks, network, paths);
        Ok(())
    }
}

/// A test's compiled tasks, whatever their kind: what the engine plans
/// with and starts users from.
pub trait Load: Debug + Send + Sync {
    /// How many request names its tasks have.
    fn name_count(&self) -> usize;
    /// Its tasks' request names, each once, in task order.
    fn names(&self) -> Vec<&str>;
    /// Keeps at most `max` names (see
    /// [`Scenario::cap_names`](super::task::Scenario::cap_names)); how many
    /// were folded.
    fn cap_names(&mut self, max: usize) -> usize;
    /// Masks the credentials in its names (see
    /// [`Scenario::redact_names`](super::task::Scenario::redact_names)).
    fn redact_names(&mut self, redactor: &Redactor);
    /// The `${env.NAME}` names its templates read, with repeats.
    fn env_names(&self) -> Vec<&str>;
    /// What the tasks need made before the test starts.
    fn prepare(&mut self, network: &Network, paths: &Paths) -> Result<(), String>;
    /// One user's life, from its start to its end.
    fn user(self: Arc<Self>, parts: UserParts) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}
