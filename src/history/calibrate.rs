//! LoadDensity's SLA calibration (`utils/ai/auto_baseline.py`): SLA rules
//! that the last runs would all have passed, with some headroom, for
//! `LD_assert_sla` to hold later runs to.

use serde_json::{json, Value};

use super::Trend;
use crate::figures::python_round;

/// The rules `calibrate_sla` suggests from `trend`'s runs: `latency_p95`
/// at the highest p95 seen times `1 + tolerance_pct / 100` (2 decimals),
/// `failure_rate` at the highest rate seen times the same (4 decimals, at
/// least 0.01 so a run that never failed does not make a brittle gate),
/// and `requests` `gte` half the median count; none without runs.
pub fn calibrate(trend: &Trend, tolerance_pct: f64) -> Vec<Value> {
    let runs = &trend.per_run;
    if runs.is_empty() {
        return Vec::new();
    }
    let headroom = 1.0 + tolerance_pct / 100.0;
    let max_p95 = runs
        .iter()
        .map(|r| r.figures.p95_ms)
        .fold(f64::NEG_INFINITY, f64::max);
    let max_failure = runs
        .iter()
        .map(|r| r.figures.failure_rate)
        .fold(f64::NEG_INFINITY, f64::max);
    let mut counts: Vec<u64> = runs.iter().map(|r| r.figures.requests).collect();
    counts.sort_unstable();
    let middle = counts.len() / 2;
    // statistics.median: the middle one, or the mean of the two middle ones;
    // then `// 2` (floor).
    let half_median = if counts.len() % 2 == 1 {
        counts[middle] / 2
    } else {
        (counts[middle - 1] + counts[middle]) / 4
    };
    vec![
        json!({"type": "latency_p95", "value": python_round(max_p95 * headroom, 2),
               "note": format!("max observed * {headroom:.2}")}),
        json!({"type": "failure_rate",
               "value": python_round((max_failure * headroom).max(0.01), 4)}),
        json!({"type": "requests", "op": "gte", "value": half_median}),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{RunTrend, TrendFigures};
    use std::collections::BTreeMap;

    fn run(id: i64, requests: u64, failure_rate: f64, p95_ms: f64) -> RunTrend {
        RunTrend {
            run_id: id,
            started_at: String::new(),
            label: None,
            figures: TrendFigures {
                requests,
                failures: 0,
                failure_rate,
                mean_ms: 0.0,
                p50_ms: 0.0,
                p95_ms,
                p99_ms: 0.0,
            },
        }
    }

    #[test]
    fn rules_as_loaddensity_suggests_them() {
        let trend = Trend {
            per_run: vec![
                run(1, 100, 0.0, 12.5),
                run(2, 7, 0.02, 20.125),
                run(3, 40, 0.0, 3.0),
            ],
            per_name: BTreeMap::new(),
        };
        // LoadDensity 0.0.79's calibrate_sla over the same per_run figures.
        assert_eq!(
            calibrate(&trend, 10.0),
            vec![
                json!({"type": "latency_p95", "value": 22.14, "note": "max observed * 1.10"}),
                json!({"type": "failure_rate", "value": 0.022}),
                json!({"type": "requests", "op": "gte", "value": 20}),
            ]
        );
        let even = Trend {
            per_run: vec![run(1, 3, 0.0, 1.0), run(2, 4, 0.0, 1.0)],
            per_name: BTreeMap::new(),
        };
        // median 3.5 // 2 = 1; a rate never above 0 gives 0.01.
        assert_eq!(calibrate(&even, 0.0)[1]["value"], json!(0.01));
        assert_eq!(calibrate(&even, 0.0)[2]["value"], json!(1));
        let none = Trend {
            per_run: Vec::new(),
            per_name: BTreeMap::new(),
        };
        assert!(calibrate(&none, 10.0).is_empty());
    }
}
