//! [`compare`]: two stored runs side by side, per name and overall:
//! throughput, failure rate and latency percentiles from the stored
//! histograms (exact, the overall ones from the names' merged histograms),
//! with their deltas and a verdict per metric, so "did this build get
//! slower?" has an answer.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::summary::merged;
use super::{HistoryError, NameRecord, StoredRun};
use crate::figures::{max_ms, quantile_ms};

/// The relative change under which a metric is `"same"`, in percent.
pub const DEFAULT_TOLERANCE_PCT: f64 = 5.0;

/// Which way is better for a metric.
#[derive(Clone, Copy)]
enum Better {
    /// Latency: a larger value is `"slower"`.
    Lower,
    /// Throughput: a smaller value is `"slower"`.
    Higher,
    /// Failure rate: a larger value is `"worse"`.
    LowerRate,
}

/// One metric of both runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Delta {
    /// The baseline's value (`null` when it has none, e.g. a throughput
    /// with no elapsed time, or a name it lacks).
    pub baseline: Option<f64>,
    /// The run's value.
    pub run: Option<f64>,
    /// `run - baseline`.
    pub delta: Option<f64>,
    /// `(run - baseline) / baseline * 100` (`null` when the baseline is 0).
    pub delta_pct: Option<f64>,
    /// `"slower"`, `"faster"` or `"same"` (failure rate: `"worse"`,
    /// `"better"` or `"same"`), `"same"` within the tolerance; `"unknown"`
    /// when a side has no value.
    pub verdict: &'static str,
}

/// A run as the comparison names it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunRef {
    /// Its id.
    pub id: i64,
    /// When it was persisted.
    pub created_at: String,
    /// Its label.
    pub label: Option<String>,
    /// How long it ran, in seconds.
    pub elapsed_s: f64,
    /// Its requests.
    pub requests: u64,
}

/// The compared metrics of one scope (overall or a name), in this order.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metrics {
    /// Requests per second: count / elapsed_s (`"slower"` when lower).
    pub throughput_rps: Delta,
    /// Failed / all requests (`"worse"` when higher).
    pub failure_rate: Delta,
    /// Median latency, ms.
    pub p50_ms: Delta,
    /// 90th percentile, ms.
    pub p90_ms: Delta,
    /// 95th percentile, ms.
    pub p95_ms: Delta,
    /// 99th percentile, ms.
    pub p99_ms: Delta,
    /// Slowest, ms.
    pub max_ms: Delta,
}

impl Metrics {
    /// Each metric with its name, in order.
    pub fn iter(&self) -> [(&'static str, &Delta); 7] {
        [
            ("throughput_rps", &self.throughput_rps),
            ("failure_rate", &self.failure_rate),
            ("p50_ms", &self.p50_ms),
            ("p90_ms", &self.p90_ms),
            ("p95_ms", &self.p95_ms),
            ("p99_ms", &self.p99_ms),
            ("max_ms", &self.max_ms),
        ]
    }
}

/// One name in both runs, or in one of them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NameComparison {
    /// `"both"`, `"baseline_only"` or `"run_only"` (the missing side's
    /// values are `null`, its verdicts `"unknown"`).
    pub presence: &'static str,
    /// The metrics.
    pub metrics: Metrics,
}

/// A metric that changed beyond the tolerance.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change {
    /// `"overall"` or the request name.
    pub scope: String,
    /// The metric.
    pub metric: &'static str,
    /// Its verdict (`"slower"`, `"worse"`, `"faster"`, `"better"`).
    pub verdict: &'static str,
    /// The relative change, in percent (`null` from a baseline of 0).
    pub delta_pct: Option<f64>,
}

/// `LD_compare_runs`' result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// The run compared against.
    pub baseline: RunRef,
    /// The run compared.
    pub run: RunRef,
    /// The tolerance used for the verdicts, in percent.
    pub tolerance_pct: f64,
    /// Over every name.
    pub overall: Metrics,
    /// Per name, the union of both runs' names.
    pub per_name: BTreeMap<String, NameComparison>,
    /// Whether anything got slower or worse (a metric, overall or of a
    /// name both runs have).
    pub regressed: bool,
    /// What got slower or worse.
    pub regressions: Vec<Change>,
    /// What got faster or better.
    pub improvements: Vec<Change>,
}

/// The metrics' values of one side, in [`Metrics`]' order.
struct Side([Option<f64>; 7]);

impl Side {
    fn of(h: &Histogram<u64>, count: u64, failures: u64, elapsed_s: f64) -> Side {
        let throughput = (elapsed_s > 0.0).then(|| count as f64 / elapsed_s);
        let failure_rate = if count == 0 {
            0.0
        } else {
            failures as f64 / count as f64
        };
        Side([
            throughput,
            Some(failure_rate),
            Some(quantile_ms(h, 0.50)),
            Some(quantile_ms(h, 0.90)),
            Some(quantile_ms(h, 0.95)),
            Some(quantile_ms(h, 0.99)),
            Some(max_ms(h)),
        ])
    }

    fn of_name(record: &NameRecord, elapsed_s: f64) -> Side {
        Side::of(
            &record.latency_us,
            record.count(),
            record.failures,
            elapsed_s,
        )
    }

    fn get(side: Option<&Side>, index: usize) -> Option<f64> {
        side.and_then(|s| s.0.get(index).copied().flatten())
    }
}

fn verdict(baseline: f64, run: f64, better: Better, tolerance_pct: f64) -> &'static str {
    let (up, down) = match better {
        Better::Lower => ("slower", "faster"),
        Better::Higher => ("faster", "slower"),
        Better::LowerRate => ("worse", "better"),
    };
    let changed = if baseline == 0.0 {
        run != 0.0
    } else {
        ((run - baseline) / baseline * 100.0).abs() > tolerance_pct
    };
    if !changed {
        "same"
    } else if run > baseline {
        up
    } else {
        down
    }
}

