//! The load engine: virtual users as tokio tasks, spawned at a rate up to a
//! count, each with one keep-alive HTTP/1.1 connection, for a time or until
//! stopped; their figures kept per worker thread (the users of one thread
//! never contend, and memory is cores x names, not users x names), merged
//! each second into the time series, on demand for the live status, and at
//! the end into the server's records.

mod check;
mod descriptors;
mod http;
mod memory;
mod network;
mod pacing;
mod shape;
mod task;
mod user;
mod workers;

pub use self::http::{
    Budget, HttpClient, HttpError, Keep, Response, DEFAULT_TIMEOUT, MAX_HEAD, MAX_KEPT_BODY,
};
pub use descriptors::{kept_descriptors, raise_open_file_limit, Descriptors};
pub use memory::{default_max_memory, Cost, Pool};
pub use network::{ConnectTo, Network, NetworkError};
pub use pacing::{Arrivals, Wait};
pub use shape::{Shape, ShapeError, Soak, Spike, Stage};
pub use task::{
    Assertion, Auth, Body, Condition, Extractor, Mode, Scenario, Source, Task, TaskError,
    OTHER_NAMES,
};
pub use user::Recorder;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::figures::{new_histogram, Figures, SecondPoint, SecondWindow, TimeSeries};
use crate::resolver::Resolver;
use user::User;
use workers::Workers;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The most users a test may run (`user_count`, a load shape's users).
pub const MAX_USERS: usize = 100_000;

/// A test to run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Users to reach.
    pub users: usize,
    /// Users started per second.
    pub spawn_rate: f64,
    /// How long the test runs from its start; `None`: until stopped.
    pub duration: Option<Duration>,
    /// What each user does.
    pub scenario: Scenario,
    /// What relative URLs are relative to.
    pub base: Option<String>,
    /// The pause between a user's iterations.
    pub wait: Wait,
    /// Iterations per second across all users (an open model), instead of `wait`.
    pub arrival_rate: Option<f64>,
    /// Iterations each user makes before it is done; `None`: no limit. The
    /// test ends when every user is done (or at its time).
    pub iterations: Option<u64>,
    /// A request's timeout unless its task sets one.
    pub timeout: Duration,
    /// How users reach the targets (TLS trust, connection overrides).
    pub network: Arc<Network>,
    /// Request names the server's records hold already: their figures
    /// count against the memory budget too.
    pub held_names: usize,
}

/// What the engine may use, set where the server (or `run`) starts.
#[derive(Debug, Default)]
pub struct EngineLimits {
    /// A test whose estimated cost is over this many bytes is refused, and
    /// what the estimate leaves is all its responses may hold; `None`: no
    /// limit.
    pub max_memory: Option<u64>,
    /// The connections the engine may hold open.
    pub descriptors: Arc<Descriptors>,
}

/// Why a test could not start.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// Another test is running.
    #[error("a test is already running (stop it with LD_stop_test, or wait for it to end)")]
    Busy,
    /// The threads for the users could not be started.
    #[error("cannot start the user threads: {0}")]
    Workers(String),
    /// The test would take more memory or descriptors than the engine may.
    #[error("{0}")]
    OverBudget(String),
}

/// How long requests still under way when a test's time is up may take to
/// complete (and be counted as usual); then they are abandoned and counted
/// in [`Finished::abandoned`]. `test_time` is a hard limit: a test ends at
/// most this long after it, whatever `request_timeout` says.
pub const END_GRACE: Duration = Duration::from_secs(2);

/// What a finished test leaves.
#[derive(Clone, Debug)]
pub struct Finished {
    /// Every completed request's figures.
    pub figures: Figures,
    /// Requests abandoned under way: at a stop (`LD_stop_test`, shutdown),
    /// or still unanswered [`END_GRACE`] after the test's time. They are
    /// in no figure: the target never answered them.
    pub abandoned: u64,
    /// One point per second.
    pub series: TimeSeries,
    /// How long it ran.
    pub elapsed: Duration,
    /// Users started.
    pub users_started: usize,
    /// Whether it was stopped before its time (LD_stop_test, shutdown).
    pub stopped_early: bool,
}

/// A test's live figures (`LD_test_status`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Status {
    /// Whether a test is running (the figures are then of that test).
    pub running: bool,
    /// Users running now.
    pub users: usize,
    /// Users the test ramps up to.
    pub target_users: usize,
    /// Seconds since the test started.
    pub elapsed_s: f64,
    /// The test's length, `null` for "until stopped".
    pub test_time_s: Option<f64>,
    /// Requests so far.
    pub requests: u64,
    /// Failed requests so far.
    pub failures: u64,
    /// Requests in the last complete second.
    pub current_rps: u64,
    /// Median latency so far, ms.
    pub p50_ms: f64,
    /// 95th percentile so far, ms.
    pub p95_ms: f64,
    /// 99th percentile so far, ms.
    pub p99_ms: f64,
}

