//! [`RequestMetrics`]: the request figures as LoadDensity's Prometheus
//! exporter names them (`utils/metrics/prometheus_exporter.py`), so the
//! dashboards made for it keep working:
//!
//! - `loaddensity_requests_total{request_type,name,outcome}`, a counter
//!   (`outcome` is `success` or `failure`; both are shown, 0 included);
//! - `loaddensity_request_latency_ms{request_type,name}`, a histogram with
//!   LoadDensity's buckets (5 ms to 10 s): a request counts in a bucket when
//!   its latency, as the HDR histogram keeps it (3 significant digits), is
//!   at most the bound; `_count` is exact, `_sum` the histogram's mean
//!   times the count;
//! - `loaddensity_response_bytes{request_type,name}`, a histogram with
//!   LoadDensity's buckets (64 B to 1 MiB), exact; `_sum` is the bytes
//!   counted.

use std::borrow::Cow;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::MetricType;

use crate::figures::{Figures, NameFigures, RESPONSE_SIZE_BOUNDS};

/// The latency buckets' upper bounds, in milliseconds (LoadDensity's).
pub const LATENCY_BOUNDS_MS: [u64; 11] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

/// The request figures, rendered at scrape time.
#[derive(Debug)]
pub struct RequestMetrics {
    figures: Figures,
}

impl RequestMetrics {
    /// The metrics of `figures`.
    pub fn new(figures: Figures) -> Self {
        RequestMetrics { figures }
    }
}

