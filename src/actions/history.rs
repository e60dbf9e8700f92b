//! The run-history actions: `LD_persist_records`, `LD_list_runs`,
//! `LD_fetch_run_records`, `LD_compare_runs`, and LoadDensity's
//! `LD_diff_runs`, `LD_trend_runs`, `LD_tag_run`, `LD_list_tags`,
//! `LD_search_runs_by_tag` (see [`crate::history`]).
//! SQLite is blocking: each action's database work runs on tokio's blocking
//! pool.

use crate::auth::Scope;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{json, Map, Number, Value};

use super::error;
use super::{ActionContext, ActionError, Args, Registry, Signature};
use crate::figures::str_of;
use crate::history::{
    self, HistoryError, NewRun, Open, Store, DEFAULT_TOLERANCE_PCT, MAX_TREND_RUNS,
};
use crate::paths::Resolved;

pub(super) fn register(registry: &mut Registry) {
    registry
        .register_scoped("LD_persist_records", Scope::Write, persist_records)
        .register_scoped("LD_list_runs", Scope::Write, list_runs)
        .register_scoped("LD_fetch_run_records", Scope::Write, fetch_run_records)
        .register_scoped("LD_compare_runs", Scope::Write, compare_runs)
        .register_scoped("LD_diff_runs", Scope::Write, diff_runs)
        .register_scoped("LD_trend_runs", Scope::Write, trend_runs)
        .register_scoped("LD_calibrate_sla", Scope::Write, calibrate_sla)
        .register_scoped("LD_tag_run", Scope::Write, tag_run)
        .register_scoped("LD_list_tags", Scope::Write, list_tags)
        .register_scoped("LD_search_runs_by_tag", Scope::Write, search_runs_by_tag)
        .describe(
            "LD_persist_records",
            Signature::of::<Persist>(&["database_path", "label", "metadata"]),
        )
        .describe(
            "LD_list_runs",
            Signature::of::<List>(&["database_path", "limit"]),
        )
        .describe(
            "LD_fetch_run_records",
            Signature::of::<Fetch>(&["database_path", "run_id"]),
        )
        .describe(
            "LD_compare_runs",
            Signature::of::<Compare>(&[
                "database_path",
                "baseline_run_id",
                "run_id",
                "tolerance_pct",
            ]),
        )
        .describe(
            "LD_diff_runs",
            Signature::of::<Diff>(&[
                "database_path",
                "baseline_run_id",
                "current_run_id",
                "tolerance",
            ]),
        )
        .describe(
            "LD_trend_runs",
            Signature::of::<TrendArgs>(&["database_path", "limit", "name_filter"]),
        )
        .describe(
            "LD_calibrate_sla",
            Signature::of::<CalibrateArgs>(CALIBRATE_ARGS),
        )
        .describe(
            "LD_tag_run",
            Signature::of::<Tag>(&["database_path", "run_id", "tags"]),
        )
        .describe(
            "LD_list_tags",
            Signature::of::<ListTags>(&["database_path", "run_id"]),
        )
        .describe(
            "LD_search_runs_by_tag",
            Signature::of::<Search>(&["database_path", "key", "value"]),
        );
}

/// `database_path` as the server's path rule allows it.
fn database(ctx: &ActionContext, given: &PathBuf) -> Result<Resolved, ActionError> {
    ctx.state().paths().resolve(given).map_err(error)
}

/// Opens the history at `target` (blocking): when the rule confines paths,
/// its folders are made with no link followed and SQLite refuses a path
/// with a link in it (see [`crate::paths`]).
fn open_store(target: &Resolved, open: Open) -> Result<Store, HistoryError> {
    if open == Open::Create {
        target.create_parent()?;
    }
    let sqlite = target.sqlite()?;
    Store::open_with(&sqlite.path, open, sqlite.links)
}

/// Runs `work` on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, HistoryError> + Send + 'static,
) -> Result<T, ActionError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ActionError::new(format!("the database task failed: {e}")))?
        .map_err(error)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Persist {
    database_path: PathBuf,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    metadata: Option<Map<String, Value>>,
}

/// Stores the current records (figures, series, last test's parameters and
/// verdicts) as a new run; its id.
async fn persist_records(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let Persist {
        database_path,
        label,
        metadata,
    } = args.parse(&["database_path", "label", "metadata"])?;
    let path = database(&ctx, &database_path)?;
    let run =
        NewRun::from_state(ctx.state(), label, metadata.unwrap_or_default()).map_err(error)?;
    let id = blocking(move || open_store(&path, Open::Create)?.persist(&run)).await?;
    Ok(json!(id))
}

