//! [`State`]: what belongs to the running server (or `ld-tower run`) and is
//! shared by its connections: the records' figures and time series, the
//! resolver's variables and CSV sources, the load engine.

use std::sync::{Arc, Mutex, PoisonError};

use tokio_rustls::rustls::ClientConfig;
use tokio_util::sync::CancellationToken;

use crate::engine::{self, Engine, Finished};
use crate::figures::{Figures, TimeSeries};
use crate::resolver::Resolver;

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
    /// TLS for https targets, built once.
    tls: Arc<ClientConfig>,
}

impl Default for State {
    fn default() -> Self {
        State {
            figures: Mutex::default(),
            series: Mutex::default(),
            resolver: Mutex::default(),
            engine: Engine::default(),
            shutdown: CancellationToken::new(),
            tls: engine::tls_config(),
        }
    }
}

impl State {
    /// Runs `f` with the figures locked. A panic elsewhere that poisoned the
    /// lock does not make the figures unreachable.
    pub fn figures<T>(&self, f: impl FnOnce(&mut Figures) -> T) -> T {
        f(&mut self.figures.lock().unwrap_or_else(PoisonError::into_inner))
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

    /// Keeps a finished (or cancelled) test's figures and series.
    pub fn keep(&self, finished: &Finished) {
        self.figures(|figures| figures.merge(&finished.figures));
        *self.series.lock().unwrap_or_else(PoisonError::into_inner) = finished.series.clone();
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

    /// TLS for https targets.
    pub fn tls(&self) -> Arc<ClientConfig> {
        Arc::clone(&self.tls)
    }
}