/// A label value as the Prometheus text formats require it (prometheus-client
/// writes label values as given): `\`, `"` and line feeds escaped.
pub fn escape_label_value(value: &str) -> Cow<'_, str> {
    if !value.contains(['\\', '"', '\n']) {
        return Cow::Borrowed(value);
    }
    let mut escaped = String::with_capacity(value.len() + 8);
    for c in value.chars() {
        match c {
            '\\' => escaped.push_str("\\\\"),
            '"' => escaped.push_str("\\\""),
            '\n' => escaped.push_str("\\n"),
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

/// Non-cumulative latency bucket counts, one per bound of
/// [`LATENCY_BOUNDS_MS`] then past 10 s: a request counts in the first
/// bucket whose bound its latency (as the HDR histogram keeps it) is at
/// most.
pub(super) fn latency_counts(figures: &NameFigures) -> [u64; LATENCY_BOUNDS_MS.len() + 1] {
    let mut counts = [0u64; LATENCY_BOUNDS_MS.len() + 1];
    let histogram = figures.latency_us();
    for value in histogram.iter_recorded() {
        let us = value.value_iterated_to();
        let bucket = LATENCY_BOUNDS_MS.partition_point(|ms| ms * 1000 < us);
        counts[bucket] += value.count_at_value();
    }
    counts
}

/// The latencies added up, in milliseconds: the HDR histogram's mean
/// times the count.
pub(super) fn latency_sum_ms(figures: &NameFigures) -> f64 {
    let histogram = figures.latency_us();
    histogram.mean() * histogram.len() as f64 / 1000.0
}

/// Non-cumulative latency bucket counts (the encoder adds them up), the
/// last one past 10 s (`+Inf`).
fn latency_buckets(figures: &NameFigures) -> Vec<(f64, u64)> {
    with_bounds(&LATENCY_BOUNDS_MS, &latency_counts(figures))
}

fn with_bounds(bounds: &[u64], counts: &[u64]) -> Vec<(f64, u64)> {
    bounds
        .iter()
        .map(|bound| *bound as f64)
        .chain(std::iter::once(f64::MAX))
        .zip(counts.iter().copied())
        .collect()
}

/// The labels of one name: its request type, its (escaped) name, its figures.
type Labelled<'a> = (Cow<'a, str>, Cow<'a, str>, &'a NameFigures);

/// One histogram family `name`, one histogram per request name labelled
/// `request_type` and `name`, whose sum, count and non-cumulative buckets
/// `of` gives.
fn histograms(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    names: &[Labelled<'_>],
    of: impl Fn(&NameFigures) -> (f64, u64, Vec<(f64, u64)>),
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
    for (request_type, label, f) in names {
        let labels = [
            ("request_type", request_type.as_ref()),
            ("name", label.as_ref()),
        ];
        let (sum, count, buckets) = of(f);
        metric
            .encode_family(&labels)?
            .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)?;
    }
    Ok(())
}

impl Collector for RequestMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let names: Vec<Labelled<'_>> = self
            .figures
            .per_name()
            .iter()
            .map(|(name, f)| {
                (
                    escape_label_value(f.request_type()),
                    escape_label_value(name),
                    f,
                )
            })
            .collect();
        {
            let mut metric = encoder.encode_descriptor(
                "loaddensity_requests",
                "Total Locust requests",
                None,
                MetricType::Counter,
            )?;
            for (request_type, name, f) in &names {
                for (outcome, n) in [("success", f.successes()), ("failure", f.failures())] {
                    let labels = [
                        ("request_type", request_type.as_ref()),
                        ("name", name.as_ref()),
                        ("outcome", outcome),
                    ];
                    ConstCounter::new(n).encode(metric.encode_family(&labels)?)?;
                }
            }
        }
        histograms(
            &mut encoder,
            "loaddensity_request_latency_ms",
            "Locust request latency in milliseconds",
            &names,
            |f| (latency_sum_ms(f), f.latency_us().len(), latency_buckets(f)),
        )?;
        histograms(
            &mut encoder,
            "loaddensity_response_bytes",
            "Locust response size in bytes",
            &names,
            |f| {
                let buckets = with_bounds(&RESPONSE_SIZE_BOUNDS, f.response_sizes());
                (f.bytes() as f64, f.count(), buckets)
            },
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::RequestOutcome;
    use std::time::Duration;

    #[test]
    fn names_are_escaped_and_buckets_cumulative() {
        let mut figures = Figures::default();
        for (ms, bytes) in [(3, 10), (7, 100), (20_000, 5000)] {
            let outcome = RequestOutcome::ok(200).with_bytes(bytes);
            figures.record(
                "/a\"b\\c\nd",
                Duration::from_millis(ms),
                RequestOutcome {
                    request_type: "GET",
                    ..outcome
                },
            );
        }
        let text = super::super::prometheus::render(figures, None);
        let name = r#"name="/a\"b\\c\nd""#;
        for line in [
            format!(
                r#"loaddensity_requests_total{{request_type="GET",{name},outcome="success"}} 3"#
            ),
            format!(
                r#"loaddensity_requests_total{{request_type="GET",{name},outcome="failure"}} 0"#
            ),
            format!(
                r#"loaddensity_request_latency_ms_bucket{{le="5.0",request_type="GET",{name}}} 1"#
            ),
            format!(
                r#"loaddensity_request_latency_ms_bucket{{le="10.0",request_type="GET",{name}}} 2"#
            ),
            format!(
                r#"loaddensity_request_latency_ms_bucket{{le="10000.0",request_type="GET",{name}}} 2"#
            ),
            format!(
                r#"loaddensity_request_latency_ms_bucket{{le="+Inf",request_type="GET",{name}}} 3"#
            ),
            format!(r#"loaddensity_request_latency_ms_count{{request_type="GET",{name}}} 3"#),
            format!(
                r#"loaddensity_response_bytes_bucket{{le="64.0",request_type="GET",{name}}} 1"#
            ),
            format!(
                r#"loaddensity_response_bytes_bucket{{le="256.0",request_type="GET",{name}}} 2"#
            ),
            format!(
                r#"loaddensity_response_bytes_bucket{{le="4096.0",request_type="GET",{name}}} 2"#
            ),
            format!(
                r#"loaddensity_response_bytes_bucket{{le="16384.0",request_type="GET",{name}}} 3"#
            ),
            format!(r#"loaddensity_response_bytes_sum{{request_type="GET",{name}}} 5110.0"#),
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