/// The test in progress.
#[derive(Debug)]
struct Live {
    started: Instant,
    target_users: usize,
    duration: Option<Duration>,
    /// Cancelled to end the test early: requests under way are abandoned.
    stop: CancellationToken,
    /// Users running now.
    users: AtomicUsize,
    /// Users started so far.
    started_users: AtomicUsize,
    /// One per worker thread: its users record there.
    recorders: Vec<Arc<Mutex<Recorder>>>,
    series: Mutex<TimeSeries>,
}

impl Live {
    /// Closes the second in progress as point `second`.
    fn tick(&self, second: u64) {
        let point = self.drain_window(second);
        lock(&self.series).push(point);
    }

    /// The requests of the second in progress as point `second`; the
    /// workers' windows start afresh.
    fn drain_window(&self, second: u64) -> SecondPoint {
        let mut total = SecondWindow::default();
        for recorder in &self.recorders {
            lock(recorder).window.drain_into(&mut total);
        }
        total.point(second)
    }

    fn figures(&self) -> Figures {
        let mut figures = Figures::default();
        for recorder in &self.recorders {
            figures.merge(&lock(recorder).figures);
        }
        figures
    }

    fn abandoned(&self) -> u64 {
        self.recorders.iter().map(|r| lock(r).abandoned).sum()
    }

    fn status(&self) -> Status {
        // Each worker's names are added into one histogram: a status costs
        // one histogram, however many names and workers.
        let mut overall = new_histogram();
        let (mut requests, mut failures) = (0, 0);
        for recorder in &self.recorders {
            let recorder = lock(recorder);
            for f in recorder.figures.per_name().values() {
                let _ = overall.add(f.latency_us());
                requests += f.count();
                failures += f.failures();
            }
        }
        let q = |q: f64| {
            if overall.is_empty() {
                0.0
            } else {
                overall.value_at_quantile(q) as f64 / 1000.0
            }
        };
        Status {
            running: true,
            users: self.users.load(Ordering::Relaxed),
            target_users: self.target_users,
            elapsed_s: self.started.elapsed().as_secs_f64(),
            test_time_s: self.duration.map(|d| d.as_secs_f64()),
            requests,
            failures,
            current_rps: lock(&self.series).last().map_or(0, |p| p.requests),
            p50_ms: q(0.50),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
        }
    }
}

/// Runs one test at a time and answers for it while it runs.
#[derive(Debug, Default)]
pub struct Engine {
    live: Mutex<Option<Arc<Live>>>,
    last: Mutex<Option<Status>>,
    limits: EngineLimits,
}

/// Clears the engine's live test when the run ends, however it ends (the
/// run's future may be dropped: a command timeout, the grace period).
struct Running<'a> {
    engine: &'a Engine,
    live: Arc<Live>,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.live.stop.cancel();
        let mut status = self.live.status();
        status.running = false;
        status.users = 0;
        *lock(&self.engine.last) = Some(status);
        *lock(&self.engine.live) = None;
    }
}

impl Engine {
    /// An engine held to `limits`.
    pub fn new(limits: EngineLimits) -> Engine {
        Engine {
            limits,
            ..Engine::default()
        }
    }

    /// What `plan`, on `workers` threads, may hold: its connections, and
    /// the bytes the memory budget leaves for its responses; refused when it
    /// cannot fit.
    fn budget(&self, plan: &Plan, workers: usize) -> Result<Budget, EngineError> {
        self.limits
            .descriptors
            .admit(plan.users)
            .map_err(EngineError::OverBudget)?;
        let responses = match self.limits.max_memory {
            None => Pool::default(),
            Some(max) => {
                let cost = Cost::of(
                    plan.users,
                    plan.scenario.name_count(),
                    workers,
                    plan.held_names,
                );
                let left = cost.admit(max).map_err(EngineError::OverBudget)?;
                Pool::new(usize::try_from(left).unwrap_or(usize::MAX))
            }
        };
        Ok(Budget {
            connections: Arc::clone(&self.limits.descriptors),
            responses: Arc::new(responses),
        })
    }

