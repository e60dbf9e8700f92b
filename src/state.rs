//! [`State`]: what belongs to the running server (or `ld-tower run`) and is
//! shared by its connections: the records' figures and time series, the
//! resolver's variables and CSV sources, the load engine.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio_util::sync::CancellationToken;

use serde_json::Value;

use crate::actions::prepared::PreparedSlot;
use crate::auth::SecurityCounters;
use crate::breaking::SearchSlot;
use crate::dashboard::DashboardSlot;
use crate::engine::{Engine, EngineLimits, Finished, Network, OTHER_NAMES};
use crate::figures::{Figures, TimeSeries};
use crate::fleet::FleetSlot;
use crate::metrics::Outputs;
use crate::observe::BindRule;
use crate::paths::Paths;
use crate::policy::Caps;
use crate::resolver::{EnvPolicy, Loader, Resolver, SourceBudget};
use crate::thresholds::Verdict;

/// What is known of the last test, for reports.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LastRun {
    /// `LD_start_test`'s parameters, as its result shows them. After a
    /// breaking-point search (`LD_find_breaking_point`), those of the probe
    /// its records keep, with what the search found under
    /// `breaking_point` ([`Outcome::to_json`](crate::breaking::Outcome::to_json)).
    pub parameters: Value,
    /// How long it ran, in seconds.
    pub elapsed_s: f64,
    /// Its thresholds' verdicts (empty when it had none).
    pub verdicts: Vec<Verdict>,
}

/// The server's shared state.
#[derive(Debug)]
pub struct State {
    /// The records kept so far, as figures.
    figures: Mutex<Figures>,
    /// The last test's per-second series.
    series: Mutex<TimeSeries>,
    /// Registered variables and CSV sources.
    resolver: Mutex<Resolver>,
    /// Runs the load tests.
    engine: Engine,
    /// Cancelled when the server begins shutting down: a running test stops.
    shutdown: CancellationToken,
    /// How load tests reach their targets.
    network: Arc<Network>,
    /// Where actions may read and write files.
    paths: Paths,
    /// The last test's parameters and verdicts.
    last_run: Mutex<Option<LastRun>>,
    /// Whether a threshold of any test so far failed.
    threshold_failed: AtomicBool,
    /// Whether a test with no thresholds so far had failed requests.
    unguarded_failures: AtomicBool,
    /// Loads data sources off the runtime, within their budget, stopped at
    /// shutdown.
    loader: Loader,
    /// Keys ld-tower does not use are errors, not notes (`run --strict`).
    strict: bool,
    /// What a test may ask for at most (`--max-users` & co.).
    caps: Caps,
    /// Refusals counted by the server and the actions.
    security: Arc<SecurityCounters>,
    /// Every test's figures since the state was made, whatever
    /// `LD_clear_records` forgets: what the metrics exporters count.
    since_start: Mutex<SinceStart>,
    /// Where a client's action may open a listener (an exporter, the
    /// dashboard).
    observers: BindRule,
    /// The dashboard `LD_start_dashboard` started.
    dashboard: DashboardSlot,
    /// The exporters and sinks clients started.
    outputs: Outputs,
    /// The test `LD_prepare_test` holds for `LD_start_prepared`.
    prepared: PreparedSlot,
    /// The fleet test this process coordinates (`runner_mode: "master"`).
    fleet: FleetSlot,
    /// The breaking-point search running (`LD_find_breaking_point`).
    search: SearchSlot,
}

/// The figures of every test that ended since the state was made.
#[derive(Debug, Default)]
struct SinceStart {
    /// The number of the last test added ([`Finished::id`]).
    through: u64,
    figures: Figures,
}

/// The most request names [`State::figures_since_start`] keeps apart; the
/// figures of names past them are counted together under
/// [`OTHER_NAMES`], so an agent that runs test after test with new names
/// holds (and exports) a bounded number of series.
pub const MAX_NAMES_SINCE_START: usize = 1_000;

impl Default for State {
    /// Any path, relative to the current directory; every environment
    /// variable readable; no budget for data sources (a local run: the user
    /// owns the machine).
    fn default() -> Self {
        State::new(Paths::default()).with_env(EnvPolicy::All)
    }
}

