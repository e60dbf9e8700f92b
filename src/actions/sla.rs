//! LoadDensity's SLA gates: `LD_evaluate_sla(rules, summary=None)` and
//! `LD_assert_sla(rules, summary=None)` (see [`crate::thresholds::sla`]),
//! and `LD_canary_verdict(baseline_summary, candidate_summary, sla_rules,
//! tolerance_pct=10)` (see [`crate::thresholds::canary`]). They read
//! figures only (the recorded summary, or one given): scope `read`.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{ActionContext, ActionError, Args, Registry, Signature};
use crate::auth::Scope;
use crate::thresholds::canary;
use crate::thresholds::sla::{self, SlaResult};

/// The most rules one call checks.
pub const MAX_SLA_RULES: usize = 1_000;

pub(super) fn register(registry: &mut Registry) {
    registry
        .register_scoped("LD_evaluate_sla", Scope::Read, evaluate_sla)
        .register_scoped("LD_assert_sla", Scope::Read, assert_sla)
        .describe(
            "LD_evaluate_sla",
            Signature::of::<Rules>(&["rules", "summary"]),
        )
        .describe(
            "LD_assert_sla",
            Signature::of::<Rules>(&["rules", "summary"]),
        )
        .register_scoped("LD_canary_verdict", Scope::Read, canary_verdict)
        .describe(
            "LD_canary_verdict",
            Signature::of::<CanaryArgs>(CANARY_ARGS),
        );
}

const CANARY_ARGS: &[&str] = &[
    "baseline_summary",
    "candidate_summary",
    "sla_rules",
    "tolerance_pct",
];

fn default_tolerance_pct() -> f64 {
    10.0
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct CanaryArgs {
    /// The baseline's figures, in `LD_summary`'s shape.
    baseline_summary: Value,
    /// The candidate's (null: the recorded `LD_summary`, an ld-tower
    /// addition).
    candidate_summary: Option<Value>,
    /// SLA rules the candidate must hold (`[]` for none).
    sla_rules: Value,
    /// Headroom over each baseline figure, percent.
    #[serde(default = "default_tolerance_pct")]
    tolerance_pct: f64,
}

/// `{verdict: "promote" | "rollback", reasons, sla_findings, diff}`.
async fn canary_verdict(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let CanaryArgs {
        baseline_summary,
        candidate_summary,
        sla_rules,
        tolerance_pct,
    } = args.parse(CANARY_ARGS)?;
    if !tolerance_pct.is_finite() || tolerance_pct < 0.0 {
        return Err(ActionError::new(format!(
            "tolerance_pct must be a number from 0, not {tolerance_pct}"
        )));
    }
    if !baseline_summary.is_object() {
        return Err(ActionError::new(
            "baseline_summary must be an object in LD_summary's shape",
        ));
    }
    let rules = rules_of("sla_rules", sla_rules)?;
    let candidate = summary_or_recorded(&ctx, "candidate_summary", candidate_summary)?;
    let canary = canary::verdict(&baseline_summary, &candidate, &rules, tolerance_pct)
        .map_err(|e| ActionError::new(e.to_string()))?;
    serde_json::to_value(canary).map_err(|e| ActionError::new(e.to_string()))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Rules {
    rules: Value,
    #[serde(default)]
    summary: Option<Value>,
}

/// The rules checked against the summary given, or the recorded one.
fn results(ctx: &ActionContext, args: Args) -> Result<Vec<SlaResult>, ActionError> {
    let Rules { rules, summary } = args.parse(&["rules", "summary"])?;
    let rules = rules_of("rules", rules)?;
    let summary = summary_or_recorded(ctx, "summary", summary)?;
    sla::evaluate(&rules, &summary).map_err(|e| ActionError::new(e.to_string()))
}

/// A list of rules (objects), at most [`MAX_SLA_RULES`]; `key` names it.
fn rules_of(key: &str, rules: Value) -> Result<Vec<Map<String, Value>>, ActionError> {
    let Value::Array(rules) = rules else {
        return Err(ActionError::new(format!(
            "{key} must be a list of rules ({{\"type\", \"value\", \"op\", \"name\"}})"
        )));
    };
    if rules.len() > MAX_SLA_RULES {
        return Err(ActionError::new(format!(
            "{key}: {} rules, at most {MAX_SLA_RULES} in one call",
            rules.len()
        )));
    }
    rules
        .into_iter()
        .enumerate()
        .map(|(index, rule)| match rule {
            Value::Object(rule) => Ok(rule),
            _ => Err(ActionError::new(format!(
                "{key}[{index}] must be an object ({{\"type\", \"value\", \"op\", \"name\"}})"
            ))),
        })
        .collect()
}

/// The summary given (an object), or the recorded `LD_summary` for none.
fn summary_or_recorded(
    ctx: &ActionContext,
    key: &str,
    summary: Option<Value>,
) -> Result<Value, ActionError> {
    match summary {
        None => serde_json::to_value(ctx.state().figures(|f| f.summary()))
            .map_err(|e| ActionError::new(e.to_string())),
        Some(given @ Value::Object(_)) => Ok(given),
        Some(_) => Err(ActionError::new(format!(
            "{key} must be an object in LD_summary's shape (null: the recorded one)"
        ))),
    }
}

fn to_json(results: &[SlaResult]) -> Result<Value, ActionError> {
    serde_json::to_value(results).map_err(|e| ActionError::new(e.to_string()))
}

/// Each rule's `{passed, rule, actual, reason}`.
async fn evaluate_sla(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    to_json(&results(&ctx, args)?)
}

/// As [`evaluate_sla`], failing the action when a rule failed.
async fn assert_sla(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let results = results(&ctx, args)?;
    match sla::failures(&results) {
        Some(message) => Err(ActionError::new(message)),
        None => to_json(&results),
    }
}
