//! A virtual user: a tokio task that walks the scenario, iteration after
//! iteration, with its own connections and variables, recording into its
//! worker's figures; the same loop for every kind, generic over its
//! [`Protocol`] (compiled once per kind, no call through a pointer per task).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::time::Instant;

use super::check;
use super::network::Network;
use super::pacing::Wait;
use super::protocol::{Guards, Load, Protocol, Turn, UserParts, Watch, NEVER};
use super::task::{Mode, Scenario, Step};
use crate::paths::Paths;
use crate::redact::Redactor;

/// A virtual user of protocol `P`: the loop every kind shares.
pub(super) struct User<P: Protocol> {
    script: Arc<Scripted<P>>,
    conn: P::Conn,
    parts: UserParts,
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
                Some(arrivals) => match arrivals.next_due(&self.parts.done).await {
                    Some(due) => Some(due),
                    None => return,
                },
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
    /// throttle and from the agent's `--max-rate` (the plan's `pace`), has the protocol run it (which records what happened),
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
        for bucket in [head.throttle.as_ref(), plan.pace.as_ref()]
            .into_iter()
            .flatten()
        {
            if let Some(at) = bucket.reserve() {
                tokio::select! {
                    () = tokio::time::sleep_until(at) => {}
                    () = done.cancelled() => return,
                }
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
                redactor: &plan.redactor,
                request_type: self.script.protocol.request_type(task),
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

/// A kind's protocol with its tasks: the [`Load`] of every kind.
#[derive(Debug)]
pub struct Scripted<P: Protocol> {
    /// The protocol.
    pub protocol: P,
    /// Its tasks, and how they are walked.
    pub scenario: Scenario<P::Task>,
}

impl<P: Protocol> Scripted<P> {
    /// `scenario` for `protocol`, boxed as a [`Load`].
    pub fn boxed(protocol: P, scenario: Scenario<P::Task>) -> Box<dyn Load> {
        Box::new(Scripted { protocol, scenario })
    }
}

impl<P: Protocol> Load for Scripted<P> {
    fn name_count(&self) -> usize {
        self.scenario.name_count()
    }

    fn names(&self) -> Vec<&str> {
        self.scenario.names()
    }

    fn cap_names(&mut self, max: usize) -> usize {
        self.scenario.cap_names(max)
    }

    fn redact_names(&mut self, redactor: &Redactor) {
        self.scenario.redact_names(redactor);
    }

    fn env_names(&self) -> Vec<&str> {
        self.scenario.env_names().collect()
    }

    fn prepare(&mut self, network: &Network, paths: &Paths) -> Result<(), String> {
        self.protocol
            .prepare(&mut self.scenario.tasks, network, paths)
    }

    fn user(self: Arc<Self>, parts: UserParts) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(User::new(self, parts).run())
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
