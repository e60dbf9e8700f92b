//! Thresholds in the spirit of k6's: pass/fail limits on a test's figures,
//! `{"p95_ms": 200, "failure_rate": 0.01, "per_name": {"login": {"p99_ms": 500}}}`.
//! Latency and failure-rate limits are maxima; `min_rps` is a minimum.
//! They, and LoadDensity's SLA rules ([`sla`]), are read and compared by one
//! evaluator ([`gate`]).

use std::collections::BTreeMap;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::figures::Summary;
use crate::spec::SpecError;
use gate::{Metric, Op, Subject};

pub mod canary;
pub mod gate;
pub mod sla;

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

/// A limit: a number from 0.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Limit(f64);

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = f64::deserialize(d)?;
        if value.is_finite() && value >= 0.0 {
            Ok(Limit(value))
        } else {
            Err(de::Error::custom("must be a number from 0"))
        }
    }
}

impl JsonSchema for Limit {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Limit".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "number", "minimum": 0})
    }
}

/// The limits of one scope, as written; `per_name` only at the top.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(default)]
#[schemars(rename = "Thresholds", deny_unknown_fields)]
pub struct LimitsSpec {
    /// The most the median latency may be, ms.
    p50_ms: Option<Limit>,
    /// The most the 90th percentile latency may be, ms.
    p90_ms: Option<Limit>,
    /// The most the 95th percentile latency may be, ms.
    p95_ms: Option<Limit>,
    /// The most the 99th percentile latency may be, ms.
    p99_ms: Option<Limit>,
    /// The most the slowest request may take, ms.
    max_ms: Option<Limit>,
    /// The most the mean latency may be, ms.
    mean_ms: Option<Limit>,
    /// The most the share of failed requests may be (0.01: 1%).
    failure_rate: Option<Limit>,
    /// The fewest requests per second the test must make.
    min_rps: Option<Limit>,
    /// Limits per request name: `{NAME: {"p99_ms": ..}}`.
    #[schemars(with = "Option<BTreeMap<String, NameLimits>>")]
    per_name: Option<BTreeMap<String, LimitsSpec>>,
}

/// The schema of one name's limits under `per_name`: a scope's, without
/// a `per_name` of its own ([`Thresholds::from_spec`] refuses one there).
struct NameLimits;

impl JsonSchema for NameLimits {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "NameThresholds".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let mut schema = LimitsSpec::json_schema(generator);
        if let Some(properties) = schema
            .get_mut("properties")
            .and_then(serde_json::Value::as_object_mut)
        {
            properties.remove("per_name");
        }
        schema
    }
}

impl LimitsSpec {
    /// The metric keys a scope may have.
    pub fn keys() -> &'static [&'static str] {
        serde_aux::serde_introspection::serde_introspect::<LimitsSpec>()
    }

    fn limits(&self) -> Vec<(String, f64)> {
        [
            ("p50_ms", self.p50_ms),
            ("p90_ms", self.p90_ms),
            ("p95_ms", self.p95_ms),
            ("p99_ms", self.p99_ms),
            ("max_ms", self.max_ms),
            ("mean_ms", self.mean_ms),
            ("failure_rate", self.failure_rate),
            ("min_rps", self.min_rps),
        ]
        .into_iter()
        .filter_map(|(metric, limit)| limit.map(|Limit(l)| (metric.to_owned(), l)))
        .collect()
    }
}

impl Thresholds {
    /// The thresholds `spec` (the `thresholds` keyword, as deserialized)
    /// sets; a `per_name` inside a `per_name` is an error at its path.
    pub fn from_spec(spec: &LimitsSpec) -> Result<Thresholds, SpecError> {
        let mut per_name = BTreeMap::new();
        for (name, limits) in spec.per_name.iter().flatten() {
            if limits.per_name.is_some() {
                return Err(SpecError::at(
                    format!("thresholds.per_name.{name}.per_name"),
                    "per_name is only at the top of thresholds",
                ));
            }
            per_name.insert(name.clone(), limits.limits());
        }
        Ok(Thresholds {
            overall: spec.limits(),
            per_name,
        })
    }

    /// Whether no limit is set.
    pub fn is_empty(&self) -> bool {
        self.overall.is_empty() && self.per_name.is_empty()
    }

    /// The verdicts on `summary`, a test that ran `elapsed_s` seconds. A
    /// limit on a name the test never requested fails (its figure is absent).
    pub fn evaluate(&self, summary: &Summary, elapsed_s: f64) -> Vec<Verdict> {
        // Our own figures always serialize; a NaN would be null, so absent.
        let figures = serde_json::to_value(summary).unwrap_or(Value::Null);
        let overall = self
            .overall
            .iter()
            .map(|(metric, limit)| ("overall", Subject::Overall, metric, *limit));
        let per_name = self.per_name.iter().flat_map(|(name, limits)| {
            limits
                .iter()
                .map(move |(metric, limit)| (name.as_str(), Subject::Name(name), metric, *limit))
        });
        overall
            .chain(per_name)
            .map(|(scope, subject, metric, limit)| {
                let (gauge, op) = gauge(metric, elapsed_s);
                // Our figures are numbers: nothing `float()` refuses.
                let actual = gauge.and_then(|g| gate::read(&figures, subject, g).ok().flatten());
                Verdict {
                    scope: scope.to_owned(),
                    metric: metric.clone(),
                    limit,
                    actual: actual.unwrap_or(f64::NAN),
                    passed: actual.is_some_and(|a| op.holds(a, limit)),
                }
            })
            .collect()
    }
}

/// A threshold's metric as the gate reads it, and how it holds: latency
/// and failure-rate limits are maxima, `min_rps` a minimum.
fn gauge(metric: &str, elapsed_s: f64) -> (Option<Metric>, Op) {
    let gauge = match metric {
        "p50_ms" => Metric::P50,
        "p90_ms" => Metric::P90,
        "p95_ms" => Metric::P95,
        "p99_ms" => Metric::P99,
        "max_ms" => Metric::Max,
        "mean_ms" => Metric::Mean,
        "failure_rate" => Metric::FailureRate,
        "min_rps" => return (Some(Metric::Rps { elapsed_s }), Op::Gte),
        _ => return (None, Op::Lte),
    };
    (Some(gauge), Op::Lte)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::figures::{Figures, RequestOutcome};
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn verdicts() {
        let mut f = Figures::default();
        for ms in 1..=100 {
            f.record("home", Duration::from_millis(ms), RequestOutcome::ok(200));
        }
        f.record(
            "login",
            Duration::from_millis(5),
            RequestOutcome::failed(Some(500), "HTTP 500"),
        );
        let parse = |value| {
            serde_json::from_value::<LimitsSpec>(value)
                .map_err(|e| e.to_string())
                .and_then(|spec| Thresholds::from_spec(&spec).map_err(|e| e.to_string()))
        };
        let t = parse(json!({"p95_ms": 200, "failure_rate": 0.001, "min_rps": 10,
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
        assert_eq!(
            parse(json!({"p95_ms": -1})).err().as_deref(),
            Some("must be a number from 0")
        );
        assert!(parse(json!({"per_name": {"a": {"per_name": {}}}})).is_err());
    }
}
