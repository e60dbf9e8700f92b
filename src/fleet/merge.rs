//! Adding the agents' figures into the fleet's: latency histograms exactly
//! ([`Figures::merge`]), per-second series aligned on the wall clock.

use std::time::SystemTime;

use crate::figures::{Figures, SecondPoint, TestFigures, TimeSeries};

/// The fleet's figures and series from the agents' documents, the series
/// aligned on the earliest start: an agent that started `d` later has its
/// second `s` counted as the fleet's second `s + round(d)`. Returns them
/// and that earliest start.
pub fn merge(agents: &[&TestFigures]) -> (Figures, TimeSeries, Option<SystemTime>) {
    let mut figures = Figures::default();
    for agent in agents {
        figures.merge(&agent.figures);
    }
    let start = agents.iter().map(|a| a.started_at).min();
    let mut points: Vec<SecondPoint> = Vec::new();
    for agent in agents {
        let offset = start
            .and_then(|start| agent.started_at.duration_since(start).ok())
            .map_or(0, |late| late.as_secs_f64().round() as u64);
        for point in agent.series.points() {
            let second = point.second + offset;
            let at = usize::try_from(second).unwrap_or(usize::MAX);
            // Series are a point per second from 0; a gap (none in
            // practice) is filled with empty seconds.
            if points.len() <= at {
                let from = points.len() as u64;
                points.extend((from..=second).map(|second| SecondPoint {
                    second,
                    ..SecondPoint::default()
                }));
            }
            add_point(&mut points[at], point);
        }
    }
    let mut series = TimeSeries::default();
    for point in points {
        series.push(point);
    }
    (figures, series, start)
}

/// A weighted mean of two quantiles: the fleet's per-second percentiles
/// lie between the agents' (the test's own are exact, from histograms).
fn weighted(a: f64, a_n: u64, b: f64, b_n: u64) -> f64 {
    match a_n + b_n {
        0 => 0.0,
        n => (a * a_n as f64 + b * b_n as f64) / n as f64,
    }
}

/// p50, p95 and p99 of `n` requests and of `m` more, weighed together.
fn weigh(ours: [&mut f64; 3], n: u64, theirs: [f64; 3], m: u64) {
    for (ours, theirs) in ours.into_iter().zip(theirs) {
        *ours = weighted(*ours, n, theirs, m);
    }
}

/// Adds `other`'s second into `into` (the same second of another agent).
fn add_point(into: &mut SecondPoint, other: &SecondPoint) {
    weigh(
        [&mut into.p50_ms, &mut into.p95_ms, &mut into.p99_ms],
        into.requests,
        [other.p50_ms, other.p95_ms, other.p99_ms],
        other.requests,
    );
    into.users += other.users;
    into.requests += other.requests;
    into.failures += other.failures;
    for (status, count) in &other.statuses {
        *into.statuses.entry(status.clone()).or_default() += count;
    }
    for (name, theirs) in &other.per_name {
        let ours = into.per_name.entry(name.clone()).or_default();
        weigh(
            [&mut ours.p50_ms, &mut ours.p95_ms, &mut ours.p99_ms],
            ours.requests,
            [theirs.p50_ms, theirs.p95_ms, theirs.p99_ms],
            theirs.requests,
        );
        ours.requests += theirs.requests;
        ours.failures += theirs.failures;
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::figures::{RequestOutcome, SecondWindow};

    fn agent(started_ms: u64, seconds: u64, users: u64) -> TestFigures {
        let mut figures = Figures::default();
        let mut series = TimeSeries::default();
        for second in 0..seconds {
            let mut window = SecondWindow::default();
            for i in 0..10 {
                let latency = Duration::from_millis(1 + i + second);
                window.record("home", latency, &RequestOutcome::ok(200));
                figures.record("home", latency, RequestOutcome::ok(200));
            }
            series.push(window.point(second, users));
        }
        TestFigures {
            test_id: Some("t".into()),
            running: false,
            started_at: UNIX_EPOCH + Duration::from_millis(started_ms),
            elapsed: Duration::from_secs(seconds),
            users_started: users,
            figures,
            series,
        }
    }

    #[test]
    fn series_add_up_aligned_on_the_wall_clock() {
        let (a, b, c) = (
            agent(10_000, 3, 2),
            agent(10_003, 3, 1),
            agent(12_000, 2, 4),
        );
        let (figures, series, start) = merge(&[&a, &b, &c]);
        assert_eq!(start, Some(UNIX_EPOCH + Duration::from_millis(10_000)));
        assert_eq!(figures.per_name()["home"].count(), 80);
        let points = series.points();
        // c started 2 s late: its seconds 0 and 1 are the fleet's 2 and 3.
        let requests: Vec<u64> = points.iter().map(|p| p.requests).collect();
        assert_eq!(requests, [20, 20, 30, 10]);
        let users: Vec<u64> = points.iter().map(|p| p.users).collect();
        assert_eq!(users, [3, 3, 7, 4]);
        assert_eq!(points[2].statuses["200"], 30);
        assert_eq!(points[2].per_name["home"].requests, 30);
        assert_eq!(
            points.iter().map(|p| p.second).collect::<Vec<_>>(),
            [0, 1, 2, 3]
        );
        let total: u64 = requests.iter().sum();
        assert_eq!(total, figures.per_name()["home"].count());
    }
}
