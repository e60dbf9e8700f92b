//! [`Snapshot`]: what the dashboard shows at one moment, as `/snapshot`
//! and each `/events` message carry it. LoadDensity's keys first (`totals`,
//! `latency_overall`, `per_name` — `LD_summary`'s own [`Summary`] — then
//! `rps`, `avg_ms`, `ts`), then ld-tower's: the failures per second, the
//! test's status (`LD_test_status`'s object), its seconds, the status codes
//! per name and the latest failure reasons.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::engine::Status;
use crate::figures::{Figures, SecondPoint, Summary, TimeSeries};
use crate::state::State;

/// The most seconds of a test a snapshot carries (the last ones): five
/// minutes of chart.
pub const MAX_SERIES_POINTS: usize = 300;

/// The most failure reasons a snapshot carries (the latest seen).
pub const MAX_FAILURE_REASONS: usize = 20;

/// The most characters of a failure reason a snapshot carries.
pub const MAX_REASON_CHARS: usize = 300;

/// A second as the charts draw it: a [`SecondPoint`] without its per-name
/// points, so a snapshot stays small.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ChartPoint {
    /// Seconds since the test started.
    pub second: u64,
    /// Users running when the second closed.
    pub users: u64,
    /// Requests completed in that second.
    pub requests: u64,
    /// Of those, the failed ones.
    pub failures: u64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 95th percentile, ms.
    pub p95_ms: f64,
    /// 99th percentile, ms.
    pub p99_ms: f64,
    /// Responses by status code.
    pub statuses: BTreeMap<String, u64>,
}

impl From<&SecondPoint> for ChartPoint {
    fn from(point: &SecondPoint) -> Self {
        ChartPoint {
            second: point.second,
            users: point.users,
            requests: point.requests,
            failures: point.failures,
            p50_ms: point.p50_ms,
            p95_ms: point.p95_ms,
            p99_ms: point.p99_ms,
            statuses: point.statuses.clone(),
        }
    }
}

/// The dashboard's figures at one moment: the running test's, or, when
/// none runs, what `LD_summary` shows and the last test's seconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Snapshot {
    /// `totals`, `latency_overall`, `per_name`: `LD_summary`'s shape.
    #[serde(flatten)]
    pub summary: Summary,
    /// Requests per second over the last `window_seconds` of the running
    /// test (0 when none runs).
    pub rps: f64,
    /// Mean latency of the requests shown, ms.
    pub avg_ms: f64,
    /// When the snapshot was made, seconds since the Unix epoch.
    pub ts: f64,
    /// Failed requests per second over the same window as `rps`.
    pub fps: f64,
    /// Whether a test is running (the figures are then that test's).
    pub running: bool,
    /// `LD_test_status`'s object: the running test's, or the last test's
    /// final one; `null` before any test.
    pub status: Option<Status>,
    /// The test's closed seconds (at most [`MAX_SERIES_POINTS`], the last).
    pub series: Vec<ChartPoint>,
    /// Responses per status code, per request name.
    pub statuses: BTreeMap<String, BTreeMap<u16, u64>>,
    /// The latest failure reasons, the one seen last first (at most
    /// [`MAX_FAILURE_REASONS`]).
    pub failure_reasons: Vec<FailureReason>,
    /// The window `rps` and `fps` are measured over, seconds.
    pub window_seconds: f64,
    /// How often the dashboard refreshes, seconds.
    pub refresh_seconds: f64,
}

/// Why requests of one name failed, and how often.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailureReason {
    /// The request name.
    pub name: String,
    /// The failure message (at most [`MAX_REASON_CHARS`] characters).
    pub reason: String,
    /// Failures with that message.
    pub count: u64,
    /// When a failure last had it, in milliseconds since the Unix epoch
    /// (`null` when not known).
    pub last_seen_ms: Option<u64>,
}

/// What a snapshot takes from a set of figures.
struct FromFigures {
    summary: Summary,
    statuses: BTreeMap<String, BTreeMap<u16, u64>>,
    failure_reasons: Vec<FailureReason>,
}

