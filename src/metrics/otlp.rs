//! [`OtlpExporter`]: `LD_start_opentelemetry_exporter`'s metrics, in
//! LoadDensity's instrument names (`utils/metrics/opentelemetry_exporter.py`),
//! sent over OTLP/HTTP in the specification's JSON encoding of
//! `ExportMetricsServiceRequest` (lowerCamelCase fields, 64-bit integers as
//! decimal strings, enums as integers), built with `serde_json`.
//!
//! Every export interval, one POST to `ENDPOINT/v1/metrics` of the figures
//! counted since the agent started ([`State::figures_since_start`], read by
//! [`Flusher`], never on the engine's path), cumulative:
//!
//! - `loaddensity.requests` (unit `1`): a monotonic sum, one point per name
//!   and outcome (`success`, `failure`), attributes `request_type`, `name`,
//!   `outcome`;
//! - `loaddensity.request.latency` (unit `ms`): a histogram per name with
//!   LoadDensity's Prometheus buckets, count, sum, min and max;
//! - `loaddensity.response.size` (unit `By`): a histogram per name with the
//!   response-size buckets, count and sum.
//!
//! One POST at a time on a new connection ([`Poster`]); a slow collector
//! delays the next export, nothing queues behind it; a failed export is
//! logged once a minute at most and dropped (the next one carries the same
//! totals, cumulative).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use super::flush::{unix_ns, Deliver, Flusher};
use super::post::{PostUrl, Poster};
use super::requests::{latency_counts, latency_sum_ms};
use super::LATENCY_BOUNDS_MS;
use crate::figures::{Figures, RESPONSE_SIZE_BOUNDS};
use crate::state::State;

/// OTLP/HTTP's default endpoint (OpenTelemetry's).
pub const DEFAULT_OTLP_ENDPOINT: &str = "http://127.0.0.1:4318";

/// Each export's timeout (OpenTelemetry's default export timeout).
pub const OTLP_TIMEOUT: Duration = Duration::from_secs(10);

/// The instrumentation scope's name (LoadDensity's meter).
const SCOPE: &str = "loaddensity";

/// `AGGREGATION_TEMPORALITY_CUMULATIVE`.
const CUMULATIVE: u8 = 2;

/// A running exporter.
#[derive(Debug)]
pub struct OtlpExporter {
    shown: String,
    flusher: Flusher,
}

impl OtlpExporter {
    /// Where `endpoint` (http:// or https://, no user or password) takes
    /// metrics: its path with `/v1/metrics` added, unless it ends so
    /// already.
    pub fn url(endpoint: &str) -> Result<PostUrl, String> {
        let url = match url::Url::parse(endpoint) {
            Ok(mut parsed) if !parsed.cannot_be_a_base() => {
                let path = parsed.path().trim_end_matches('/').to_owned();
                if !path.ends_with("/v1/metrics") {
                    parsed.set_path(&format!("{path}/v1/metrics"));
                }
                parsed.to_string()
            }
            _ => endpoint.to_owned(),
        };
        PostUrl::new(&url, "endpoint", "the OTLP collector", OTLP_TIMEOUT)
    }

    /// Starts exporting to `url` (already checked against the target
    /// policy) every `interval` as `service_name`.
    pub fn start(
        state: &Arc<State>,
        url: PostUrl,
        service_name: String,
        interval: Duration,
    ) -> OtlpExporter {
        let shown = url.shown();
        let otlp = Otlp {
            poster: Poster::new(url, state.network(), "OTLP exporter"),
            service_name,
            start_ns: unix_ns(),
        };
        OtlpExporter {
            shown,
            flusher: Flusher::start(state, interval, otlp),
        }
    }

    /// Where it exports: the URL without its query.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Stops it once the last export is sent.
    pub async fn stop(self) {
        self.flusher.stop().await;
    }
}

struct Otlp {
    poster: Poster,
    service_name: String,
    /// When it started, in nanoseconds since the epoch.
    start_ns: u128,
}

impl Deliver for Otlp {
    async fn deliver(&mut self, now: &Figures, _last: &Figures) {
        if now.per_name().is_empty() {
            return;
        }
        let request = export_request(&self.service_name, now, self.start_ns, unix_ns());
        match serde_json::to_vec(&request) {
            Ok(body) => self.poster.send("application/json", body).await,
            // Only strings and numbers: cannot fail.
            Err(error) => tracing::warn!(%error, "OTLP exporter: cannot encode"),
        }
    }
}

/// An OTLP string attribute.
fn attribute(key: &str, value: &str) -> Value {
    json!({"key": key, "value": {"stringValue": value}})
}

/// A histogram point: non-cumulative `counts`, one more than `bounds`.
fn histogram_point(
    attributes: &Value,
    times: &(String, String),
    bounds: &[u64],
    counts: &[u64],
    sum: f64,
) -> Value {
    json!({
        "attributes": attributes,
        "startTimeUnixNano": times.0,
        "timeUnixNano": times.1,
        "count": counts.iter().sum::<u64>().to_string(),
        "sum": sum,
        "bucketCounts": counts.iter().map(u64::to_string).collect::<Vec<_>>(),
        "explicitBounds": bounds,
    })
}

