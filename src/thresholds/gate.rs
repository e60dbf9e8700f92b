//! The one evaluator behind every pass/fail gate on a test's figures:
//! [`read`] takes a metric of the whole test or of one request name from
//! `LD_summary`'s figures (as JSON: the recorded summary, or one a client
//! gave), and [`Op::holds`] compares it with a limit. `LD_start_test`'s
//! thresholds ([`super::Thresholds`]) and LoadDensity's SLA rules
//! ([`super::sla`]) are two vocabularies over these.

use serde_json::{Map, Value};

use crate::figures::{python_float, repr_of};

/// A comparison of a figure with a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `actual < limit`.
    Lt,
    /// `actual <= limit`.
    Lte,
    /// `actual > limit`.
    Gt,
    /// `actual >= limit`.
    Gte,
}

impl Op {
    /// The op named `name` (`lt`, `lte`, `gt`, `gte`: lower case).
    pub fn parse(name: &str) -> Option<Op> {
        match name {
            "lt" => Some(Op::Lt),
            "lte" => Some(Op::Lte),
            "gt" => Some(Op::Gt),
            "gte" => Some(Op::Gte),
            _ => None,
        }
    }

    /// Whether `actual` compares with `limit` as this op says (never
    /// with a NaN on either side).
    pub fn holds(self, actual: f64, limit: f64) -> bool {
        match self {
            Op::Lt => actual < limit,
            Op::Lte => actual <= limit,
            Op::Gt => actual > limit,
            Op::Gte => actual >= limit,
        }
    }
}

/// What a gate reads.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Metric {
    /// Median latency, ms (`p50_ms`).
    P50,
    /// 90th percentile, ms.
    P90,
    /// 95th percentile, ms.
    P95,
    /// 99th percentile, ms.
    P99,
    /// Slowest, ms.
    Max,
    /// Mean latency, ms: a name's `mean_ms`; overall, the names' means
    /// weighted by their counts.
    Mean,
    /// Failed / all requests: overall `totals.failure_rate`; a name's
    /// `failures / count` (0 when it has none).
    FailureRate,
    /// Requests: overall `totals.requests`, a name's `count`.
    Requests,
    /// Requests per second over a test of `elapsed_s` seconds (0 when that
    /// is not positive).
    Rps {
        /// How long the test ran.
        elapsed_s: f64,
    },
}

/// Whose figure a gate reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject<'a> {
    /// The whole test.
    Overall,
    /// One request name.
    Name(&'a str),
}

/// A summary's value that Python's `float()` refuses.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("summary.{path}: {value} is not a number")]
pub struct NotANumber {
    /// Where it is, dotted (`per_name.home.p95_ms`).
    pub path: String,
    /// Its Python `repr`.
    pub value: String,
}

/// `summary[a][b]...` as Python's `float()`: `None` when a step is absent,
/// not an object, or the value is null.
fn number(summary: &Value, path: &[&str]) -> Result<Option<f64>, NotANumber> {
    let mut at = summary;
    for key in path {
        match at.as_object().and_then(|o| o.get(*key)) {
            Some(next) => at = next,
            None => return Ok(None),
        }
    }
    if at.is_null() {
        return Ok(None);
    }
    python_float(at).map(Some).ok_or_else(|| NotANumber {
        path: path.join("."),
        value: repr_of(at),
    })
}

/// `numerator / denominator`, 0 when the denominator is not positive.
fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator > 0.0 {
        numerator / denominator
    } else {
        0.0
    }
}

/// The counts-weighted mean of the names' `mean_ms` (0 with no request);
/// a name lacking either figure is left out.
fn overall_mean(per_name: Option<&Map<String, Value>>) -> Result<Option<f64>, NotANumber> {
    let (mut sum, mut count) = (0.0, 0.0);
    for (name, figures) in per_name.into_iter().flatten() {
        let field = |key: &str| number(figures, &[key]).map_err(|e| at_name(e, name));
        if let (Some(mean), Some(n)) = (field("mean_ms")?, field("count")?) {
            sum += mean * n;
            count += n;
        }
    }
    Ok(Some(ratio(sum, count)))
}

