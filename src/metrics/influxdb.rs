//! [`InfluxdbSink`]: `LD_start_influxdb_sink`'s line protocol, in
//! LoadDensity's measurement, tags and escaping
//! (`utils/metrics/influxdb_sink.py`), over UDP or HTTP.
//!
//! LoadDensity writes a point per request (fields `latency_ms`,
//! `response_bytes`, `success`, `error`); at the engine's rates (100,000
//! requests a second and more) that would flood InfluxDB and the agent, so
//! each flush interval writes, per name, one point of what changed since
//! the last flush (read by [`Flusher`], never on the engine's path): tags
//! `request_type` and `name`; fields `requests` and `failures` (integers),
//! `latency_ms_mean`, `_p50`, `_p95`, `_p99` and `_max` (floats),
//! `response_bytes` (integer); the flush's time in nanoseconds.
//!
//! UDP: lines in datagrams of at most 1,432 bytes. HTTP: one POST per
//! flush with every line, on a new connection (the target policy checked
//! on each), within the sink's timeout; a slow InfluxDB delays the next
//! flush (which then covers more time) and nothing waits behind it, a
//! failed POST's body is dropped. Errors are logged once a minute at most;
//! the token is never logged.

use std::fmt::{self, Write as _};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::HeaderValue;

use super::flush::{deltas, unix_ns, Deliver, Flusher, UdpLines};
use super::post::{PostUrl, Poster};
use crate::figures::Figures;
use crate::state::State;

/// Where the points go.
pub enum InfluxTarget {
    /// Datagrams to this address (already checked against the target
    /// policy).
    Udp(SocketAddr),
    /// POSTs to an InfluxDB write URL.
    Http(InfluxHttp),
}

/// An InfluxDB write URL, its token and timeout.
pub struct InfluxHttp(PostUrl);

/// The token is never shown.
impl fmt::Debug for InfluxHttp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "InfluxHttp({})", self.shown())
    }
}

/// The token is never shown.
impl fmt::Debug for InfluxTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InfluxTarget::Udp(at) => write!(f, "Udp({at})"),
            InfluxTarget::Http(http) => write!(f, "Http({})", http.shown()),
        }
    }
}

impl InfluxHttp {
    /// `url` (http:// or https://, no user or password in it), with
    /// `token` sent as `Authorization: Token TOKEN`, each POST within
    /// `timeout`. The errors never quote the token.
    pub fn new(url: &str, token: Option<&str>, timeout: Duration) -> Result<InfluxHttp, String> {
        let url = PostUrl::new(url, "InfluxDB url", "InfluxDB", timeout)?;
        Ok(InfluxHttp(match token.filter(|t| !t.is_empty()) {
            Some(token) => {
                let value = HeaderValue::from_str(&format!("Token {token}")).map_err(|_| {
                    "the token is not a valid header value (no control characters)".to_owned()
                })?;
                url.with_authorization(value)
            }
            None => url,
        }))
    }

    /// The host and port connected to.
    pub fn host_port(&self) -> (&str, u16) {
        self.0.host_port()
    }

    /// Where it posts, without the query: what the start action answers.
    pub fn shown(&self) -> String {
        self.0.shown()
    }
}

/// A running sink.
#[derive(Debug)]
pub struct InfluxdbSink {
    shown: String,
    flusher: Flusher,
}

impl InfluxdbSink {
    /// Starts writing `measurement` points to `target` every `interval`,
    /// counting from what `state` has counted so far.
    pub async fn start(
        state: &Arc<State>,
        target: InfluxTarget,
        measurement: &str,
        interval: Duration,
    ) -> std::io::Result<InfluxdbSink> {
        let measurement = escape_measurement(measurement);
        let (shown, out) = match target {
            InfluxTarget::Udp(at) => (
                at.to_string(),
                Out::Udp(UdpLines::connect(at, "influxdb").await?),
            ),
            InfluxTarget::Http(http) => (
                http.shown(),
                Out::Http(Poster::new(http.0, state.network(), "InfluxDB sink")),
            ),
        };
        let flusher = Flusher::start(state, interval, Influx { out, measurement });
        Ok(InfluxdbSink { shown, flusher })
    }

    /// Where it writes: `HOST:PORT`, or the URL without its query.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Stops it once the last changes are written.
    pub async fn stop(self) {
        self.flusher.stop().await;
    }
}

enum Out {
    Udp(UdpLines),
    Http(Poster),
}

struct Influx {
    out: Out,
    measurement: String,
}

