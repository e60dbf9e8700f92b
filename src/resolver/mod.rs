//! LoadDensity's parameter resolver, compiled: `${...}` placeholders in a
//! task's JSON strings are parsed once ([`Template`], [`TemplateValue`]) and
//! rendered on every request by a virtual user's [`Session`].
//!
//! # Placeholders
//!
//! | placeholder | value |
//! |---|---|
//! | `${var.NAME}` (or `${NAME}`) | a registered or extracted variable |
//! | `${session.NAME}` | a variable of this virtual user only |
//! | `${env.NAME}` | an environment variable, read when rendered, if the [`EnvPolicy`] allows it |
//! | `${csv.SOURCE.COLUMN}` | a column of the next row of a CSV source |
//! | `${db.SOURCE.COLUMN}` | a column of the next row of a database source (an SQLite query's rows) |
//! | `${faker.PROVIDER}` | a fresh fake value from one of Python Faker's providers (`name`, `email`, `uuid4`, ...; see `faker`) |
//! | `${uuid()}` | a random UUID (version 4) |
//! | `${now()}` | local time to the second, `2026-11-24T23:15:02` |
//! | `${randint(a,b)}` | an integer from `a` to `b` inclusive |
//!
//! The prefix and function names are case-insensitive, the body is trimmed.
//! Whatever does not resolve (an unknown prefix, variable, function or column,
//! bad arguments, a Faker provider it does not have, an exhausted
//! non-cycling source, a `null` variable or a NULL database value as in
//! LoadDensity) is left exactly as written, so missing data is visible.
//! A variable holding a string renders as that text, any other JSON as
//! compact JSON (`5`, `true`, `{"a":1}`).
//!
//! One resolve call ([`Session::scope`]) takes one row per CSV or database
//! source: all `${csv.users.*}` of one task render from the same row; the
//! next call takes the next row. The cursor is shared by every session
//! forked from the same [`Resolver`], so users walk through a file (or a
//! query's rows) together rather than each from the top.
//!
//! ```
//! use ld_tower::resolver::{Resolver, TemplateValue};
//! use serde_json::json;
//!
//! let mut resolver = Resolver::new();
//! resolver.register_variable("base", json!("http://127.0.0.1:8080"));
//! resolver.register_variable("id", json!(5));
//! let task = TemplateValue::parse(&json!({
//!     "method": "get",
//!     "request_url": "${var.base}/items/${var.id}?x=${var.missing}",
//! }));
//!
//! let mut session = resolver.fork();
//! let rendered = session.scope().render_value(&task);
//! assert_eq!(
//!     rendered,
//!     json!({"method": "get", "request_url": "http://127.0.0.1:8080/items/5?x=${var.missing}"})
//! );
//! ```
//!
//! # Layout
//!
//! - [`template`](Template): parsing strings and JSON values;
//! - `session`: [`Session`] and [`Scope`], the rendering;
//! - `csv`: [`CsvSource`], rows in one compact buffer;
//! - `db`: [`DbSource`], an SQLite query's rows, read within bounds of
//!   time, memory and access ([`Database`]: connection strings);
//! - `cursor`: the row cursor a source's users share;
//! - `loader`: [`Loader`], sources read off the runtime, counted against a
//!   [`SourceBudget`], cancellable;
//! - `env`: [`EnvPolicy`], which names `${env.NAME}` may read;
//! - `functions`: `uuid()`, `now()`, `randint(a,b)`;
//! - `faker`: `${faker.PROVIDER}`'s providers;
//! - `pystr`: numbers written as Python's `str()` writes them;
//! - `error`: [`ResolverError`].

mod csv;
mod cursor;
mod db;
mod env;
mod error;
mod faker;
mod fixed;
mod functions;
mod loader;
mod pystr;
mod session;
mod template;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_faker_db;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

pub use self::csv::{CsvSource, RowShare};
pub use db::{Database, DbSource, MAX_VALUE_BYTES, QUERY_TIME_LIMIT};
pub use env::{EnvPolicy, EnvRefused};
pub use error::ResolverError;
pub use loader::{LoadError, Loader, Meter, SourceBudget};
pub use session::{Scope, Session};
pub use template::{Template, TemplateValue};

/// The server's registered data: variables, CSV and database sources (what
/// `LD_register_variable(s)`, `LD_register_csv_source(s)`,
/// `LD_register_db_source(s)` and `LD_clear_resolver` act on).
///
/// Cloning is cheap and shares the sources' cursors.
#[derive(Default, Clone)]
pub struct Resolver {
    /// Registered variables; shared copy-on-write with the sessions forked
    /// from it, so a fork costs no copy and a later registration does not
    /// reach sessions already forked.
    variables: Arc<HashMap<String, Value>>,
    /// Registered CSV sources by name; the sources themselves (and their
    /// cursors) are shared with every fork.
    csv: Arc<HashMap<String, Arc<CsvSource>>>,
    /// Registered database sources by name, shared likewise.
    db: Arc<HashMap<String, Arc<DbSource>>>,
    /// Which environment variables `${env.NAME}` may read; kept by
    /// [`Resolver::clear`].
    env: EnvPolicy,
}