fn delta(b: Option<f64>, r: Option<f64>, better: Better, tolerance_pct: f64) -> Delta {
    match (b, r) {
        (Some(b), Some(r)) => {
            let delta = r - b;
            Delta {
                baseline: Some(b),
                run: Some(r),
                delta: Some(delta),
                delta_pct: (b != 0.0).then(|| delta / b * 100.0),
                verdict: verdict(b, r, better, tolerance_pct),
            }
        }
        _ => Delta {
            baseline: b,
            run: r,
            delta: None,
            delta_pct: None,
            verdict: "unknown",
        },
    }
}

fn deltas(baseline: Option<&Side>, run: Option<&Side>, tolerance_pct: f64) -> Metrics {
    let d = |index: usize, better: Better| {
        delta(
            Side::get(baseline, index),
            Side::get(run, index),
            better,
            tolerance_pct,
        )
    };
    Metrics {
        throughput_rps: d(0, Better::Higher),
        failure_rate: d(1, Better::LowerRate),
        p50_ms: d(2, Better::Lower),
        p90_ms: d(3, Better::Lower),
        p95_ms: d(4, Better::Lower),
        p99_ms: d(5, Better::Lower),
        max_ms: d(6, Better::Lower),
    }
}

fn run_ref(run: &StoredRun) -> RunRef {
    RunRef {
        id: run.info.id,
        created_at: run.info.created_at.clone(),
        label: run.info.label.clone(),
        elapsed_s: run.info.elapsed_s,
        requests: run.info.requests,
    }
}

fn overall_side(run: &StoredRun) -> Result<Side, HistoryError> {
    let all = merged(&run.names)?;
    let count = run.names.iter().map(NameRecord::count).sum();
    let failures = run.names.iter().map(|n| n.failures).sum();
    Ok(Side::of(&all, count, failures, run.info.elapsed_s))
}

fn changes(
    scope: &str,
    metrics: &Metrics,
    regressions: &mut Vec<Change>,
    improvements: &mut Vec<Change>,
) {
    for (metric, d) in metrics.iter() {
        let list = match d.verdict {
            "slower" | "worse" => &mut *regressions,
            "faster" | "better" => &mut *improvements,
            _ => continue,
        };
        list.push(Change {
            scope: scope.to_owned(),
            metric,
            verdict: d.verdict,
            delta_pct: d.delta_pct,
        });
    }
}

/// A name's record in the baseline and in the run (`None` where it lacks
/// the name).
pub(super) type Pair<'a> = (Option<&'a NameRecord>, Option<&'a NameRecord>);

/// The union of two runs' names, in name order, each with its records.
pub(super) fn paired<'a>(
    baseline: &'a [NameRecord],
    run: &'a [NameRecord],
) -> BTreeMap<&'a str, Pair<'a>> {
    let mut pairs: BTreeMap<&str, Pair<'a>> = BTreeMap::new();
    for record in baseline {
        pairs.entry(&record.name).or_default().0 = Some(record);
    }
    for record in run {
        pairs.entry(&record.name).or_default().1 = Some(record);
    }
    pairs
}

/// Compares `run` with `baseline`; a metric within `tolerance_pct` percent
/// of the baseline's is `"same"`.
pub fn compare(
    baseline: &StoredRun,
    run: &StoredRun,
    tolerance_pct: f64,
) -> Result<Comparison, HistoryError> {
    let (mut regressions, mut improvements) = (Vec::new(), Vec::new());
    let overall = deltas(
        Some(&overall_side(baseline)?),
        Some(&overall_side(run)?),
        tolerance_pct,
    );
    changes("overall", &overall, &mut regressions, &mut improvements);
    let mut per_name = BTreeMap::new();
    for (name, (theirs, ours)) in paired(&baseline.names, &run.names) {
        let b = theirs.map(|n| Side::of_name(n, baseline.info.elapsed_s));
        let r = ours.map(|n| Side::of_name(n, run.info.elapsed_s));
        let presence = match (&b, &r) {
            (Some(_), Some(_)) => "both",
            (Some(_), None) => "baseline_only",
            _ => "run_only",
        };
        let metrics = deltas(b.as_ref(), r.as_ref(), tolerance_pct);
        changes(name, &metrics, &mut regressions, &mut improvements);
        per_name.insert(name.to_owned(), NameComparison { presence, metrics });
    }
    Ok(Comparison {
        baseline: run_ref(baseline),
        run: run_ref(run),
        tolerance_pct,
        overall,
        regressed: !regressions.is_empty(),
        per_name,
        regressions,
        improvements,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_by_direction_and_tolerance() {
        assert_eq!(verdict(100.0, 104.9, Better::Lower, 5.0), "same");
        assert_eq!(verdict(100.0, 106.0, Better::Lower, 5.0), "slower");
        assert_eq!(verdict(100.0, 90.0, Better::Lower, 5.0), "faster");
        assert_eq!(verdict(100.0, 90.0, Better::Higher, 5.0), "slower");
        assert_eq!(verdict(100.0, 120.0, Better::Higher, 5.0), "faster");
        assert_eq!(verdict(0.0, 0.0, Better::LowerRate, 5.0), "same");
        assert_eq!(verdict(0.0, 0.01, Better::LowerRate, 5.0), "worse");
        assert_eq!(verdict(0.2, 0.1, Better::LowerRate, 5.0), "better");
    }
}
