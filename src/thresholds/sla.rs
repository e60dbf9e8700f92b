//! LoadDensity's SLA rules (`utils/sla/sla_gates.py`): `{type, value,
//! op="lte", name?}` checked against `LD_summary`'s figures by the same
//! evaluator as the thresholds ([`super::gate`]), each answered `{passed,
//! rule, actual, reason}` as LoadDensity answers it.

use serde::Serialize;
use serde_json::{Map, Value};

use super::gate::{self, Metric, NotANumber, Op, Subject};
use crate::figures::{float_repr, python_float, repr_of, str_of, truthy};

/// One rule's verdict, LoadDensity's `SlaResult.as_dict()`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlaResult {
    /// Whether the rule held.
    pub passed: bool,
    /// The rule as given.
    pub rule: Map<String, Value>,
    /// The figure read (`null` when the rule could not be checked).
    pub actual: Option<f64>,
    /// Why it failed (`""` when it held).
    pub reason: String,
}

/// Why the rules could not be evaluated at all (where LoadDensity raises).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum SlaError {
    /// A figure of the summary is not a number.
    #[error(transparent)]
    Summary(#[from] NotANumber),
    /// A rule's `value` is not a number (Python's `float()` refuses it).
    #[error("rules[{index}].value: {value} is not a number")]
    Value {
        /// The rule's position.
        index: usize,
        /// The value's Python `repr`.
        value: String,
    },
}

/// A rule's `type` read of one name, as LoadDensity's `per_name_metrics`.
fn per_name_metric(rule_type: &str) -> Option<Metric> {
    Some(match rule_type {
        "latency_p50" => Metric::P50,
        "latency_p90" => Metric::P90,
        "latency_p95" => Metric::P95,
        "latency_p99" => Metric::P99,
        "latency_mean" => Metric::Mean,
        "requests" => Metric::Requests,
        _ => return None,
    })
}

/// A rule's `type` read of the whole test, as LoadDensity's
/// `overall_metrics` with `failure_rate` and `requests` (no mean: it has
/// none overall).
fn overall_metric(rule_type: &str) -> Option<Metric> {
    Some(match rule_type {
        "latency_p50" => Metric::P50,
        "latency_p90" => Metric::P90,
        "latency_p95" => Metric::P95,
        "latency_p99" => Metric::P99,
        "failure_rate" => Metric::FailureRate,
        "requests" => Metric::Requests,
        _ => return None,
    })
}

/// The figure `rule` names in `summary`: of `per_name[name]` when the rule
/// has a truthy `name`, else of the whole test.
fn actual(summary: &Value, rule: &Map<String, Value>) -> Result<Option<f64>, NotANumber> {
    let rule_type = rule.get("type").map_or("".into(), str_of);
    match rule.get("name").filter(|n| truthy(n)) {
        // A JSON object's keys are text: another name matches none.
        Some(Value::String(name)) => match per_name_metric(&rule_type) {
            Some(metric) => gate::read(summary, Subject::Name(name), metric),
            None => Ok(None),
        },
        Some(_) => Ok(None),
        None => match overall_metric(&rule_type) {
            Some(metric) => gate::read(summary, Subject::Overall, metric),
            None => Ok(None),
        },
    }
}

/// `rule` (the `index`th) checked against `summary`, as LoadDensity's
/// `_check_rule`.
fn check(index: usize, summary: &Value, rule: &Map<String, Value>) -> Result<SlaResult, SlaError> {
    let result = |passed, actual, reason| SlaResult {
        passed,
        rule: rule.clone(),
        actual,
        reason,
    };
    let op_name = rule.get("op").map_or("lte".into(), str_of).to_lowercase();
    let Some(op) = Op::parse(&op_name) else {
        let reason = format!("unsupported op {}", repr_of(&Value::String(op_name)));
        return Ok(result(false, None, reason));
    };
    let expected = match rule.get("value") {
        None | Some(Value::Null) => {
            return Ok(result(false, None, "rule missing 'value'".into()));
        }
        Some(value) => value,
    };
    let Some(actual) = actual(summary, rule)? else {
        return Ok(result(
            false,
            None,
            "metric not available in summary".into(),
        ));
    };
    let limit = python_float(expected).ok_or_else(|| SlaError::Value {
        index,
        value: repr_of(expected),
    })?;
    if op.holds(actual, limit) {
        return Ok(result(true, Some(actual), String::new()));
    }
    let mut shown = String::new();
    float_repr(actual, &mut shown);
    let reason = format!(
        "{}({})={shown} not {op_name} {}",
        str_of(rule.get("type").unwrap_or(&Value::Null)),
        rule.get("name").map_or("overall".into(), str_of),
        str_of(expected),
    );
    Ok(result(false, Some(actual), reason))
}