impl State {
    /// Fresh state whose actions use files by `paths`' rule; `${env.NAME}`
    /// reads nothing until [`State::with_env`]; data sources have no budget
    /// until [`State::with_source_budget`].
    pub fn new(paths: Paths) -> Self {
        let shutdown = CancellationToken::new();
        State {
            loader: Loader::new(SourceBudget::unlimited(), shutdown.clone()),
            figures: Mutex::default(),
            series: Mutex::default(),
            resolver: Mutex::default(),
            engine: Engine::default(),
            shutdown,
            network: Arc::new(Network::default()),
            paths,
            last_run: Mutex::default(),
            threshold_failed: AtomicBool::new(false),
            unguarded_failures: AtomicBool::new(false),
            strict: false,
            caps: Caps::default(),
            security: Arc::default(),
            since_start: Mutex::default(),
            observers: BindRule::loopback(),
            dashboard: DashboardSlot::default(),
            outputs: Outputs::default(),
            prepared: PreparedSlot::default(),
            fleet: FleetSlot::default(),
            search: SearchSlot::default(),
        }
    }

    /// Makes every key ld-tower does not use (an unknown keyword, a typo)
    /// an error that fails its action, instead of a note (`run --strict`;
    /// a test can ask the same with `"strict": true`).
    pub fn with_strict(mut self, strict: bool) -> Self {
        self.strict = strict;
        self
    }

    /// Whether unused keys are errors.
    pub fn strict(&self) -> bool {
        self.strict
    }

