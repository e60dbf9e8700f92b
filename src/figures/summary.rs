//! [`Summary`]: `LD_summary`'s shape, LoadDensity's keys in its order.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

#[cfg(test)]
use super::RequestOutcome;
use super::{Figures, NameFigures};

/// `LD_summary`'s result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Counts over every name.
    pub totals: Totals,
    /// Latency over every name.
    pub latency_overall: Overall,
    /// Figures per request name.
    pub per_name: BTreeMap<String, PerName>,
}

/// Counts over every name.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Totals {
    /// All requests.
    pub requests: u64,
    /// Requests that succeeded.
    pub successes: u64,
    /// Requests that failed.
    pub failures: u64,
    /// `failures / requests`, 0 when nothing ran.
    pub failure_rate: f64,
}

/// Latency over every name, in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Overall {
    /// Requests measured.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

/// One name's figures, latency in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PerName {
    /// All its requests, failed ones included.
    pub count: u64,
    /// Requests that succeeded.
    pub successes: u64,
    /// Requests that failed.
    pub failures: u64,
    /// Fastest.
    pub min_ms: f64,
    /// Slowest.
    pub max_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Bytes its requests moved (for HTTP, the response bodies; for a
    /// message, its payload and reply); not in a summary of given records
    /// (LoadDensity's have none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// The `q` quantile of a latency histogram (µs) in milliseconds, 0 when
/// it is empty.
pub(crate) fn quantile_ms(h: &Histogram<u64>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        ms(h.value_at_quantile(q))
    }
}

/// The largest latency of a histogram (µs) in milliseconds, 0 when it is
/// empty.
pub(crate) fn max_ms(h: &Histogram<u64>) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        ms(h.max())
    }
}

impl Summary {
    pub(super) fn of(figures: &Figures) -> Summary {
        let (mut successes, mut failures) = (0, 0);
        let mut per_name = BTreeMap::new();
        for (name, f) in figures.per_name() {
            successes += f.successes();
            failures += f.failures();
            per_name.insert(name.clone(), PerName::of(f));
        }
        let overall = figures.overall_latency();
        Summary {
            totals: Totals::new(successes, failures),
            latency_overall: overall.as_deref().map_or_else(Overall::zero, Overall::of),
            per_name,
        }
    }
}

impl Totals {
    /// The totals of these counts.
    pub(crate) fn new(successes: u64, failures: u64) -> Totals {
        let requests = successes + failures;
        Totals {
            requests,
            successes,
            failures,
            failure_rate: if requests == 0 {
                0.0
            } else {
                failures as f64 / requests as f64
            },
        }
    }
}

impl Overall {
    fn zero() -> Overall {
        Overall {
            count: 0,
            p50_ms: 0.0,
            p90_ms: 0.0,
            p95_ms: 0.0,
            p99_ms: 0.0,
            max_ms: 0.0,
        }
    }

    /// The overall figures of the merged latency histogram (µs).
    pub(crate) fn of(h: &Histogram<u64>) -> Overall {
        if h.is_empty() {
            return Overall::zero();
        }
        Overall {
            count: h.len(),
            p50_ms: quantile_ms(h, 0.50),
            p90_ms: quantile_ms(h, 0.90),
            p95_ms: quantile_ms(h, 0.95),
            p99_ms: quantile_ms(h, 0.99),
            max_ms: max_ms(h),
        }
    }
}

impl PerName {
    fn of(f: &NameFigures) -> PerName {
        PerName {
            bytes: Some(f.bytes()),
            ..PerName::from_histogram(f.successes(), f.failures(), f.latency_us())
        }
    }

    /// A name's figures from its counts and latency histogram (µs).
    pub(crate) fn from_histogram(successes: u64, failures: u64, h: &Histogram<u64>) -> PerName {
        let empty = h.is_empty();
        PerName {
            count: successes + failures,
            successes,
            failures,
            min_ms: if empty { 0.0 } else { ms(h.min()) },
            max_ms: max_ms(h),
            mean_ms: if empty { 0.0 } else { h.mean() / 1000.0 },
            p50_ms: quantile_ms(h, 0.50),
            p90_ms: quantile_ms(h, 0.90),
            p95_ms: quantile_ms(h, 0.95),
            p99_ms: quantile_ms(h, 0.99),
            bytes: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn empty_summary_is_zeroed() {
        let json = serde_json::to_string(&Figures::default().summary()).expect("serializes");
        assert_eq!(
            json,
            r#"{"totals":{"requests":0,"successes":0,"failures":0,"failure_rate":0.0},"latency_overall":{"count":0,"p50_ms":0.0,"p90_ms":0.0,"p95_ms":0.0,"p99_ms":0.0,"max_ms":0.0},"per_name":{}}"#
        );
    }

    #[test]
    fn counts_and_percentiles() {
        let mut f = Figures::default();
        for ms in 1..=100 {
            let outcome = if ms <= 90 {
                RequestOutcome::ok(200)
            } else {
                RequestOutcome::failed(Some(500), "500")
            };
            f.record("home", Duration::from_millis(ms), outcome);
        }
        f.record(
            "login",
            Duration::from_millis(5),
            RequestOutcome::failed(None, "refused"),
        );
        let s = f.summary();
        assert_eq!(s.totals.requests, 101);
        assert_eq!(s.totals.failures, 11);
        assert_eq!(s.per_name["home"].count, 100);
        assert_eq!(s.per_name["login"].successes, 0);
        assert!((s.per_name["home"].p50_ms - 50.0).abs() < 0.1);
        assert!((s.per_name["home"].max_ms - 100.0).abs() < 0.1);
        assert_eq!(s.latency_overall.count, 101);
    }
}
