//! The resolver actions: `LD_register_variable(s)`,
//! `LD_register_csv_source(s)`, `LD_clear_resolver`.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{ActionContext, ActionError, Args, Registry};
use crate::paths::Resolved;
use crate::resolver::{CsvSource as Csv, Loader, ResolverError};

pub(super) fn register_actions(registry: &mut Registry) {
    registry
        .register("LD_register_variable", register_variable)
        .register("LD_register_variables", register_variables)
        .register("LD_register_csv_source", register_csv_source)
        .register("LD_register_csv_sources", register_csv_sources)
        .register("LD_clear_resolver", clear_resolver);
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Variable {
    name: String,
    value: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Variables {
    variables: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CsvSource {
    name: String,
    file_path: PathBuf,
    #[serde(default = "yes")]
    cycle: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CsvSources {
    sources: Vec<Value>,
}

/// Registers variables and CSV sources (also what `LD_start_test`'s
/// `variables` and `csv_sources` do). Each CSV file is loaded first, off the
/// runtime and within the budget for data sources ([`Loader`]), with no lock
/// held; then the resolver is locked just long enough to register them all.
/// The sources of the same names are unregistered before loading; when one
/// load fails, none of the list is registered.
pub(super) async fn register(
    ctx: &ActionContext,
    variables: Option<&Map<String, Value>>,
    sources: Option<&[Value]>,
) -> Result<Value, ActionError> {
    let sources = sources
        .unwrap_or_default()
        .iter()
        .map(|source| {
            CsvSource::deserialize(source)
                .map_err(|e| ActionError::new(format!("csv source {source}: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let targets = sources
        .iter()
        .map(|source| ctx.state().paths().resolve(&source.file_path))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ActionError::new(e.to_string()))?;
    // The sources these replace are let go first: old and new rows never
    // count against the budget together (a running test keeps its own).
    ctx.state().resolver(|resolver| {
        for source in &sources {
            resolver.remove_csv_source(&source.name);
        }
    });
    let mut loaded = Vec::with_capacity(sources.len());
    for (source, target) in sources.into_iter().zip(targets) {
        let csv = load_csv(ctx.state().loader(), target, source.cycle)
            .await
            .map_err(|e| ActionError::new(e.to_string()))?;
        loaded.push((source.name, csv));
    }
    let rows: Map<String, Value> = ctx.state().resolver(|resolver| {
        let rows = loaded
            .into_iter()
            .map(|(name, csv)| (name.clone(), json!(resolver.insert_csv_source(name, csv))))
            .collect();
        for (name, value) in variables.into_iter().flatten() {
            resolver.register_variable(name.clone(), value.clone());
        }
        rows
    });
    Ok(json!({
        "status": "registered",
        "variables": variables.map_or(Vec::new(), |v| v.keys().cloned().collect::<Vec<_>>()),
        "csv_rows": rows,
    }))
}

/// Opens `target` by the path rule and streams it into a [`Csv`],
/// all on the loader's blocking pool.
async fn load_csv(loader: &Loader, target: Resolved, cycle: bool) -> Result<Csv, ResolverError> {
    loader
        .load(move |meter| {
            let file = target.open()?;
            Csv::read_from(target.path(), file, cycle, meter)
        })
        .await
}

async fn register_variable(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let Variable { name, value } = args.parse(&["name", "value"])?;
    let mut map = Map::new();
    map.insert(name, value);
    register(&ctx, Some(&map), None).await
}

async fn register_variables(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let Variables { variables } = args.parse(&["variables"])?;
    register(&ctx, Some(&variables), None).await
}

async fn register_csv_source(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let source = match args {
        Args::Keywords(map) => Value::Object(map),
        other => {
            let CsvSource {
                name,
                file_path,
                cycle,
            } = other.parse(&["name", "file_path", "cycle"])?;
            json!({"name": name, "file_path": file_path, "cycle": cycle})
        }
    };
    register(&ctx, None, Some(&[source])).await
}

async fn register_csv_sources(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let CsvSources { sources } = args.parse(&["sources"])?;
    register(&ctx, None, Some(&sources)).await
}

async fn clear_resolver(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    args.none()?;
    ctx.state().resolver(|r| r.clear());
    Ok(json!({"status": "cleared"}))
}
