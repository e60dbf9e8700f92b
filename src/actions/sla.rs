//! LoadDensity's SLA gates: `LD_evaluate_sla(rules, summary=None)` and
//! `LD_assert_sla(rules, summary=None)` (see [`crate::thresholds::sla`]).
//! They read figures only (the recorded summary, or one given): scope
//! `read`.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::{ActionContext, ActionError, Args, Registry, Signature};
use crate::auth::Scope;
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
        );
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
    let Value::Array(rules) = rules else {
        return Err(ActionError::new(
            "rules must be a list of rules ({\"type\", \"value\", \"op\", \"name\"})",
        ));
    };
    if rules.len() > MAX_SLA_RULES {
        return Err(ActionError::new(format!(
            "rules: {} rules, at most {MAX_SLA_RULES} in one call",
            rules.len()
        )));
    }
    let rules: Vec<Map<String, Value>> = rules
        .into_iter()
        .enumerate()
        .map(|(index, rule)| match rule {
            Value::Object(rule) => Ok(rule),
            _ => Err(ActionError::new(format!(
                "rules[{index}] must be an object ({{\"type\", \"value\", \"op\", \"name\"}})"
            ))),
        })
        .collect::<Result<_, _>>()?;
    let summary = match summary {
        None => serde_json::to_value(ctx.state().figures(|f| f.summary()))
            .map_err(|e| ActionError::new(e.to_string()))?,
        Some(given @ Value::Object(_)) => given,
        Some(_) => {
            return Err(ActionError::new(
                "summary must be an object in LD_summary's shape (null: the recorded one)",
            ))
        }
    };
    sla::evaluate(&rules, &summary).map_err(|e| ActionError::new(e.to_string()))
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
