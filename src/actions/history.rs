//! The run-history actions: `LD_persist_records`, `LD_list_runs`,
//! `LD_fetch_run_records`, `LD_compare_runs` (see [`crate::history`]).
//! SQLite is blocking: each action's database work runs on tokio's blocking
//! pool.

use crate::auth::Scope;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{ActionContext, ActionError, Args, Registry, Signature};
use crate::history::{self, HistoryError, NewRun, Open, Store, DEFAULT_TOLERANCE_PCT};
use crate::paths::Resolved;

pub(super) fn register(registry: &mut Registry) {
    registry
        .register_scoped("LD_persist_records", Scope::Write, persist_records)
        .register_scoped("LD_list_runs", Scope::Write, list_runs)
        .register_scoped("LD_fetch_run_records", Scope::Write, fetch_run_records)
        .register_scoped("LD_compare_runs", Scope::Write, compare_runs)
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
        );
}

fn error(e: impl std::fmt::Display) -> ActionError {
    ActionError::new(e.to_string())
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
