//! [`Report`]: what every report format shows, gathered from the figures
//! (never from per-request records): the summary, per-name figures with
//! rates, statuses and failure reasons, the per-second series, the latency
//! distribution, and the last run's parameters and threshold verdicts.

use std::collections::BTreeMap;

use chrono::{SecondsFormat, Utc};
use hdrhistogram::Histogram;
use serde::Serialize;
use serde_json::Value;

use crate::breaking::Outcome;
use crate::engine::task::outline::{self as tasks, TaskRow};
use crate::figures::{new_histogram, Figures, NameFigures, SecondPoint, Summary};
use crate::state::State;
use crate::thresholds::Verdict;

/// The percentiles the latency distribution is sampled at.
pub const DISTRIBUTION_PERCENTILES: &[f64] = &[
    0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 75.0, 80.0, 85.0, 90.0, 92.5, 95.0, 96.0, 97.0,
    97.5, 98.0, 98.5, 99.0, 99.25, 99.5, 99.75, 99.9, 99.95, 99.99,
];

/// Everything a report shows.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The report's title: what the test was (its task or number of tasks,
    /// the host it ran against, see [`tasks::test_label`]), then the title
    /// the report was asked with.
    pub title: String,
    /// When the report was made, RFC 3339 in UTC.
    pub generated_at: String,
    /// `LD_summary`'s figures.
    pub summary: Summary,
    /// How long the last test ran, in seconds (absent when none ran).
    pub elapsed_s: Option<f64>,
    /// Requests per second over the last test (0 when none ran).
    pub rps: f64,
    /// Per request name, sorted by name.
    pub per_name: Vec<NameReport>,
    /// The last test's per-second points.
    pub series: Vec<SecondPoint>,
    /// Latency by percentile over every name (empty when nothing ran).
    pub distribution: Vec<PercentilePoint>,
    /// The last test's parameters (`null` when none ran).
    pub parameters: Value,
    /// The last test's threshold verdicts.
    pub thresholds: Vec<Verdict>,
    /// When the last test was a breaking-point search, what it found (its
    /// probes); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breaking_point: Option<Outcome>,
}

/// One request name's figures, latency in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NameReport {
    /// The request name.
    pub name: String,
    /// All its requests.
    pub count: u64,
    /// Requests that succeeded.
    pub successes: u64,
    /// Requests that failed.
    pub failures: u64,
    /// `count / elapsed_s` of the last test, 0 when none ran.
    pub rps: f64,
    /// Fastest.
    pub min_ms: f64,
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
    /// Slowest.
    pub max_ms: f64,
    /// Responses by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Why requests failed: the kept messages, most frequent first.
    pub failure_reasons: Vec<FailureReason>,
    /// Failures whose message was not kept (beyond the sample).
    pub other_failures: u64,
}

/// A failure message and how many failures had it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailureReason {
    /// The message.
    pub message: String,
    /// Failures with it.
    pub count: u64,
}

/// One point of the latency distribution.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PercentilePoint {
    /// The percentile, 0 to 100.
    pub percentile: f64,
    /// The latency at it, ms.
    pub latency_ms: f64,
}

impl Report {
    /// The report of `state`'s figures, series and last run.
    pub fn from_state(state: &State, title: &str) -> Report {
        let last = state.last_run();
        let elapsed_s = last.as_ref().map(|last| last.elapsed_s);
        let (summary, per_name, distribution) = state.figures(|figures| {
            (
                figures.summary(),
                per_name(figures, elapsed_s),
                distribution(figures),
            )
        });
        let rps = rate(summary.totals.requests, elapsed_s);
        let (mut parameters, thresholds) = match last {
            Some(last) => (last.parameters, last.verdicts),
            None => (Value::Null, Vec::new()),
        };
        // A breaking-point search's outcome has a place of its own.
        let breaking_point = match &mut parameters {
            Value::Object(map) => map
                .remove("breaking_point")
                .and_then(|found| Outcome::from_json(&found)),
            _ => None,
        };
        let title = match tasks::test_label(&parameters) {
            Some(test) => format!("{test} \u{2014} {title}"),
            None => title.to_owned(),
        };
        Report {
            title,
            generated_at: Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
            summary,
            elapsed_s,
            rps,
            per_name,
            series: state.series().points().to_vec(),
            distribution,
            parameters,
            thresholds,
            breaking_point,
        }
    }

    /// Whether nothing was recorded yet.
    pub fn is_empty(&self) -> bool {
        self.summary.totals.requests == 0
    }

    /// Whether every threshold held (true when there are none).
    pub fn thresholds_passed(&self) -> bool {
        self.thresholds.iter().all(|v| v.passed)
    }

    /// The last test's tasks (`parameters.tasks`), and how many more it
    /// had than are listed.
    pub fn tasks(&self) -> (Vec<TaskRow>, u64) {
        tasks::rows(self.parameters.get("tasks").unwrap_or(&Value::Null))
    }

    /// The status codes seen in the series, in order (`"200"`, ...,
    /// then `"no_status"` and `"none"`, as the points' keys sort).
    pub fn series_statuses(&self) -> Vec<&str> {
        sorted_once(self.series.iter().flat_map(|p| p.statuses.keys()))
    }