    /// Where actions may read and write files.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// The last test's parameters and verdicts.
    pub fn last_run(&self) -> Option<LastRun> {
        self.last_run
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records the last test's parameters and verdicts.
    pub fn set_last_run(&self, last: LastRun) {
        if last.verdicts.iter().any(|v| !v.passed) {
            self.threshold_failed.store(true, Ordering::Relaxed);
        }
        *self.last_run.lock().unwrap_or_else(PoisonError::into_inner) = Some(last);
    }

    /// Whether a threshold of any test run on this state failed.
    pub fn thresholds_failed(&self) -> bool {
        self.threshold_failed.load(Ordering::Relaxed)
    }

    /// Notes that a test which set no thresholds had failed requests.
    pub fn note_unguarded_failures(&self) {
        self.unguarded_failures.store(true, Ordering::Relaxed);
    }

    /// Whether a test run on this state set no thresholds and had failed
    /// requests (`ld-tower run` then fails, as Locust does).
    pub fn unguarded_failures(&self) -> bool {
        self.unguarded_failures.load(Ordering::Relaxed)
    }

    /// Runs `f` with the figures locked. A panic elsewhere that poisoned the
    /// lock does not make the figures unreachable.
    pub fn figures<T>(&self, f: impl FnOnce(&mut Figures) -> T) -> T {
        f(&mut self.figures.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Every request's figures since this state was made, the running
    /// test's so far included; `LD_clear_records` does not forget them
    /// (the counters the exporters show only grow). At most
    /// [`MAX_NAMES_SINCE_START`] names are kept apart.
    pub fn figures_since_start(&self) -> Figures {
        // The live test first, then what ended: a test that ends between
        // the two is in the second, and its live copy is dropped by number.
        let live = self.engine.live_figures();
        let since = self
            .since_start
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut figures = since.figures.clone();
        if let Some((id, running)) = live {
            if id > since.through {
                figures.merge_within(&running, MAX_NAMES_SINCE_START, OTHER_NAMES);
            }
        }
        figures
    }

    /// The last test's per-second series.
    pub fn series(&self) -> TimeSeries {
        self.series
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Runs `f` with the resolver locked.
    pub fn resolver<T>(&self, f: impl FnOnce(&mut Resolver) -> T) -> T {
        f(&mut self.resolver.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The load engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The fleet test this process coordinates, if one runs.
    pub fn fleet(&self) -> &FleetSlot {
        &self.fleet
    }

    /// The breaking-point search running, if any.
    pub fn search(&self) -> &SearchSlot {
        &self.search
    }

    /// Whether a local test runs, or a breaking-point search (which is
    /// between two probes' tests at times): another test may not start.
    pub fn test_running(&self) -> bool {
        self.engine.running() || self.search.running()
    }

    /// The test held ready for `LD_start_prepared`.
    pub(crate) fn prepared(&self) -> &PreparedSlot {
        &self.prepared
    }

    /// Keeps a finished (or cancelled) test's figures and series: in the
    /// records and among the figures since start.
    pub fn keep_figures(&self, finished: &Finished) {
        self.count_since_start(finished);
        self.keep_records(finished);
    }

    /// Adds a finished test's figures to the records and makes its series
    /// the last test's (what `LD_summary` and the reports show).
    pub fn keep_records(&self, finished: &Finished) {
        self.figures(|figures| figures.merge(&finished.figures));
        *self.series.lock().unwrap_or_else(PoisonError::into_inner) = finished.series.clone();
    }

    /// Adds a finished test's figures to those since start (what the
    /// exporters count), and to nothing else: a breaking-point search's
    /// probes are counted there, though the records keep one probe at most.
    pub fn count_since_start(&self, finished: &Finished) {
        let mut since = self
            .since_start
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        since
            .figures
            .merge_within(&finished.figures, MAX_NAMES_SINCE_START, OTHER_NAMES);
        since.through = since.through.max(finished.id);
    }

    /// Tells the state the server is shutting down: a running test stops
    /// (its figures are kept).
    pub fn begin_shutdown(&self) {
        self.shutdown.cancel();
    }

    /// Cancelled once shutdown began.
    pub fn shutdown_signal(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// This state with load tests reaching their targets by `network`.
    pub fn with_network(mut self, network: Network) -> Self {
        self.network = Arc::new(network);
        self
    }

    /// This state with `${env.NAME}` reading what `env` allows.
    pub fn with_env(self, env: EnvPolicy) -> Self {
        self.resolver(|r| *r = std::mem::take(r).with_env(env));
        self
    }

    /// This state with data sources (loaded and loading) holding at most
    /// what `budget` allows.
    pub fn with_source_budget(mut self, budget: SourceBudget) -> Self {
        self.loader = Loader::new(budget, self.shutdown.clone());
        self
    }

    /// Loads data sources: off the runtime, within their budget, stopped at
    /// shutdown.
    pub fn loader(&self) -> &Loader {
        &self.loader
    }

    /// Which environment variables `${env.NAME}` may read.
    pub fn env(&self) -> EnvPolicy {
        self.resolver(|r| r.env().clone())
    }

    /// This state with load tests held to `limits` (memory, descriptors).
    pub fn with_engine_limits(mut self, limits: EngineLimits) -> Self {
        self.engine = Engine::new(limits);
        self
    }

    /// This state with tests held to `caps`.
    pub fn with_caps(mut self, caps: Caps) -> Self {
        self.caps = caps;
        self
    }

    /// This state with actions' listeners bound where `rule` allows
    /// (loopback only by default).
    pub fn with_observers(mut self, rule: BindRule) -> Self {
        self.observers = rule;
        self
    }

    /// Where a client's action may open a listener.
    pub fn observers(&self) -> &BindRule {
        &self.observers
    }

    /// The dashboard `LD_start_dashboard` started, if any.
    pub fn dashboard(&self) -> &DashboardSlot {
        &self.dashboard
    }

    /// The exporters and sinks clients started (`LD_start_prometheus_exporter`
    /// & co.).
    pub fn metrics_outputs(&self) -> &Outputs {
        &self.outputs
    }

    /// What a test may ask for at most.
    pub fn caps(&self) -> &Caps {
        &self.caps
    }

    /// What the server and the actions count of refusals (failed
    /// authentications, forbidden actions...): hand it to
    /// [`Server::security_counters`](crate::server::Server::security_counters).
    pub fn security(&self) -> &Arc<SecurityCounters> {
        &self.security
    }

    /// How load tests reach their targets.
    pub fn network(&self) -> Arc<Network> {
        Arc::clone(&self.network)
    }
}
