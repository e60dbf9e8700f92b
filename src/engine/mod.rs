//! The load engine: virtual users as tokio tasks, spawned at a rate up to a
//! count (or, with a load [`Shape`], moved each second toward the count it
//! sets), each with one keep-alive HTTP/1.1 connection, for a time or until
//! stopped; their figures kept per worker thread (the users of one thread
//! never contend, and memory is cores x names, not users x names), merged
//! each second into the time series, on demand for the live status, and at
//! the end into the server's records.

mod check;
mod descriptors;
pub mod dial;
mod http;
pub mod kinds;
mod memory;
mod network;
mod pacing;
pub mod protocol;
mod render;
mod retry;
pub mod secrets;
mod shape;
mod steer;
pub mod task;
mod throttle;
mod user;
mod workers;

pub use self::http::{
    multipart, Budget, Http2Pool, Http2Settings, HttpClient, HttpError, Redirects, Response,
    Retain, SendOptions, DEFAULT_TIMEOUT, MAX_H2_CONNECTIONS, MAX_HEAD, MAX_KEPT_BODY,
    MAX_REDIRECTS,
};
pub use descriptors::{kept_descriptors, raise_open_file_limit, Descriptors};
pub use kinds::{Kind, Load, Protocol, Scripted, KINDS};
pub use memory::{default_max_memory, Cost, Pool};
pub use network::{
    ClientCert, ConnectTo, Network, NetworkError, TlsConfigs, TlsOptions, Verify, MAX_PEM_BYTES,
};
pub use pacing::{Arrivals, Wait};
pub use protocol::{timed_out, Raced, Recorder, Turn, UserParts, Watch};
pub use retry::{Attempts, Class, RetryPolicy};
pub use shape::{Shape, ShapeError, Soak, Spike, Stage};
pub use steer::{Change, Changed, Changes, InEffect, SteerError, MAX_CHANGES, MAX_CHANGE_BYTES};
pub use task::{
    compile, Assertion, Auth, Body, Condition, Extractor, FilePart, Fixed, Head, JsonQuery, Mode,
    Naming, Scenario, Source, Step, Task, Think, TlsSpec, OTHER_NAMES,
};
pub use throttle::{Bucket, Throttles};

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::figures::{new_histogram, Figures, SecondPoint, SecondWindow, TestFigures, TimeSeries};
use crate::redact::Redactor;
use crate::resolver::Resolver;
use steer::{Aim, Steer};
use workers::Workers;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The most users a test may run (`user_count`, a load shape's users).
pub const MAX_USERS: usize = 100_000;

/// A test to run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Users to reach (unused with a `shape`).
    pub users: usize,
    /// Users started per second (unused with a `shape`).
    pub spawn_rate: f64,
    /// The users to run, and how fast to get there, second by second,
    /// instead of `users` and `spawn_rate`; the test ends when the shape
    /// does (or at `duration`, if that comes first).
    pub shape: Option<Shape>,
    /// How long the test runs from its start; `None`: until stopped.
    pub duration: Option<Duration>,
    /// What each user does: the test's tasks, compiled by its user kind.
    pub load: Arc<dyn Load>,
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
    /// The agent's `--max-rate`: every task of every user takes a token
    /// from it before it runs; `None`: no such cap.
    pub pace: Option<Arc<Bucket>>,
    /// The test's credentials: every failure reason passes through it
    /// before it is recorded ([`Watch::record`]).
    pub redactor: Arc<Redactor>,
    /// The client's name for the test (`LD_prepare_test`'s `test_id`);
    /// `None` for a test started by `LD_start_test`.
    pub label: Option<String>,
}

impl Plan {
    /// The most users the test runs at once: the shape's peak, or `users`.
    pub fn peak_users(&self) -> usize {
        self.shape.as_ref().map_or(self.users, Shape::max_users)
    }
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
    /// The test's number: the engine numbers its tests 1, 2, 3... in the
    /// order they start ([`Engine::live_figures`] names the same number).
    pub id: u64,
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
    /// When it started, by the wall clock (read with its start instant).
    pub started_at: SystemTime,
    /// Users started.
    pub users_started: usize,
    /// Whether it was stopped before its time (LD_stop_test, shutdown).
    pub stopped_early: bool,
    /// The changes made to it while it ran ([`Engine::set_users`] and co.).
    pub changes: Changes,
}