    /// Runs `plan` to its end (its time, [`Engine::stop`], or `shutdown`),
    /// each user forking `resolver`. When the returned future is dropped
    /// early, the users stop with it; `keep` receives the figures in every
    /// case, so a cancelled test's figures are kept too.
    pub async fn run(
        &self,
        plan: Plan,
        resolver: &Resolver,
        shutdown: CancellationToken,
        keep: impl Fn(&Finished) + Send,
    ) -> Result<Finished, EngineError> {
        // `stop` ends the test early (LD_stop_test, shutdown): requests
        // under way are abandoned. `done` ends it on time: no new request
        // starts, those under way may complete within END_GRACE (so with a
        // target that answers, the figures count exactly what it served),
        // then `stop` abandons the rest.
        let workers = workers::for_users(plan.users);
        let budget = self.budget(&plan, workers)?;
        let stop = shutdown.child_token();
        let done = stop.child_token();
        let live = {
            let mut slot = lock(&self.live);
            if slot.is_some() {
                return Err(EngineError::Busy);
            }
            let live = Arc::new(Live {
                started: Instant::now(),
                target_users: plan.users,
                duration: plan.duration,
                stop: stop.clone(),
                users: AtomicUsize::new(0),
                started_users: AtomicUsize::new(0),
                recorders: (0..workers)
                    .map(|_| Arc::new(Mutex::new(Recorder::default())))
                    .collect(),
                series: Mutex::new(TimeSeries::default()),
            });
            *slot = Some(Arc::clone(&live));
            live
        };
        let running = Running {
            engine: self,
            live: Arc::clone(&live),
        };
        let finish = |stopped_early: bool| {
            let elapsed = live.started.elapsed();
            let second = elapsed.as_secs();
            // The part-second at the end is a point too, if anything happened in it.
            let point = live.drain_window(second);
            if point.requests > 0 {
                lock(&live.series).push(point);
            }
            Finished {
                figures: live.figures(),
                abandoned: live.abandoned(),
                series: lock(&live.series).clone(),
                elapsed,
                users_started: live.started_users.load(Ordering::Relaxed),
                stopped_early,
            }
        };
        // Whatever happens to this future, the figures are kept.
        struct Keep<'k, F: Fn(&Finished), G: Fn(bool) -> Finished> {
            keep: &'k F,
            finish: &'k G,
            done: bool,
        }
        impl<F: Fn(&Finished), G: Fn(bool) -> Finished> Drop for Keep<'_, F, G> {
            fn drop(&mut self) {
                if !self.done {
                    (self.keep)(&(self.finish)(true));
                }
            }
        }
        let mut keeper = Keep {
            keep: &keep,
            finish: &finish,
            done: false,
        };

        let plan = Arc::new(plan);
        let arrivals = plan
            .arrival_rate
            .and_then(|rate| Arrivals::new(live.started, rate))
            .map(Arc::new);
        let mut workers = Workers::start(live.recorders.len())
            .map_err(|e| EngineError::Workers(e.to_string()))?;
        let mut users = JoinSet::new();
        let deadline = plan.duration.map(|d| live.started + d);
        let end = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(end);
        let spawn_every =
            Duration::try_from_secs_f64(1.0 / plan.spawn_rate).unwrap_or(Duration::ZERO);
        let mut next_spawn = live.started;
        let mut next_tick = live.started + Duration::from_secs(1);
        let mut second = 0;
        let mut seed = fastrand::Rng::new();
        let stopped_early = loop {
            let spawning = live.started_users.load(Ordering::Relaxed) < plan.users;
            tokio::select! {
                biased;
                () = stop.cancelled() => break true,
                () = &mut end => break false,
                // With an iteration count, the test ends when every user is done.
                Some(_) = users.join_next(), if !spawning => {
                    if users.is_empty() {
                        break false;
                    }
                }
                () = tokio::time::sleep_until(next_tick) => {
                    live.tick(second);
                    second += 1;
                    next_tick += Duration::from_secs(1);
                }
                () = tokio::time::sleep_until(next_spawn), if spawning => {
                    let (worker, runtime) = workers.next();
                    let user = User {
                        plan: Arc::clone(&plan),
                        client: HttpClient::with_budget(Arc::clone(&plan.network), budget.clone()),
                        session: resolver.fork(),
                        recorder: Arc::clone(&live.recorders[worker]),
                        arrivals: arrivals.clone(),
                        done: done.clone(),
                        stop: stop.clone(),
                        rng: seed.fork(),
                    };
                    let counter = Arc::clone(&live);
                    counter.users.fetch_add(1, Ordering::Relaxed);
                    counter.started_users.fetch_add(1, Ordering::Relaxed);
                    users.spawn_on(async move {
                        user.run().await;
                        counter.users.fetch_sub(1, Ordering::Relaxed);
                    }, runtime);
                    next_spawn += spawn_every;
                }
            }
        };
        done.cancel();
        // Users finish the request under way and stop; if the test is
        // stopped meanwhile, or the grace runs out, they abandon it.
        let drained = async { while users.join_next().await.is_some() {} };
        if tokio::time::timeout(END_GRACE, drained).await.is_err() {
            stop.cancel();
            while users.join_next().await.is_some() {}
        }
        let finished = finish(stopped_early);
        keeper.done = true;
        keep(&finished);
        drop(running);
        Ok(finished)
    }

    /// Stops the running test; false if none runs.
    pub fn stop(&self) -> bool {
        match lock(&self.live).as_ref() {
            Some(live) => {
                live.stop.cancel();
                true
            }
            None => false,
        }
    }

    /// The running test's live figures, or the last test's final ones.
    pub fn status(&self) -> Option<Status> {
        let live = lock(&self.live).clone();
        match live {
            Some(live) => Some(live.status()),
            None => lock(&self.last).clone(),
        }
    }
}