    /// The request names seen in the series, in order.
    pub fn series_names(&self) -> Vec<&str> {
        sorted_once(self.series.iter().flat_map(|p| p.per_name.keys()))
    }

    /// The parameters as `(dotted key, text)` rows: objects flattened,
    /// strings as they are, anything else as compact JSON.
    pub fn parameter_rows(&self) -> Vec<(String, String)> {
        let mut rows = Vec::new();
        flatten("", &self.parameters, &mut rows);
        rows
    }
}

/// `keys` sorted, each once.
fn sorted_once<'a>(keys: impl Iterator<Item = &'a String>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = keys.map(String::as_str).collect();
    seen.sort_unstable();
    seen.dedup();
    seen
}

/// `n / elapsed_s`, 0 without a positive elapsed time.
fn rate(n: u64, elapsed_s: Option<f64>) -> f64 {
    match elapsed_s {
        Some(s) if s.is_finite() && s > 0.0 => n as f64 / s,
        _ => 0.0,
    }
}

fn flatten(prefix: &str, value: &Value, rows: &mut Vec<(String, String)>) {
    match value {
        Value::Null if prefix.is_empty() => {}
        Value::Object(map) if !map.is_empty() => {
            for (key, value) in map {
                let key = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&key, value, rows);
            }
        }
        Value::String(text) => rows.push((prefix.to_owned(), text.clone())),
        other => rows.push((prefix.to_owned(), other.to_string())),
    }
}

fn per_name(figures: &Figures, elapsed_s: Option<f64>) -> Vec<NameReport> {
    let summary = figures.summary();
    figures
        .per_name()
        .iter()
        .filter_map(|(name, f)| {
            let s = summary.per_name.get(name)?;
            Some(NameReport {
                name: name.clone(),
                count: s.count,
                successes: s.successes,
                failures: s.failures,
                rps: rate(s.count, elapsed_s),
                min_ms: s.min_ms,
                mean_ms: s.mean_ms,
                p50_ms: s.p50_ms,
                p90_ms: s.p90_ms,
                p95_ms: s.p95_ms,
                p99_ms: s.p99_ms,
                max_ms: s.max_ms,
                statuses: f.statuses().clone(),
                failure_reasons: reasons(f),
                other_failures: f.failure_sample().others(),
            })
        })
        .collect()
}

fn reasons(f: &NameFigures) -> Vec<FailureReason> {
    let mut reasons: Vec<FailureReason> = f
        .failure_sample()
        .messages()
        .iter()
        .map(|(message, count)| FailureReason {
            message: message.clone(),
            count: *count,
        })
        .collect();
    // Most frequent first; ties by message (the map's order, kept by a stable sort).
    reasons.sort_by_key(|r| std::cmp::Reverse(r.count));
    reasons
}

fn distribution(figures: &Figures) -> Vec<PercentilePoint> {
    let mut merged: Histogram<u64> = new_histogram();
    for f in figures.per_name().values() {
        // Same bounds on both sides: adding cannot fail.
        let _ = merged.add(f.latency_us());
    }
    if merged.is_empty() {
        return Vec::new();
    }
    DISTRIBUTION_PERCENTILES
        .iter()
        .map(|&percentile| PercentilePoint {
            percentile,
            latency_ms: merged.value_at_quantile(percentile / 100.0) as f64 / 1000.0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::RequestOutcome;
    use crate::paths::Paths;
    use crate::state::LastRun;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn empty_state_is_zeroed() {
        let report = Report::from_state(&State::new(Paths::default()), "t");
        assert!(report.is_empty());
        assert_eq!(report.rps, 0.0);
        assert!(report.per_name.is_empty() && report.distribution.is_empty());
        assert_eq!(report.parameters, Value::Null);
        assert!(report.parameter_rows().is_empty());
    }

    #[test]
    fn figures_rates_and_reasons() {
        let state = State::new(Paths::default());
        state.figures(|f| {
            for ms in 1..=10 {
                f.record("home", Duration::from_millis(ms), RequestOutcome::ok(200));
            }
            for message in ["b", "a", "a"] {
                f.record(
                    "home",
                    Duration::from_millis(5),
                    RequestOutcome::failed(Some(500), message),
                );
            }
        });
        state.set_last_run(LastRun {
            parameters: json!({"user_count": 2, "user_detail": {"user": "fast_http_user"}}),
            elapsed_s: 2.0,
            verdicts: Vec::new(),
        });
        let report = Report::from_state(&state, "t");
        let home = &report.per_name[0];
        assert_eq!((home.count, home.failures), (13, 3));
        assert!((home.rps - 6.5).abs() < 1e-9);
        assert_eq!(home.failure_reasons[0].message, "a");
        assert_eq!(home.statuses.get(&500), Some(&3));
        assert_eq!(report.distribution.len(), DISTRIBUTION_PERCENTILES.len());
        assert!(report
            .distribution
            .windows(2)
            .all(|w| w[0].latency_ms <= w[1].latency_ms));
        assert_eq!(
            report.parameter_rows(),
            vec![
                ("user_count".to_owned(), "2".to_owned()),
                ("user_detail.user".to_owned(), "fast_http_user".to_owned())
            ]
        );
    }
}