/// A test's live figures (`LD_test_status`).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Status {
    /// Whether a test is running (the figures are then of that test).
    pub running: bool,
    /// Users running now.
    pub users: usize,
    /// Users the test is heading for now: `user_count`, or what its load
    /// shape asks for this second; it follows [`Engine::set_users`] and co.
    pub target_users: usize,
    /// Users started (or stopped) per second on the way there.
    pub spawn_rate: f64,
    /// Iterations per second across the users; `null`: paced by `wait_time`.
    pub arrival_rate: Option<f64>,
    /// The load shape setting the users, `null` if none.
    pub load_shape: Option<&'static str>,
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
    /// The test's number (see [`Finished::id`]).
    id: u64,
    /// The client's name for the test ([`Plan::label`]).
    label: Option<String>,
    started: Instant,
    /// `started` by the wall clock.
    started_at: SystemTime,
    /// Users the test is heading for now.
    target_users: AtomicUsize,
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
    /// The arrival schedule, for a test with `arrival_rate`.
    arrivals: Option<Arc<Arrivals>>,
    /// What the test is set to, and the changes made to it.
    steer: Mutex<Steer>,
    /// Wakes the drive loop when `steer`'s aim changes.
    steered: tokio::sync::Notify,
}

impl Live {
    /// Closes the second in progress as point `second`.
    fn tick(&self, second: u64) {
        let point = self.drain_window(second, self.users.load(Ordering::Relaxed));
        lock(&self.series).push(point);
    }

    /// The requests of the second in progress as point `second`, with
    /// `users` running; the workers' windows start afresh.
    fn drain_window(&self, second: u64, users: usize) -> SecondPoint {
        let mut total = SecondWindow::default();
        for recorder in &self.recorders {
            lock(recorder).window.drain_into(&mut total);
        }
        total.point(second, u64::try_from(users).unwrap_or(u64::MAX))
    }

    fn figures(&self) -> Figures {
        let mut figures = Figures::default();
        for recorder in &self.recorders {
            figures.merge(&lock(recorder).figures);
        }
        figures
    }

    /// The test's figures now, as it ends: the second in progress is a
    /// point too, numbered after the last closed one (a test that ends on
    /// a second's boundary ends before that second's tick: a 10 s test's
    /// last point is second 9), kept if anything happened in it or it
    /// lasted half a second; its users are `users`, those running as the
    /// test ended.
    fn finish(&self, stopped_early: bool, users: usize) -> Finished {
        let elapsed = self.started.elapsed();
        // The ticks have stopped: no point is closed meanwhile.
        let second = lock(&self.series)
            .last()
            .map_or(0, |point| point.second + 1);
        let point = self.drain_window(second, users);
        let lasted = elapsed.saturating_sub(Duration::from_secs(second));
        if point.requests > 0 || lasted >= Duration::from_millis(500) {
            lock(&self.series).push(point);
        }
        Finished {
            id: self.id,
            figures: self.figures(),
            abandoned: self.abandoned(),
            series: lock(&self.series).clone(),
            elapsed,
            started_at: self.started_at,
            users_started: self.started_users.load(Ordering::Relaxed),
            stopped_early,
            changes: lock(&self.steer).changes(),
        }
    }

