//! A virtual user: a tokio task that walks the scenario, iteration after
//! iteration, with its own connections and variables, recording into its
//! worker's figures; the same loop for every kind, generic over its
//! [`Protocol`] (compiled once per kind, no call through a pointer per task).

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::check;
use super::http::Budget;
use super::kinds::{Protocol, Scripted};
use super::pacing::{Arrivals, Wait};
use super::task::{Mode, Step};
use super::{lock, Plan};
use crate::figures::{Figures, RequestOutcome, SecondWindow};
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

/// A virtual user of protocol `P`: the loop every kind shares.
pub(super) struct User<P: Protocol> {
    script: Arc<Scripted<P>>,
    conn: P::Conn,
    parts: UserParts,
}

/// What every wait races against, made once per user: the stop of the
/// test, and a timer for timeouts. The timer is not set per task: it is
/// re-armed to the current deadline only when it fires early (about once
/// per timeout), so a request costs no timer work.
struct Guards {
    stopped: Pin<Box<WaitForCancellationFutureOwned>>,
    timer: Pin<Box<Sleep>>,
}

/// Far enough to be never, near enough not to overflow an `Instant`.
const NEVER: Duration = Duration::from_secs(365 * 24 * 3600);

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
    recorder: &'u Mutex<Recorder>,
    guards: &'u mut Guards,
    done: &'u CancellationToken,
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

    /// Records one outcome of `name`.
    pub fn record(&self, name: &str, latency: Duration, outcome: RequestOutcome<'_>) {
        let failed = outcome.failure.is_some();
        let mut recorder = lock(self.recorder);
        recorder.figures.record(name, latency, outcome);
        recorder.window.record(latency, failed);
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

impl<P: Protocol> User<P> {
    pub(super) fn new(script: Arc<Scripted<P>>, parts: UserParts) -> User<P> {
        let conn = script.protocol.connection(&parts);
        User {
            script,
            conn,
            parts,
        }
    }

    /// Iterates until the test is over, or its iterations are done.
    pub(super) async fn run(mut self) {
        let mut guards = Guards {
            stopped: Box::pin(self.parts.stop.clone().cancelled_owned()),
            timer: Box::pin(tokio::time::sleep(NEVER)),
        };
        let mut iterations = 0;
        while !self.parts.done.is_cancelled() {
            if self.parts.plan.iterations.is_some_and(|n| iterations >= n) {
                return;
            }
            iterations += 1;
            let due = match &self.parts.arrivals {
                Some(arrivals) => {
                    let due = arrivals.claim();
                    tokio::select! {
                        () = tokio::time::sleep_until(due) => {}
                        () = self.parts.done.cancelled() => return,
                    }
                    Some(due)
                }
                None => None,
            };
            self.iteration(due, &mut guards).await;
            let pause = match (&self.parts.arrivals, self.parts.plan.wait) {
                (Some(_), _) | (None, Wait::None) => None,
                (None, wait) => wait.next(&mut self.parts.rng),
            };
            match pause {
                Some(pause) => tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = self.parts.done.cancelled() => return,
                },
                // Nothing to wait for: yield only when this task has used
                // its scheduling budget (a request that failed at once, say).
                None => tokio::task::consume_budget().await,
            }
        }
    }

    async fn iteration(&mut self, mut due: Option<Instant>, guards: &mut Guards) {
        let script = Arc::clone(&self.script);
        let scenario = &script.scenario;
        match scenario.mode {
            Mode::Weighted => {
                if let Some(task) = pick(&scenario.tasks, &mut self.parts.rng) {
                    self.execute(task, due, guards).await;
                }
            }
            Mode::Sequence => {
                for task in &scenario.tasks {
                    if self.parts.done.is_cancelled() {
                        return;
                    }
                    self.execute(task, due.take(), guards).await;
                }
            }
        }
    }

    /// Runs `task` if its conditions let it: takes a token from its
    /// throttle, has the protocol run it (which records what happened),
    /// then pauses its think time (also after a failure).
    async fn execute(&mut self, task: &P::Task, due: Option<Instant>, guards: &mut Guards) {
        let head = task.head();
        let UserParts {
            plan,
            session,
            recorder,
            done,
            rng,
            ..
        } = &mut self.parts;
        let mut scope = session.scope();
        if !check::runs(head, &mut scope) {
            return;
        }
        if let Some(at) = head.throttle.as_ref().and_then(|bucket| bucket.reserve()) {
            tokio::select! {
                () = tokio::time::sleep_until(at) => {}
                () = done.cancelled() => return,
            }
        }
        let mut turn = Turn {
            scope,
            plan,
            rng,
            due,
            watch: Watch {
                recorder,
                guards,
                done,
            },
        };
        self.script
            .protocol
            .perform(&mut self.conn, task, &mut turn)
            .await;
        if let Some(think) = &head.think {
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

/// A task picked by weight.
fn pick<'a, T: Step>(tasks: &'a [T], rng: &mut fastrand::Rng) -> Option<&'a T> {
    let total: u64 = tasks.iter().map(|t| u64::from(t.head().weight)).sum();
    if total == 0 {
        return None;
    }
    let mut draw = rng.u64(0..total);
    tasks.iter().find(|t| {
        let w = u64::from(t.head().weight);
        if draw < w {
            true
        } else {
            draw -= w;
            false
        }
    })
}