impl Resolver {
    /// No variables, no sources, no environment variable readable
    /// (see [`Resolver::with_env`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// This resolver with `${env.NAME}` reading what `env` allows.
    pub fn with_env(mut self, env: EnvPolicy) -> Self {
        self.env = env;
        self
    }

    /// Which environment variables `${env.NAME}` may read.
    pub fn env(&self) -> &EnvPolicy {
        &self.env
    }

    /// Registers (or replaces) the variable `name`.
    pub fn register_variable(&mut self, name: impl Into<String>, value: Value) {
        Arc::make_mut(&mut self.variables).insert(name.into(), value);
    }

    /// The registered variables.
    pub fn variables(&self) -> &HashMap<String, Value> {
        &self.variables
    }

    /// Reads the CSV file at `path` into memory (a header row names the
    /// columns; UTF-8) and registers it as `name`, replacing any source of
    /// that name; returns its number of data rows. This blocks while it
    /// reads, with no budget: the server loads sources with a
    /// [`Loader`] and registers them with [`Resolver::insert_csv_source`].
    ///
    /// A cycling source starts again at its first row after the last; a
    /// non-cycling one leaves its placeholders unresolved once exhausted.
    pub fn register_csv_source(
        &mut self,
        name: impl Into<String>,
        path: &Path,
        cycle: bool,
    ) -> Result<usize, ResolverError> {
        let source = CsvSource::read(path, cycle)?;
        Ok(self.insert_csv_source(name, source))
    }

    /// Registers `source` as `name`, replacing any source of that name;
    /// returns its number of data rows.
    pub fn insert_csv_source(&mut self, name: impl Into<String>, source: CsvSource) -> usize {
        let rows = source.rows();
        Arc::make_mut(&mut self.csv).insert(name.into(), Arc::new(source));
        rows
    }

    /// Unregisters the CSV source `name` (sessions already forked keep it).
    pub fn remove_csv_source(&mut self, name: &str) {
        if self.csv.contains_key(name) {
            Arc::make_mut(&mut self.csv).remove(name);
        }
    }

    /// The registered CSV source `name`.
    pub fn csv_source(&self, name: &str) -> Option<&CsvSource> {
        self.csv.get(name).map(|source| &**source)
    }

    /// The registered CSV sources, by name, in no particular order.
    pub fn csv_sources(&self) -> impl Iterator<Item = (&str, &CsvSource)> {
        self.csv
            .iter()
            .map(|(name, source)| (name.as_str(), &**source))
    }

    /// Runs `query` on the SQLite database `connection_string` names
    /// (`sqlite:///relative/path.db`, `sqlite:////absolute/path.db`,
    /// `sqlite:///:memory:`; see [`Database`]) and registers its rows as
    /// `name`, replacing any source of that name; returns its number of
    /// rows. This blocks while the query runs (at most
    /// [`QUERY_TIME_LIMIT`]), with no budget and the path as given: the
    /// server applies its path rule, loads sources with a [`Loader`] and
    /// registers them with [`Resolver::insert_db_source`].
    ///
    /// A cycling source starts again at its first row after the last; a
    /// non-cycling one leaves its placeholders unresolved once exhausted.
    pub fn register_db_source(
        &mut self,
        name: impl Into<String>,
        connection_string: &str,
        query: &str,
        cycle: bool,
    ) -> Result<usize, ResolverError> {
        let source = DbSource::read(connection_string, query, cycle)?;
        Ok(self.insert_db_source(name, source))
    }

    /// Registers `source` as `name`, replacing any database source of that
    /// name; returns its number of rows.
    pub fn insert_db_source(&mut self, name: impl Into<String>, source: DbSource) -> usize {
        let rows = source.rows();
        Arc::make_mut(&mut self.db).insert(name.into(), Arc::new(source));
        rows
    }

    /// Unregisters the database source `name` (sessions already forked keep
    /// it).
    pub fn remove_db_source(&mut self, name: &str) {
        if self.db.contains_key(name) {
            Arc::make_mut(&mut self.db).remove(name);
        }
    }

    /// The registered database source `name`.
    pub fn db_source(&self, name: &str) -> Option<&DbSource> {
        self.db.get(name).map(|source| &**source)
    }

    /// The registered database sources, by name, in no particular order.
    pub fn db_sources(&self) -> impl Iterator<Item = (&str, &DbSource)> {
        self.db
            .iter()
            .map(|(name, source)| (name.as_str(), &**source))
    }

    /// Forgets every variable, CSV and database source (sessions already
    /// forked keep theirs).
    pub fn clear(&mut self) {
        self.variables = Arc::default();
        self.csv = Arc::default();
        self.db = Arc::default();
    }

    /// A virtual user's own copy: the variables are copied (extractors then
    /// write into the copy only), the sources are shared (one cursor per
    /// source across all users).
    pub fn fork(&self) -> Session {
        Session::new(
            Arc::clone(&self.variables),
            Arc::clone(&self.csv),
            Arc::clone(&self.db),
            self.env.clone(),
        )
    }
}

impl fmt::Debug for Resolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolver")
            .field("variables", &self.variables.len())
            .field("csv_sources", &self.csv.len())
            .field("db_sources", &self.db.len())
            .field("env", &self.env)
            .finish()
    }
}