/// The `ExportMetricsServiceRequest` of `figures`, cumulative from
/// `start_ns` to `at_ns`.
fn export_request(service_name: &str, figures: &Figures, start_ns: u128, at_ns: u128) -> Value {
    let times = (start_ns.to_string(), at_ns.to_string());
    let mut requests = Vec::new();
    let mut latencies = Vec::new();
    let mut sizes = Vec::new();
    for (name, f) in figures.per_name() {
        let named = |outcome: Option<&str>| {
            let mut attributes = vec![
                attribute("request_type", f.request_type()),
                attribute("name", name),
            ];
            attributes.extend(outcome.map(|o| attribute("outcome", o)));
            Value::Array(attributes)
        };
        for (outcome, n) in [("success", f.successes()), ("failure", f.failures())] {
            requests.push(json!({
                "attributes": named(Some(outcome)),
                "startTimeUnixNano": times.0,
                "timeUnixNano": times.1,
                "asInt": n.to_string(),
            }));
        }
        let attributes = named(None);
        let mut latency = histogram_point(
            &attributes,
            &times,
            &LATENCY_BOUNDS_MS,
            &latency_counts(f),
            latency_sum_ms(f),
        );
        let histogram = f.latency_us();
        if let (false, Some(point)) = (histogram.is_empty(), latency.as_object_mut()) {
            point.insert("min".into(), json!(histogram.min() as f64 / 1000.0));
            point.insert("max".into(), json!(histogram.max() as f64 / 1000.0));
        }
        latencies.push(latency);
        sizes.push(histogram_point(
            &attributes,
            &times,
            &RESPONSE_SIZE_BOUNDS,
            f.response_sizes(),
            f.bytes() as f64,
        ));
    }
    let histogram =
        |points: Vec<Value>| json!({"aggregationTemporality": CUMULATIVE, "dataPoints": points});
    json!({"resourceMetrics": [{
        "resource": {"attributes": [attribute("service.name", service_name)]},
        "scopeMetrics": [{
            "scope": {"name": SCOPE},
            "metrics": [
                {
                    "name": "loaddensity.requests",
                    "description": "Locust request count",
                    "unit": "1",
                    "sum": {
                        "aggregationTemporality": CUMULATIVE,
                        "isMonotonic": true,
                        "dataPoints": requests,
                    },
                },
                {
                    "name": "loaddensity.request.latency",
                    "description": "Locust request latency",
                    "unit": "ms",
                    "histogram": histogram(latencies),
                },
                {
                    "name": "loaddensity.response.size",
                    "description": "Locust response size",
                    "unit": "By",
                    "histogram": histogram(sizes),
                },
            ],
        }],
    }]})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::RequestOutcome;

    #[test]
    fn the_request_is_otlp_json() {
        let mut figures = Figures::default();
        for (ms, outcome) in [
            (3, RequestOutcome::ok(200).with_bytes(100)),
            (20_000, RequestOutcome::failed(Some(500), "x")),
        ] {
            figures.record("/a", Duration::from_millis(ms), outcome);
        }
        let request = export_request("svc", &figures, 5, 7);
        let resource = &request["resourceMetrics"][0];
        assert_eq!(
            resource["resource"]["attributes"][0],
            json!({"key": "service.name", "value": {"stringValue": "svc"}})
        );
        let scope = &resource["scopeMetrics"][0];
        assert_eq!(scope["scope"]["name"], "loaddensity");
        let metrics = &scope["metrics"];
        let sum = &metrics[0]["sum"];
        assert_eq!(sum["aggregationTemporality"], 2);
        assert_eq!(sum["isMonotonic"], true);
        assert_eq!(sum["dataPoints"][0]["asInt"], "1");
        assert_eq!(sum["dataPoints"][0]["startTimeUnixNano"], "5");
        assert_eq!(sum["dataPoints"][1]["timeUnixNano"], "7");
        assert_eq!(
            sum["dataPoints"][1]["attributes"][2],
            json!({"key": "outcome", "value": {"stringValue": "failure"}})
        );
        let latency = &metrics[1]["histogram"]["dataPoints"][0];
        assert_eq!(latency["count"], "2");
        assert_eq!(
            latency["bucketCounts"],
            json!(["1", "0", "0", "0", "0", "0", "0", "0", "0", "0", "0", "1"])
        );
        assert_eq!(latency["explicitBounds"][10], 10000);
        assert!(latency["min"].as_f64().is_some_and(|ms| ms < 3.01));
        assert!(latency["max"].as_f64().is_some_and(|ms| ms >= 20_000.0));
        let size = &metrics[2]["histogram"]["dataPoints"][0];
        assert_eq!(metrics[2]["unit"], "By");
        assert_eq!(size["sum"], 100.0);
        assert_eq!(size["bucketCounts"][0], "1");
        assert_eq!(size.get("min"), None);
    }

    #[test]
    fn the_endpoint_gets_v1_metrics_once() {
        let shown = |endpoint: &str| OtlpExporter::url(endpoint).map(|u| u.shown());
        assert_eq!(
            shown(DEFAULT_OTLP_ENDPOINT),
            Ok("http://127.0.0.1:4318/v1/metrics".to_owned())
        );
        assert_eq!(
            shown("https://c/otlp/"),
            Ok("https://c/otlp/v1/metrics".to_owned())
        );
        assert_eq!(
            shown("http://c:1/v1/metrics"),
            Ok("http://c:1/v1/metrics".to_owned())
        );
        assert!(shown("file:///x").is_err_and(|e| e.contains("http://")));
        assert!(shown("nonsense").is_err());
    }
}