impl FromFigures {
    fn of(figures: &Figures) -> FromFigures {
        let statuses = figures
            .per_name()
            .iter()
            .filter(|(_, f)| !f.statuses().is_empty())
            .map(|(name, f)| (name.clone(), f.statuses().clone()))
            .collect();
        let mut failure_reasons: Vec<FailureReason> = figures
            .per_name()
            .iter()
            .flat_map(|(name, f)| {
                f.failure_sample()
                    .messages()
                    .iter()
                    .map(move |(reason, count)| FailureReason {
                        name: name.clone(),
                        reason: reason.chars().take(MAX_REASON_CHARS).collect(),
                        count: *count,
                        last_seen_ms: f.failure_sample().last_seen_ms(reason),
                    })
            })
            .collect();
        // The latest first; among those seen in the same millisecond (or
        // never timed), the most frequent.
        failure_reasons.sort_by(|a, b| {
            b.last_seen_ms
                .cmp(&a.last_seen_ms)
                .then_with(|| b.count.cmp(&a.count))
                .then_with(|| a.name.cmp(&b.name))
                .then_with(|| a.reason.cmp(&b.reason))
        });
        failure_reasons.truncate(MAX_FAILURE_REASONS);
        FromFigures {
            summary: figures.summary(),
            statuses,
            failure_reasons,
        }
    }
}

impl Snapshot {
    /// The snapshot of `state` now, rates measured over `window_seconds`.
    pub fn of(state: &State, window_seconds: f64, refresh_seconds: f64) -> Snapshot {
        let engine = state.engine();
        // The live test first: once it ends its figures are the state's.
        let (running, figures, series) = match engine.live_figures() {
            Some((_, live)) => (
                true,
                FromFigures::of(&live),
                engine.live_series().unwrap_or_default(),
            ),
            None => (false, state.figures(|f| FromFigures::of(f)), state.series()),
        };
        let status = engine.status();
        let (rps, fps) = if running {
            rates(&series, window_seconds)
        } else {
            (0.0, 0.0)
        };
        let ts = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Snapshot {
            avg_ms: mean_ms(&figures.summary),
            summary: figures.summary,
            rps,
            ts,
            fps,
            running,
            status,
            series: last_points(series.points()),
            statuses: figures.statuses,
            failure_reasons: figures.failure_reasons,
            window_seconds,
            refresh_seconds,
        }
    }
}

/// Requests and failures per second over the last `window` seconds closed
/// (fewer at the start of a test).
fn rates(series: &TimeSeries, window: f64) -> (f64, f64) {
    let seconds = (window.ceil() as usize).max(1);
    let points = series.points();
    let recent = &points[points.len().saturating_sub(seconds)..];
    if recent.is_empty() {
        return (0.0, 0.0);
    }
    let n = recent.len() as f64;
    let requests: u64 = recent.iter().map(|p| p.requests).sum();
    let failures: u64 = recent.iter().map(|p| p.failures).sum();
    (requests as f64 / n, failures as f64 / n)
}

/// The mean latency over every name, ms (0 when nothing ran).
fn mean_ms(summary: &Summary) -> f64 {
    let count: u64 = summary.per_name.values().map(|p| p.count).sum();
    if count == 0 {
        return 0.0;
    }
    let total: f64 = summary
        .per_name
        .values()
        .map(|p| p.mean_ms * p.count as f64)
        .sum();
    total / count as f64
}