    /// The test's figures and series as they stand: `running`, or (at its
    /// close) `finished`'s.
    fn test_figures(&self, finished: Option<&Finished>) -> TestFigures {
        TestFigures {
            test_id: self.label.clone(),
            running: finished.is_none(),
            started_at: self.started_at,
            elapsed: finished.map_or_else(|| self.started.elapsed(), |f| f.elapsed),
            users_started: u64::try_from(self.started_users.load(Ordering::Relaxed))
                .unwrap_or(u64::MAX),
            figures: finished.map_or_else(|| self.figures(), |f| f.figures.clone()),
            series: finished.map_or_else(|| lock(&self.series).clone(), |f| f.series.clone()),
        }
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
        let (spawn_rate, load_shape) = {
            let steer = lock(&self.steer);
            (steer.spawn_rate(), steer.shape_name())
        };
        Status {
            running: true,
            users: self.users.load(Ordering::Relaxed),
            target_users: self.target_users.load(Ordering::Relaxed),
            spawn_rate,
            arrival_rate: self.arrivals.as_ref().map(|a| a.rate()),
            load_shape,
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

/// A plan the engine can run: the threads it runs on, what it may hold.
#[derive(Debug)]
struct Admitted {
    workers: usize,
    budget: Budget,
}

/// Runs one test at a time and answers for it while it runs.
#[derive(Debug, Default)]
pub struct Engine {
    live: Mutex<Option<Arc<Live>>>,
    /// The number of the last test started.
    started_tests: std::sync::atomic::AtomicU64,
    last: Mutex<Option<Status>>,
    /// The last test's figures and series, for `LD_fetch_figures`.
    last_figures: Mutex<Option<Arc<TestFigures>>>,
    limits: EngineLimits,
}

/// The live test, from its start to its end however it ends: on time
/// ([`Test::end`]), or dropped early (a stop, a command timeout, the
/// server's grace period running out). [`Test::close`] is the one place
/// where a test stops: users abandoned, figures kept, status left, engine
/// freed, in that order, whoever ends it.
struct Test<'a, K: Fn(&Finished)> {
    engine: &'a Engine,
    live: Arc<Live>,
    crowd: Crowd<'a>,
    /// Where the figures go, once.
    on_end: K,
    closed: bool,
    /// Users running as the test's time ran out, before they wound down:
    /// the last point's.
    users_at_end: Option<usize>,
}

impl<K: Fn(&Finished)> Test<'_, K> {
    /// Runs the test until it ends: stopped (true), or on time, at the end
    /// of its shape, or with every user done (false).
    async fn drive(&mut self) -> bool {
        drive(&self.live, &mut self.crowd).await
    }

    /// Ends the test after [`Test::drive`]: users finish what is under way
    /// (within [`END_GRACE`]), then the test closes.
    async fn end(mut self, stopped_early: bool) -> Finished {
        self.users_at_end = Some(self.live.users.load(Ordering::Relaxed));
        self.crowd.wind_down().await;
        self.close(stopped_early)
    }

    /// Stops what is left of the test (users still running are aborted:
    /// their requests under way are abandoned), hands its figures to
    /// `on_end`, leaves its last status and frees the engine. Once.
    fn close(&mut self, stopped_early: bool) -> Finished {
        self.closed = true;
        let users = self
            .users_at_end
            .unwrap_or_else(|| self.live.users.load(Ordering::Relaxed));
        self.live.stop.cancel();
        self.crowd.tasks.abort_all();
        let finished = self.live.finish(stopped_early, users);
        (self.on_end)(&finished);
        let mut status = self.live.status();
        status.running = false;
        status.users = 0;
        *lock(&self.engine.last) = Some(status);
        *lock(&self.engine.last_figures) = Some(Arc::new(self.live.test_figures(Some(&finished))));
        *lock(&self.engine.live) = None;
        finished
    }
}

impl<K: Fn(&Finished)> Drop for Test<'_, K> {
    /// Dropped before it ended (its future was dropped): closed as stopped.
    fn drop(&mut self) {
        if !self.closed {
            self.close(true);
        }
    }
}

/// The users of a running test, on their worker threads (which end when
/// it is dropped).
struct Crowd<'r> {
    /// The users' tasks.
    tasks: JoinSet<()>,
    /// One token per user still wanted, oldest first: cancelling one
    /// retires its user (it finishes the request under way, which is
    /// recorded, and starts no other). Each is a child of `done`.
    active: Vec<CancellationToken>,
    workers: Workers,
    plan: Arc<Plan>,
    budget: Budget,
    resolver: &'r Resolver,
    arrivals: Option<Arc<Arrivals>>,
    /// The test is over: users start no new request.
    done: CancellationToken,
    /// The test is stopped: users abandon the request under way too.
    stop: CancellationToken,
    seed: fastrand::Rng,
}

