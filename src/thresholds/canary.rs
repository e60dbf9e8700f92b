//! LoadDensity's canary verdict (`utils/ci_annotations/canary_analysis.py`):
//! a candidate's summary checked against SLA rules ([`super::sla`]) and
//! compared with a baseline's, `promote` or `rollback` with the reasons,
//! for a deployment controller to read.
//!
//! One defect corrected: LoadDensity gives every rule as a reason, passed
//! ones too (`if sla_findings:` on the list of all findings), so any rule
//! at all means `rollback`; here only a rule that failed is a reason.

use serde::Serialize;
use serde_json::{Map, Value};

use super::sla::{self, SlaError, SlaResult};
use crate::figures::{python_float, repr_of};

/// One metric compared: LoadDensity's `_check`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CanaryCheck {
    /// `failure_rate`, `p50_ms`, `p95_ms` or `p99_ms`.
    pub metric: &'static str,
    /// The baseline's figure (0 when its summary lacks it).
    pub baseline: f64,
    /// The candidate's.
    pub candidate: f64,
    /// The most the candidate may have: the baseline's times
    /// `1 + tolerance_pct / 100`.
    pub threshold: f64,
    /// `regression` when the candidate is over it and the baseline above
    /// 0, else `ok`.
    pub status: &'static str,
}

/// `LD_canary_verdict`'s result.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Canary {
    /// `promote` when there is no reason against, else `rollback`.
    pub verdict: &'static str,
    /// `SLA: <rule>` for each failed rule, `regression: <metric> <baseline>
    /// -> <candidate>` for each regression.
    pub reasons: Vec<String>,
    /// Every rule's verdict on the candidate.
    pub sla_findings: Vec<SlaResult>,
    /// The four metrics compared.
    pub diff: Vec<CanaryCheck>,
}

/// Why a verdict could not be given (where LoadDensity raises).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CanaryError {
    /// The rules could not be checked against the candidate.
    #[error(transparent)]
    Sla(#[from] SlaError),
    /// A summary's figure is not a number, or a section not an object.
    #[error("{0}")]
    Figure(String),
}

/// The figure at `section.key` of a summary (0 when either is missing), or
/// why it cannot be read.
fn figure(summary: &Value, side: &str, section: &str, key: &str) -> Result<f64, CanaryError> {
    let Some(section_value) = summary.get(section) else {
        return Ok(0.0);
    };
    if !section_value.is_object() {
        return Err(CanaryError::Figure(format!(
            "{side}.{section} is not an object"
        )));
    }
    match section_value.get(key) {
        None => Ok(0.0),
        Some(value) => python_float(value).ok_or_else(|| {
            CanaryError::Figure(format!(
                "{side}.{section}.{key}: {} is not a number",
                repr_of(value)
            ))
        }),
    }
}

/// The candidate checked against `rules` and compared, metric by metric,
/// with the baseline, `tolerance_pct` percent of headroom allowed.
pub fn verdict(
    baseline: &Value,
    candidate: &Value,
    rules: &[Map<String, Value>],
    tolerance_pct: f64,
) -> Result<Canary, CanaryError> {
    let sla_findings = sla::evaluate(rules, candidate)?;
    let mut reasons: Vec<String> = sla_findings
        .iter()
        .filter(|finding| !finding.passed)
        .map(|finding| format!("SLA: {}", repr_of(&Value::Object(finding.rule.clone()))))
        .collect();
    let headroom = 1.0 + tolerance_pct / 100.0;
    let metrics = [
        ("failure_rate", "totals"),
        ("p50_ms", "latency_overall"),
        ("p95_ms", "latency_overall"),
        ("p99_ms", "latency_overall"),
    ];
    let mut diff = Vec::with_capacity(metrics.len());
    for (metric, section) in metrics {
        let base = figure(baseline, "baseline_summary", section, metric)?;
        let cand = figure(candidate, "candidate_summary", section, metric)?;
        let threshold = base * headroom;
        let regressed = cand > threshold && base > 0.0;
        if regressed {
            reasons.push(format!("regression: {metric} {base:.2} -> {cand:.2}"));
        }
        diff.push(CanaryCheck {
            metric,
            baseline: base,
            candidate: cand,
            threshold,
            status: if regressed { "regression" } else { "ok" },
        });
    }
    Ok(Canary {
        verdict: if reasons.is_empty() {
            "promote"
        } else {
            "rollback"
        },
        reasons,
        sla_findings,
        diff,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn summary(failure_rate: f64, p50: f64, p95: f64, p99: f64) -> Value {
        json!({"totals": {"failure_rate": failure_rate, "requests": 100},
               "latency_overall": {"p50_ms": p50, "p95_ms": p95, "p99_ms": p99}})
    }

    #[test]
    fn as_loaddensity_answers_but_a_passed_rule_is_no_reason() {
        let rule = json!({"type": "requests", "value": 50, "op": "gte"});
        let rules = vec![rule.as_object().cloned().unwrap_or_default()];
        let canary = verdict(
            &summary(0.01, 10.0, 20.0, 30.0),
            &summary(0.01, 10.5, 25.0, 30.0),
            &rules,
            10.0,
        )
        .map_err(|e| e.to_string());
        // LoadDensity 0.0.79 on the same input, bar its "SLA: {...}" reason
        // for the rule that passed.
        let want = json!({"verdict": "rollback", "reasons": ["regression: p95_ms 20.00 -> 25.00"],
            "sla_findings": [{"passed": true, "rule": rule, "actual": 100.0, "reason": ""}],
            "diff": [
                {"metric": "failure_rate", "baseline": 0.01, "candidate": 0.01, "threshold": 0.011000000000000001, "status": "ok"},
                {"metric": "p50_ms", "baseline": 10.0, "candidate": 10.5, "threshold": 11.0, "status": "ok"},
                {"metric": "p95_ms", "baseline": 20.0, "candidate": 25.0, "threshold": 22.0, "status": "regression"},
                {"metric": "p99_ms", "baseline": 30.0, "candidate": 30.0, "threshold": 33.0, "status": "ok"}]});
        assert_eq!(canary.map(|c| serde_json::to_value(c).ok()), Ok(Some(want)));
    }

    #[test]
    fn a_failed_rule_is_a_reason_and_empty_summaries_promote() {
        let rules = vec![json!({"type": "latency_p95", "value": 20})
            .as_object()
            .cloned()
            .unwrap_or_default()];
        let canary = verdict(
            &summary(0.0, 1.0, 20.0, 30.0),
            &summary(0.0, 1.0, 21.0, 30.0),
            &rules,
            10.0,
        );
        let reasons = canary
            .map(|c| (c.verdict, c.reasons))
            .map_err(|e| e.to_string());
        assert_eq!(
            reasons,
            Ok((
                "rollback",
                vec!["SLA: {'type': 'latency_p95', 'value': 20}".to_owned()]
            ))
        );
        let empty = verdict(&json!({}), &json!({}), &[], 10.0).map(|c| c.verdict);
        assert_eq!(empty.map_err(|e| e.to_string()), Ok("promote"));
        let bad = verdict(
            &json!({"totals": {"failure_rate": "x"}}),
            &json!({}),
            &[],
            10.0,
        );
        assert_eq!(
            bad.map_err(|e| e.to_string()).err(),
            Some("baseline_summary.totals.failure_rate: 'x' is not a number".to_owned())
        );
    }
}
