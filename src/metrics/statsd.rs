//! [`StatsdSink`]: `LD_start_statsd_sink`'s DogStatsD packets, in
//! LoadDensity's names and tags (`utils/metrics/statsd_sink.py`), over UDP.
//!
//! LoadDensity sends a packet per request; at the engine's rates that would
//! flood the sink and the agent, so each flush interval sends, per name,
//! what changed since the last flush, read from
//! [`State::figures_since_start`] (never from the engine's hot path):
//!
//! - `PREFIX.requests:N|c|#method:M,name:X,outcome:success` (and
//!   `failure`): the new requests;
//! - `PREFIX.request.latency:V|ms|@R|#method:M,name:X`: one line per
//!   distinct whole millisecond V among the new latencies, with the sample
//!   rate R = 1/occurrences, so a StatsD server counts each exactly;
//! - `PREFIX.response.size:V|h|@R|#method:M,name:X`: the new requests' mean
//!   size, R = 1/requests (their count and sum are exact, not each size).
//!
//! Lines go newline-separated in datagrams of at most 1,432 bytes. A send
//! error is logged once a minute at most; the last changes are sent when
//! the sink stops.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::Weak;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::figures::{Figures, NameFigures};
use crate::state::State;

/// The most bytes of lines in one datagram (a 1500-byte MTU less headers).
pub const MAX_DATAGRAM: usize = 1432;

/// A running sink.
#[derive(Debug)]
pub struct StatsdSink {
    target: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

/// LoadDensity's tag-value sanitizing: `|`, `,`, `:` and `#` become `_`.
pub fn sanitize_tag_value(value: &str) -> String {
    value.replace(['|', ',', ':', '#'], "_")
}

impl StatsdSink {
    /// Starts sending to `target` (already checked against the target
    /// policy) every `interval`, counting from what `state` has counted so
    /// far.
    pub async fn start(
        state: &std::sync::Arc<State>,
        target: SocketAddr,
        prefix: String,
        interval: Duration,
    ) -> std::io::Result<StatsdSink> {
        let bind: SocketAddr = if target.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(bind).await?;
        socket.connect(target).await?;
        let stop = state.shutdown_signal().child_token();
        let last = state.figures_since_start();
        let task = tokio::spawn(run(
            std::sync::Arc::downgrade(state),
            socket,
            prefix,
            interval,
            last,
            stop.clone(),
        ));
        Ok(StatsdSink { target, stop, task })
    }

    /// Where it sends.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// Stops it once the last changes are sent.
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

async fn run(
    state: Weak<State>,
    socket: UdpSocket,
    prefix: String,
    interval: Duration,
    mut last: Figures,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut logged: Option<Instant> = None;
    loop {
        let stopping = tokio::select! {
            _ = ticks.tick() => false,
            () = stop.cancelled() => true,
        };
        let Some(state) = state.upgrade() else { return };
        let now = state.figures_since_start();
        drop(state);
        for datagram in datagrams(&lines(&prefix, &now, &last)) {
            if let Err(error) = socket.send(datagram.as_bytes()).await {
                if logged.is_none_or(|at| at.elapsed() > Duration::from_secs(60)) {
                    tracing::warn!(%error, "StatsD sink: send failed");
                    logged = Some(Instant::now());
                }
            }
        }
        last = now;
        if stopping {
            return;
        }
    }
}

/// The lines of what changed from `last` to `now`.
fn lines(prefix: &str, now: &Figures, last: &Figures) -> Vec<String> {
    let mut out = Vec::new();
    for (name, f) in now.per_name() {
        let before = last.per_name().get(name);
        let successes = f.successes() - before.map_or(0, NameFigures::successes);
        let failures = f.failures() - before.map_or(0, NameFigures::failures);
        if successes + failures == 0 {
            continue;
        }
        let tags = format!(
            "method:{},name:{}",
            sanitize_tag_value(f.request_type()),
            sanitize_tag_value(name)
        );
        for (outcome, n) in [("success", successes), ("failure", failures)] {
            if n > 0 {
                out.push(format!("{prefix}.requests:{n}|c|#{tags},outcome:{outcome}"));
            }
        }
        let mut latency = f.latency_us().clone();
        if let Some(before) = before {
            // Same bounds, and `now` holds all of `before`: cannot fail.
            let _ = latency.subtract(before.latency_us());
        }
        let mut by_ms: BTreeMap<u64, u64> = BTreeMap::new();
        for value in latency.iter_recorded() {
            *by_ms.entry(value.value_iterated_to() / 1000).or_default() += value.count_at_value();
        }
        for (ms, n) in by_ms {
            let mut line = format!("{prefix}.request.latency:{ms}|ms");
            if n > 1 {
                let _ = write!(line, "|@{}", 1.0 / n as f64);
            }
            let _ = write!(line, "|#{tags}");
            out.push(line);
        }
        let count = successes + failures;
        let bytes = f.bytes() - before.map_or(0, NameFigures::bytes);
        let mut line = format!("{prefix}.response.size:{}|h", bytes / count);
        if count > 1 {
            let _ = write!(line, "|@{}", 1.0 / count as f64);
        }
        let _ = write!(line, "|#{tags}");
        out.push(line);
    }
    out
}

/// `lines` joined by newlines into datagrams of at most [`MAX_DATAGRAM`]
/// bytes (a longer line goes alone).
fn datagrams(lines: &[String]) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::RequestOutcome;

    #[test]
    fn deltas_are_exact_and_datagrams_bounded() {
        let mut last = Figures::default();
        let get = |outcome: RequestOutcome<'static>| RequestOutcome {
            request_type: "GET",
            ..outcome
        };
        last.record(
            "/a|b",
            Duration::from_millis(3),
            get(RequestOutcome::ok(200)),
        );
        let mut now = last.clone();
        for _ in 0..3 {
            now.record(
                "/a|b",
                Duration::from_millis(7),
                get(RequestOutcome::ok(200).with_bytes(10)),
            );
        }
        now.record(
            "/a|b",
            Duration::from_millis(9),
            get(RequestOutcome::failed(Some(500), "x")),
        );
        let lines = lines("ld", &now, &last);
        assert_eq!(
            lines,
            [
                "ld.requests:3|c|#method:GET,name:/a_b,outcome:success",
                "ld.requests:1|c|#method:GET,name:/a_b,outcome:failure",
                "ld.request.latency:7|ms|@0.3333333333333333|#method:GET,name:/a_b",
                "ld.request.latency:9|ms|#method:GET,name:/a_b",
                "ld.response.size:7|h|@0.25|#method:GET,name:/a_b",
            ]
        );
        let many: Vec<String> = (0..100).map(|i| format!("{i:0>40}")).collect();
        let grams = datagrams(&many);
        assert!(grams.iter().all(|g| g.len() <= MAX_DATAGRAM));
        assert_eq!(grams.iter().map(|g| g.lines().count()).sum::<usize>(), 100);
    }
}
