//! Thresholds in the spirit of k6's: pass/fail limits on a test's figures,
//! `{"p95_ms": 200, "failure_rate": 0.01, "per_name": {"login": {"p99_ms": 500}}}`.
//! Latency and failure-rate limits are maxima; `min_rps` is a minimum.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

use crate::figures::Summary;

/// The metrics a threshold can limit.
const METRICS: &[&str] = &[
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "max_ms",
    "mean_ms",
    "failure_rate",
    "min_rps",
];

/// Limits on the whole test and per request name.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Thresholds {
    overall: Vec<(String, f64)>,
    per_name: BTreeMap<String, Vec<(String, f64)>>,
}

/// One threshold's verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// `"overall"` or the request name.
    pub scope: String,
    /// The metric (`p95_ms`, `failure_rate`, ...).
    pub metric: String,
    /// The limit given.
    pub limit: f64,
    /// The test's figure.
    pub actual: f64,
    /// Whether it held.
    pub passed: bool,
}

fn limits(scope: &str, map: &serde_json::Map<String, Value>) -> Result<Vec<(String, f64)>, String> {
    map.iter()
        .filter(|(key, _)| *key != "per_name" || scope != "overall")
        .map(|(key, value)| {
            if !METRICS.contains(&key.as_str()) {
                return Err(format!(
                    "thresholds ({scope}): unknown metric {key:?} (known: {})",
                    METRICS.join(", ")
                ));
            }
            let limit = value
                .as_f64()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("thresholds ({scope}): {key} must be a number from 0"))?;
            Ok((key.clone(), limit))
        })
        .collect()
}

impl Thresholds {
    /// Parses `thresholds`.
    pub fn parse(value: &Value) -> Result<Thresholds, String> {
        let Value::Object(map) = value else {
            return Err("thresholds: expected an object such as {\"p95_ms\": 200}".into());
        };
        let overall = limits("overall", map)?;
        let mut per_name = BTreeMap::new();
        match map.get("per_name") {
            None | Some(Value::Null) => {}
            Some(Value::Object(names)) => {
                for (name, value) in names {
                    let Value::Object(limits_map) = value else {
                        return Err(format!("thresholds.per_name.{name}: expected an object"));
                    };
                    per_name.insert(name.clone(), limits(name, limits_map)?);
                }
            }
            Some(_) => return Err("thresholds.per_name: expected an object".into()),
        }
        Ok(Thresholds { overall, per_name })
    }

    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        self.overall.is_empty() && self.per_name.is_empty()
    }

    /// The verdicts on `summary`, a test that ran `elapsed_s` seconds. A
    /// limit on a name the test never requested fails (its figure is absent).
    pub fn evaluate(&self, summary: &Summary, elapsed_s: f64) -> Vec<Verdict> {
        let mut verdicts = Vec::new();
        let rate = |n: u64| {
            if elapsed_s > 0.0 {
                n as f64 / elapsed_s
            } else {
                0.0
            }
        };
        for (metric, limit) in &self.overall {
            let o = &summary.latency_overall;
            let actual = match metric.as_str() {
                "p50_ms" => Some(o.p50_ms),
                "p90_ms" => Some(o.p90_ms),
                "p95_ms" => Some(o.p95_ms),
                "p99_ms" => Some(o.p99_ms),
                "max_ms" => Some(o.max_ms),
                "mean_ms" => {
                    let (sum, n) = summary.per_name.values().fold((0.0, 0u64), |(s, n), p| {
                        (s + p.mean_ms * p.count as f64, n + p.count)
                    });
                    Some(if n == 0 { 0.0 } else { sum / n as f64 })
                }
                "failure_rate" => Some(summary.totals.failure_rate),
                "min_rps" => Some(rate(summary.totals.requests)),
                _ => None,
            };
            verdicts.push(verdict("overall", metric, *limit, actual));
        }
        for (name, limits) in &self.per_name {
            let figures = summary.per_name.get(name);
            for (metric, limit) in limits {
                let actual = figures.and_then(|p| match metric.as_str() {
                    "p50_ms" => Some(p.p50_ms),
                    "p90_ms" => Some(p.p90_ms),
                    "p95_ms" => Some(p.p95_ms),
                    "p99_ms" => Some(p.p99_ms),
                    "max_ms" => Some(p.max_ms),
                    "mean_ms" => Some(p.mean_ms),
                    "failure_rate" => Some(if p.count == 0 {
                        0.0
                    } else {
                        p.failures as f64 / p.count as f64
                    }),
                    "min_rps" => Some(rate(p.count)),
                    _ => None,
                });
                verdicts.push(verdict(name, metric, *limit, actual));
            }
        }
        verdicts
    }
}

fn verdict(scope: &str, metric: &str, limit: f64, actual: Option<f64>) -> Verdict {
    let passed = match actual {
        None => false,
        Some(actual) if metric == "min_rps" => actual >= limit,
        Some(actual) => actual <= limit,
    };
    Verdict {
        scope: scope.to_owned(),
        metric: metric.to_owned(),
        limit,
        actual: actual.unwrap_or(f64::NAN),
        passed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::{Figures, Outcome};
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn verdicts() {
        let mut f = Figures::default();
        for ms in 1..=100 {
            f.record("home", Duration::from_millis(ms), Outcome::ok(200));
        }
        f.record(
            "login",
            Duration::from_millis(5),
            Outcome::failed(Some(500), "HTTP 500"),
        );
        let t = Thresholds::parse(&json!({"p95_ms": 200, "failure_rate": 0.001, "min_rps": 10,
            "per_name": {"home": {"p99_ms": 50}, "gone": {"p50_ms": 1}}}))
        .expect("parses");
        let v = t.evaluate(&f.summary(), 2.0);
        let find = |scope: &str, metric: &str| {
            v.iter()
                .find(|v| v.scope == scope && v.metric == metric)
                .map(|v| v.passed)
        };
        assert_eq!(find("overall", "p95_ms"), Some(true));
        assert_eq!(find("overall", "failure_rate"), Some(false));
        assert_eq!(find("overall", "min_rps"), Some(true));
        assert_eq!(find("home", "p99_ms"), Some(false));
        assert_eq!(find("gone", "p50_ms"), Some(false));
        assert!(Thresholds::parse(&json!({"p42_ms": 1})).is_err());
        assert!(Thresholds::parse(&json!({"p95_ms": -1})).is_err());
    }
}
