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
use std::sync::Arc;
use std::time::Duration;

use super::flush::{deltas, Deliver, Flusher, UdpLines};
use crate::figures::Figures;
use crate::state::State;

/// A running sink.
#[derive(Debug)]
pub struct StatsdSink {
    target: SocketAddr,
    flusher: Flusher,
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
        state: &Arc<State>,
        target: SocketAddr,
        prefix: String,
        interval: Duration,
    ) -> std::io::Result<StatsdSink> {
        let socket = UdpLines::connect(target, "statsd").await?;
        let flusher = Flusher::start(state, interval, Statsd { socket, prefix });
        Ok(StatsdSink { target, flusher })
    }

    /// Where it sends.
    pub fn target(&self) -> SocketAddr {
        self.target
    }

    /// Stops it once the last changes are sent.
    pub async fn stop(self) {
        self.flusher.stop().await;
    }
}

struct Statsd {
    socket: UdpLines,
    prefix: String,
}

impl Deliver for Statsd {
    async fn deliver(&mut self, now: &Figures, last: &Figures) {
        let lines = lines(&self.prefix, now, last);
        self.socket.send(&lines).await;
    }
}

/// The lines of what changed from `last` to `now`.
fn lines(prefix: &str, now: &Figures, last: &Figures) -> Vec<String> {
    let mut out = Vec::new();
    for (name, delta) in deltas(now, last) {
        let tags = format!(
            "method:{},name:{}",
            sanitize_tag_value(delta.request_type),
            sanitize_tag_value(name)
        );
        for (outcome, n) in [("success", delta.successes), ("failure", delta.failures)] {
            if n > 0 {
                out.push(format!("{prefix}.requests:{n}|c|#{tags},outcome:{outcome}"));
            }
        }
        let mut by_ms: BTreeMap<u64, u64> = BTreeMap::new();
        for value in delta.latency_us.iter_recorded() {
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
        let count = delta.requests();
        let mut line = format!("{prefix}.response.size:{}|h", delta.bytes / count);
        if count > 1 {
            let _ = write!(line, "|@{}", 1.0 / count as f64);
        }
        let _ = write!(line, "|#{tags}");
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::RequestOutcome;

    #[test]
    fn deltas_are_exact() {
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
    }
}
