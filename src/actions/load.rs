//! The load-test actions: `LD_start_test`, `LD_stop_test`, `LD_test_status`.

use std::time::Duration;

use serde::{Deserialize, Deserializer};
use serde_json::{json, Map, Value};

use super::{ActionContext, ActionError, Args, Registry};
use crate::engine::{Plan, Scenario, Status, Wait, DEFAULT_TIMEOUT, OTHER_NAMES};
use crate::state::LastRun;
use crate::thresholds::Thresholds;

pub(super) fn register(registry: &mut Registry) {
    registry
        .register("LD_start_test", start_test)
        .register("LD_stop_test", stop_test)
        .register("LD_test_status", test_status);
}

/// A key given as `null` is `Some(None)`; a key not given is `None`.
fn given<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// `LD_start_test`'s keyword arguments: LoadDensity's names and defaults.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartTest {
    #[serde(default)]
    user_detail_dict: Option<Map<String, Value>>,
    #[serde(default)]
    user_count: Option<u64>,
    #[serde(default)]
    spawn_rate: Option<f64>,
    #[serde(default, deserialize_with = "given")]
    test_time: Option<Option<f64>>,
    #[serde(default)]
    web_ui_dict: Option<Value>,
    #[serde(default)]
    runner_mode: Option<String>,
    #[serde(default)]
    load_shape: Option<Value>,
    #[serde(default)]
    shape_config: Option<Value>,
    #[serde(default)]
    tasks: Value,
    #[serde(default)]
    variables: Option<Map<String, Value>>,
    #[serde(default)]
    csv_sources: Option<Vec<Value>>,
    #[serde(default)]
    db_sources: Option<Vec<Value>>,
    #[serde(default)]
    wait_time: Option<Value>,
    #[serde(default)]
    arrival_rate: Option<f64>,
    #[serde(default)]
    request_timeout: Option<f64>,
    #[serde(default)]
    iterations: Option<u64>,
    #[serde(default)]
    engine: Option<String>,
    #[serde(default)]
    thresholds: Option<Value>,
    #[serde(default)]
    max_names: Option<u64>,
}

/// Request names a test keeps apart unless `max_names` says otherwise: each
/// costs about 190 KB per worker thread (its latency histogram).
const DEFAULT_MAX_NAMES: usize = 200;

/// LoadDensity's positional order.
const POSITIONAL: &[&str] = &[
    "user_detail_dict",
    "user_count",
    "spawn_rate",
    "test_time",
    "web_ui_dict",
    "runner_mode",
    "load_shape",
    "shape_config",
];

/// The user types ld-tower drives (both on one HTTP/1.1 client).
const HTTP_USERS: &[&str] = &["fast_http_user", "http_user"];

fn error(message: impl Into<String>) -> ActionError {
    ActionError::new(message)
}

