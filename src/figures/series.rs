//! The per-second time series: one point per elapsed second of a test
//! (users running, requests, failures, p50/p95/p99, responses by status,
//! and per request name its requests, failures and percentiles), for charts
//! and the live status.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::{latency_us, RequestOutcome, MAX_LATENCY_US};

/// The [`SecondPoint::statuses`] key of failures that had no response (no
/// connection, a timeout, a reset).
pub const NO_RESPONSE: &str = "none";
/// The [`SecondPoint::statuses`] key of successes that have no status code
/// (a message sent or received, a stream's event).
pub const NO_STATUS: &str = "no_status";

/// One second of a test.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondPoint {
    /// Seconds since the test started (the point covers `[second, second + 1)`).
    pub second: u64,
    /// Users running when the second closed (the last point, closed after
    /// the users wound down: those running as the test ended).
    pub users: u64,
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
    /// Those requests by status code (`"200"`, as the summary's status
    /// counts), failures without a response under [`NO_RESPONSE`]
    /// (`"none"`), successes without a status code under [`NO_STATUS`]
    /// (`"no_status"`): the counts add up to `requests`.
    pub statuses: BTreeMap<String, u64>,
    /// Per request name that completed a request in that second.
    pub per_name: BTreeMap<String, NamePoint>,
}

/// One request name's requests of one second.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NamePoint {
    /// Requests of that name that completed in that second.
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

/// How a request's status is counted in a second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum StatusKey {
    Code(u16),
    NoResponse,
    NoStatus,
}

impl StatusKey {
    fn of(outcome: &RequestOutcome<'_>) -> StatusKey {
        match (outcome.status, outcome.failure) {
            (Some(code), _) => StatusKey::Code(code),
            (None, Some(_)) => StatusKey::NoResponse,
            (None, None) => StatusKey::NoStatus,
        }
    }

    fn text(self) -> String {
        match self {
            StatusKey::Code(code) => code.to_string(),
            StatusKey::NoResponse => NO_RESPONSE.to_owned(),
            StatusKey::NoStatus => NO_STATUS.to_owned(),
        }
    }
}

// Constant bounds, as in `new_histogram`.
#[allow(clippy::expect_used)]
fn window_histogram() -> Histogram<u32> {
    Histogram::new_with_bounds(1, MAX_LATENCY_US, 2).expect("constant bounds are valid")
}

/// The latency at quantile `q` of `h`, ms; 0 when it is empty.
fn quantile_ms(h: &Histogram<u32>, q: f64) -> f64 {
    if h.is_empty() {
        0.0
    } else {
        h.value_at_quantile(q) as f64 / 1000.0
    }
}

/// One name's requests of the second in progress.
#[derive(Clone, Debug)]
struct NameWindow {
    latency_us: Histogram<u32>,
    requests: u64,
    failures: u64,
}

impl NameWindow {
    fn new() -> NameWindow {
        NameWindow {
            latency_us: window_histogram(),
            requests: 0,
            failures: 0,
        }
    }

    fn point(&self) -> NamePoint {
        NamePoint {
            requests: self.requests,
            failures: self.failures,
            p50_ms: quantile_ms(&self.latency_us, 0.50),
            p95_ms: quantile_ms(&self.latency_us, 0.95),
            p99_ms: quantile_ms(&self.latency_us, 0.99),
        }
    }
}

/// The requests of the second in progress, per name (2 significant
/// digits: 1% is plenty for a chart, and a name's histogram stays about
/// 13 KB, one per name and worker thread), with counts by status. A name's
/// window, once made, is kept and emptied each second, and the status
/// counts keep their room: recording allocates only for a name or a
/// status not seen before, so memory is names x workers, whatever the load.
#[derive(Clone, Debug, Default)]
pub struct SecondWindow {
    per_name: BTreeMap<String, NameWindow>,
    /// Few distinct statuses in practice: a scan beats a map.
    statuses: Vec<(StatusKey, u64)>,
}