impl Crowd<'_> {
    /// Users still wanted (retired ones may still be finishing a request).
    fn active(&self) -> usize {
        self.active.len()
    }

    /// Starts one more user, on the next worker thread.
    fn start_user(&mut self, live: &Arc<Live>) {
        let (worker, runtime) = self.workers.next();
        let retire = self.done.child_token();
        let user = Arc::clone(&self.plan.load).user(UserParts {
            plan: Arc::clone(&self.plan),
            budget: self.budget.clone(),
            session: self.resolver.fork(),
            recorder: Arc::clone(&live.recorders[worker]),
            arrivals: self.arrivals.clone(),
            done: retire.clone(),
            stop: self.stop.clone(),
            rng: self.seed.fork(),
        });
        self.active.push(retire);
        let counter = Arc::clone(live);
        counter.users.fetch_add(1, Ordering::Relaxed);
        counter.started_users.fetch_add(1, Ordering::Relaxed);
        self.tasks.spawn_on(
            async move {
                user.await;
                counter.users.fetch_sub(1, Ordering::Relaxed);
            },
            runtime,
        );
    }

    /// Retires the user started last.
    fn retire_user(&mut self) {
        if let Some(user) = self.active.pop() {
            user.cancel();
        }
    }

    /// Ends the test on time: users finish the request under way and stop;
    /// if the test is stopped meanwhile, or [`END_GRACE`] runs out, they
    /// abandon it.
    async fn wind_down(&mut self) {
        self.done.cancel();
        let drained = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(END_GRACE, drained).await.is_err() {
            self.stop.cancel();
            while self.tasks.join_next().await.is_some() {}
        }
    }
}

/// Where the count of users is heading and when the next one starts (or
/// stops): one every `1 / spawn_rate` seconds while the count is off.
#[derive(Debug)]
struct Pace {
    target: usize,
    every: Duration,
    /// When the last user was started or retired, as scheduled.
    last: Option<Instant>,
    next: Instant,
}

impl Pace {
    /// Heading for `target` at `rate` users per second, the first user at `at`.
    fn new(target: usize, rate: f64, at: Instant) -> Pace {
        Pace {
            target,
            every: interval(rate),
            last: None,
            next: at,
        }
    }

    /// Heads for `target` at `rate` from `now`: the next step is one new
    /// interval after the last, and never in the past (a count that has
    /// been still for a while moves at once, without a burst).
    fn retarget(&mut self, target: usize, rate: f64, now: Instant) {
        self.target = target;
        self.every = interval(rate);
        self.next = self.last.map_or(now, |last| last + self.every).max(now);
    }

    /// A user was started or retired.
    fn stepped(&mut self) {
        self.last = Some(self.next);
        self.next += self.every;
    }
}

fn interval(rate: f64) -> Duration {
    Duration::try_from_secs_f64(1.0 / rate).unwrap_or(Duration::ZERO)
}