fn at_name(e: NotANumber, name: &str) -> NotANumber {
    NotANumber {
        path: format!("per_name.{name}.{}", e.path),
        ..e
    }
}

/// `metric` of `subject` in `summary` (`LD_summary`'s shape: `totals`,
/// `latency_overall`, `per_name`); `None` when the summary does not have it
/// (a name it lacks, a key absent or null).
pub fn read(
    summary: &Value,
    subject: Subject<'_>,
    metric: Metric,
) -> Result<Option<f64>, NotANumber> {
    let latency = |key: &str| match subject {
        Subject::Overall => number(summary, &["latency_overall", key]),
        Subject::Name(name) => number(summary, &["per_name", name, key]),
    };
    let requests = || match subject {
        Subject::Overall => number(summary, &["totals", "requests"]),
        Subject::Name(name) => number(summary, &["per_name", name, "count"]),
    };
    match metric {
        Metric::P50 => latency("p50_ms"),
        Metric::P90 => latency("p90_ms"),
        Metric::P95 => latency("p95_ms"),
        Metric::P99 => latency("p99_ms"),
        Metric::Max => latency("max_ms"),
        Metric::Mean => match subject {
            Subject::Overall => overall_mean(summary.get("per_name").and_then(Value::as_object)),
            Subject::Name(_) => latency("mean_ms"),
        },
        Metric::FailureRate => match subject {
            Subject::Overall => number(summary, &["totals", "failure_rate"]),
            Subject::Name(name) => {
                let failures = number(summary, &["per_name", name, "failures"])?;
                Ok(match (failures, requests()?) {
                    (Some(failures), Some(count)) => Some(ratio(failures, count)),
                    _ => None,
                })
            }
        },
        Metric::Requests => requests(),
        Metric::Rps { elapsed_s } => Ok(requests()?.map(|n| ratio(n, elapsed_s))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_what_the_summary_has_and_only_that() {
        let s = json!({
            "totals": {"requests": 10, "failures": 2, "failure_rate": 0.2},
            "latency_overall": {"p50_ms": 5.5, "p99_ms": "7.25"},
            "per_name": {"a": {"count": 8, "failures": 2, "mean_ms": 4.0, "p95_ms": 9},
                         "b": {"count": 2, "failures": 0, "mean_ms": 9.0}}
        });
        assert_eq!(read(&s, Subject::Overall, Metric::P50), Ok(Some(5.5)));
        assert_eq!(read(&s, Subject::Overall, Metric::P99), Ok(Some(7.25)));
        assert_eq!(read(&s, Subject::Overall, Metric::P95), Ok(None));
        assert_eq!(read(&s, Subject::Overall, Metric::Mean), Ok(Some(5.0)));
        assert_eq!(
            read(&s, Subject::Name("a"), Metric::FailureRate),
            Ok(Some(0.25))
        );
        assert_eq!(read(&s, Subject::Name("a"), Metric::P95), Ok(Some(9.0)));
        assert_eq!(read(&s, Subject::Name("zz"), Metric::P95), Ok(None));
        assert_eq!(
            read(&s, Subject::Overall, Metric::Rps { elapsed_s: 4.0 }),
            Ok(Some(2.5))
        );
        assert_eq!(
            read(&s, Subject::Overall, Metric::Rps { elapsed_s: 0.0 }),
            Ok(Some(0.0))
        );
        let bad = json!({"per_name": {"a": {"p50_ms": "fast"}}});
        assert_eq!(
            read(&bad, Subject::Name("a"), Metric::P50)
                .err()
                .map(|e| e.to_string()),
            Some("summary.per_name.a.p50_ms: 'fast' is not a number".to_owned())
        );
        assert!(Op::Lte.holds(1.0, 1.0) && !Op::Lt.holds(1.0, 1.0));
        assert!(Op::Gte.holds(1.0, 1.0) && !Op::Gt.holds(1.0, 1.0));
        assert!(!Op::Lte.holds(f64::NAN, 1.0));
    }
}
