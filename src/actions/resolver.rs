//! The resolver actions: `LD_register_variable(s)`,
//! `LD_register_csv_source(s)`, `LD_clear_resolver`.

use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{ActionContext, ActionError, Args, Registry};

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
/// `variables` and `csv_sources` do).
pub(super) fn register(
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
    ctx.state().resolver(|resolver| {
        let mut rows = Map::new();
        for source in &sources {
            let path = ctx
                .state()
                .paths()
                .resolve(&source.file_path)
                .map_err(|e| ActionError::new(e.to_string()))?;
            let n = resolver
                .register_csv_source(source.name.clone(), path.path(), source.cycle)
                .map_err(|e| ActionError::new(e.to_string()))?;
            rows.insert(source.name.clone(), json!(n));
        }
        for (name, value) in variables.into_iter().flatten() {
            resolver.register_variable(name.clone(), value.clone());
        }
        Ok(json!({
            "status": "registered",
            "variables": variables.map_or(Vec::new(), |v| v.keys().cloned().collect::<Vec<_>>()),
            "csv_rows": rows,
        }))
    })
}

async fn register_variable(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let Variable { name, value } = args.parse(&["name", "value"])?;
    let mut map = Map::new();
    map.insert(name, value);
    register(&ctx, Some(&map), None)
}

async fn register_variables(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let Variables { variables } = args.parse(&["variables"])?;
    register(&ctx, Some(&variables), None)
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
    register(&ctx, None, Some(&[source]))
}

async fn register_csv_sources(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let CsvSources { sources } = args.parse(&["sources"])?;
    register(&ctx, None, Some(&sources))
}

async fn clear_resolver(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    args.none()?;
    ctx.state().resolver(|r| r.clear());
    Ok(json!({"status": "cleared"}))
}
