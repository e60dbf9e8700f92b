//! The resolver actions: `LD_register_variable(s)`,
//! `LD_register_csv_source(s)`, `LD_register_db_source(s)`,
//! `LD_clear_resolver`.

use crate::auth::Scope;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{ActionContext, ActionError, Args, Registry, Signature};
use crate::paths::Resolved;
use crate::policy::Caps;
use crate::resolver::{CsvSource as Csv, Database, DbSource, Loader, ResolverError, RowShare};

pub(super) fn register_actions(registry: &mut Registry) {
    registry
        .register_scoped("LD_register_variable", Scope::Run, register_variable)
        .register_scoped("LD_register_variables", Scope::Run, register_variables)
        .register_scoped("LD_register_csv_source", Scope::Write, register_csv_source)
        .register_scoped(
            "LD_register_csv_sources",
            Scope::Write,
            register_csv_sources,
        )
        .register_scoped("LD_register_db_source", Scope::Write, register_db_source)
        .register_scoped(
            "LD_register_db_sources",
            Scope::Write,
            register_db_sources_action,
        )
        .register_scoped("LD_clear_resolver", Scope::Run, clear_resolver)
        .describe(
            "LD_register_variable",
            Signature::of::<Variable>(&["name", "value"]),
        )
        .describe(
            "LD_register_variables",
            Signature::of::<Variables>(&["variables"]),
        )
        .describe(
            "LD_register_csv_source",
            Signature::of::<CsvSource>(&["name", "file_path", "cycle", "share"]),
        )
        .describe(
            "LD_register_csv_sources",
            Signature::of::<CsvSources>(&["sources"]),
        )
        .describe(
            "LD_register_db_source",
            Signature::of::<Db>(&["name", "connection_string", "query", "cycle"]),
        )
        .describe(
            "LD_register_db_sources",
            Signature::of::<DbSources>(&["sources"]),
        )
        .describe("LD_clear_resolver", Signature::none());
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Variable {
    name: String,
    value: Value,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Variables {
    variables: Map<String, Value>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct CsvSource {
    name: String,
    file_path: PathBuf,
    #[serde(default = "yes")]
    cycle: bool,
    /// ld-tower's: keep only this share of the rows (a fleet's coordinator
    /// gives each agent its own, so no two send the same row).
    share: Option<Share>,
}

/// A CSV source's `share`: the rows of users `from` to `to - 1` of `of`
/// ([`RowShare`]).
#[derive(Clone, Copy, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Share {
    pub(crate) from: u64,
    pub(crate) to: u64,
    pub(crate) of: u64,
}

impl Share {
    fn rows(self) -> Result<RowShare, String> {
        if !(self.from < self.to && self.to <= self.of) {
            return Err(format!(
                "share: expected from < to <= of (got from {} to {} of {})",
                self.from, self.to, self.of
            ));
        }
        Ok(RowShare {
            from: self.from,
            to: self.to,
            of: self.of,
        })
    }
}

fn yes() -> bool {
    true
}

#[derive(Deserialize, schemars::JsonSchema)]
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
    let shares = sources
        .iter()
        .map(|source| {
            source
                .share
                .map_or(Ok(RowShare::ALL), Share::rows)
                .map_err(|e| ActionError::new(format!("csv source {:?}: {e}", source.name)))
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
    for ((source, target), share) in sources.into_iter().zip(targets).zip(shares) {
        let csv = load_csv(
            ctx.state().loader(),
            target,
            source.cycle,
            share,
            ctx.state().caps(),
        )
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
/// all on the loader's blocking pool; a regular file over `caps`'
/// `--max-csv-bytes` is refused before a byte is read (any other is held
/// to the source budget as it is read).
async fn load_csv(
    loader: &Loader,
    target: Resolved,
    cycle: bool,
    share: RowShare,
    caps: &Caps,
) -> Result<Csv, ResolverError> {
    let caps = caps.clone();
    loader
        .load(move |meter| {
            let file = target.open()?;
            if let Some(size) = file
                .metadata()
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len())
            {
                caps.check_csv(size).map_err(|reason| ResolverError::Open {
                    path: target.path().to_owned(),
                    error: std::io::Error::other(reason),
                })?;
            }
            Csv::read_from(target.path(), file, cycle, share, meter)
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
                share,
            } = other.parse(&["name", "file_path", "cycle", "share"])?;
            let share = share.map(|s| json!({"from": s.from, "to": s.to, "of": s.of}));
            json!({"name": name, "file_path": file_path, "cycle": cycle, "share": share})
        }
    };
    register(&ctx, None, Some(&[source])).await
}

async fn register_csv_sources(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let CsvSources { sources } = args.parse(&["sources"])?;
    register(&ctx, None, Some(&sources)).await
}

/// `LD_register_db_source`'s arguments: all but `cycle` required.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Db {
    name: String,
    connection_string: String,
    query: String,
    #[serde(default = "yes")]
    cycle: bool,
}

/// An entry of `LD_register_db_sources`' `sources` (and `LD_start_test`'s
/// `db_sources`): one without a name, a connection string or a query is
/// skipped, as LoadDensity skipped it.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct DbEntry {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    connection_string: Option<String>,
    #[serde(default)]
    query: Option<String>,
    #[serde(default = "yes")]
    cycle: bool,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct DbSources {
    sources: Vec<Value>,
}

/// Registers the database sources `sources` describes (what
/// `LD_register_db_sources` and `LD_start_test`'s `db_sources` do): each
/// entry `{name, connection_string, query, cycle}`; an entry missing one of
/// the first three (absent, `null` or empty) is skipped, and the result
/// says so. The rest are registered as [`register_db`] does.
///
/// Returns `{"status": "registered", "db_rows": {NAME: rows},
/// "skipped": [{"index": i, "missing": [keys]}]}`.
pub(super) async fn register_db_sources(
    ctx: &ActionContext,
    sources: &[Value],
) -> Result<Value, ActionError> {
    let mut complete = Vec::with_capacity(sources.len());
    let mut skipped = Vec::new();
    for (index, source) in sources.iter().enumerate() {
        let entry = DbEntry::deserialize(source)
            .map_err(|e| ActionError::new(format!("db source {source}: {e}")))?;
        let given = |field: Option<String>| field.filter(|text| !text.is_empty());
        match (
            given(entry.name),
            given(entry.connection_string),
            given(entry.query),
        ) {
            (Some(name), Some(connection_string), Some(query)) => complete.push(Db {
                name,
                connection_string,
                query,
                cycle: entry.cycle,
            }),
            (name, connection_string, query) => {
                let missing: Vec<&str> = [
                    ("name", name.is_none()),
                    ("connection_string", connection_string.is_none()),
                    ("query", query.is_none()),
                ]
                .into_iter()
                .filter_map(|(key, missing)| missing.then_some(key))
                .collect();
                skipped.push(json!({"index": index, "missing": missing}));
            }
        }
    }
    let rows = register_db(ctx, complete).await?;
    Ok(json!({"status": "registered", "db_rows": rows, "skipped": skipped}))
}

/// Registers database sources. Each connection string is parsed and its
/// file checked by the server's path rule first (any error fails the whole
/// list before anything is read); the sources of the same names are then
/// unregistered, and each query runs on the loader's blocking pool
/// ([`DbSource::read_from`]: read-only, time-limited, within the budget for
/// data sources), with no lock held; then the resolver is locked just long
/// enough to register them all. When one fails, none of the list is
/// registered. Returns the rows of each, by name.
async fn register_db(
    ctx: &ActionContext,
    sources: Vec<Db>,
) -> Result<Map<String, Value>, ActionError> {
    let fail = |e: ResolverError| ActionError::new(e.to_string());
    let mut targets = Vec::with_capacity(sources.len());
    for source in &sources {
        targets.push(
            match Database::parse(&source.connection_string).map_err(fail)? {
                Database::Memory => None,
                Database::File(path) => Some(
                    ctx.state()
                        .paths()
                        .resolve(&path)
                        .map_err(|e| fail(ResolverError::DbPath(e)))?,
                ),
            },
        );
    }
    // The sources these replace are let go first: old and new rows never
    // count against the budget together (a running test keeps its own).
    ctx.state().resolver(|resolver| {
        for source in &sources {
            resolver.remove_db_source(&source.name);
        }
    });
    let mut loaded = Vec::with_capacity(sources.len());
    for (source, target) in sources.into_iter().zip(targets) {
        let db = load_db(
            ctx.state().loader(),
            target,
            source.connection_string,
            source.query,
            source.cycle,
        )
        .await
        .map_err(fail)?;
        loaded.push((source.name, db));
    }
    Ok(ctx.state().resolver(|resolver| {
        loaded
            .into_iter()
            .map(|(name, db)| (name.clone(), json!(resolver.insert_db_source(name, db))))
            .collect()
    }))
}

/// Runs `query` on `target` (`None`: in memory) and keeps its rows, on the
/// loader's blocking pool.
async fn load_db(
    loader: &Loader,
    target: Option<Resolved>,
    connection_string: String,
    query: String,
    cycle: bool,
) -> Result<DbSource, ResolverError> {
    let database = connection_string.clone();
    loader
        .load(move |meter| {
            let sqlite = target
                .map(|target| target.sqlite())
                .transpose()
                .map_err(ResolverError::DbPath)?;
            DbSource::read_from(&connection_string, sqlite.as_ref(), &query, cycle, meter)
        })
        .await
        .map_err(|e| match e {
            // Stopped before it began: say which source.
            ResolverError::Stopped(error) => ResolverError::DbLoad { database, error },
            other => other,
        })
}

async fn register_db_source(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let db: Db = args.parse(&["name", "connection_string", "query", "cycle"])?;
    let rows = register_db(&ctx, vec![db]).await?;
    Ok(json!({"status": "registered", "db_rows": rows}))
}

async fn register_db_sources_action(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    let DbSources { sources } = args.parse(&["sources"])?;
    register_db_sources(&ctx, &sources).await
}

async fn clear_resolver(ctx: ActionContext, args: Args) -> Result<Value, ActionError> {
    args.none()?;
    ctx.state().resolver(|r| r.clear());
    Ok(json!({"status": "cleared"}))
}