impl SecondWindow {
    /// Adds one request of `name`.
    pub fn record(&mut self, name: &str, latency: Duration, outcome: &RequestOutcome<'_>) {
        let window = match self.per_name.get_mut(name) {
            Some(window) => window,
            None => self
                .per_name
                .entry(name.to_owned())
                .or_insert_with(NameWindow::new),
        };
        window.latency_us.saturating_record(latency_us(latency));
        window.requests += 1;
        window.failures += u64::from(outcome.failure.is_some());
        let key = StatusKey::of(outcome);
        match self.statuses.iter_mut().find(|(k, _)| *k == key) {
            Some((_, n)) => *n += 1,
            None => self.statuses.push((key, 1)),
        }
    }

    /// Adds this window's requests to `total` and empties it (keeping its
    /// names' histograms for the next second).
    pub fn drain_into(&mut self, total: &mut SecondWindow) {
        for (name, ours) in self.per_name.iter_mut().filter(|(_, w)| w.requests > 0) {
            let theirs = match total.per_name.get_mut(name) {
                Some(theirs) => theirs,
                None => total
                    .per_name
                    .entry(name.clone())
                    .or_insert_with(NameWindow::new),
            };
            // Same bounds on both sides: adding cannot fail.
            let _ = theirs.latency_us.add(&ours.latency_us);
            theirs.requests += ours.requests;
            theirs.failures += ours.failures;
            ours.latency_us.reset();
            ours.requests = 0;
            ours.failures = 0;
        }
        for (key, n) in self.statuses.drain(..) {
            match total.statuses.iter_mut().find(|(k, _)| *k == key) {
                Some((_, m)) => *m += n,
                None => total.statuses.push((key, n)),
            }
        }
    }

    /// The point of this window as second `second`, with `users` running.
    pub fn point(&self, second: u64, users: u64) -> SecondPoint {
        let mut overall = window_histogram();
        let (mut requests, mut failures) = (0, 0);
        let mut per_name = BTreeMap::new();
        for (name, window) in self.per_name.iter().filter(|(_, w)| w.requests > 0) {
            let _ = overall.add(&window.latency_us);
            requests += window.requests;
            failures += window.failures;
            per_name.insert(name.clone(), window.point());
        }
        SecondPoint {
            second,
            users,
            requests,
            failures,
            p50_ms: quantile_ms(&overall, 0.50),
            p95_ms: quantile_ms(&overall, 0.95),
            p99_ms: quantile_ms(&overall, 0.99),
            statuses: self
                .statuses
                .iter()
                .map(|(key, n)| (key.text(), *n))
                .collect(),
            per_name,
        }
    }
}

/// One point per second of a test.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
            let outcome = if ms > 98 {
                RequestOutcome::failed(Some(500), "HTTP 500")
            } else {
                RequestOutcome::ok(200)
            };
            a.record("home", Duration::from_millis(ms), &outcome);
        }
        b.record(
            "login",
            Duration::from_millis(1000),
            &RequestOutcome::failed(None, "refused"),
        );
        b.record("ws", Duration::from_millis(2), &RequestOutcome::done());
        let mut total = SecondWindow::default();
        a.drain_into(&mut total);
        b.drain_into(&mut total);
        let point = total.point(3, 7);
        assert_eq!(
            (point.second, point.users, point.requests, point.failures),
            (3, 7, 102, 3)
        );
        assert!((point.p50_ms - 51.0).abs() < 1.0, "{point:?}");
        assert!(point.p99_ms >= 99.0);
        let statuses: Vec<(&str, u64)> = point
            .statuses
            .iter()
            .map(|(k, n)| (k.as_str(), *n))
            .collect();
        assert_eq!(
            statuses,
            [("200", 98), ("500", 2), (NO_STATUS, 1), (NO_RESPONSE, 1)]
        );
        let home = &point.per_name["home"];
        assert_eq!((home.requests, home.failures), (100, 2));
        assert!((home.p95_ms - 95.0).abs() < 1.0, "{home:?}");
        assert_eq!(point.per_name["login"].failures, 1);
        assert!((point.per_name["login"].p50_ms - 1000.0).abs() < 10.0);
        // Drained windows are empty, their names kept for the next second.
        let empty = a.point(4, 0);
        assert_eq!(empty.requests, 0);
        assert!(empty.statuses.is_empty() && empty.per_name.is_empty());
        assert_eq!(a.per_name.len(), 1);
        a.record("home", Duration::from_millis(5), &RequestOutcome::ok(204));
        let again = a.point(4, 1);
        assert_eq!(again.per_name["home"].requests, 1);
        assert_eq!(again.statuses["204"], 1);
    }
}