fn default_limit() -> u32 {
    20
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct List {
    database_path: PathBuf,
    #[serde(default = "default_limit")]
    limit: u32,
}

/// The newest runs, newest first.
async fn list_runs(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let List {
        database_path,
        limit,
    } = args.parse(&["database_path", "limit"])?;
    let path = database(&ctx, &database_path)?;
    let runs = blocking(move || open_store(&path, Open::Existing)?.list(limit)).await?;
    serde_json::to_value(runs).map_err(error)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Fetch {
    database_path: PathBuf,
    run_id: i64,
}

/// One stored run: `LD_summary`'s figures recomputed from it, with its
/// parameters, metadata, series and verdicts.
async fn fetch_run_records(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let Fetch {
        database_path,
        run_id,
    } = args.parse(&["database_path", "run_id"])?;
    let path = database(&ctx, &database_path)?;
    blocking(move || open_store(&path, Open::Existing)?.fetch(run_id)?.to_json()).await
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Compare {
    database_path: PathBuf,
    baseline_run_id: i64,
    run_id: i64,
    #[serde(default)]
    tolerance_pct: Option<f64>,
}

/// Two stored runs compared, per name and overall.
async fn compare_runs(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let Compare {
        database_path,
        baseline_run_id,
        run_id,
        tolerance_pct,
    } = args.parse(&[
        "database_path",
        "baseline_run_id",
        "run_id",
        "tolerance_pct",
    ])?;
    let tolerance = tolerance_pct.unwrap_or(DEFAULT_TOLERANCE_PCT);
    if !tolerance.is_finite() || tolerance < 0.0 {
        return Err(ActionError::new("tolerance_pct must be a number from 0"));
    }
    let path = database(&ctx, &database_path)?;
    let comparison = blocking(move || {
        let store = open_store(&path, Open::Existing)?;
        let baseline = store.fetch(baseline_run_id)?;
        let run = store.fetch(run_id)?;
        history::compare(&baseline, &run, tolerance)
    })
    .await?;
    serde_json::to_value(comparison).map_err(error)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Diff {
    database_path: PathBuf,
    baseline_run_id: i64,
    current_run_id: i64,
    #[serde(default)]
    tolerance: Option<Number>,
}

/// LoadDensity's default tolerance: 10%.
const DEFAULT_DIFF_TOLERANCE: f64 = 0.1;

/// LoadDensity's cross-run diff: per name, the change of p50/p95/p99,
/// failure rate and mean, and the names beyond `tolerance` (a fraction).
async fn diff_runs(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let Diff {
        database_path,
        baseline_run_id,
        current_run_id,
        tolerance,
    } = args.parse(&[
        "database_path",
        "baseline_run_id",
        "current_run_id",
        "tolerance",
    ])?;
    let tolerance = match tolerance {
        Some(given) => given,
        None => Number::from_f64(DEFAULT_DIFF_TOLERANCE).unwrap_or_else(|| Number::from(0)),
    };
    if !tolerance
        .as_f64()
        .is_some_and(|t| t.is_finite() && t >= 0.0)
    {
        return Err(ActionError::new(
            "tolerance must be a number from 0 (a fraction: 0.1 allows 10%)",
        ));
    }
    let path = database(&ctx, &database_path)?;
    let diff = blocking(move || {
        let store = open_store(&path, Open::Existing)?;
        let baseline = store.run_names(baseline_run_id)?;
        let current = store.run_names(current_run_id)?;
        Ok(history::diff(
            (baseline_run_id, &baseline),
            (current_run_id, &current),
            tolerance,
        ))
    })
    .await?;
    serde_json::to_value(diff).map_err(error)
}

fn default_trend_limit() -> i64 {
    10
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct TrendArgs {
    database_path: PathBuf,
    #[serde(default = "default_trend_limit")]
    limit: i64,
    #[serde(default)]
    name_filter: Option<String>,
}

/// A number of runs as a trend's `limit`: from 0 to [`MAX_TREND_RUNS`];
/// `key` names it.
fn trend_limit(key: &str, limit: i64) -> Result<u32, ActionError> {
    u32::try_from(limit)
        .ok()
        .filter(|l| *l <= MAX_TREND_RUNS)
        .ok_or_else(|| {
            ActionError::new(format!(
                "{key} must be from 0 to {MAX_TREND_RUNS} runs, not {limit}"
            ))
        })
}

/// The trend of the latest `limit` runs (blocking work on the pool).
async fn trend_of(
    ctx: &ActionContext,
    database_path: &PathBuf,
    limit: u32,
    name_filter: Option<String>,
) -> Result<history::Trend, ActionError> {
    let path = database(ctx, database_path)?;
    blocking(move || open_store(&path, Open::Existing)?.trend(limit, name_filter.as_deref())).await
}

/// LoadDensity's multi-run trend: the latest `limit` runs, oldest first,
/// overall and per name.
async fn trend_runs(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let TrendArgs {
        database_path,
        limit,
        name_filter,
    } = args.parse(&["database_path", "limit", "name_filter"])?;
    let limit = trend_limit("limit", limit)?;
    let trend = trend_of(&ctx, &database_path, limit, name_filter).await?;
    serde_json::to_value(trend).map_err(error)
}

const CALIBRATE_ARGS: &[&str] = &[
    "database_path",
    "runs_to_use",
    "tolerance_pct",
    "name_filter",
];

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct CalibrateArgs {
    database_path: PathBuf,
    #[serde(default = "default_trend_limit")]
    runs_to_use: i64,
    #[serde(default = "default_calibrate_tolerance")]
    tolerance_pct: f64,
    #[serde(default)]
    name_filter: Option<String>,
}

/// LoadDensity's `calibrate_sla` headroom: 10%.
fn default_calibrate_tolerance() -> f64 {
    10.0
}

/// LoadDensity's `calibrate_sla`: SLA rules the latest `runs_to_use`
/// runs all pass, with `tolerance_pct` of headroom (see
/// [`history::calibrate`]); `[]` without runs.
async fn calibrate_sla(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let CalibrateArgs {
        database_path,
        runs_to_use,
        tolerance_pct,
        name_filter,
    } = args.parse(CALIBRATE_ARGS)?;
    if !tolerance_pct.is_finite() || tolerance_pct < 0.0 {
        return Err(ActionError::new(format!(
            "tolerance_pct must be a number from 0, not {tolerance_pct}"
        )));
    }
    let limit = trend_limit("runs_to_use", runs_to_use)?;
    let trend = trend_of(&ctx, &database_path, limit, name_filter).await?;
    Ok(Value::Array(history::calibrate(&trend, tolerance_pct)))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Tag {
    database_path: PathBuf,
    run_id: i64,
    tags: Map<String, Value>,
}

/// Sets tags on a run (a key it has is overwritten; values as Python's
/// `str()` writes them); `null`.
async fn tag_run(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let Tag {
        database_path,
        run_id,
        tags,
    } = args.parse(&["database_path", "run_id", "tags"])?;
    let tags: Vec<(String, String)> = tags
        .iter()
        .map(|(key, value)| (key.clone(), str_of(value).into_owned()))
        .collect();
    let path = database(&ctx, &database_path)?;
    blocking(move || open_store(&path, Open::Existing)?.tag(run_id, &tags)).await?;
    Ok(Value::Null)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ListTags {
    database_path: PathBuf,
    run_id: i64,
}

/// A run's tags, `{key: value}` by key.
async fn list_tags(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let ListTags {
        database_path,
        run_id,
    } = args.parse(&["database_path", "run_id"])?;
    let path = database(&ctx, &database_path)?;
    let tags = blocking(move || open_store(&path, Open::Existing)?.tags(run_id)).await?;
    serde_json::to_value(tags).map_err(error)
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Search {
    database_path: PathBuf,
    key: String,
    value: Value,
}

/// The runs whose tag `key` is `value` (as Python's `str()` writes it),
/// newest first: `[{id, started_at, label}]`.
async fn search_runs_by_tag(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let Search {
        database_path,
        key,
        value,
    } = args.parse(&["database_path", "key", "value"])?;
    let value = str_of(&value).into_owned();
    let path = database(&ctx, &database_path)?;
    let runs =
        blocking(move || open_store(&path, Open::Existing)?.search_by_tag(&key, &value)).await?;
    serde_json::to_value(runs).map_err(error)
}