/// Checks the arguments and turns them into a plan; `notes` collects what
/// ld-tower accepts but cannot honour.
async fn plan(
    ctx: &ActionContext,
    args: StartTest,
    notes: &mut Vec<String>,
) -> Result<(Plan, Value, Thresholds), ActionError> {
    let detail = args.user_detail_dict.unwrap_or_else(|| {
        json!({"user": "fast_http_user"})
            .as_object()
            .cloned()
            .unwrap_or_default()
    });
    let user = detail
        .get("user")
        .and_then(Value::as_str)
        .unwrap_or("fast_http_user");
    if !HTTP_USERS.contains(&user) {
        return Err(error(format!(
            "user type {user:?} is not supported by ld-tower: it drives HTTP (fast_http_user, http_user)"
        )));
    }
    if let Some(key) = detail
        .keys()
        .find(|k| !["user", "host", "base_url"].contains(&k.as_str()))
    {
        return Err(error(format!(
            "user_detail_dict: key {key:?} is not supported (supported: user, host, base_url)"
        )));
    }
    let runner_mode = args.runner_mode.unwrap_or_else(|| "local".into());
    if runner_mode != "local" {
        return Err(error(format!(
            "runner_mode {runner_mode:?} is not supported: ld-tower runs tests locally (\"local\")"
        )));
    }
    if args.load_shape.as_ref().is_some_and(|v| !v.is_null())
        || args.shape_config.as_ref().is_some_and(|v| !v.is_null())
    {
        return Err(error(
            "load_shape/shape_config are not supported: use user_count, spawn_rate and arrival_rate",
        ));
    }
    if args.web_ui_dict.as_ref().is_some_and(|v| !v.is_null()) {
        notes.push(
            "web_ui_dict: ld-tower has no web UI; follow a running test with LD_test_status".into(),
        );
    }
    if let Some(engine) = &args.engine {
        if engine != "locust" && engine != "asyncio" {
            return Err(error(format!(
                "engine {engine:?} is not one of \"locust\", \"asyncio\""
            )));
        }
        notes.push(format!(
            "engine {engine:?}: ld-tower runs every test on its own engine"
        ));
    }
    let users = args.user_count.unwrap_or(50);
    if users == 0 || users > 100_000 {
        return Err(error("user_count must be from 1 to 100000"));
    }
    let spawn_rate = args.spawn_rate.unwrap_or(10.0);
    if !(spawn_rate.is_finite() && spawn_rate > 0.0) {
        return Err(error(
            "spawn_rate must be a positive number of users per second",
        ));
    }
    let test_time = args.test_time.unwrap_or(Some(60.0));
    let duration = match test_time {
        None => None,
        Some(s) => Some(
            Duration::try_from_secs_f64(s)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| error("test_time must be a positive number of seconds, or null"))?,
        ),
    };
    let wait = match &args.wait_time {
        None | Some(Value::Null) => Wait::default(),
        Some(value) => Wait::parse(value).map_err(error)?,
    };
    if let Some(rate) = args.arrival_rate {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(error(
                "arrival_rate must be a positive number of iterations per second",
            ));
        }
    }
    let timeout = match args.request_timeout {
        None => DEFAULT_TIMEOUT,
        Some(s) => Duration::try_from_secs_f64(s)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or_else(|| error("request_timeout must be a positive number of seconds"))?,
    };
    let thresholds = match &args.thresholds {
        None | Some(Value::Null) => Thresholds::default(),
        Some(value) => Thresholds::parse(value).map_err(error)?,
    };
    let mut scenario = Scenario::parse(&args.tasks).map_err(|e| error(e.to_string()))?;
    let max_names = match args.max_names {
        None => DEFAULT_MAX_NAMES,
        Some(0) => return Err(error("max_names must be at least 1")),
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
    };
    let folded = scenario.cap_names(max_names);
    if folded > 0 {
        notes.push(format!(
            "max_names: the tasks have {} request names; the {folded} past the first {max_names} are counted together as {OTHER_NAMES:?} (raise max_names to see them apart)",
            max_names + folded
        ));
    }
    // Before anything is registered or sent: a `${env.NAME}` the server
    // does not let clients read (`--allow-env`), wherever a task renders it.
    ctx.state()
        .env()
        .check(scenario.env_names())
        .map_err(|e| error(e.to_string()))?;
    super::resolver::register(ctx, args.variables.as_ref(), args.csv_sources.as_deref()).await?;
    if let Some(db_sources) = &args.db_sources {
        super::resolver::register_db_sources(ctx, db_sources).await?;
    }
    let base = detail
        .get("host")
        .or_else(|| detail.get("base_url"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| {
            ctx.state().resolver(|r| {
                r.variables()
                    .get("host")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
        });
    let parameters = json!({
        "user_detail": Value::Object(detail),
        "user_count": users,
        "spawn_rate": spawn_rate,
        "test_time": test_time,
        "web_ui": args.web_ui_dict.unwrap_or(Value::Null),
        "runner_mode": runner_mode,
    });
    let scenario = scenario.with_base(base.as_deref());
    let plan = Plan {
        users: users as usize,
        spawn_rate,
        duration,
        scenario,
        base,
        wait,
        arrival_rate: args.arrival_rate,
        iterations: match args.iterations {
            Some(0) => return Err(error("iterations must be at least 1")),
            n => n,
        },
        timeout,
        network: ctx.state().network(),
        held_names: ctx.state().figures(|f| f.per_name().len()),
    };
    Ok((plan, parameters, thresholds))
}

/// Runs a load test to its end; returns its parameters and summary.
async fn start_test(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let args: StartTest = args.parse(POSITIONAL)?;
    let mut notes = Vec::new();
    let (plan, parameters, thresholds) = plan(&ctx, args, &mut notes).await?;
    let resolver = ctx.state().resolver(|r| r.clone());
    let state = ctx.state().clone();
    let keep_state = state.clone();
    let finished = state
        .engine()
        .run(plan, &resolver, state.shutdown_signal(), move |finished| {
            keep_state.keep(finished)
        })
        .await
        .map_err(|e| error(e.to_string()))?;
    let summary = finished.figures.summary();
    let elapsed_s = finished.elapsed.as_secs_f64();
    let verdicts = thresholds.evaluate(&summary, elapsed_s);
    state.set_last_run(LastRun {
        parameters: parameters.clone(),
        elapsed_s,
        verdicts: verdicts.clone(),
    });
    let mut result = parameters;
    if let Value::Object(map) = &mut result {
        map.insert("elapsed_s".into(), json!(finished.elapsed.as_secs_f64()));
        map.insert("users_started".into(), json!(finished.users_started));
        map.insert("stopped_early".into(), json!(finished.stopped_early));
        map.insert("abandoned".into(), json!(finished.abandoned));
        map.insert(
            "summary".into(),
            serde_json::to_value(&summary).map_err(|e| error(e.to_string()))?,
        );
        if !thresholds.is_empty() {
            map.insert(
                "thresholds".into(),
                json!({
                    "passed": verdicts.iter().all(|v| v.passed),
                    "results": verdicts,
                }),
            );
        }
        if !notes.is_empty() {
            map.insert("notes".into(), json!(notes));
        }
    }
    Ok(result)
}

/// Stops the running test early.
async fn stop_test(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    args.none()?;
    Ok(if ctx.state().engine().stop() {
        json!({"stopped": true})
    } else {
        json!({"stopped": false, "reason": "no test is running"})
    })
}

/// The running test's live figures (or the last test's final ones).
async fn test_status(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    args.none()?;
    let status = ctx.state().engine().status().unwrap_or(Status {
        running: false,
        users: 0,
        target_users: 0,
        elapsed_s: 0.0,
        test_time_s: None,
        requests: 0,
        failures: 0,
        current_rps: 0,
        p50_ms: 0.0,
        p95_ms: 0.0,
        p99_ms: 0.0,
    });
    serde_json::to_value(status).map_err(|e| error(e.to_string()))
}
