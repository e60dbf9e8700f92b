//! The live dashboard (LoadDensity's `LD_start_dashboard`): an HTTP
//! listener serving one self-contained page (`/`), the figures as JSON
//! (`/snapshot`) and a server-sent event stream of them (`/events`, one
//! snapshot each refresh). It runs on the observers' hardened server
//! ([`HttpListener`]); [`Settings`] are validated, event streams are
//! bounded ([`MAX_EVENT_STREAMS`]), and it stops when told, when dropped or
//! when the agent shuts down.
//!
//! Layout: [`snapshot`](Snapshot) (the JSON), `feed` (one snapshot per
//! refresh for every reader), `routes` (paths to responses), `page` (the
//! HTML page, embedded).

mod feed;
mod page;
mod routes;
mod snapshot;

pub use snapshot::{
    ChartPoint, FailureReason, Snapshot, MAX_FAILURE_REASONS, MAX_REASON_CHARS, MAX_SERIES_POINTS,
};

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::observe::{HttpLimits, HttpListener};
use crate::state::State;
use feed::Feed;

/// LoadDensity's dashboard address.
pub const DEFAULT_ADDR: &str = "127.0.0.1:8765";

/// Event streams open at once; more get `503`.
pub const MAX_EVENT_STREAMS: usize = 32;

/// The shortest refresh, seconds.
pub const MIN_REFRESH_SECONDS: f64 = 0.1;

/// The longest refresh, seconds.
pub const MAX_REFRESH_SECONDS: f64 = 60.0;

/// The longest window rates are measured over, seconds.
pub const MAX_WINDOW_SECONDS: f64 = 3600.0;

/// How often the dashboard refreshes and over how long it measures rates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// Seconds between two snapshots of an event stream.
    pub refresh_seconds: f64,
    /// Seconds `rps` and `fps` are measured over.
    pub window_seconds: f64,
}

impl Default for Settings {
    /// LoadDensity's: a refresh each second, rates over 10 s.
    fn default() -> Self {
        Settings {
            refresh_seconds: 1.0,
            window_seconds: 10.0,
        }
    }
}

impl Settings {
    /// Settings, if both are finite and within bounds
    /// ([`MIN_REFRESH_SECONDS`]..=[`MAX_REFRESH_SECONDS`], and
    /// 0 < window <= [`MAX_WINDOW_SECONDS`]); the error names the bad one.
    pub fn new(refresh_seconds: f64, window_seconds: f64) -> Result<Settings, String> {
        if !(MIN_REFRESH_SECONDS..=MAX_REFRESH_SECONDS).contains(&refresh_seconds) {
            return Err(format!(
                "refresh_seconds: expected a number of seconds from {MIN_REFRESH_SECONDS} to {MAX_REFRESH_SECONDS}, got {refresh_seconds}"
            ));
        }
        if !(window_seconds.is_finite()
            && window_seconds > 0.0
            && window_seconds <= MAX_WINDOW_SECONDS)
        {
            return Err(format!(
                "window_seconds: expected a positive number of seconds up to {MAX_WINDOW_SECONDS}, got {window_seconds}"
            ));
        }
        Ok(Settings {
            refresh_seconds,
            window_seconds,
        })
    }

    fn refresh(&self) -> Duration {
        Duration::from_secs_f64(self.refresh_seconds)
    }
}

/// A running dashboard; it stops when dropped.
#[derive(Debug)]
pub struct Dashboard {
    /// Serves the page, the snapshots and the streams.
    listener: HttpListener,
    /// What it was started with.
    settings: Settings,
    /// Ends the listener, the ticker and the event streams.
    stop: CancellationToken,
}

impl Dashboard {
    /// Serves `state`'s dashboard on `addr` (port 0 picks a free port)
    /// until stopped, dropped, or the state's shutdown. It holds the state
    /// weakly: keep the dashboard in the state ([`DashboardSlot`]) or
    /// beside it.
    pub async fn start(
        state: &Arc<State>,
        addr: SocketAddr,
        settings: Settings,
    ) -> io::Result<Dashboard> {
        let stop = state.shutdown_signal().child_token();
        let feed = Feed::start(
            Arc::downgrade(state),
            settings,
            MAX_EVENT_STREAMS,
            stop.clone(),
        );
        let bound =
            HttpListener::bind(addr, HttpLimits::default(), routes::handler(feed), &stop).await;
        match bound {
            Ok(listener) => Ok(Dashboard {
                listener,
                settings,
                stop,
            }),
            Err(error) => {
                stop.cancel();
                Err(error)
            }
        }
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr()
    }

    /// Its settings.
    pub fn settings(&self) -> Settings {
        self.settings
    }

    /// Stops listening; open event streams end.
    pub fn stop(&self) {
        self.stop.cancel();
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The dashboard an action started (`LD_start_dashboard`), kept in the
/// state: at most one; starting another replaces it.
#[derive(Debug, Default)]
pub struct DashboardSlot {
    running: Mutex<Option<Dashboard>>,
}

impl DashboardSlot {
    /// Keeps `dashboard`, stopping and returning the address of the one it
    /// replaces.
    pub fn put(&self, dashboard: Dashboard) -> Option<SocketAddr> {
        let old = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(dashboard);
        old.map(|old| {
            old.stop();
            old.local_addr()
        })
    }

    /// Stops the kept dashboard; its address, if one ran.
    pub fn stop(&self) -> Option<SocketAddr> {
        let old = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        old.map(|old| {
            old.stop();
            old.local_addr()
        })
    }

    /// The kept dashboard's address, if one runs.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(Dashboard::local_addr)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_bounded() {
        assert_eq!(Settings::new(1.0, 10.0), Ok(Settings::default()));
        for (refresh, window) in [
            (0.05, 10.0),
            (f64::NAN, 10.0),
            (f64::INFINITY, 10.0),
            (61.0, 10.0),
            (1.0, 0.0),
            (1.0, -1.0),
            (1.0, f64::NAN),
            (1.0, MAX_WINDOW_SECONDS * 2.0),
        ] {
            assert!(
                Settings::new(refresh, window).is_err(),
                "{refresh} {window}"
            );
        }
        let refused = Settings::new(0.0, 1.0).unwrap_err();
        assert!(refused.starts_with("refresh_seconds"), "{refused}");
    }
}
