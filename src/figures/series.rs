//! The per-second time series: one point per elapsed second of a test
//! (requests, failures, p50/p95/p99 of that second), for charts and the
//! live status.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::{latency_us, MAX_LATENCY_US};

/// One second of a test.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SecondPoint {
    /// Seconds since the test started (the point covers `[second, second + 1)`).
    pub second: u64,
    /// Requests that completed in that second.
    pub requests: u64,
    /// Of those, the failed ones.
    pub failures: u64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
}

/// The requests of the second in progress (2 significant digits: 1% is
/// plenty for a chart, and the histogram stays small enough to keep one per
/// virtual user).
#[derive(Clone, Debug)]
pub struct SecondWindow {
    latency_us: Histogram<u32>,
    requests: u64,
    failures: u64,
}

// Constant bounds, as in `new_histogram`.
#[allow(clippy::expect_used)]
fn window_histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 2).expect("constant bounds are valid")
}

impl Default for SecondWindow {
    fn default() -> Self {
        SecondWindow {
            latency_us: window_histogram(),
            requests: 0,
            failures: 0,
        }
    }
}

impl SecondWindow {
    /// Adds one request.
    pub fn record(&mut self, latency: Duration, failed: bool) {
        self.latency_us.saturating_record(latency_us(latency));
        self.requests += 1;
        self.failures += u64::from(failed);
    }

    /// Adds `other`'s requests and empties it.
    pub fn drain_into(&mut self, total: &mut SecondWindow) {
        let _ = total.latency_us.add(&self.latency_us);
        total.requests += self.requests;
        total.failures += self.failures;
        self.latency_us.reset();
        self.requests = 0;
        self.failures = 0;
    }

    /// The point of this window as second `second`.
    pub fn point(&self, second: u64) -> SecondPoint {
        let q = |q: f64| {
            if self.latency_us.is_empty() {
                0.0
            } else {
                self.latency_us.value_at_quantile(q) as f64 / 1000.0
            }
        };
        SecondPoint {
            second,
            requests: self.requests,
            failures: self.failures,
            p50_ms: q(0.50),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
        }
    }
}

/// One point per second of a test.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(transparent)]
pub struct TimeSeries {
    points: Vec<SecondPoint>,
}

impl TimeSeries {
    /// Appends a point.
    pub fn push(&mut self, point: SecondPoint) {
        self.points.push(point);
    }

    /// The points, in order.
    pub fn points(&self) -> &[SecondPoint] {
        &self.points
    }

    /// The last point.
    pub fn last(&self) -> Option<&SecondPoint> {
        self.points.last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_drain_into_points() {
        let mut a = SecondWindow::default();
        let mut b = SecondWindow::default();
        for ms in 1..=100 {
            a.record(Duration::from_millis(ms), ms > 98);
        }
        b.record(Duration::from_millis(1000), true);
        let mut total = SecondWindow::default();
        a.drain_into(&mut total);
        b.drain_into(&mut total);
        let point = total.point(3);
        assert_eq!((point.second, point.requests, point.failures), (3, 101, 3));
        assert!((point.p50_ms - 51.0).abs() < 1.0, "{point:?}");
        assert!(point.p99_ms >= 99.0);
        assert_eq!(a.point(0).requests, 0);
    }
}