/// The last [`MAX_SERIES_POINTS`] seconds, each with the keys the charts
/// draw.
fn last_points(points: &[SecondPoint]) -> Vec<ChartPoint> {
    points[points.len().saturating_sub(MAX_SERIES_POINTS)..]
        .iter()
        .map(ChartPoint::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::RequestOutcome;
    use std::time::Duration;

    fn point(second: u64, requests: u64, failures: u64) -> SecondPoint {
        SecondPoint {
            second,
            requests,
            failures,
            p50_ms: 1.0,
            p95_ms: 2.0,
            p99_ms: 3.0,
            ..SecondPoint::default()
        }
    }

    #[test]
    fn rates_are_over_the_last_closed_seconds() {
        let mut series = TimeSeries::default();
        assert_eq!(rates(&series, 10.0), (0.0, 0.0));
        for (second, requests) in [(0, 100), (1, 10), (2, 20)] {
            series.push(point(second, requests, requests / 10));
        }
        assert_eq!(rates(&series, 2.0), (15.0, 1.5));
        assert_eq!(rates(&series, 10.0), (130.0 / 3.0, 13.0 / 3.0));
        assert_eq!(rates(&series, 0.5), (20.0, 2.0));
    }

    #[test]
    fn the_latest_failure_reason_comes_first() {
        let state = State::default();
        let fail = |name: &str, reason: &str| {
            state.figures(|f| {
                f.record(
                    name,
                    Duration::from_millis(3),
                    RequestOutcome::failed(None, reason),
                )
            })
        };
        let ms = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis())
        };
        // Many old failures, then (once the clock moved on) one new one.
        for _ in 0..5 {
            fail("old", "refused");
        }
        let then = ms();
        let until = std::time::Instant::now() + Duration::from_secs(5);
        while ms() == then {
            assert!(std::time::Instant::now() < until, "the clock stood still");
            std::thread::yield_now();
        }
        fail("new", "reset");
        let snapshot = Snapshot::of(&state, 10.0, 1.0);
        let order: Vec<(&str, u64)> = snapshot
            .failure_reasons
            .iter()
            .map(|r| (r.name.as_str(), r.count))
            .collect();
        assert_eq!(order, [("new", 1), ("old", 5)]);
        let [new, old] = [0, 1].map(|i| snapshot.failure_reasons[i].last_seen_ms);
        assert!(new > old && old.is_some(), "{new:?} {old:?}");
    }

    #[test]
    fn idle_state_shows_the_kept_figures_and_bounds_reasons() {
        let state = State::default();
        state.figures(|f| {
            f.record("home", Duration::from_millis(4), RequestOutcome::ok(200));
            for n in 0..30 {
                let reason = format!("{n}{}", "x".repeat(MAX_REASON_CHARS * 2));
                f.record(
                    &format!("name{n}"),
                    Duration::from_millis(8),
                    RequestOutcome::failed(Some(500), &reason),
                );
            }
        });
        let snapshot = Snapshot::of(&state, 10.0, 1.0);
        assert!(!snapshot.running);
        assert_eq!(snapshot.status, None);
        assert_eq!(snapshot.summary, state.figures(|f| f.summary()));
        assert_eq!(snapshot.rps, 0.0);
        assert_eq!(snapshot.failure_reasons.len(), MAX_FAILURE_REASONS);
        assert!(snapshot
            .failure_reasons
            .iter()
            .all(|r| r.reason.chars().count() <= MAX_REASON_CHARS));
        assert_eq!(snapshot.statuses["home"][&200], 1);
        assert!((snapshot.avg_ms - (4.0 + 30.0 * 8.0) / 31.0).abs() < 0.1);
        let json = serde_json::to_value(&snapshot).unwrap_or_default();
        let keys: Vec<&str> = json
            .as_object()
            .map(|m| m.keys().map(String::as_str).take(6).collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            [
                "totals",
                "latency_overall",
                "per_name",
                "rps",
                "avg_ms",
                "ts"
            ]
        );
    }

    #[test]
    fn series_is_bounded_and_keeps_the_chart_keys() {
        let points: Vec<SecondPoint> = (0..MAX_SERIES_POINTS as u64 + 5)
            .map(|s| point(s, 1, 0))
            .collect();
        let kept = last_points(&points);
        assert_eq!(kept.len(), MAX_SERIES_POINTS);
        assert_eq!(kept[0].second, 5);
        let keys = [
            "second", "users", "requests", "failures", "p50_ms", "p95_ms", "p99_ms", "statuses",
        ];
        let json = serde_json::to_value(&kept[0]).unwrap_or_default();
        assert!(json
            .as_object()
            .is_some_and(|m| m.keys().all(|k| keys.contains(&k.as_str()))));
    }
}
