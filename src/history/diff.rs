//! [`diff`]: LoadDensity's `LD_diff_runs` (`utils/regression/diff.py`) over
//! ld-tower's stored runs: per name, the change of p50/p95/p99, failure
//! rate and mean latency from a baseline run, and the names whose metrics
//! grew beyond a tolerance (a fraction).
//!
//! LoadDensity summarises raw records; ld-tower keeps a histogram per name,
//! so the percentiles are LoadDensity's linear ones taken over the
//! histogram's values ([`super::rank::linear_ms`]) and the mean is the
//! histogram's (as `LD_summary`'s `mean_ms`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Number;

use super::compare::paired;
use super::{rank, summary, NameRecord};

/// One metric of both runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricDelta {
    /// The baseline's value (0 when it lacks the name).
    pub baseline: f64,
    /// The current run's value (0 when it lacks the name).
    pub current: f64,
    /// `current - baseline`.
    pub abs: f64,
    /// `abs / baseline`, 0 when the baseline is 0.
    pub pct: f64,
}

/// A name's deltas, in LoadDensity's order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Deltas {
    /// Median latency, ms.
    pub p50_ms: MetricDelta,
    /// 95th percentile, ms.
    pub p95_ms: MetricDelta,
    /// 99th percentile, ms.
    pub p99_ms: MetricDelta,
    /// Failed / all requests.
    pub failure_rate: MetricDelta,
    /// Mean latency, ms.
    pub mean_ms: MetricDelta,
}

/// A name's entry of `per_name`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NameDiff {
    /// Its deltas.
    pub deltas: Deltas,
}

/// A name with metrics beyond the tolerance.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Regression {
    /// The request name.
    pub name: String,
    /// Its metrics whose `pct` exceeds the tolerance, in [`Deltas`]' order.
    pub metrics: Vec<&'static str>,
}

/// `LD_diff_runs`' result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunDiff {
    /// The baseline run's id.
    pub baseline_run_id: i64,
    /// The current run's id.
    pub current_run_id: i64,
    /// The tolerance, as given.
    pub tolerance: Number,
    /// Per name, the union of both runs' names, in name order.
    pub per_name: BTreeMap<String, NameDiff>,
    /// The names that regressed, in name order.
    pub regressions: Vec<Regression>,
    /// Whether any did.
    pub has_regressions: bool,
}

/// A name's metrics in [`Deltas`]' order (all 0 for a name a run lacks).
fn figures(record: Option<&NameRecord>) -> [f64; 5] {
    let Some(record) = record else {
        return [0.0; 5];
    };
    let h = &record.latency_us;
    [
        rank::linear_ms(h, 50.0),
        rank::linear_ms(h, 95.0),
        rank::linear_ms(h, 99.0),
        record.failures as f64 / record.count().max(1) as f64,
        summary::per_name(record).mean_ms,
    ]
}

fn delta(baseline: f64, current: f64) -> MetricDelta {
    let abs = current - baseline;
    MetricDelta {
        baseline,
        current,
        abs,
        pct: if baseline > 0.0 { abs / baseline } else { 0.0 },
    }
}

/// The current run (`current`, of id `current_run_id`) against the baseline
/// (`baseline`, of id `baseline_run_id`); a metric regressed when its `pct`
/// exceeds `tolerance` (a fraction from 0: 0.1 is 10%).
pub fn diff(
    (baseline_run_id, baseline): (i64, &[NameRecord]),
    (current_run_id, current): (i64, &[NameRecord]),
    tolerance: Number,
) -> RunDiff {
    let limit = tolerance.as_f64().unwrap_or(f64::INFINITY);
    let mut per_name = BTreeMap::new();
    let mut regressions = Vec::new();
    for (name, (b, c)) in paired(baseline, current) {
        let [b, c] = [figures(b), figures(c)];
        let d = |i: usize| delta(b[i], c[i]);
        let deltas = Deltas {
            p50_ms: d(0),
            p95_ms: d(1),
            p99_ms: d(2),
            failure_rate: d(3),
            mean_ms: d(4),
        };
        let metrics: Vec<&'static str> = [
            ("p50_ms", &deltas.p50_ms),
            ("p95_ms", &deltas.p95_ms),
            ("p99_ms", &deltas.p99_ms),
            ("failure_rate", &deltas.failure_rate),
            ("mean_ms", &deltas.mean_ms),
        ]
        .into_iter()
        .filter(|(_, m)| m.pct > limit)
        .map(|(metric, _)| metric)
        .collect();
        if !metrics.is_empty() {
            regressions.push(Regression {
                name: name.to_owned(),
                metrics,
            });
        }
        per_name.insert(name.to_owned(), NameDiff { deltas });
    }
    RunDiff {
        baseline_run_id,
        current_run_id,
        tolerance,
        has_regressions: !regressions.is_empty(),
        per_name,
        regressions,
    }
}