/// Every rule checked against `summary` (`LD_summary`'s shape), in order:
/// LoadDensity's `evaluate_sla`. A rule that cannot be checked (an
/// unsupported `op`, no `value`, a metric the summary lacks) fails with its
/// reason; a figure or `value` that is not a number fails them all.
pub fn evaluate(rules: &[Map<String, Value>], summary: &Value) -> Result<Vec<SlaResult>, SlaError> {
    rules
        .iter()
        .enumerate()
        .map(|(index, rule)| check(index, summary, rule))
        .collect()
}

/// The reasons of the rules that failed, joined as LoadDensity's
/// `assert_sla` raises them (`SLA gates failed: a; b`); `None` when all
/// held.
pub fn failures(results: &[SlaResult]) -> Option<String> {
    let reasons: Vec<&str> = results
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.reason.as_str())
        .collect();
    (!reasons.is_empty()).then(|| format!("SLA gates failed: {}", reasons.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules(value: Value) -> Vec<Map<String, Value>> {
        serde_json::from_value(value).expect("rules")
    }

    #[test]
    fn each_rule_as_loaddensity_answers_it() {
        let summary = json!({
            "totals": {"requests": 4, "failure_rate": 0.25},
            "latency_overall": {"p50_ms": 10.0, "p95_ms": 20.5},
            "per_name": {"home": {"count": 3, "mean_ms": 12.0, "p99_ms": 30.0}}
        });
        let got = evaluate(
            &rules(json!([
                {"type": "latency_p95", "value": 25},
                {"type": "latency_p95", "value": 20, "op": "LT"},
                {"type": "latency_mean", "value": 20, "name": "home"},
                {"type": "latency_mean", "value": 20},
                {"type": "requests", "value": 4, "op": "gte"},
                {"type": "failure_rate", "value": 0.1, "op": "bogus"},
                {"type": "failure_rate"},
                {"type": "latency_p99", "value": 1, "name": "home", "op": "gt"},
                {"type": "latency_p99", "value": 31, "name": "home", "op": "gt"}
            ])),
            &summary,
        )
        .expect("evaluates");
        let brief: Vec<(bool, Option<f64>, &str)> = got
            .iter()
            .map(|r| (r.passed, r.actual, r.reason.as_str()))
            .collect();
        assert_eq!(
            brief,
            [
                (true, Some(20.5), ""),
                (false, Some(20.5), "latency_p95(overall)=20.5 not lt 20"),
                (true, Some(12.0), ""),
                (false, None, "metric not available in summary"),
                (true, Some(4.0), ""),
                (false, None, "unsupported op 'bogus'"),
                (false, None, "rule missing 'value'"),
                (true, Some(30.0), ""),
                (false, Some(30.0), "latency_p99(home)=30.0 not gt 31"),
            ]
        );
        assert_eq!(
            failures(&got[..2]).as_deref(),
            Some("SLA gates failed: latency_p95(overall)=20.5 not lt 20")
        );
        assert_eq!(failures(&got[..1]), None);
        assert_eq!(
            evaluate(
                &rules(json!([{"type": "requests", "value": "many"}])),
                &summary
            )
            .err()
            .map(|e| e.to_string()),
            Some("rules[0].value: 'many' is not a number".to_owned())
        );
    }
}