/// Moves the test's users toward its target (the plan's count, or its
/// shape's each second, or what a change set since) until it ends: stopped
/// (true), or on time, at the end of its shape, or with every user done
/// with its iterations (false).
async fn drive(live: &Arc<Live>, crowd: &mut Crowd<'_>) -> bool {
    let plan = Arc::clone(&crowd.plan);
    let stop = crowd.stop.clone();
    let end = async {
        match plan.duration {
            Some(duration) => tokio::time::sleep_until(live.started + duration).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(end);
    let (mut version, mut aim) = lock(&live.steer).aim();
    // The second the aim's second 0 is (a shape set while the test runs
    // starts at its own 0), and what it asks for now.
    let mut origin = 0;
    let Some(mut now) = aim.at(0) else {
        return false;
    };
    let mut pace = Pace::new(now.0, now.1, live.started);
    live.target_users.store(pace.target, Ordering::Relaxed);
    let mut next_tick = live.started + Duration::from_secs(1);
    let mut second = 0;
    loop {
        let active = crowd.active();
        let stepping = active != pace.target;
        let shaped = aim.is_shape();
        tokio::select! {
            biased;
            () = stop.cancelled() => return true,
            () = &mut end => return false,
            // Users end when retired, or (without a shape) when done with
            // their iterations: then the test ends when every user still
            // wanted is done (none wanted is a pause, not an end).
            Some(_) = crowd.tasks.join_next(), if !stepping || shaped => {
                if crowd.tasks.is_empty() && !shaped && crowd.active() > 0 {
                    return false;
                }
            }
            () = live.steered.notified() => {
                let (changed, new) = lock(&live.steer).aim();
                if changed != version {
                    (version, aim, origin) = (changed, new, second);
                    let Some(aimed) = aim.at(0) else {
                        return false;
                    };
                    now = aimed;
                    pace.retarget(now.0, now.1, Instant::now());
                }
            }
            () = tokio::time::sleep_until(next_tick) => {
                live.tick(second);
                second += 1;
                next_tick += Duration::from_secs(1);
                if aim.is_shape() {
                    let Some(aimed) = aim.at(second - origin) else {
                        return false;
                    };
                    if aimed != now && live.shape_moved(version, aimed) {
                        now = aimed;
                        pace.retarget(now.0, now.1, Instant::now());
                    }
                }
            }
            () = tokio::time::sleep_until(pace.next), if stepping => {
                if active < pace.target {
                    crowd.start_user(live);
                } else {
                    crowd.retire_user();
                }
                pace.stepped();
            }
        }
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

    /// The threads `plan` runs on and what it may hold: its connections,
    /// and the bytes the memory budget leaves for its responses; refused
    /// when it cannot fit. A shaped test is admitted for its peak.
    fn admit(&self, plan: &Plan) -> Result<Admitted, EngineError> {
        let workers = workers::for_users(plan.peak_users());
        let users = plan.peak_users();
        let what = match &plan.shape {
            None => format!("user_count {users}"),
            Some(shape) => format!("load_shape {:?} at its peak of {users} users", shape.name()),
        };
        self.limits
            .descriptors
            .admit(users, &what)
            .map_err(EngineError::OverBudget)?;
        let responses = match self.limits.max_memory {
            None => Pool::default(),
            Some(max) => {
                let cost = Cost::of(users, plan.load.name_count(), workers, plan.held_names);
                let left = cost.admit(max).map_err(EngineError::OverBudget)?;
                Pool::new(usize::try_from(left).unwrap_or(usize::MAX))
            }
        };
        Ok(Admitted {
            workers,
            budget: Budget {
                connections: Arc::clone(&self.limits.descriptors),
                responses: Arc::new(responses),
            },
        })
    }

    /// Whether `plan` could start now: refused, with the text
    /// [`Engine::run`] would give, when a test is running or it does not
    /// fit the engine's budget. It admits nothing: a later `run` checks
    /// again.
    pub fn check(&self, plan: &Plan) -> Result<(), EngineError> {
        self.admit(plan)?;
        match lock(&self.live).is_some() {
            true => Err(EngineError::Busy),
            false => Ok(()),
        }
    }

    /// Makes `plan` the live test, its users' threads started, or refuses:
    /// one test at a time.
    fn start<'a, K: Fn(&Finished)>(
        &'a self,
        plan: Plan,
        admitted: Admitted,
        resolver: &'a Resolver,
        shutdown: &CancellationToken,
        on_end: K,
    ) -> Result<Test<'a, K>, EngineError> {
        // `stop` ends the test early (LD_stop_test, shutdown): requests
        // under way are abandoned. `done` ends it on time: no new request
        // starts, those under way may complete within END_GRACE (so with a
        // target that answers, the figures count exactly what it served),
        // then `stop` abandons the rest.
        let stop = shutdown.child_token();
        let done = stop.child_token();
        let mut slot = lock(&self.live);
        if slot.is_some() {
            return Err(EngineError::Busy);
        }
        let workers =
            Workers::start(admitted.workers).map_err(|e| EngineError::Workers(e.to_string()))?;
        let started = Instant::now();
        let started_at = SystemTime::now();
        let label = plan.label.clone();
        let aim = match &plan.shape {
            None => Aim::Count {
                users: plan.users,
                spawn_rate: plan.spawn_rate,
            },
            Some(shape) => Aim::Shape(shape.clone()),
        };
        let live = Arc::new(Live {
            id: self.started_tests.fetch_add(1, Ordering::Relaxed) + 1,
            label,
            started,
            started_at,
            target_users: AtomicUsize::new(match &plan.shape {
                None => plan.users,
                Some(shape) => shape.tick(0).map_or(0, |(users, _)| users),
            }),
            duration: plan.duration,
            stop: stop.clone(),
            users: AtomicUsize::new(0),
            started_users: AtomicUsize::new(0),
            recorders: (0..admitted.workers)
                .map(|_| Arc::new(Mutex::new(Recorder::default())))
                .collect(),
            series: Mutex::new(TimeSeries::default()),
            arrivals: plan
                .arrival_rate
                .and_then(|rate| Arrivals::new(started, rate))
                .map(Arc::new),
            steer: Mutex::new(Steer::new(aim, plan.peak_users(), admitted.budget.clone())),
            steered: tokio::sync::Notify::new(),
        });
        *slot = Some(Arc::clone(&live));
        let crowd = Crowd {
            tasks: JoinSet::new(),
            active: Vec::new(),
            workers,
            arrivals: live.arrivals.clone(),
            plan: Arc::new(plan),
            budget: admitted.budget,
            resolver,
            done,
            stop,
            seed: fastrand::Rng::new(),
        };
        Ok(Test {
            engine: self,
            live,
            crowd,
            on_end,
            closed: false,
            users_at_end: None,
        })
    }

    /// Runs `plan` to its end (its time, the end of its shape,
    /// [`Engine::stop`], or `shutdown`), each user forking `resolver`: the
    /// plan admitted, the live test, its end. When the returned future is
    /// dropped early, the test stops with it; `on_end` receives the figures
    /// in every case, so a cancelled test's figures are kept too.
    pub async fn run(
        &self,
        plan: Plan,
        resolver: &Resolver,
        shutdown: CancellationToken,
        on_end: impl Fn(&Finished) + Send,
    ) -> Result<Finished, EngineError> {
        let admitted = self.admit(&plan)?;
        let mut test = self.start(plan, admitted, resolver, &shutdown, on_end)?;
        let stopped_early = test.drive().await;
        Ok(test.end(stopped_early).await)
    }

    /// Whether a test is running.
    pub fn running(&self) -> bool {
        lock(&self.live).is_some()
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

    /// The running test's number and its figures so far (every worker's
    /// merged); `None` when no test runs. A test's figures are handed to
    /// its `on_end` before it stops being the live test, so a reader that
    /// asks here first and then looks at what `on_end` kept sees the test
    /// once or twice, never not at all: it tells which by the number.
    pub fn live_figures(&self) -> Option<(u64, Figures)> {
        let live = lock(&self.live).clone()?;
        Some((live.id, live.figures()))
    }

    /// The running test's per-second series so far (the seconds closed);
    /// `None` when no test runs.
    pub fn live_series(&self) -> Option<TimeSeries> {
        let live = lock(&self.live).clone()?;
        let series = lock(&live.series).clone();
        Some(series)
    }

    /// The running test's figures and series so far, or, when none runs,
    /// the last test's final ones; `None` before the first test.
    pub fn test_figures(&self) -> Option<TestFigures> {
        let live = lock(&self.live).clone();
        match live {
            Some(live) => Some(live.test_figures(None)),
            None => lock(&self.last_figures).as_deref().cloned(),
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
