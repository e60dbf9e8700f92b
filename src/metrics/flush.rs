//! What the sinks share: [`Flusher`], the loop that, every flush interval,
//! reads [`State::figures_since_start`] and hands a sink what changed since
//! the last flush ([`deltas`]), the last changes at stop and shutdown;
//! [`UdpLines`], lines sent in datagrams of at most [`MAX_DATAGRAM`] bytes;
//! [`RateLimited`], for errors logged once a minute at most.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::figures::{Figures, NameFigures};
use crate::state::State;

/// The most bytes of lines in one datagram (a 1500-byte MTU less headers).
pub const MAX_DATAGRAM: usize = 1432;

/// What a sink does with the changes of one flush interval.
pub(super) trait Deliver: Send + 'static {
    /// Sends what changed from `last` to `now` (figures since start). It
    /// must end (a sink bounds its own sends): the next flush waits for it.
    fn deliver(&mut self, now: &Figures, last: &Figures) -> impl Future<Output = ()> + Send;
}

/// A sink's flush loop, running until stopped or the server shuts down.
#[derive(Debug)]
pub(super) struct Flusher {
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Flusher {
    /// Starts flushing to `sink` every `interval`, counting from what
    /// `state` has counted so far.
    pub(super) fn start(state: &Arc<State>, interval: Duration, sink: impl Deliver) -> Flusher {
        let stop = state.shutdown_signal().child_token();
        let last = state.figures_since_start();
        let task = tokio::spawn(run(
            Arc::downgrade(state),
            sink,
            interval,
            last,
            stop.clone(),
        ));
        Flusher { stop, task }
    }

    /// Stops it once the last changes are delivered.
    pub(super) async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

async fn run(
    state: Weak<State>,
    mut sink: impl Deliver,
    interval: Duration,
    mut last: Figures,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    // A slow delivery delays the next flush (which then covers more time)
    // rather than queueing flushes behind it.
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let stopping = tokio::select! {
            _ = ticks.tick() => false,
            () = stop.cancelled() => true,
        };
        let Some(state) = state.upgrade() else { return };
        let now = state.figures_since_start();
        drop(state);
        sink.deliver(&now, &last).await;
        last = now;
        if stopping {
            return;
        }
    }
}

/// What changed for one name between two flushes.
#[derive(Debug)]
pub(super) struct Delta<'a> {
    /// The name's request type (Locust's).
    pub(super) request_type: &'a str,
    /// New successful requests.
    pub(super) successes: u64,
    /// New failed requests.
    pub(super) failures: u64,
    /// The new requests' latencies, in microseconds.
    pub(super) latency_us: Histogram<u64>,
    /// The bytes the new requests moved.
    pub(super) bytes: u64,
}

impl Delta<'_> {
    /// New requests.
    pub(super) fn requests(&self) -> u64 {
        self.successes + self.failures
    }
}

/// Per name with new requests, what changed from `last` to `now`.
pub(super) fn deltas<'a>(now: &'a Figures, last: &Figures) -> Vec<(&'a str, Delta<'a>)> {
    let mut out = Vec::new();
    for (name, f) in now.per_name() {
        let before = last.per_name().get(name);
        let successes = f.successes() - before.map_or(0, NameFigures::successes);
        let failures = f.failures() - before.map_or(0, NameFigures::failures);
        if successes + failures == 0 {
            continue;
        }
        let mut latency_us = f.latency_us().clone();
        if let Some(before) = before {
            // Same bounds, and `now` holds all of `before`: cannot fail.
            let _ = latency_us.subtract(before.latency_us());
        }
        out.push((
            name.as_str(),
            Delta {
                request_type: f.request_type(),
                successes,
                failures,
                latency_us,
                bytes: f.bytes() - before.map_or(0, NameFigures::bytes),
            },
        ));
    }
    out
}

/// Whether to log now: at most once per minute.
#[derive(Debug, Default)]
pub(super) struct RateLimited {
    last: Option<Instant>,
}

impl RateLimited {
    /// True at most once a minute.
    pub(super) fn ready(&mut self) -> bool {
        if self
            .last
            .is_none_or(|at| at.elapsed() > Duration::from_secs(60))
        {
            self.last = Some(Instant::now());
            true
        } else {
            false
        }
    }
}

/// A UDP socket connected to a sink, sending lines in datagrams.
#[derive(Debug)]
pub(super) struct UdpLines {
    socket: UdpSocket,
    /// The sink's name, for the log.
    what: &'static str,
    logged: RateLimited,
}

impl UdpLines {
    /// A socket of `target`'s family connected to it (already checked
    /// against the target policy).
    pub(super) async fn connect(target: SocketAddr, what: &'static str) -> std::io::Result<Self> {
        let bind: SocketAddr = if target.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(bind).await?;
        socket.connect(target).await?;
        Ok(UdpLines {
            socket,
            what,
            logged: RateLimited::default(),
        })
    }

    /// Sends `lines` in [`datagrams`]; a failure is logged once a minute at
    /// most.
    pub(super) async fn send(&mut self, lines: &[String]) {
        for datagram in datagrams(lines) {
            if let Err(error) = self.socket.send(datagram.as_bytes()).await {
                if self.logged.ready() {
                    tracing::warn!(%error, sink = self.what, "metrics sink: send failed");
                }
            }
        }
    }
}

/// `lines` joined by newlines into datagrams of at most [`MAX_DATAGRAM`]
/// bytes (a longer line goes alone).
pub(super) fn datagrams(lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in lines {
        if !current.is_empty() && current.len() + 1 + line.len() > MAX_DATAGRAM {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(line);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Now, in nanoseconds since the Unix epoch (0 before it): the time
/// stamps of the InfluxDB points and the OTLP data points.
pub(super) fn unix_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_are_bounded() {
        let many: Vec<String> = (0..100).map(|i| format!("{i:0>40}")).collect();
        let grams = datagrams(&many);
        assert!(grams.iter().all(|g| g.len() <= MAX_DATAGRAM));
        assert_eq!(grams.iter().map(|g| g.lines().count()).sum::<usize>(), 100);
    }
}
