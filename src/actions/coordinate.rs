//! `LD_start_test` with `runner_mode: "master"`: this process coordinates
//! the test on a fleet of agents ([`crate::fleet`]) and concludes it as one
//! test: thresholds on the merged figures, `LD_summary`, the reports and
//! the run history.

use serde_json::{json, Map, Value};

use super::error;
use super::load::{conclude, test_length};
use super::{ActionContext, ActionError};
use crate::engine::EngineError;
use crate::fleet::{FleetOptions, FleetPlan};
use crate::thresholds::{LimitsSpec, Thresholds};

/// LoadDensity's keywords for its own master's sockets and Python hooks:
/// nothing in ld-tower's fleet uses them.
const NOT_USED: &[&str] = &[
    "master_bind_host",
    "master_bind_port",
    "master_host",
    "master_port",
    "stop_requested",
    "on_environment",
];

/// The keys of the prepared test's reply that are not the test's
/// parameters.
const NOT_PARAMETERS: &[&str] = &[
    "test_id",
    "prepared",
    "expires_s",
    "expires_at_unix_ms",
    "notes",
    "replaced",
];

/// A positive number at `key`, `None` when absent.
fn positive(map: &Map<String, Value>, key: &str) -> Result<Option<f64>, ActionError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_f64()
            .filter(|v| v.is_finite() && *v > 0.0)
            .map(Some)
            .ok_or_else(|| error(format!("{key} must be a positive number, got {value}"))),
    }
}

/// The fleet's status until the agents answer: starting, no one running.
fn starting(users: u64, options: &FleetOptions) -> Value {
    json!({
        "running": true,
        "users": 0,
        "target_users": users,
        "requests": 0,
        "failures": 0,
        "fleet": {"starting": true, "entries": options.agents},
    })
}

/// Runs the test in `map` (keywords, `runner_mode` "master") on the fleet.
pub(super) async fn start_fleet(
    ctx: &ActionContext,
    mut map: Map<String, Value>,
) -> Result<Value, ActionError> {
    let state = ctx.state();
    map.remove("runner_mode");
    let options = FleetOptions::take(state, &mut map).map_err(error)?;
    let thresholds = match map.remove("thresholds") {
        None | Some(Value::Null) => Thresholds::default(),
        Some(spec) => {
            let spec: LimitsSpec =
                serde_json::from_value(spec).map_err(|e| error(format!("thresholds: {e}")))?;
            Thresholds::from_spec(&spec).map_err(|e| error(e.to_string()))?
        }
    };
    if map.get("load_shape").is_some_and(|v| !v.is_null()) {
        return Err(error(
            "load_shape with runner_mode \"master\" is not supported: the fleet splits user_count, spawn_rate and arrival_rate; run a shape on one agent",
        ));
    }
    let mut notes = Vec::new();
    for key in NOT_USED {
        if map.remove(*key).is_some_and(|v| !v.is_null()) {
            notes.push(format!(
                "{key}: a LoadDensity keyword for its own master's sockets or Python API; not used by an ld-tower fleet"
            ));
        }
    }
    let users = match map.get("user_count") {
        None | Some(Value::Null) => 50,
        Some(value) => value.as_u64().filter(|n| *n >= 1).ok_or_else(|| {
            error(format!(
                "user_count must be a whole number of at least 1, got {value}"
            ))
        })?,
    };
    let caps = state.caps();
    caps.check_users("user_count", usize::try_from(users).unwrap_or(usize::MAX))
        .map_err(error)?;
    let spawn_rate = positive(&map, "spawn_rate")?.unwrap_or(10.0);
    let arrival_rate = positive(&map, "arrival_rate")?;
    if let Some(rate) = arrival_rate {
        caps.check_rate(rate).map_err(error)?;
    }
    let test_time = match map.get("test_time") {
        None => Some(60.0),
        Some(Value::Null) => None,
        // Not a number: refused as a local test's would be.
        Some(value) => Some(value.as_f64().unwrap_or(f64::NAN)),
    };
    let test_time = test_length(caps, test_time)?;
    if let Some(time) = test_time {
        map.insert("test_time".into(), json!(time.as_secs_f64()));
    }
    if state.test_running() {
        return Err(error(EngineError::Busy.to_string()));
    }
    let Some(claim) = state
        .fleet()
        .claim(&state.shutdown_signal(), starting(users, &options))
    else {
        return Err(error(EngineError::Busy.to_string()));
    };
    let plan = FleetPlan {
        options,
        test: map,
        users,
        spawn_rate,
        arrival_rate,
        test_time_s: test_time.map(|t| t.as_secs_f64()),
    };
    let network = state.network();
    let outcome = crate::fleet::run::run(&network, plan, claim.live())
        .await
        .map_err(error)?;
    state.fleet().keep_last(claim.live().status());
    drop(claim);
    state.keep_figures(&outcome.finished);
    let mut parameters = outcome.parameters.clone();
    if let Value::Object(params) = &mut parameters {
        for key in NOT_PARAMETERS {
            params.remove(*key);
        }
        params.insert("user_count".into(), json!(users));
        params.insert("spawn_rate".into(), json!(spawn_rate));
        if let Some(rate) = arrival_rate {
            params.insert("arrival_rate".into(), json!(rate));
        }
        params.insert("runner_mode".into(), json!("master"));
        params.insert("fleet".into(), outcome.fleet.clone());
    }
    notes.extend(outcome.notes.iter().cloned());
    let result = conclude(ctx, parameters, &thresholds, &notes, &outcome.finished)?;
    match outcome.failure {
        Some(failure) => Err(error(failure)),
        None => Ok(result),
    }
}