impl Deliver for Influx {
    async fn deliver(&mut self, now: &Figures, last: &Figures) {
        let at = unix_ns();
        let lines = lines(&self.measurement, now, last, at);
        if lines.is_empty() {
            return;
        }
        match &mut self.out {
            Out::Udp(socket) => socket.send(&lines).await,
            Out::Http(poster) => {
                let mut body = lines.join("\n");
                body.push('\n');
                poster
                    .send("text/plain; charset=utf-8", body.into_bytes())
                    .await;
            }
        }
    }
}

/// A measurement escaped for line protocol: commas and spaces.
fn escape_measurement(value: &str) -> String {
    one_line(value).replace(',', "\\,").replace(' ', "\\ ")
}

/// LoadDensity's tag escaping: spaces, commas and equals signs.
pub fn escape_tag(value: &str) -> String {
    one_line(value)
        .replace(' ', "\\ ")
        .replace(',', "\\,")
        .replace('=', "\\=")
}

/// LoadDensity's string-field escaping: backslashes and double quotes.
pub fn escape_field_string(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Line protocol has no escape for a line break: it becomes a space (a
/// name cannot add points).
fn one_line(value: &str) -> String {
    value.replace(['\n', '\r'], " ")
}

/// The points of what changed from `last` to `now`, timed `at_ns`.
fn lines(measurement: &str, now: &Figures, last: &Figures, at_ns: u128) -> Vec<String> {
    let mut out = Vec::new();
    for (name, delta) in deltas(now, last) {
        let latency = &delta.latency_us;
        let ms = |us: u64| us as f64 / 1000.0;
        let mut line = format!(
            "{measurement},request_type={},name={} requests={}i,failures={}i",
            escape_tag(delta.request_type),
            escape_tag(name),
            delta.requests(),
            delta.failures,
        );
        let _ = write!(
            line,
            ",latency_ms_mean={:?},latency_ms_p50={:?},latency_ms_p95={:?},latency_ms_p99={:?},latency_ms_max={:?}",
            latency.mean() / 1000.0,
            ms(latency.value_at_quantile(0.5)),
            ms(latency.value_at_quantile(0.95)),
            ms(latency.value_at_quantile(0.99)),
            ms(latency.max()),
        );
        let _ = write!(line, ",response_bytes={}i {at_ns}", delta.bytes);
        out.push(line);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::RequestOutcome;

    #[test]
    fn one_point_per_name_escaped_as_loaddensity_does() {
        let mut last = Figures::default();
        let post = |outcome: RequestOutcome<'static>| RequestOutcome {
            request_type: "POST",
            ..outcome
        };
        let name = "/a b,c=d";
        last.record(
            name,
            Duration::from_millis(3),
            post(RequestOutcome::ok(200)),
        );
        let mut now = last.clone();
        for ms in [10, 20] {
            now.record(
                name,
                Duration::from_millis(ms),
                post(RequestOutcome::ok(200).with_bytes(5)),
            );
        }
        now.record(
            name,
            Duration::from_millis(30),
            post(RequestOutcome::failed(Some(500), "x")),
        );
        // Latencies as the HDR histogram keeps them (3 significant digits).
        let points = lines(&escape_measurement("m x,y"), &now, &last, 7);
        assert_eq!(
            points,
            [
                "m\\ x\\,y,request_type=POST,name=/a\\ b\\,c\\=d requests=3i,failures=1i,\
              latency_ms_mean=20.006666666666664,latency_ms_p50=20.015,latency_ms_p95=30.015,\
              latency_ms_p99=30.015,latency_ms_max=30.015,response_bytes=10i 7"
            ]
        );
        assert!(lines(&escape_measurement("m"), &now, &now, 7).is_empty());
        assert_eq!(escape_tag("a\nb"), "a\\ b");
        assert_eq!(escape_field_string(r#"a\"b"#), r#"a\\\"b"#);
    }

    #[test]
    fn the_token_is_never_shown() {
        let ok = |url: &str| InfluxHttp::new(url, Some("s3cr3t"), Duration::from_secs(1));
        assert!(ok("file:///x").is_err_and(|e| e.contains("InfluxDB url")));
        let http = ok("http://h:8086/api/v2/write?bucket=b").map_err(|e| e.to_string());
        assert_eq!(
            http.as_ref().map(InfluxHttp::shown),
            Ok("http://h:8086/api/v2/write".to_owned())
        );
        let debug = format!("{:?}", http.map(InfluxTarget::Http));
        assert!(!debug.contains("s3cr3t"), "{debug}");
        let bad = InfluxHttp::new("http://h/", Some("a\nb"), Duration::from_secs(1));
        assert!(bad.is_err_and(|e| !e.contains("a\nb")));
    }
}
